// The cache every function uses: Upstash Redis (REST) when configured, else an
// in-process LRU with the same behaviour. A cache that is slow or down never
// fails a request: each call gives up after a short timeout, logs one warning
// (at most once a minute), and the caller goes to the database.
import type { Config } from './config.ts'
import { log } from './logger.ts'
import { onNetworkWait } from './network-wait.ts'
import { type KeepAliveClient, keepAliveClient } from './keepalive-http.ts'

/** A key `name#field` is the field `field` of the hash `name`: a hash's fields are dropped
 * together by dropping `name` (one DEL), and expire together, the TTL after the first was set. */
export const inHash = (name: string, field: string) => `${name}#${field}`

/** The seed design's key patterns and TTLs, in one place. */
export const CACHE_POLICIES = {
  user_profiles: { ttl: 3600, key: (userId: string) => `user:${userId}` },
  chat_context: { ttl: 1800, key: (userId: string) => `context:${userId}` },
  // One hash per user, a field per period: a write drops them all at once.
  expense_summaries: {
    ttl: 900,
    hash: (userId: string) => `expenses:${userId}`,
    key: (userId: string, period: string) => inHash(`expenses:${userId}`, period),
  },
  maintenance_records: { ttl: 1800, key: (userId: string) => `maintenance:${userId}` },
  // The home screen (GET /you/dashboard): brief, and dropped by writes to what it shows.
  dashboard: { ttl: 120, key: (userId: string) => `dashboard:${userId}` },
  // Per user, a field per conversation (so the account's deletion drops them all at once).
  conversation_history: {
    ttl: 3600,
    hash: (userId: string) => `chat_history:${userId}`,
    key: (userId: string, conversationId: string) => inHash(`chat_history:${userId}`, conversationId),
  },
  // External APIs (integrations/): what is asked, hashed or rounded so keys stay short.
  geocode: { ttl: 86400, key: (queryHash: string) => `geocode:${queryHash}` },
  weather: { ttl: 1800, key: (lat: string, lng: string) => `weather:${lat},${lng}` },
  routes: { ttl: 7 * 86400, key: (routeHash: string) => `routes:${routeHash}` },
  // A receipt read by the vision model, by its object and ETag: reading it again costs nothing.
  receipt_drafts: {
    ttl: 86400,
    hash: (userId: string) => `receipt:${userId}`,
    key: (userId: string, objectHash: string) => inHash(`receipt:${userId}`, objectHash),
  },
  // Changed by every write that drops a user's keys (Cache.invalidate); outlives any fill in flight.
  user_versions: { ttl: 86400, key: (userId: string) => `version:${userId}` },
} as const

export type CacheStatus = 'hit' | 'miss' | 'bypass'

/** A user's version as a lookup of their data saw it (namespaced key; null: none yet). */
export interface Since {
  key: string
  version: string | null
}

export interface Lookup<T> {
  value?: T
  status: CacheStatus
  /** With a lookup of a user's data: what `set` needs to store only if no write came after. */
  since?: Since
}

/** A storage backend: values are JSON text, keys already namespaced (`name#field`: see inHash). */
export interface CacheStore {
  readonly backend: 'upstash' | 'memory' | 'disabled'
  get(key: string): Promise<string | null>
  /** The values at `key` and at `versionKey`, read in the same call. */
  getWithVersion(key: string, versionKey: string): Promise<[string | null, string | null]>
  /** With `since`, stores only if the version is still the one seen (checked and stored at once). */
  set(key: string, value: string, ttlSeconds: number, since?: Since): Promise<void>
  /** Drops keys, hashes (by name) and hash fields, after giving `versionKey` (when given) a new
   * version: in one call. */
  del(keys: string[], versionKey?: string): Promise<void>
  ping(): Promise<void>
}

const VERSION_TTL = CACHE_POLICIES.user_versions.ttl

/** A key's hash name and field; no field for a plain key (or a hash by name). The namespace
 * prefix is refused with a '#' (config.ts), so the first one starts the field. */
function splitKey(key: string): [name: string, field: string | undefined] {
  const i = key.indexOf('#')
  return i < 0 ? [key, undefined] : [key.slice(0, i), key.slice(i + 1)]
}

export class Cache {
  private lastWarning = 0
  /** Drops the cache did not confirm (it was slow or down), by namespaced key. The cache may
   * still hold what they were meant to drop: until a drop is confirmed, reads of the keys it
   * covers (the key, or a field of the hash it names) try it again first, and go to the
   * database while it still fails. */
  private readonly unconfirmed = new Set<string>()

  constructor(
    readonly store: CacheStore,
    private readonly opts: { prefix: string },
  ) {}

  get backend() {
    return this.store.backend
  }

