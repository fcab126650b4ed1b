// /you/events and /you/calendar through the gateway: events entered as wall
// clocks in a zone, kept as instants, expanded by day in the viewer's zone —
// across Sydney's April and October changes, Adelaide's half-hour offset,
// Lord Howe's half-hour daylight saving, an Auckland viewer of a Perth event,
// 02:30 on a spring-forward day — with recurrences checked against
// hand-written occurrences; validation; other users' rows; RLS.
import { assert, assertEquals, type Json } from './_support/assert.ts'
import { adminSql, signUp, type TestUser } from './_support/stack.ts'
import { functionAs, type Answer } from './_support/wins.ts'
import { checkRls } from './_support/rls.ts'
import { addDays } from '../supabase/functions/_shared/dates.ts'

const youAs = functionAs('you')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

async function traveller(timezone: string): Promise<TestUser> {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = preferences || ${{ timezone } as never}::jsonb where id = ${user.id}`
  return user
}
async function add(user: TestUser, body: Json): Promise<Json> {
  const res = await youAs(user)('events', { method: 'POST', body })
  assertEquals(res.status, 201, show(res))
  return res.body.event
}
async function days(user: TestUser, from: string, to: string, tz?: string): Promise<Json[]> {
  const res = await youAs(user)(`calendar?from=${from}&to=${to}${tz ? `&time_zone=${tz}` : ''}`)
  assertEquals(res.status, 200, show(res))
  return res.body.occurrences
}

Deno.test('you: an event is a wall clock in a zone, kept as its instants', async () => {
  const user = await traveller('Australia/Sydney')
  const e = await add(user, { title: 'Book the Uluru campground', start: '2026-04-07T09:00', reminders: [1440, 60] })
  assertEquals(
    [e.time_zone, e.start, e.end, e.starts_at, e.ends_at, e.all_day, e.kind, e.reminders, e.recurrence],
    ['Australia/Sydney', '2026-04-07T09:00', '2026-04-07T10:00', '2026-04-06T23:00:00.000000Z', '2026-04-07T00:00:00.000000Z', false,
      'personal', [1440, 60], null],
  )
  const got = await youAs(user)(`events/${e.id}`)
  assertEquals(got.body.event.start, '2026-04-07T09:00')
  // Moving it keeps its length and zone.
  const moved = await youAs(user)(`events/${e.id}`, { method: 'PATCH', body: { start: '2026-04-10T14:30' } })
  assertEquals([moved.body.event.start, moved.body.event.end], ['2026-04-10T14:30', '2026-04-10T15:30'], show(moved))
  const renamed = await youAs(user)(`events/${e.id}`, { method: 'PATCH', body: { title: 'Booked' } })
  assertEquals([renamed.body.event.title, renamed.body.event.start], ['Booked', '2026-04-10T14:30'])
  assertEquals((await youAs(user)(`events/${e.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await youAs(user)(`events/${e.id}`)).status, 404)
})

Deno.test("you: an all-day day in Sydney is that whole day, whoever looks and wherever the server is", async () => {
  const sydney = await traveller('Australia/Sydney')
  const e = await add(sydney, { title: 'Rest day', all_day: true, start: '2026-04-05' })
  assertEquals([e.start, e.end, e.starts_at, e.ends_at], ['2026-04-05', '2026-04-05', '2026-04-04T13:00:00.000000Z', '2026-04-05T14:00:00.000000Z'],
    'midnight to midnight, 25 hours: the clocks go back that night')
  for (const tz of ['Australia/Sydney', 'Australia/Perth', 'Pacific/Auckland', 'America/Los_Angeles']) {
    assertEquals((await days(sydney, '2026-04-05', '2026-04-05', tz)).map((o) => [o.date, o.all_day]), [['2026-04-05', true]], tz)
    assertEquals(await days(sydney, '2026-04-04', '2026-04-04', tz), [], tz)
    assertEquals(await days(sydney, '2026-04-06', '2026-04-06', tz), [], tz)
  }
  const trip = await add(sydney, { title: 'Cape York', all_day: true, start: '2026-07-01', end: '2026-07-03' })
  assertEquals(trip.end, '2026-07-03')
  assertEquals((await days(sydney, '2026-07-03', '2026-07-10')).map((o) => o.occurrence), ['2026-07-01'], 'a multi-day event shows on its later days')
})

