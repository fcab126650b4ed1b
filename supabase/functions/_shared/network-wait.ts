// Work a request has queued for its next network wait. The Upstash store
// holds a request's rate-limit check back so that its cache lookup can carry
// it in the same round trip (see UpstashStore); a request that reads the
// database instead sends it as it starts waiting on the database, so the two
// round trips overlap. Kept apart so that db.ts need not know about the cache.
const flushers = new Set<() => void>()

/** Registers what to send when a request is about to wait on the network. */
export function onNetworkWait(flush: () => void): void {
  flushers.add(flush)
}

/** The request is about to wait (on the database): send what it has queued. */
export function networkWait(): void {
  for (const flush of flushers) flush()
}
