// GET /wheels/maintenance/due with a pinned clock (in-process wheels app):
// due by date (next_due_date, or date + interval_days) and by odometer
// (next_due_odometer, or odometer + interval_distance, against the vehicle's
// current odometer), the within_days / within_km boundaries, overdue items,
// the latest record of a task deciding, miles vehicles, "today" in the user's
// time zone, sorting, the vehicle filter, validation; and the cache: a hit on
// the second identical call, a miss with the new answer after every kind of
// write that can move an odometer or a due date (Wheels and Wins alike).
import { assertEquals, type Json } from './_support/assert.ts'
import type { TestUser } from './_support/stack.ts'
import type { Call } from './_support/wins.ts'
import { userWith, winsAppAt } from './_support/wins.ts'
import { wheelsApp } from './_support/wheels.ts'
import { authAppWith } from './_support/apps.ts'

// Tuesday 10 March 2026, 02:00 UTC (12:00 in Brisbane, 13:00 in Sydney): the same day everywhere used below.
const TEN_MARCH = '2026-03-10T02:00:00Z'

/** A fresh user in `timezone` (none: the profile has no time zone) and their in-process wheels app at `now`. */
async function traveller(now: string | (() => Date), timezone?: string, overrides: Record<string, string> = {}) {
  const user = await userWith(timezone ? { timezone } : {})
  const clock = typeof now === 'string' ? () => new Date(now) : now
  return { user, w: wheelsApp(overrides, clock)(user) }
}

async function created(w: Call, path: string, body: Record<string, unknown>): Promise<Json> {
  const res = await w(path, { method: 'POST', body })
  assertEquals(res.status, 201, `${path}: ${JSON.stringify(res.body)}`)
  return res.body
}

const vehicle = async (w: Call, body: Record<string, unknown> = {}): Promise<string> =>
  (await created(w, 'vehicles', { name: 'Troopy', ...body })).vehicle.id

const maintenance = async (w: Call, vehicle_id: string, body: Record<string, unknown>): Promise<Json> =>
  (await created(w, 'maintenance', { vehicle_id, ...body })).record

async function due(w: Call, query = ''): Promise<Json> {
  const res = await w(`maintenance/due${query}`)
  assertEquals(res.status, 200, `due${query}: ${JSON.stringify(res.body)}`)
  return res.body
}

/** What a due item says, briefly. */
const brief = (items: Json[]) =>
  items.map((i) => ({ task: i.task, days_left: i.days_left, distance_left: i.distance_left, status: i.status, by: i.by }))

const tasks = (items: Json[]) => items.map((i) => i.task)

