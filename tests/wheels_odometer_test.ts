// The odometer rules through the API: readings (maintenance, fill-ups and
// Wins expenses with a vehicle) follow the calendar, the newest may not be
// below the vehicle's current odometer and advances it, the current odometer
// cannot go below a reading, the unit is fixed once readings exist, a typo
// can be corrected, and parallel writes on one vehicle leave it right.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { type Answer, winsAs } from './_support/wins.ts'
import { wheelsAs } from './_support/wheels.ts'

const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

/** A signed-in user with their wheels and wins calls, and helpers that record readings. */
async function driver() {
  const user = await signUp()
  const w = wheelsAs(user)
  const x = winsAs(user)
  const vehicle = async (body: Record<string, unknown> = {}) => {
    const res = await w('vehicles', { method: 'POST', body: { name: 'Troopy', ...body } })
    assertEquals(res.status, 201, show(res))
    return res.body.vehicle.id as string
  }
  const current = async (id: string) => {
    const res = await w(`vehicles/${id}`)
    assertEquals(res.status, 200, show(res))
    return res.body.vehicle.current_odometer as number
  }
  const maintenance = (vehicle: string, date: string, odometer: number | null) =>
    w('maintenance', { method: 'POST', body: { vehicle_id: vehicle, task: 'Check', date, odometer } })
  const fuel = (vehicle: string, date: string, odometer: number | null) =>
    w('fuel', { method: 'POST', body: { vehicle_id: vehicle, date, odometer, litres: '40.00', price_per_litre: '2.000' } })
  const expense = (vehicle: string, date: string, odometer: number | null) =>
    x('expenses', { method: 'POST', body: { amount: '30.00', category: 'maintenance', vehicle_id: vehicle, date, odometer } })
  const readings = async (vehicle: string) => {
    const [r] = await adminSql`
      select (select count(*) from pam.maintenance_records where vehicle_id = ${vehicle} and odometer is not null)::int
           + (select count(*) from pam.expenses where vehicle_id = ${vehicle} and odometer is not null)::int as n`
    return r.n as number
  }
  return { user, w, x, vehicle, current, maintenance, fuel, expense, readings }
}

async function created(p: Promise<Answer>, why = ''): Promise<string> {
  const res = await p
  assertEquals(res.status, 201, `${why}: ${show(res)}`)
  const row = res.body.record ?? res.body.fuel_log ?? res.body.expense
  return row.id
}

/** 409 odometer_out_of_order whose message names every one of `mentions` (readings, units, dates). */
async function outOfOrder(p: Promise<Answer>, mentions: string[], why: string) {
  const res = await p
  assertEquals([res.status, res.body.error?.code], [409, 'odometer_out_of_order'], `${why}: ${show(res)}`)
  const message = res.body.error.message as string
  for (const m of mentions) assert(message.includes(m), `${why}: the message should name ${m}: ${message}`)
}

