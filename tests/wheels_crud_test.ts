// /wheels/vehicles, /wheels/maintenance, /wheels/fuel, /wheels/trips and
// /wheels/places end to end through the gateway: create (exact shape and
// defaults), read, list (newest first, filters, keyset pages), patch, delete;
// validation that names the field and stores nothing; other users' ids and
// links to other users' vehicles and trips; a fill-up as the Wins expense it is.
import { assert, assertEquals, assertMatch, type Json } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { type Answer, type Call, dayIn, userWith, winsAs } from './_support/wins.ts'
import { wheelsAs } from './_support/wheels.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

/** Rows of `table` owned by `userId` (superuser count, past RLS). */
const count = async (table: string, userId: string) =>
  (await adminSql.unsafe(`select count(*)::int as n from pam.${table} where user_id = $1`, [userId]))[0].n as number

/** The row without its generated fields, after checking them. */
function generated(row: Json): Json {
  const { id, created_at, updated_at, ...rest } = row
  assertMatch(id, UUID)
  assertMatch(created_at, ISO)
  assertMatch(updated_at, ISO)
  return rest
}

async function create(call: Call, path: string, body: unknown, key: string): Promise<Json> {
  const res = await call(path, { method: 'POST', body })
  assertEquals(res.status, 201, `POST ${path}: ${show(res)}`)
  return res.body[key]
}

/** A 400 validation_failed whose details name `field` (one of them, when several would do; for unknown
 * fields, among the keys). */
function assertInvalid(res: Answer, field: string | string[] | null, why: string, code = 'validation_failed') {
  assertEquals(res.status, 400, `${why}: ${show(res)}`)
  assertEquals(res.body.error.code, code, `${why}: ${show(res)}`)
  if (field === null) return
  const fields = typeof field === 'string' ? [field] : field
  const details = res.body.error.details as { path: (string | number)[]; keys?: string[] }[]
  assert(Array.isArray(details), `${why}: details ${show(res)}`)
  assert(
    details.some((d) => fields.includes(String(d.path[0])) || d.keys?.some((k) => fields.includes(k))),
    `${why}: expected the details to name ${fields.join(' or ')}: ${show(res)}`,
  )
}

/** Every page of a list: the ids in order, and how many pages it took. */
async function allPages(call: Call, path: string, key: string, limit: number) {
  const ids: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const sep = path.includes('?') ? '&' : '?'
    const res: Answer = await call(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    assertEquals(res.status, 200, `${path}: ${show(res)}`)
    assert(res.body[key].length <= limit)
    ids.push(...res.body[key].map((r: Json) => r.id))
    cursor = res.body.next_cursor
    pages++
    assert(pages < 100, 'the pages end')
  } while (cursor)
  return { ids, pages }
}

async function listIds(call: Call, path: string, key: string): Promise<string[]> {
  const res = await call(path)
  assertEquals(res.status, 200, `${path}: ${show(res)}`)
  return res.body[key].map((r: Json) => r.id)
}

/** A vehicle of the user's, straight into the table. */
async function vehicleOf(userId: string, fields: Record<string, unknown> = {}): Promise<string> {
  const [v] = await adminSql`insert into pam.vehicles ${adminSql({ user_id: userId, name: 'Troopy', ...fields } as never)} returning id`
  return v.id
}
async function tripOf(userId: string): Promise<string> {
  const [t] = await adminSql`insert into pam.trips (user_id, name) values (${userId}, 'Red Centre') returning id`
  return t.id
}

// ---------------------------------------------------------------- vehicles

