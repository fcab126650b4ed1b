// The cache every function uses: Upstash Redis (REST) when configured, else an
// in-process LRU with the same behaviour. A cache that is slow or down never
// fails a request: each call gives up after a short timeout, logs one warning
// (at most once a minute), and the caller goes to the database.
import type { Config } from './config.ts'
import { log } from './logger.ts'
import { onNetworkWait } from './network-wait.ts'
import { type KeepAliveClient, keepAliveClient } from './keepalive-http.ts'

/** The seed design's key patterns and TTLs, in one place. */
export const CACHE_POLICIES = {
  user_profiles: { ttl: 3600, key: (userId: string) => `user:${userId}` },
  chat_context: { ttl: 1800, key: (userId: string) => `context:${userId}` },
  expense_summaries: {
    ttl: 900,
    key: (userId: string, period: string) => `expenses:${userId}:${period}`,
  },
  maintenance_records: { ttl: 1800, key: (userId: string) => `maintenance:${userId}` },
  // The home screen (GET /you/dashboard): brief, and dropped by writes to what it shows.
  dashboard: { ttl: 120, key: (userId: string) => `dashboard:${userId}` },
  conversation_history: {
    ttl: 3600,
    key: (conversationId: string) => `chat_history:${conversationId}`,
  },
  // External APIs (integrations/): what is asked, hashed or rounded so keys stay short.
  geocode: { ttl: 86400, key: (queryHash: string) => `geocode:${queryHash}` },
  weather: { ttl: 1800, key: (lat: string, lng: string) => `weather:${lat},${lng}` },
  routes: { ttl: 7 * 86400, key: (routeHash: string) => `routes:${routeHash}` },
  // A receipt read by the vision model, by its object and ETag: reading it again costs nothing.
  receipt_drafts: { ttl: 86400, key: (userId: string, objectHash: string) => `receipt:${userId}:${objectHash}` },
} as const

export type CacheStatus = 'hit' | 'miss' | 'bypass'

/** A storage backend: values are JSON text, keys already namespaced. */
export interface CacheStore {
  readonly backend: 'upstash' | 'memory' | 'disabled'
  get(key: string): Promise<string | null>
  set(key: string, value: string, ttlSeconds: number): Promise<void>
  del(keys: string[]): Promise<void>
  delByPrefix(prefix: string): Promise<void>
  ping(): Promise<void>
}

export class Cache {
  private lastWarning = 0
  /** Drops the cache did not confirm (it was slow or down), by namespaced key or prefix. The
   * cache may still hold what they were meant to drop: until a drop is confirmed, reads of the
   * keys it covers try it again first, and go to the database while it still fails. */
  private readonly unconfirmed = new Map<string, 'key' | 'prefix'>()

  constructor(
    readonly store: CacheStore,
    private readonly opts: { prefix: string },
  ) {}

  get backend() {
    return this.store.backend
  }

  /** `parse` turns the cached text into the value (JSON.parse unless given; see cached-answers.ts). */
  async get<T>(key: string, parse: (text: string) => T = JSON.parse): Promise<{ value?: T; status: CacheStatus }> {
    const k = this.ns(key)
    const drop = this.unconfirmedDrop(k)
    if (drop && !(await this.drop(drop.kind, drop.target))) return { status: 'bypass' }
    const { ok, value: raw } = await this.attempt('get', () => this.store.get(k))
    if (!ok) return { status: 'bypass' }
    if (raw === null || raw === undefined) return { status: 'miss' }
    return { value: parse(raw), status: 'hit' }
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.attempt('set', () => this.store.set(this.ns(key), JSON.stringify(value), ttlSeconds))
  }

  /** Drops keys; true when the cache confirmed it. */
  async del(...keys: string[]): Promise<boolean> {
    if (!keys.length) return true
    const targets = keys.map((k) => this.ns(k))
    const { ok } = await this.attempt('del', () => this.store.del(targets))
    for (const target of targets) this.remember('key', target, ok)
    return ok
  }

  async delByPrefix(prefix: string): Promise<boolean> {
    return await this.drop('prefix', this.ns(prefix))
  }

  /** Cached value or the loader's (then cached). A failing cache means the loader's, uncached. */
  async getOrLoad<T>(
    key: string,
    ttlSeconds: number,
    load: () => Promise<T>,
  ): Promise<{ value: T; status: CacheStatus }> {
    const cached = await this.get<T>(key)
    if (cached.status === 'hit') return { value: cached.value as T, status: 'hit' }
    const value = await load()
    if (cached.status === 'miss') await this.set(key, value, ttlSeconds)
    return { value, status: cached.status }
  }

  /** Round trip for health checks; throws when the cache is down. */
  async ping(): Promise<void> {
    await this.store.ping()
  }

  private ns(key: string) {
    return `${this.opts.prefix}${key}`
  }

  /** Drops a namespaced key or prefix; true when the cache confirmed it. */
  private async drop(kind: 'key' | 'prefix', target: string): Promise<boolean> {
    const { ok } = kind === 'key'
      ? await this.attempt('del', () => this.store.del([target]))
      : await this.attempt('delByPrefix', () => this.store.delByPrefix(target))
    this.remember(kind, target, ok)
    return ok
  }