Deno.test('wheels odometer: readings follow the calendar across maintenance, fill-ups and Wins expenses', async () => {
  const d = await driver()
  const v = await d.vehicle()
  const first = await created(d.maintenance(v, '2026-03-10', 50000))
  assertEquals(await d.current(v), 50000, 'maintenance advances the current odometer')

  // An earlier day with a higher reading.
  const earlierHigher = ['60000 km on 2026-03-05', '50000 km on 2026-03-10']
  await outOfOrder(d.fuel(v, '2026-03-05', 60000), earlierHigher, 'fill-up: earlier day, higher reading')
  await outOfOrder(d.maintenance(v, '2026-03-05', 60000), earlierHigher, 'maintenance: earlier day, higher reading')
  await outOfOrder(d.expense(v, '2026-03-05', 60000), earlierHigher, 'expense: earlier day, higher reading')
  // A later day with a lower reading.
  const laterLower = ['45000 km on 2026-03-15', '50000 km on 2026-03-10']
  await outOfOrder(d.fuel(v, '2026-03-15', 45000), laterLower, 'fill-up: later day, lower reading')
  await outOfOrder(d.maintenance(v, '2026-03-15', 45000), laterLower, 'maintenance: later day, lower reading')
  await outOfOrder(d.expense(v, '2026-03-15', 45000), laterLower, 'expense: later day, lower reading')
  assertEquals(await d.readings(v), 1, 'nothing stored')
  assertEquals((await adminSql`select count(*)::int as n from pam.expenses where user_id = ${d.user.id}`)[0].n, 0)
  assertEquals(await d.current(v), 50000)

  const fill = await created(d.fuel(v, '2026-03-20', 52000))
  assertEquals(await d.current(v), 52000, 'a fill-up advances the current odometer')
  // The same day: not ordered against each other, but a lower one is below the current odometer.
  await outOfOrder(d.fuel(v, '2026-03-20', 51000), ['51000', '52000'], 'same day, below the current odometer')
  await created(d.maintenance(v, '2026-03-20', 52500), 'same day, higher')
  assertEquals(await d.current(v), 52500)

  // Changes are held to the same rules.
  const before = (await d.w(`maintenance/${first}`)).body.record
  await outOfOrder(d.w(`maintenance/${first}`, { method: 'PATCH', body: { date: '2026-03-25' } }), ['50000 km on 2026-03-25', '2026-03-20'], 'moved after a higher reading')
  await outOfOrder(d.w(`maintenance/${first}`, { method: 'PATCH', body: { odometer: 53000 } }), ['53000 km on 2026-03-10', '2026-03-20'], 'raised above a later reading')
  await outOfOrder(d.w(`fuel/${fill}`, { method: 'PATCH', body: { odometer: 49000 } }), ['49000', '50000'], 'lowered below an earlier reading')
  await outOfOrder(d.x(`expenses/${fill}`, { method: 'PATCH', body: { date: '2026-03-01' } }), ['52000', '50000'], 'moved before a lower reading (Wins)')
  assertEquals((await d.w(`maintenance/${first}`)).body.record, before, 'unchanged')
  assertEquals((await d.w(`fuel/${fill}`)).body.fuel_log.odometer, 52000)
  assertEquals((await d.w(`fuel/${fill}`)).body.fuel_log.date, '2026-03-20')
  assertEquals(await d.current(v), 52500)

  // Readings of another vehicle are another calendar.
  const other = await d.vehicle()
  await created(d.fuel(other, '2026-03-01', 1000), 'another vehicle')
  assertEquals([await d.current(other), await d.current(v)], [1000, 52500])
})

Deno.test('wheels odometer: the newest reading may not be below the current odometer, and advances it', async () => {
  const d = await driver()
  const v = await d.vehicle({ current_odometer: 100000 })
  const below = ['99000 km', '100000 km']
  await outOfOrder(d.maintenance(v, '2026-04-01', 99000), below, 'maintenance below the current odometer')
  await outOfOrder(d.fuel(v, '2026-04-01', 99000), below, 'fill-up below the current odometer')
  await outOfOrder(d.expense(v, '2026-04-01', 99000), below, 'expense below the current odometer')
  assertEquals(await d.readings(v), 0)

  await created(d.maintenance(v, '2026-04-01', null), 'no reading, no rule')
  assertEquals(await d.current(v), 100000)
  await created(d.fuel(v, '2026-04-01', 100000), 'equal to the current odometer')
  assertEquals(await d.current(v), 100000)
  await created(d.maintenance(v, '2026-04-02', 100250))
  assertEquals(await d.current(v), 100250)
  await created(d.fuel(v, '2026-04-03', 100900))
  assertEquals(await d.current(v), 100900)
  await created(d.expense(v, '2026-04-04', 101000))
  assertEquals(await d.current(v), 101000)
  // Raised by hand, the current odometer holds the next reading to it.
  assertEquals((await d.w(`vehicles/${v}`, { method: 'PATCH', body: { current_odometer: 102000 } })).status, 200)
  await outOfOrder(d.fuel(v, '2026-04-05', 101500), ['101500', '102000'], 'below a current odometer raised by hand')
  await created(d.fuel(v, '2026-04-05', 102100))
  assertEquals(await d.current(v), 102100)

  // Messages are in the vehicle's unit.
  const miles = await d.vehicle({ odometer_unit: 'mi', current_odometer: 1000 })
  await outOfOrder(d.fuel(miles, '2026-04-01', 500), ['500 mi', '1000 mi'], 'in miles')
})