Deno.test('wheels due: by date — next_due_date, else date + interval_days; within_days inclusive', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const v = await vehicle(w)
  const rego = await maintenance(w, v, { task: 'Registration', date: '2025-04-09', next_due_date: '2026-04-09' }) // 30 days
  await maintenance(w, v, { task: 'Insurance', date: '2025-04-10', next_due_date: '2026-04-10' }) // 31 days
  await maintenance(w, v, { task: 'Brake fluid', date: '2025-03-20', interval_days: 365 }) // 2026-03-20: 10 days
  await maintenance(w, v, { task: 'Coolant', date: '2025-01-01', interval_days: 400 }) // 2026-02-05: 33 days ago
  await maintenance(w, v, { task: 'Gas certificate', date: '2025-03-10', next_due_date: '2026-03-10' }) // today
  // next_due_date wins over date + interval_days (2026-01-31, which would be overdue).
  await maintenance(w, v, { task: 'Wipers', date: '2026-01-01', interval_days: 30, next_due_date: '2026-06-01' })
  // No due information: never listed, however wide the window.
  await maintenance(w, v, { task: 'Wash', date: '2026-03-01', cost: '20.00' })

  const body = await due(w)
  assertEquals([body.today, body.within_days, body.within_km], ['2026-03-10', 30, 1000])
  assertEquals(brief(body.due), [
    { task: 'Coolant', days_left: -33, distance_left: null, status: 'overdue', by: ['date'] },
    { task: 'Gas certificate', days_left: 0, distance_left: null, status: 'due', by: ['date'] },
    { task: 'Brake fluid', days_left: 10, distance_left: null, status: 'due', by: ['date'] },
    { task: 'Registration', days_left: 30, distance_left: null, status: 'due', by: ['date'] },
  ])
  assertEquals(body.due[3], {
    record_id: rego.id,
    vehicle_id: v,
    vehicle_name: 'Troopy',
    task: 'Registration',
    last_done: { date: '2025-04-09', odometer: null },
    due_date: '2026-04-09',
    due_odometer: null,
    odometer_unit: 'km',
    current_odometer: 0,
    days_left: 30,
    distance_left: null,
    status: 'due',
    by: ['date'],
  })
  assertEquals(body.due.find((i: Json) => i.task === 'Brake fluid').due_date, '2026-03-20')
  assertEquals(body.due.find((i: Json) => i.task === 'Coolant').due_date, '2026-02-05')

  // One day past the window, and one day more of window.
  assertEquals(tasks((await due(w, '?within_days=29')).due), ['Coolant', 'Gas certificate', 'Brake fluid'])
  assertEquals(tasks((await due(w, '?within_days=31')).due), ['Coolant', 'Gas certificate', 'Brake fluid', 'Registration', 'Insurance'])
  // Overdue and due today are listed with the narrowest window.
  assertEquals(tasks((await due(w, '?within_days=1')).due), ['Coolant', 'Gas certificate'])
  const widest = await due(w, '?within_days=3650')
  assertEquals(widest.within_days, 3650)
  assertEquals(tasks(widest.due), ['Coolant', 'Gas certificate', 'Brake fluid', 'Registration', 'Insurance', 'Wipers'])
})

Deno.test('wheels due: by odometer — next_due_odometer, else odometer + interval_distance; within_km inclusive', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const v = await vehicle(w)
  // Readings in calendar order; each advances the vehicle's odometer.
  const oil = await maintenance(w, v, { task: 'Oil and filter', date: '2026-01-05', odometer: 40000, interval_distance: 10000 }) // 50000
  // next_due_odometer wins over odometer + interval_distance (60100).
  await maintenance(w, v, { task: 'Tyre rotation', date: '2026-01-06', odometer: 40100, next_due_odometer: 48000, interval_distance: 20000 })
  await maintenance(w, v, { task: 'Air filter', date: '2026-01-07', odometer: 40200, interval_distance: 9801 }) // 50001
  await maintenance(w, v, { task: 'Fuel filter', date: '2026-01-08', odometer: 40300, interval_distance: 9200 }) // 49500
  // An interval without a reading to count from: nothing is due.
  await maintenance(w, v, { task: 'Spark plugs', date: '2026-01-09', interval_distance: 5000 })
  await maintenance(w, v, { task: 'Diff oil', date: '2026-01-10', odometer: 40400 })
  assertEquals((await w(`vehicles/${v}`)).body.vehicle.current_odometer, 40400)
  assertEquals((await due(w)).due, [])

  assertEquals((await w(`vehicles/${v}`, { method: 'PATCH', body: { current_odometer: 49000 } })).status, 200)
  const body = await due(w)
  assertEquals(brief(body.due), [
    { task: 'Tyre rotation', days_left: null, distance_left: -1000, status: 'overdue', by: ['odometer'] },
    { task: 'Fuel filter', days_left: null, distance_left: 500, status: 'due', by: ['odometer'] },
    { task: 'Oil and filter', days_left: null, distance_left: 1000, status: 'due', by: ['odometer'] },
  ])
  assertEquals(body.due[2], {
    record_id: oil.id,
    vehicle_id: v,
    vehicle_name: 'Troopy',
    task: 'Oil and filter',
    last_done: { date: '2026-01-05', odometer: 40000 },
    due_date: null,
    due_odometer: 50000,
    odometer_unit: 'km',
    current_odometer: 49000,
    days_left: null,
    distance_left: 1000,
    status: 'due',
    by: ['odometer'],
  })
  assertEquals(body.due[0].due_odometer, 48000)
  // One km past the window, and one more km of window.
  assertEquals(tasks((await due(w, '?within_km=999')).due), ['Tyre rotation', 'Fuel filter'])
  assertEquals(tasks((await due(w, '?within_km=1001')).due), ['Tyre rotation', 'Fuel filter', 'Oil and filter', 'Air filter'])
  // Spark plugs and Diff oil never.
  assertEquals(tasks((await due(w, '?within_km=1000000&within_days=3650')).due), ['Tyre rotation', 'Fuel filter', 'Oil and filter', 'Air filter'])
})

