// Fuel economy and spend: consumption() against hand-computed fixtures, and
// GET /wheels/fuel/stats from real fill-ups — consumption between full tanks,
// month totals, filters — whose fuel cost is the same sum as the fuel
// category of /wins/summary (a fill-up is a fuel expense). Recording a
// fill-up answers with the fuel budget's impact and drops cached summaries, and a reading
// drops PAM's cached context (which states the odometer).
//
// Conversions used by hand below: 1 mi = 1.609344 km; 1 US gal = 3.785411784 L;
// 1 imperial gal = 4.54609 L; so mpg (US) = 235.2146 / (L/100 km) and
// mpg (imperial) = 282.4809 / (L/100 km).
import { assertEquals, type Json } from './_support/assert.ts'
import { type Call, dayIn, testConfig, userWith, winsAppAt, winsAs } from './_support/wins.ts'
import { wheelsApp, wheelsAs } from './_support/wheels.ts'
import { redisAvailable, startUpstashBridge } from './_support/redis.ts'
import { CACHE_POLICIES, cacheFor } from '../supabase/functions/_shared/cache.ts'
import { consumption, type Fill } from '../supabase/functions/wheels/fuel-economy.ts'

/** A fill: odometer (null: none recorded), litres, full tank or not, cost in cents (null: another currency). */
const fill = (odometer: number | null, litres: number, full: boolean, cents: number | null = 0): Fill => ({
  odometer,
  litres,
  full,
  cents: cents === null ? null : BigInt(cents),
})

Deno.test('fuel economy: two full tanks', () => {
  // 500 km on the 60 L of the second fill: 12 L/100 km = 8.33 km/L = 19.6 mpg (US) = 23.5 mpg (imperial).
  assertEquals(consumption([fill(10000, 50, true, 10000), fill(10500, 60, true, 12000)], 'km'), {
    distance_km: 500,
    litres: 60,
    l_per_100km: 12,
    km_per_l: 8.33,
    mpg_us: 19.6,
    mpg_imperial: 23.5,
    cost_per_km_cents: 24, // 12000 cents / 500 km
    full_tank_intervals: 1,
  })
})

Deno.test('fuel economy: partial fills between full tanks count towards the next full tank', () => {
  const fills = [
    fill(1000, 40, true, 8000),
    fill(1300, 20, false, 4000),
    fill(1500, 15, false, 3000),
    fill(1800, 25, true, 5000), // 800 km on 20 + 15 + 25 = 60 L
    fill(2300, 40, true, 8000), // 500 km on 40 L
  ]
  // 1300 km on 100 L: 7.69 L/100 km, 13 km/L; 807.78 mi on 26.417 US gal = 30.6 mpg, on 21.997 imp gal = 36.7 mpg.
  assertEquals(consumption(fills, 'km'), {
    distance_km: 1300,
    litres: 100,
    l_per_100km: 7.69,
    km_per_l: 13,
    mpg_us: 30.6,
    mpg_imperial: 36.7,
    cost_per_km_cents: 15.38, // (4000 + 3000 + 5000 + 8000) / 1300
    full_tank_intervals: 2,
  })
  // The first interval alone: 800 km on 60 L = 7.5 L/100 km.
  assertEquals(consumption(fills.slice(0, 4), 'km'), {
    distance_km: 800,
    litres: 60,
    l_per_100km: 7.5,
    km_per_l: 13.33,
    mpg_us: 31.4,
    mpg_imperial: 37.7,
    cost_per_km_cents: 15, // 12000 / 800
    full_tank_intervals: 1,
  })
})

/** 500 km on 50 L, 7500 cents: what the fixtures below all measure. */
const TEN_PER_100 = {
  distance_km: 500,
  litres: 50,
  l_per_100km: 10,
  km_per_l: 10,
  mpg_us: 23.5,
  mpg_imperial: 28.2,
  cost_per_km_cents: 15,
  full_tank_intervals: 1,
}

Deno.test('fuel economy: fills before the first full tank measure nothing', () => {
  const measured = [fill(1000, 40, true, null), fill(1500, 50, true, 7500)]
  assertEquals(consumption(measured, 'km'), TEN_PER_100) // the first full tank's own fuel and cost are not measured
  assertEquals(consumption([fill(500, 30, false, 6000), fill(700, 10, false, null), ...measured], 'km'), TEN_PER_100)
})

