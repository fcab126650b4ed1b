// `npm run bench:wheels`: the wheels reads that scale with data, through the
// local gateway (JWT verification, rate limiting, RLS), one request at a time:
//
// - GET /wheels/camping over 20,000 campsites spread over Australia (clusters
//   around towns and the outback in between): random points, radius 100 km;
//   and radius 500 km with amenities, rig length and price filters;
// - GET /wheels/maintenance/due for a user with 10 vehicles and 2,000
//   maintenance records: uncached (the user's cached due items dropped before
//   each timed call) and cached; BENCH_OTHER_USERS other users (20) have as
//   many, so that RLS and the user_id indexes have rows to tell apart;
//
// then EXPLAIN (ANALYZE, BUFFERS) of the camping search and of the due items
// query, run as the user under RLS, with the indexes that answer them: the
// search reads its sites by id (campsites_pkey), and pam.campsites_nearest,
// which names them, must answer its box with the GiST index (campsites_location_idx).
// Exits 1 when either does not.
//
// BENCH_REQUESTS (300), BENCH_CAMPSITES (20000), BENCH_MAINTENANCE (2000) and
// BENCH_OTHER_USERS tune it; BENCH_DATABASE_URL uses a server of yours (a throwaway database on it).
import postgres from 'postgres'
import { createClient } from '@supabase/supabase-js'
import { getConfig } from '../../supabase/functions/_shared/config.ts'
import { CACHE_POLICIES, cacheFor } from '../../supabase/functions/_shared/cache.ts'
import { database, type PostgresApi, postgresClient } from '../../supabase/functions/_shared/db.ts'
import {
  AMENITIES,
  type CampingFilters,
  searchCampsites,
} from '../../supabase/functions/wheels/camping.ts'
import { OPEN_ITEMS_SQL } from '../../supabase/functions/wheels/maintenance.ts'
import { explainAsUser, measure, percentile, printTable, startBenchStack } from './_stack.ts'

const REQUESTS = Number(Deno.env.get('BENCH_REQUESTS') ?? 300)
const CAMPSITES = Number(Deno.env.get('BENCH_CAMPSITES') ?? 20_000)
const MAINTENANCE = Number(Deno.env.get('BENCH_MAINTENANCE') ?? 2_000)
const OTHER_USERS = Number(Deno.env.get('BENCH_OTHER_USERS') ?? 20)
const VEHICLES = 10
const NAME_PREFIX = 'Bench campsite '
const WARM_UP = 20

// Australia's mainland, and the towns campsites cluster around.
const BBOX = { south: -39, north: -12, west: 114, east: 153 }
const HUBS: [string, number, number][] = [
  ['Sunshine Coast', -26.65, 152.9],
  ['Sydney', -33.87, 151.2],
  ['Melbourne', -37.81, 144.96],
  ['Adelaide', -34.93, 138.6],
  ['Perth', -31.95, 115.86],
  ['Darwin', -12.46, 130.84],
  ['Cairns', -16.92, 145.77],
  ['Townsville', -19.26, 146.8],
  ['Alice Springs', -23.7, 133.88],
  ['Broome', -17.96, 122.24],
  ['Esperance', -33.86, 121.89],
  ['Port Augusta', -32.49, 137.77],
  ['Mildura', -34.19, 142.16],
  ['Roma', -26.57, 148.79],
  ['Exmouth', -21.93, 114.13],
  ['Dubbo', -32.25, 148.6],
]
// Chance of each amenity (in AMENITIES' order) at a site, before its type's factor.
const AMENITY_ODDS: Record<(typeof AMENITIES)[number], number> = {
  toilets: 0.7,
  showers: 0.5,
  drinking_water: 0.6,
  power: 0.4,
  dump_point: 0.3,
  pet_friendly: 0.5,
  wifi: 0.2,
  fires_allowed: 0.3,
  bbq: 0.4,
  laundry: 0.3,
  swimming: 0.2,
  shade: 0.5,
  accessible: 0.3,
  generator_allowed: 0.3,
}
// task, every so many days, every so many km (null: not on a schedule).
const TASKS: [string, number | null, number | null][] = [
  ['Engine oil and filter', 180, 10_000],
  ['Fuel filter', 365, 20_000],
  ['Air filter', 365, 20_000],
  ['Cabin filter', 365, 15_000],
  ['Tyre rotation', 180, 10_000],
  ['Wheel alignment', 365, 20_000],
  ['Brake pads', 730, 40_000],
  ['Brake fluid', 730, null],
  ['Coolant flush', 730, 40_000],
  ['Transmission fluid', 730, 60_000],
  ['Timing belt', 1825, 100_000],
  ['Battery check', 365, null],
  ['Gas bottle certification', 3650, null],
  ['Wheel bearings', 730, 40_000],
  ['Roof seals', 365, null],
  ['Hot water system anode', 365, null],
  ['Generator service', 365, null],
  ['Grey water tank flush', 90, null],
  ['Tyre repair', null, null],
  ['Windscreen chip repair', null, null],
]
const TASK_NAMES = TASKS.map((t) => t[0])
const TASK_DAYS = TASKS.map((t) => t[1])
const TASK_KM = TASKS.map((t) => t[2])

