// The wheels routes that call Mapbox and Open-Meteo, against the local stub of
// tests/_support/upstream-stub.ts: trip routes (stored, sized for the
// vehicle, with a fuel estimate), day-by-day trip plans with overnight
// campsites from the seeded directory, geocoding near the caller, weather
// with warnings, and what each answers when the service is down, rate
// limiting, hanging or not configured. Each test runs an in-process wheels
// app pointed at a stub of its own (its failures cannot reach other tests);
// the first checks that the stack's own functions reach the stack's stub.
import { assert, assertEquals, type Json } from './_support/assert.ts'
import { adminSql, callFunction, signUp, stack, type TestUser, upstream } from './_support/stack.ts'
import { encodePolyline6, startUpstreamStub, type UpstreamStub } from './_support/upstream-stub.ts'
import { wheelsApp, wheelsAs } from './_support/wheels.ts'
import { type Answer, type Call, winsAs } from './_support/wins.ts'
import { CACHE_POLICIES } from '../supabase/functions/_shared/cache.ts'

interface Upstream {
  stub: UpstreamStub
  /** Calls the in-process wheels app as `user`. */
  as: (user: TestUser) => Call
  /** The app's cache namespace. */
  prefix: string
}

/** A stub of the test's own and an in-process wheels app whose Mapbox and Open-Meteo it is. */
async function withUpstream(fn: (u: Upstream) => Promise<void>, env: Record<string, string> = {}) {
  const stub = startUpstreamStub()
  const prefix = `twr${crypto.randomUUID().slice(0, 8)}:`
  try {
    await fn({
      stub,
      prefix,
      as: wheelsApp({
        MAPBOX_TOKEN: stub.token,
        MAPBOX_BASE_URL: stub.url,
        WEATHER_BASE_URL: stub.url,
        PAM_CACHE_PREFIX: prefix,
        ...env,
      }),
    })
  } finally {
    await stub.close()
  }
}

const ok = (res: Answer, status = 200) => {
  assertEquals(res.status, status, JSON.stringify(res.body))
  return res.body
}

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10)

interface Point {
  name?: string
  lat: number
  lng: number
}

const BYRON: Point = { name: 'Byron Bay', lat: -28.643387, lng: 153.612224 }
const BALLINA: Point = { name: 'Ballina', lat: -28.8167, lng: 153.5667 }
const YAMBA: Point = { name: 'Yamba', lat: -29.4333, lng: 153.3667 }
const BRISBANE: Point = { name: 'Brisbane', lat: -27.4698, lng: 153.0251 }
const SYDNEY: Point = { name: 'Sydney', lat: -33.8688, lng: 151.2093 }

// --- what the stub answers, worked out here (the test's oracle) ---

const r5 = (x: number) => Number(x.toFixed(5))
const round1 = (x: number) => Math.round(x * 10) / 10

function haversineKm(a: Point, b: Point, radiusKm = 6371.0088): number {
  const rad = Math.PI / 180
  const h = Math.sin((b.lat - a.lat) * rad / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin((b.lng - a.lng) * rad / 2) ** 2
  return 2 * radiusKm * Math.asin(Math.sqrt(h))
}

/** The stub's Directions answer for these stops: 1.3 × the great circle, at 80 km/h. */
function stubRoute(points: Point[]) {
  const stops = points.map((p) => ({ lat: r5(p.lat), lng: r5(p.lng) }))
  const legs = stops.slice(1).map((to, i) => {
    const distance = Math.round(haversineKm(stops[i], to, 6371) * 1000 * 1.3 * 10) / 10
    return { distance, duration: Math.round(distance / (80 / 3.6) * 10) / 10 }
  })
  const sum = (k: 'distance' | 'duration') =>
    Math.round(legs.reduce((s, l) => s + l[k], 0) * 10) / 10
  return {
    path: `/directions/v5/mapbox/driving/${stops.map((s) => `${s.lng},${s.lat}`).join(';')}`,
    stops,
    distanceM: sum('distance'),
    durationS: sum('duration'),
    legs,
    polyline: encodePolyline6(stops.map((s) => [s.lat, s.lng])),
  }
}

const cents = (money: string) => Math.round(Number(money) * 100)

// --- fixtures through the API ---

async function vehicle(call: Call, fields: Json = {}): Promise<Json> {
  return ok(
    await call('vehicles', {
      method: 'POST',
      body: { name: 'Test rig', type: 'motorhome', ...fields },
    }),
    201,
  )
    .vehicle
}

async function fillUp(call: Call, vehicleId: string, fields: Json): Promise<Json> {
  return ok(await call('fuel', { method: 'POST', body: { vehicle_id: vehicleId, ...fields } }), 201)
    .fuel_log
}

/** A motorhome 3.4 m high, 2.5 m wide, 4.5 t, 8.5 m long that used 72 L over 600 km
 * between two full tanks (12 L/100 km), last filled 5 days ago at 2.150. */
async function measuredMotorhome(call: Call): Promise<Json> {
  const v = await vehicle(call, { height_m: 3.4, width_m: 2.5, weight_t: 4.5, length_m: 8.5 })
  await fillUp(call, v.id, {
    date: daysAgo(40),
    odometer: 50_000,
    litres: '55.00',
    price_per_litre: '1.899',
  })
  await fillUp(call, v.id, {
    date: daysAgo(5),
    odometer: 50_600,
    litres: '72.00',
    price_per_litre: '2.150',
  })
  return v
}

async function trip(call: Call, fields: Json): Promise<Json> {
  return ok(await call('trips', { method: 'POST', body: { name: 'Test trip', ...fields } }), 201)
    .trip
}

const tripOf = async (call: Call, id: string) => ok(await call(`trips/${id}`)).trip

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now()
  const value = await p
  return { value, ms: performance.now() - start }
}