Deno.test('fuel economy: partial fills after the last full tank measure nothing', () => {
  const measured = [fill(1000, 40, true), fill(1500, 50, true, 7500)]
  assertEquals(consumption([...measured, fill(1800, 20, false, 4000), fill(2000, 10, false, null)], 'km'), TEN_PER_100)
})

Deno.test('fuel economy: fills without an odometer reading measure nothing', () => {
  assertEquals(
    consumption([fill(null, 35, true), fill(1000, 40, true), fill(null, 30, false, 6000), fill(null, 99, true, null), fill(1500, 50, true, 7500)], 'km'),
    TEN_PER_100,
  )
  assertEquals(consumption([fill(null, 35, true), fill(null, 30, true), fill(1000, 40, true)], 'km'), null)
})

Deno.test('fuel economy: a miles vehicle — distances converted at 1.609344 km/mi', () => {
  // 300 mi = 482.8032 km on 45 L: 9.32 L/100 km, 10.73 km/L; 45 L = 11.8877 US gal = 9.8987 imp gal.
  assertEquals(consumption([fill(10000, 50, true), fill(10300, 45, true, 9000)], 'mi'), {
    distance_km: 482.8,
    litres: 45,
    l_per_100km: 9.32,
    km_per_l: 10.73,
    mpg_us: 25.2, // 300 / 11.8877
    mpg_imperial: 30.3, // 300 / 9.8987
    cost_per_km_cents: 18.64, // 9000 / 482.8032
    full_tank_intervals: 1,
  })
  // The same readings in km are a different vehicle: 15 L/100 km.
  assertEquals(consumption([fill(10000, 50, true), fill(10300, 45, true, 9000)], 'km')?.l_per_100km, 15)
})

Deno.test('fuel economy: cost per km is null when a measured fill was paid in another currency', () => {
  // A partial fill in the interval.
  assertEquals(consumption([fill(1000, 40, true), fill(1200, 20, false, null), fill(1500, 30, true, 5000)], 'km'), {
    ...TEN_PER_100,
    cost_per_km_cents: null,
  })
  // The closing full tank.
  assertEquals(consumption([fill(1000, 40, true, 8000), fill(1500, 50, true, null)], 'km')?.cost_per_km_cents, null)
  // One interval of two: the whole measurement has no cost.
  const two = consumption([fill(1000, 40, true), fill(1500, 50, true, 7500), fill(2000, 50, true, null)], 'km')
  assertEquals([two?.distance_km, two?.litres, two?.full_tank_intervals, two?.cost_per_km_cents], [1000, 100, 2, null])
})

Deno.test('fuel economy: fewer than two full tanks a distance apart measure nothing (null)', () => {
  const none: [string, Fill[]][] = [
    ['no fills', []],
    ['one full tank', [fill(1000, 40, true, 8000)]],
    ['a full tank and partial fills', [fill(1000, 40, true), fill(1200, 20, false), fill(1400, 20, false)]],
    ['partial fills, then a full tank', [fill(800, 20, false), fill(1000, 40, true)]],
    ['partial fills only', [fill(800, 20, false), fill(1000, 40, false)]],
    ['a second full tank without a reading', [fill(1000, 40, true), fill(null, 40, true)]],
    ['two full tanks at one reading', [fill(1000, 40, true), fill(1000, 40, true)]],
  ]
  for (const [why, fills] of none) assertEquals(consumption(fills, 'km'), null, why)
})

// ---------------------------------------------------------------------------
// GET /wheels/fuel/stats, end to end.

async function ok(w: Call, path: string, body: Record<string, unknown>, status = 201): Promise<Json> {
  const res = await w(path, { method: 'POST', body })
  assertEquals(res.status, status, `${path}: ${JSON.stringify(res.body)}`)
  return res.body
}

async function stats(w: Call, query = ''): Promise<Json> {
  const res = await w(`fuel/stats${query}`)
  assertEquals(res.status, 200, `fuel/stats${query}: ${JSON.stringify(res.body)}`)
  return res.body
}

