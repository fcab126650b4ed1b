// Event reminders through the jobs function (signed as QStash signs): each
// reminder offset of each occurrence is one notification at its instant,
// across a daylight-saving change, exactly once however often (and however
// late) the 5-minute job is delivered.
import { assertEquals } from './_support/assert.ts'
import { adminSql, callFunction, signUp, type TestUser } from './_support/stack.ts'
import { type Answer, answer, functionAs } from './_support/wins.ts'
import { callJob } from './_support/jobs.ts'

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
/** Runs the job for the instant `at`. */
async function runAt(at: string) {
  const res = await callJob('event-reminders', { at })
  assertEquals(res.status, 200, show(res))
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
