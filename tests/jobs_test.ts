// The jobs, run for real through the gateway with QStash-signed calls: the
// daily report's contents, reminders and alerts exactly at their thresholds,
// each once per period, a batch failing midway and retried, cleanup, and the
// fan-out of a scheduled call into batches delivered by the local QStash.
import { assert, assertEquals, type Json } from './_support/assert.ts'
import { adminSql, stack } from './_support/stack.ts'
import { batchOf, callJob, functionAsId, jobUrl, runsOf, usersInOwnRange } from './_support/jobs.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'
import { createJobsApp } from '../supabase/functions/jobs/index.ts'
import { signQStash } from '../scripts/local/qstash-signing.ts'

const notificationsOf = (ids: string[], kind: string) =>
  adminSql`select user_id, title, body, data, dedupe_key from pam.notifications
           where user_id = any(${ids}::uuid[]) and kind = ${kind} order by user_id, dedupe_key`

async function expense(userId: string, row: Record<string, unknown>) {
  await adminSql`insert into pam.expenses ${adminSql({ user_id: userId, currency: 'AUD', ...row } as never)}`
}

Deno.test('daily-analytics: each traveller gets a report of their last full local day, once', async () => {
  const users = await usersInOwnRange(3)
  const [brisbane, la, idle] = users.ids
  await adminSql`update pam.profiles set preferences = '{"timezone":"Australia/Brisbane","currency":"AUD"}' where id = ${brisbane}`
  await adminSql`update pam.profiles set preferences = '{"timezone":"America/Los_Angeles","currency":"USD"}' where id = ${la}`
  const [v] = await adminSql`insert into pam.vehicles (user_id, name) values (${brisbane}, 'Troopy') returning id`
  await expense(brisbane, { amount: '60.00', category: 'fuel', date: '2031-06-13', vehicle_id: v.id, odometer: 10_000, fuel_volume: 40 })
  await expense(brisbane, { amount: '80.00', category: 'fuel', date: '2031-06-14', vehicle_id: v.id, odometer: 10_120, fuel_volume: 50 })
  await expense(brisbane, { amount: '20.50', category: 'food', date: '2031-06-14' })
  await expense(brisbane, { amount: '9.50', category: 'food', date: '2031-06-14' })
  await expense(brisbane, { amount: '10.00', category: 'other', date: '2031-06-14', currency: 'USD' })
  await expense(brisbane, { amount: '30.00', category: 'camping', date: '2031-06-15' }) // today in Brisbane: not yet
  await adminSql`insert into pam.budgets (user_id, category, period, amount, start_date)
                 values (${brisbane}, 'food', 'monthly', 100, '2031-01-01')`
  await expense(la, { amount: '5.00', category: 'food', date: '2031-06-13', currency: 'USD' })
  await expense(la, { amount: '7.00', category: 'food', date: '2031-06-14', currency: 'USD' }) // LA's today

  // 02:00 UTC on 15 June: noon in Brisbane (yesterday: the 14th), 19:00 on the 14th in Los Angeles (yesterday: the 13th).
  const message = batchOf(users, '2031-06-15T02:00:00Z')
  const first = await callJob('daily-analytics', message)
  assertEquals(first.status, 200, JSON.stringify(first.body))
  assertEquals([first.body.status, first.body.rows_written, first.body.notifications], ['done', 2, 2])

  const reports = await adminSql`select user_id, date::text as date from pam.daily_reports where user_id = any(${users.ids}::uuid[]) order by date`
  assertEquals(reports.map((r) => [r.user_id, r.date]), [[la, '2031-06-13'], [brisbane, '2031-06-14']])
  assert(!reports.some((r) => r.user_id === idle), 'nothing recorded: no report')

  const asBrisbane = await functionAsId('wins', brisbane)
  const got = await asBrisbane('reports?date=2031-06-14')
  assertEquals(got.status, 200, JSON.stringify(got.body))
  const { id: _id, created_at: _at, ...report } = got.body.report
  assertEquals(report, {
    date: '2031-06-14',
    currency: 'AUD',
    total_spent: '110.00',
    expense_count: 4,
    spend_by_category: [
      { category: 'fuel', currency: 'AUD', amount: '80.00', count: 1 },
      { category: 'food', currency: 'AUD', amount: '30.00', count: 2 },
      { category: 'other', currency: 'USD', amount: '10.00', count: 1 },
    ],
    budgets: [{
      budget_id: report.budgets[0].budget_id,
      category: 'food',
      period: 'monthly',
      period_start: '2031-06-01',
      period_end: '2031-06-30',
      spent: '30.00',
      available: '100.00',
      percent: 30,
      status: 'ok',
    }],
    distance_km: '120.0',
    fill_ups: 1,
    fuel_volume: '50.00',
    fuel_cost: '80.00',
  })
  assertEquals((await asBrisbane('reports')).body.report.date, '2031-06-14', 'no date: the latest')
  assertEquals((await asBrisbane('reports?date=2031-06-13')).status, 404)
  const asLa = await functionAsId('wins', la)
  assertEquals((await asLa('reports?date=2031-06-14')).status, 404, "another traveller's report is not there")
  assertEquals((await asLa('reports')).body.report.total_spent, '5.00')

  const sent = await notificationsOf(users.ids, 'report_ready')
  assertEquals(sent.map((n) => [n.user_id, n.dedupe_key]), [[brisbane, 'report:2031-06-14'], [la, 'report:2031-06-13']].sort())
  assertEquals(sent.find((n) => n.user_id === brisbane)!.body, 'You spent 110.00 AUD in 4 expenses and drove 120.0 km.')

  // QStash delivers at least once: the same message again does nothing.
  const again = await callJob('daily-analytics', message)
  assertEquals([again.status, again.body.status, again.body.rows_written], [200, 'skipped', 0])
  assertEquals((await notificationsOf(users.ids, 'report_ready')).length, 2)
  const [run] = await adminSql`select status, attempts, rows_written, notifications from pam.job_runs
    where job = 'daily-analytics' and period = '2031-06-15' and batch = ${String(message.batch.index)}`
  assertEquals({ ...run }, { status: 'done', attempts: 1, rows_written: 2, notifications: 2 })
})

