// `npm run bench:jobs`: the daily-analytics job over generated travellers, each
// with 100 expenses and 100 fill-ups (with odometer readings) over 100 days
// and a budget: first 1,000 users, then 10,000. The scheduled call goes
// through the stack's jobs function, fans out through the local QStash into
// batches of PAM_JOBS_BATCH_USERS (1,000) users, and is timed until every
// batch is done. Prints the wall time, rows written, each batch's time (the
// figure that must stay well under a hosted function's 150 s) and the ratios
// that show the scaling. BENCH_USERS (e.g. "1000,10000") and
// BENCH_DATABASE_URL tune it.
//
// Then the event-reminders job over BENCH_EVENTS (5,000) recurring events of
// BENCH_EVENT_USERS (2,500) travellers: daily, weekly and monthly rules (some
// with COUNT or UNTIL) begun from 20 days to 6 years before, in 8 zones, with
// reminders up to 28 days. Runs at three instants, each planned in batches of
// BENCH_EVENT_BATCHES users ("all,1000": first the whole run in one batch, then
// batches of 1,000), timed through the stack's jobs function and the local
// QStash. Prints each run's wall time and the CPU the process running the
// stack (the function, the local QStash) spent on it, in all and per batch:
// per batch is the figure a hosted invocation's 2 s of CPU bounds. Before the
// fix the run was one invocation expanding each event over up to 28 days from
// its first day (see the README's performance notes for both figures).
// BENCH_JOBS ("daily-analytics,event-reminders") picks the parts to run.
import postgres from 'postgres'
import process from 'node:process'
import { signQStash } from '../local/qstash-signing.ts'
import { printTable, startBenchStack } from './_stack.ts'
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { instantOf } from '../../supabase/functions/_shared/timezone.ts'
import { createJobsApp } from '../../supabase/functions/jobs/index.ts'
import { lastDay, wall } from '../../supabase/functions/you/recurrence.ts'

const JOBS = (Deno.env.get('BENCH_JOBS') ?? 'daily-analytics,event-reminders').split(',')
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

/** `job`'s scheduled call at `at`, signed as QStash signs it, sent through `send` (the gateway, or an app
 * in this process); resolves when every batch it published is done. */
async function scheduledCall(job: string, at: string, send: (req: Request) => Promise<Response>) {
  const url = `${stack.url}/functions/v1/jobs/${job}`
  const body = JSON.stringify({ at })
  const res = await send(new Request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'upstash-signature': await signQStash({ key: stack.qstash.keys.currentSigningKey, url, body }),
    },
    body,
  }))
  if (!res.ok) throw new Error(`the scheduled call failed: ${res.status} ${await res.text()}`)
  await res.body?.cancel()
  await stack.qstash.local.idle()
}

