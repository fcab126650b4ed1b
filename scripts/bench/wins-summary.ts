// `deno run -A scripts/bench/wins-summary.ts`: GET /wins/summary for a user
// with 100,000 expenses spread over two years, uncached (the user's cached
// summaries dropped before each timed call) and cached, p50/p99, on the
// in-process cache and on Upstash-over-Redis (when redis-server is installed);
// then EXPLAIN (ANALYZE) of the summary query, run as the user under RLS.
// BENCH_EXPENSES and BENCH_REQUESTS tune it; BENCH_DATABASE_URL uses a server of yours.
import postgres from 'postgres'
import { createClient } from '@supabase/supabase-js'
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { CACHE_POLICIES, cacheFor } from '../../supabase/functions/_shared/cache.ts'
import { database, postgresClient } from '../../supabase/functions/_shared/db.ts'
import { createWinsApp } from '../../supabase/functions/wins/index.ts'
import { SUMMARY_SQL } from '../../supabase/functions/wins/summary.ts'
import { periodOf, previousPeriodOf } from '../../supabase/functions/wins/periods.ts'
import { startPrivateRedis } from '../local/redis.ts'
import { createRedisBridge } from '../local/redis-bridge.ts'
import { explainAsUser, measure, percentile, printTable, startBenchStack } from './_stack.ts'

const EXPENSES = Number(Deno.env.get('BENCH_EXPENSES') ?? 100_000)
const REQUESTS = Number(Deno.env.get('BENCH_REQUESTS') ?? 300)

const { stack, stop } = await startBenchStack()
const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })
const redis = await startPrivateRedis()
const bridgeToken = crypto.randomUUID()
const bridge = redis ? createRedisBridge({ redisUrl: redis.url, token: bridgeToken }) : null
const bridgeServer = bridge ? Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, bridge.handler) : null