/** A traveller with two vehicles, fill-ups (via /wheels/fuel) and fuel expenses (via /wins/expenses). */
async function fuelFixture() {
  const user = await userWith({ timezone: 'Australia/Brisbane', currency: 'AUD' })
  const wheels = wheelsAs(user)
  const wins = winsAs(user)
  const troopy = (await ok(wheels, 'vehicles', { name: 'Troopy' })).vehicle.id
  const winnie = (await ok(wheels, 'vehicles', { name: 'Winnie', odometer_unit: 'mi' })).vehicle.id
  const fillUp = async (body: Record<string, unknown>) => (await ok(wheels, 'fuel', body)).fuel_log
  // Troopy (km): a full tank, a partial fill, a full tank (800 km on 30 + 40 = 70 L, 60.00 + 84.00), a trailing partial.
  await fillUp({ vehicle_id: troopy, date: '2026-02-20', odometer: 10000, litres: '50.00', total_cost: '100.00' })
  const partial = await fillUp({
    vehicle_id: troopy,
    date: '2026-03-02',
    odometer: 10400,
    litres: '30.00',
    price_per_litre: '2.000',
    full_tank: false,
  })
  const full = await fillUp({ vehicle_id: troopy, date: '2026-03-05', odometer: 10800, litres: '40.00', total_cost: '84.00' })
  await fillUp({ vehicle_id: troopy, date: '2026-03-12', odometer: 11200, litres: '20.00', total_cost: '45.00', full_tank: false })
  // Winnie (mi): two full tanks, 250 mi on 36 L, 72.00.
  await fillUp({ vehicle_id: winnie, date: '2026-03-03', odometer: 5000, litres: '40.00', total_cost: '80.00' })
  await fillUp({ vehicle_id: winnie, date: '2026-03-15', odometer: 5250, litres: '36.00', total_cost: '72.00' })
  // Plain expenses: fuel without details (a jerry can), fuel in another currency, not fuel, fuel in April.
  await ok(wins, 'expenses', { amount: '25.50', category: 'fuel', date: '2026-03-08', merchant: 'Jerry can' })
  await ok(wins, 'expenses', { amount: '30.00', category: 'fuel', date: '2026-03-09', currency: 'NZD' })
  await ok(wins, 'expenses', { amount: '40.00', category: 'food', date: '2026-03-09' })
  await ok(wins, 'expenses', { amount: '10.00', category: 'fuel', date: '2026-04-02' })
  return { user, wheels, wins, troopy, winnie, partial, full }
}

Deno.test('fuel stats: consumption between full tanks, per vehicle, from real fill-ups', async () => {
  const { wheels, troopy, winnie, partial, full } = await fuelFixture()
  // total_cost from litres × price, and price from total ÷ litres.
  assertEquals([partial.total_cost, partial.price_per_litre, partial.full_tank, partial.currency], ['60.00', '2.000', false, 'AUD'])
  assertEquals([full.total_cost, full.price_per_litre, full.full_tank], ['84.00', '2.100', true])

  const s = await stats(wheels)
  assertEquals([s.currency, s.from, s.to], ['AUD', null, null])
  assertEquals(s.vehicles, [
    {
      vehicle_id: troopy,
      name: 'Troopy',
      odometer_unit: 'km',
      fill_ups: 4,
      litres: '140.00',
      // 800 km on 70 L: 8.75 L/100 km, 11.43 km/L, 235.2146 / 8.75 = 26.9 mpg, 282.4809 / 8.75 = 32.3 mpg;
      // (60.00 + 84.00) / 800 km = 0.180 a km.
      consumption: {
        distance_km: 800,
        litres: 70,
        l_per_100km: 8.75,
        km_per_l: 11.43,
        mpg_us: 26.9,
        mpg_imperial: 32.3,
        cost_per_km: '0.180',
        full_tank_intervals: 1,
      },
    },
    {
      vehicle_id: winnie,
      name: 'Winnie',
      odometer_unit: 'mi',
      fill_ups: 2,
      litres: '76.00',
      // 250 mi = 402.336 km on 36 L: 8.95 L/100 km, 11.18 km/L; 36 L = 9.5102 US gal = 7.9189 imp gal;
      // 72.00 / 402.336 km = 0.179 a km.
      consumption: {
        distance_km: 402.3,
        litres: 36,
        l_per_100km: 8.95,
        km_per_l: 11.18,
        mpg_us: 26.3,
        mpg_imperial: 31.6,
        cost_per_km: '0.179',
        full_tank_intervals: 1,
      },
    },
  ])
})

