// Rate limits: a sliding window (two fixed windows weighted, the algorithm of
// @upstash/ratelimit) kept in Upstash Redis when configured, else in process.
// When Upstash does not answer in time, the in-process limiter decides instead
// of letting everything through. Per user on authenticated routes, per client
// IP otherwise (see clientIp).
//
// The Upstash check is our own short script rather than @upstash/ratelimit's,
// so that it can go in the same pipeline as the request's cache lookup (see
// UpstashStore): a cached read costs one Upstash round trip, not two.
//
// Reads of one identifier whose checks wait for the same call are counted by
// one run of the script. When several met that way (or the last spare ones were
// used up), the script is asked for spare requests too: counted in Redis there
// and then, handed out by this isolate to the identifier's next reads without
// a call. Nothing is admitted that Redis has not counted, so the limit holds
// across isolates; spare requests an isolate does not use are lost to the
// identifier, and the script grants at most a tenth of what the window has left
// (none near the limit, nor at limits of 10 or less). See README, Performance.
import type { Context } from 'hono'
import { type Cache, UpstashStore } from './cache.ts'
import type { Config, RateLimitTier } from './config.ts'
import { ApiError } from './errors.ts'
import { log } from './logger.ts'

export type { RateLimitTier }

export interface LimitResult {
  success: boolean
  limit: number
  remaining: number
  /** Unix time in ms when the window resets. */
  reset: number
  /** Counted by the in-process limiter standing in for Upstash (which did not answer in time). */
  inProcess?: boolean
}

export interface RateLimiter {
  /** Counts one request of `identifier` against `tier`. `batched`: the check may wait for the
   * request's next cache call (or the next task) to share its round trip. */
  limit(tier: RateLimitTier, identifier: string, batched?: boolean): Promise<LimitResult>
  /** Takes back one request `limit` counted and answered with `counted` (a success): a request
   * counted ahead, in case it turned out to be what the tier limits, that did not. */
  release(tier: RateLimitTier, identifier: string, counted: LimitResult): Promise<void>
}

type Tiers = Config['rateLimits']

/** Sliding window over two fixed windows, as @upstash/ratelimit computes it. */
export class MemoryRateLimiter implements RateLimiter {
  /** Per tier and identifier: the latest window counted in, its count and the one before's. */
  private readonly windows = new Map<string, { window: number; count: number; previous: number }>()
  private pruned = 0

  constructor(private readonly tiers: Tiers) {}

  limit(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    return Promise.resolve(this.count(tier, identifier))
  }

  release(tier: RateLimitTier, identifier: string, counted: LimitResult): Promise<void> {
    const kept = this.windows.get(`${tier}:${identifier}`)
    const window = countedWindow(counted, this.tiers[tier].windowSeconds)
    // Counted in the window kept last, or in the one before it (the window has moved on since).
    if (kept?.window === window && kept.count > 0) kept.count--
    else if (kept?.window === window + 1 && kept.previous > 0) kept.previous--
    return Promise.resolve()
  }

  private count(tier: RateLimitTier, identifier: string): LimitResult {
    const { limit: max, windowSeconds } = this.tiers[tier]
    const windowMs = windowSeconds * 1000
    const now = Date.now()
    const current = Math.floor(now / windowMs)
    const key = `${tier}:${identifier}`
    const kept = this.windows.get(key)
    const currentCount = kept?.window === current ? kept.count : 0
    const previousCount = kept?.window === current ? kept.previous : kept?.window === current - 1 ? kept.count : 0
    const elapsed = (now % windowMs) / windowMs
    const used = Math.floor(previousCount * (1 - elapsed)) + currentCount
    const reset = (current + 1) * windowMs
    if (used >= max) return { success: false, limit: max, remaining: 0, reset }
    if (kept) {
      kept.window = current
      kept.count = currentCount + 1
      kept.previous = previousCount
    } else {
      this.windows.set(key, { window: current, count: 1, previous: 0 })
    }
    this.prune(now)
    return { success: true, limit: max, remaining: Math.max(0, max - used - 1), reset }
  }