Deno.test('you: an all-day event on a 23-hour spring-forward day ends that day, and moves and recurs by whole days', async () => {
  for (
    const [tz, day, startsAt, endsAt] of [
      ['Australia/Sydney', '2026-10-04', '2026-10-03T14:00:00.000000Z', '2026-10-04T13:00:00.000000Z'], // forward at 02:00
      ['America/New_York', '2026-03-08', '2026-03-08T05:00:00.000000Z', '2026-03-09T04:00:00.000000Z'],
    ]
  ) {
    const user = await traveller(tz)
    const change = async (id: string, body: Json, start: string, end: string) => {
      const res = await youAs(user)(`events/${id}`, { method: 'PATCH', body })
      assertEquals([res.status, res.body.event?.start, res.body.event?.end], [200, start, end], `${tz} ${JSON.stringify(body)}: ${show(res)}`)
    }
    const e = await add(user, { title: 'Rest day', all_day: true, start: day })
    assertEquals([e.start, e.end, e.starts_at, e.ends_at], [day, day, startsAt, endsAt], `${tz}: midnight to midnight, 23 hours`)
    assertEquals((await youAs(user)(`events/${e.id}`)).body.event.end, day, tz)
    assertEquals((await days(user, day, day)).map((o) => [o.date, o.occurrence]), [[day, day]], tz)
    await change(e.id, { recurrence: 'FREQ=WEEKLY' }, day, day)
    await change(e.id, { start: addDays(day, 6) }, addDays(day, 6), addDays(day, 6))
    await change(e.id, { start: day }, day, day)
    // Three days across it stay three days wherever they go (2026-11-01 is 25 hours in New York).
    const trip = await add(user, { title: 'Coast', all_day: true, start: addDays(day, -1), end: addDays(day, 1) })
    assertEquals(trip.end, addDays(day, 1), tz)
    await change(trip.id, { start: '2026-11-01' }, '2026-11-01', '2026-11-03')
    await change(trip.id, { start: addDays(day, -2) }, addDays(day, -2), day)
  }
})

Deno.test('you: a timed event moved across a daylight-saving change keeps its hours', async () => {
  const user = await traveller('Australia/Sydney')
  for (
    const [tz, from, to, end] of [
      ['Australia/Sydney', '2026-09-26T22:00', '2026-10-03T22:00', '2026-10-04T07:00'], // forward an hour at 02:00
      ['Australia/Sydney', '2026-03-28T22:00', '2026-04-04T22:00', '2026-04-05T05:00'], // back an hour at 03:00
      ['America/New_York', '2026-02-28T22:00', '2026-03-07T22:00', '2026-03-08T07:00'],
    ]
  ) {
    const e = await add(user, { title: 'Night drive', start: from, end: `${addDays(from.slice(0, 10), 1)}T06:00`, time_zone: tz })
    const res = await youAs(user)(`events/${e.id}`, { method: 'PATCH', body: { start: to } })
    assertEquals([res.status, res.body.event?.start, res.body.event?.end], [200, to, end], `${tz}: ${show(res)}`)
    assertEquals(Date.parse(res.body.event.ends_at) - Date.parse(res.body.event.starts_at), 8 * 3_600_000, `${tz}: 8 hours`)
  }
})

Deno.test("you: a weekly 09:00 in Sydney stays 09:00 across April's and October's changes", async () => {
  const user = await traveller('Australia/Sydney')
  await add(user, { title: 'Market', start: '2026-03-29T09:00', recurrence: 'FREQ=WEEKLY;COUNT=3' })
  const april = await days(user, '2026-03-01', '2026-04-30')
  assertEquals(april.map((o) => [o.local_start, o.starts_at]), [
    ['2026-03-29T09:00', '2026-03-28T22:00:00.000Z'], // AEDT, +11
    ['2026-04-05T09:00', '2026-04-04T23:00:00.000Z'], // the change was at 03:00 that morning: AEST, +10
    ['2026-04-12T09:00', '2026-04-11T23:00:00.000Z'],
  ])
  await add(user, { title: 'Swim', start: '2026-09-27T09:00', recurrence: 'FREQ=WEEKLY;INTERVAL=1;UNTIL=20261011' })
  const october = (await days(user, '2026-09-01', '2026-10-31')).filter((o) => o.title === 'Swim')
  assertEquals(october.map((o) => [o.occurrence, o.starts_at]), [
    ['2026-09-27T09:00', '2026-09-26T23:00:00.000Z'],
    ['2026-10-04T09:00', '2026-10-03T22:00:00.000Z'], // AEDT from 02:00 that morning
    ['2026-10-11T09:00', '2026-10-10T22:00:00.000Z'],
  ])
})