Deno.test('daily-analytics: a time zone given in another case is stored as its name, and is the day of the report', async () => {
  const users = await usersInOwnRange(2)
  const [patched, stored] = users.ids
  // Intl reads zone names in any case; the jobs find the zone in pg_timezone_names by its exact name.
  const asPatched = await functionAsId('auth', patched)
  // Names Intl takes for aliases of older ones (it answers Asia/Calcutta, Europe/Kiev) stay the traveller's.
  for (const [given, kept] of [['Asia/Kolkata', 'Asia/Kolkata'], ['europe/kyiv', 'Europe/Kyiv']]) {
    const res = await asPatched('me', { method: 'PATCH', body: { preferences: { timezone: given } } })
    assertEquals([res.status, res.body.profile?.preferences.timezone], [200, kept], JSON.stringify(res.body))
  }
  const saved = await asPatched('me', { method: 'PATCH', body: { preferences: { timezone: 'america/los_angeles' } } })
  assertEquals(saved.status, 200, JSON.stringify(saved.body))
  assertEquals(saved.body.profile.preferences.timezone, 'America/Los_Angeles')
  assertEquals((await asPatched('me')).body.profile.preferences.timezone, 'America/Los_Angeles')
  // Stored so before: the migration mends it.
  await adminSql`update pam.profiles set preferences = '{"timezone":"AMERICA/los_angeles"}' where id = ${stored}`
  await adminSql.unsafe(await Deno.readTextFile(new URL('../supabase/migrations/20261202009000_admin_jobs_fixes.sql', import.meta.url)))
  const [mended] = await adminSql`select preferences ->> 'timezone' as tz from pam.profiles where id = ${stored}`
  assertEquals(mended.tz, 'America/Los_Angeles')
  for (const id of users.ids) await expense(id, { amount: '5.00', category: 'food', date: '2031-06-13' })
  for (const id of users.ids) await expense(id, { amount: '7.00', category: 'food', date: '2031-06-14' })

  // 02:00 UTC on 15 June is 19:00 on the 14th in Los Angeles: the report is of the 13th (UTC's would be the 14th).
  const run = await callJob('daily-analytics', batchOf(users, '2031-06-15T02:00:00Z'))
  assertEquals([run.status, run.body.rows_written], [200, 2], JSON.stringify(run.body))
  const reports = await adminSql`select user_id, date::text as date from pam.daily_reports where user_id = any(${users.ids}::uuid[])
                                 order by user_id`
  assertEquals(reports.map((r) => [r.user_id, r.date]), [[patched, '2031-06-13'], [stored, '2031-06-13']])
})