  /** Forget identifiers whose windows can no longer count (at most once a minute). */
  private prune(now: number) {
    if (now - this.pruned < 60_000) return
    this.pruned = now
    for (const [k, kept] of this.windows) {
      const tier = k.slice(0, k.indexOf(':')) as RateLimitTier
      const windowMs = (this.tiers[tier]?.windowSeconds ?? 1) * 1000
      if (kept.window < Math.floor(now / windowMs) - 1) this.windows.delete(k)
    }
  }
}

/** The fixed window a request answered with `counted` was counted in. */
const countedWindow = (counted: LimitResult, windowSeconds: number) =>
  Math.round(counted.reset / (windowSeconds * 1000)) - 1

/** Counts requests against a sliding window. Grants `increment` of them, and up to `spare` more
 * for the caller to hand out itself (never more than a tenth of what the window has left after
 * `increment`), as far as the limit allows (none past it). Answers what was used before them and
 * how many were granted. KEYS: current window, previous window. ARGV: limit, now (ms), window (ms),
 * increment (-1 takes back one request counted in KEYS[1]'s window), spare. */
const SLIDING_WINDOW = `local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit, now, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local increment, spare = tonumber(ARGV[4]), tonumber(ARGV[5])
if increment < 0 then
  if current > 0 then redis.call('DECR', KEYS[1]) end
  return {0, 0}
end
local used = math.floor(previous * (1 - (now % window) / window)) + current
local extra = math.min(spare, math.floor((limit - used - increment) / 10))
local granted = math.min(increment + math.max(extra, 0), limit - used)
if granted > 0 then
  local counted = redis.call('INCRBY', KEYS[1], granted)
  if counted == granted then redis.call('PEXPIRE', KEYS[1], window * 2 + 1000) end
else
  granted = 0
end
return {used, granted}`

/** The script's SHA-1, as Redis names it for EVALSHA; known from the first moments of the isolate. */
let scriptSha: string | undefined
const scriptShaReady = crypto.subtle.digest('SHA-1', new TextEncoder().encode(SLIDING_WINDOW)).then((d) =>
  scriptSha = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('')
)

/** Reads' checks of one tier, identifier and window that wait for the same Upstash call: they go
 * as one command counting them all, and the n-th of them is the n-th request counted. */
interface Group {
  count: number
  answer: Promise<{ used: number; granted: number }>
}

/** Requests already counted in Upstash for this isolate to admit (`next` up to `end`, counted
 * after `used` others): a busy identifier's reads need no call of their own. */
interface Lease {
  window: number
  used: number
  next: number
  end: number
  /** The spare asked for with it: the next ask doubles it while the identifier stays busy. */
  spare: number
}

/** The most spare requests asked for at once. */
const MAX_SPARE = 64

export class UpstashRateLimiter implements RateLimiter {
  private readonly fallback: MemoryRateLimiter
  /** Identifiers known to be over their limit until the window resets: refused without a round trip. */
  private readonly blocked = new Map<string, number>()
  /** Reads' checks not sent yet, by tier, identifier and window. */
  private readonly groups = new Map<string, Group>()
  /** Requests counted and not yet admitted, by tier and identifier. */
  private readonly leases = new Map<string, Lease>()
  private lastWarning = 0

  constructor(private readonly store: UpstashStore, private readonly config: Config) {
    this.fallback = new MemoryRateLimiter(config.rateLimits)
  }

  limit(tier: RateLimitTier, identifier: string, batched = false): Promise<LimitResult> {
    return this.count(tier, identifier, batched)
  }

  async release(tier: RateLimitTier, identifier: string, counted: LimitResult): Promise<void> {
    // Known over the limit since (a request counted meanwhile was refused): perhaps no longer.
    this.blocked.delete(`${tier}:${identifier}`)
    if (counted.inProcess) return await this.fallback.release(tier, identifier, counted)
    const { limit, windowSeconds } = this.config.rateLimits[tier]
    const window = countedWindow(counted, windowSeconds)
    const key = (w: number) => `${this.config.cache.prefix}ratelimit:${tier}:${identifier}:${w}`
    try {
      await this.run(() => [key(window), key(window - 1), limit, Date.now(), windowSeconds * 1000, -1, 0], true)
    } catch (err) {
      // The request stays counted until its window passes: stricter, never looser.
      log('warn', 'rate limiter: a request could not be taken back (Upstash unavailable)', { tier, error: String(err) })
    }
  }