Deno.test('wheels due: overdue — negative days_left / distance_left, and `by` says what', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const v = await vehicle(w, { current_odometer: 20000 })
  const item = (task: string, next_due_date: string, next_due_odometer: number) =>
    maintenance(w, v, { task, date: '2025-09-01', next_due_date, next_due_odometer })
  await item('Both overdue', '2026-03-01', 19000)
  await item('Date overdue', '2026-03-09', 20500)
  await item('Odometer overdue', '2026-12-01', 19999)
  await item('Both due', '2026-03-20', 20800)
  await item('Odometer due', '2026-12-01', 20300)
  await item('Date due', '2026-04-01', 25000)
  await item('Neither', '2026-12-01', 25000)
  assertEquals(brief((await due(w)).due), [
    { task: 'Both overdue', days_left: -9, distance_left: -1000, status: 'overdue', by: ['date', 'odometer'] },
    { task: 'Date overdue', days_left: -1, distance_left: 500, status: 'overdue', by: ['date'] },
    { task: 'Odometer overdue', days_left: 266, distance_left: -1, status: 'overdue', by: ['odometer'] },
    { task: 'Both due', days_left: 10, distance_left: 800, status: 'due', by: ['date', 'odometer'] },
    { task: 'Date due', days_left: 22, distance_left: 5000, status: 'due', by: ['date'] },
    { task: 'Odometer due', days_left: 266, distance_left: 300, status: 'due', by: ['odometer'] },
  ])
})

Deno.test('wheels due: the latest record of a task (any case) on a vehicle decides', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const a = await vehicle(w, { name: 'Troopy' })
  const b = await vehicle(w, { name: 'Van' })
  await maintenance(w, a, { task: 'Oil change', date: '2025-01-01', next_due_date: '2026-03-01' })
  const redone = await maintenance(w, a, { task: 'OIL CHANGE', date: '2026-03-05', next_due_date: '2026-09-05' })
  // A later record without due information: done, nothing known to be due.
  await maintenance(w, a, { task: 'Timing belt', date: '2025-06-01', next_due_date: '2026-03-15' })
  await maintenance(w, a, { task: 'timing belt', date: '2026-02-01' })
  // The same day: the later created.
  await maintenance(w, a, { task: 'Grease', date: '2026-03-01', next_due_date: '2026-03-12' })
  const grease = await maintenance(w, a, { task: 'grease', date: '2026-03-01', next_due_date: '2026-03-25' })
  // Created later but done earlier: the later date still decides.
  const tyres = await maintenance(w, a, { task: 'Tyres', date: '2026-02-01', next_due_date: '2026-03-20' })
  await maintenance(w, a, { task: 'tyres', date: '2025-12-01', next_due_date: '2026-03-11' })
  // Another vehicle's task of the same name is its own.
  const vanOil = await maintenance(w, b, { task: 'Oil change', date: '2025-01-02', next_due_date: '2026-03-02' })

  const body = await due(w)
  assertEquals(body.due.map((i: Json) => [i.vehicle_name, i.task, i.days_left, i.record_id]), [
    ['Van', 'Oil change', -8, vanOil.id],
    ['Troopy', 'Tyres', 10, tyres.id],
    ['Troopy', 'grease', 15, grease.id],
  ])
  // Deleting the latest brings the one before it back.
  assertEquals((await w(`maintenance/${redone.id}`, { method: 'DELETE' })).status, 204)
  const after = await due(w)
  assertEquals(after.due.map((i: Json) => [i.vehicle_name, i.task, i.days_left]), [
    ['Troopy', 'Oil change', -9],
    ['Van', 'Oil change', -8],
    ['Troopy', 'Tyres', 10],
    ['Troopy', 'grease', 15],
  ])
})

