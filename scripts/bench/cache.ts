// `npm run bench:cache`: GET /auth/me (user:{id}, 1 h) with the cache cold,
// warm and disabled, in one run, on Upstash-over-Redis when a redis-server is
// available (else the in-process cache) and on the in-process cache.
import { createClient } from '@supabase/supabase-js'
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { cacheFor, CACHE_POLICIES } from '../../supabase/functions/_shared/cache.ts'
import { createAuthApp } from '../../supabase/functions/auth/index.ts'
import { startPrivateRedis } from '../local/redis.ts'
import { createRedisBridge } from '../local/redis-bridge.ts'
import { measure, percentile, printTable, startBenchStack } from './_stack.ts'

const USERS = Number(Deno.env.get('BENCH_USERS') ?? 50)
const REQUESTS = Number(Deno.env.get('BENCH_REQUESTS') ?? 2000)
const CONCURRENCY = Number(Deno.env.get('BENCH_CONCURRENCY') ?? 8)

const { stack, stop } = await startBenchStack()
const redis = await startPrivateRedis()
const bridgeToken = crypto.randomUUID()
const bridge = redis ? createRedisBridge({ redisUrl: redis.url, token: bridgeToken }) : null
const bridgeServer = bridge ? Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, bridge.handler) : null

try {
  console.log(`Signing up ${USERS} users…`)
  const tokens: { id: string; token: string }[] = []
  for (let i = 0; i < USERS; i++) {
    const c = createClient(stack.url, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } })
    const { data, error } = await c.auth.signUp({ email: `bench-${i}-${crypto.randomUUID().slice(0, 6)}@example.com`, password: 'bench-password-1', options: { data: { full_name: `Bench ${i}` } } })
    if (error) throw error
    tokens.push({ id: data.user!.id, token: data.session!.access_token })
  }

  const backends: [string, Record<string, string>][] = [
    ['memory', {}],
    ...(bridgeServer ? [['upstash (local Redis)', { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${bridgeServer.addr.port}`, UPSTASH_REDIS_REST_TOKEN: bridgeToken }]] as [string, Record<string, string>][] : []),
    ['disabled', { PAM_CACHE_ENABLED: 'false' }],
  ]
  const rows: Record<string, string | number>[] = []
  for (const [name, env] of backends) {
    const config = parseConfig({ ...Deno.env.toObject(), ...env, PAM_CACHE_PREFIX: `bench${rows.length}:` })
    const app = createAuthApp(config)
    const cache = cacheFor(config)
    const call = async (i: number, expect?: string) => {
      const u = tokens[i % tokens.length]
      const res = await app.fetch(new Request('http://local/auth/me', { headers: { authorization: `Bearer ${u.token}`, apikey: stack.keys.publishableKey } }))
      if (res.status !== 200) throw new Error(`status ${res.status}`)
      if (expect && res.headers.get('x-cache') !== expect) throw new Error(`expected ${expect}, got ${res.headers.get('x-cache')}`)
      await res.body?.cancel()
    }
    const scenarios: [string, (i: number) => Promise<void>][] = name === 'disabled'
      ? [['disabled', (i) => call(i)]]
      : [
        // Cold: the key is dropped just before each read, so every read goes to Postgres and refills.
        ['cold', async (i) => {
          await cache.del(CACHE_POLICIES.user_profiles.key(tokens[i % tokens.length].id))
          await call(i)
        }],
        ['warm', (i) => call(i, 'hit')],
      ]
    for (const [scenario, fn] of scenarios) {
      await measure(200, CONCURRENCY, fn) // warm-up: JIT, pools, keys
      const { latencies, seconds } = await measure(REQUESTS, CONCURRENCY, fn)
      rows.push({
        cache: name === 'disabled' ? 'none' : name,
        scenario,
        requests: REQUESTS,
        'req/s': Math.round(REQUESTS / seconds),
        'p50 ms': percentile(latencies, 50).toFixed(2),
        'p99 ms': percentile(latencies, 99).toFixed(2),
      })
    }
  }
  console.log(`\nGET /auth/me, ${CONCURRENCY} in flight, ${USERS} users (in-process function, real Postgres${bridge ? ', real Redis' : ''})`)
  printTable(rows)
  if (!bridge) console.log('\n(no redis-server on this machine: the Upstash path was not measured)')
} finally {
  await bridgeServer?.shutdown()
  await bridge?.close()
  await redis?.stop()
  await stop()
}