Deno.test('daily-analytics: each local day once, when the zone moves the date on by two, back again, or runs are missed', async () => {
  const users = await usersInOwnRange(1, { timezone: 'America/Los_Angeles', currency: 'AUD' })
  const [id] = users.ids
  for (let day = 12; day <= 25; day++) await expense(id, { amount: `${day}.00`, category: 'food', date: `2031-06-${day}` })
  const zone = (timezone: string) =>
    adminSql`update pam.profiles set preferences = ${adminSql.json({ timezone, currency: 'AUD' } as never)} where id = ${id}`
  const run = async (at: string) => {
    const res = await callJob('daily-analytics', batchOf(users, at))
    assertEquals([res.status, res.body.status], [200, 'done'], JSON.stringify(res.body))
    const rows = await adminSql`select date::text as date from pam.daily_reports where user_id = ${id} order by date`
    return rows.map((r) => r.date)
  }
  // 02:00 UTC on the 15th is 19:00 on the 14th in Los Angeles: the 13th.
  assertEquals(await run('2031-06-15T02:00:00Z'), ['2031-06-13'])
  // Flown to Sydney: 02:00 UTC on the 16th is noon on the 16th there. The 14th is not skipped.
  await zone('Australia/Sydney')
  assertEquals(await run('2031-06-16T02:00:00Z'), ['2031-06-13', '2031-06-14', '2031-06-15'])
  // Back in Los Angeles: the 17th's run falls on the 16th there, whose yesterday was covered in Sydney.
  await zone('America/Los_Angeles')
  assertEquals(await run('2031-06-17T02:00:00Z'), ['2031-06-13', '2031-06-14', '2031-06-15'])
  assertEquals(await run('2031-06-18T02:00:00Z'), ['2031-06-13', '2031-06-14', '2031-06-15', '2031-06-16'])
  // Five days without a run: the next covers the three days before its own yesterday's, and no more.
  assertEquals((await run('2031-06-24T02:00:00Z')).slice(4), ['2031-06-20', '2031-06-21', '2031-06-22'])
  const notes = await notificationsOf([id], 'report_ready')
  assertEquals(notes.length, 7, 'one notification per report')
})

Deno.test("daily-analytics: fuel_cost is the fill-ups in the report's currency; fill-ups and litres are all of them", async () => {
  const users = await usersInOwnRange(1, { timezone: 'Australia/Brisbane', currency: 'AUD' })
  const [id] = users.ids
  const [v] = await adminSql`insert into pam.vehicles (user_id, name) values (${id}, 'Troopy') returning id`
  await expense(id, { amount: '80.00', category: 'fuel', date: '2031-06-14', vehicle_id: v.id, fuel_volume: 50 })
  await expense(id, { amount: '50.00', category: 'fuel', date: '2031-06-14', vehicle_id: v.id, fuel_volume: 40, currency: 'USD' })
  const run = await callJob('daily-analytics', batchOf(users, '2031-06-15T02:00:00Z'))
  assertEquals([run.status, run.body.rows_written], [200, 1], JSON.stringify(run.body))
  const [report] = await adminSql`select currency, total_spent::text, fill_ups, fuel_volume::text, fuel_cost::text
    from pam.daily_reports where user_id = ${id}`
  assertEquals({ ...report }, { currency: 'AUD', total_spent: '80.00', fill_ups: 2, fuel_volume: '90.00', fuel_cost: '80.00' })
})

