// Rate limits: 429 at exactly the configured limit, with Retry-After and the
// X-RateLimit headers; per IP on anonymous routes, per user on user routes.
// Both limiters: @upstash/ratelimit on a real Redis, and the in-process one.
import { assert, assertEquals } from './_support/assert.ts'
import { authAppWith, awayFromWindowEdge } from './_support/apps.ts'
import { redisAvailable, startUpstashBridge } from './_support/redis.ts'
import { MemoryRateLimiter } from '../supabase/functions/_shared/ratelimit.ts'
import { jsonOf, signUp } from './_support/stack.ts'
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
  assertEquals((await limiter.peek('standard', 'user:a')).remaining, 0)
  assertEquals(await passing('user:b'), 10, 'each identifier counts on its own')
  await early()
  // The previous window's 10 count by the share of this one still to come (~95% here).
  const next = await passing('user:a')
  assert(next >= 1 && next < 10, `${next} passed in the next window`)
  await early()
  await early()
  assertEquals((await limiter.peek('standard', 'user:a')).remaining, 10, 'a window two back no longer counts')
  assertEquals(await passing('user:a'), 10)
})