Deno.test('wheels due: miles vehicles — within_km is converted (1000 km ≈ 621.4 mi)', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const mi = await vehicle(w, { name: 'Winnebago', odometer_unit: 'mi', current_odometer: 20000 })
  const km = await vehicle(w, { name: 'Troopy', current_odometer: 20000 })
  for (const v of [mi, km]) {
    await maintenance(w, v, { task: 'Inside', date: '2026-01-01', next_due_odometer: 20621 })
    await maintenance(w, v, { task: 'Outside', date: '2026-01-01', next_due_odometer: 20622 })
    await maintenance(w, v, { task: 'Thousand', date: '2026-01-01', next_due_odometer: 21000 })
  }
  const listed = async (v: string, query = '') =>
    (await due(w, `?vehicle_id=${v}${query}`)).due.map((i: Json) => `${i.task}:${i.distance_left}${i.odometer_unit}`)
  // 1000 km = 621.37 mi: 621 mi is within it, 622 mi is not; the km vehicle has all three within 1000 km.
  assertEquals(await listed(mi), ['Inside:621mi'])
  assertEquals(await listed(km), ['Inside:621km', 'Outside:622km', 'Thousand:1000km'])
  // 1609 km = 999.8 mi, 1610 km = 1000.4 mi.
  assertEquals(await listed(mi, '&within_km=1609'), ['Inside:621mi', 'Outside:622mi'])
  assertEquals(await listed(mi, '&within_km=1610'), ['Inside:621mi', 'Outside:622mi', 'Thousand:1000mi'])
  assertEquals(await listed(km, '&within_km=621'), ['Inside:621km'])
  const [item] = (await due(w, `?vehicle_id=${mi}`)).due
  assertEquals([item.odometer_unit, item.current_odometer, item.due_odometer], ['mi', 20000, 20621])
})

Deno.test('wheels due: "today" is the user\'s day (2026-03-01T13:30Z is already 2 March in Sydney)', async () => {
  const at = '2026-03-01T13:30:00Z'
  const sydney = await traveller(at, 'Australia/Sydney')
  const utc = await traveller(at, 'UTC')
  const unset = await traveller(at) // no time zone in the profile: UTC
  for (const { w } of [sydney, utc, unset]) {
    const v = await vehicle(w)
    await maintenance(w, v, { task: 'Due 1 March', date: '2025-03-01', next_due_date: '2026-03-01' })
    await maintenance(w, v, { task: 'Due 31 March', date: '2025-03-31', next_due_date: '2026-03-31' })
    await maintenance(w, v, { task: 'Due 1 April', date: '2025-04-01', next_due_date: '2026-04-01' })
  }
  const s = await due(sydney.w)
  assertEquals(s.today, '2026-03-02')
  assertEquals(brief(s.due), [
    { task: 'Due 1 March', days_left: -1, distance_left: null, status: 'overdue', by: ['date'] },
    { task: 'Due 31 March', days_left: 29, distance_left: null, status: 'due', by: ['date'] },
    { task: 'Due 1 April', days_left: 30, distance_left: null, status: 'due', by: ['date'] },
  ])
  for (const { w } of [utc, unset]) {
    const u = await due(w)
    assertEquals(u.today, '2026-03-01')
    assertEquals(brief(u.due), [
      { task: 'Due 1 March', days_left: 0, distance_left: null, status: 'due', by: ['date'] },
      { task: 'Due 31 March', days_left: 30, distance_left: null, status: 'due', by: ['date'] },
    ])
  }
})