function assertUnavailable(res: Answer, service: string, retryAfter?: string) {
  assertEquals(res.status, 503, JSON.stringify(res.body))
  assertEquals(res.body.error.code, 'upstream_unavailable')
  assertEquals(res.body.error.details, { service })
  const header = res.headers.get('retry-after')
  assert(header && Number(header) >= 1, `Retry-After: ${header}`)
  if (retryAfter) assertEquals(header, retryAfter)
}

// --- the stack ---

Deno.test("wheels: the stack's functions call the stack's Mapbox and Open-Meteo stub", async () => {
  const user = await signUp()
  const call = wheelsAs(user)
  // Somewhere no other test routes, so the route cache cannot answer for the stub.
  const from = { lat: BRISBANE.lat + Math.random() / 100, lng: BRISBANE.lng }
  const t = await trip(call, { origin: from, destination: SYDNEY })
  const routed = ok(await call(`trips/${t.id}/route`, { method: 'POST' }))
  const expected = stubRoute([from, SYDNEY])
  assertEquals(routed.route.distance_km, round1(expected.distanceM / 1000))
  assertEquals(upstream.calls(expected.path).length, 1)
  assertEquals(upstream.calls(expected.path)[0].searchParams.get('access_token'), upstream.token)

  const q = `Stack ${crypto.randomUUID().slice(0, 8)}`
  const found = ok(await call(`geocode?q=${encodeURIComponent(q)}`))
  assertEquals(found.places[0].name, q)
  assert(upstream.calls('/search/geocode/v6/forward').some((u) => u.searchParams.get('q') === q))

  const lat = -Number((10 + Math.random() * 20).toFixed(2))
  const weather = ok(await call(`weather?lat=${lat}&lng=131.04`))
  assertEquals(weather.forecast.timezone, 'Australia/Sydney')
  assert(upstream.calls('/v1/forecast').some((u) => u.searchParams.get('latitude') === String(lat)))
})

// --- trip routes ---

Deno.test("wheels: a trip's route is stored, sized for the vehicle, with fuel at its measured consumption and latest price", async () => {
  await withUpstream(async ({ stub, as }) => {
    const user = await signUp()
    const call = as(user)
    const v = await measuredMotorhome(call)
    const t = await trip(call, {
      vehicle_id: v.id,
      origin: BYRON,
      stops: [BALLINA],
      destination: YAMBA,
    })
    assertEquals(t.route_polyline, null)

    const body = ok(await call(`trips/${t.id}/route`, { method: 'POST' }))
    const expected = stubRoute([BYRON, BALLINA, YAMBA])
    const [asked, ...more] = stub.calls('/directions/')
    assertEquals(more.length, 0)
    assertEquals(asked.pathname, expected.path)
    assertEquals(
      ['max_height', 'max_width', 'max_weight'].map((p) => asked.searchParams.get(p)),
      ['3.4', '2.5', '4.5'],
    )
    assertEquals(asked.searchParams.get('geometries'), 'polyline6')

    const km = expected.distanceM / 1000
    assertEquals(body.route, {
      distance_km: round1(km),
      duration_min: Math.round(expected.durationS / 60),
      legs: expected.legs.map((l) => ({
        distance_km: round1(l.distance / 1000),
        duration_min: Math.round(l.duration / 60),
      })),
    })
    const stored = body.trip
    assertEquals(stored.planned_distance_km, round1(km))
    assertEquals(stored.planned_duration_min, Math.round(expected.durationS / 60))
    assertEquals(stored.route_polyline, expected.polyline)
    assert(
      Math.abs(Date.parse(stored.route_computed_at) - Date.now()) < 60_000,
      stored.route_computed_at,
    )

    // 72 L over 600 km between the two full tanks; the fill 5 days ago priced it.
    const fuel = body.fuel
    assertEquals(fuel.consumption_source, 'measured')
    assertEquals(fuel.l_per_100km, 12)
    assertEquals(fuel.litres, Math.round(km * 12) / 100)
    assertEquals(Number(fuel.price_per_litre), 2.15)
    assertEquals(fuel.price_source, 'recent_fill_up')
    assertEquals(cents(fuel.cost), Math.round(fuel.litres * 2.15 * 100))
    assertEquals(fuel.currency, 'AUD')
    assertEquals(stored.estimated_fuel_cost, fuel.cost)

    // Stored: a read gives the same trip.
    assertEquals(await tripOf(call, t.id), stored)
  })
})