Deno.test('wheels odometer: a back-dated reading that fits between its neighbours is accepted and keeps the current odometer', async () => {
  const d = await driver()
  const v = await d.vehicle()
  await created(d.maintenance(v, '2026-03-01', 10000))
  await created(d.fuel(v, '2026-03-20', 20000))
  assertEquals(await d.current(v), 20000)

  await created(d.fuel(v, '2026-03-10', 15000), 'fill-up between')
  await created(d.maintenance(v, '2026-03-05', 12000), 'maintenance between')
  await created(d.expense(v, '2026-03-15', 17000), 'expense between')
  await created(d.fuel(v, '2026-02-01', 5000), 'before them all')
  await created(d.fuel(v, '2026-03-12', 15000), 'equal to the day before')
  assertEquals(await d.current(v), 20000, 'back-dated readings do not lower it')

  await outOfOrder(d.fuel(v, '2026-03-11', 25000), ['25000', '2026-03-11'], 'back-dated but higher than a later reading')
  await outOfOrder(d.maintenance(v, '2026-03-11', 9000), ['9000', '2026-03-11'], 'back-dated but lower than an earlier reading')
  assertEquals(await d.readings(v), 7)
  assertEquals(await d.current(v), 20000)
})

Deno.test('wheels odometer: the current odometer cannot go below a reading; the unit is fixed once readings exist', async () => {
  const d = await driver()
  const v = await d.vehicle()
  const patch = (body: Record<string, unknown>) => d.w(`vehicles/${v}`, { method: 'PATCH', body })

  // Without readings, both may change freely.
  for (const body of [{ odometer_unit: 'mi' }, { odometer_unit: 'km' }, { current_odometer: 500 }, { current_odometer: 100 }]) {
    const res = await patch(body)
    assertEquals(res.status, 200, `${JSON.stringify(body)}: ${show(res)}`)
  }
  await created(d.maintenance(v, '2026-02-01', null), 'maintenance without a reading')
  assertEquals((await patch({ odometer_unit: 'mi' })).status, 200, 'a record without a reading does not fix the unit')
  assertEquals((await patch({ odometer_unit: 'km' })).status, 200)

  const fill = await created(d.fuel(v, '2026-03-01', 20000))
  await outOfOrder(patch({ current_odometer: 19999 }), ['19999 km', '20000 km'], 'below the highest reading')
  assertEquals((await patch({ current_odometer: 25000 })).status, 200)
  assertEquals((await patch({ current_odometer: 20000 })).status, 200, 'down to the highest reading')
  await outOfOrder(patch({ current_odometer: 0, name: 'Reset' }), ['0 km', '20000 km'], 'reset to zero')

  const locked = await patch({ odometer_unit: 'mi' })
  assertEquals([locked.status, locked.body.error?.code], [409, 'odometer_unit_locked'], show(locked))
  assert((locked.body.error.message as string).includes('km'), locked.body.error.message)
  const alsoNamed = await patch({ odometer_unit: 'mi', name: 'Renamed' })
  assertEquals(alsoNamed.status, 409)
  const now = (await d.w(`vehicles/${v}`)).body.vehicle
  assertEquals([now.name, now.odometer_unit, now.current_odometer], ['Troopy', 'km', 20000], 'refused patches change nothing')

  // Once the readings are gone, the unit is free again.
  assertEquals((await d.w(`fuel/${fill}`, { method: 'DELETE' })).status, 204)
  assertEquals((await patch({ odometer_unit: 'mi' })).status, 200)

  // A Wins expense with a reading fixes the unit too.
  const other = await d.vehicle()
  await created(d.expense(other, '2026-03-01', 300), 'expense reading')
  const res = await d.w(`vehicles/${other}`, { method: 'PATCH', body: { odometer_unit: 'mi' } })
  assertEquals([res.status, res.body.error?.code], [409, 'odometer_unit_locked'], show(res))
})