Deno.test('wheels due: a cached answer still counts from today (the clock moves, the cache holds)', async () => {
  let now = new Date('2026-03-01T12:59:00Z') // 23:59 on 1 March in Sydney
  const { w } = await traveller(() => now, 'Australia/Sydney')
  const v = await vehicle(w)
  await maintenance(w, v, { task: 'Rego', date: '2025-03-02', next_due_date: '2026-03-02' })
  const before = await w('maintenance/due')
  assertEquals([before.headers.get('x-cache'), before.body.today, before.body.due[0].days_left, before.body.due[0].status], [
    'miss',
    '2026-03-01',
    1,
    'due',
  ])
  now = new Date('2026-03-01T13:01:00Z') // 00:01 on 2 March in Sydney
  const after = await w('maintenance/due')
  assertEquals([after.headers.get('x-cache'), after.body.today, after.body.due[0].days_left, after.body.due[0].status], [
    'hit',
    '2026-03-02',
    0,
    'due',
  ])
  now = new Date('2026-03-02T13:01:00Z')
  const overdue = (await w('maintenance/due')).body.due[0]
  assertEquals([overdue.days_left, overdue.status, overdue.by], [-1, 'overdue', ['date']])
})

Deno.test('wheels due: sorted overdue first, then by days left, then by distance left', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const v = await vehicle(w, { current_odometer: 10000 })
  const item = (task: string, next_due_date: string | null, next_due_odometer: number | null) =>
    maintenance(w, v, { task, date: '2026-01-01', next_due_date, next_due_odometer })
  // Created in no particular order.
  await item('D', null, 10050) // due: no date, 50 km
  await item('A', '2026-03-15', null) // due: 5 days, no distance
  await item('F', null, 9990) // overdue by 10 km, no date
  await item('E', '2026-03-30', null) // due: 20 days
  await item('B', '2026-03-15', 10200) // due: 5 days, 200 km
  await item('H', '2026-04-04', 9995) // overdue by 5 km, 25 days
  await item('C', '2026-03-15', 10100) // due: 5 days, 100 km
  await item('G', '2026-03-08', null) // overdue by 2 days
  await item('I', null, 10050) // as D: by task
  const body = await due(w)
  assertEquals(body.due.map((i: Json) => [i.task, i.status, i.days_left, i.distance_left]), [
    ['G', 'overdue', -2, null],
    ['H', 'overdue', 25, -5],
    ['F', 'overdue', null, -10],
    ['C', 'due', 5, 100],
    ['B', 'due', 5, 200],
    ['A', 'due', 5, null],
    ['E', 'due', 20, null],
    ['D', 'due', null, 50],
    ['I', 'due', null, 50],
  ])
})

Deno.test('wheels due: vehicle_id filter; only the caller\'s own items', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const a = await vehicle(w, { name: 'Troopy' })
  const b = await vehicle(w, { name: 'Van' })
  await maintenance(w, a, { task: 'Rego', date: '2025-03-20', next_due_date: '2026-03-20' })
  await maintenance(w, b, { task: 'Rego', date: '2025-03-15', next_due_date: '2026-03-15' })
  await maintenance(w, b, { task: 'Tyres', date: '2025-03-25', next_due_date: '2026-03-25' })
  const other = await traveller(TEN_MARCH, 'UTC')
  const theirs = await vehicle(other.w, { name: 'Theirs' })
  await maintenance(other.w, theirs, { task: 'Rego', date: '2025-03-11', next_due_date: '2026-03-11' })

  const named = (body: Json) => body.due.map((i: Json) => `${i.vehicle_name}:${i.task}`)
  assertEquals(named(await due(w)), ['Van:Rego', 'Troopy:Rego', 'Van:Tyres'])
  assertEquals(named(await due(w, `?vehicle_id=${a}`)), ['Troopy:Rego'])
  assertEquals(named(await due(w, `?vehicle_id=${b}`)), ['Van:Rego', 'Van:Tyres'])
  assertEquals(named(await due(w, `?vehicle_id=${theirs}`)), [])
  assertEquals(named(await due(w, `?vehicle_id=${crypto.randomUUID()}`)), [])
  assertEquals(named(await due(other.w)), ['Theirs:Rego'])
  assertEquals((await w('maintenance/due?vehicle_id=not-a-uuid')).status, 400)
})

