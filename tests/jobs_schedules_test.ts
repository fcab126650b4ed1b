// The schedule table reaches QStash through @upstash/qstash's Client
// (`npm run schedules:sync`), here against the local QStash stand-in: created
// once with stable ids, updated when they differ, ours that are gone deleted,
// others' left alone; a dry run changes nothing. The stand-in fires a
// schedule on its cron with a signed delivery the jobs function accepts.
import { Client } from '@upstash/qstash'
import { assert, assertEquals } from './_support/assert.ts'
import { functionsUrl, stack } from './_support/stack.ts'
import { jobUrl } from './_support/jobs.ts'
import { syncSchedules } from '../scripts/schedules-sync.ts'
import { SCHEDULES, scheduleIdOf } from '../supabase/functions/jobs/schedules.ts'

const client = () => new Client({ baseUrl: stack.qstash.url, token: stack.qstash.keys.token, devMode: false, enableTelemetry: false, retry: false })

Deno.test('schedules:sync creates, updates and deletes to match the table; --dry-run changes nothing', async () => {
  const { schedules } = client()
  // Whatever an earlier test left: start from none of ours.
  for (const s of await schedules.list()) await schedules.delete(s.scheduleId)
  await schedules.create({ scheduleId: 'pam-retired-job', destination: `${functionsUrl}/jobs/retired`, cron: '0 1 * * *' })
  await schedules.create({ scheduleId: 'someone-else', destination: 'http://127.0.0.1:9/elsewhere', cron: '0 1 * * *' })

  const dry = await syncSchedules(schedules, functionsUrl, { dryRun: true })
  assertEquals(dry.map((c) => `${c.action} ${c.scheduleId}`), [
    ...SCHEDULES.map((s) => `create ${scheduleIdOf(s.job)}`),
    'delete pam-retired-job',
  ])
  assertEquals((await schedules.list()).length, 2, 'a dry run changes nothing')

  await syncSchedules(schedules, functionsUrl)
  const after = await schedules.list()
  assertEquals(after.map((s) => s.scheduleId).sort(), [...SCHEDULES.map((s) => scheduleIdOf(s.job)), 'someone-else'].sort())
  for (const s of SCHEDULES) {
    const got = await schedules.get(scheduleIdOf(s.job))
    assertEquals([got.cron, got.destination, got.queueName], [s.cron, jobUrl(s.job), s.queue])
  }
  assertEquals((await syncSchedules(schedules, functionsUrl)).every((c) => c.action === 'unchanged'), true)

  await schedules.create({ scheduleId: 'pam-cleanup', destination: jobUrl('cleanup'), cron: '0 4 * * *', queueName: 'pam-jobs' })
  const fixed = await syncSchedules(schedules, functionsUrl)
  assertEquals(fixed.filter((c) => c.action !== 'unchanged').map((c) => `${c.action} ${c.scheduleId}`), ['update pam-cleanup'])
  assertEquals((await schedules.get('pam-cleanup')).cron, '30 3 * * *')
  for (const s of await schedules.list()) await schedules.delete(s.scheduleId)
})

Deno.test('the local QStash keeps what a schedule was created with, and pauses and resumes it', async () => {
  const { schedules } = client()
  await schedules.create({
    scheduleId: 'pam-test-details',
    destination: jobUrl('cleanup'),
    cron: '0 5 * * *',
    headers: { 'x-note': 'hi' },
    delay: 10,
    retries: 2,
    label: 'nightly',
    flowControl: { key: 'pam-cleanup', parallelism: 1 },
  })
  const got = await schedules.get('pam-test-details')
  assertEquals(
    [got.header?.['X-Note'], got.delay, got.retries, got.label, got.flowControlKey, got.parallelism, got.isPaused],
    [['hi'], 10, 2, 'nightly', 'pam-cleanup', 1, false],
  )
  await schedules.pause({ schedule: 'pam-test-details' })
  assertEquals((await schedules.get('pam-test-details')).isPaused, true)
  await schedules.resume({ schedule: 'pam-test-details' })
  assertEquals((await schedules.get('pam-test-details')).isPaused, false)
  await schedules.delete('pam-test-details')
  try {
    await schedules.get('pam-test-details')
    assert(false, 'deleted')
  } catch (err) {
    assert(String(err).includes('schedule not found'), String(err))
  }
})

Deno.test('the local scheduler fires a schedule on its cron, signed: the jobs function accepts it', async () => {
  const { schedules } = client()
  const delivered = stack.qstash.local.deliveries.length
  // Every second (croner takes a seconds field), at the cleanup job.
  await schedules.create({ scheduleId: 'pam-test-every-second', destination: jobUrl('cleanup'), cron: '* * * * * *' })
  try {
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && !stack.qstash.local.deliveries.slice(delivered).some((d) => d.scheduleId === 'pam-test-every-second')) {
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    await schedules.delete('pam-test-every-second')
  }
  await stack.qstash.local.idle()
  const fired = stack.qstash.local.deliveries.slice(delivered).filter((d) => d.scheduleId === 'pam-test-every-second')
  assert(fired.length >= 1, 'fired')
  assert(fired.every((d) => d.status === 200), JSON.stringify(fired))
})