Deno.test('wheels vehicles: create with defaults and with every field, read, patch (null clears), delete', async () => {
  const user = await signUp()
  const w = wheelsAs(user)

  const minimal = await create(w, 'vehicles', { name: '  The Troopy  ' }, 'vehicle')
  assertEquals(minimal.created_at, minimal.updated_at)
  assertEquals(generated(minimal), {
    name: 'The Troopy',
    type: 'motorhome',
    make: null,
    model: null,
    year: null,
    fuel_type: null,
    tank_capacity: null,
    current_odometer: 0,
    odometer_unit: 'km',
    height_m: null,
    width_m: null,
    length_m: null,
    weight_t: null,
    notes: '',
  })

  const input = {
    name: 'Big Rig',
    type: 'fifth_wheel',
    make: 'Toyota',
    model: 'LandCruiser 78',
    year: 2019,
    fuel_type: 'diesel',
    tank_capacity: 180.5,
    current_odometer: 184200,
    odometer_unit: 'mi',
    height_m: 3.25,
    width_m: 2.5,
    length_m: 11.5,
    weight_t: 4.75,
    notes: 'Line one\nline two\twith a tab',
  }
  const full = await create(w, 'vehicles', input, 'vehicle')
  assertEquals(generated(full), input)

  const read = await w(`vehicles/${full.id}`)
  assertEquals(read.status, 200)
  assertEquals(read.body, { vehicle: full })

  const patched = await w(`vehicles/${full.id}`, {
    method: 'PATCH',
    body: { make: null, model: null, year: null, fuel_type: null, tank_capacity: null, height_m: null, notes: '', name: 'Renamed' },
  })
  assertEquals(patched.status, 200, show(patched))
  const v = patched.body.vehicle
  assertEquals([v.make, v.model, v.year, v.fuel_type, v.tank_capacity, v.height_m, v.notes, v.name], [null, null, null, null, null, null, '', 'Renamed'])
  assertEquals([v.width_m, v.length_m, v.weight_t, v.current_odometer, v.type], [2.5, 11.5, 4.75, 184200, 'fifth_wheel'], 'untouched fields stay')
  assert(v.updated_at > full.updated_at, 'updated_at moves')
  assertEquals(v.created_at, full.created_at)
  assertEquals((await w(`vehicles/${full.id}`)).body.vehicle, v)

  // Nothing to update, unknown fields, and null for a field that cannot be null.
  const empty = await w(`vehicles/${full.id}`, { method: 'PATCH', body: {} })
  assertInvalid(empty, null, 'empty patch')
  assert(JSON.stringify(empty.body.error.details).includes('nothing to update'), show(empty))
  assertInvalid(await w(`vehicles/${full.id}`, { method: 'PATCH', body: { colour: 'red' } }), 'colour', 'unknown field')
  assertInvalid(await w(`vehicles/${full.id}`, { method: 'PATCH', body: { user_id: crypto.randomUUID() } }), 'user_id', 'user_id')
  assertInvalid(await w(`vehicles/${full.id}`, { method: 'PATCH', body: { name: null } }), 'name', 'null name')
  assertInvalid(await w(`vehicles/${full.id}`, { method: 'PATCH', body: { type: null } }), 'type', 'null type')
  assertInvalid(await w(`vehicles/${full.id}`, { method: 'PATCH', body: { notes: null } }), 'notes', 'null notes')
  assertInvalid(await w(`vehicles/${full.id}`, { method: 'PATCH', body: { year: 1899 } }), 'year', 'patched year out of range')
  assertEquals((await w(`vehicles/${full.id}`)).body.vehicle, v, 'refused patches change nothing')

  assertEquals((await w(`vehicles/${full.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`vehicles/${full.id}`)).status, 404)
  assertEquals((await w(`vehicles/${full.id}`)).body.error.code, 'not_found')
  assertEquals((await w(`vehicles/${full.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await w(`vehicles/${full.id}`, { method: 'PATCH', body: { name: 'Ghost' } })).status, 404)
  assertEquals(await listIds(w, 'vehicles', 'vehicles'), [minimal.id])
})

Deno.test('wheels vehicles: deleting one takes its maintenance along and unlinks its trips and fill-ups', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await create(w, 'vehicles', { name: 'Doomed' }, 'vehicle')
  const record = await create(w, 'maintenance', { vehicle_id: vehicle.id, task: 'Oil', date: '2026-03-01' }, 'record')
  const trip = await create(w, 'trips', { name: 'Loop', vehicle_id: vehicle.id }, 'trip')
  const fill = await create(w, 'fuel', { vehicle_id: vehicle.id, litres: '10.00', total_cost: '20.00', date: '2026-03-02' }, 'fuel_log')
  assertEquals((await w(`vehicles/${vehicle.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`maintenance/${record.id}`)).status, 404)
  assertEquals((await w(`trips/${trip.id}`)).body.trip.vehicle_id, null)
  const f = await w(`fuel/${fill.id}`)
  assertEquals([f.status, f.body.fuel_log.vehicle_id, f.body.fuel_log.total_cost], [200, null, '20.00'])
})

Deno.test('wheels vehicles: bad input is a 400 naming the field, and stores nothing', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const ok = { name: 'Troopy' }
  const cases: [unknown, string | null, string][] = [
    [{}, 'name', 'missing name'],
    [{ name: '' }, 'name', 'empty name'],
    [{ name: '   ' }, 'name', 'blank name'],
    [{ name: 'x'.repeat(101) }, 'name', 'name too long'],
    [{ name: 'a\u0000b' }, 'name', 'NUL in the name'],
    [{ name: 'two\nlines' }, 'name', 'line break in a one-line field'],
    [{ name: 'bad \ud800 surrogate' }, 'name', 'lone surrogate'],
    [{ name: 42 }, 'name', 'a number as name'],
    [{ ...ok, notes: 'bell\u0007' }, 'notes', 'control character in notes'],
    [{ ...ok, notes: 'x'.repeat(2001) }, 'notes', 'notes too long'],
    [{ ...ok, make: 'x'.repeat(61) }, 'make', 'make too long'],
    [{ ...ok, model: 'tab\there' }, 'model', 'tab in a one-line field'],
    [{ ...ok, type: 'bus' }, 'type', 'unknown type'],
    [{ ...ok, year: 1899 }, 'year', 'year too early'],
    [{ ...ok, year: 2101 }, 'year', 'year too late'],
    [{ ...ok, year: 2000.5 }, 'year', 'fractional year'],
    [{ ...ok, year: '2019' }, 'year', 'year as a string'],
    [{ ...ok, fuel_type: 'coal' }, 'fuel_type', 'unknown fuel type'],
    [{ ...ok, tank_capacity: 0 }, 'tank_capacity', 'empty tank'],
    [{ ...ok, tank_capacity: -5 }, 'tank_capacity', 'negative tank'],
    [{ ...ok, tank_capacity: 2000.1 }, 'tank_capacity', 'tank too big'],
    [{ ...ok, tank_capacity: 80.25 }, 'tank_capacity', 'tank with two decimals'],
    [{ ...ok, current_odometer: -1 }, 'current_odometer', 'negative odometer'],
    [{ ...ok, current_odometer: 10_000_001 }, 'current_odometer', 'odometer too big'],
    [{ ...ok, current_odometer: 1.5 }, 'current_odometer', 'fractional odometer'],
    [{ ...ok, odometer_unit: 'miles' }, 'odometer_unit', 'unknown unit'],
    [{ ...ok, height_m: 10.01 }, 'height_m', 'too tall'],
    [{ ...ok, height_m: 3.123 }, 'height_m', 'height with three decimals'],
    [{ ...ok, width_m: 5.5 }, 'width_m', 'too wide'],
    [{ ...ok, length_m: 40.1 }, 'length_m', 'too long'],
    [{ ...ok, length_m: 0 }, 'length_m', 'no length'],
    [{ ...ok, weight_t: 100.01 }, 'weight_t', 'too heavy'],
    [{ ...ok, colour: 'red' }, 'colour', 'unknown field'],
    [{ ...ok, user_id: crypto.randomUUID() }, 'user_id', 'user_id is never taken from the body'],
    [{ ...ok, id: 'not-a-uuid' }, 'id', 'an id that is not a uuid'],
  ]
  for (const [body, field, why] of cases) assertInvalid(await w('vehicles', { method: 'POST', body }), field, why)
  assertEquals((await w('vehicles', { method: 'POST', body: '{"name": "x",' })).status, 400, 'malformed JSON')
  assertEquals((await w('vehicles', { method: 'POST', body: [ok] })).status, 400, 'an array')
  const oversized = await w('vehicles', { method: 'POST', body: { ...ok, notes: 'x'.repeat(70 * 1024) } })
  assertEquals([oversized.status, oversized.body.error.code], [413, 'payload_too_large'], 'over 64 KiB')
  assertEquals(await count('vehicles', user.id), 0)

  // Boundaries are accepted.
  const edge = await create(w, 'vehicles', {
    name: 'x'.repeat(100), year: 1900, tank_capacity: 2000, current_odometer: 10_000_000, height_m: 10, width_m: 5,
    length_m: 40, weight_t: 100,
  }, 'vehicle')
  assertEquals([edge.year, edge.tank_capacity, edge.current_odometer, edge.height_m], [1900, 2000, 10_000_000, 10])

  // Ids in paths are uuids.
  const bad = await w('vehicles/not-a-uuid')
  assertInvalid(bad, 'id', 'bad id')
  assertInvalid(await w('vehicles/12345678', { method: 'PATCH', body: { name: 'x' } }), 'id', 'bad id on PATCH')
  assertInvalid(await w('vehicles/12345678', { method: 'DELETE' }), 'id', 'bad id on DELETE')
})

// ---------------------------------------------------------------- maintenance

Deno.test('wheels maintenance: create with defaults and every field, read, patch (null clears), delete', async () => {
  const user = await userWith({ currency: 'NZD' })
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id)

  const minimal = await create(w, 'maintenance', { vehicle_id: vehicle, task: ' Engine oil ', date: '2026-03-01' }, 'record')
  assertEquals(generated(minimal), {
    vehicle_id: vehicle,
    task: 'Engine oil',
    date: '2026-03-01',
    odometer: null,
    cost: null,
    currency: null,
    location: null,
    notes: '',
    next_due_date: null,
    next_due_odometer: null,
    interval_days: null,
    interval_distance: null,
  })

  const input = {
    vehicle_id: vehicle,
    task: 'Tyres rotated',
    date: '2026-03-05',
    odometer: 184300,
    cost: '189',
    location: 'Alice Springs',
    notes: 'Front left\nwas low',
    next_due_date: '2026-09-05',
    next_due_odometer: 194300,
    interval_days: 180,
    interval_distance: 10000,
  }
  const full = await create(w, 'maintenance', input, 'record')
  assertEquals(generated(full), { ...input, cost: '189.00', currency: 'NZD' }, "a cost without a currency is in the profile's")
  const usd = await create(w, 'maintenance', { vehicle_id: vehicle, task: 'Part', date: '2026-03-05', cost: '12.5', currency: 'USD' }, 'record')
  assertEquals([usd.cost, usd.currency], ['12.50', 'USD'])

  assertEquals((await w(`maintenance/${full.id}`)).body, { record: full })

  const patched = await w(`maintenance/${full.id}`, {
    method: 'PATCH',
    body: { location: null, next_due_date: null, next_due_odometer: null, interval_days: null, interval_distance: null, cost: null },
  })
  assertEquals(patched.status, 200, show(patched))
  const r = patched.body.record
  assertEquals(
    [r.location, r.next_due_date, r.next_due_odometer, r.interval_days, r.interval_distance, r.cost, r.currency],
    [null, null, null, null, null, null, null],
    'null clears; no cost, no currency',
  )
  assertEquals([r.task, r.odometer, r.notes], ['Tyres rotated', 184300, 'Front left\nwas low'])
  assert(r.updated_at > full.updated_at)
  const priced = await w(`maintenance/${full.id}`, { method: 'PATCH', body: { cost: '45.00' } })
  assertEquals([priced.body.record.cost, priced.body.record.currency], ['45.00', 'NZD'])
  await w(`maintenance/${full.id}`, { method: 'PATCH', body: { cost: '100.00', currency: 'USD' } })
  const repriced = await w(`maintenance/${full.id}`, { method: 'PATCH', body: { cost: '120.00' } })
  assertEquals([repriced.body.record.cost, repriced.body.record.currency], ['120.00', 'USD'], 'a new amount keeps its currency')
  priced.body.record = (await w(`maintenance/${full.id}`, { method: 'PATCH', body: { cost: '45.00', currency: 'NZD' } })).body.record

  assertInvalid(await w(`maintenance/${full.id}`, { method: 'PATCH', body: {} }), null, 'empty patch')
  assertInvalid(await w(`maintenance/${full.id}`, { method: 'PATCH', body: { mechanic: 'Bob' } }), 'mechanic', 'unknown field')
  assertInvalid(await w(`maintenance/${full.id}`, { method: 'PATCH', body: { task: null } }), 'task', 'null task')
  assertInvalid(await w(`maintenance/${full.id}`, { method: 'PATCH', body: { date: null } }), 'date', 'null date')
  assertInvalid(await w(`maintenance/${full.id}`, { method: 'PATCH', body: { currency: null } }), 'currency', 'currency cleared, cost kept')
  assertEquals((await w(`maintenance/${full.id}`)).body.record, priced.body.record, 'refused patches change nothing')

  assertEquals((await w(`maintenance/${full.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`maintenance/${full.id}`)).status, 404)
  assertEquals((await w(`maintenance/${full.id}`, { method: 'DELETE' })).status, 404)
  assertEquals(await count('maintenance_records', user.id), 2)
})

Deno.test('wheels maintenance: bad input is a 400 naming the field, and stores nothing', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id)
  const ok = { vehicle_id: vehicle, task: 'Oil', date: '2026-03-01' }
  const cases: [unknown, string | null, string][] = [
    [{ task: 'Oil', date: '2026-03-01' }, 'vehicle_id', 'missing vehicle'],
    [{ ...ok, vehicle_id: 'car-1' }, 'vehicle_id', 'bad uuid'],
    [{ ...ok, vehicle_id: null }, 'vehicle_id', 'null vehicle'],
    [{ ...ok, task: '' }, 'task', 'empty task'],
    [{ ...ok, task: 'x'.repeat(201) }, 'task', 'task too long'],
    [{ ...ok, task: 'oil\u0000' }, 'task', 'NUL in the task'],
    [{ ...ok, task: 'oil\nfilter' }, 'task', 'line break in the task'],
    [{ vehicle_id: vehicle, task: 'Oil' }, 'date', 'missing date'],
    [{ ...ok, date: '2026-02-30' }, 'date', 'not a calendar day'],
    [{ ...ok, date: '2026-13-01' }, 'date', 'month 13'],
    [{ ...ok, date: '01/03/2026' }, 'date', 'wrong format'],
    [{ ...ok, date: '1969-12-31' }, 'date', 'before 1970'],
    [{ ...ok, date: '2101-01-01' }, 'date', 'after 2100'],
    [{ ...ok, odometer: -1 }, 'odometer', 'negative odometer'],
    [{ ...ok, odometer: 10_000_001 }, 'odometer', 'odometer too big'],
    [{ ...ok, odometer: 1.5 }, 'odometer', 'fractional odometer'],
    [{ ...ok, odometer: '1000' }, 'odometer', 'odometer as a string'],
    [{ ...ok, cost: '-1.00' }, 'cost', 'negative cost'],
    [{ ...ok, cost: '1.234' }, 'cost', 'three decimals'],
    [{ ...ok, cost: 12.5 }, 'cost', 'cost as a number'],
    [{ ...ok, cost: '1e3' }, 'cost', 'exponent'],
    [{ ...ok, cost: '10.00', currency: 'aud' }, 'currency', 'lower-case currency'],
    [{ ...ok, currency: 'AUD' }, 'currency', 'a currency without a cost'],
    [{ ...ok, location: 'x'.repeat(201) }, 'location', 'location too long'],
    [{ ...ok, location: 'tab\there' }, 'location', 'tab in the location'],
    [{ ...ok, notes: 'nul\u0000' }, 'notes', 'NUL in notes'],
    [{ ...ok, notes: 'esc\u001b[31m' }, 'notes', 'escape in notes'],
    [{ ...ok, next_due_date: '2026-02-29' }, 'next_due_date', 'not a leap year'],
    [{ ...ok, next_due_odometer: -5 }, 'next_due_odometer', 'negative due odometer'],
    [{ ...ok, interval_days: 0 }, 'interval_days', 'zero days'],
    [{ ...ok, interval_days: 3651 }, 'interval_days', 'ten years and a day'],
    [{ ...ok, interval_distance: 0 }, 'interval_distance', 'zero distance'],
    [{ ...ok, interval_distance: 1_000_001 }, 'interval_distance', 'distance too big'],
    [{ ...ok, mechanic: 'Bob' }, 'mechanic', 'unknown field'],
    [{ ...ok, user_id: crypto.randomUUID() }, 'user_id', 'user_id is never taken from the body'],
  ]
  for (const [body, field, why] of cases) assertInvalid(await w('maintenance', { method: 'POST', body }), field, why)
  const nobody = await w('maintenance', { method: 'POST', body: { ...ok, vehicle_id: crypto.randomUUID() } })
  assertInvalid(nobody, 'vehicle_id', 'no such vehicle', 'unknown_vehicle')
  assertEquals(await count('maintenance_records', user.id), 0)
  assertInvalid(await w('maintenance/nope'), 'id', 'bad id')
  assertInvalid(await w('maintenance?vehicle_id=car-1'), 'vehicle_id', 'bad uuid filter')
  assertInvalid(await w('maintenance?from=2026-03-05&to=2026-03-01'), 'from', 'from after to')
  assertInvalid(await w('maintenance?from=2026-02-30'), 'from', 'bad from')
  assertInvalid(await w(`maintenance?q=${encodeURIComponent('a\u0000')}`), 'q', 'NUL in q')
})