  private remember(kind: 'key' | 'prefix', target: string, confirmed: boolean) {
    if (confirmed) {
      this.unconfirmed.delete(target)
      return
    }
    this.unconfirmed.delete(target) // re-inserted last: the oldest go first below
    this.unconfirmed.set(target, kind)
    // Bounded: past this, what the oldest were meant to drop is stale until its TTL.
    if (this.unconfirmed.size > UNCONFIRMED_MAX) this.unconfirmed.delete(this.unconfirmed.keys().next().value!)
  }

  /** The unconfirmed drop that covers namespaced key `k`, if any. */
  private unconfirmedDrop(k: string): { kind: 'key' | 'prefix'; target: string } | undefined {
    if (!this.unconfirmed.size) return undefined
    for (let end = 1; end <= k.length; end++) {
      const target = k.slice(0, end)
      const kind = this.unconfirmed.get(target)
      if (kind === 'prefix' || (kind === 'key' && end === k.length)) return { kind, target }
    }
    return undefined
  }

  private async attempt<T>(op: string, fn: () => Promise<T>): Promise<{ ok: boolean; value?: T }> {
    try {
      // Upstash calls are bounded by their own abort signal (UpstashStore).
      return { ok: true, value: await fn() }
    } catch (err) {
      const now = Date.now()
      if (now - this.lastWarning > 60_000) {
        this.lastWarning = now
        log('warn', 'cache unavailable, using the database', {
          backend: this.store.backend,
          op,
          error: err instanceof Error ? err.message : String(err),
        })
      }
      return { ok: false }
    }
  }
}

const UNCONFIRMED_MAX = 10_000

/** Every key of one user's data, dropped when the account changes as a whole. */
export async function invalidateUser(cache: Cache, userId: string): Promise<void> {
  const p = CACHE_POLICIES
  await Promise.all([
    cache.del(p.user_profiles.key(userId), p.chat_context.key(userId), p.maintenance_records.key(userId)),
    cache.delByPrefix(p.expense_summaries.key(userId, '')),
  ])
}

/** A Redis command as Upstash's REST API takes it: ["SET", "k", "v", "EX", "60"]. */
type Command = string[]

/** A command, or what builds it as its call goes out (so that what is asked meanwhile can join it). */
type Queued = Command | (() => Command)

/** Upstash Redis over REST. Commands issued while serving one request go in one
 * /pipeline call: a cached read sends its rate-limit check and its cache lookup
 * together, one round trip instead of two. A lookup is sent at once, with
 * whatever is waiting; a rate-limit check waits for the lookup, or for the
 * request to start waiting on the database (see network-wait.ts).
 *
 * The REST API is called over kept-alive HTTP/1.1 connections of our own
 * (keepalive-http.ts), not @upstash/redis nor fetch: every call here is a
 * pipeline of plain commands whose answers are JSON text or numbers; the SDK's
 * command objects, base64 answers and retries cost a fifth of a cached read,
 * and fetch's objects and streams as much again. Upstash's read-your-writes
 * token is kept as the SDK keeps it. */
export class UpstashStore implements CacheStore {
  readonly backend = 'upstash' as const
  private waiting: { command: Queued; done: (r: Settled) => void }[] = []
  /** The flush that catches commands no lookup or database wait sent (at most one pending). */
  private flushTimer?: ReturnType<typeof setTimeout>
  private inFlight = 0
  /** Whether a waiting command is wanted now (a lookup or write), not only rate-limit checks. */
  private urgent = false
  private readonly http: KeepAliveClient
  private readonly authorization: string
  /** Upstash's read-your-writes token: sent back so that a read sees this isolate's writes. */
  private syncToken = ''

  constructor(url: string, token: string, private readonly timeoutMs: number) {
    onNetworkWait(() => this.flush())
    this.http = keepAliveClient(url)
    this.authorization = `Bearer ${token}`
  }

