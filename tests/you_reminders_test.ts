// Event reminders through the jobs function (signed as QStash signs): each
// reminder offset of each occurrence is one notification at its instant,
// across a daylight-saving change, exactly once however often (and however
// late) the 5-minute job is delivered; an event begun years ago with a 28-day
// reminder too; an event that cannot be expanded keeps nobody else's; and a
// run's batches, delivered by the local QStash, cover every traveller once.
import { assert, assertEquals, type Json } from './_support/assert.ts'
import { adminSql, callFunction, signUp, stack, type TestUser } from './_support/stack.ts'
import { type Answer, answer, functionAs } from './_support/wins.ts'
import { batchOf, callJob, jobUrl, runsOf, usersInOwnRange } from './_support/jobs.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'
import { createJobsApp } from '../supabase/functions/jobs/index.ts'
import { signQStash } from '../scripts/local/qstash-signing.ts'

const youAs = functionAs('you')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

async function sydneyTraveller(): Promise<TestUser> {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = '{"timezone":"Australia/Sydney"}' where id = ${user.id}`
  return user
}
async function add(user: TestUser, body: Record<string, unknown>) {
  const res = await youAs(user)('events', { method: 'POST', body })
  assertEquals(res.status, 201, show(res))
  return res.body.event
}
/** Runs the job for the instant `at`: the scheduled call, then the batches it publishes through the local QStash. */
async function runAt(at: string) {
  const res = await callJob('event-reminders', { at })
  assertEquals(res.status, 200, show(res))
  await stack.qstash.local.idle()
  return res.body
}
const remindersOf = async (userId: string) =>
  (await adminSql`select title, body, data from pam.notifications where user_id = ${userId} and kind = 'event_reminder'
                  order by data ->> 'starts_at', (data ->> 'minutes_before')::int desc`)
    .map((n) => `${n.data.occurrence} -${n.data.minutes_before}`)

// Each test uses instants of its own: a run is once per job, UTC day and 5-minute slot for the whole database.
Deno.test('event reminders: each offset once, at its instant, however often the job comes', async () => {
  const user = await sydneyTraveller()
  await add(user, { title: 'Book the Uluru campground', start: '2031-04-07T09:00', reminders: [1440, 60] }) // 2031-04-06T23:00Z
  await runAt('2031-04-05T22:55:00Z')
  assertEquals(await remindersOf(user.id), [], 'not yet')
  await runAt('2031-04-05T23:00:00Z')
  assertEquals(await remindersOf(user.id), ['2031-04-07T09:00 -1440'])
  const again = await runAt('2031-04-05T23:01:00Z')
  assertEquals(again.status, 'skipped', 'the same slot again does nothing')
  await runAt('2031-04-05T23:05:00Z')
  await runAt('2031-04-06T22:00:00Z')
  await runAt('2031-04-06T22:05:00Z')
  assertEquals(await remindersOf(user.id), ['2031-04-07T09:00 -1440', '2031-04-07T09:00 -60'])
  const [n] = await adminSql`select title, body from pam.notifications where user_id = ${user.id} and kind = 'event_reminder' limit 1`
  assertEquals([n.title, n.body], ['Book the Uluru campground', 'At 2031-04-07 09:00 (Australia/Sydney)'])
  // The traveller reads them in the notifications API, by kind.
  const listed = await answer(await callFunction('notifications?kind=event_reminder', { token: user.accessToken }))
  assertEquals([listed.status, listed.body.notifications?.length], [200, 2], show(listed))
})

Deno.test('event reminders: a late run sends what it missed (within 6 hours), and no more', async () => {
  const user = await sydneyTraveller()
  await add(user, { title: 'Gas bottle refill', start: '2031-05-10T10:00', reminders: [600, 30] }) // 2031-05-10T00:00Z
  await runAt('2031-05-09T19:00:00Z') // the 600-minute reminder came due at 14:00Z: 5 hours late
  assertEquals(await remindersOf(user.id), ['2031-05-10T10:00 -600'])
  const other = await sydneyTraveller()
  await add(other, { title: 'Missed', start: '2031-05-20T10:00', reminders: [600] }) // due 2031-05-19T14:00Z
  await runAt('2031-05-19T20:05:00Z') // more than 6 hours late
  assertEquals(await remindersOf(other.id), [])
})

Deno.test('event reminders: a weekly event reminds at its local time across the April change', async () => {
  const user = await sydneyTraveller()
  // 09:00 each Sunday from 2031-03-30 (AEDT, +11); the clocks go back on 2031-04-06 (AEST, +10).
  await add(user, { title: 'Market', start: '2031-03-30T09:00', recurrence: 'FREQ=WEEKLY;COUNT=3', reminders: [30] })
  await runAt('2031-03-29T21:25:00Z')
  assertEquals(await remindersOf(user.id), [])
  await runAt('2031-03-29T21:30:00Z') // 08:30 AEDT
  await runAt('2031-04-05T21:30:00Z') // an hour early in AEST: nothing
  assertEquals(await remindersOf(user.id), ['2031-03-30T09:00 -30'])
  await runAt('2031-04-05T22:30:00Z') // 08:30 AEST
  await runAt('2031-04-12T22:30:00Z')
  await runAt('2031-04-19T22:30:00Z') // after the third (COUNT=3): nothing
  assertEquals(await remindersOf(user.id), ['2031-03-30T09:00 -30', '2031-04-06T09:00 -30', '2031-04-13T09:00 -30'])
})

/** An event written as the database holds it (what the API checks, such as the zone, is not checked here). */
async function insertEvent(userId: string, row: Record<string, unknown>): Promise<string> {
  const [e] = await adminSql`insert into pam.calendar_events ${adminSql({ user_id: userId, title: 'Event', ...row } as never)} returning id`
  return e.id
}

Deno.test('event reminders: an event that cannot be expanded is skipped; everyone else is still reminded', async () => {
  const broken = await sydneyTraveller()
  // A zone this runtime does not know (written around the API, which refuses it): placing a date there throws.
  for (const recurrence of ['FREQ=DAILY', null]) {
    await insertEvent(broken.id, { title: 'On Mars', time_zone: 'Mars/Olympus_Mons', starts_at: '2031-06-02T00:00:00Z',
      ends_at: '2031-06-02T01:00:00Z', recurrence, reminders: [60] })
  }
  const user = await sydneyTraveller()
  await add(user, { title: 'Dump point', start: '2031-06-02T10:00', reminders: [60] }) // 2031-06-02T00:00Z
  await add(user, { title: 'Water tanks', start: '2031-05-01T10:00', recurrence: 'FREQ=DAILY', reminders: [60] })
  const res = await runAt('2031-06-01T23:00:00Z')
  assertEquals(res.status, 'done', JSON.stringify(res))
  assertEquals(await remindersOf(user.id), ['2031-06-02T10:00 -60', '2031-06-02T10:00 -60'])
  assertEquals(await remindersOf(broken.id), [])
  const [run] = (await runsOf('event-reminders', '2031-06-01')).filter((r) => r.batch.startsWith('slot-2300.'))
  assertEquals([run?.status, run?.error], ['done', null], 'the batch is done: not failed, so not retried for ever')
  await adminSql`delete from pam.calendar_events where user_id = ${broken.id}` // the later runs' logs stay quiet
})

Deno.test('event reminders: a daily event begun years ago reminds 28 days ahead once, at the instant', async () => {
  const user = await sydneyTraveller()
  const other = await sydneyTraveller()
  // 09:00 every day since 2019; the other, 999 days (COUNT) from 2029-03-01, until 2031-11-24. Sydney is AEST
  // (+10) until 2031-10-05, AEDT (+11) from then: 2031-07-10 09:00 is 2031-07-09T23:00Z, 2031-10-10 09:00 is 22:00Z.
  await add(user, { title: 'Generator', start: '2019-01-01T09:00', end: '2019-01-01T09:30', recurrence: 'FREQ=DAILY', reminders: [40320] })
  await add(other, { title: 'Meds', start: '2029-03-01T09:00', recurrence: 'FREQ=DAILY;COUNT=999', reminders: [40320] })
  const starts = async (id: string) =>
    (await adminSql`select data ->> 'occurrence' as o, data ->> 'starts_at' as s from pam.notifications
                    where user_id = ${id} and kind = 'event_reminder' order by 1`).map((n) => `${n.o} ${new Date(n.s).toISOString()}`)
  await runAt('2031-06-11T22:55:00Z') // the reminder of 2031-07-09 came 23 h 55 min ago: beyond the 6-hour lookback
  assertEquals([await remindersOf(user.id), await remindersOf(other.id)], [[], []])
  await runAt('2031-06-11T23:00:00Z') // 28 days before 2031-07-10 09:00
  await runAt('2031-06-11T23:05:00Z')
  await runAt('2031-06-12T04:55:00Z') // its lookback still holds the 23:00 reminder
  for (const id of [user.id, other.id]) {
    assertEquals(await starts(id), ['2031-07-10T09:00 2031-07-09T23:00:00.000Z'])
  }
  // Across the October change: reminded in AEST for an occurrence in AEDT.
  await runAt('2031-09-11T21:55:00Z')
  await runAt('2031-09-11T22:00:00Z') // 28 days before 2031-10-10 09:00 AEDT
  for (const id of [user.id, other.id]) {
    assertEquals(await starts(id), ['2031-07-10T09:00 2031-07-09T23:00:00.000Z', '2031-10-10T09:00 2031-10-09T22:00:00.000Z'])
  }
})

Deno.test('event reminders: a run fans out into batches of users, which cover every traveller once', async () => {
  const users = await usersInOwnRange(3, { timezone: 'Australia/Sydney' })
  for (const [i, id] of users.ids.entries()) {
    await insertEvent(id, { title: `Check tyres ${i}`, time_zone: 'Australia/Sydney', starts_at: '2031-08-02T00:00:00Z',
      ends_at: '2031-08-02T00:30:00Z', recurrence: 'FREQ=WEEKLY', reminders: [60, 1440] })
  }
  const [{ n }] = await adminSql`select count(*)::int as n from pam.profiles`
  const batchUsers = Math.max(1, Math.ceil(n / 4))
  // An app as deployed, with small batches: it plans and publishes to the stack's local QStash, which delivers
  // the batches to the stack's jobs function.
  const app = createJobsApp(parseConfig({ ...Deno.env.toObject(), PAM_LOG_LEVEL: 'error', PAM_JOBS_BATCH_USERS: String(batchUsers) }))
  const scheduled = async (at: string) => {
    const body = JSON.stringify({ at })
    const url = jobUrl('event-reminders')
    const res = await app.fetch(new Request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'upstash-signature': await signQStash({ key: stack.qstash.keys.currentSigningKey, url, body }) },
      body,
    }))
    const answer = { status: res.status, body: await res.json() as Json }
    await stack.qstash.local.idle()
    return answer
  }
  const planned = await scheduled('2031-08-01T00:00:00Z') // a day before the first occurrence: the 1440-minute reminders
  assertEquals([planned.status, planned.body.batch, planned.body.status], [200, 'slot-0000', 'done'], JSON.stringify(planned.body))
  const batches = planned.body.batches as number
  assert(batches >= 4 && batches <= 5, `${n} users in batches of ${batchUsers}: ${batches}`)
  const runs = (await runsOf('event-reminders', '2031-08-01')).filter((r) => r.batch.startsWith('slot-0000'))
  const plan = runs.find((r) => r.batch === 'slot-0000')!
  const done = runs.filter((r) => r.batch !== 'slot-0000').sort((a, b) => Number(a.batch.slice(10)) - Number(b.batch.slice(10)))
  assertEquals(done.map((r) => r.batch), Array.from({ length: batches }, (_, i) => `slot-0000.${i}`))
  assert(done.every((r) => r.status === 'done'), JSON.stringify(done))
  // The ranges cover every id once: open at both ends, each starting where the last ended.
  assertEquals([done[0].lower_id, done[done.length - 1].upper_id], [null, null])
  for (let i = 1; i < done.length; i++) assertEquals(done[i].lower_id, done[i - 1].upper_id)
  assertEquals(plan.plan.batches.map((b: { from: string | null }) => b.from), done.map((r) => r.lower_id))
  for (const id of users.ids) assertEquals(await remindersOf(id), ['2031-08-02T10:00 -1440'])

  // The same slot again publishes nothing; a batch delivered again, or another covering the same users, sends nothing twice.
  assertEquals((await scheduled('2031-08-01T00:04:00Z')).body.status, 'skipped')
  const again = await callJob('event-reminders', batchOf(users, '2031-08-01T00:00:00Z'))
  assertEquals([again.status, again.body.status, again.body.notifications], [200, 'done', 0], show(again))
  // The next slot's run, and one an hour late, send the 60-minute reminders once.
  await scheduled('2031-08-01T23:00:00Z')
  await scheduled('2031-08-02T00:00:00Z')
  for (const id of users.ids) assertEquals(await remindersOf(id), ['2031-08-02T10:00 -1440', '2031-08-02T10:00 -60'])
})