Deno.test('daily-analytics: a batch failing midway leaves nothing, and its retry does it all once', async () => {
  const users = await usersInOwnRange(3)
  for (const id of users.ids) await expense(id, { amount: '12.00', category: 'food', date: '2031-07-01' })
  const fn = `pam.test_fail_${crypto.randomUUID().replaceAll('-', '')}`
  // The third traveller's notification fails, after the reports and the first two notifications were written.
  await adminSql.unsafe(`
    create function ${fn}() returns trigger language plpgsql as $$
    begin
      if new.user_id = '${users.ids[2]}' then raise exception 'injected failure'; end if;
      return new;
    end $$;
    create trigger ${fn.slice(4)} before insert on pam.notifications for each row execute function ${fn}();`)
  const message = batchOf(users, '2031-07-02T00:00:00Z')
  try {
    const failed = await callJob('daily-analytics', message)
    assertEquals(failed.status, 503, JSON.stringify(failed.body))
    assertEquals(failed.body.error.code, 'job_failed')
    assertEquals((await adminSql`select 1 from pam.daily_reports where user_id = any(${users.ids}::uuid[])`).length, 0)
    assertEquals((await notificationsOf(users.ids, 'report_ready')).length, 0)
    const [run] = await adminSql`select status, attempts, error from pam.job_runs
      where job = 'daily-analytics' and period = '2031-07-02' and batch = ${String(message.batch.index)}`
    assertEquals([run.status, run.attempts], ['failed', 1])
    assert(String(run.error).includes('injected failure'))
  } finally {
    await adminSql.unsafe(`drop trigger ${fn.slice(4)} on pam.notifications; drop function ${fn}()`)
  }
  const retried = await callJob('daily-analytics', message)
  assertEquals([retried.status, retried.body.status, retried.body.rows_written, retried.body.notifications], [200, 'done', 3, 3])
  assertEquals((await adminSql`select 1 from pam.daily_reports where user_id = any(${users.ids}::uuid[])`).length, 3)
  assertEquals((await notificationsOf(users.ids, 'report_ready')).length, 3)
  const [run] = await adminSql`select status, attempts, error from pam.job_runs
    where job = 'daily-analytics' and period = '2031-07-02' and batch = ${String(message.batch.index)}`
  assertEquals({ ...run }, { status: 'done', attempts: 2, error: null })
})

Deno.test('maintenance-reminders: due within 30 days or 1,000 km (621 mi), overdue, once per record', async () => {
  const users = await usersInOwnRange(2)
  const [owner, optedOut] = users.ids
  await adminSql`update pam.profiles set preferences = '{"notifications":{"maintenance_reminders":false}}' where id = ${optedOut}`
  const [km] = await adminSql`insert into pam.vehicles (user_id, name, current_odometer) values (${owner}, 'Coaster', 50000) returning id`
  const [mi] = await adminSql`insert into pam.vehicles (user_id, name, current_odometer, odometer_unit)
                              values (${owner}, 'Winnebago', 20000, 'mi') returning id`
  const [other] = await adminSql`insert into pam.vehicles (user_id, name) values (${optedOut}, 'Van') returning id`
  const record = (user: string, vehicle: string, task: string, due: Record<string, unknown>) =>
    adminSql`insert into pam.maintenance_records ${adminSql({ user_id: user, vehicle_id: vehicle, task, date: '2030-12-01', ...due } as never)} returning id`
  // Today is 1 March 2031 (UTC).
  await record(owner, km.id, 'Oil change', { next_due_date: '2031-03-31' }) // in 30 days: due
  await record(owner, km.id, 'Tyres', { next_due_date: '2031-04-01' }) // in 31 days: not yet
  await record(owner, km.id, 'Brakes', { next_due_odometer: 51_000 }) // 1,000 km to go: due
  await record(owner, km.id, 'Belts', { next_due_odometer: 51_001 }) // 1,001 km: not yet
  await record(owner, km.id, 'Filter', { next_due_date: '2031-02-28' }) // overdue
  await record(owner, km.id, 'Rotation', { interval_days: 90 }) // 2030-12-01 + 90 = 2031-03-01: due today
  await record(owner, mi.id, 'Grease', { next_due_odometer: 20_621 }) // 621 mi ≤ 621.37: due
  await record(owner, mi.id, 'Coolant', { next_due_odometer: 20_622 }) // 622 mi: not yet
  await record(optedOut, other.id, 'Oil change', { next_due_date: '2031-03-02' })

  const message = batchOf(users, '2031-03-01T06:00:00Z')
  const run = await callJob('maintenance-reminders', message)
  assertEquals([run.status, run.body.notifications], [200, 5], JSON.stringify(run.body))
  const sent = await notificationsOf(users.ids, 'maintenance_due')
  const byTask = Object.fromEntries(sent.map((n) => [n.data.task, n]))
  assertEquals(Object.keys(byTask).sort(), ['Brakes', 'Filter', 'Grease', 'Oil change', 'Rotation'])
  assertEquals(byTask['Oil change'].title, 'Oil change is due soon on Coaster')
  assertEquals(byTask['Oil change'].body, 'Due on 2031-03-31 (in 30 days).')
  assertEquals([byTask['Oil change'].data.days_left, byTask['Oil change'].data.status, byTask['Oil change'].data.by], [30, 'due', ['date']])
  assertEquals(byTask.Brakes.body, 'Due at 51000 km (1000 km to go).')
  assertEquals(byTask.Filter.title, 'Filter is overdue on Coaster')
  assertEquals([byTask.Filter.data.status, byTask.Grease.data.by, byTask.Grease.data.odometer_unit], ['overdue', ['odometer'], 'mi'])
  assert(sent.every((n) => n.user_id === owner && n.dedupe_key === `maintenance:${n.data.record_id}`))

  // The next day: only what came into the window (the tyres, now 30 days off); a new record of a task is a new reminder.
  const nextDay = await callJob('maintenance-reminders', batchOf(users, '2031-03-02T06:00:00Z'))
  assertEquals([nextDay.status, nextDay.body.notifications], [200, 1])
  assertEquals((await notificationsOf(users.ids, 'maintenance_due')).length, 6)
  await record(owner, km.id, 'Oil change', { date: '2031-03-02', next_due_date: '2031-03-20' })
  const later = await callJob('maintenance-reminders', batchOf(users, '2031-03-03T06:00:00Z'))
  assertEquals(later.body.notifications, 1)
})

