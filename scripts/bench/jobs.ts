// `npm run bench:jobs`: the daily-analytics job over generated travellers, each
// with 100 expenses and 100 fill-ups (with odometer readings) over 100 days
// and a budget: first 1,000 users, then 10,000. The scheduled call goes
// through the stack's jobs function, fans out through the local QStash into
// batches of PAM_JOBS_BATCH_USERS (1,000) users, and is timed until every
// batch is done. Prints the wall time, rows written, each batch's time (the
// figure that must stay well under a hosted function's 150 s) and the ratios
// that show the scaling. BENCH_USERS (e.g. "1000,10000") and
// BENCH_DATABASE_URL tune it.
import postgres from 'postgres'
import { signQStash } from '../local/qstash-signing.ts'
import { printTable, startBenchStack } from './_stack.ts'

const SCALES = (Deno.env.get('BENCH_USERS') ?? '1000,10000').split(',').map(Number)
const PER_USER = 100
/** Expenses fall on the 100 days up to this one; each run reports on one of the last two. */
const LAST_DAY = '2030-06-15'

const { stack, stop } = await startBenchStack()
const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })

/** Adds `n` travellers with their vehicle, budget, expenses and fill-ups; set-based inserts. */
async function generate(n: number, tag: string): Promise<number> {
  const t0 = performance.now()
  await admin`
    insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data)
    select gen_random_uuid(), 'bench-' || ${tag} || '-' || g || '@example.com', '{"provider":"email"}', '{}'
    from generate_series(1, ${n}) g`
  await admin.begin(async (sql) => {
    // Generated rows need none of the per-row checks (categories, odometer order): they are made valid.
    await sql`set local session_replication_role = replica`
    await sql`
      create temporary table new_users on commit drop as
      select id from auth.users where email like ${`bench-${tag}-%`}`
    await sql`
      insert into pam.vehicles (user_id, name, current_odometer)
      select id, 'Bench rig', 10000 + ${PER_USER} * 150 from new_users`
    await sql`
      insert into pam.budgets (user_id, category, period, amount, start_date)
      select id, 'food', 'monthly', 400, '2030-01-01' from new_users`
    await sql`
      insert into pam.expenses (user_id, amount, currency, category, category_source, description, date)
      select u.id, 5 + (g * 37 % 9000) / 100.0, 'AUD', (pam.wins_builtin_categories())[1 + g % 13], 'user',
             'bench ' || g, ${LAST_DAY}::date - (${PER_USER - 1} - g)
      from new_users u cross join generate_series(0, ${PER_USER - 1}) g`
    await sql`
      insert into pam.expenses (user_id, amount, currency, category, category_source, date, vehicle_id, odometer,
                                fuel_type, fuel_volume, fuel_full_tank)
      select u.id, 60 + g % 40, 'AUD', 'fuel', 'user', ${LAST_DAY}::date - (${PER_USER - 1} - g), v.id,
             10000 + g * 150, 'diesel', 40 + g % 30, true
      from new_users u join pam.vehicles v on v.user_id = u.id cross join generate_series(0, ${PER_USER - 1}) g`
  })
  await admin`analyze`
  return (performance.now() - t0) / 1000
}

/** The scheduled call, signed as QStash signs it; resolves when every batch it published is done. */
async function runDailyAnalytics(at: string) {
  const url = `${stack.url}/functions/v1/jobs/daily-analytics`
  const body = JSON.stringify({ at })
  const t0 = performance.now()
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'upstash-signature': await signQStash({ key: stack.qstash.keys.currentSigningKey, url, body }),
    },
    body,
  })
  if (!res.ok) throw new Error(`the scheduled call failed: ${res.status} ${await res.text()}`)
  await res.body?.cancel()
  await stack.qstash.local.idle()
  const wall = (performance.now() - t0) / 1000
  const runs = await admin`
    select batch, status, error, rows_written, notifications,
           extract(epoch from finished_at - started_at) * 1000 as ms
    from pam.job_runs where job = 'daily-analytics' and period = ${at.slice(0, 10)}::date and batch <> 'plan'`
  const failed = runs.filter((r) => r.status !== 'done')
  if (failed.length) throw new Error(`batches not done: ${JSON.stringify(failed)}`)
  const ms = runs.map((r) => Number(r.ms))
  return {
    wall,
    batches: runs.length,
    reports: runs.reduce((a, r) => a + r.rows_written, 0),
    notifications: runs.reduce((a, r) => a + r.notifications, 0),
    batchSum: ms.reduce((a, b) => a + b, 0) / 1000,
    batchMean: ms.reduce((a, b) => a + b, 0) / ms.length,
    batchMax: Math.max(...ms),
  }
}

try {
  const rows: Record<string, string | number>[] = []
  const results: { users: number; batchSum: number; wall: number }[] = []
  let users = 0
  for (const [i, scale] of SCALES.entries()) {
    console.log(`Generating ${(scale - users).toLocaleString('en')} more travellers × ${PER_USER} expenses and ${PER_USER} fill-ups…`)
    const seconds = await generate(scale - users, String(i))
    users = scale
    console.log(`  done in ${seconds.toFixed(1)} s`)
    // 02:00 UTC, the schedule's time; each run reports on the day before its own (a period of its own).
    const at = `${i === 0 ? '2030-06-15' : '2030-06-16'}T02:00:00Z`
    const r = await runDailyAnalytics(at)
    results.push({ users, batchSum: r.batchSum, wall: r.wall })
    rows.push({
      users: users.toLocaleString('en'),
      'expense rows': (users * PER_USER * 2).toLocaleString('en'),
      batches: r.batches,
      'wall s': r.wall.toFixed(2),
      'rows written': `${(r.reports + r.notifications).toLocaleString('en')} (${r.reports.toLocaleString('en')} reports)`,
      'batch mean ms': r.batchMean.toFixed(0),
      'batch max ms': r.batchMax.toFixed(0),
      'batches total s': r.batchSum.toFixed(2),
    })
  }
  console.log('\ndaily-analytics, fanned out through the local QStash (flow control: 2 batches at a time)')
  printTable(rows)
  for (let i = 1; i < results.length; i++) {
    const a = results[i - 1]
    const b = results[i]
    console.log(
      `\n${b.users.toLocaleString('en')} vs ${a.users.toLocaleString('en')} users: ${(b.users / a.users).toFixed(1)}× the data, ` +
        `${(b.batchSum / a.batchSum).toFixed(1)}× the batch time, ${(b.wall / a.wall).toFixed(1)}× the wall time ` +
        `(linear: the same factor; per user ${(a.batchSum / a.users * 1000).toFixed(2)} ms → ${(b.batchSum / b.users * 1000).toFixed(2)} ms)`,
    )
  }
} finally {
  await admin.end()
  await stop()
}
