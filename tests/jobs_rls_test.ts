// RLS of the jobs' tables: a daily report and the keys of notifications sent
// are their owner's to read and nobody's to write (the job writes as
// service_role, the keys a trigger); job runs are nobody's.
import { assert } from './_support/assert.ts'
import { asUser, checkRls, newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'

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
  const user = await newAuthUser()
  for (const sql of [
    `select * from pam.job_runs`,
    `update pam.job_runs set status = 'failed'`,
    `delete from pam.job_runs`,
    `insert into pam.job_runs (job, period, batch, status) values ('cleanup', '1999-01-02', 'x', 'done')`,
  ]) {
    try {
      await asUser(user).queryRaw(sql)
      assert(false, `${sql}: allowed`)
    } catch (err) {
      assert(err instanceof ApiError && err.status === 403, `${sql}: ${err}`)
    }
  }
})