Deno.test('wheels odometer: correcting a typo brings the current odometer down to the highest remaining reading', async () => {
  const d = await driver()
  const v = await d.vehicle()
  await created(d.maintenance(v, '2026-03-01', 10000))
  await created(d.fuel(v, '2026-03-05', 12000))
  const typo = await created(d.fuel(v, '2026-03-10', 120000))
  assertEquals(await d.current(v), 120000)
  await outOfOrder(d.fuel(v, '2026-03-12', 12500), ['12500', '120000'], 'the typo holds every later reading back')

  // A correction still has to fit the calendar.
  await outOfOrder(d.w(`fuel/${typo}`, { method: 'PATCH', body: { odometer: 11000 } }), ['11000', '12000'], 'correction below an earlier reading')
  assertEquals(await d.current(v), 120000)

  const fixed = await d.w(`fuel/${typo}`, { method: 'PATCH', body: { odometer: 12400 } })
  assertEquals(fixed.status, 200, show(fixed))
  assertEquals(await d.current(v), 12400, 'fill-up typo corrected')
  await created(d.fuel(v, '2026-03-12', 12500), 'the next reading fits now')
  assertEquals(await d.current(v), 12500)

  // Maintenance: a typo cleared altogether.
  const mTypo = await created(d.maintenance(v, '2026-03-15', 130000))
  assertEquals(await d.current(v), 130000)
  assertEquals((await d.w(`maintenance/${mTypo}`, { method: 'PATCH', body: { odometer: null } })).status, 200)
  assertEquals(await d.current(v), 12500, 'maintenance typo cleared: back to the highest remaining reading')

  // A Wins expense: corrected through Wins.
  const eTypo = await created(d.expense(v, '2026-03-20', 99999))
  assertEquals(await d.current(v), 99999)
  const eFixed = await d.x(`expenses/${eTypo}`, { method: 'PATCH', body: { odometer: 13000 } })
  assertEquals(eFixed.status, 200, show(eFixed))
  assertEquals(await d.current(v), 13000, 'Wins expense typo corrected')

  // Correcting an older reading leaves the current odometer alone.
  assertEquals((await d.w(`fuel/${typo}`, { method: 'PATCH', body: { odometer: 12300 } })).status, 200)
  assertEquals(await d.current(v), 13000)
})

