// `npm run bench:you`: GET /you/dashboard for a traveller with a year of data
// in every area (3,650 expenses, 5 budgets, 3 vehicles with 240 maintenance
// records, 24 trips, 400 calendar events of which 20 recur, 300
// notifications), through the local gateway (JWT, rate limits, RLS), one
// request at a time: cold (its cached day dropped before each call) and
// cached, p50/p99; then the database round trips of each, counted by the
// delay proxy in front of Postgres (an in-process you app pointed through it).
//
// BENCH_REQUESTS (300) tunes it; BENCH_DATABASE_URL uses a server of yours.
import postgres from 'postgres'
import { createClient } from '@supabase/supabase-js'
import { getConfig, parseConfig } from '../../supabase/functions/_shared/config.ts'
import { CACHE_POLICIES, cacheFor } from '../../supabase/functions/_shared/cache.ts'
import { createYouApp } from '../../supabase/functions/you/index.ts'
import { measure, percentile, printTable, startBenchStack } from './_stack.ts'

const REQUESTS = Number(Deno.env.get('BENCH_REQUESTS') ?? 300)
const WARM_UP = 20

const { stack, stop } = await startBenchStack()
const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })
let proxy: Deno.ChildProcess | undefined

try {
  const client = createClient(stack.url, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } })
  const { data, error } = await client.auth.signUp({ email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`, password: 'bench-password-1' })
  if (error || !data.session) throw error ?? new Error('no session')
  const userId = data.user!.id
  const headers = { authorization: `Bearer ${data.session.access_token}`, apikey: stack.keys.publishableKey }
  await admin`update pam.profiles set preferences = '{"timezone":"Australia/Brisbane","currency":"AUD"}' where id = ${userId}`

  console.log('Inserting a year of data in every area…')
  const t0 = performance.now()
  await admin.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: userId })}, true)`
    await tx`insert into pam.expenses (user_id, amount, currency, category, date, description)
      select ${userId}, round((5 + random() * 120)::numeric, 2), 'AUD',
             (array['fuel', 'food', 'camping', 'maintenance', 'entertainment'])[1 + g % 5], current_date - (g / 10), 'Bench'
      from generate_series(0, 3649) g`
    await tx`insert into pam.budgets (user_id, category, amount, period)
      select ${userId}, c, 500, 'monthly' from unnest(array['fuel', 'food', 'camping', 'maintenance', 'entertainment']) c`
    await tx`insert into pam.vehicles (user_id, name, current_odometer) select ${userId}, 'Rig ' || g, 0 from generate_series(1, 3) g`
    await tx`insert into pam.maintenance_records (user_id, vehicle_id, task, date, interval_days)
      select ${userId}, v.id, 'Task ' || (g % 20), current_date - (g * 3), 75
      from generate_series(1, 80) g cross join (select id from pam.vehicles where user_id = ${userId}) v`
    await tx`insert into pam.trips (user_id, name, status, start_date, end_date)
      select ${userId}, 'Trip ' || g, case when g < 23 then 'completed' else 'planned' end,
             current_date - 350 + g * 15, current_date - 345 + g * 15
      from generate_series(1, 24) g`
    await tx`insert into pam.calendar_events (user_id, title, time_zone, starts_at, ends_at, reminders, recurrence, recurrence_ends)
      select ${userId}, 'Event ' || g, 'Australia/Brisbane', now() - interval '300 days' + g * interval '1 day',
             now() - interval '300 days' + g * interval '1 day' + interval '1 hour', '{60}',
             case when g <= 20 then 'FREQ=WEEKLY' end, case when g <= 20 then null else (current_date - 300 + g) end
      from generate_series(1, 400) g`
    await tx`insert into pam.notifications (user_id, kind, title, read_at)
      select ${userId}, 'social', 'Bench ' || g, case when g % 3 = 0 then null else now() end from generate_series(1, 300) g`
  })
  await admin`vacuum analyze pam.expenses, pam.budgets, pam.vehicles, pam.maintenance_records, pam.trips, pam.calendar_events, pam.notifications`
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  // ---- through the gateway ----------------------------------------------------------
  const url = `${stack.url}/functions/v1/you/dashboard`
  // The gateway's functions run in this process: their cache is this one.
  const cache = cacheFor(getConfig())
  const key = CACHE_POLICIES.dashboard.key(userId)
  const get = async (expect: string) => {
    const res = await fetch(url, { headers })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`dashboard: ${res.status} ${text.slice(0, 300)}`)
    if (res.headers.get('x-cache') !== expect) throw new Error(`dashboard: x-cache ${res.headers.get('x-cache')}, expected ${expect}`)
    return JSON.parse(text)
  }
  const cold = async () => {
    await cache.del(key)
    const t = performance.now()
    await get('miss')
    return performance.now() - t
  }
  for (let i = 0; i < WARM_UP; i++) await cold()
  const coldTimes: number[] = []
  for (let i = 0; i < REQUESTS; i++) coldTimes.push(await cold())
  await get('hit') // the last cold call cached it
  await measure(WARM_UP, 1, () => get('hit').then(() => {}))
  const cachedTimes = (await measure(REQUESTS, 1, () => get('hit').then(() => {}))).latencies
  const sample = await get('hit')

  // ---- round trips, counted by the delay proxy -------------------------------------------
  const db = new URL(stack.databaseUrl)
  proxy = new Deno.Command('node', {
    args: [new URL('./delay-proxy.mjs', import.meta.url).pathname, `${db.hostname}:${db.port}`, '0'],
    stdout: 'piped',
    stderr: 'inherit',
  }).spawn()
  const reader = proxy.stdout.pipeThrough(new TextDecoderStream()).getReader()
  const ports = JSON.parse((await reader.read()).value!.split('\n')[0]) as { port: number; stats: number }
  reader.releaseLock()
  db.port = String(ports.port)
  const app = createYouApp(parseConfig({ ...Deno.env.toObject(), PAM_DB_URL: db.toString(), PAM_CACHE_PREFIX: 'benchyou:' }))
  const trips = async (reset = false) =>
    ((await (await fetch(`http://127.0.0.1:${ports.stats}/`, { method: reset ? 'POST' : 'GET' })).json()) as { round_trips: number })
      .round_trips
  const call = async () => {
    const res = await app.fetch(new Request('http://local/you/dashboard', { headers }))
    await res.text()
    return res.headers.get('x-cache')
  }
  const appCache = cacheFor(parseConfig({ ...Deno.env.toObject(), PAM_CACHE_PREFIX: 'benchyou:' }))
  await appCache.del(key)
  await call() // opens the pool's connections
  await appCache.del(key)
  await trips(true)
  const coldStatus = await call()
  const coldTrips = await trips()
  await trips(true)
  const cachedStatus = await call()
  const cachedTrips = await trips()

  console.log(
    `\nThrough the local gateway (JWT, rate limits, RLS), one request at a time, real Postgres; the home screen showed ` +
      `${sample.events.today.length + sample.events.tomorrow.length} events, ${sample.maintenance_due.length} due items, ` +
      `${sample.budgets.length} budgets, ${sample.unread_notifications} unread:`,
  )
  printTable([
    {
      request: 'GET /you/dashboard, cold (cached day dropped)',
      requests: coldTimes.length,
      'p50 ms': percentile(coldTimes, 50).toFixed(2),
      'p99 ms': percentile(coldTimes, 99).toFixed(2),
      'db round trips': `${coldTrips} (${coldStatus})`,
    },
    {
      request: 'GET /you/dashboard, cached',
      requests: cachedTimes.length,
      'p50 ms': percentile(cachedTimes, 50).toFixed(2),
      'p99 ms': percentile(cachedTimes, 99).toFixed(2),
      'db round trips': `${cachedTrips} (${cachedStatus})`,
    },
  ])
} finally {
  try {
    proxy?.kill()
  } catch { /* gone */ }
  await admin.end({ timeout: 1 })
  await stop()
}