/** A seeded generator: the same points on every run. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = mulberry32(42)
/** Where a traveller searches from: near a town (60%) or anywhere in the box. */
function randomPoint(): { lat: number; lng: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
  if (rand() < 0.6) {
    const [, lat, lng] = HUBS[Math.floor(rand() * HUBS.length)]
    return {
      lat: clamp(lat + (rand() + rand() - 1) * 2.5, BBOX.south, BBOX.north),
      lng: clamp(lng + (rand() + rand() - 1) * 2.5, BBOX.west, BBOX.east),
    }
  }
  return {
    lat: BBOX.south + rand() * (BBOX.north - BBOX.south),
    lng: BBOX.west + rand() * (BBOX.east - BBOX.west),
  }
}
const coord = (n: number) => n.toFixed(4)

const { stack, stop } = await startBenchStack()
const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })
let failed = false

try {
  const client = createClient(stack.url, stack.keys.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  })
  const { data, error } = await client.auth.signUp({
    email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`,
    password: 'bench-password-1',
  })
  if (error || !data.session) throw error ?? new Error('no session')
  const userId = data.user!.id
  const headers = {
    authorization: `Bearer ${data.session.access_token}`,
    apikey: stack.keys.publishableKey,
  }
  await admin`update pam.profiles set preferences = '{"timezone":"Australia/Brisbane","currency":"AUD"}' where id = ${userId}`

  // ---- data ----------------------------------------------------------------

  console.log(`Inserting ${CAMPSITES.toLocaleString('en')} campsites over Australia…`)
  let t0 = performance.now()
  await admin.begin(async (tx) => {
    await tx`select setseed(0.42)`
    await tx`
      with s as (
        select g, random() as r_where, random() as r_hub, random() as r_lat, random() as r_lat2, random() as r_lng,
               random() as r_lng2, random() as r_type, random() as r_price, random() as r_rig, random() as r_rv
        from generate_series(1, ${CAMPSITES}::int) g
      ), placed as (
        select s.*,
               case when r_where < 0.6 then (${
      HUBS.map((h) => h[0])
    }::text[])[1 + floor(r_hub * ${HUBS.length}::int)::int]
                    else 'Outback' end as region,
               case when r_where < 0.6
                    then least(${BBOX.north}::float8, greatest(${BBOX.south}::float8,
                      (${
      HUBS.map((h) => h[1])
    }::float8[])[1 + floor(r_hub * ${HUBS.length}::int)::int] + (r_lat + r_lat2 - 1) * 2.5))
                    else ${BBOX.south}::float8 + r_lat * ${
      BBOX.north - BBOX.south
    }::float8 end as lat,
               case when r_where < 0.6
                    then least(${BBOX.east}::float8, greatest(${BBOX.west}::float8,
                      (${
      HUBS.map((h) => h[2])
    }::float8[])[1 + floor(r_hub * ${HUBS.length}::int)::int] + (r_lng + r_lng2 - 1) * 2.5))
                    else ${BBOX.west}::float8 + r_lng * ${BBOX.east - BBOX.west}::float8 end as lng,
               case when r_type < 0.30 then 'caravan_park' when r_type < 0.55 then 'free_camping'
                    when r_type < 0.75 then 'national_park' when r_type < 0.85 then 'showground'
                    else 'rest_area' end as type
        from s
      )
      insert into pam.campsites (name, type, latitude, longitude, region, description, amenities, rv_friendly,
                                 max_rig_length_m, price_per_night, currency, booking)
      select ${NAME_PREFIX}::text || p.g, p.type, p.lat, p.lng, p.region, 'A ' || replace(p.type, '_', ' ') || ' near ' || p.region,
             array(select a.name from unnest(${[...AMENITIES]}::text[], ${
      AMENITIES.map((a) => AMENITY_ODDS[a])
    }::float8[]) a(name, odds)
                    where random() < a.odds * case p.type when 'caravan_park' then 1.3 when 'showground' then 1.0
                      when 'national_park' then 0.7 when 'rest_area' then 0.5 else 0.4 end),
             p.r_rv < 0.85,
             case when p.r_rig < 0.2 then null else 6 + floor((p.r_rig - 0.2) / 0.8 * 29) * 0.5 end,
             case p.type when 'caravan_park' then round(30 + p.r_price * 50) when 'showground' then round(15 + p.r_price * 25)
                         when 'national_park' then round(8 + p.r_price * 20) else 0 end,
             'AUD',
             case when p.type in ('caravan_park', 'national_park') then 'https://example.com/book/' || p.g end
      from placed p`
  })
  await admin`analyze pam.campsites`
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  /** `owner`'s fleet: VEHICLES vehicles and MAINTENANCE maintenance records over them. */
  const insertFleet = async (owner: string, seed: number) => {
    await admin`
      insert into pam.vehicles (user_id, name, type, make, model, year, fuel_type, tank_capacity, odometer_unit, length_m)
      select ${owner}, 'Rig ' || g, (array['motorhome', 'caravan', 'campervan', 'fifth_wheel', 'tow_vehicle'])[1 + g % 5],
             (array['Toyota', 'Ford', 'Isuzu', 'Jayco', 'Fiat'])[1 + g % 5], 'Model ' || g, 2005 + g,
             (array['diesel', 'unleaded', 'diesel', 'lpg', 'diesel'])[1 + g % 5], 60 + g * 10,
             case when g = ${VEHICLES}::int then 'mi' else 'km' end, 5 + g
      from generate_series(1, ${VEHICLES}::int) g`
    await admin.begin(async (tx) => {
      await tx`select setseed(${seed}::float8)`
      // Each task recurs on each vehicle about every interval (jittered), the
      // latest somewhere within the last interval; odometers grow with the date
      // at each vehicle's own pace, so readings follow the calendar.
      await tx`
        with v as (
          select id, row_number() over (order by name) as n from pam.vehicles where user_id = ${owner}
        ), t as (
          select * from unnest(${TASK_NAMES}::text[], ${TASK_DAYS}::int[], ${TASK_KM}::int[])
                 with ordinality t(task, days, km, i)
        ), s as (
          select g, v.id as vehicle_id, v.n, t.task, t.days, t.km,
                 -- the k-th most recent time this task was done on this vehicle
                 (g - 1) / (${VEHICLES}::int * ${TASKS.length}::int) as k,
                 random() as r_offset, random() as r_jitter, random() as r_odo, random() as r_cost, random() as r_explicit
          from generate_series(1, ${MAINTENANCE}::int) g
          join v on v.n = 1 + (g - 1) % ${VEHICLES}::int
          join t on t.i = 1 + ((g - 1) / ${VEHICLES}::int) % ${TASKS.length}::int
        ), dated as (
          select s.*, current_date - (r_offset * coalesce(days, 365) * 1.2)::int
                      - (k * least(coalesce(days, 365), 730) * (0.8 + r_jitter * 0.4))::int as d
          from s
        )
        insert into pam.maintenance_records (user_id, vehicle_id, task, date, odometer, cost, currency, location, notes,
                                             next_due_date, next_due_odometer, interval_days, interval_distance)
        select ${owner}, vehicle_id, task, d,
               case when r_odo < 0.9 then ((d - date '1970-01-01') * (30 + n * 4))::int end as odometer,
               case when r_cost < 0.9 then round((20 + r_cost * 800)::numeric, 2) end,
               case when r_cost < 0.9 then 'AUD' end,
               (array['Roma', 'Alice Springs', 'Broome', 'Cairns', 'Mildura', 'Esperance'])[1 + g % 6], '',
               case when days is not null and r_explicit < 0.3 then d + days end,
               case when km is not null and r_explicit < 0.3 and r_odo < 0.9
                    then ((d - date '1970-01-01') * (30 + n * 4))::int + km end,
               case when r_explicit >= 0.3 then days end,
               case when r_explicit >= 0.3 then km end
        from dated
        order by d, g`
    })
  }
  const records = MAINTENANCE.toLocaleString('en')
  console.log(
    `Inserting ${VEHICLES} vehicles and ${records} maintenance records for the user, as many for each of ` +
      `${OTHER_USERS} other users…`,
  )
  t0 = performance.now()
  await insertFleet(userId, 0.17)
  for (let i = 0; i < OTHER_USERS; i++) {
    const other = await client.auth.signUp({
      email: `bench-other-${i}-${crypto.randomUUID().slice(0, 6)}@example.com`,
      password: 'bench-password-1',
    })
    if (other.error || !other.data.user) throw other.error ?? new Error('no user')
    await insertFleet(other.data.user.id, (i + 1) / (OTHER_USERS + 2))
  }
  // The odometer trigger updated each vehicle once per reading: vacuum, as autovacuum would.
  await admin`vacuum analyze pam.vehicles, pam.maintenance_records`
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  // ---- requests through the gateway -----------------------------------------

  const base = `${stack.url}/functions/v1/wheels`
  const get = async (path: string, expectCache?: string) => {
    const res = await fetch(`${base}${path}`, { headers })
    if (res.status !== 200) {
      throw new Error(`GET ${path}: status ${res.status}: ${await res.text()}`)
    }
    if (expectCache && res.headers.get('x-cache') !== expectCache) {
      throw new Error(
        `GET ${path}: expected x-cache ${expectCache}, got ${res.headers.get('x-cache')}`,
      )
    }
    return await res.json()
  }

  const rows: Record<string, string | number>[] = []
  const report = (request: string, latencies: number[], results: string) =>
    rows.push({
      request,
      requests: latencies.length,
      'p50 ms': percentile(latencies, 50).toFixed(2),
      'p99 ms': percentile(latencies, 99).toFixed(2),
      'mean ms': (latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(2),
      results,
    })

  /** `total` searches from random points; latencies and the mean number of sites found. */
  const camping = async (total: number, query: string) => {
    const found: number[] = []
    let more = 0
    const { latencies } = await measure(total, 1, async () => {
      const at = randomPoint()
      const body = await get(`/camping?lat=${coord(at.lat)}&lng=${coord(at.lng)}&${query}`)
      found.push(body.campsites.length)
      if (body.has_more) more++
    })
    const mean = found.reduce((a, b) => a + b, 0) / found.length
    return {
      latencies,
      results: `${mean.toFixed(1)} sites (limit 20), ${Math.round((100 * more) / total)}% more`,
    }
  }
  const plain = 'radius_km=100'
  const filtered = 'radius_km=500&amenities=toilets,showers&max_rig_length=10&max_price=40'
  await camping(WARM_UP, plain) // warm-up: JIT, pools, plans
  const near = await camping(REQUESTS, plain)
  report('GET /wheels/camping radius 100 km', near.latencies, near.results)
  await camping(WARM_UP, filtered)
  const wide = await camping(REQUESTS, filtered)
  report('GET /wheels/camping radius 500 km + filters', wide.latencies, wide.results)

  // The gateway's functions run in this process: their cache is this one
  // (same configuration, so the same store and key prefix).
  const cache = cacheFor(getConfig())
  const dueKey = CACHE_POLICIES.maintenance_records.key(userId)
  let dueCount = 0
  const uncached = async (total: number) => {
    const latencies: number[] = []
    for (let i = 0; i < total; i++) {
      await cache.del(dueKey)
      const t = performance.now()
      const body = await get('/maintenance/due', 'miss')
      latencies.push(performance.now() - t)
      dueCount = body.due.length
    }
    return latencies
  }
  await uncached(WARM_UP)
  const [open] = await admin<{ n: number }[]>`
    select count(*)::int as n from (select distinct vehicle_id, lower(task) from pam.maintenance_records where user_id = ${userId}) x`
  report(
    'GET /wheels/maintenance/due, uncached',
    await uncached(REQUESTS),
    `${dueCount} due of ${open.n} tasks`,
  )
  await get('/maintenance/due')
  const cached = () => get('/maintenance/due', 'hit').then(() => {})
  await measure(WARM_UP, 1, cached)
  report(
    'GET /wheels/maintenance/due, cached',
    (await measure(REQUESTS, 1, cached)).latencies,
    `${dueCount} due`,
  )

  console.log(
    `\nThrough the local gateway (JWT, rate limits, RLS), one request at a time, real Postgres, in-process cache; ` +
      `${CAMPSITES.toLocaleString('en')} campsites, ${VEHICLES} vehicles with ` +
      `${
        MAINTENANCE.toLocaleString('en')
      } maintenance records (and ${OTHER_USERS} other users with as many):`,
  )
  printTable(rows)

  // ---- plans as the user -------------------------------------------------------

  const userDb = database({
    url: stack.databaseUrl,
    poolMax: 1,
    statementTimeoutMs: 60_000,
    acquireTimeoutMs: 5000,
  })
  const asUser = postgresClient(userDb, {
    sub: userId,
    role: 'authenticated',
    aud: 'authenticated',
  })
  const explain = 'analyze, buffers, costs off'
  /** The plan of the search the route runs (its SQL and values, inlined as the route's are). */
  const campingPlan = async (
    at: { lat: number; lng: number },
    radiusKm: number,
    f: CampingFilters,
  ) => {
    let plan: string[] = []
    const explaining = {
      queryRaw: async (text: string, params?: unknown[]) => {
        plan = await explainAsUser(asUser, explain, text, params)
        return []
      },
    } as unknown as PostgresApi
    await searchCampsites(explaining, at, radiusKm, f, 21, 0)
    return plan
  }
  const openItemsSql = OPEN_ITEMS_SQL

  const filters = { amenities: ['toilets', 'showers'], maxRigLength: 10, maxPrice: 40 }
  const dueItemsPlan = () => explainAsUser(asUser, explain, openItemsSql)
  const queries: [string, () => Promise<string[]>][] = [
    ['camping, Mildura, radius 100 km', () => campingPlan({ lat: -34.19, lng: 142.16 }, 100, {})],
    [
      'camping, Dubbo, radius 500 km + filters',
      () => campingPlan({ lat: -32.25, lng: 148.6 }, 500, filters),
    ],
    ['maintenance due items', dueItemsPlan],
  ]
  // Each run twice, the second shown: a fresh connection's first plan pays for its catalog caches.
  const plans: [string, string[]][] = []
  for (const [name, run] of queries) {
    await run()
    plans.push([name, await run()])
  }
  await userDb.end()

  const summary: Record<string, string | number>[] = []
  for (const [name, plan] of plans) {
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) of the ${name} query, as the user under RLS:`)
    for (const line of plan) console.log(`  ${line}`)
    const text = plan.join('\n')
    const indexes = [
      ...new Set(
        text.match(/(?<=(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:using |on ))\w+/g),
      ),
    ]
    const isCamping = name.startsWith('camping')
    const wanted = isCamping ? /^campsites_pkey$/ : /^maintenance_\w+_idx$/
    const used = indexes.some((i) => wanted.test(i)) && !(isCamping && /Seq Scan on campsites/.test(text))
    if (isCamping && !used) failed = true
    summary.push({
      query: name,
      'execution ms': /Execution Time: ([\d.]+)/.exec(text)?.[1] ?? '?',
      'shared hit': /Buffers: shared hit=(\d+)/.exec(text)?.[1] ?? '0',
      indexes: indexes.join(', ') || 'none',
      'seq scans': (text.match(/(?<=Seq Scan on )\w+/g) ?? []).join(', ') || 'none',
      'index used': `${used ? 'yes' : 'NO'} (${
        isCamping ? 'campsites_pkey' : 'maintenance_*_idx'
      })`,
    })
  }
  // Inside pam.campsites_nearest (as its definer, past RLS): the box must be an index condition.
  const box = (await admin.unsafe(`explain (analyze, buffers, costs off)
    select c.id from pam.campsites c
     where c.retired_at is null and extensions.earth_box(extensions.ll_to_earth(-32.25, 148.6), 500000)
       operator(extensions.@>) extensions.ll_to_earth(c.latitude, c.longitude)
       and c.amenities @> '{toilets,showers}' and c.price_per_night <= 40
     order by extensions.earth_distance(extensions.ll_to_earth(-32.25, 148.6), extensions.ll_to_earth(c.latitude, c.longitude)), c.id
     limit 21`))
    .map((l) => l['QUERY PLAN'] as string).join('\n')
  const boxed = /Index Scan using campsites_location_idx[^\n]*\n\s*Index Cond/.test(box) ||
    /Bitmap Index Scan on campsites_location_idx[^\n]*\n\s*Index Cond/.test(box)
  if (!boxed) failed = true
  summary.push({
    query: 'inside pam.campsites_nearest, Dubbo 500 km + filters',
    'execution ms': /Execution Time: ([\d.]+)/.exec(box)?.[1] ?? '?',
    'shared hit': /Buffers: shared hit=(\d+)/.exec(box)?.[1] ?? '0',
    indexes: [...new Set(box.match(/(?<=(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:using |on ))\w+/g))].join(', ') || 'none',
    'seq scans': (box.match(/(?<=Seq Scan on )\w+/g) ?? []).join(', ') || 'none',
    'index used': `${boxed ? 'yes' : 'NO'} (campsites_location_idx)`,
  })
  console.log('\nPlans:')
  printTable(summary)
  if (failed) console.error('\nFAIL: the camping search does not read its sites by id, or pam.campsites_nearest not through campsites_location_idx')

  await admin`delete from pam.campsites where name like ${NAME_PREFIX + '%'}`
} finally {
  await admin.end({ timeout: 1 })
  await stop()
}
if (failed) Deno.exit(1)