Deno.test('fuel stats: month totals, and from/to and vehicle_id filters', async () => {
  const { wheels, troopy, winnie } = await fuelFixture()
  const all = await stats(wheels)
  // Fuel in AUD: 100.00 | 60 + 84 + 45 + 80 + 72 + 25.50 = 366.50 | 10.00; the NZD expense is counted apart.
  assertEquals([all.fuel_cost, all.other_currency_expenses, all.fill_ups, all.litres], ['476.50', 1, 6, '216.00'])
  assertEquals(all.monthly.slice(0, 2), [
    { month: '2026-02', fuel_cost: '100.00', fill_ups: 1, litres: '50.00' },
    { month: '2026-03', fuel_cost: '366.50', fill_ups: 5, litres: '166.00' },
  ])
  assertEquals([all.monthly[2].month, all.monthly[2].fuel_cost, all.monthly[2].fill_ups], ['2026-04', '10.00', 0])

  const march = await stats(wheels, '?from=2026-03-01&to=2026-03-31')
  assertEquals([march.from, march.to, march.fuel_cost, march.other_currency_expenses, march.fill_ups, march.litres], [
    '2026-03-01',
    '2026-03-31',
    '366.50',
    1,
    5,
    '166.00',
  ])
  assertEquals(march.monthly.map((m: Json) => m.month), ['2026-03'])
  // Without February's full tank, Troopy's first full tank in range is 10800: nothing measured.
  assertEquals(march.vehicles.map((v: Json) => [v.name, v.fill_ups, v.litres, v.consumption?.l_per_100km ?? null]), [
    ['Troopy', 3, '90.00', null],
    ['Winnie', 2, '76.00', 8.95],
  ])
  // Both ends inclusive.
  const days = await stats(wheels, '?from=2026-03-02&to=2026-03-05')
  assertEquals([days.fuel_cost, days.fill_ups, days.litres], ['224.00', 3, '110.00']) // 60 + 80 + 84
  const april = await stats(wheels, '?from=2026-04-01')
  assertEquals([april.fuel_cost, april.fill_ups, april.litres, april.vehicles], ['10.00', 0, '0.00', []])
  const before = await stats(wheels, '?to=2026-02-28')
  assertEquals([before.fuel_cost, before.fill_ups, before.vehicles.length], ['100.00', 1, 1])

  // One vehicle: its fill-ups only (plain expenses name no vehicle).
  const w = await stats(wheels, `?vehicle_id=${winnie}`)
  assertEquals([w.fuel_cost, w.other_currency_expenses, w.fill_ups, w.litres], ['152.00', 0, 2, '76.00'])
  assertEquals(w.vehicles.map((v: Json) => v.vehicle_id), [winnie])
  assertEquals(w.monthly, [{ month: '2026-03', fuel_cost: '152.00', fill_ups: 2, litres: '76.00' }])
  const t = await stats(wheels, `?vehicle_id=${troopy}&from=2026-02-01&to=2026-03-05`)
  assertEquals([t.fuel_cost, t.fill_ups, t.vehicles[0].consumption.l_per_100km], ['244.00', 3, 8.75])
  assertEquals((await stats(wheels, `?vehicle_id=${crypto.randomUUID()}`)).fill_ups, 0)

  // Another user sees none of it.
  const other = await stats(wheelsAs(await userWith()))
  assertEquals([other.fuel_cost, other.fill_ups, other.litres, other.vehicles, other.monthly], ['0.00', 0, '0.00', [], []])

  // Amounts and volumes are decimal strings with two places, in every month too: a month without
  // fill-ups has litres "0.00", a month of fuel only in another currency a fuel_cost of "0.00".
  assertEquals(all.monthly[2], { month: '2026-04', fuel_cost: '10.00', fill_ups: 0, litres: '0.00' })
  const nzdOnly = await stats(wheels, '?from=2026-03-09&to=2026-03-09')
  assertEquals([nzdOnly.fuel_cost, nzdOnly.other_currency_expenses, nzdOnly.fill_ups, nzdOnly.litres], ['0.00', 1, 0, '0.00'])
  assertEquals(nzdOnly.monthly, [{ month: '2026-03', fuel_cost: '0.00', fill_ups: 0, litres: '0.00' }])
})