Deno.test('reminders: one deleted by its owner, or by the cleanup, is not sent again; its key is forgotten after 400 days', async () => {
  const users = await usersInOwnRange(1)
  const [owner] = users.ids
  await adminSql`update pam.profiles set preferences = '{"notifications":{"channels":{"maintenance_due":"email"}}}' where id = ${owner}`
  const [van] = await adminSql`insert into pam.vehicles (user_id, name) values (${owner}, 'Troopy') returning id`
  const overdue = (task: string) =>
    adminSql`insert into pam.maintenance_records (user_id, vehicle_id, task, date, next_due_date)
             values (${owner}, ${van.id}, ${task}, '2030-12-01', '2031-02-28')`
  await overdue('Oil change')
  await overdue('Filter')
  const run = async (at: string) => (await callJob('maintenance-reminders', batchOf(users, at))).body.notifications
  assertEquals(await run('2031-03-01T06:00:00Z'), 2)
  const sent = await notificationsOf(users.ids, 'maintenance_due')
  const emailsOwed = async () =>
    (await adminSql`select count(*)::int as n from pam.notifications where user_id = ${owner} and email_status = 'pending'`)[0].n
  assertEquals(await emailsOwed(), 2)

  // The owner deletes one; the other is read, and the cleanup takes it a month later.
  const asOwner = await functionAsId('notifications', owner)
  const oil = sent.find((n) => n.data.task === 'Oil change')!
  const [oilRow] = await adminSql`select id from pam.notifications where user_id = ${owner} and dedupe_key = ${oil.dedupe_key}`
  assertEquals((await asOwner(oilRow.id, { method: 'DELETE' })).status, 204)
  await adminSql`update pam.notifications set read_at = now(), created_at = now() - interval '31 days'
                 where user_id = ${owner} and kind = 'maintenance_due'`
  const cleaned = await callJob('cleanup', { at: '2034-05-17T03:30:00Z' })
  assertEquals(cleaned.status, 200, JSON.stringify(cleaned.body))
  assertEquals((await notificationsOf(users.ids, 'maintenance_due')).length, 0)

  // Both tasks are still overdue: the next runs send neither again, nor email it.
  assertEquals(await run('2031-03-02T06:00:00Z'), 0)
  assertEquals(await run('2031-04-02T06:00:00Z'), 0)
  assertEquals([(await notificationsOf(users.ids, 'maintenance_due')).length, await emailsOwed()], [0, 0])
  const keys = await adminSql`select dedupe_key from pam.notification_keys where user_id = ${owner} order by dedupe_key`
  assertEquals(keys.map((k) => k.dedupe_key), sent.map((n) => n.dedupe_key).sort())

  // 400 days on, the cleanup forgets a key, and a task still overdue is reminded once more.
  await adminSql`update pam.notification_keys set created_at = now() - interval '401 days' where user_id = ${owner}`
  const later = await callJob('cleanup', { at: '2035-06-18T03:30:00Z' })
  assert(later.body.removed.notification_keys >= 2, JSON.stringify(later.body))
  assertEquals(await run('2032-04-03T06:00:00Z'), 2)
})