// ---------------------------------------------------------------- fuel

Deno.test('wheels fuel: create with defaults and every field; the other of price and total is computed', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id, { fuel_type: 'diesel' })
  const trip = await tripOf(user.id)

  const before = dayIn('UTC')
  const created = await w('fuel', { method: 'POST', body: { vehicle_id: vehicle, litres: '62.4', price_per_litre: '2.199' } })
  const after = dayIn('UTC')
  assertEquals(created.status, 201, show(created))
  assertEquals(created.body.budgets, [])
  const minimal = created.body.fuel_log
  assert([before, after].includes(minimal.date), `dated today: ${minimal.date}`)
  assertEquals(generated(minimal), {
    vehicle_id: vehicle,
    trip_id: null,
    date: minimal.date,
    odometer: null,
    litres: '62.40',
    price_per_litre: '2.199',
    total_cost: '137.22', // 62.40 × 2.199 = 137.2176
    currency: 'AUD',
    full_tank: true,
    fuel_type: 'diesel',
    merchant: null,
    location: null,
    latitude: null,
    longitude: null,
    notes: '',
  })

  const input = {
    vehicle_id: vehicle,
    date: '2026-03-01',
    odometer: 184650,
    litres: '55.00',
    price_per_litre: '2.000',
    total_cost: '111.11', // both given: both kept as given
    currency: 'USD',
    full_tank: false,
    fuel_type: 'premium',
    merchant: 'Shell Roma',
    location: 'Roma QLD',
    latitude: -26.57,
    longitude: 148.79,
    trip_id: trip,
    notes: 'Queue\nat pump 3',
  }
  const full = await create(w, 'fuel', input, 'fuel_log')
  const { vehicle_id: _v, ...rest } = input
  assertEquals(generated(full), { vehicle_id: vehicle, ...rest })
  assertEquals((await w(`fuel/${full.id}`)).body, { fuel_log: full })
  const kiribati = await userWith({ timezone: 'Pacific/Kiritimati' }) // UTC+14
  const kv = await vehicleOf(kiribati.id)
  const days = [dayIn('Pacific/Kiritimati')]
  const kFill = await create(wheelsAs(kiribati), 'fuel', { vehicle_id: kv, litres: '1.00', total_cost: '2.00' }, 'fuel_log')
  days.push(dayIn('Pacific/Kiritimati'))
  assert(days.includes(kFill.date), `today in the profile's time zone: ${kFill.date}`)
  const nullType = await create(w, 'fuel', { vehicle_id: vehicle, litres: '1.00', total_cost: '2.00', date: '2026-03-02', fuel_type: null }, 'fuel_log')
  assertEquals(nullType.fuel_type, null, "null instead of the vehicle's fuel type")

  // total_cost = litres × price, half-up to the cent; price = total ÷ litres, half-up to 0.001.
  const fill = async (body: Record<string, string>) =>
    (await create(w, 'fuel', { vehicle_id: vehicle, date: '2026-03-03', ...body }, 'fuel_log')) as Json
  const totals: [string, string, string][] = [
    ['62.40', '2.199', '137.22'],
    ['1.00', '1.005', '1.01'], // exactly half a cent: up
    ['3.00', '1.235', '3.71'], // 3.705 (a float would say 3.7049999…)
    ['12.5', '1.001', '12.51'], // 12.5125
    ['100.00', '1.999', '199.90'],
  ]
  for (const [litres, price, total] of totals) {
    const f = await fill({ litres, price_per_litre: price })
    assertEquals([f.total_cost, f.price_per_litre], [total, price], `${litres} × ${price}`)
  }
  const prices: [string, string, string][] = [
    ['62.40', '137.22', '2.199'], // 2.19903…
    ['3.00', '2.00', '0.667'],
    ['8.00', '1.00', '0.125'],
    ['4.00', '0.01', '0.003'], // 0.0025: up
    ['40', '80', '2.000'],
  ]
  for (const [litres, total, price] of prices) {
    const f = await fill({ litres, total_cost: total })
    assertEquals([f.price_per_litre, f.total_cost], [price, Number(total).toFixed(2)], `${total} ÷ ${litres}`)
  }
})

