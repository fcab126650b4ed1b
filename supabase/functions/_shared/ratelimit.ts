// Rate limits: @upstash/ratelimit's sliding window when Upstash is configured,
// else an in-process limiter with the same algorithm and headers. When
// Upstash does not answer in time, the in-process limiter decides instead of
// letting everything through. Per user on authenticated routes, per client IP
// otherwise (see clientIp).
import { Ratelimit } from '@upstash/ratelimit'
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
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
}

export interface RateLimiter {
  /** Counts one request of `identifier` against `tier`. */
  limit(tier: RateLimitTier, identifier: string): Promise<LimitResult>
  /** What is left for `identifier` in `tier`, without counting anything. */
  peek(tier: RateLimitTier, identifier: string): Promise<LimitResult>
}

type Tiers = Config['rateLimits']

/** Sliding window over two fixed windows, as @upstash/ratelimit computes it. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, number>()
  private pruned = 0

  constructor(private readonly tiers: Tiers) {}

  limit(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    return Promise.resolve(this.count(tier, identifier, true))
  }

  peek(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    return Promise.resolve(this.count(tier, identifier, false))
  }

  private count(tier: RateLimitTier, identifier: string, hit: boolean): LimitResult {
    const { limit: max, windowSeconds } = this.tiers[tier]
    const windowMs = windowSeconds * 1000
    const now = Date.now()
    const current = Math.floor(now / windowMs)
    const key = (w: number) => `${tier}:${identifier}:${w}`
    const previousCount = this.windows.get(key(current - 1)) ?? 0
    const currentCount = this.windows.get(key(current)) ?? 0
    const elapsed = (now % windowMs) / windowMs
    const used = Math.floor(previousCount * (1 - elapsed)) + currentCount
    const reset = (current + 1) * windowMs
    if (used >= max) return { success: false, limit: max, remaining: 0, reset }
    if (!hit) return { success: true, limit: max, remaining: max - used, reset }
    this.windows.set(key(current), currentCount + 1)
    this.prune(now)
    return { success: true, limit: max, remaining: Math.max(0, max - used - 1), reset }
  }

  /** Forget windows that can no longer count (at most once a minute). */
  private prune(now: number) {
    if (now - this.pruned < 60_000) return
    this.pruned = now
    for (const k of this.windows.keys()) {
      const tier = k.slice(0, k.indexOf(':')) as RateLimitTier
      const windowMs = (this.tiers[tier]?.windowSeconds ?? 1) * 1000
      if (Number(k.slice(k.lastIndexOf(':') + 1)) < Math.floor(now / windowMs) - 1) this.windows.delete(k)
    }
  }
}

export class UpstashRateLimiter implements RateLimiter {
  private readonly limiters = new Map<RateLimitTier, Ratelimit>()
  private readonly fallback: MemoryRateLimiter
  private lastWarning = 0

  constructor(store: UpstashStore, private readonly config: Config) {
    this.fallback = new MemoryRateLimiter(config.rateLimits)
    for (const [tier, { limit, windowSeconds }] of Object.entries(config.rateLimits)) {
      this.limiters.set(
        tier as RateLimitTier,
        new Ratelimit({
          redis: store.redis,
          limiter: Ratelimit.slidingWindow(limit, `${windowSeconds} s`),
          prefix: `${config.cache.prefix}ratelimit:${tier}`,
          // Past this, the in-process limiter decides (see below).
          timeout: config.cache.timeoutMs,
          analytics: false,
          // Identifiers known to be over their limit are refused without a round trip.
          ephemeralCache: new Map(),
        }),
      )
    }
  }

  async limit(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    try {
      const r = await this.limiters.get(tier)!.limit(identifier)
      if (r.reason !== 'timeout') return { success: r.success, limit: r.limit, remaining: r.remaining, reset: r.reset }
      throw new Error(`no answer within ${this.config.cache.timeoutMs} ms`)
    } catch (err) {
      this.warn(err)
      return await this.fallback.limit(tier, identifier)
    }
  }

  async peek(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    const { limit } = this.config.rateLimits[tier]
    try {
      const r = await withTimeout(this.limiters.get(tier)!.getRemaining(identifier), this.config.cache.timeoutMs)
      return { success: r.remaining > 0, limit, remaining: r.remaining, reset: r.reset }
    } catch (err) {
      this.warn(err)
      return await this.fallback.peek(tier, identifier)
    }
  }

  private warn(err: unknown) {
    if (Date.now() - this.lastWarning < 60_000) return
    this.lastWarning = Date.now()
    log('warn', 'rate limiter: Upstash unavailable, limiting in-process', { error: String(err) })
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer))
}

const limiters = new Map<Cache, RateLimiter>()

export function rateLimiterFor(config: Config, cache: Cache): RateLimiter {
  let limiter = limiters.get(cache)
  if (!limiter) {
    if (cache.store instanceof UpstashStore) {
      limiter = new UpstashRateLimiter(cache.store, config)
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

type LimitVars = { Variables: { rateLimiter: RateLimiter; userId?: string; config: Config } }

/** Route middleware: counts the request against `tier` (per user, or per IP
 * without one) and answers 429 past the limit. A read (GET/HEAD) runs while the
 * limiter answers, so the two cost one round trip between them; its answer is
 * replaced by the 429 when over the limit. A write waits for the limiter. */
export function enforceRateLimit(tier: RateLimitTier) {
  return createMiddleware<LimitVars>(async (c, next) => {
    const identifier = c.var.userId ? `user:${c.var.userId}` : `ip:${clientIp(c, c.var.config)}`
    const check = c.var.rateLimiter.limit(tier, identifier)
    const method = c.req.method
    if (method !== 'GET' && method !== 'HEAD') {
      const result = await check
      if (!result.success) throw rateLimited(result)
      await next()
      for (const [k, v] of Object.entries(rateLimitHeaders(result))) c.res.headers.set(k, v)
      return
    }
    const [result] = await Promise.all([check, next()])
    if (!result.success) throw rateLimited(result)
    for (const [k, v] of Object.entries(rateLimitHeaders(result))) c.res.headers.set(k, v)
  })
}