Deno.test('you: 02:30 on a spring-forward day is 03:30 (the hour that does not exist moves forward)', async () => {
  const user = await traveller('Australia/Sydney')
  const e = await add(user, { title: 'Early start', start: '2026-10-04T02:30' })
  assertEquals([e.starts_at, e.start], ['2026-10-03T16:30:00.000000Z', '2026-10-04T03:30'])
  await add(user, { title: 'Generator off', start: '2026-10-03T02:30', recurrence: 'FREQ=DAILY;COUNT=3' })
  const daily = (await days(user, '2026-10-03', '2026-10-05')).filter((o) => o.title === 'Generator off')
  assertEquals(daily.map((o) => o.local_start), ['2026-10-03T02:30', '2026-10-04T03:30', '2026-10-05T02:30'])
})

Deno.test("you: Adelaide's half-hour offset and Lord Howe's half-hour daylight saving", async () => {
  const adelaide = await traveller('Australia/Adelaide')
  await add(adelaide, { title: 'Tyres', start: '2026-06-15T09:00' })
  const [seen] = await days(adelaide, '2026-06-15', '2026-06-15', 'Australia/Brisbane')
  assertEquals([seen.starts_at, seen.local_start], ['2026-06-14T23:30:00.000Z', '2026-06-15T09:30'])

  const lordHowe = await traveller('Australia/Lord_Howe')
  await add(lordHowe, { title: 'Walk', start: '2026-10-03T09:00', recurrence: 'FREQ=DAILY;COUNT=2' })
  assertEquals((await days(lordHowe, '2026-10-03', '2026-10-04')).map((o) => [o.local_start, o.starts_at]), [
    ['2026-10-03T09:00', '2026-10-02T22:30:00.000Z'], // +10:30
    ['2026-10-04T09:00', '2026-10-03T22:00:00.000Z'], // +11 from 02:00 (clocks forward half an hour)
  ])
})

Deno.test('you: a traveller in Auckland looks at an event entered in Perth', async () => {
  const user = await traveller('Pacific/Auckland')
  const e = await add(user, { title: 'Call the mechanic in Perth', start: '2026-05-10T21:00', time_zone: 'Australia/Perth' })
  assertEquals([e.time_zone, e.start, e.starts_at], ['Australia/Perth', '2026-05-10T21:00', '2026-05-10T13:00:00.000000Z'])
  assertEquals(await days(user, '2026-05-10', '2026-05-10'), [], 'in Auckland it is already the 11th')
  const [o] = await days(user, '2026-05-11', '2026-05-11')
  assertEquals([o.date, o.local_start, o.time_zone], ['2026-05-11', '2026-05-11T01:00', 'Australia/Perth'])
  // A zone given in another case is kept, and answered, by its name.
  const again = await add(user, { title: 'Call back', start: '2026-05-12T09:00', time_zone: 'australia/PERTH' })
  assertEquals(again.time_zone, 'Australia/Perth')
  const asked = await youAs(user)('calendar?from=2026-05-12&to=2026-05-12&time_zone=pacific/auckland')
  assertEquals([asked.status, asked.body.time_zone], [200, 'Pacific/Auckland'], show(asked))
})

Deno.test('you: recurrences against hand-written occurrences', async () => {
  const user = await traveller('UTC')
  const cases: [string, string, string[]][] = [
    ['FREQ=MONTHLY;COUNT=4', '2026-01-31T10:00', ['2026-01-31T10:00', '2026-03-31T10:00', '2026-05-31T10:00', '2026-07-31T10:00']],
    ['FREQ=WEEKLY;INTERVAL=2;UNTIL=20260601', '2026-04-05T08:00', ['2026-04-05T08:00', '2026-04-19T08:00', '2026-05-03T08:00',
      '2026-05-17T08:00', '2026-05-31T08:00']],
    ['FREQ=DAILY;INTERVAL=3;UNTIL=20260110', '2026-01-01T07:00', ['2026-01-01T07:00', '2026-01-04T07:00', '2026-01-07T07:00',
      '2026-01-10T07:00']],
    ['FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4', '2026-04-07T08:00', ['2026-04-07T08:00', '2026-04-09T08:00', '2026-04-14T08:00',
      '2026-04-16T08:00']],
    ['FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;UNTIL=20260501', '2026-04-06T07:30', ['2026-04-06T07:30', '2026-04-10T07:30',
      '2026-04-20T07:30', '2026-04-24T07:30']],
  ]
  for (const [recurrence, start, expected] of cases) {
    const e = await add(user, { title: recurrence, start, recurrence })
    const got = (await days(user, '2025-12-01', '2026-02-28')).concat(await days(user, '2026-03-01', '2026-05-31'),
      await days(user, '2026-06-01', '2026-08-31')).filter((o) => o.event_id === e.id).map((o) => o.occurrence)
    assertEquals(got, expected, recurrence)
  }
  const forever = await add(user, { title: 'Forever', start: '2026-01-01T06:00', recurrence: 'FREQ=DAILY' })
  assertEquals((await days(user, '2030-02-01', '2030-02-03')).filter((o) => o.event_id === forever.id).length, 3)
})

