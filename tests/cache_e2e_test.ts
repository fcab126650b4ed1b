// The cache in a real request path (GET /auth/me, user:{id}, 1 h): reads hit
// after the first, every write is visible at once, and Redis dying mid-run
// costs nothing but speed. Run on both backends.
import { assert, assertEquals } from './_support/assert.ts'
import { authAppWith } from './_support/apps.ts'
import { countingProxy, redisAvailable, startUpstashBridge } from './_support/redis.ts'
import { jsonOf, signUp } from './_support/stack.ts'
import { winsAppAt } from './_support/wins.ts'
import type { Json } from './_support/assert.ts'

for (const backend of ['memory', 'upstash'] as const) {
  Deno.test({
    name: `cache e2e[${backend}]: hit after the first read, fresh after every write, gone with the account`,
    ignore: backend === 'upstash' && !redisAvailable,
    fn: async () => {
      const bridge = backend === 'upstash' ? await startUpstashBridge() : null
      try {
        const call = authAppWith(bridge ? { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token } : {})
        const user = await signUp({ full_name: 'Cached Carol' })
        const me = () => call('/me', { token: user.accessToken })

        const first = await me()
        assertEquals(first.headers.get('x-cache'), 'miss')
        assertEquals((await jsonOf(first) as Json).profile.full_name, 'Cached Carol')
        const second = await me()
        assertEquals(second.headers.get('x-cache'), 'hit')
        assertEquals((await jsonOf(second) as Json).profile.full_name, 'Cached Carol')

        const patched = await call('/me', { method: 'PATCH', token: user.accessToken, body: JSON.stringify({ full_name: 'Carol Two' }) })
        assertEquals(patched.status, 200)
        await patched.body?.cancel()
        const third = await me()
        assertEquals(third.headers.get('x-cache'), 'miss', 'the write dropped the cached profile')
        assertEquals((await jsonOf(third) as Json).profile.full_name, 'Carol Two')
        assertEquals((await me()).headers.get('x-cache'), 'hit')

        const other = await signUp({ full_name: 'Other Olga' })
        const theirs = await call('/me', { token: other.accessToken })
        assertEquals((await jsonOf(theirs) as Json).profile.full_name, 'Other Olga', 'nothing cached crosses users')

        const deleted = await call('/me', { method: 'DELETE', token: user.accessToken })
        assertEquals(deleted.status, 204)
        const gone = await me()
        assertEquals(gone.status, 401, 'no stale profile after the account is deleted')
        assertEquals((await jsonOf(gone) as Json).error.code, 'session_not_found')
      } finally {
        await bridge?.close()
      }
    },
  })
}

Deno.test({
  name: 'cache e2e[upstash]: Redis killed mid-run: every request still answers correctly from the database',
  ignore: !redisAvailable,
  fn: async () => {
    const bridge = (await startUpstashBridge())!
    try {
      const call = authAppWith({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token })
      const user = await signUp({ full_name: 'Resilient Rita' })
      await (await call('/me', { token: user.accessToken })).body?.cancel()
      assertEquals((await call('/me', { token: user.accessToken })).headers.get('x-cache'), 'hit')

      await bridge.stopRedis()
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) {
        const res = await call('/me', { token: user.accessToken })
        statuses.push(res.status)
        assertEquals(res.headers.get('x-cache'), 'bypass')
        assertEquals((await jsonOf(res) as Json).profile.full_name, i < 3 ? 'Resilient Rita' : 'Rita Offline')
        if (i === 2) {
          const p = await call('/me', { method: 'PATCH', token: user.accessToken, body: JSON.stringify({ full_name: 'Rita Offline' }) })
          assertEquals(p.status, 200)
          await p.body?.cancel()
        }
      }
      assertEquals(statuses, [200, 200, 200, 200, 200])
      const health = await jsonOf(await call('/me', { token: user.accessToken }))
      assert(health.profile)
    } finally {
      await bridge.close()
    }
  },
})

Deno.test({
  name: 'cache e2e[upstash]: a cached read costs one Upstash request (rate-limit check and lookup together)',
  ignore: !redisAvailable,
  fn: async () => {
    const bridge = (await startUpstashBridge())!
    // Counts what reaches Upstash: a proxy in front of the bridge.
    const counter = countingProxy(bridge.url)
    const seen = () => counter.seen.calls.map((c) => `${c.path} ${c.body}`)
    try {
      const call = authAppWith({
        UPSTASH_REDIS_REST_URL: counter.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
      })
      const user = await signUp()
      for (let i = 0; i < 3; i++) await (await call('/me', { token: user.accessToken })).body?.cancel() // warm
      counter.reset()
      const hit = await call('/me', { token: user.accessToken })
      assertEquals(hit.headers.get('x-cache'), 'hit')
      assertEquals(hit.headers.get('x-ratelimit-limit') !== null, true, 'the rate limit was counted')
      await hit.body?.cancel()
      assertEquals(seen().length, 1, `one request to Upstash: ${seen().join(' | ')}`)
      // The lookup reads the profile and the user's version in one command (see Cache.invalidate).
      assert(/evalsha/i.test(seen()[0]) && /"mget"/i.test(seen()[0]), seen()[0])

      // The same for a read that validates a query first (more steps before its lookup).
      const wins = winsAppAt(new Date(), {
        UPSTASH_REDIS_REST_URL: counter.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
      })(user)
      for (let i = 0; i < 3; i++) await wins('summary?period=month')
      counter.reset()
      assertEquals((await wins('summary?period=month')).headers.get('x-cache'), 'hit')
      assertEquals(seen().length, 1, `one request to Upstash: ${seen().join(' | ')}`)
      // A read from the database sends its rate-limit check as it starts waiting on the database.
      counter.reset()
      assertEquals((await wins('expenses?limit=5')).status, 200)
      assertEquals(seen().length, 1, `the rate-limit check: ${seen().join(' | ')}`)
    } finally {
      await counter.close()
      await bridge.close()
    }
  },
})