Deno.test('wheels fuel: a fill-up is a Wins expense; changes and deletes in either view show in both', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const x = winsAs(user)
  const vehicle = await vehicleOf(user.id, { fuel_type: 'diesel' })
  const fill = await create(w, 'fuel', {
    vehicle_id: vehicle, date: '2026-03-01', odometer: 184650, litres: '62.40', price_per_litre: '2.199', merchant: 'Shell',
  }, 'fuel_log')

  const expense = await x(`expenses/${fill.id}`)
  assertEquals(expense.status, 200, show(expense))
  const e = expense.body.expense
  assertEquals(
    [e.id, e.category, e.amount, e.currency, e.date, e.vehicle_id, e.odometer, e.merchant, e.fuel_type],
    [fill.id, 'fuel', '137.22', 'AUD', '2026-03-01', vehicle, 184650, 'Shell', 'diesel'],
  )
  assertEquals([e.fuel_volume, e.fuel_price_per_unit, e.fuel_full_tank], ['62.40', '2.199', true])
  assert((await x('expenses')).body.expenses.some((r: Json) => r.id === fill.id), 'in the Wins list too')

  // PATCH /wheels/fuel changes the expense.
  const patched = await w(`fuel/${fill.id}`, {
    method: 'PATCH',
    body: { litres: '63.00', total_cost: '140.00', price_per_litre: '2.222', full_tank: false, merchant: null, notes: 'fixed' },
  })
  assertEquals(patched.status, 200, show(patched))
  const p = patched.body.fuel_log
  assertEquals([p.litres, p.total_cost, p.price_per_litre, p.full_tank, p.merchant, p.notes], ['63.00', '140.00', '2.222', false, null, 'fixed'])
  assertEquals([p.odometer, p.vehicle_id, p.fuel_type, p.date], [184650, vehicle, 'diesel', '2026-03-01'], 'untouched fields stay')
  const e2 = (await x(`expenses/${fill.id}`)).body.expense
  assertEquals(
    [e2.amount, e2.fuel_volume, e2.fuel_price_per_unit, e2.fuel_full_tank, e2.merchant, e2.description],
    ['140.00', '63.00', '2.222', false, null, 'fixed'],
  )
  assertEquals((await w(`fuel/${fill.id}`)).body.fuel_log, p)
  // A new total alone: the price per litre follows it (140 → 150 for 63 L: 2.381).
  const retotalled = (await w(`fuel/${fill.id}`, { method: 'PATCH', body: { total_cost: '150.00' } })).body.fuel_log
  assertEquals([retotalled.total_cost, retotalled.litres, retotalled.price_per_litre], ['150.00', '63.00', '2.381'])
  // New litres alone: the total follows, and the price stays as given (5 L at 1.899 is 9.50, not a price of 1.900).
  assertEquals((await w(`fuel/${fill.id}`, { method: 'PATCH', body: { price_per_litre: '1.899' } })).status, 200)
  const fewer = (await w(`fuel/${fill.id}`, { method: 'PATCH', body: { litres: '5.00' } })).body.fuel_log
  assertEquals([fewer.litres, fewer.total_cost, fewer.price_per_litre], ['5.00', '9.50', '1.899'])
  assertEquals((await w(`fuel/${fill.id}`, { method: 'PATCH', body: { litres: '63.00', total_cost: '140.00', price_per_litre: '2.222' } })).status, 200)

  // And the other way: a Wins change shows in /wheels/fuel.
  assertEquals((await x(`expenses/${fill.id}`, { method: 'PATCH', body: { amount: '150.00' } })).status, 200)
  const viaWins = (await w(`fuel/${fill.id}`)).body.fuel_log
  assertEquals([viaWins.total_cost, viaWins.price_per_litre], ['150.00', '2.381'], 'the price follows a new amount')

  // Deleting in Wins removes the fill-up.
  assertEquals((await x(`expenses/${fill.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`fuel/${fill.id}`)).status, 404)
  assertEquals(await listIds(w, 'fuel', 'fuel_logs'), [])

  // Deleting in Wheels removes the expense.
  const other = await create(w, 'fuel', { vehicle_id: vehicle, date: '2026-03-02', litres: '10.00', total_cost: '20.00' }, 'fuel_log')
  assertEquals((await w(`fuel/${other.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await x(`expenses/${other.id}`)).status, 404)
  assertEquals((await w(`fuel/${other.id}`, { method: 'DELETE' })).status, 404)
  assertEquals(await count('expenses', user.id), 0)

  // An expense without fuel details is not a fill-up: not listed, and not reachable as one.
  const coffee = (await x('expenses', { method: 'POST', body: { amount: '4.50', category: 'fuel', date: '2026-03-03' } })).body.expense
  assertEquals(await listIds(w, 'fuel', 'fuel_logs'), [])
  assertEquals((await w(`fuel/${coffee.id}`)).status, 404)
  assertEquals((await w(`fuel/${coffee.id}`, { method: 'PATCH', body: { litres: '1.00' } })).status, 404)
  assertEquals((await w(`fuel/${coffee.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await x(`expenses/${coffee.id}`)).body.expense.fuel_volume, null, 'untouched')
})

Deno.test('wheels fuel: patch rules — nothing to update, unknown fields, null clears, coordinates together', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id, { fuel_type: 'diesel' })
  const trip = await tripOf(user.id)
  const fill = await create(w, 'fuel', {
    vehicle_id: vehicle, date: '2026-03-01', odometer: 1000, litres: '50.00', price_per_litre: '2.000', merchant: 'BP',
    location: 'Katherine', latitude: -14.46, longitude: 132.26, trip_id: trip,
  }, 'fuel_log')
  const path = `fuel/${fill.id}`

  assertInvalid(await w(path, { method: 'PATCH', body: {} }), null, 'empty patch')
  assertInvalid(await w(path, { method: 'PATCH', body: { amount: '1.00' } }), 'amount', 'a Wins field')
  assertInvalid(await w(path, { method: 'PATCH', body: { vehicle_id: crypto.randomUUID() } }), 'vehicle_id', 'vehicle is fixed')
  assertInvalid(await w(path, { method: 'PATCH', body: { litres: null } }), 'litres', 'null litres')
  assertInvalid(await w(path, { method: 'PATCH', body: { total_cost: null } }), 'total_cost', 'null total')
  assertInvalid(await w(path, { method: 'PATCH', body: { litres: '0' } }), 'litres', 'zero litres')
  assertInvalid(await w(path, { method: 'PATCH', body: { date: '2026-02-30' } }), 'date', 'bad date')
  assertInvalid(await w(path, { method: 'PATCH', body: { merchant: 'a\u0000' } }), 'merchant', 'NUL')
  assertInvalid(await w(path, { method: 'PATCH', body: { latitude: 10 } }), 'latitude', 'latitude alone')
  assertInvalid(await w(path, { method: 'PATCH', body: { longitude: 10, latitude: null } }), 'latitude', 'longitude without latitude')
  assertEquals((await w(path)).body.fuel_log, fill, 'refused patches change nothing')

  const cleared = await w(path, {
    method: 'PATCH',
    body: { merchant: null, location: null, latitude: null, longitude: null, trip_id: null, odometer: null, fuel_type: null },
  })
  assertEquals(cleared.status, 200, show(cleared))
  const c = cleared.body.fuel_log
  assertEquals([c.merchant, c.location, c.latitude, c.longitude, c.trip_id, c.odometer, c.fuel_type], [null, null, null, null, null, null, null])
  assertEquals([c.litres, c.total_cost, c.price_per_litre], ['50.00', '100.00', '2.000'])
  assert(c.updated_at > fill.updated_at)
  const moved = await w(path, { method: 'PATCH', body: { latitude: -12.46, longitude: 130.84, trip_id: trip } })
  assertEquals([moved.body.fuel_log.latitude, moved.body.fuel_log.longitude, moved.body.fuel_log.trip_id], [-12.46, 130.84, trip])
})

Deno.test('wheels fuel: bad input is a 400 naming the field, and stores nothing', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id)
  const ok = { vehicle_id: vehicle, litres: '40.00', price_per_litre: '2.000', date: '2026-03-01' }
  const { price_per_litre: _p, ...noPrice } = ok
  const cases: [unknown, string | null, string][] = [
    [noPrice, 'total_cost', 'neither price_per_litre nor total_cost'],
    [{ ...ok, vehicle_id: undefined }, 'vehicle_id', 'missing vehicle'],
    [{ ...ok, vehicle_id: 'car-1' }, 'vehicle_id', 'bad uuid'],
    [{ ...ok, litres: undefined }, 'litres', 'missing litres'],
    [{ ...ok, litres: '0' }, 'litres', 'zero litres'],
    [{ ...ok, litres: '0.00' }, 'litres', 'zero litres with decimals'],
    [{ ...ok, litres: '-1' }, 'litres', 'negative litres'],
    [{ ...ok, litres: '1.234' }, 'litres', 'three decimals'],
    [{ ...ok, litres: 40 }, 'litres', 'a JSON number'],
    [{ ...ok, litres: '1234567' }, 'litres', 'too many digits'],
    [{ ...ok, litres: '4e1' }, 'litres', 'exponent'],
    [{ ...ok, price_per_litre: '0' }, 'price_per_litre', 'free fuel'],
    [{ ...ok, price_per_litre: '2.1999' }, 'price_per_litre', 'four decimals'],
    [{ ...ok, price_per_litre: '123456.1' }, 'price_per_litre', 'price too big'],
    [{ ...noPrice, total_cost: '0.00' }, 'total_cost', 'zero total'],
    [{ ...noPrice, total_cost: '1.234' }, 'total_cost', 'three decimals'],
    [{ ...noPrice, total_cost: 80 }, 'total_cost', 'a JSON number'],
    [{ ...ok, currency: 'aud' }, 'currency', 'lower-case currency'],
    [{ ...ok, date: '2026-02-30' }, 'date', 'not a calendar day'],
    [{ ...ok, date: '1969-12-31' }, 'date', 'before 1970'],
    [{ ...ok, odometer: -1 }, 'odometer', 'negative odometer'],
    [{ ...ok, odometer: 10_000_001 }, 'odometer', 'odometer too big'],
    [{ ...ok, odometer: 2.5 }, 'odometer', 'fractional odometer'],
    [{ ...ok, latitude: -23.7 }, 'latitude', 'latitude without longitude'],
    [{ ...ok, longitude: 133.8 }, 'latitude', 'longitude without latitude'],
    [{ ...ok, latitude: 91, longitude: 0 }, 'latitude', 'latitude out of range'],
    [{ ...ok, latitude: 0, longitude: -181 }, 'longitude', 'longitude out of range'],
    [{ ...ok, full_tank: 'yes' }, 'full_tank', 'full_tank as a string'],
    [{ ...ok, fuel_type: 'coal' }, 'fuel_type', 'unknown fuel type'],
    [{ ...ok, merchant: 'Shell\nRoma' }, 'merchant', 'line break in the merchant'],
    [{ ...ok, location: 'x'.repeat(201) }, 'location', 'location too long'],
    [{ ...ok, notes: 'x'.repeat(501) }, 'notes', 'notes too long'],
    [{ ...ok, notes: 'nul\u0000' }, 'notes', 'NUL in notes'],
    [{ ...ok, trip_id: 'trip-1' }, 'trip_id', 'bad trip uuid'],
    [{ ...ok, amount: '80.00' }, 'amount', 'a Wins field is unknown here'],
    [{ ...ok, category: 'food' }, 'category', 'the category is always fuel'],
  ]
  for (const [body, field, why] of cases) assertInvalid(await w('fuel', { method: 'POST', body }), field, why)
  assertInvalid(await w('fuel', { method: 'POST', body: { ...ok, vehicle_id: crypto.randomUUID() } }), 'vehicle_id', 'no such vehicle', 'unknown_vehicle')
  assertInvalid(await w('fuel', { method: 'POST', body: { ...ok, trip_id: crypto.randomUUID() } }), 'trip_id', 'no such trip', 'unknown_trip')
  assertEquals(await count('expenses', user.id), 0)
  assertInvalid(await w('fuel/nope'), 'id', 'bad id')
  assertInvalid(await w('fuel?trip_id=1'), 'trip_id', 'bad trip filter')
  assertInvalid(await w('fuel?from=2026-03-05&to=2026-03-01'), 'from', 'from after to')
})

Deno.test('wheels fuel: clearing one coordinate of a fill-up is a 400 validation_failed naming it, and changes nothing', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id)
  const fill = await create(w, 'fuel', {
    vehicle_id: vehicle, date: '2026-03-01', litres: '50.00', price_per_litre: '2.000', latitude: -14.46, longitude: 132.26,
  }, 'fuel_log')
  // The patch schema lets one coordinate be cleared alone (null and absent both count as "no coordinate"),
  // and the expense table then refuses the row: the answer must name the field, not the table's constraint.
  assertInvalid(await w(`fuel/${fill.id}`, { method: 'PATCH', body: { latitude: null } }), ['latitude', 'longitude'], 'clearing latitude alone')
  assertInvalid(await w(`fuel/${fill.id}`, { method: 'PATCH', body: { longitude: null } }), ['latitude', 'longitude'], 'clearing longitude alone')
  assertEquals((await w(`fuel/${fill.id}`)).body.fuel_log, fill)
})

Deno.test('wheels fuel: a total an expense cannot hold (given or computed) is a 400 validation_failed naming it, and stores nothing', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id)
  const ok = { vehicle_id: vehicle, date: '2026-03-01' }
  const cases: [unknown, string[], string][] = [
    [{ ...ok, litres: '40.00', total_cost: '1000000.01' }, ['total_cost'], 'above the largest expense (1000000.00)'],
    [{ ...ok, litres: '999999.99', price_per_litre: '99.999' }, ['total_cost', 'litres', 'price_per_litre'], 'computed total above the largest expense'],
    [{ ...ok, litres: '1.00', price_per_litre: '0.004' }, ['total_cost', 'litres', 'price_per_litre'], 'computed total rounds to 0.00'],
    [{ ...ok, litres: '999.00', total_cost: '0.01' }, ['price_per_litre', 'total_cost', 'litres'], 'computed price rounds to 0.000'],
  ]
  for (const [body, fields, why] of cases) assertInvalid(await w('fuel', { method: 'POST', body }), fields, why)
  assertEquals(await count('expenses', user.id), 0)
  const most = await create(w, 'fuel', { ...ok, litres: '40.00', total_cost: '1000000.00' }, 'fuel_log')
  assertEquals([most.total_cost, most.price_per_litre], ['1000000.00', '25000.000'])
  assertInvalid(await w(`fuel/${most.id}`, { method: 'PATCH', body: { total_cost: '1000000.01' } }), ['total_cost'], 'PATCH above the largest expense')
  assertEquals((await w(`fuel/${most.id}`)).body.fuel_log, most)
})

// ---------------------------------------------------------------- trips

Deno.test('wheels trips: create with defaults and every field, read, patch (null clears), delete', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const vehicle = await vehicleOf(user.id)

  const minimal = await create(w, 'trips', { name: 'Somewhere' }, 'trip')
  assertEquals(generated(minimal), {
    name: 'Somewhere',
    status: 'planned',
    vehicle_id: null,
    start_date: null,
    end_date: null,
    origin: null,
    destination: null,
    stops: [],
    planned_distance_km: null,
    planned_duration_min: null,
    route_polyline: null,
    route_computed_at: null,
    estimated_fuel_cost: null,
    notes: '',
  })

  const input = {
    name: 'Red Centre loop',
    status: 'active',
    vehicle_id: vehicle,
    start_date: '2026-04-01',
    end_date: '2026-04-01',
    origin: { name: 'Alice Springs', lat: -23.698, lng: 133.8807 },
    destination: { lat: -25.3444, lng: 131.0369 },
    stops: [
      { name: 'Kings Canyon', lat: -24.2524, lng: 131.5095, notes: 'Rim walk\nearly', arrive_on: '2026-04-01' },
      { lat: -24.0, lng: 132.0 },
    ],
    notes: 'Take water',
  }
  const full = await create(w, 'trips', input, 'trip')
  assertEquals(generated(full), {
    ...input,
    planned_distance_km: null,
    planned_duration_min: null,
    route_polyline: null,
    route_computed_at: null,
    estimated_fuel_cost: null,
  })
  assertEquals((await w(`trips/${full.id}`)).body, { trip: full })

  const patched = await w(`trips/${full.id}`, {
    method: 'PATCH',
    body: { vehicle_id: null, start_date: null, end_date: null, origin: null, destination: null, stops: [], status: 'completed' },
  })
  assertEquals(patched.status, 200, show(patched))
  const t = patched.body.trip
  assertEquals([t.vehicle_id, t.start_date, t.end_date, t.origin, t.destination, t.stops, t.status], [null, null, null, null, null, [], 'completed'])
  assertEquals([t.name, t.notes], ['Red Centre loop', 'Take water'])
  assert(t.updated_at > full.updated_at)

  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: {} }), null, 'empty patch')
  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: { budget: 5 } }), 'budget', 'unknown field')
  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: { stops: null } }), 'stops', 'null stops')
  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: { planned_distance_km: 5 } }), 'planned_distance_km', 'route fields are computed')
  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: { start_date: '2026-05-02', end_date: '2026-05-01' } }), 'start_date', 'dates out of order')
  // Only one date in the patch, out of order with the stored other: the database says so, naming start_date.
  assertEquals((await w(`trips/${full.id}`, { method: 'PATCH', body: { start_date: '2026-05-01', end_date: '2026-05-03' } })).status, 200)
  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: { end_date: '2026-04-30' } }), 'start_date', 'end before the stored start')
  assertInvalid(await w(`trips/${full.id}`, { method: 'PATCH', body: { start_date: '2026-05-04' } }), 'start_date', 'start after the stored end')
  const kept = (await w(`trips/${full.id}`)).body.trip
  assertEquals([kept.start_date, kept.end_date], ['2026-05-01', '2026-05-03'])

  assertEquals((await w(`trips/${full.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`trips/${full.id}`)).status, 404)
  assertEquals((await w(`trips/${full.id}`, { method: 'DELETE' })).status, 404)
})

Deno.test('wheels trips: changing origin, destination or stops clears the computed route; other changes keep it', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const trip = await create(w, 'trips', {
    name: 'Loop', origin: { lat: -23.7, lng: 133.88 }, destination: { lat: -25.34, lng: 131.04 },
  }, 'trip')
  const setRoute = () =>
    adminSql`update pam.trips set planned_distance_km = 463.2, planned_duration_min = 301, route_polyline = '_p~iF~ps|U',
      route_computed_at = now(), estimated_fuel_cost = 98.40 where id = ${trip.id}`
  const route = (t: Json) => [t.planned_distance_km, t.planned_duration_min, t.route_polyline, t.route_computed_at === null, t.estimated_fuel_cost]
  const stored = [463.2, 301, '_p~iF~ps|U', false, '98.40']
  const cleared = [null, null, null, true, null]

  await setRoute()
  for (const body of [{ name: 'Renamed' }, { notes: 'more' }, { status: 'active' }, { start_date: '2026-04-01' }]) {
    const res = await w(`trips/${trip.id}`, { method: 'PATCH', body })
    assertEquals(res.status, 200, show(res))
    assertEquals(route(res.body.trip), stored, `kept after ${JSON.stringify(body)}`)
  }
  for (const body of [
    { stops: [{ lat: -24.25, lng: 131.51 }] },
    { origin: { lat: -23.8, lng: 133.9 } },
    { destination: { lat: -25.0, lng: 131.0, name: 'Yulara' } },
    { origin: null },
    { stops: [] },
  ]) {
    await setRoute()
    const res = await w(`trips/${trip.id}`, { method: 'PATCH', body })
    assertEquals(res.status, 200, show(res))
    assertEquals(route(res.body.trip), cleared, `cleared by ${JSON.stringify(body)}`)
    assertEquals(route((await w(`trips/${trip.id}`)).body.trip), cleared, 'stored cleared')
  }
})

Deno.test('wheels trips: bad input is a 400 naming the field, and stores nothing', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const ok = { name: 'Loop' }
  const stop = { lat: -24, lng: 131 }
  const cases: [unknown, string | null, string][] = [
    [{}, 'name', 'missing name'],
    [{ name: '' }, 'name', 'empty name'],
    [{ name: 'a\u0000b' }, 'name', 'NUL in the name'],
    [{ name: 'x'.repeat(201) }, 'name', 'name too long'],
    [{ ...ok, status: 'cancelled' }, 'status', 'unknown status'],
    [{ ...ok, vehicle_id: 'car-1' }, 'vehicle_id', 'bad uuid'],
    [{ ...ok, start_date: '2026-02-30' }, 'start_date', 'not a calendar day'],
    [{ ...ok, end_date: '2101-01-01' }, 'end_date', 'after 2100'],
    [{ ...ok, start_date: '2026-03-10', end_date: '2026-03-09' }, 'start_date', 'start after end'],
    [{ ...ok, origin: { lat: 91, lng: 0 } }, 'origin', 'origin latitude out of range'],
    [{ ...ok, origin: { lat: -23.7 } }, 'origin', 'origin without lng'],
    [{ ...ok, origin: { lat: 1, lng: 1, elevation: 5 } }, 'origin', 'unknown origin field'],
    [{ ...ok, origin: 'Alice Springs' }, 'origin', 'origin as a string'],
    [{ ...ok, destination: { lat: 0, lng: 180.5 } }, 'destination', 'destination longitude out of range'],
    [{ ...ok, destination: { lat: 0, lng: 0, name: 'a\nb' } }, 'destination', 'line break in a name'],
    [{ ...ok, stops: Array.from({ length: 24 }, () => stop) }, 'stops', 'more than 23 stops'],
    [{ ...ok, stops: [{ lat: -24 }] }, 'stops', 'stop without lng'],
    [{ ...ok, stops: [{ ...stop, arrive_on: '2026-02-30' }] }, 'stops', 'stop with a bad date'],
    [{ ...ok, stops: [{ ...stop, notes: 'x\u0000' }] }, 'stops', 'NUL in a stop note'],
    [{ ...ok, stops: [{ ...stop, camp: true }] }, 'stops', 'unknown stop field'],
    [{ ...ok, stops: stop }, 'stops', 'stops not a list'],
    [{ ...ok, notes: 'x'.repeat(4001) }, 'notes', 'notes too long'],
    [{ ...ok, notes: 'bell\u0007' }, 'notes', 'control character in notes'],
    [{ ...ok, planned_distance_km: 100 }, 'planned_distance_km', 'computed fields are not input'],
    [{ ...ok, route_polyline: 'abc' }, 'route_polyline', 'computed fields are not input'],
    [{ ...ok, user_id: crypto.randomUUID() }, 'user_id', 'user_id is never taken from the body'],
  ]
  for (const [body, field, why] of cases) assertInvalid(await w('trips', { method: 'POST', body }), field, why)
  assertInvalid(await w('trips', { method: 'POST', body: { ...ok, vehicle_id: crypto.randomUUID() } }), 'vehicle_id', 'no such vehicle', 'unknown_vehicle')
  assertEquals(await count('trips', user.id), 0)

  const most = await create(w, 'trips', { ...ok, stops: Array.from({ length: 23 }, (_, i) => ({ lat: -24 + i / 10, lng: 131 })) }, 'trip')
  assertEquals(most.stops.length, 23, '23 stops are fine')
  assertInvalid(await w(`trips/${most.id}`, { method: 'PATCH', body: { stops: Array.from({ length: 24 }, () => stop) } }), 'stops', '24 stops by PATCH')
  assertEquals((await w(`trips/${most.id}`)).body.trip.stops.length, 23)
  assertInvalid(await w('trips/nope'), 'id', 'bad id')
  assertInvalid(await w('trips?status=cancelled'), 'status', 'bad status filter')
})