Deno.test('wheels: without two full tanks the route uses the typical consumption of the type; a fill-up older than 90 days prices nothing', async () => {
  await withUpstream(async ({ stub, as }) => {
    const user = await signUp()
    const call = as(user)
    // One full tank measures nothing; its price is 120 days old.
    const caravan = await vehicle(call, { type: 'caravan' })
    await fillUp(call, caravan.id, {
      date: daysAgo(120),
      odometer: 10_000,
      litres: '60.00',
      price_per_litre: '1.500',
    })
    const t = await trip(call, { vehicle_id: caravan.id, origin: BALLINA, destination: YAMBA })
    const body = ok(await call(`trips/${t.id}/route`, { method: 'POST' }))
    const km = stubRoute([BALLINA, YAMBA]).distanceM / 1000
    assertEquals(body.fuel, {
      litres: Math.round(km * 16) / 100,
      l_per_100km: 16,
      consumption_source: 'typical',
      price_per_litre: null,
      price_source: 'none',
      cost: null,
      currency: 'AUD',
    })
    assertEquals(body.trip.estimated_fuel_cost, null)
    // A vehicle without dimensions sends no limits.
    const asked = stub.calls('/directions/')[0].searchParams
    assertEquals(['max_height', 'max_width', 'max_weight'].filter((p) => asked.has(p)), [])

    // A trip without a vehicle: the typical figure for "other", and the user's latest price.
    const v = await vehicle(call, { type: 'campervan' })
    await fillUp(call, v.id, { date: daysAgo(3), litres: '40.00', price_per_litre: '1.999' })
    const bare = await trip(call, { origin: YAMBA, destination: BYRON })
    const fuel = ok(await call(`trips/${bare.id}/route`, { method: 'POST' })).fuel
    const bareKm = stubRoute([YAMBA, BYRON]).distanceM / 1000
    assertEquals([fuel.consumption_source, fuel.l_per_100km, fuel.litres], [
      'typical',
      14,
      Math.round(bareKm * 14) / 100,
    ])
    assertEquals([Number(fuel.price_per_litre), fuel.price_source], [1.999, 'recent_fill_up'])
  })
})

Deno.test('wheels: a trip without an origin or a destination is 422 trip_incomplete, and Mapbox is not asked', async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    for (const ends of [{ destination: YAMBA }, { origin: BYRON }, {}]) {
      const t = await trip(call, ends)
      const res = await call(`trips/${t.id}/route`, { method: 'POST' })
      assertEquals(res.status, 422, JSON.stringify(res.body))
      assertEquals(res.body.error.code, 'trip_incomplete')
      assertEquals(await tripOf(call, t.id), t)
    }
    assertEquals(stub.requests.length, 0)
  })
})

Deno.test('wheels: no route (Mapbox NoRoute or NoSegment) is 422 no_route, and the trip is unchanged', async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    const v = await vehicle(call, { height_m: 4.3 })
    const t = await trip(call, { vehicle_id: v.id, origin: BYRON, destination: YAMBA })
    stub.mode = 'no_route'
    const res = await call(`trips/${t.id}/route`, { method: 'POST' })
    assertEquals(res.status, 422, JSON.stringify(res.body))
    assertEquals(res.body.error.code, 'no_route')
    assert(/vehicle of this size/.test(res.body.error.message), res.body.error.message)
    stub.mode = 'no_segment'
    const far = await call(`trips/${t.id}/route`, { method: 'POST' })
    assertEquals([far.status, far.body.error?.code], [422, 'no_route'])
    assertEquals(await tripOf(call, t.id), t)
    // Not retried: an answer, not a failure.
    assertEquals(stub.calls('/directions/').length, 2)
  })
})

