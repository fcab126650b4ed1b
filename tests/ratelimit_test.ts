// Rate limits: 429 at exactly the configured limit, with Retry-After and the
// X-RateLimit headers; per IP on anonymous routes, per user on user routes.
// Both limiters: @upstash/ratelimit on a real Redis, and the in-process one.
import { assert, assertEquals } from './_support/assert.ts'
import { authAppWith, awayFromWindowEdge } from './_support/apps.ts'
import { countingProxy, redisAvailable, startUpstashBridge } from './_support/redis.ts'
import { MemoryRateLimiter, UpstashRateLimiter } from '../supabase/functions/_shared/ratelimit.ts'
import { UpstashStore } from '../supabase/functions/_shared/cache.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'
import { networkWait } from '../supabase/functions/_shared/network-wait.ts'
import { jsonOf, signUp, stack } from './_support/stack.ts'
import { startUpstreamStub } from './_support/upstream-stub.ts'
import { createWheelsApp } from '../supabase/functions/wheels/index.ts'
import { createYouApp } from '../supabase/functions/you/index.ts'
import type { Json } from './_support/assert.ts'

for (const backend of ['memory', 'upstash'] as const) {
  const ignore = backend === 'upstash' && !redisAvailable
  const withApp = async (limits: Record<string, string>, fn: (call: ReturnType<typeof authAppWith>) => Promise<void>) => {
    const bridge = backend === 'upstash' ? await startUpstashBridge() : null
    try {
      await awayFromWindowEdge()
      await fn(authAppWith({
        ...limits,
        ...(bridge ? { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token } : {}),
      }))
    } finally {
      await bridge?.close()
    }
  }

  Deno.test({
    name: `ratelimit[${backend}]: login is limited per IP at exactly the auth tier`,
    ignore,
    fn: () =>
      withApp({ PAM_RATE_LIMIT_AUTH: '5' }, async (call) => {
        const login = (ip: string) =>
          call('/login', { method: 'POST', ip, body: JSON.stringify({ email: 'nobody@example.com', password: 'wrong-password' }) })
        for (let i = 1; i <= 5; i++) {
          const res = await login('198.51.100.1')
          assertEquals(res.status, 401, `attempt ${i} reaches the credentials check`)
          assertEquals(res.headers.get('x-ratelimit-limit'), '5')
          assertEquals(res.headers.get('x-ratelimit-remaining'), String(5 - i))
          await res.body?.cancel()
        }
        const blocked = await login('198.51.100.1')
        assertEquals(blocked.status, 429)
        const body = await jsonOf(blocked) as Json
        assertEquals(body.error.code, 'rate_limited')
        const retryAfter = Number(blocked.headers.get('retry-after'))
        assert(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`)
        assertEquals(blocked.headers.get('x-ratelimit-remaining'), '0')
        assert(Number(blocked.headers.get('x-ratelimit-reset')) > Date.now() / 1000)
        const elsewhere = await login('198.51.100.2')
        assertEquals(elsewhere.status, 401, 'another IP has its own budget')
        await elsewhere.body?.cancel()
      }),
  })

  Deno.test({
    name: `ratelimit[${backend}]: guesses sent at once meet the failure limit; sign-ins that succeed use none of it`,
    ignore,
    fn: () =>
      withApp({ PAM_RATE_LIMIT_AUTH: '100', PAM_RATE_LIMIT_AUTH_ACCOUNT: '100', PAM_RATE_LIMIT_LOGIN_FAILURES: '2' }, async (call) => {
        const user = await signUp()
        const login = async (password: string) => {
          const res = await call('/login', { method: 'POST', ip: '198.51.100.40', body: JSON.stringify({ email: user.email, password }) })
          await res.body?.cancel()
          return res.status
        }
        // Each attempt counts as a failure until Supabase Auth says it was not one: three at once meet the limit…
        const burst = await Promise.all([1, 2, 3].map(() => login(user.password)))
        assertEquals(burst.sort(), [200, 200, 429])
        // …and once the two are taken back, the address may sign in again (no refusal remembered past them).
        for (let i = 0; i < 3; i++) assertEquals(await login(user.password), 200, `sign-in ${i + 1}`)
        // Six guesses at once: two reach Supabase Auth, the rest are refused before it.
        const guesses = await Promise.all(Array.from({ length: 6 }, (_, i) => login(`wrong-${i}`)))
        assertEquals(guesses.filter((s) => s === 401).length, 2, `statuses ${guesses}`)
        assertEquals(guesses.filter((s) => s === 429).length, 4, `statuses ${guesses}`)
        assertEquals(await login(user.password), 429, 'that address is done guessing')
      }),
  })

  Deno.test({
    name: `ratelimit[${backend}]: a read refused for its limit does not run: no outside service is called`,
    ignore,
    fn: async () => {
      const bridge = backend === 'upstash' ? await startUpstashBridge() : null
      const stub = startUpstreamStub()
      try {
        const { UPSTASH_REDIS_REST_URL: _u, UPSTASH_REDIS_REST_TOKEN: _t, ...env } = Deno.env.toObject()
        const config = parseConfig({
          ...env,
          PAM_LOG_LEVEL: 'error',
          PAM_CACHE_PREFIX: `t${crypto.randomUUID().slice(0, 8)}:`,
          PAM_RATE_LIMIT_STANDARD: '3',
          MAPBOX_TOKEN: stub.token,
          MAPBOX_BASE_URL: stub.url,
          WEATHER_BASE_URL: stub.url,
          ...(bridge ? { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token } : {}),
        })
        const [wheels, you] = [createWheelsApp(config), createYouApp(config)]
        const user = await signUp()
        const get = async (app: typeof wheels, path: string) => {
          const res = await app.fetch(new Request(`http://local/${path}`, {
            headers: { apikey: stack.keys.publishableKey, authorization: `Bearer ${user.accessToken}` },
          }))
          await res.body?.cancel()
          return res.status
        }
        await awayFromWindowEdge()
        // Geocoding calls Mapbox: its limit is checked first, so a request over it never gets there.
        const statuses = []
        for (let i = 0; i < 8; i++) statuses.push(await get(wheels, `wheels/geocode?q=Place%20${i}&near_lat=-23.7&near_lng=133.88`))
        assertEquals(statuses, [200, 200, 200, 429, 429, 429, 429, 429])
        assertEquals(stub.calls('/search/geocode/v6/forward').length, 3)
        // A read that runs while its check is out (the dashboard, its weather) is not run once its caller is
        // known to be over the limit: the in-process limiter knows at once, Upstash after the first refusal.
        const other = await signUp()
        const asOther = async (i: number) => {
          const res = await you.fetch(new Request(`http://local/you/dashboard?lat=-${10 + i}.5&lng=131.04`, {
            headers: { apikey: stack.keys.publishableKey, authorization: `Bearer ${other.accessToken}` },
          }))
          await res.body?.cancel()
          return res.status
        }
        const dashboard = []
        for (let i = 0; i < 8; i++) dashboard.push(await asOther(i))
        assertEquals(dashboard, [200, 200, 200, 429, 429, 429, 429, 429])
        assertEquals(stub.calls('/v1/forecast').length, backend === 'memory' ? 3 : 4)
      } finally {
        await stub.close()
        await bridge?.close()
      }
    },
  })

  Deno.test({
    name: `ratelimit[${backend}]: user routes are limited per user`,
    ignore,
    fn: () =>
      withApp({ PAM_RATE_LIMIT_STANDARD: '3' }, async (call) => {
        const [a, b] = [await signUp(), await signUp()]
        for (let i = 0; i < 3; i++) {
          const res = await call('/me', { token: a.accessToken, ip: `192.0.2.${i}` })
          assertEquals(res.status, 200)
          await res.body?.cancel()
        }
        const blocked = await call('/me', { token: a.accessToken, ip: '192.0.2.99' })
        assertEquals(blocked.status, 429, 'a new IP does not reset a user\'s budget')
        await blocked.body?.cancel()
        const other = await call('/me', { token: b.accessToken })
        assertEquals(other.status, 200)
        await other.body?.cancel()
      }),
  })
}