Deno.test('fuel stats: a month\'s fuel cost is the fuel category of /wins/summary for that month', async () => {
  const { wheels, wins } = await fuelFixture()
  for (const [month, day] of [['2026-02', '2026-02-28'], ['2026-03', '2026-03-31'], ['2026-04', '2026-04-30']]) {
    const summary = (await wins(`summary?period=month&date=${month}-15`)).body
    const fuel = summary.by_category.find((c: Json) => c.category === 'fuel')
    const s = await stats(wheels, `?from=${month}-01&to=${day}`)
    assertEquals(s.fuel_cost, fuel.amount, month)
    assertEquals(s.monthly.map((m: Json) => m.fuel_cost), [fuel.amount], month)
  }
  const march = (await wins('summary?period=month&date=2026-03-15')).body
  assertEquals(march.by_category.find((c: Json) => c.category === 'fuel'), {
    category: 'fuel',
    label: 'Fuel',
    amount: '366.50',
    count: 6,
    percent: 90.2, // of 406.50
  })
  // The NZD fuel expense is in neither: both put it apart.
  assertEquals(march.other_currencies, [{ currency: 'NZD', income: '0.00', expenses: '30.00' }])
  assertEquals((await stats(wheels, '?from=2026-03-01&to=2026-03-31')).other_currency_expenses, 1)
  // Deleting a fill-up in Wins deletes it in both.
  const fills = (await wheels('fuel?from=2026-03-15&to=2026-03-15')).body.fuel_logs
  assertEquals(fills.length, 1)
  assertEquals((await wins(`expenses/${fills[0].id}`, { method: 'DELETE' })).status, 204)
  const after = (await wins('summary?period=month&date=2026-03-15')).body
  assertEquals(after.by_category.find((c: Json) => c.category === 'fuel').amount, '294.50')
  assertEquals((await stats(wheels, '?from=2026-03-01&to=2026-03-31')).fuel_cost, '294.50')
})

Deno.test('fuel stats: a fill-up answers with the fuel budget\'s impact and drops cached summaries', async () => {
  // Friday 20 March 2026, 10:00 in Brisbane. One cache namespace for both apps, as in production.
  const at = '2026-03-20T00:00:00Z'
  const prefix = `twf${crypto.randomUUID().slice(0, 8)}:`
  const user = await userWith({ timezone: 'Australia/Brisbane', currency: 'AUD' })
  const wheels = wheelsApp({ PAM_CACHE_PREFIX: prefix }, () => new Date(at))(user)
  const wins = winsAppAt(at, { PAM_CACHE_PREFIX: prefix })(user)
  const v = (await ok(wheels, 'vehicles', { name: 'Troopy' })).vehicle.id

  // No budget: no impact.
  const unbudgeted = await ok(wheels, 'fuel', { vehicle_id: v, date: '2026-03-01', litres: '10.00', total_cost: '20.00' })
  assertEquals(unbudgeted.budgets, [])

  assertEquals((await wins('budgets/fuel', { method: 'PUT', body: { amount: '400.00' } })).status, 201)
  const summary = async () => {
    const res = await wins('summary?period=month')
    assertEquals(res.status, 200)
    return { cache: res.headers.get('x-cache'), fuel: res.body.by_category.find((c: Json) => c.category === 'fuel')?.amount }
  }
  assertEquals(await summary(), { cache: 'miss', fuel: '20.00' })
  assertEquals(await summary(), { cache: 'hit', fuel: '20.00' })

  const first = await ok(wheels, 'fuel', { vehicle_id: v, litres: '50.00', total_cost: '100.00' })
  assertEquals([first.fuel_log.date, first.fuel_log.total_cost], ['2026-03-20', '100.00']) // today in Brisbane
  assertEquals(first.budgets.length, 1)
  const [impact] = first.budgets
  assertEquals([impact.category, impact.period, impact.amount, impact.currency], ['fuel', 'monthly', '400.00', 'AUD'])
  assertEquals([impact.current.start, impact.current.end, impact.current.spent, impact.current.remaining, impact.current.percent], [
    '2026-03-01',
    '2026-03-31',
    '120.00',
    '280.00',
    30,
  ])
  assertEquals([impact.affected, impact.alert], [true, null])
  assertEquals(await summary(), { cache: 'miss', fuel: '120.00' })
  assertEquals(await summary(), { cache: 'hit', fuel: '120.00' })

  // Crossing 80%: the alert rides on the fill-up's answer.
  const second = await ok(wheels, 'fuel', { vehicle_id: v, date: '2026-03-19', litres: '90.00', price_per_litre: '2.500' })
  assertEquals(second.fuel_log.total_cost, '225.00')
  assertEquals([second.budgets[0].current.spent, second.budgets[0].current.percent], ['345.00', 86.3])
  assertEquals([second.budgets[0].affected, second.budgets[0].alert], [true, { threshold: 80, notified: true }])
  assertEquals(await summary(), { cache: 'miss', fuel: '345.00' })

  // Last month's fill-up does not touch this month's budget, and is paid for in another currency here.
  const old = await ok(wheels, 'fuel', { vehicle_id: v, date: '2026-02-10', litres: '10.00', total_cost: '20.00' })
  assertEquals([old.budgets[0].affected, old.budgets[0].current.spent], [false, '345.00'])
  const foreign = await ok(wheels, 'fuel', { vehicle_id: v, date: '2026-03-18', litres: '10.00', total_cost: '30.00', currency: 'NZD' })
  assertEquals([foreign.fuel_log.currency, foreign.budgets[0].affected, foreign.budgets[0].current.spent], ['NZD', false, '345.00'])

  // Changing and deleting a fill-up drop the cached summaries too.
  assertEquals(await summary(), { cache: 'miss', fuel: '345.00' })
  const patched = await wheels(`fuel/${first.fuel_log.id}`, { method: 'PATCH', body: { total_cost: '110.00' } })
  assertEquals([patched.status, patched.body.fuel_log?.total_cost], [200, '110.00'])
  assertEquals(await summary(), { cache: 'miss', fuel: '355.00' })
  assertEquals((await wheels(`fuel/${second.fuel_log.id}`, { method: 'DELETE' })).status, 204)
  assertEquals(await summary(), { cache: 'miss', fuel: '130.00' })
  assertEquals(await summary(), { cache: 'hit', fuel: '130.00' })
})