Deno.test("wheels: a route computed while the trip's stops changed is not stored over them (409 trip_changed)", async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    const t = await trip(call, { origin: BYRON, stops: [BALLINA], destination: YAMBA })
    let answer!: () => void
    stub.gate = new Promise((resolve) => answer = resolve)
    const routing = call(`trips/${t.id}/route`, { method: 'POST' })
    while (!stub.calls('/directions/').length) await new Promise((resolve) => setTimeout(resolve, 5))
    // While Mapbox works on Byron → Ballina → Yamba, the traveller drops the stop.
    ok(await call(`trips/${t.id}`, { method: 'PATCH', body: { stops: [] } }))
    answer()
    stub.gate = null
    const res = await routing
    assertEquals(res.status, 409, JSON.stringify(res.body))
    assertEquals(res.body.error.code, 'trip_changed')
    const now = ok(await call(`trips/${t.id}`)).trip
    assertEquals([now.stops, now.route_polyline, now.planned_distance_km, now.route_computed_at], [[], null, null, null])
    // Computed again, for the trip as it is now, the route is stored.
    const again = ok(await call(`trips/${t.id}/route`, { method: 'POST' }))
    assertEquals(again.route.distance_km, round1(stubRoute([BYRON, YAMBA]).distanceM / 1000))
    assertEquals(again.trip.planned_distance_km, again.route.distance_km)
  })
})

Deno.test('wheels: Mapbox down, rate limiting or hanging is a prompt 503 upstream_unavailable, and the trip is unchanged', async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    const t = await trip(call, { origin: BYRON, stops: [BALLINA], destination: YAMBA })
    const route = () => timed(call(`trips/${t.id}/route`, { method: 'POST' }))

    // 500s: retried twice with short backoff, then given up.
    stub.mode = 'server_error'
    const down = await route()
    assertUnavailable(down.value, 'mapbox')
    assertEquals(stub.calls('/directions/').length, 3)
    assert(down.ms < 3000, `took ${down.ms} ms`)

    // A 429 asking for a minute is not waited for: passed on at once.
    stub.mode = 'rate_limited'
    stub.retryAfterS = 60
    const limited = await route()
    assertUnavailable(limited.value, 'mapbox', '60')
    assertEquals(stub.calls('/directions/').length, 4)
    assert(limited.ms < 1000, `took ${limited.ms} ms`)

    // A short Retry-After is honoured, then given up all the same.
    stub.retryAfterS = 1
    const brief = await route()
    assertUnavailable(brief.value, 'mapbox')
    assert(brief.ms >= 900 && brief.ms < 5000, `took ${brief.ms} ms`)

    // No answer at all: within the call's budget (9 s: README, "External services").
    stub.mode = 'hang'
    const hung = await route()
    assertUnavailable(hung.value, 'mapbox')
    assert(hung.ms < 10_000, `took ${hung.ms} ms`)

    assertEquals(await tripOf(call, t.id), t)

    // And once Mapbox is back, the route comes.
    stub.mode = 'ok'
    ok(await call(`trips/${t.id}/route`, { method: 'POST' }))
  })
})

// --- trip plans ---

interface Site {
  id: string
  name: string
  type: string
  latitude: number
  longitude: number
  amenities: string[]
  rv_friendly: boolean
  max_rig_length_m: number | null
  price_per_night: number
}

const directory = () =>
  adminSql<Site[]>`
    select id::text, name, type, latitude, longitude, amenities, rv_friendly,
           max_rig_length_m::float8 as max_rig_length_m, price_per_night::float8 as price_per_night
    from pam.campsites`

interface Filters {
  types?: string[]
  amenities?: string[]
  rigLength?: number
  maxPrice?: number
}

/** The nearest RV-friendly site matching the filters within 50 km of `at`, else within 100 km. */
function nearestSite(sites: Site[], at: Point, f: Filters): (Site & { km: number }) | null {
  const matching = sites
    .filter((s) =>
      s.rv_friendly && (!f.types || f.types.includes(s.type)) &&
      (f.amenities ?? []).every((a) => s.amenities.includes(a)) &&
      (f.rigLength === undefined || s.max_rig_length_m === null ||
        s.max_rig_length_m >= f.rigLength) &&
      (f.maxPrice === undefined || s.price_per_night <= f.maxPrice)
    )
    .map((s) => ({ ...s, km: haversineKm(at, { lat: s.latitude, lng: s.longitude }) }))
    .sort((a, b) => a.km - b.km)
  return matching.find((s) => s.km <= 50) ?? matching.find((s) => s.km <= 100) ?? null
}