Deno.test('wheels due: within_days and within_km are whole numbers in range (400 otherwise)', async () => {
  const { w } = await traveller(TEN_MARCH, 'UTC')
  const bad = [
    'within_days=0',
    'within_days=3651',
    'within_days=abc',
    'within_days=-1',
    'within_days=1.5',
    'within_days=1e2',
    'within_days=%2010',
    'within_days=',
    'within_days=9999999999',
    'within_km=0',
    'within_km=1000001',
    'within_km=ten',
    'within_km=10.5',
    'within_km=-5',
    'within_km=',
  ]
  for (const q of bad) {
    const res = await w(`maintenance/due?${q}`)
    assertEquals(res.status, 400, q)
    assertEquals(res.body.error?.code, 'validation_failed', `${q}: ${JSON.stringify(res.body)}`)
  }
  const edges = await due(w, '?within_days=3650&within_km=1000000')
  assertEquals([edges.within_days, edges.within_km, edges.due], [3650, 1000000, []])
  const least = await due(w, '?within_days=1&within_km=1')
  assertEquals([least.within_days, least.within_km], [1, 1])
})

Deno.test('wheels due: cached; every write that can move an odometer or a due date makes the next read a miss', async () => {
  // One cache namespace for the wheels and wins apps, as in production (one cache, one prefix).
  const prefix = `twd${crypto.randomUUID().slice(0, 8)}:`
  const user = await userWith({ timezone: 'UTC' })
  const w = wheelsApp({ PAM_CACHE_PREFIX: prefix }, () => new Date(TEN_MARCH))(user)
  const wins = winsAppAt(TEN_MARCH, { PAM_CACHE_PREFIX: prefix })(user)
  const read = async () => {
    const res = await w('maintenance/due')
    assertEquals(res.status, 200, JSON.stringify(res.body))
    return { cache: res.headers.get('x-cache'), due: res.body.due.map((i: Json) => `${i.task}:${i.days_left}:${i.distance_left}`) }
  }
  const expectFresh = async (why: string, due: string[]) => {
    assertEquals(await read(), { cache: 'miss', due }, `after ${why}`)
    assertEquals(await read(), { cache: 'hit', due }, `cached after ${why}`)
  }

  await expectFresh('nothing', [])
  const v = await vehicle(w, { current_odometer: 10000 })
  await expectFresh('a vehicle is created', [])
  const oil = await maintenance(w, v, { task: 'Oil', date: '2026-01-01', odometer: 10000, interval_distance: 1500 })
  await expectFresh('maintenance is created', []) // 1500 km to go
  assertEquals((await w(`vehicles/${v}`, { method: 'PATCH', body: { current_odometer: 10600 } })).status, 200)
  await expectFresh('the vehicle is changed', ['Oil:null:900'])
  const rego = await maintenance(w, v, { task: 'Rego', date: '2025-03-20', next_due_date: '2026-03-20' })
  await expectFresh('maintenance is created', ['Rego:10:null', 'Oil:null:900'])
  assertEquals((await w(`maintenance/${rego.id}`, { method: 'PATCH', body: { next_due_date: '2026-03-05' } })).status, 200)
  await expectFresh('maintenance is changed', ['Rego:-5:null', 'Oil:null:900'])
  assertEquals((await w(`maintenance/${oil.id}`, { method: 'PATCH', body: { interval_distance: 1200 } })).status, 200)
  await expectFresh('an interval is changed', ['Rego:-5:null', 'Oil:null:600'])
  assertEquals((await w(`maintenance/${rego.id}`, { method: 'DELETE' })).status, 204)
  await expectFresh('maintenance is deleted', ['Oil:null:600'])

  const fill = await w('fuel', {
    method: 'POST',
    body: { vehicle_id: v, date: '2026-03-05', odometer: 10800, litres: '50.00', total_cost: '100.00' },
  })
  assertEquals(fill.status, 201, JSON.stringify(fill.body))
  await expectFresh('a fill-up', ['Oil:null:400'])
  const expense = await wins('expenses', {
    method: 'POST',
    body: { amount: '35.00', category: 'maintenance', date: '2026-03-08', vehicle_id: v, odometer: 11000 },
  })
  assertEquals(expense.status, 201, JSON.stringify(expense.body))
  await expectFresh('a Wins expense with an odometer reading', ['Oil:null:200'])
  assertEquals((await wins(`expenses/${expense.body.expense.id}`, { method: 'PATCH', body: { odometer: 11100 } })).status, 200)
  await expectFresh('a Wins expense\'s reading is changed', ['Oil:null:100'])
  assertEquals((await w(`fuel/${fill.body.fuel_log.id}`, { method: 'PATCH', body: { odometer: 10900 } })).status, 200)
  await expectFresh('a fill-up is changed', ['Oil:null:100'])

  // Refused writes and other users' writes leave the cache alone.
  const late = await w('fuel', {
    method: 'POST',
    body: { vehicle_id: v, date: '2026-03-09', odometer: 10500, litres: '10.00', total_cost: '20.00' },
  })
  assertEquals([late.status, late.body.error?.code], [409, 'odometer_out_of_order'])
  assertEquals((await read()).cache, 'hit')
  const other = wheelsApp({ PAM_CACHE_PREFIX: prefix }, () => new Date(TEN_MARCH))(await userWith())
  await vehicle(other, { current_odometer: 5 })
  assertEquals((await read()).cache, 'hit')

  assertEquals((await w(`vehicles/${v}`, { method: 'DELETE' })).status, 204)
  await expectFresh('the vehicle is deleted', [])
})