Deno.test({
  name: 'ratelimit[upstash]: with the cache turned off, limits still count on Upstash, shared by every isolate',
  ignore: !redisAvailable,
  fn: async () => {
    const bridge = (await startUpstashBridge())!
    const front = countingProxy(bridge.url)
    try {
      await awayFromWindowEdge()
      const call = authAppWith({
        PAM_CACHE_ENABLED: 'false',
        PAM_RATE_LIMIT_STANDARD: '2',
        UPSTASH_REDIS_REST_URL: front.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
      })
      const user = await signUp()
      const statuses = []
      for (let i = 0; i < 3; i++) {
        const res = await call('/me', { token: user.accessToken })
        statuses.push(res.status)
        await res.body?.cancel()
      }
      assertEquals(statuses, [200, 200, 429])
      assert(front.seen.calls.some((c) => c.body.includes('ratelimit:standard:user:')), 'the checks went to Upstash')
    } finally {
      await front.close()
      await bridge.close()
    }
  },
})

Deno.test('ratelimit: sign-in limits are per account and per IP; failures count more tightly; refresh has its own', async () => {
  await awayFromWindowEdge()
  const call = authAppWith({
    PAM_RATE_LIMIT_AUTH: '100',
    PAM_RATE_LIMIT_AUTH_ACCOUNT: '6',
    PAM_RATE_LIMIT_LOGIN_FAILURES: '2',
    PAM_RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '4',
    PAM_RATE_LIMIT_REFRESH: '3',
  })
  const user = await signUp()
  const login = (password: string, ip: string) =>
    call('/login', { method: 'POST', ip, body: JSON.stringify({ email: user.email, password }) })
  const status = async (res: Response) => (await res.body?.cancel(), res.status)

  // Two wrong passwords from one address: that address is done guessing, even with the right one…
  assertEquals(await status(await login('wrong-1', '198.51.100.10')), 401)
  assertEquals(await status(await login('wrong-2', '198.51.100.10')), 401)
  const locked = await login(user.password, '198.51.100.10')
  assertEquals(locked.status, 429)
  assert(Number(locked.headers.get('retry-after')) > 0)
  assertEquals(((await jsonOf(locked)) as Json).error.code, 'rate_limited')
  // …but the account holder elsewhere (another address, e.g. the same CGNAT pool's next one) signs in.
  assertEquals(await status(await login(user.password, '198.51.100.11')), 200)
  // Guesses spread over addresses meet the per-account failure limit.
  assertEquals(await status(await login('wrong-3', '198.51.100.12')), 401)
  assertEquals(await status(await login('wrong-4', '198.51.100.13')), 401)
  assertEquals(await status(await login(user.password, '198.51.100.14')), 429)

  // Many travellers behind one address: each account has its own budget.
  for (let i = 0; i < 3; i++) {
    const other = await signUp()
    const res = await call('/login', {
      method: 'POST',
      ip: '203.0.113.50',
      body: JSON.stringify({ email: other.email, password: other.password }),
    })
    assertEquals(await status(res), 200)
  }

  // Refresh is counted on its own tier, per IP.
  const fresh = await signUp()
  const { data } = await fresh.client.auth.getSession()
  let token = data.session!.refresh_token
  for (let i = 0; i < 3; i++) {
    const res = await call('/refresh', { method: 'POST', ip: '192.0.2.77', body: JSON.stringify({ refresh_token: token }) })
    assertEquals(res.status, 200, `refresh ${i + 1}`)
    token = ((await jsonOf(res)) as Json).session.refresh_token
  }
  assertEquals(
    await status(await call('/refresh', { method: 'POST', ip: '192.0.2.77', body: JSON.stringify({ refresh_token: token }) })),
    429,
  )
})

