// RLS of the jobs' tables: a daily report and the keys of notifications sent
// are their owner's to read and nobody's to write (the job writes as
// service_role, the keys a trigger); job runs and how far the daily report
// has covered each traveller are nobody's, not even the traveller's own.
import { assert } from './_support/assert.ts'
import { checkNobodyReaches, checkRls, newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'

Deno.test('jobs RLS: daily_reports', async () => {
  await checkRls({
    table: 'daily_reports',
    createOwned: async (owner) =>
      (await adminSql`insert into pam.daily_reports (user_id, date, currency) values (${owner}, '2031-01-01', 'AUD') returning id`)[0].id,
    updateValues: { total_spent: '1.00' },
    ownerMayUpdate: false,
    ownerMayDelete: false,
  })
})

Deno.test('jobs RLS: notification_keys are their owner\'s to read and nobody\'s to write', async () => {
  await checkRls({
    table: 'notification_keys',
    idColumn: 'dedupe_key',
    createOwned: async (owner) =>
      (await adminSql`insert into pam.notification_keys (user_id, dedupe_key) values (${owner}, ${`rls:${crypto.randomUUID()}`})
                      returning dedupe_key`)[0].dedupe_key,
    updateValues: { created_at: '2030-01-01T00:00:00Z' },
    ownerMayUpdate: false,
    ownerMayDelete: false,
  })
})

Deno.test('jobs RLS: job_runs are out of reach of users and anon', async () => {
  await adminSql`insert into pam.job_runs (job, period, batch, status) values ('cleanup', '1999-01-01', 'rls', 'done')
                 on conflict do nothing`
  await checkNobodyReaches(await newAuthUser(), [
    `select * from pam.job_runs`,
    `update pam.job_runs set status = 'failed'`,
    `delete from pam.job_runs`,
    `insert into pam.job_runs (job, period, batch, status) values ('cleanup', '1999-01-02', 'x', 'done')`,
  ])
})

Deno.test('jobs RLS: daily_report_progress is out of reach of its traveller, others and anon', async () => {
  const owner = await newAuthUser()
  await adminSql`insert into pam.daily_report_progress (user_id, covered_through) values (${owner}, '2031-01-01')`
  await checkNobodyReaches(owner, [
    `select * from pam.daily_report_progress`,
    `update pam.daily_report_progress set covered_through = '2040-01-01'`,
    `delete from pam.daily_report_progress`,
    `insert into pam.daily_report_progress (user_id, covered_through) values ('${owner}', '2040-01-01')`,
  ])
  const [row] = await adminSql`select covered_through::text as d from pam.daily_report_progress where user_id = ${owner}`
  assert(row.d === '2031-01-01', 'unchanged')
})