/** Where each day's drive ends on a straight route of `totalKm` from `a` to `b`. */
const dayEnds = (a: Point, b: Point, totalKm: number, daily: number, days: number) =>
  Array.from({ length: days - 1 }, (_, i) => {
    const t = ((i + 1) * daily) / totalKm
    return { lat: a.lat + (b.lat - a.lat) * t, lng: a.lng + (b.lng - a.lng) * t }
  })

/** Checks a plan's days against the directory: each night's site is the nearest matching one. */
function checkNights(plan: Json, ends: Point[], sites: Site[], f: Filters) {
  const nights = plan.days.slice(0, -1).map((d: Json) => d.overnight)
  assertEquals(plan.days.at(-1).overnight, null, 'no campsite after the last day')
  ends.forEach((end, i) => {
    const want = nearestSite(sites, end, f)
    const got = nights[i]
    assertEquals(got?.id ?? null, want?.id ?? null, `night ${i + 1} near ${end.lat},${end.lng}`)
    const to = plan.days[i].to
    if (got) {
      assertEquals(to, { lat: got.latitude, lng: got.longitude, name: got.name })
      assert(Math.abs(got.distance_km - want!.km) < 0.5, `${got.distance_km} km vs ${want!.km}`)
    } else {
      assertEquals(to.name, null)
      assert(haversineKm(to, end) < 1, `night ${i + 1} without a site ends at the day's end`)
    }
    assertEquals(plan.days[i + 1].from, to)
  })
  const camping = nights.reduce(
    (s: number, n: Json | null) => s + (n ? cents(n.price_per_night) : 0),
    0,
  )
  assertEquals(cents(plan.total.camping_cost), camping)
  return camping
}

Deno.test('wheels: a trip plan drives at most max_daily_drive_km a day and sleeps at the nearest matching campsite', async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    const v = await measuredMotorhome(call)
    const sites = await directory()
    const request = {
      origin: BRISBANE,
      destination: SYDNEY,
      start_date: '2026-12-30',
      max_daily_drive_km: 300,
      vehicle_id: v.id,
      camping_types: ['caravan_park', 'showground', 'national_park', 'free_camping'],
      amenities: ['toilets'],
      max_price_per_night: 60,
    }
    const { plan } = ok(await call('trips/plan', { method: 'POST', body: request }))
    const route = stubRoute([BRISBANE, SYDNEY])
    const asked = stub.calls('/directions/')[0]
    assertEquals(asked.pathname, route.path)
    assertEquals(asked.searchParams.get('max_height'), '3.4')

    const totalKm = route.distanceM / 1000
    const days = Math.ceil(totalKm / 300)
    assertEquals(plan.route_source, 'mapbox')
    assertEquals(plan.currency, 'AUD')
    assertEquals(
      [plan.total.distance_km, plan.total.duration_min, plan.total.days, plan.total.nights],
      [round1(totalKm), Math.round(route.durationS / 60), days, days - 1],
    )
    assert(days >= 3, `${totalKm} km is ${days} days`)
    assertEquals(plan.days.map((d: Json) => d.day), Array.from({ length: days }, (_, i) => i + 1))
    assertEquals(
      plan.days.map((d: Json) => d.date),
      plan.days.map((_: Json, i: number) =>
        new Date(Date.UTC(2026, 11, 30 + i)).toISOString().slice(0, 10)
      ),
    )
    const dayKm = (i: number) => (i === days - 1 ? totalKm - 300 * (days - 1) : 300)
    assertEquals(
      plan.days.map((d: Json) => d.distance_km),
      plan.days.map((_: Json, i: number) => round1(dayKm(i))),
    )
    assertEquals(plan.days[0].from, { lat: BRISBANE.lat, lng: BRISBANE.lng, name: 'Brisbane' })
    assertEquals(plan.days.at(-1).to, { lat: SYDNEY.lat, lng: SYDNEY.lng, name: 'Sydney' })

    // The vehicle's length is the rig length when none is given.
    const filters = {
      types: request.camping_types,
      amenities: request.amenities,
      rigLength: 8.5,
      maxPrice: 60,
    }
    const ends = dayEnds(route.stops[0], route.stops[1], totalKm, 300, days)
    const camping = checkNights(plan, ends, sites, filters)
    assert(plan.days.some((d: Json) => d.overnight), 'the route passes campsites: a night has one')

    // Fuel at 12 L/100 km and 2.150 a litre; the whole trip costs fuel and camping.
    const fuel = plan.total.fuel
    assertEquals([fuel.consumption_source, fuel.l_per_100km, fuel.price_source], [
      'measured',
      12,
      'recent_fill_up',
    ])
    assertEquals(fuel.litres, Math.round(totalKm * 12) / 100)
    assertEquals(cents(fuel.cost), Math.round(fuel.litres * 2.15 * 100))
    assertEquals(cents(plan.total.estimated_cost), cents(fuel.cost) + camping)
    plan.days.forEach((d: Json, i: number) =>
      assertEquals(
        cents(d.fuel_cost),
        Math.round((Math.round(dayKm(i) * 12) / 100) * 2.15 * 100),
        `day ${i + 1}`,
      )
    )

    // Stricter filters, a longer rig given outright: other sites, or none.
    const strict = {
      types: ['free_camping', 'rest_area'],
      amenities: ['toilets'],
      rigLength: 12,
      maxPrice: 0,
    }
    const other = ok(
      await call('trips/plan', {
        method: 'POST',
        body: {
          ...request,
          camping_types: strict.types,
          rig_length_m: strict.rigLength,
          max_price_per_night: strict.maxPrice,
        },
      }),
    ).plan
    assertEquals(checkNights(other, ends, sites, strict), 0)
    // The route came from the cache.
    assertEquals(stub.calls('/directions/').length, 1)
  })
})

