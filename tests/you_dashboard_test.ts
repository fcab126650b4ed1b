// GET /you/dashboard: the home screen's figures are the figures of the routes
// they summarise (calendar, due maintenance, monthly budgets, today's
// spending, the next trip, unread notifications, weather), cached briefly and
// dropped by writes to any of them.
import { assert, assertEquals, type Json } from './_support/assert.ts'
import { adminSql, signUp, type TestUser } from './_support/stack.ts'
import { type Answer, functionAs, winsAs } from './_support/wins.ts'
import { wheelsAs } from './_support/wheels.ts'
import { addDays } from '../supabase/functions/_shared/dates.ts'
import { localDate } from '../supabase/functions/_shared/timezone.ts'

const youAs = functionAs('you')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`
const TZ = 'Australia/Sydney'

async function ok(res: Promise<Answer>, status = 200): Promise<Json> {
  const r = await res
  assertEquals(r.status, status, show(r))
  return r.body
}

async function traveller(): Promise<TestUser> {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = ${{ timezone: TZ, currency: 'AUD' } as never}::jsonb where id = ${user.id}`
  return user
}

Deno.test('you: the dashboard shows what the routes show, in one call', async () => {
  const user = await traveller()
  const today = localDate(new Date(), TZ)
  const tomorrow = addDays(today, 1)
  const you = youAs(user)
  await ok(you('events', { method: 'POST', body: { title: 'Dump point run', start: `${today}T23:30` } }), 201)
  await ok(you('events', { method: 'POST', body: { title: 'Rest day', all_day: true, start: tomorrow } }), 201)
  await ok(you('events', { method: 'POST', body: { title: 'Later', start: `${addDays(today, 3)}T09:00` } }), 201)
  const { vehicle } = await ok(wheelsAs(user)('vehicles', { method: 'POST', body: { name: 'Troopy', current_odometer: 90_000 } }), 201)
  await ok(wheelsAs(user)('maintenance', {
    method: 'POST',
    body: { vehicle_id: vehicle.id, task: 'Oil and filter', date: addDays(today, -170), odometer: 95_000, interval_days: 180 },
  }), 201)
  await ok(winsAs(user)('budgets/fuel', { method: 'PUT', body: { amount: '500.00' } }), 201)
  await ok(winsAs(user)('expenses', { method: 'POST', body: { amount: '84.20', category: 'fuel', date: today } }), 201)
  await ok(winsAs(user)('expenses', { method: 'POST', body: { amount: '12.00', category: 'food', date: addDays(today, -1) } }), 201)
  const { trip } = await ok(wheelsAs(user)('trips', { method: 'POST', body: { name: 'Up the coast', start_date: tomorrow } }), 201)
  await adminSql`insert into pam.notifications (user_id, kind, title) values (${user.id}, 'social', 'one'), (${user.id}, 'social', 'two')`

  const res = await you('dashboard')
  assertEquals([res.status, res.headers.get('x-cache')], [200, 'miss'], show(res))
  const d = res.body
  const calendar = await ok(you(`calendar?from=${today}&to=${tomorrow}`))
  assertEquals(d.events.today, calendar.occurrences.filter((o: Json) => o.date === today))
  assertEquals(d.events.tomorrow.map((o: Json) => o.title), ['Rest day'])
  assertEquals(d.maintenance_due, (await ok(wheelsAs(user)('maintenance/due?within_days=30&within_km=1000'))).due)
  assertEquals(d.maintenance_due.length, 1)
  const budgets = (await ok(winsAs(user)('budgets?period=monthly'))).budgets
  assertEquals(d.budgets, budgets)
  assertEquals(d.budgets[0].current.spent, '84.20')
  assertEquals([d.today, d.time_zone, d.currency, d.spent_today], [today, TZ, 'AUD', '84.20'])
  assertEquals([d.next_trip.id, d.next_trip.name], [trip.id, 'Up the coast'])
  assertEquals([d.unread_notifications, d.weather], [2, null])

  // Cached, then dropped by a write to one of its sources; the unread count is live.
  const again = await you('dashboard')
  assertEquals(again.headers.get('x-cache'), 'hit')
  await adminSql`update pam.notifications set read_at = now() where user_id = ${user.id} and title = 'one'`
  assertEquals((await you('dashboard')).body.unread_notifications, 1)
  await ok(winsAs(user)('expenses', { method: 'POST', body: { amount: '5.80', category: 'food', date: today } }), 201)
  const after = await you('dashboard')
  assertEquals([after.headers.get('x-cache'), after.body.spent_today], ['miss', '90.00'])
  await ok(you('events', { method: 'POST', body: { title: 'Call home', start: `${today}T23:45` } }), 201)
  assertEquals((await you('dashboard')).body.events.today.map((o: Json) => o.title), ['Dump point run', 'Call home'])
  await ok(wheelsAs(user)(`trips/${trip.id}`, { method: 'PATCH', body: { status: 'completed' } }))
  assertEquals((await you('dashboard')).body.next_trip, null)
})

Deno.test('you: the dashboard brings the weather where the traveller is, and still comes without it', async () => {
  const user = await traveller()
  const d = await ok(youAs(user)('dashboard?lat=-33.87&lng=151.21'))
  assert(d.weather && typeof d.weather.current.temperature_c === 'number', JSON.stringify(d.weather))
  assertEquals((await youAs(user)('dashboard?lat=-33.87')).status, 400)
  assertEquals((await youAs(user)('dashboard?lat=95&lng=0')).status, 400)
})