Deno.test('wheels odometer: deleting the reading that set the current odometer brings it down, to the owner\'s own at the least', async () => {
  const d = await driver()
  const v = await d.vehicle({ current_odometer: 50000 })
  const good = await created(d.fuel(v, '2026-04-01', 51000))
  const typo = await created(d.fuel(v, '2026-04-05', 510000))
  assertEquals(await d.current(v), 510000)
  assertEquals((await d.w(`fuel/${typo}`, { method: 'DELETE' })).status, 204)
  assertEquals(await d.current(v), 51000, 'back to the highest reading left')

  // Maintenance and Wins expenses are readings too.
  const mTypo = await created(d.maintenance(v, '2026-04-06', 520000))
  assertEquals((await d.w(`maintenance/${mTypo}`, { method: 'DELETE' })).status, 204)
  assertEquals(await d.current(v), 51000)
  const eTypo = await created(d.expense(v, '2026-04-07', 530000))
  assertEquals((await d.x(`expenses/${eTypo}`, { method: 'DELETE' })).status, 204)
  assertEquals(await d.current(v), 51000)

  // No reading left: the odometer the owner gave, not 0.
  assertEquals((await d.w(`fuel/${good}`, { method: 'DELETE' })).status, 204)
  assertEquals(await d.current(v), 50000)

  // The owner sets it on; a typo above it is corrected by clearing it: back to theirs.
  assertEquals((await d.w(`vehicles/${v}`, { method: 'PATCH', body: { current_odometer: 52000 } })).status, 200)
  const later = await created(d.maintenance(v, '2026-04-10', 620000))
  assertEquals((await d.w(`maintenance/${later}`, { method: 'PATCH', body: { odometer: null } })).status, 200)
  assertEquals(await d.current(v), 52000)

  // Deleting an older reading leaves the current odometer alone.
  await created(d.fuel(v, '2026-04-11', 53000))
  const old = await created(d.fuel(v, '2026-04-02', 51500))
  assertEquals((await d.w(`fuel/${old}`, { method: 'DELETE' })).status, 204)
  assertEquals(await d.current(v), 53000)

  // A vehicle from before, whose owner's own odometer is not known: with no reading left, it stays.
  const before = await d.vehicle({ current_odometer: 70000 })
  const only = await created(d.fuel(before, '2026-04-01', 70500))
  await adminSql`update pam.vehicles set odometer_set = null where id = ${before}`
  assertEquals((await d.w(`fuel/${only}`, { method: 'DELETE' })).status, 204)
  assertEquals(await d.current(before), 70500, 'not 0')
})

Deno.test('wheels odometer: a retried create is answered with its row, and its reading is not checked or applied again', async () => {
  const d = await driver()
  const v = await d.vehicle()
  const fill = { id: crypto.randomUUID(), vehicle_id: v, date: '2026-03-10', odometer: 51200, litres: '40.00', price_per_litre: '2.000' }
  assertEquals((await d.w('fuel', { method: 'POST', body: fill })).status, 201)
  // The reading was a typo, corrected since: the odometer followed it down.
  assertEquals((await d.w(`fuel/${fill.id}`, { method: 'PATCH', body: { odometer: 50200 } })).status, 200)
  assertEquals(await d.current(v), 50200)
  // The first answer was lost, and the app sends the create again.
  const again = await d.w('fuel', { method: 'POST', body: fill })
  assertEquals(again.status, 200, show(again))
  assertEquals(again.body.fuel_log.odometer, 50200, 'the row as it is now')
  assertEquals(await d.current(v), 50200, 'not raised to the replayed reading')

  // The vehicle's odometer has moved on past a reading since: its retry is the row, not a 409.
  const service = { id: crypto.randomUUID(), vehicle_id: v, task: 'Check', date: '2026-03-11', odometer: 50300 }
  assertEquals((await d.w('maintenance', { method: 'POST', body: service })).status, 201)
  const expense = { id: crypto.randomUUID(), amount: '30.00', category: 'maintenance', vehicle_id: v, date: '2026-03-12', odometer: 50400 }
  assertEquals((await d.x('expenses', { method: 'POST', body: expense })).status, 201)
  assertEquals((await d.w(`vehicles/${v}`, { method: 'PATCH', body: { current_odometer: 50900 } })).status, 200)
  const serviceAgain = await d.w('maintenance', { method: 'POST', body: service })
  assertEquals(serviceAgain.status, 200, show(serviceAgain))
  const expenseAgain = await d.x('expenses', { method: 'POST', body: expense })
  assertEquals(expenseAgain.status, 200, show(expenseAgain))
  assertEquals(await d.current(v), 50900)
  assertEquals(await d.readings(v), 3)
})

