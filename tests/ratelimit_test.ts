// Rate limits: 429 at exactly the configured limit, with Retry-After and the
// X-RateLimit headers; per IP on anonymous routes, per user on user routes.
// Both limiters: @upstash/ratelimit on a real Redis, and the in-process one.
import { assert, assertEquals } from './_support/assert.ts'
import { authAppWith } from './_support/apps.ts'
import { redisAvailable, startUpstashBridge } from './_support/redis.ts'
import { jsonOf, signUp } from './_support/stack.ts'
import type { Json } from './_support/assert.ts'

for (const backend of ['memory', 'upstash'] as const) {
  const ignore = backend === 'upstash' && !redisAvailable
  const withApp = async (limits: Record<string, string>, fn: (call: ReturnType<typeof authAppWith>) => Promise<void>) => {
    const bridge = backend === 'upstash' ? await startUpstashBridge() : null
    try {
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