Deno.test('budget-alerts: 80% and 100% of what is available, once per threshold and period, as wins alerts', async () => {
  const users = await usersInOwnRange(1)
  const [id] = users.ids
  const budget = async (category: string, amount: string) =>
    (await adminSql`insert into pam.budgets (user_id, category, period, amount, start_date)
                    values (${id}, ${category}, 'monthly', ${amount}, '2031-01-01') returning id`)[0].id as string
  const food = await budget('food', '100.00')
  const fuel = await budget('fuel', '100.00')
  const camping = await budget('camping', '100.00')
  await expense(id, { amount: '79.99', category: 'food', date: '2031-05-03' }) // 79.99%: nothing
  await expense(id, { amount: '80.00', category: 'fuel', date: '2031-05-04' }) // exactly 80%
  await expense(id, { amount: '100.00', category: 'camping', date: '2031-05-05' }) // exactly 100%: no 80% alert
  await expense(id, { amount: '500.00', category: 'fuel', date: '2031-04-30' }) // last month

  const first = await callJob('budget-alerts', batchOf(users, '2031-05-20T09:00:00Z'))
  assertEquals([first.status, first.body.notifications], [200, 2], JSON.stringify(first.body))
  const sent = await notificationsOf(users.ids, 'budget_threshold')
  assertEquals(sent.map((n) => n.dedupe_key).sort(), [`budget:${camping}:2031-05-01:100`, `budget:${fuel}:2031-05-01:80`].sort())
  const fuelAlert = sent.find((n) => n.data.budget_id === fuel)!
  assertEquals(fuelAlert.title, 'Fuel budget at 80%')
  assertEquals(fuelAlert.body, 'You have spent 80.00 AUD of 100.00 AUD on fuel this month (2031-05-01 to 2031-05-31).')
  assertEquals(fuelAlert.data, {
    budget_id: fuel,
    category: 'fuel',
    period: 'monthly',
    period_start: '2031-05-01',
    period_end: '2031-05-31',
    threshold: 80,
    spent: '80.00',
    available: '100.00',
    percent: 80,
    currency: 'AUD',
  })
  assertEquals(sent.find((n) => n.data.budget_id === camping)!.title, 'Camping and site fees budget used up')
  assert(!sent.some((n) => n.data.budget_id === food))

  // The next day: nothing new until a threshold is crossed; then only the new one. The camping
  // alert deleted comes back neither as itself nor as an 80% one.
  await adminSql`delete from pam.notifications where user_id = ${id} and dedupe_key = ${`budget:${camping}:2031-05-01:100`}`
  assertEquals((await callJob('budget-alerts', batchOf(users, '2031-05-21T09:00:00Z'))).body.notifications, 0)
  await expense(id, { amount: '20.00', category: 'fuel', date: '2031-05-21' })
  await expense(id, { amount: '0.01', category: 'food', date: '2031-05-21' })
  const third = await callJob('budget-alerts', batchOf(users, '2031-05-22T09:00:00Z'))
  assertEquals(third.body.notifications, 2)
  assertEquals((await notificationsOf(users.ids, 'budget_threshold')).map((n) => n.dedupe_key).sort(), [
    `budget:${food}:2031-05-01:80`,
    `budget:${fuel}:2031-05-01:100`,
    `budget:${fuel}:2031-05-01:80`,
  ].sort())
})

