// Rate limits with @upstash/ratelimit's sliding window when Upstash is
// configured, else an in-process limiter with the same algorithm and headers.
// Per user on authenticated routes, per client IP otherwise. The tiers are
// the original PAM API's: auth 5/min, chat 30/min, standard 100/min, bulk 10/min.
import { Ratelimit } from '@upstash/ratelimit'
import { createMiddleware } from 'hono/factory'
import type { Context } from 'hono'
import { type Cache, UpstashStore } from './cache.ts'
import type { Config } from './config.ts'
import { ApiError } from './errors.ts'
import { log } from './logger.ts'

export type RateLimitTier = 'auth' | 'chat' | 'standard' | 'bulk'

export interface LimitResult {
  success: boolean
  limit: number
  remaining: number
  /** Unix time in ms when the window resets. */
  reset: number
}

export interface RateLimiter {
  limit(tier: RateLimitTier, identifier: string): Promise<LimitResult>
}

/** Sliding window over two fixed windows, as @upstash/ratelimit computes it. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, number>()

  constructor(private readonly config: Config['rateLimits']) {}

  limit(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    const max = this.config[tier]
    const windowMs = this.config.windowSeconds * 1000
    const now = Date.now()
    const current = Math.floor(now / windowMs)
    const key = (w: number) => `${tier}:${identifier}:${w}`
    const previousCount = this.windows.get(key(current - 1)) ?? 0
    const currentCount = this.windows.get(key(current)) ?? 0
    const elapsed = (now % windowMs) / windowMs
    const used = Math.floor(previousCount * (1 - elapsed)) + currentCount
    const reset = (current + 1) * windowMs
    if (used >= max) return Promise.resolve({ success: false, limit: max, remaining: 0, reset })
    this.windows.set(key(current), currentCount + 1)
    this.prune(current)
    return Promise.resolve({ success: true, limit: max, remaining: Math.max(0, max - used - 1), reset })
  }

  private pruned = 0
  /** Forget windows older than the previous one (at most once per window). */
  private prune(current: number) {
    if (this.pruned === current) return
    this.pruned = current
    for (const k of this.windows.keys()) {
      if (Number(k.slice(k.lastIndexOf(':') + 1)) < current - 1) this.windows.delete(k)
    }
  }
}

export class UpstashRateLimiter implements RateLimiter {
  private readonly limiters: Record<RateLimitTier, Ratelimit>

  constructor(store: UpstashStore, config: Config) {
    const make = (tier: RateLimitTier) =>
      new Ratelimit({
        redis: store.redis,
        limiter: Ratelimit.slidingWindow(config.rateLimits[tier], `${config.rateLimits.windowSeconds} s`),
        prefix: `${config.cache.prefix}ratelimit:${tier}`,
        // A slow Redis lets the request through rather than failing it.
        timeout: config.cache.timeoutMs,
        analytics: false,
      })
    this.limiters = { auth: make('auth'), chat: make('chat'), standard: make('standard'), bulk: make('bulk') }
  }

  async limit(tier: RateLimitTier, identifier: string): Promise<LimitResult> {
    const r = await this.limiters[tier].limit(identifier)
    return { success: r.success, limit: r.limit, remaining: r.remaining, reset: r.reset }
  }
}

const limiters = new Map<Cache, RateLimiter>()

export function rateLimiterFor(config: Config, cache: Cache): RateLimiter {
  let limiter = limiters.get(cache)
  if (!limiter) {
    limiter = cache.store instanceof UpstashStore
      ? new UpstashRateLimiter(cache.store, config)
      : new MemoryRateLimiter(config.rateLimits)
    limiters.set(cache, limiter)
  }
  return limiter
}

/** The client's address: the first X-Forwarded-For entry (set by the platform's edge). */
export function clientIp(c: Context): string {
  const xff = c.req.header('x-forwarded-for')
  return xff?.split(',')[0].trim() || c.req.header('x-real-ip') || 'unknown'
}

let lastWarning = 0

/** Route middleware: counts the request against `tier`, answers 429 past the limit. */
export function enforceRateLimit(tier: RateLimitTier) {
  return createMiddleware<{ Variables: { rateLimiter: RateLimiter; userId?: string } }>(async (c, next) => {
    const identifier = c.var.userId ? `user:${c.var.userId}` : `ip:${clientIp(c)}`
    let result: LimitResult | undefined
    try {
      result = await c.var.rateLimiter.limit(tier, identifier)
    } catch (err) {
      // Like the cache: a limiter that is down lets requests through.
      if (Date.now() - lastWarning > 60_000) {
        lastWarning = Date.now()
        log('warn', 'rate limiter unavailable, allowing requests', { tier, error: String(err) })
      }
    }
    if (!result) return await next()
    const headers = {
      'X-RateLimit-Limit': String(result.limit),
      'X-RateLimit-Remaining': String(result.remaining),
      'X-RateLimit-Reset': String(Math.ceil(result.reset / 1000)),
    }
    if (!result.success) {
      const retryAfter = Math.max(1, Math.ceil((result.reset - Date.now()) / 1000))
      throw new ApiError(429, 'rate_limited', `too many requests, try again in ${retryAfter} s`, undefined, {
        ...headers,
        'Retry-After': String(retryAfter),
      })
    }
    await next()
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v)
  })
}