try {
  const client = createClient(stack.url, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } })
  const { data, error } = await client.auth.signUp({
    email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`,
    password: 'bench-password-1',
  })
  if (error || !data.session) throw error ?? new Error('no session')
  const userId = data.user!.id
  const headers = { authorization: `Bearer ${data.session.access_token}`, apikey: stack.keys.publishableKey }
  await admin`update pam.profiles set preferences = '{"timezone":"Australia/Brisbane","currency":"AUD"}' where id = ${userId}`

  console.log(`Inserting ${EXPENSES.toLocaleString('en')} expenses over 2025-2026…`)
  const t0 = performance.now()
  await admin`
    insert into pam.expenses (user_id, amount, currency, category, category_source, description, merchant, location, date, created_at)
    select ${userId},
           ((g * 7919) % 20000 + 100) / 100.0,
           'AUD',
           (pam.wins_builtin_categories())[1 + g % 13],
           'user',
           'expense ' || g,
           (array['Shell', 'BP', 'Coles', 'Woolworths', 'KOA', 'BIG4', 'Repco', 'Telstra', 'Aldi', 'Caltex', 'IGA', 'Ampol'])[1 + g % 12],
           (array['Roma', 'Alice Springs', 'Broome', 'Cairns', 'Hobart', 'Mildura', 'Esperance'])[1 + g % 7],
           date '2025-01-01' + (g % 730),
           now() - make_interval(secs => g)
    from generate_series(1, ${EXPENSES}) g`
  await admin`
    insert into pam.income (user_id, amount, currency, source, date)
    select ${userId}, 100 + (g % 900), 'AUD', 'work', date '2025-01-01' + (g % 730) from generate_series(1, 2000) g`
  await admin`analyze pam.expenses`
  await admin`analyze pam.income`
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const months = Array.from({ length: 24 }, (_, i) => `${2025 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}-15`)
  const monthOf = (i: number) => `period=month&date=${months[i % months.length]}`
  const yearOf = (i: number) => `period=year&date=${2025 + (i % 2)}-06-01`
  const summaries = CACHE_POLICIES.expense_summaries.hash(userId)

  const backends: [string, Record<string, string>][] = [
    ['in-process', {}],
    ...(bridgeServer
      ? [['upstash (local Redis)', {
        UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${bridgeServer.addr.port}`,
        UPSTASH_REDIS_REST_TOKEN: bridgeToken,
      }]] as [string, Record<string, string>][]
      : []),
  ]
  const rows: Record<string, string | number>[] = []
  for (const [name, env] of backends) {
    const config = parseConfig({ ...Deno.env.toObject(), ...env, PAM_CACHE_PREFIX: `benchwins${rows.length}:` })
    const app = createWinsApp(config)
    const cache = cacheFor(config)
    const summary = async (query: string, expect?: string) => {
      const res = await app.fetch(new Request(`http://local/wins/summary?${query}`, { headers }))
      if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`)
      if (expect && res.headers.get('x-cache') !== expect) throw new Error(`expected ${expect}, got ${res.headers.get('x-cache')}`)
      return await res.json()
    }
    if (!rows.length) {
      const july = await summary('period=month&date=2025-07-15')
      console.log(`  July 2025: ${july.expense_count} expenses, ${july.expenses} AUD (June: ${july.previous.expenses} AUD)`)
    }
    const report = (scenario: string, latencies: number[]) =>
      rows.push({
        cache: name,
        scenario,
        requests: latencies.length,
        'p50 ms': percentile(latencies, 50).toFixed(2),
        'p99 ms': percentile(latencies, 99).toFixed(2),
        'mean ms': (latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(2),
      })
    // Uncached: the user's cached summaries are dropped before each call; only the request is timed.
    const uncached = async (total: number, query: (i: number) => string) => {
      const latencies: number[] = []
      for (let i = 0; i < total; i++) {
        await cache.del(summaries)
        const t = performance.now()
        await summary(query(i), 'miss')
        latencies.push(performance.now() - t)
      }
      return latencies
    }
    await uncached(20, monthOf) // warm-up: JIT, pools, plans
    report('month, uncached', await uncached(REQUESTS, monthOf))
    if (name === 'in-process') report('year, uncached', await uncached(Math.max(20, Math.floor(REQUESTS / 6)), yearOf))
    await summary('period=month&date=2025-07-15')
    const cached = () => summary('period=month&date=2025-07-15', 'hit').then(() => {})
    await measure(50, 1, cached)
    report('month, cached', (await measure(REQUESTS * 3, 1, cached)).latencies)
  }

  console.log(
    `\nGET /wins/summary, one request at a time, in-process function, real Postgres${bridge ? ' and Redis' : ''}, ` +
      `${EXPENSES.toLocaleString('en')} expenses (a month is ~${Math.round(EXPENSES / 24).toLocaleString('en')} rows, ` +
      `read with the previous one)`,
  )
  printTable(rows)
  if (!bridge) console.log('\n(no redis-server on this machine: the Upstash path was not measured)')

  const cur = periodOf('month', '2025-07-15')
  const prev = previousPeriodOf('month', '2025-07-15')
  const userDb = database({ url: stack.databaseUrl, poolMax: 1, statementTimeoutMs: 60_000, acquireTimeoutMs: 5000 })
  const asUser = postgresClient(userDb, { sub: userId, role: 'authenticated', aud: 'authenticated' })
  const plan = await explainAsUser(asUser, 'analyze, buffers, costs off', SUMMARY_SQL, [prev.start, cur.start, cur.end, 'AUD'])
  await userDb.end()
  console.log('\nEXPLAIN (ANALYZE, BUFFERS) of the summary query for July 2025 (with June), as the user under RLS:')
  for (const line of plan) console.log(`  ${line}`)
} finally {
  await bridgeServer?.shutdown()
  await bridge?.close()
  await redis?.stop()
  await admin.end({ timeout: 1 })
  await stop()
}