Deno.test('wheels due: a vehicle in the cache is the caller\'s own (keys by user)', async () => {
  const prefix = `twd${crypto.randomUUID().slice(0, 8)}:`
  const app = wheelsApp({ PAM_CACHE_PREFIX: prefix }, () => new Date(TEN_MARCH))
  const users: TestUser[] = [await userWith({ timezone: 'UTC' }), await userWith({ timezone: 'Australia/Sydney' })]
  for (const [n, u] of users.entries()) {
    const w = app(u)
    const v = await vehicle(w, { name: `Rig ${n}` })
    await maintenance(w, v, { task: `Task ${n}`, date: '2025-03-20', next_due_date: '2026-03-20' })
  }
  for (let round = 0; round < 2; round++) {
    for (const [n, u] of users.entries()) {
      const res = await app(u)('maintenance/due')
      assertEquals(res.headers.get('x-cache'), round === 0 ? 'miss' : 'hit')
      assertEquals(res.body.due.map((i: Json) => `${i.vehicle_name}:${i.task}`), [`Rig ${n}:Task ${n}`])
    }
  }
})

Deno.test('wheels due: a change of time zone is never answered from the old zone\'s cached items', async () => {
  // 13:30 UTC on 1 March: already 2 March in Sydney.
  const at = '2026-03-01T13:30:00Z'
  const prefix = `twd${crypto.randomUUID().slice(0, 8)}:`
  const user = await userWith({ timezone: 'Australia/Sydney' })
  // Both apps on the in-process cache (authAppWith's), so the auth app's drop reaches the wheels app.
  const w = wheelsApp({ PAM_CACHE_PREFIX: prefix, UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '' }, () => new Date(at))(user)
  const auth = authAppWith({ PAM_CACHE_PREFIX: prefix })
  const v = await vehicle(w)
  await maintenance(w, v, { task: 'Rego', date: '2025-03-01', next_due_date: '2026-03-01' })
  const sydney = await due(w)
  assertEquals([sydney.today, sydney.due[0].days_left, sydney.due[0].status], ['2026-03-02', -1, 'overdue'])
  assertEquals((await w('maintenance/due')).headers.get('x-cache'), 'hit')

  const patched = await auth('/me', { method: 'PATCH', token: user.accessToken, body: JSON.stringify({ preferences: { timezone: 'UTC' } }) })
  assertEquals(patched.status, 200)
  await patched.body?.cancel()
  const utc = await due(w)
  assertEquals([utc.today, utc.due[0].days_left, utc.due[0].status], ['2026-03-01', 0, 'due'], 'today in the new time zone')
})