  private async count(tier: RateLimitTier, identifier: string, batched: boolean) {
    const { limit, windowSeconds } = this.config.rateLimits[tier]
    const windowMs = windowSeconds * 1000
    const now = Date.now()
    const current = Math.floor(now / windowMs)
    const reset = (current + 1) * windowMs
    const blockKey = `${tier}:${identifier}`
    const until = this.blocked.get(blockKey)
    if (until !== undefined) {
      if (until > now) return { success: false, limit, remaining: 0, reset: until }
      this.blocked.delete(blockKey)
    }
    const key = (w: number) => `${this.config.cache.prefix}ratelimit:${tier}:${identifier}:${w}`
    const args = [key(current), key(current - 1), limit, now, windowMs]
    try {
      // Bounded by the Upstash call's own timeout (cache.ts, UpstashStore).
      let used: number
      let position = 0
      if (batched) {
        const lease = this.leases.get(blockKey)
        if (lease?.window === current && lease.next < lease.end) {
          position = lease.next++
          return { success: true, limit, remaining: Math.max(0, limit - lease.used - position - 1), reset }
        }
        const group = this.joinGroup(blockKey, current, args)
        position = group.count++
        used = (await group.answer).used
      } else {
        used = (await this.run(() => [...args, 1, 0], true)).used
      }
      if (used + position >= limit) {
        if (this.blocked.size > 10_000) this.blocked.clear()
        this.blocked.set(blockKey, reset)
        return { success: false, limit, remaining: 0, reset }
      }
      return { success: true, limit, remaining: Math.max(0, limit - used - position - 1), reset }
    } catch (err) {
      if (Date.now() - this.lastWarning > 60_000) {
        this.lastWarning = Date.now()
        log('warn', 'rate limiter: Upstash unavailable, limiting in-process', { error: String(err) })
      }
      return { ...await this.fallback.limit(tier, identifier), inProcess: true }
    }
  }

  /** The group of reads' checks this one goes with: the one not sent yet, or a new one. An
   * identifier busy enough that several of its checks met in a call, or that used up its last
   * lease, asks for spare requests too (twice the last ask, up to MAX_SPARE); what is granted
   * beyond the group's own becomes its lease. */
  private joinGroup(blockKey: string, window: number, args: (string | number)[]): Group {
    const groupKey = `${blockKey}:${window}`
    const waiting = this.groups.get(groupKey)
    if (waiting) return waiting
    const group = { count: 0 } as Group // its answer, just below, builds its command from it
    let spare = 0
    group.answer = this.run(() => {
      this.groups.delete(groupKey)
      const last = this.leases.get(blockKey)
      const usedUp = last?.window === window && last.spare > 0 && last.next >= last.end
      if (group.count > 1 || usedUp) spare = Math.min(MAX_SPARE, Math.max(group.count, 2 * (usedUp ? last!.spare : 0)))
      return [...args, group.count, spare]
    }, false).then((answer) => {
      if (answer.granted > group.count) {
        if (this.leases.size > 10_000) this.leases.clear()
        this.leases.set(blockKey, { window, used: answer.used, next: group.count, end: answer.granted, spare })
      }
      return answer
    })
    this.groups.set(groupKey, group)
    return group
  }

  /** Runs the script with the arguments `args()` gives when the call goes out. */
  private async run(args: () => (string | number)[], now: boolean): Promise<{ used: number; granted: number }> {
    let sent: string[] = []
    const evalsha = (sha: string) => () => {
      const [current, previous, ...rest] = (sent = args().map(String))
      return ['EVALSHA', sha, '2', current, previous, ...rest]
    }
    // No await before the command is queued: the request's cache lookup, issued
    // right after, must find it waiting and take it along.
    const command = scriptSha ? evalsha(scriptSha) : evalsha(await scriptShaReady)
    let answer: unknown
    try {
      answer = await this.store.send(command, now)
    } catch (err) {
      if (!/NOSCRIPT/i.test(String(err))) throw err
      // First use on this Redis: send the script itself (Redis keeps it for EVALSHA).
      const [current, previous, ...rest] = sent
      answer = await this.store.send(['EVAL', SLIDING_WINDOW, '2', current, previous, ...rest], true)
    }
    const [used, granted] = (answer as unknown[]).map(Number)
    return { used, granted }
  }
}

const limiters = new Map<Cache, RateLimiter>()