// ---------------------------------------------------------------- places

Deno.test('wheels places: create with defaults and every field, read, patch (null clears), delete; bad input', async () => {
  const user = await signUp()
  const w = wheelsAs(user)
  const minimal = await create(w, 'places', { name: 'Ellery Creek', latitude: -23.7786, longitude: 133.0723 }, 'place')
  assertEquals(generated(minimal), {
    name: 'Ellery Creek',
    kind: 'favourite',
    latitude: -23.7786,
    longitude: 133.0723,
    address: null,
    notes: '',
    rating: null,
  })
  const input = { name: 'Dump point', kind: 'dump_point', latitude: 90, longitude: -180, address: '1 Main St', notes: 'Free\nclean', rating: 5 }
  const full = await create(w, 'places', input, 'place')
  assertEquals(generated(full), input)
  assertEquals((await w(`places/${full.id}`)).body, { place: full })

  const patched = await w(`places/${full.id}`, { method: 'PATCH', body: { address: null, rating: null, kind: 'water', latitude: -12.5 } })
  assertEquals(patched.status, 200, show(patched))
  const p = patched.body.place
  assertEquals([p.address, p.rating, p.kind, p.latitude, p.longitude, p.name], [null, null, 'water', -12.5, -180, 'Dump point'])
  assert(p.updated_at > full.updated_at)
  assertInvalid(await w(`places/${full.id}`, { method: 'PATCH', body: {} }), null, 'empty patch')
  assertInvalid(await w(`places/${full.id}`, { method: 'PATCH', body: { stars: 3 } }), 'stars', 'unknown field')
  assertInvalid(await w(`places/${full.id}`, { method: 'PATCH', body: { latitude: null } }), 'latitude', 'null latitude')
  assertInvalid(await w(`places/${full.id}`, { method: 'PATCH', body: { latitude: 95 } }), 'latitude', 'latitude out of range')
  assertInvalid(await w(`places/${full.id}`, { method: 'PATCH', body: { kind: null } }), 'kind', 'null kind')
  assertEquals((await w(`places/${full.id}`)).body.place, p)

  assertEquals((await w(`places/${full.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`places/${full.id}`)).status, 404)
  assertEquals((await w(`places/${full.id}`, { method: 'DELETE' })).status, 404)

  const other = await signUp()
  const o = wheelsAs(other)
  const ok = { name: 'Spot', latitude: -23.7, longitude: 133.8 }
  const cases: [unknown, string | null, string][] = [
    [{ name: 'Spot', latitude: -23.7 }, 'longitude', 'latitude without longitude'],
    [{ name: 'Spot', longitude: 133.8 }, 'latitude', 'longitude without latitude'],
    [{ ...ok, latitude: 90.1 }, 'latitude', 'latitude too big'],
    [{ ...ok, latitude: -91 }, 'latitude', 'latitude too small'],
    [{ ...ok, longitude: 180.5 }, 'longitude', 'longitude too big'],
    [{ ...ok, latitude: '-23.7' }, 'latitude', 'latitude as a string'],
    [{ ...ok, latitude: null }, 'latitude', 'null latitude'],
    [{ latitude: 1, longitude: 1 }, 'name', 'missing name'],
    [{ ...ok, name: 'a\u0000' }, 'name', 'NUL in the name'],
    [{ ...ok, name: 'x'.repeat(201) }, 'name', 'name too long'],
    [{ ...ok, kind: 'pub' }, 'kind', 'unknown kind'],
    [{ ...ok, rating: 0 }, 'rating', 'rating too low'],
    [{ ...ok, rating: 6 }, 'rating', 'rating too high'],
    [{ ...ok, rating: 4.5 }, 'rating', 'half a star'],
    [{ ...ok, address: 'x'.repeat(301) }, 'address', 'address too long'],
    [{ ...ok, address: 'line\nbreak' }, 'address', 'line break in the address'],
    [{ ...ok, notes: 'x\u0085' }, 'notes', 'C1 control in notes'],
    [{ ...ok, id: 'not-a-uuid' }, 'id', 'an id that is not a uuid'],
  ]
  for (const [body, field, why] of cases) assertInvalid(await o('places', { method: 'POST', body }), field, why)
  assertEquals(await count('saved_places', other.id), 0)
  assertInvalid(await o('places/nope'), 'id', 'bad id')
  assertInvalid(await o('places?kind=pub'), 'kind', 'bad kind filter')
})

// ---------------------------------------------------------------- lists

Deno.test('wheels lists: newest first, filters, keyset pages with each row exactly once; bad cursor or limit is a 400', async () => {
  const user = await signUp()
  const other = await signUp()
  const w = wheelsAs(user)
  const o = wheelsAs(other)

  // Vehicles, trips and places: newest created first.
  const vehicles: Json[] = []
  for (const type of ['motorhome', 'caravan', 'campervan', 'caravan', 'other']) {
    vehicles.push(await create(w, 'vehicles', { name: `V ${vehicles.length}`, type }, 'vehicle'))
  }
  const [v0, v1] = vehicles
  const trips: Json[] = []
  for (const status of ['planned', 'active', 'planned', 'completed', 'planned']) {
    trips.push(await create(w, 'trips', { name: `T ${trips.length}`, status, vehicle_id: trips.length % 2 ? v1.id : v0.id }, 'trip'))
  }
  const places: Json[] = []
  for (const kind of ['water', 'campsite', 'water', 'favourite', 'water']) {
    places.push(await create(w, 'places', { name: `P ${places.length}`, kind, latitude: -20, longitude: 130 }, 'place'))
  }
  // Maintenance and fill-ups: newest date first, then newest created.
  const records: Json[] = []
  for (const [date, task, vehicle] of [
    ['2026-03-02', 'Oil and filter', v0.id],
    ['2026-03-05', 'Tyres', v1.id],
    ['2026-03-02', 'Wipers', v0.id],
    ['2026-01-10', 'oil top-up', v1.id],
    ['2026-03-05', 'Brakes', v0.id],
    ['2026-03-02', '100%_done', v0.id],
  ]) {
    records.push(await create(w, 'maintenance', { vehicle_id: vehicle, task, date }, 'record'))
  }
  const fills: Json[] = []
  for (const [date, vehicle, trip] of [
    ['2026-03-02', v0.id, trips[0].id],
    ['2026-03-05', v1.id, null],
    ['2026-03-02', v0.id, null],
    ['2026-01-10', v1.id, trips[0].id],
    ['2026-03-05', v0.id, null],
  ]) {
    fills.push(await create(w, 'fuel', { vehicle_id: vehicle, trip_id: trip, date, litres: '10.00', total_cost: '20.00' }, 'fuel_log'))
  }
  // Another user's rows never show.
  const theirs = await create(o, 'vehicles', { name: 'Theirs', type: 'caravan' }, 'vehicle')
  await create(o, 'maintenance', { vehicle_id: theirs.id, task: 'Oil', date: '2026-03-03' }, 'record')
  await create(o, 'fuel', { vehicle_id: theirs.id, date: '2026-03-03', litres: '1.00', total_cost: '2.00' }, 'fuel_log')
  await create(o, 'trips', { name: 'Theirs' }, 'trip')
  await create(o, 'places', { name: 'Theirs', kind: 'water', latitude: 0, longitude: 0 }, 'place')

  const newest = (rows: Json[]) => rows.map((r) => r.id).reverse()
  const byDate = (rows: Json[], order: number[]) => order.map((i) => rows[i].id)
  const expected: [string, string, string[]][] = [
    ['vehicles', 'vehicles', newest(vehicles)],
    ['trips', 'trips', newest(trips)],
    ['places', 'places', newest(places)],
    ['maintenance', 'records', byDate(records, [4, 1, 5, 2, 0, 3])],
    ['fuel', 'fuel_logs', byDate(fills, [4, 1, 2, 0, 3])],
  ]
  for (const [path, key, ids] of expected) {
    assertEquals(await listIds(w, path, key), ids, `${path}: newest first`)
    for (const limit of [1, 2, 5, 6]) {
      const got = await allPages(w, path, key, limit)
      assertEquals(got.ids, ids, `${path} in pages of ${limit}: each row exactly once, in order`)
      assertEquals(got.pages, Math.max(1, Math.ceil(ids.length / limit)), `${path}: pages of ${limit}`)
    }
    const first = await w(`${path}?limit=2`)
    assertEquals(first.body[key].length, 2)
    assert(typeof first.body.next_cursor === 'string')
    // Bad limits and cursors.
    for (const bad of ['limit=0', 'limit=201', 'limit=abc', 'limit=1e2', 'limit=-1', 'limit=2.5']) {
      assertInvalid(await w(`${path}?${bad}`), 'limit', `${path}?${bad}`)
    }
    for (const bad of ['garbage', 'W10', btoa('["2026-03-01"]'), encodeURIComponent(btoa(JSON.stringify(['x', 'y', 'z'])))]) {
      const res = await w(`${path}?cursor=${bad}`)
      assertEquals([res.status, res.body.error?.code], [400, 'invalid_cursor'], `${path}?cursor=${bad}: ${show(res)}`)
    }
    assertEquals((await w(`${path}?limit=200`)).status, 200)
  }
  // A cursor of one list is not a cursor of another with a different key.
  const vehicleCursor = (await w('vehicles?limit=1')).body.next_cursor
  assertEquals((await w(`maintenance?cursor=${vehicleCursor}`)).body.error.code, 'invalid_cursor')
  const fuelCursor = (await w('fuel?limit=1')).body.next_cursor
  assertEquals((await w(`places?cursor=${fuelCursor}`)).body.error.code, 'invalid_cursor')

  // Filters.
  const ids = async (path: string, key: string) => (await listIds(w, path, key)).sort()
  const sorted = (rows: Json[]) => rows.map((r) => r.id).sort()
  assertEquals(await ids('vehicles?type=caravan', 'vehicles'), sorted([vehicles[1], vehicles[3]]))
  assertEquals(await ids('vehicles?type=fifth_wheel', 'vehicles'), [])
  assertEquals(await ids('trips?status=planned', 'trips'), sorted([trips[0], trips[2], trips[4]]))
  assertEquals(await ids(`trips?vehicle_id=${v1.id}`, 'trips'), sorted([trips[1], trips[3]]))
  assertEquals(await ids(`trips?status=planned&vehicle_id=${v0.id}`, 'trips'), sorted([trips[0], trips[2], trips[4]]))
  assertEquals(await ids('places?kind=water', 'places'), sorted([places[0], places[2], places[4]]))
  assertEquals(await ids(`maintenance?vehicle_id=${v1.id}`, 'records'), sorted([records[1], records[3]]))
  assertEquals(await ids('maintenance?from=2026-03-02&to=2026-03-04', 'records'), sorted([records[0], records[2], records[5]]))
  assertEquals(await ids('maintenance?from=2026-03-03', 'records'), sorted([records[1], records[4]]))
  assertEquals(await ids('maintenance?to=2026-03-01', 'records'), sorted([records[3]]))
  assertEquals(await ids('maintenance?q=OIL', 'records'), sorted([records[0], records[3]]), 'q: case-insensitive')
  assertEquals(await ids(`maintenance?q=${encodeURIComponent('%_')}`, 'records'), sorted([records[5]]), 'LIKE wildcards are literal')
  assertEquals(await ids(`maintenance?q=oil&vehicle_id=${v0.id}`, 'records'), sorted([records[0]]))
  assertEquals(await ids(`fuel?vehicle_id=${v0.id}`, 'fuel_logs'), sorted([fills[0], fills[2], fills[4]]))
  assertEquals(await ids(`fuel?trip_id=${trips[0].id}`, 'fuel_logs'), sorted([fills[0], fills[3]]))
  assertEquals(await ids('fuel?from=2026-03-01&to=2026-03-02', 'fuel_logs'), sorted([fills[0], fills[2]]))
  assertEquals(await ids(`fuel?vehicle_id=${v1.id}&from=2026-02-01`, 'fuel_logs'), sorted([fills[1]]))
  // Filters keep pages exact.
  assertEquals((await allPages(w, `maintenance?vehicle_id=${v0.id}`, 'records', 1)).ids, byDate(records, [4, 5, 2, 0]))
  // Another user's vehicle as a filter finds nothing.
  assertEquals(await ids(`maintenance?vehicle_id=${theirs.id}`, 'records'), [])
  assertEquals(await ids(`fuel?vehicle_id=${theirs.id}`, 'fuel_logs'), [])
})

// ---------------------------------------------------------------- other users

Deno.test("wheels: another user's ids are 404 and untouched; linking another user's vehicle or trip is refused", async () => {
  const owner = await signUp()
  const intruder = await signUp()
  const w = wheelsAs(owner)
  const i = wheelsAs(intruder)
  const vehicle = await create(w, 'vehicles', { name: 'Mine' }, 'vehicle')
  const trip = await create(w, 'trips', { name: 'Mine', vehicle_id: vehicle.id }, 'trip')
  const rows: [string, string, Json, Record<string, unknown>][] = [
    ['vehicles', 'vehicle', vehicle, { name: 'Stolen' }],
    ['maintenance', 'record', await create(w, 'maintenance', { vehicle_id: vehicle.id, task: 'Oil', date: '2026-03-01' }, 'record'), { task: 'x' }],
    ['fuel', 'fuel_log', await create(w, 'fuel', { vehicle_id: vehicle.id, trip_id: trip.id, date: '2026-03-01', litres: '5.00', total_cost: '10.00' }, 'fuel_log'), { litres: '1.00' }],
    ['trips', 'trip', trip, { name: 'Stolen' }],
    ['places', 'place', await create(w, 'places', { name: 'Mine', latitude: 1, longitude: 2 }, 'place'), { name: 'Stolen' }],
  ]
  for (const [path, key, row, patch] of rows) {
    for (const [method, body] of [['GET', undefined], ['PATCH', patch], ['DELETE', undefined]] as const) {
      const res = await i(`${path}/${row.id}`, { method, body })
      assertEquals([res.status, res.body.error?.code], [404, 'not_found'], `${method} ${path}: ${show(res)}`)
    }
    const unknown = await i(`${path}/${crypto.randomUUID()}`)
    assertEquals(unknown.status, 404, 'the same as an unknown id')
    assertEquals(await listIds(i, path, key === 'record' ? 'records' : `${key}s`), [], `${path}: the intruder lists nothing`)
    assertEquals((await w(`${path}/${row.id}`)).body[key], row, `${path}: untouched`)
  }

  // Links to the owner's vehicle and trip, by create and by PATCH.
  const own = await create(i, 'vehicles', { name: 'Intruder' }, 'vehicle')
  const ownTrip = await create(i, 'trips', { name: 'Intruder' }, 'trip')
  const ownRecord = await create(i, 'maintenance', { vehicle_id: own.id, task: 'Oil', date: '2026-03-01', odometer: 100 }, 'record')
  const ownFill = await create(i, 'fuel', { vehicle_id: own.id, date: '2026-03-01', litres: '5.00', total_cost: '10.00' }, 'fuel_log')
  const refused: [string, string, unknown, string, string][] = [
    ['POST', 'maintenance', { vehicle_id: vehicle.id, task: 'Oil', date: '2026-03-01' }, 'vehicle_id', 'unknown_vehicle'],
    ['POST', 'maintenance', { vehicle_id: vehicle.id, task: 'Oil', date: '2026-03-01', odometer: 5 }, 'vehicle_id', 'unknown_vehicle'],
    ['POST', 'fuel', { vehicle_id: vehicle.id, litres: '5.00', total_cost: '10.00', odometer: 5 }, 'vehicle_id', 'unknown_vehicle'],
    ['POST', 'fuel', { vehicle_id: own.id, trip_id: trip.id, litres: '5.00', total_cost: '10.00' }, 'trip_id', 'unknown_trip'],
    ['POST', 'trips', { name: 'Sneaky', vehicle_id: vehicle.id }, 'vehicle_id', 'unknown_vehicle'],
    ['PATCH', `maintenance/${ownRecord.id}`, { vehicle_id: vehicle.id }, 'vehicle_id', 'unknown_vehicle'],
    ['PATCH', `trips/${ownTrip.id}`, { vehicle_id: vehicle.id }, 'vehicle_id', 'unknown_vehicle'],
    ['PATCH', `fuel/${ownFill.id}`, { trip_id: trip.id }, 'trip_id', 'unknown_trip'],
  ]
  for (const [method, path, body, field, code] of refused) {
    assertInvalid(await i(path, { method, body }), field, `${method} ${path} with ${JSON.stringify(body)}`, code)
  }
  assertEquals([await count('maintenance_records', intruder.id), await count('expenses', intruder.id), await count('trips', intruder.id)], [1, 1, 1])
  assertEquals((await i(`maintenance/${ownRecord.id}`)).body.record, ownRecord)
  assertEquals((await i(`trips/${ownTrip.id}`)).body.trip, ownTrip)
  assertEquals((await i(`fuel/${ownFill.id}`)).body.fuel_log, ownFill)
  // Through Wins too.
  const x = winsAs(intruder)
  assertInvalid(await x('expenses', { method: 'POST', body: { amount: '1.00', category: 'fuel', vehicle_id: vehicle.id } }), 'vehicle_id', 'wins vehicle', 'unknown_vehicle')
  assertInvalid(await x(`expenses/${ownFill.id}`, { method: 'PATCH', body: { trip_id: trip.id } }), 'trip_id', 'wins trip', 'unknown_trip')
  // The owner's rows are as they were.
  const [v] = await adminSql`select current_odometer from pam.vehicles where id = ${vehicle.id}`
  assertEquals(v.current_odometer, 0)
  assertEquals(await count('expenses', owner.id), 1)
})