Deno.test('wheels: with Mapbox down a trip plan still comes, estimated from great-circle distances', async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    stub.mode = 'server_error'
    const { plan } = ok(
      await call('trips/plan', {
        method: 'POST',
        body: { origin: BRISBANE, destination: SYDNEY, start_date: '2026-12-30' },
      }),
    )
    assert(stub.calls('/directions/').length > 0, 'Mapbox was asked')
    const totalKm = haversineKm(BRISBANE, SYDNEY) * 1.25
    const days = Math.ceil(totalKm / 350)
    assertEquals(plan.route_source, 'estimate')
    assertEquals(
      [plan.total.distance_km, plan.total.duration_min, plan.total.days, plan.total.nights],
      [round1(totalKm), Math.round((totalKm / 80) * 60), days, days - 1],
    )
    // No vehicle and no fill-ups: typical for "other", and nothing to price it with.
    assertEquals(
      [
        plan.total.fuel.l_per_100km,
        plan.total.fuel.consumption_source,
        plan.total.fuel.cost,
        plan.total.estimated_cost,
      ],
      [14, 'typical', null, null],
    )
    assertEquals(plan.days.map((d: Json) => d.fuel_cost), plan.days.map(() => null))
    // Nights near where each day ends on the straight line (to within the 64 segments it is drawn with).
    const ends = dayEnds(BRISBANE, SYDNEY, totalKm, 350, days)
    plan.days.slice(0, -1).forEach((d: Json, i: number) => {
      const at = d.overnight ? { lat: d.overnight.latitude, lng: d.overnight.longitude } : d.to
      assert(
        haversineKm(at, ends[i]) <= 105,
        `night ${i + 1} is ${haversineKm(at, ends[i])} km from the day's end`,
      )
    })
  })
})

Deno.test('wheels: a trip plan that ends where it starts is one day of 0 km', async () => {
  await withUpstream(async ({ as }) => {
    const call = as(await signUp())
    const { plan } = ok(
      await call('trips/plan', {
        method: 'POST',
        body: { origin: YAMBA, destination: YAMBA, start_date: '2026-12-30' },
      }),
    )
    assertEquals([plan.total.distance_km, plan.total.duration_min, plan.total.days], [0, 0, 1])
    assertEquals(plan.days.length, 1)
    assertEquals([plan.days[0].distance_km, plan.days[0].duration_min], [0, 0])
  })
})

// --- without a Mapbox token ---