  /** `parse` turns the cached text into the value (JSON.parse unless given; see cached-answers.ts).
   * A lookup of `user`'s data also reads their version, in the same call (`since`, for `set`). */
  async get<T>(key: string, parse: (text: string) => T = JSON.parse, user?: string): Promise<Lookup<T>> {
    const k = this.ns(key)
    const drop = this.unconfirmedDrop(k)
    if (drop && !(await this.drop([drop]))) return { status: 'bypass' }
    if (user !== undefined) return await this.getSince(k, parse, this.versionKey(user))
    const { ok, value: raw } = await this.attempt('get', () => this.store.get(k))
    if (!ok) return { status: 'bypass' }
    if (raw === null || raw === undefined) return { status: 'miss' }
    return { value: parse(raw), status: 'hit' }
  }

  /** With `since` (a lookup's), stores only if no write of that user's came after the lookup: a
   * read that loaded from the database before a write committed must not put back what the
   * write's drop removed. */
  async set(key: string, value: unknown, ttlSeconds: number, since?: Since): Promise<void> {
    await this.attempt('set', () => this.store.set(this.ns(key), JSON.stringify(value), ttlSeconds, since))
  }

  /** Drops keys (a hash by its name drops all its fields), in one call; true when the cache confirmed it. */
  async del(...keys: string[]): Promise<boolean> {
    if (!keys.length) return true
    return await this.drop(keys.map((k) => this.ns(k)))
  }

  /** After a write of `user`'s data has committed: gives the user a new version and drops `keys`,
   * in one call (fills of reads that looked up before it are then refused: see set). True when
   * the cache confirmed it. */
  async invalidate(user: string, ...keys: string[]): Promise<boolean> {
    return await this.drop(keys.map((k) => this.ns(k)), this.versionKey(user))
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

  private versionKey(user: string) {
    return this.ns(CACHE_POLICIES.user_versions.key(user))
  }

  private async getSince<T>(k: string, parse: (text: string) => T, versionKey: string): Promise<Lookup<T>> {
    const { ok, value } = await this.attempt('get', () => this.store.getWithVersion(k, versionKey))
    if (!ok) return { status: 'bypass' }
    const [raw, version] = value!
    const since = { key: versionKey, version }
    if (raw === null || raw === undefined) return { status: 'miss', since }
    return { value: parse(raw), status: 'hit', since }
  }

  /** Drops namespaced keys (and gives `versionKey` a new version) in one call; true when the cache confirmed it. */
  private async drop(targets: string[], versionKey?: string): Promise<boolean> {
    const { ok } = await this.attempt('del', () => this.store.del(targets, versionKey))
    for (const target of targets) this.remember(target, ok)
    return ok
  }

  private remember(target: string, confirmed: boolean) {
    this.unconfirmed.delete(target) // re-inserted last: the oldest go first below
    if (confirmed) return
    this.unconfirmed.add(target)
    // Bounded: past this, what the oldest were meant to drop is stale until its TTL.
    if (this.unconfirmed.size > UNCONFIRMED_MAX) this.unconfirmed.delete(this.unconfirmed.values().next().value!)
  }

  /** The unconfirmed drop that covers namespaced key `k` (it, or the hash it is a field of), if any. */
  private unconfirmedDrop(k: string): string | undefined {
    if (!this.unconfirmed.size) return undefined
    if (this.unconfirmed.has(k)) return k
    const [name, field] = splitKey(k)
    return field !== undefined && this.unconfirmed.has(name) ? name : undefined
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
  await cache.invalidate(
    userId,
    p.user_profiles.key(userId),
    p.chat_context.key(userId),
    p.maintenance_records.key(userId),
    p.dashboard.key(userId),
    p.expense_summaries.hash(userId),
    p.conversation_history.hash(userId),
    p.receipt_drafts.hash(userId),
  )
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
    const result = this.enqueue<T>(command)
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

  private enqueue<T>(command: Queued): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.waiting.push({
        command,
        done: (r) => ('error' in r ? reject(r.error) : resolve(r.result as T)),
      })
    )
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

  /** Sends commands now, in this order and in one call (with whatever is waiting). */
  private all(commands: Command[]): Promise<unknown[]> {
    const results = commands.map((command) => this.enqueue(command))
    this.urgent = true
    this.flush()
    return Promise.all(results)
  }

  get(key: string) {
    const [name, field] = splitKey(key)
    return this.one<string | null>(field === undefined ? ['GET', key] : ['HGET', name, field])
  }

  getWithVersion(key: string, versionKey: string) {
    const [name, field] = splitKey(key)
    if (field === undefined) return this.one<[string | null, string | null]>(['MGET', key, versionKey])
    return this.all([['HGET', name, field], ['GET', versionKey]]) as Promise<[string | null, string | null]>
  }

  async set(key: string, value: string, ttlSeconds: number, since?: Since) {
    const [name, field] = splitKey(key)
    if (field === undefined && !since) return void await this.one(['SET', key, value, 'EX', String(ttlSeconds)])
    const keys = since ? [name, since.key] : [name]
    const args = [value, String(ttlSeconds), field ?? '', since?.version ?? '']
    await this.one(['EVAL', FILL, String(keys.length), ...keys, ...args])
  }

  async del(keys: string[], versionKey?: string) {
    const whole: string[] = []
    // The new version goes first: a fill between the two is refused, not kept past the drop.
    const commands: Command[] = versionKey ? [['SET', versionKey, crypto.randomUUID(), 'EX', String(VERSION_TTL)]] : []
    for (const key of keys) {
      const [name, field] = splitKey(key)
      if (field === undefined) whole.push(key)
      else commands.push(['HDEL', name, field])
    }
    if (whole.length) commands.push(['DEL', ...whole])
    await this.all(commands)
  }

  async ping() {
    await this.one(['PING'])
  }
}

type Settled = { result: unknown } | { error: unknown }

/** Stores a value or a hash's field (a hash without a TTL, a new one, is given one), unless the
 * user's version is no longer the one the lookup saw. KEYS: the key or hash, the version key
 * (when checked). ARGV: value, TTL (seconds), field ('' for a plain key), the version seen ('':
 * none; a version is never ''). */
const FILL = `if KEYS[2] and (redis.call('GET', KEYS[2]) or '') ~= ARGV[4] then return 0 end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
end
return 1`

/** Upstash calls an isolate has out at once. Commands issued meanwhile, by any request,
 * wait for the first to return and go in one call: under load a call carries several
 * requests' commands (Upstash counts commands, not calls), so each request pays for a
 * fraction of an HTTP round trip. A command waits at most one call's timeout for its turn. */
const MAX_IN_FLIGHT = 2

/** In-process LRU with TTLs, bounded by entry count and total size. A hash is one entry. */
export class MemoryStore implements CacheStore {
  readonly backend = 'memory' as const
  private readonly entries = new Map<string, MemoryEntry>()
  private bytes = 0