  /** Queues a command; it is sent with the next flush (now, or at the next task). A command
   * given as a function is built when its call goes out. */
  send<T>(command: Queued, now: boolean): Promise<T> {
    const result = new Promise<T>((resolve, reject) =>
      this.waiting.push({
        command,
        done: (r) => ('error' in r ? reject(r.error) : resolve(r.result as T)),
      })
    )
    if (now) {
      this.urgent = true
      this.flush()
    } else {
      // Sent with the request's cache lookup, or as it starts waiting on the
      // database (networkWait); this timer only catches a request that does neither.
      // One pending at a time, not one per command: under load that was a timer per request.
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = undefined
        this.flush()
      }, 0)
    }
    return result
  }

  /** Sends every queued command in one request, unless calls are out: then they go together
   * when the first of those returns. A lookup or write waiting may open a second call
   * (MAX_IN_FLIGHT); rate-limit checks alone wait for the call out, whose round trip their
   * request's database wait hides: under load, one call carries several requests' checks. */
  flush(): void {
    if (!this.waiting.length || this.inFlight >= (this.urgent ? MAX_IN_FLIGHT : 1)) return
    const batch = this.waiting.splice(0)
    this.urgent = false
    this.inFlight++
    this.call(batch.map((c) => typeof c.command === 'function' ? c.command() : c.command)).then(
      (results) =>
        batch.forEach((c, i) => {
          const r = results[i]
          c.done(!r ? { error: new Error('Upstash answered fewer results than commands') } : 'error' in r
            ? { error: new Error(String(r.error)) }
            : { result: r.result })
        }),
      (error) => batch.forEach((c) => c.done({ error })),
    ).finally(() => {
      this.inFlight--
      this.flush()
    })
  }

  /** One POST /pipeline. Every call gives up after PAM_CACHE_TIMEOUT_MS, so a cache or
   * limiter that hangs costs a request at most that long (see MAX_IN_FLIGHT). */
  private async call(commands: Command[]): Promise<({ result: unknown } | { error: string })[]> {
    const headers: Record<string, string> = { authorization: this.authorization, 'content-type': 'application/json' }
    if (this.syncToken) headers['upstash-sync-token'] = this.syncToken
    const res = await this.http.post('/pipeline', headers, JSON.stringify(commands), this.timeoutMs)
    const token = res.headers.get('upstash-sync-token')
    if (token) this.syncToken = token
    if (res.status < 200 || res.status > 299) throw new Error(`Upstash answered ${res.status}: ${res.body.slice(0, 200)}`)
    return JSON.parse(res.body)
  }

  /** Sends one command now (with whatever is waiting). */
  private one<T>(command: Command): Promise<T> {
    return this.send<T>(command, true)
  }

  get(key: string) {
    return this.one<string | null>(['GET', key])
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.one(['SET', key, value, 'EX', String(ttlSeconds)])
  }

  async del(keys: string[]) {
    await this.one(['DEL', ...keys])
  }

  async delByPrefix(prefix: string) {
    const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    let cursor = '0'
    do {
      const [next, keys] = await this.one<[string, string[]]>(['SCAN', cursor, 'MATCH', match, 'COUNT', '500'])
      if (keys.length) await this.one(['DEL', ...keys])
      cursor = String(next)
    } while (cursor !== '0')
  }

  async ping() {
    await this.one(['PING'])
  }
}

type Settled = { result: unknown } | { error: unknown }

/** Upstash calls an isolate has out at once. Commands issued meanwhile, by any request,
 * wait for the first to return and go in one call: under load a call carries several
 * requests' commands (Upstash counts commands, not calls), so each request pays for a
 * fraction of an HTTP round trip. A command waits at most one call's timeout for its turn. */
const MAX_IN_FLIGHT = 2

/** In-process LRU with TTLs, bounded by entry count and total size. */
export class MemoryStore implements CacheStore {
  readonly backend = 'memory' as const
  private readonly entries = new Map<string, { value: string; expires: number }>()
  private bytes = 0

  constructor(private readonly maxEntries = 10_000, private readonly maxBytes = 32 * 1024 * 1024) {}

  get(key: string) {
    const e = this.entries.get(key)
    if (!e) return Promise.resolve(null)
    this.entries.delete(key)
    if (e.expires <= Date.now()) {
      this.bytes -= e.value.length
      return Promise.resolve(null)
    }
    this.entries.set(key, e) // most recently used goes last
    return Promise.resolve(e.value)
  }

  set(key: string, value: string, ttlSeconds: number) {
    this.remove(key)
    this.entries.set(key, { value, expires: Date.now() + ttlSeconds * 1000 })
    this.bytes += value.length
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      this.remove(this.entries.keys().next().value as string)
    }
    return Promise.resolve()
  }

  del(keys: string[]) {
    for (const k of keys) this.remove(k)
    return Promise.resolve()
  }

  delByPrefix(prefix: string) {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.remove(k)
    return Promise.resolve()
  }

  ping() {
    return Promise.resolve()
  }

  get size() {
    return this.entries.size
  }

  private remove(key: string) {
    const e = this.entries.get(key)
    if (e) {
      this.bytes -= e.value.length
      this.entries.delete(key)
    }
  }
}

/** PAM_CACHE_ENABLED=false: every read misses and nothing is kept. */
export class DisabledStore implements CacheStore {
  readonly backend = 'disabled' as const
  get = () => Promise.resolve(null)
  set = () => Promise.resolve()
  del = () => Promise.resolve()
  delByPrefix = () => Promise.resolve()
  ping = () => Promise.resolve()
}

const caches = new Map<string, Cache>()

/** The process's cache for this configuration. */
export function cacheFor(config: Config): Cache {
  const { url, token } = config.upstash
  const id = `${config.cache.enabled ? url ?? 'memory' : 'disabled'}|${config.cache.prefix}`
  let cache = caches.get(id)
  if (!cache) {
    const store = !config.cache.enabled
      ? new DisabledStore()
      : url && token
      ? new UpstashStore(url, token, config.cache.timeoutMs)
      : new MemoryStore(config.cache.maxEntries)
    cache = new Cache(store, { prefix: config.cache.prefix })
    caches.set(id, cache)
  }
  return cache
}