Deno.test('wheels: without MAPBOX_TOKEN routes and geocoding are 503, plans are estimates, weather works', async () => {
  await withUpstream(async ({ stub, as }) => {
    const call = as(await signUp())
    const t = await trip(call, { origin: BYRON, destination: YAMBA })
    const res = await call(`trips/${t.id}/route`, { method: 'POST' })
    assertUnavailable(res, 'mapbox', '3600')
    assert(/MAPBOX_TOKEN/.test(res.body.error.message), res.body.error.message)
    assertEquals(await tripOf(call, t.id), t)

    const { plan } = ok(
      await call('trips/plan', {
        method: 'POST',
        body: { origin: BYRON, destination: YAMBA, start_date: '2026-12-30' },
      }),
    )
    assertEquals(plan.route_source, 'estimate')
    assertEquals(plan.total.distance_km, round1(haversineKm(BYRON, YAMBA) * 1.25))

    assertUnavailable(await call('geocode?q=Yamba'), 'mapbox', '3600')
    ok(await call('weather?lat=-29.43&lng=153.36'))
    // Mapbox was never called; Open-Meteo was.
    assertEquals(stub.requests.map((u) => u.pathname), ['/v1/forecast'])
  }, { MAPBOX_TOKEN: '' })
})

Deno.test('wheels: a signed-out token gets no lookups, though they run no query of their own', async () => {
  await withUpstream(async ({ stub, as }) => {
    const user = await signUp()
    const out = await callFunction('auth/logout?scope=global', { method: 'POST', token: user.accessToken })
    assertEquals(out.status, 204)
    const call = as(user)
    for (const path of ['weather?lat=-29.43&lng=153.36', 'geocode?q=Yamba&near_lat=-29.43&near_lng=153.36']) {
      const res = await call(path)
      assertEquals([res.status, res.body.error?.code], [401, 'session_not_found'], path)
    }
    assertEquals(stub.requests.length, 0)
  })
})

// --- geocoding ---

Deno.test('wheels: geocoding favours the latest place the user was, or the point given, and is cached', async () => {
  await withUpstream(async ({ stub, as }) => {
    const user = await signUp()
    const call = as(user)
    const geocode = async (query: string) => {
      const before = stub.calls('/search/geocode/v6/forward').length
      const body = ok(await call(`geocode?${query}`))
      const asked = stub.calls('/search/geocode/v6/forward').slice(before)
      return { body, asked: asked[0]?.searchParams, calls: asked.length }
    }

    // Nowhere known yet: no proximity.
    const first = await geocode('q=Coober%20Pedy')
    assertEquals(first.asked!.get('q'), 'Coober Pedy')
    assertEquals(first.asked!.has('proximity'), false)
    assertEquals(first.body.near, null)
    assertEquals(first.body.places[0], {
      name: 'Coober Pedy',
      full_address: 'Coober Pedy, Byron Bay, New South Wales 2481, Australia',
      lat: -28.64,
      lng: 153.61,
      kind: 'place',
    })
    assertEquals(first.body.places.length, 3)

    // A saved place.
    ok(
      await call('places', {
        method: 'POST',
        body: { name: 'Home base', latitude: -23.7012, longitude: 133.8811 },
      }),
      201,
    )
    const place = await geocode('q=Alice')
    assertEquals(place.asked!.get('proximity'), '133.88,-23.7')
    assertEquals(place.body.near, { lat: -23.7012, lng: 133.8811 })

    // Then an expense with coordinates: the latest of the two.
    ok(
      await winsAs(user)('expenses', {
        method: 'POST',
        body: { amount: '31.50', category: 'camping', latitude: -31.9523, longitude: 115.8613 },
      }),
      201,
    )
    const expense = await geocode('q=Perth')
    assertEquals(expense.asked!.get('proximity'), '115.86,-31.95')
    assertEquals(expense.body.near, { lat: -31.9523, lng: 115.8613 })

    // A point given wins; limit and country go along.
    const given = await geocode('q=Broome&near_lat=-17.9614&near_lng=122.2359&limit=2&country=AU')
    assertEquals(
      ['proximity', 'limit', 'country'].map((p) => given.asked!.get(p)),
      ['122.24,-17.96', '2', 'au'],
    )
    assertEquals(given.body.near, { lat: -17.9614, lng: 122.2359 })
    assertEquals(given.body.places.length, 2)

    // The same question again is answered from the cache.
    const again = await geocode('q=Broome&near_lat=-17.9614&near_lng=122.2359&limit=2&country=AU')
    assertEquals(again.calls, 0)
    assertEquals(again.body, given.body)
    assertEquals(CACHE_POLICIES.geocode.ttl, 24 * 3600)
  })
})

// --- weather ---