Deno.test('ratelimit[memory]: the window slides: the last window weighs on the next, and older ones are forgotten', async () => {
  const tiers = { standard: { limit: 10, windowSeconds: 1 } } as unknown as ConstructorParameters<typeof MemoryRateLimiter>[0]
  const limiter = new MemoryRateLimiter(tiers)
  // Early in a window, so that each step below stays in the window it means.
  const early = async () => {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50))
  }
  const passing = async (identifier: string) => {
    let n = 0
    while ((await limiter.limit('standard', identifier)).success) n++
    return n
  }
  await early()
  assertEquals(await passing('user:a'), 10, 'a fresh identifier has the whole limit')
  assertEquals((await limiter.limit('standard', 'user:a')).remaining, 0)
  assertEquals(await passing('user:b'), 10, 'each identifier counts on its own')
  await early()
  // The previous window's 10 count by the share of this one still to come (~95% here).
  const next = await passing('user:a')
  assert(next >= 1 && next < 10, `${next} passed in the next window`)
  await early()
  await early()
  assertEquals(await passing('user:a'), 10, 'a window two back no longer counts')
})

Deno.test('ratelimit[memory]: a request taken back is free again, also once the window has moved on', async () => {
  const tiers = { standard: { limit: 2, windowSeconds: 1 } } as unknown as ConstructorParameters<typeof MemoryRateLimiter>[0]
  const limiter = new MemoryRateLimiter(tiers)
  const early = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50))
  await early()
  const first = await limiter.limit('standard', 'user:a')
  assert((await limiter.limit('standard', 'user:a')).success)
  assertEquals((await limiter.limit('standard', 'user:a')).success, false)
  await limiter.release('standard', 'user:a', first)
  assert((await limiter.limit('standard', 'user:a')).success, 'the one taken back is free again')
  // In the next window the last one's two weigh as one (floor(2 × ~0.95)); taken back, they weigh nothing.
  const late = await limiter.limit('standard', 'user:b')
  await limiter.limit('standard', 'user:b')
  await early()
  await limiter.release('standard', 'user:b', late)
  assert((await limiter.limit('standard', 'user:b')).success)
  assert((await limiter.limit('standard', 'user:b')).success, 'the previous window counts one fewer')
})

