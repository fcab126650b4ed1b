// PAM and the calendar: events made, moved, listed and cancelled from
// sentences, in the traveller's time zone, through the calendar's own code.
import { assert, assertEquals, assertMatch, type Json } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { type Answer, functionAs } from './_support/wins.ts'
import { chatAs } from './_support/chat.ts'
import { addDays } from '../supabase/functions/_shared/dates.ts'
import { localDate } from '../supabase/functions/_shared/timezone.ts'

const youAs = functionAs('you')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`
const TZ = 'Australia/Darwin'
const weekday = (day: string) => new Date(`${day}T00:00:00Z`).getUTCDay()

Deno.test('you: PAM makes, moves, lists and cancels events from sentences, in the traveller\u2019s zone', async () => {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = ${{ timezone: TZ } as never}::jsonb where id = ${user.id}`
  const pam = chatAs(user)
  const say = async (message: string) => {
    const res = await pam('messages', { method: 'POST', body: { message } })
    assertEquals(res.status, 201, show(res))
    return res.body.message
  }
  const today = localDate(new Date(), TZ)
  const events = async () => (await youAs(user)('events')).body.events as Json[]

  const made = await say('remind me Tuesday at 9 to book the Uluru campground')
  assertEquals(made.metadata.intent, 'calendar', JSON.stringify(made.metadata))
  const [booking] = await events()
  assertEquals([booking.title, booking.time_zone, booking.start.slice(11), booking.reminders], ['Book the Uluru campground', TZ, '09:00', [0]])
  const day = booking.start.slice(0, 10)
  assert(weekday(day) === 2 && day > today && day <= addDays(today, 7), `next Tuesday: ${day} (today ${today})`)
  assertMatch(made.content, /^In your calendar: Book the Uluru campground on \d{4}-\d{2}-\d{2} at 09:00\. I'll remind you\.$/)

  await youAs(user)('events', { method: 'POST', body: { title: 'Wheel bearing service', start: `${addDays(today, 1)}T10:30` } })
  const moved = await say('move the wheel bearing service to Friday')
  assertEquals(moved.metadata.actions[0].tool, 'move_event', JSON.stringify(moved.metadata))
  const service = (await events()).find((e) => e.title === 'Wheel bearing service')!
  assertEquals([weekday(service.start.slice(0, 10)), service.start.slice(11), service.end.slice(11)], [5, '10:30', '11:30'])

  const week = await say("what's on this week?")
  assertEquals(week.metadata.actions[0].tool, 'list_events')
  const listed = week.metadata.actions[0].result.events.map((e: Json) => e.title)
  for (const e of await events()) {
    const inRange = e.start.slice(0, 10) <= week.metadata.actions[0].result.to && e.start.slice(0, 10) >= week.metadata.actions[0].result.from
    assertEquals(listed.includes(e.title), inRange, `${e.title} listed iff in ${week.metadata.actions[0].result.from}..${week.metadata.actions[0].result.to}`)
  }

  const gone = await say('cancel the wheel bearing service')
  assertEquals(gone.content, 'Cancelled Wheel bearing service.')
  assertEquals((await events()).map((e) => e.title), ['Book the Uluru campground'])
  const nothing = await say('cancel the dentist')
  assertMatch(nothing.content, /nothing in your calendar called "dentist"/)
})