Deno.test('wheels: weather is the forecast with warnings for high-sided vehicles, cached 30 min; 503 when Open-Meteo is down', async () => {
  await withUpstream(async ({ stub, as, prefix }) => {
    const call = as(await signUp())
    stub.forecast.current.wind_gusts_10m = 50
    Object.assign(stub.forecast.daily, {
      wind_gusts_10m_max: [34.2, 40.3, 65, 37.8, 29.5, 24.1, 31],
      precipitation_sum: [0, 0.4, 6.2, 30, 0, 0, 0.2],
      weather_code: [2, 3, 61, 80, 95, 0, 3],
      temperature_2m_max: [24.1, 23.5, 21.9, 22.4, 24.8, 41, 24],
      temperature_2m_min: [15.2, 16, 16.4, 15.1, 14.3, 14.8, -1],
    })
    const { forecast } = ok(await call('weather?lat=-28.6434&lng=153.6122'))
    const [asked] = stub.calls('/v1/forecast')
    assertEquals(
      ['latitude', 'longitude', 'forecast_days', 'timezone'].map((p) => asked.searchParams.get(p)),
      ['-28.64', '153.61', '7', 'auto'],
    )
    assertEquals(forecast.timezone, 'Australia/Sydney')
    assertEquals(forecast.current.temperature_c, 21.4)
    assertEquals(forecast.current.wind_gusts_kmh, 50)
    assertEquals(forecast.daily.length, 7)
    assertEquals(forecast.daily[2].wind_gusts_max_kmh, 65)
    const date = (i: number) => forecast.daily[i].date
    assertEquals(
      forecast.warnings.map((w: Json) => [w.date, w.kind, w.severity]),
      [
        [null, 'strong_wind', 'caution'],
        [date(2), 'high_wind', 'warning'],
        [date(3), 'heavy_rain', 'warning'],
        [date(4), 'storm', 'warning'],
        [date(5), 'heat', 'warning'],
        [date(6), 'frost', 'caution'],
      ],
    )

    // Within ~1 km: the cached forecast, not a new call.
    const near = ok(await call('weather?lat=-28.6401&lng=153.6149'))
    assertEquals(near.forecast, forecast)
    assertEquals(stub.calls('/v1/forecast').length, 1)
    assertEquals(CACHE_POLICIES.weather.ttl, 30 * 60)
    if (stack.cache.backend === 'upstash') {
      const res = await fetch(Deno.env.get('UPSTASH_REDIS_REST_URL')!, {
        method: 'POST',
        headers: { authorization: `Bearer ${Deno.env.get('UPSTASH_REDIS_REST_TOKEN')}` },
        body: JSON.stringify(['TTL', `${prefix}weather:-28.64,153.61`]),
      })
      const { result } = await res.json()
      assert(result > 1790 && result <= 1800, `TTL ${result}`)
    }

    // Open-Meteo down: a prompt 503 elsewhere; the cached place still answers.
    stub.mode = 'server_error'
    const down = await timed(call('weather?lat=-12.46&lng=130.84'))
    assertUnavailable(down.value, 'weather')
    assert(down.ms < 3000, `took ${down.ms} ms`)
    assertEquals(ok(await call('weather?lat=-28.6434&lng=153.6122')).forecast, forecast)
    stub.mode = 'unavailable'
    assertUnavailable(await call('weather?lat=-12.46&lng=130.84'), 'weather')
  })
})

// --- campsite reviews (shared data: tests/cross_user_test.ts leaves the directory out) ---

Deno.test("wheels: a campsite review is its author's: another user's PUT and DELETE of theirs touch only their own", async () => {
  const [a, b] = [await signUp(), await signUp()]
  const [asA, asB] = [wheelsAs(a), wheelsAs(b)]
  const site = '10000000-0000-4000-8000-000000000028'
  const mine = ok(
    await asA(`camping/${site}/reviews/mine`, {
      method: 'PUT',
      body: { rating: 5, review: 'Great spot' },
    }),
  ).review
  const theirs = ok(
    await asB(`camping/${site}/reviews/mine`, {
      method: 'PUT',
      body: { rating: 2, review: 'Windy' },
    }),
  ).review
  assert(mine.id !== theirs.id)
  assertEquals((await asB(`camping/${site}/reviews/mine`, { method: 'DELETE' })).status, 204)
  assertEquals((await asB(`camping/${site}/reviews/mine`, { method: 'DELETE' })).status, 404)
  const reviews = ok(await asA(`camping/${site}/reviews?limit=200`)).reviews as Json[]
  assertEquals(reviews.find((r) => r.id === mine.id), { ...mine, mine: true })
  assertEquals(reviews.some((r) => r.id === theirs.id), false)
  const seenByB = ok(await asB(`camping/${site}/reviews?limit=200`)).reviews as Json[]
  assertEquals(seenByB.find((r) => r.id === mine.id)?.mine, false)
})