/** The scheduled call, signed as QStash signs it; resolves when every batch it published is done. */
async function runDailyAnalytics(at: string) {
  const t0 = performance.now()
  await scheduledCall('daily-analytics', at, fetch)
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

async function benchDailyAnalytics() {
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
}

// ---- event-reminders ----

const EVENTS = Number(Deno.env.get('BENCH_EVENTS') ?? 5000)
const EVENT_USERS = Number(Deno.env.get('BENCH_EVENT_USERS') ?? 2500)
const EVENT_BATCHES = (Deno.env.get('BENCH_EVENT_BATCHES') ?? 'all,1000').split(',')
const RULES = ['FREQ=DAILY', 'FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=MONTHLY', 'FREQ=WEEKLY;INTERVAL=2', 'FREQ=DAILY;COUNT=999',
  'FREQ=WEEKLY;COUNT=200', 'FREQ=MONTHLY;UNTIL=20351231', 'FREQ=DAILY;INTERVAL=3']
const ZONES = ['Australia/Sydney', 'Australia/Perth', 'Pacific/Auckland', 'America/Los_Angeles', 'America/New_York', 'Europe/London',
  'Europe/Paris', 'UTC']
const REMINDERS = [[40320], [10080, 1440], [60], [1440, 60, 15], [40320, 1440, 60]]
/** Days before the first run that events begin: 6 years, 2 years, 3 months, 20 days. */
const BEGUN_DAYS = [6 * 365, 2 * 365, 91, 20]
const FIRST_RUN = '2031-06-15T10:00:00Z'

/** `EVENTS` recurring events with reminders for `EVENT_USERS` new travellers. */
async function generateEvents(): Promise<number> {
  const t0 = performance.now()
  await admin`
    insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data)
    select gen_random_uuid(), 'bench-ev-' || g || '@example.com', '{"provider":"email"}', '{}'
    from generate_series(1, ${EVENT_USERS}) g`
  const users = (await admin`select id from auth.users where email like 'bench-ev-%' order by id`).map((u) => u.id as string)
  const rows = Array.from({ length: EVENTS }, (_, g) => {
    const time_zone = ZONES[g % ZONES.length]
    const recurrence = RULES[Math.floor(g / 3) % RULES.length]
    const begun = BEGUN_DAYS[Math.floor(g / 8) % BEGUN_DAYS.length] + (g % 28)
    const day = new Date(Date.parse(FIRST_RUN) - begun * 86_400_000).toISOString().slice(0, 10)
    // On the half hour, from 06:00 to 21:30.
    const half = Math.floor(g / 7) % 32
    const local = `${day}T${String(6 + Math.floor(half / 2)).padStart(2, '0')}:${half % 2 ? '30' : '00'}`
    const starts_at = instantOf(wall(local), time_zone)
    const ends_at = new Date(starts_at.getTime() + 3_600_000)
    const ends = lastDay({ all_day: false, time_zone, starts_at, ends_at, recurrence })
    return {
      user_id: users[g % users.length],
      title: `Bench event ${g}`,
      time_zone,
      starts_at,
      ends_at,
      recurrence,
      recurrence_ends: ends,
      reminders: REMINDERS[g % REMINDERS.length],
    }
  })
  for (let i = 0; i < rows.length; i += 1000) {
    await admin`insert into pam.calendar_events ${admin(rows.slice(i, i + 1000) as never, 'user_id', 'title', 'time_zone', 'starts_at',
      'ends_at', 'recurrence', 'recurrence_ends', 'reminders')}`
  }
  await admin`analyze pam.calendar_events`
  return (performance.now() - t0) / 1000
}

/** CPU seconds this process (the stack, its functions and the local QStash) has used. */
const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** A scheduled event-reminders call at `at`, planned in batches of `batchUsers` by an app as deployed; resolves when
 * every batch is done. */
async function runEventReminders(at: string, batchUsers: number) {
  const app = createJobsApp(parseConfig({ ...Deno.env.toObject(), PAM_JOBS_BATCH_USERS: String(batchUsers) }))
  const cpu0 = cpuSeconds()
  const t0 = performance.now()
  await scheduledCall('event-reminders', at, (req) => Promise.resolve(app.fetch(req)))
  const wall = (performance.now() - t0) / 1000
  const cpu = cpuSeconds() - cpu0
  // The runs that did the work: the batches (the plan, which has the ranges, does none); before the
  // fan-out, the one run of the slot.
  const slot = `slot-${at.slice(11, 13)}${at.slice(14, 16)}`
  const runs = await admin`
    select status, error, notifications, extract(epoch from finished_at - started_at) * 1000 as ms
    from pam.job_runs where job = 'event-reminders' and period = ${at.slice(0, 10)}::date
      and (batch = ${slot} or batch like ${slot + '.%'}) and plan is null`
  const failed = runs.filter((r) => r.status !== 'done')
  if (failed.length || !runs.length) throw new Error(`runs not done: ${JSON.stringify(runs)}`)
  return {
    wall,
    cpu,
    batches: runs.length,
    notifications: runs.reduce((a, r) => a + r.notifications, 0),
    batchMax: Math.max(...runs.map((r) => Number(r.ms))),
  }
}

async function benchEventReminders() {
  console.log(`Generating ${EVENTS.toLocaleString('en')} recurring events for ${EVENT_USERS.toLocaleString('en')} travellers…`)
  console.log(`  done in ${(await generateEvents()).toFixed(1)} s`)
  const [{ users }] = await admin`select count(*)::int as users from pam.profiles`
  const rows: Record<string, string | number>[] = []
  for (const [i, size] of EVENT_BATCHES.entries()) {
    const batchUsers = size === 'all' ? 100_000 : Number(size)
    // The same time of day on consecutive days: as much to expand each time.
    const at = new Date(Date.parse(FIRST_RUN) + i * 86_400_000).toISOString().replace('.000', '')
    const r = await runEventReminders(at, batchUsers)
    rows.push({
      'batch users': size === 'all' ? `all (${users.toLocaleString('en')})` : batchUsers.toLocaleString('en'),
      batches: r.batches,
      'wall s': r.wall.toFixed(2),
      'CPU s': r.cpu.toFixed(2),
      'CPU per batch ms': (r.cpu / r.batches * 1000).toFixed(0),
      'batch max ms': r.batchMax.toFixed(0),
      notifications: r.notifications.toLocaleString('en'),
    })
  }
  console.log(`\nevent-reminders over ${EVENTS.toLocaleString('en')} recurring events (CPU: the process running the stack, all batches)`)
  printTable(rows)
}

try {
  if (JOBS.includes('daily-analytics')) await benchDailyAnalytics()
  if (JOBS.includes('event-reminders')) await benchEventReminders()
} finally {
  await admin.end()
  await stop()
}