/** Each call's commands as `NAME count spare` (the script's last two arguments). */
const commandsSent = (front: ReturnType<typeof countingProxy>) =>
  front.seen.calls.map((c) => (JSON.parse(c.body) as string[][]).map((cmd) => [cmd[0], ...cmd.slice(-2)].join(' ')))

/** An Upstash limiter behind a counting proxy (calls held 20 ms, so that checks meet), with
 * `standard` at `limit`; its script already loaded into Redis. */
async function upstashLimiter(bridge: { url: string; token: string }, limit: number, prefix = `t${crypto.randomUUID().slice(0, 8)}:`) {
  const front = countingProxy(bridge.url, 20)
  const config = parseConfig({
    SUPABASE_URL: 'http://127.0.0.1:54321',
    SUPABASE_DB_URL: 'postgres://u@127.0.0.1/db',
    PAM_LOCAL_STACK: 'true',
    PAM_RATE_LIMIT_STANDARD: String(limit),
    PAM_CACHE_PREFIX: prefix,
  })
  const store = new UpstashStore(front.url, bridge.token, 2000)
  const limiter = new UpstashRateLimiter(store, config)
  await limiter.limit('standard', 'user:warm') // loads the script into Redis (NOSCRIPT, then EVAL)
  front.reset()
  /** A read's check, as a list sends it: queued, then flushed as the request waits on the database. */
  const read = (identifier: string) => {
    const result = limiter.limit('standard', identifier, true)
    networkWait()
    return result
  }
  const counted = (identifier: string) =>
    store.send<string>(['GET', `${prefix}ratelimit:standard:${identifier}:${Math.floor(Date.now() / 60_000)}`], true)
  return { front, read, counted }
}

type LimiterAt = (limit: number, prefix?: string) => ReturnType<typeof upstashLimiter>

/** A test of Upstash limiters on a bridge of its own, away from a window's edge; every limiter
 * `limiterAt` makes is closed with the bridge. */