/** The limiter of an app whose cache is `cache`: on Upstash whenever it is configured, the cache
 * on or off (PAM_CACHE_ENABLED=false must not leave each isolate counting on its own). */
export function rateLimiterFor(config: Config, cache: Cache): RateLimiter {
  let limiter = limiters.get(cache)
  if (!limiter) {
    const { url, token } = config.upstash
    const store = cache.store instanceof UpstashStore
      ? cache.store
      : url && token
      ? new UpstashStore(url, token, config.cache.timeoutMs)
      : undefined
    if (store) {
      limiter = new UpstashRateLimiter(store, config)
    } else {
      if (!config.localStack) {
        log('warn', 'rate limits are per isolate: without Upstash, each isolate counts on its own ' +
          '(set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN to share them)')
      }
      limiter = new MemoryRateLimiter(config.rateLimits)
    }
    limiters.set(cache, limiter)
  }
  return limiter
}

let lastIpWarning = 0

/** The client's address, from the header the platform's edge sets and a client cannot:
 * `cf-connecting-ip` on hosted Supabase (Cloudflare overwrites whatever the client sent).
 * Without it (the local gateway, or no proxy at all), the connection's own address.
 * Without either, all such requests share one bucket. */
export function clientIp(c: Context, config: Config): string {
  const ip = c.req.header(config.clientIpHeader)?.trim()
  if (ip && ip.length <= 64) return ip
  const peer = ((c.env as Deno.ServeHandlerInfo | undefined)?.remoteAddr as Deno.NetAddr | undefined)?.hostname
  if (peer) return peer
  if (Date.now() - lastIpWarning > 60_000) {
    lastIpWarning = Date.now()
    log('warn', `no ${config.clientIpHeader} header: per-IP rate limits share one bucket`)
  }
  return 'unknown'
}

/** The rate-limit headers, set on an answer that already exists. */
function setRateLimitHeaders(h: Headers, r: LimitResult) {
  for (const [k, v] of Object.entries(rateLimitHeaders(r))) h.set(k, v)
}

export function rateLimitHeaders(r: LimitResult): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(r.limit),
    'X-RateLimit-Remaining': String(r.remaining),
    'X-RateLimit-Reset': String(Math.ceil(r.reset / 1000)),
  }
}

export function rateLimited(r: LimitResult, message = 'too many requests'): ApiError {
  const retryAfter = Math.max(1, Math.ceil((r.reset - Date.now()) / 1000))
  return new ApiError(429, 'rate_limited', `${message}, try again in ${retryAfter} s`, undefined, {
    ...rateLimitHeaders(r),
    'Retry-After': String(retryAfter),
  })
}

/** Counts the request against `tier` (per user, or per IP without one) around `next`, and
 * answers 429 past the limit (part of a route's gate, http.ts). A read (GET/HEAD) runs while
 * the limiter answers, so the two cost one round trip between them; its answer is replaced by
 * the 429 when over the limit. A check answered at once (an identifier known to be over its
 * limit, the in-process limiter, a lease) decides before the read runs, so a caller refused
 * costs no handler. A write waits for the limiter, and so do a read of the bulk tier (an
 * export: that tier is there to bound the work, not only the answers) and a read that calls
 * an outside service (`limitFirst`). */
export async function limitRequest(
  c: Context,
  tier: RateLimitTier,
  next: () => Promise<void>,
  limitFirst = false,
): Promise<void> {
  const userId: string | undefined = c.get('userId')
  const identifier = userId ? `user:${userId}` : `ip:${clientIp(c, c.get('config'))}`
  const method = c.req.method
  const read = (method === 'GET' || method === 'HEAD') && tier !== 'bulk' && !limitFirst
  const check = (c.get('rateLimiter') as RateLimiter).limit(tier, identifier, read)
  const answered = read ? await Promise.race([check, NOT_YET]) : await check
  if (answered) {
    if (!answered.success) throw rateLimited(answered)
    await next()
    setRateLimitHeaders(c.res.headers, answered)
    return
  }
  const [result] = await Promise.all([check, next()])
  if (!result.success) throw rateLimited(result)
  setRateLimitHeaders(c.res.headers, result)
}

/** Loses a race to a check already answered (listed before it), wins against one still out. */
const NOT_YET: Promise<undefined> = Promise.resolve(undefined)