// PAM's cached context (30 min) states each vehicle's current odometer, which a reading raises.
async function odometerDropsContext(overrides: Record<string, string>) {
  const prefix = `twc${crypto.randomUUID().slice(0, 8)}:`
  const config = { ...overrides, PAM_CACHE_PREFIX: prefix }
  const user = await userWith({ timezone: 'Australia/Brisbane' })
  const wheels = wheelsApp(config)(user)
  const wins = winsAppAt(new Date(), config)(user)
  const cache = cacheFor(testConfig(config)) // the apps' cache
  const context = CACHE_POLICIES.chat_context.key(user.id)
  const v = (await ok(wheels, 'vehicles', { name: 'Troopy', current_odometer: 1000 })).vehicle.id
  const writes: [string, () => Promise<unknown>][] = [
    ['a fill-up (/wheels/fuel)', () => ok(wheels, 'fuel', { vehicle_id: v, odometer: 1100, litres: '10.00', total_cost: '20.00' })],
    ['a fill-up (/wins/expenses)', () => ok(wins, 'expenses', { amount: '30.00', category: 'fuel', vehicle_id: v, odometer: 1200 })],
    ['a service with a reading', () => ok(wheels, 'maintenance', { vehicle_id: v, task: 'Tyres', date: dayIn('Australia/Brisbane'), odometer: 1300 })],
  ]
  for (const [what, write] of writes) {
    await cache.set(context, { vehicles: [{ id: v, current_odometer: 1000 }] }, CACHE_POLICIES.chat_context.ttl)
    assertEquals((await cache.get(context)).status, 'hit', what)
    await write()
    assertEquals((await cache.get(context)).status, 'miss', `${what} drops PAM's context`)
  }
  assertEquals((await wheels(`vehicles/${v}`)).body.vehicle.current_odometer, 1300)
}

Deno.test("fuel: a reading that raises the odometer drops PAM's cached context", async () => {
  await odometerDropsContext({})
})

Deno.test({
  name: 'fuel: the same on Upstash (REST bridge over a real Redis)',
  ignore: !redisAvailable,
  fn: async () => {
    const bridge = (await startUpstashBridge())!
    try {
      await odometerDropsContext({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token })
    } finally {
      await bridge.close()
    }
  },
})

Deno.test('fuel stats: validation (400)', async () => {
  const wheels = wheelsAs(await userWith())
  for (
    const q of [
      'from=2026-03-02&to=2026-03-01',
      'vehicle_id=not-a-uuid',
      'vehicle_id=',
      'from=2026-02-30',
      'to=yesterday',
      'from=2026-3-1',
    ]
  ) {
    const res = await wheels(`fuel/stats?${q}`)
    assertEquals(res.status, 400, q)
    assertEquals(res.body.error?.code, 'validation_failed', `${q}: ${JSON.stringify(res.body)}`)
  }
  const same = await stats(wheels, '?from=2026-03-01&to=2026-03-01')
  assertEquals([same.from, same.to, same.fuel_cost], ['2026-03-01', '2026-03-01', '0.00'])
})