Deno.test('cleanup: old read notifications, very old ones and expired memories go; the rest stays', async () => {
  const users = await usersInOwnRange(1)
  const [id] = users.ids
  const note = async (title: string, age: string, read: boolean) =>
    await adminSql`insert into pam.notifications (user_id, kind, title, created_at, read_at)
      values (${id}, 'social', ${title}, now() - ${age}::interval, ${read ? adminSql`now()` : null})`
  await note('old and read', '31 days', true)
  await note('old, unread', '31 days', false)
  await note('recent and read', '29 days', true)
  await note('very old', '181 days', false)
  await adminSql`insert into pam.memories (user_id, content, expires_at) values
    (${id}, 'expired', now() - interval '1 minute'), (${id}, 'still good', now() + interval '1 day'), (${id}, 'for good', null)`
  const res = await callJob('cleanup', { at: '2033-01-15T03:30:00Z' })
  assertEquals([res.status, res.body.status], [200, 'done'], JSON.stringify(res.body))
  assert(res.body.removed.notifications >= 2 && res.body.removed.memories >= 1, JSON.stringify(res.body))
  const repeated = await callJob('cleanup', { at: '2033-01-15T04:00:00Z' })
  assertEquals(repeated.body.status, 'skipped', 'once per day')
  const left = await adminSql`select title from pam.notifications where user_id = ${id} order by title`
  assertEquals(left.map((n) => n.title), ['old, unread', 'recent and read'])
  const memories = await adminSql`select content from pam.memories where user_id = ${id} order by content`
  assertEquals(memories.map((m) => m.content), ['for good', 'still good'])
})

Deno.test('fan-out: a scheduled call publishes one batch per key range through QStash, each run once', async () => {
  const users = await usersInOwnRange(2)
  for (const id of users.ids) await expense(id, { amount: '3.00', category: 'food', date: '2032-01-09' })
  const [{ n }] = await adminSql`select count(*)::int as n from pam.profiles`
  const batchUsers = Math.max(1, Math.ceil(n / 4))
  // An app like the deployed one, with small batches; it publishes to the stack's local QStash,
  // which delivers the batches, signed, to the stack's jobs function.
  const app = createJobsApp(parseConfig({ ...Deno.env.toObject(), PAM_LOG_LEVEL: 'error', PAM_JOBS_BATCH_USERS: String(batchUsers) }))
  const at = '2032-01-10T02:00:00Z'
  const scheduled = async () => {
    const body = JSON.stringify({ at })
    const url = jobUrl('daily-analytics')
    const res = await app.fetch(new Request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'upstash-signature': await signQStash({ key: stack.qstash.keys.nextSigningKey, url, body }) },
      body,
    }))
    return { status: res.status, body: await res.json() as Json }
  }
  const delivered = stack.qstash.local.deliveries.length
  const planned = await scheduled()
  assertEquals(planned.status, 200, JSON.stringify(planned.body))
  assertEquals([planned.body.batch, planned.body.status], ['plan', 'done'])
  const batches = planned.body.batches as number
  assert(batches >= 4 && batches <= 5, `${n} users in batches of ${batchUsers}: ${batches}`)
  await stack.qstash.local.idle()

  const runs = await runsOf('daily-analytics', '2032-01-10')
  const plan = runs.find((r) => r.batch === 'plan')!
  const done = runs.filter((r) => r.batch !== 'plan').sort((a, b) => Number(a.batch) - Number(b.batch))
  assertEquals(done.length, batches, JSON.stringify(runs))
  assert(done.every((r) => r.status === 'done'), JSON.stringify(done))
  // The ranges cover every id once: open at both ends, each starting where the last ended.
  assertEquals(done[0].lower_id, null)
  assertEquals(done[done.length - 1].upper_id, null)
  for (let i = 1; i < done.length; i++) assertEquals(done[i].lower_id, done[i - 1].upper_id)
  assertEquals(plan.plan.batches.map((b: { from: string | null }) => b.from), done.map((r) => r.lower_id))
  const ours = await adminSql`select user_id from pam.daily_reports where user_id = any(${users.ids}::uuid[]) and date = '2032-01-09'`
  assertEquals(ours.length, 2)
  const fresh = stack.qstash.local.deliveries.slice(delivered).filter((d) => d.destination === jobUrl('daily-analytics'))
  assertEquals(fresh.filter((d) => d.status === 200).length, batches, 'every batch delivered, signed, and accepted')

  // The schedule fires again the same day (a retry): nothing is published twice.
  const again = await scheduled()
  assertEquals([again.status, again.body.status], [200, 'skipped'])
  await stack.qstash.local.idle()
  assertEquals((await runsOf('daily-analytics', '2032-01-10')).length, batches + 1)
})