  constructor(private readonly maxEntries = 10_000, private readonly maxBytes = 32 * 1024 * 1024) {}

  get(key: string) {
    return Promise.resolve(this.read(key))
  }

  getWithVersion(key: string, versionKey: string) {
    return Promise.resolve<[string | null, string | null]>([this.read(key), this.read(versionKey)])
  }

  set(key: string, value: string, ttlSeconds: number, since?: Since) {
    if (!since || this.read(since.key) === since.version) this.write(key, value, ttlSeconds)
    return Promise.resolve()
  }

  del(keys: string[], versionKey?: string) {
    if (versionKey) this.write(versionKey, crypto.randomUUID(), VERSION_TTL)
    for (const key of keys) {
      const [name, field] = splitKey(key)
      if (field === undefined) this.remove(name)
      else this.removeField(name, field)
    }
    return Promise.resolve()
  }

  ping() {
    return Promise.resolve()
  }

  get size() {
    return this.entries.size
  }

  private read(key: string): string | null {
    const [name, field] = splitKey(key)
    const value = this.live(name)?.value
    if (field === undefined) return typeof value === 'string' ? value : null
    return value instanceof Map ? value.get(field) ?? null : null
  }

  private write(key: string, value: string, ttlSeconds: number) {
    const [name, field] = splitKey(key)
    const old = field === undefined ? undefined : this.live(name)
    this.remove(name)
    let entry: MemoryEntry
    if (field === undefined) {
      entry = { value, bytes: value.length, expires: Date.now() + ttlSeconds * 1000 }
    } else {
      entry = old?.value instanceof Map ? old : { value: new Map(), bytes: 0, expires: Date.now() + ttlSeconds * 1000 }
      const fields = entry.value as Map<string, string>
      entry.bytes += value.length - (fields.get(field)?.length ?? 0)
      fields.set(field, value)
    }
    this.entries.set(name, entry)
    this.bytes += entry.bytes
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      this.remove(this.entries.keys().next().value as string)
    }
  }

  /** The entry under `name` unless it has expired, made the most recently used. */
  private live(name: string): MemoryEntry | undefined {
    const e = this.entries.get(name)
    if (!e) return undefined
    this.entries.delete(name)
    if (e.expires <= Date.now()) {
      this.bytes -= e.bytes
      return undefined
    }
    this.entries.set(name, e) // most recently used goes last
    return e
  }

  private remove(name: string) {
    const e = this.entries.get(name)
    if (e) {
      this.bytes -= e.bytes
      this.entries.delete(name)
    }
  }

  private removeField(name: string, field: string) {
    const e = this.entries.get(name)
    const fields = e?.value instanceof Map ? e.value : undefined
    const value = fields?.get(field)
    if (value === undefined) return
    fields!.delete(field)
    e!.bytes -= value.length
    this.bytes -= value.length
    if (!fields!.size) this.remove(name)
  }
}

/** A value, or a hash's fields; `bytes` is the length of what it holds. */
interface MemoryEntry {
  value: string | Map<string, string>
  bytes: number
  expires: number
}

/** PAM_CACHE_ENABLED=false: every read misses and nothing is kept. */
export class DisabledStore implements CacheStore {
  readonly backend = 'disabled' as const
  get = () => Promise.resolve(null)
  getWithVersion = () => Promise.resolve<[null, null]>([null, null])
  set = () => Promise.resolve()
  del = () => Promise.resolve()
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
