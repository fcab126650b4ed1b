// Idempotency-Key (IETF HTTPAPI draft "The Idempotency-Key HTTP Header
// Field"): a write sent with a key is done once. The first request reserves
// the key (per user) with a fingerprint of the request; its successful answer
// is remembered for 24 hours and replayed to every retry with the same key
// and the same request (`Idempotent-Replayed: true`), without doing anything
// again. The same key with another request is 422; a retry while the first
// still runs is 409. An answer that is not a success is not remembered: our
// errors change nothing, so the retry simply runs again. The reservation
// lives in Postgres, so it survives the isolate that made it.
//
// What it cannot cover: an isolate that dies between committing the write and
// remembering its answer leaves the key reserved; after STALE_AFTER_MS a retry
// runs again. Creates that carry a client-generated id (see resource.ts) are
// safe even then: the second create finds the first's row.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './http.ts'
import { ApiError } from './errors.ts'
import { log } from './logger.ts'

/** A reservation older than this whose request never finished is taken over by a retry. */
export const STALE_AFTER_MS = 60_000
/** Answers larger than this are not remembered (a retry runs again). */
const MAX_REMEMBERED_BYTES = 1024 * 1024
/** Visible ASCII; a structured-field string's quotes are accepted and dropped. */
const KEY = /^"?([\x21\x23-\x7e]{1,255})"?$/

interface Reservation {
  fingerprint: string
  status: number | null
  content_type: string | null
  location: string | null
  body: string | null
  age_ms: number
}

async function fingerprintOf(req: Request, body: ArrayBuffer): Promise<string> {
  const url = new URL(req.url)
  const head = new TextEncoder().encode(`${req.method} ${url.pathname}?${url.searchParams}\n`)
  const all = new Uint8Array(head.length + body.byteLength)
  all.set(head)
  all.set(new Uint8Array(body), head.length)
  const digest = await crypto.subtle.digest('SHA-256', all)
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Route middleware (after the auth gate): honours Idempotency-Key on a user's writes. */
export function idempotency(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('idempotency-key')
    if (header === undefined) return next()
    const key = KEY.exec(header)?.[1]
    if (!key) {
      throw new ApiError(400, 'invalid_idempotency_key', 'Idempotency-Key: 1 to 255 visible ASCII characters (a UUID is a good one)')
    }
    // Read once: Hono keeps the bytes for the route's own validation.
    const fingerprint = await fingerprintOf(c.req.raw, await c.req.arrayBuffer())
    const db = c.var.postgres
    const previous = await db.transaction(async (tx) => {
      await tx`delete from pam.idempotency_keys where key = ${key} and created_at < now() - interval '24 hours'`
      const [won] = await tx`
        insert into pam.idempotency_keys (key, fingerprint) values (${key}, ${fingerprint})
        on conflict (user_id, key) do nothing returning key`
      if (won) return null
      const [row] = await tx`
        select fingerprint, status, content_type, location, body,
               (extract(epoch from now() - created_at) * 1000)::float8 as age_ms
        from pam.idempotency_keys where key = ${key} for update`
      const r = row as Reservation
      if (r.fingerprint === fingerprint && r.status === null && r.age_ms > STALE_AFTER_MS) {
        // The first request's isolate died before it finished: this one takes over.
        await tx`update pam.idempotency_keys set created_at = now() where key = ${key}`
        return null
      }
      return r
    })
    if (previous) {
      if (previous.fingerprint !== fingerprint) {
        throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for another request')
      }
      if (previous.status === null) {
        throw new ApiError(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is still running; retry shortly', undefined, {
          'Retry-After': '1',
        })
      }
      const headers: Record<string, string> = { 'idempotent-replayed': 'true' }
      if (previous.content_type) headers['content-type'] = previous.content_type
      if (previous.location) headers.location = previous.location
      const body = previous.status === 204 ? null : previous.body ?? ''
      return c.body(body as string, previous.status as 200, headers)
    }

    let streaming = false
    try {
      await next()
      streaming = c.res.ok && (c.res.headers.get('content-type') ?? '').startsWith('text/event-stream')
      if (streaming) c.res = rememberedWhenDone(c.var.postgres, key, c.res)
    } finally {
      if (!streaming) await remember(c.var.postgres, key, c.res)
    }
  }
}

/** A stream of server-sent events (PAM's streamed answer) is passed on as it comes, never held back;
 * once it has ended with its `done` event it is remembered like any success, whether or not the
 * client stayed to read it (a copy is read to its end). One that ends with an `error` event releases
 * the key: the retry runs again. */
function rememberedWhenDone(db: AppEnv['Variables']['postgres'], key: string, res: Response): Response {
  const [toClient, copy] = res.body!.tee()
  const kept = async () => {
    const text = await new Response(copy).text()
    const last = text.trimEnd().split('\n\n').at(-1) ?? ''
    const done = last.startsWith('event: done\n') && text.length <= MAX_REMEMBERED_BYTES
    await remember(db, key, done ? new Response(text, { status: res.status, headers: res.headers }) : undefined)
  }
  kept().catch((err) => log('warn', 'could not remember a streamed answer', { error: String(err) }))
  return new Response(toClient, { status: res.status, headers: res.headers })
}

/** Keeps a success for retries; anything else releases the key (our errors change nothing). */
async function remember(db: AppEnv['Variables']['postgres'], key: string, res: Response | undefined): Promise<void> {
  try {
    const ok = !!res && res.status >= 200 && res.status < 300
    const body = ok ? await res!.clone().text() : ''
    if (ok && body.length <= MAX_REMEMBERED_BYTES) {
      await db.transaction((tx) =>
        tx`update pam.idempotency_keys set status = ${res!.status}, content_type = ${res!.headers.get('content-type')},
             location = ${res!.headers.get('location')}, body = ${body}
           where key = ${key}`
      )
    } else {
      await db.transaction((tx) => tx`delete from pam.idempotency_keys where key = ${key} and status is null`)
    }
  } catch (err) {
    // The write stands; only the replay is lost (a retry after STALE_AFTER_MS runs again).
    log('warn', 'could not remember an idempotent answer', { error: err instanceof Error ? err.message : String(err) })
  }
}