Deno.test('wheels odometer: parallel fill-ups and maintenance on one vehicle never leave the current odometer behind', async () => {
  const d = await driver()
  const vehicles = [await d.vehicle(), await d.vehicle(), await d.vehicle()]
  const day = (i: number) => `2026-03-${String(i + 1).padStart(2, '0')}`
  // Ten fill-ups per vehicle, increasing by date and odometer, all sent at once and in a scrambled order.
  const jobs = vehicles.flatMap((v) => Array.from({ length: 10 }, (_, i) => ({ v, i })))
  jobs.sort((a, b) => ((a.i * 7 + 3) % 10) - ((b.i * 7 + 3) % 10))
  const answers = await Promise.all(jobs.map(({ v, i }) => d.fuel(v, day(i), 10000 + i * 500)))
  for (const res of answers) assertEquals(res.status, 201, show(res))
  for (const v of vehicles) {
    assertEquals(await d.current(v), 14500, 'the highest reading')
    assertEquals(await d.readings(v), 10)
  }

  // Maintenance and fill-ups mixed, in parallel, on one vehicle.
  const v = vehicles[0]
  const mixed = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 ? d.fuel : d.maintenance)(v, day(10 + i), 20000 + i * 100)),
  )
  for (const res of mixed) assertEquals(res.status, 201, show(res))
  assertEquals(await d.current(v), 20900)

  // Wins expenses and fill-ups in parallel, newest first in the array.
  const more = await Promise.all(
    Array.from({ length: 10 }, (_, i) => 9 - i).map((i) => (i % 2 ? d.expense : d.fuel)(v, day(20 + i), 30000 + i * 10)),
  )
  for (const res of more) assertEquals(res.status, 201, show(res))
  assertEquals(await d.current(v), 30090)
  const [max] = await adminSql`
    select greatest((select max(odometer) from pam.maintenance_records where vehicle_id = ${v}),
                    (select max(odometer) from pam.expenses where vehicle_id = ${v})) as m`
  assertEquals(max.m, 30090)
})

Deno.test('wheels odometer: a Wins expense with a vehicle and an odometer is a reading like any other', async () => {
  const d = await driver()
  const v = await d.vehicle()
  const e = await created(d.expense(v, '2026-03-10', 40000), 'expense reading')
  assertEquals(await d.current(v), 40000, 'a Wins expense advances the current odometer')
  // Not a fill-up (no volume), but its reading counts against fill-ups and maintenance.
  assertEquals((await d.w('fuel')).body.fuel_logs, [])
  await outOfOrder(d.fuel(v, '2026-03-12', 39000), ['39000', '40000'], 'fill-up below the expense reading')
  await outOfOrder(d.maintenance(v, '2026-03-01', 41000), ['41000', '40000'], 'maintenance before it, higher')
  // A fill-up recorded in Wins is the same kind of reading.
  const fill = await d.x('expenses', {
    method: 'POST',
    body: { amount: '80.00', category: 'fuel', vehicle_id: v, date: '2026-03-12', odometer: 40500, fuel_volume: '40.00' },
  })
  assertEquals(fill.status, 201, show(fill))
  assertEquals(await d.current(v), 40500)
  assertEquals((await d.w(`fuel/${fill.body.expense.id}`)).body.fuel_log.odometer, 40500)
  await outOfOrder(d.x(`expenses/${e}`, { method: 'PATCH', body: { odometer: 41000 } }), ['41000', '40500'], 'PATCH above a later reading')
  await outOfOrder(d.x(`expenses/${e}`, { method: 'PATCH', body: { date: '2026-03-13' } }), ['40000', '40500'], 'PATCH after a higher reading')
  // Without a vehicle an odometer is just a number.
  const loose = await d.x('expenses', { method: 'POST', body: { amount: '5.00', category: 'other', date: '2026-03-01', odometer: 1 } })
  assertEquals(loose.status, 201, show(loose))
  assertEquals(await d.current(v), 40500)
  // Moving a reading onto another vehicle is checked against that vehicle's readings.
  const other = await d.vehicle({ current_odometer: 90000 })
  await outOfOrder(d.x(`expenses/${e}`, { method: 'PATCH', body: { vehicle_id: other } }), ['40000', '90000'], 'moved onto a vehicle further along')
  assertEquals((await d.x(`expenses/${e}`)).body.expense.vehicle_id, v)
})