Deno.test('you: event validation names the field and stores nothing', async () => {
  const user = await traveller('Australia/Sydney')
  const other = await signUp()
  const [{ id: theirTrip }] = await adminSql`insert into pam.trips (user_id, name) values (${other.id}, 'Theirs') returning id`
  const bad: [Json, string, string?][] = [
    [{ title: 'x', start: '2026-04-05' }, 'start'],
    [{ title: 'x', all_day: true, start: '2026-04-05T09:00' }, 'start'],
    [{ title: 'x', start: '2026-04-05T09:00', end: '2026-04-05T08:00' }, 'end'],
    [{ title: 'x', start: '2026-04-05T09:00', end: '2026-04-05' }, 'end'],
    [{ title: 'x', start: '2026-02-30T09:00' }, 'start'],
    [{ title: 'x', start: '2026-04-05T24:00' }, 'start'],
    [{ title: 'x', start: '2026-04-05T09:00', time_zone: 'Mars/Olympus' }, 'time_zone'],
    [{ title: 'x', start: '2026-04-05T09:00', recurrence: 'FREQ=YEARLY' }, 'recurrence'],
    [{ title: 'x', start: '2026-04-05T09:00', recurrence: 'FREQ=DAILY;BYDAY=MO' }, 'recurrence'],
    [{ title: 'x', start: '2026-04-05T09:00', recurrence: 'FREQ=WEEKLY;BYDAY=XX' }, 'recurrence'],
    [{ title: 'x', start: '2026-04-05T09:00', reminders: [-5] }, 'reminders'],
    [{ title: 'x', start: '2026-04-05T09:00', reminders: [1, 2, 3, 4, 5, 6] }, 'reminders'],
    [{ title: 'x', start: '2026-04-05T09:00', latitude: -33 }, 'latitude'],
    [{ title: 'x', start: '2026-04-05T09:00', trip_id: theirTrip }, 'trip_id', 'unknown_trip'],
    [{ title: '', start: '2026-04-05T09:00' }, 'title'],
  ]
  for (const [body, field, code] of bad) {
    const res = await youAs(user)('events', { method: 'POST', body })
    assertEquals(res.status, 400, `${JSON.stringify(body)}: ${show(res)}`)
    assert(JSON.stringify(res.body.error.details ?? '').includes(field), `${JSON.stringify(body)} names ${field}: ${show(res)}`)
    if (code) assertEquals(res.body.error.code, code)
  }
  const [{ n }] = await adminSql`select count(*)::int as n from pam.calendar_events where user_id = ${user.id}`
  assertEquals(n, 0)
  for (const q of ['from=2026-04-05&to=2026-04-01', 'from=2026-01-01&to=2026-12-31', 'from=2026-04-05', 'from=2026-04-05&to=2026-04-06&time_zone=Nowhere']) {
    assertEquals((await youAs(user)(`calendar?${q}`)).status, 400, q)
  }
})

Deno.test("you: another traveller's events are nobody else's", async () => {
  const [a, b] = [await traveller('UTC'), await traveller('UTC')]
  const e = await add(a, { title: 'Mine', start: '2026-04-05T09:00' })
  assertEquals((await youAs(b)(`events/${e.id}`)).status, 404)
  assertEquals((await youAs(b)(`events/${e.id}`, { method: 'PATCH', body: { title: 'x' } })).status, 404)
  assertEquals(await days(b, '2026-04-05', '2026-04-05'), [])
})

Deno.test('you RLS: calendar_events', async () => {
  await checkRls({
    table: 'calendar_events',
    createOwned: async (owner) =>
      (await adminSql`insert into pam.calendar_events (user_id, title, time_zone, starts_at, ends_at)
        values (${owner}, 'Mine', 'UTC', now(), now() + interval '1 hour') returning id`)[0].id,
    insertValues: (userId) => ({ user_id: userId, title: 'New', time_zone: 'UTC', starts_at: '2026-04-05T09:00Z', ends_at: '2026-04-05T10:00Z' }),
    updateValues: { title: 'changed' },
    ownerMayDelete: true,
  })
})