function upstashLimiterTest(name: string, fn: (limiterAt: LimiterAt) => Promise<void>) {
  Deno.test({
    name: `ratelimit[upstash]: ${name}`,
    ignore: !redisAvailable,
    fn: async () => {
      await awayFromWindowEdge()
      const bridge = (await startUpstashBridge())!
      const made: Awaited<ReturnType<typeof upstashLimiter>>[] = []
      try {
        await fn(async (limit, prefix) => {
          const limiter = await upstashLimiter(bridge, limit, prefix)
          made.push(limiter)
          return limiter
        })
      } finally {
        for (const limiter of made) await limiter.front.close()
        await bridge.close()
      }
    },
  })
}

upstashLimiterTest('reads\' checks of one identifier waiting for the same call go as one command, counted in order', async (limiterAt) => {
  const { front, read, counted } = await limiterAt(6)
  const first = read('user:a') // nothing out: sent at once
  const later = [...Array.from({ length: 7 }, () => read('user:a')), read('user:b'), read('user:b')]
  const results = await Promise.all([first, ...later])
  assertEquals(
    results.map((r) => [r.success, r.remaining]),
    [[true, 5], [true, 4], [true, 3], [true, 2], [true, 1], [true, 0], [false, 0], [false, 0], [true, 5], [true, 4]],
    'the limit holds exactly, in the order the checks were made',
  )
  // The first call carried a's first check; the next one, everything asked meanwhile: a's
  // seven as one command counting 7 (5 granted), b's two as one counting 2. Both ask for
  // spare requests (several checks met), but a tenth of what a window of 6 has left is none.
  // (Each command ends with how many it counts and how many spare it asks for.)
  assertEquals(commandsSent(front), [['EVALSHA 1 0'], ['EVALSHA 7 7', 'EVALSHA 2 2']])
  assertEquals(await counted('user:a'), '6', 'Redis counted the six granted, not the refused')
  // Over the limit, an identifier is refused without a round trip until its window resets.
  front.reset()
  assertEquals((await read('user:a')).success, false)
  assertEquals(front.seen.calls.length, 0)
})

upstashLimiterTest('a busy identifier is granted spare requests, and its reads use them without a call', async (limiterAt) => {
  const { front, read, counted } = await limiterAt(1000)
  const first = read('user:c') // nothing out: sent at once, alone, asking for no spare
  const burst = Array.from({ length: 8 }, () => read('user:c')) // meet behind it: 8, and 8 spare
  const answered = await Promise.all([first, ...burst])
  assertEquals(commandsSent(front), [['EVALSHA 1 0'], ['EVALSHA 8 8']])
  // The spare ones: answered in order, with no call.
  const leased = await Promise.all(Array.from({ length: 8 }, () => read('user:c')))
  assertEquals(front.seen.calls.length, 2)
  // Used up: the next check asks for twice the last spare.
  const next = await read('user:c')
  assertEquals(commandsSent(front).at(-1), ['EVALSHA 1 16'])
  assertEquals(
    [...answered, ...leased, next].map((r) => r.success && r.remaining),
    Array.from({ length: 18 }, (_, i) => 999 - i),
    'each request is counted once, in order',
  )
  assertEquals(await counted('user:c'), String(1 + 16 + 17), 'Redis holds the spare ones too: none can go past the limit')
})

upstashLimiterTest('two isolates with spare requests never admit more than the limit between them', async (limiterAt) => {
  const prefix = `t${crypto.randomUUID().slice(0, 8)}:`
  const a = await limiterAt(120, prefix)
  const b = await limiterAt(120, prefix)
  let admitted = 0
  let refusedBoth = false
  for (let round = 0; round < 40 && !refusedBoth; round++) {
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => a.read('user:d')),
      ...Array.from({ length: 6 }, () => b.read('user:d')),
    ])
    admitted += results.filter((r) => r.success).length
    refusedBoth = results.every((r) => !r.success)
  }
  assert(refusedBoth, 'both were refused in the end')
  // Spare requests a refused isolate still held would be counted and never admitted: the
  // limit errs on the safe side by at most what an isolate was granted spare.
  assert(admitted <= 120 && admitted >= 120 - 2 * 12, `admitted ${admitted} of 120`)
  assertEquals(await a.counted('user:d'), '120')
})
