// `npm run bench:sync`: a pull for a user with a year of data after 30 days
// offline, and a push of 500 changes: p50/p99 and rows scanned.
//
// The user has a year of data (3,650 expenses, 365 income rows, 2 vehicles,
// 200 maintenance records, 50 trips, 300 saved places) and BENCH_OTHER_USERS
// other users (20) as much, so that the (user_id, sync_xid) indexes have rows
// to tell apart. The app pulls (GET /sync/pull, through the local gateway:
// JWT, rate limits, RLS), then "30 days" of changes are made elsewhere, one
// transaction a day: 300 new expenses and 30 income rows, 100 updates and 50
// deletions across the tables. Then, one request at a time:
//
// - the incremental pull (GET /sync/pull?since=<cursor>), BENCH_REQUESTS (50)
//   times, and the full first pull (GET /sync/pull), BENCH_FULL_PULLS (20)
//   times: p50/p99 and payload size (JSON, and gzipped);
// - POST /sync/push of 500 changes (300 expense creates, 88 expense and 12
//   place updates sent as full records the way WatermelonDB sends them, 50
//   maintenance creates, 50 deletions), fresh ids every time, with the cursor
//   of a pull just before as last_pulled_at, BENCH_PUSHES (10) times; every
//   result must be `applied`;
// - the same pull and push straight to the function (in this process), its
//   Postgres behind a delay proxy: at 0 ms to count round trips per request,
//   and at BENCH_DELAY_MS each way (1, as bench:http) for the time a hosted
//   database adds (a push that misses the transaction deadline is reported);
//
// then EXPLAIN (ANALYZE, BUFFERS) of the incremental pull's statement (and a
// summary of the full pull's), run as the user under RLS: rows read per table
// and whether the <table>_user_sync_idx indexes answer (reported, not enforced).
// Exits 1 when a pull or a push does not give what was expected.
//
// BENCH_DATABASE_URL uses a server of yours (a throwaway database on it).
import postgres from 'postgres'
import { createClient } from '@supabase/supabase-js'
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { database, type PostgresApi, postgresClient } from '../../supabase/functions/_shared/db.ts'
import { createSyncApp } from '../../supabase/functions/sync/index.ts'
import { pullChanges } from '../../supabase/functions/sync/pull.ts'
import { syncTables } from '../../supabase/functions/sync/tables.ts'
import { explainAsUser, measure, percentile, printTable, startBenchStack } from './_stack.ts'

const PULLS = Number(Deno.env.get('BENCH_REQUESTS') ?? 50)
const FULL_PULLS = Number(Deno.env.get('BENCH_FULL_PULLS') ?? 20)
const PUSHES = Number(Deno.env.get('BENCH_PUSHES') ?? 10)
const OTHER_USERS = Number(Deno.env.get('BENCH_OTHER_USERS') ?? 20)
const DELAY_MS = Number(Deno.env.get('BENCH_DELAY_MS') ?? 1)
const PROXY_PUSHES = 3
const OFFLINE_DAYS = 30

// One user's year.
const YEAR = { expenses: 3650, income: 365, vehicles: 2, maintenance: 200, trips: 50, places: 300 }
// A push: 500 changes.
const PUSH = {
  expenseCreates: 300,
  expenseUpdates: 88,
  expenseDeletes: 47,
  placeUpdates: 12,
  placeDeletes: 3,
  maintenanceCreates: 50,
}
const PUSH_SIZE = Object.values(PUSH).reduce((a, b) => a + b, 0)
// Rows the 30 days of changes touch (the first of each table, oldest first); pushes take the rest.
const OFFLINE = {
  expenseDeletes: 30,
  expenseUpdates: 60,
  placeDeletes: 10,
  placeUpdates: 10,
  maintenanceDeletes: 10,
  maintenanceUpdates: 10,
  tripUpdates: 10,
  incomeUpdates: 10,
  expenseCreates: 300,
  incomeCreates: 30,
}

const pushRounds = 1 + PUSHES + PROXY_PUSHES // with one warm-up
const expensePool = YEAR.expenses - OFFLINE.expenseDeletes - OFFLINE.expenseUpdates
const placePool = YEAR.places - OFFLINE.placeDeletes - OFFLINE.placeUpdates
const maxPushes = Math.min(
  Math.floor(expensePool / (PUSH.expenseUpdates + PUSH.expenseDeletes)),
  Math.floor(placePool / (PUSH.placeUpdates + PUSH.placeDeletes)),
) - 1 - PROXY_PUSHES
if (PUSHES > maxPushes) {
  console.error(
    `BENCH_PUSHES: at most ${maxPushes} (each push updates and deletes rows no other push touched)`,
  )
  Deno.exit(2)
}

type Rec = Record<string, unknown>
interface Pulled {
  changes: Record<string, { created: Rec[]; updated: Rec[]; deleted: string[] }>
  timestamp: number
}
interface Pushed {
  results: { table: string; id: string; op: string; result: string }[]
  conflicts: number
}

const { stack, stop } = await startBenchStack()
const admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} })
const proxies: Deno.ChildProcess[] = []
const problems: string[] = []

try {
  const client = createClient(stack.url, stack.keys.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  })
  const signUp = async (label: string) => {
    const { data, error } = await client.auth.signUp({
      email: `bench-${label}-${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: 'bench-password-1',
    })
    if (error || !data.session || !data.user) throw error ?? new Error('no session')
    return { id: data.user.id, token: data.session.access_token }
  }
  const user = await signUp('sync')
  const userId = user.id
  const headers = { authorization: `Bearer ${user.token}`, apikey: stack.keys.publishableKey }
  await admin`update pam.profiles set preferences = '{"timezone":"Australia/Brisbane","currency":"AUD"}' where id = ${userId}`

  // ---- a year of data ---------------------------------------------------------

  /** `owner`'s year: vehicles, trips, expenses (10 a day), income (1 a day), maintenance, saved places. */
  const insertYear = async (owner: string) => {
    await admin.begin(async (tx) => {
      await tx`
        insert into pam.vehicles (user_id, name, type, make, model, year, fuel_type, tank_capacity, odometer_unit, length_m)
        select ${owner}, 'Rig ' || g, (array['motorhome', 'tow_vehicle'])[g], (array['Fiat', 'Toyota'])[g],
               'Model ' || g, 2015 + g, 'diesel', 90 + g * 20, 'km', 6 + g
        from generate_series(1, ${YEAR.vehicles}::int) g`
      await tx`
        with v as (select id, row_number() over (order by name) as n from pam.vehicles where user_id = ${owner})
        insert into pam.trips (user_id, name, status, vehicle_id, start_date, end_date, origin, destination,
                               planned_distance_km, planned_duration_min, notes)
        select ${owner}, 'Trip ' || g, case when g < ${YEAR.trips}::int then 'completed' else 'active' end,
               (select id from v where n = 1 + g % ${YEAR.vehicles}::int),
               current_date - 364 + (g - 1) * 7, current_date - 364 + (g - 1) * 7 + 5,
               jsonb_build_object('name', 'Roma', 'lat', -26.57, 'lng', 148.79),
               jsonb_build_object('name', 'Alice Springs', 'lat', -23.7, 'lng', 133.88),
               200 + g * 10, 150 + g * 5, 'Trip notes ' || g
        from generate_series(1, ${YEAR.trips}::int) g`
      await tx`
        with t as (select array_agg(id order by start_date) as ids from pam.trips where user_id = ${owner}),
        v as (select array_agg(id order by name) as ids from pam.vehicles where user_id = ${owner}),
        s as (
          select g, current_date - 364 + (g - 1) / 10 as d,
                 (pam.wins_builtin_categories())[1 + g % 13] as category
          from generate_series(1, ${YEAR.expenses}::int) g
        )
        insert into pam.expenses (user_id, amount, currency, category, category_source, description, merchant, location,
                                  payment_method, tags, date, trip_id, vehicle_id, fuel_type, fuel_volume,
                                  fuel_price_per_unit, fuel_full_tank, created_at, updated_at)
        select ${owner}, ((g * 7919) % 20000 + 100) / 100.0, 'AUD', s.category, 'user', 'expense ' || g,
               (array['Shell', 'BP', 'Coles', 'Woolworths', 'KOA', 'BIG4', 'Repco', 'Telstra', 'Aldi', 'Caltex'])[1 + g % 10],
               (array['Roma', 'Alice Springs', 'Broome', 'Cairns', 'Hobart', 'Mildura', 'Esperance'])[1 + g % 7],
               (array['card', 'cash', 'digital_wallet'])[1 + g % 3], case when g % 4 = 0 then array['trip', 'bench'] else '{}' end,
               s.d, case when g % 5 = 0 then t.ids[1 + g % array_length(t.ids, 1)] end,
               case when s.category = 'fuel' then v.ids[1 + g % array_length(v.ids, 1)] end,
               case when s.category = 'fuel' then 'diesel' end,
               case when s.category = 'fuel' then 40 + g % 60 end,
               case when s.category = 'fuel' then 1.899 end,
               case when s.category = 'fuel' then true end,
               s.d + make_interval(hours => 7 + g % 12), s.d + make_interval(hours => 7 + g % 12)
        from s, t, v`
      await tx`
        insert into pam.income (user_id, amount, currency, source, description, date, recurring)
        select ${owner}, 50 + (g * 37) % 400, 'AUD', (array['Campground host', 'Freelance', 'Pension'])[1 + g % 3],
               'income ' || g, current_date - 364 + g - 1, g % 3 = 2
        from generate_series(1, ${YEAR.income}::int) g`
      // Readings follow the calendar (the odometer rules), inserted in date order.
      await tx`
        with v as (select id, row_number() over (order by name) as n from pam.vehicles where user_id = ${owner}),
        s as (
          select g, 1 + g % ${YEAR.vehicles}::int as n,
                 current_date - 364 + ((g - 1) * 365 / ${YEAR.maintenance}::int) as d
          from generate_series(1, ${YEAR.maintenance}::int) g
        )
        insert into pam.maintenance_records (user_id, vehicle_id, task, date, odometer, cost, currency, location, notes,
                                             interval_days, interval_distance)
        select ${owner}, v.id,
               (array['Engine oil and filter', 'Tyre rotation', 'Air filter', 'Brake pads', 'Battery check',
                      'Roof seals', 'Grey water tank flush', 'Wheel bearings', 'Coolant flush', 'Generator service'])[1 + s.g % 10],
               s.d, 50000 * s.n + (s.d - (current_date - 365)) * 80, 20 + (s.g * 13) % 500, 'AUD', 'Roma', 'Done ' || s.g,
               case when s.g % 2 = 0 then 180 end, case when s.g % 3 = 0 then 10000 end
        from s join v on v.n = s.n
        order by s.d, s.g`
      await tx`
        insert into pam.saved_places (user_id, name, kind, latitude, longitude, address, notes, rating)
        select ${owner}, 'Place ' || g,
               (array['campsite', 'dump_point', 'fuel_station', 'water', 'favourite', 'other'])[1 + g % 6],
               -39 + (g * 0.089) % 27, 114 + (g * 0.131) % 39, g || ' Outback Way', 'Notes ' || g, 1 + g % 5
        from generate_series(1, ${YEAR.places}::int) g`
    })
  }

  const perUser = Object.values(YEAR).reduce((a, b) => a + b, 0)
  console.log(
    `Inserting a year of data (${
      perUser.toLocaleString('en')
    } rows) for the user, as much for each of ${OTHER_USERS} other users…`,
  )
  const t0 = performance.now()
  await insertYear(userId)
  for (let i = 0; i < OTHER_USERS; i++) await insertYear((await signUp(`other-${i}`)).id)
  await admin`vacuum analyze pam.vehicles, pam.trips, pam.expenses, pam.income, pam.maintenance_records, pam.saved_places,
                             pam.sync_tombstones`
  console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  // ---- requests through the gateway ---------------------------------------------

  const base = `${stack.url}/functions/v1/sync`
  const decoder = new TextDecoder()
  /** One call; its body parsed, and its size in bytes. */
  const call = async <T>(
    path: string,
    init: RequestInit = {},
  ): Promise<{ body: T; bytes: Uint8Array<ArrayBuffer> }> => {
    const res = await fetch(`${base}${path}`, {
      ...init,
      headers: { ...headers, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    })
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (res.status !== 200) {
      throw new Error(
        `${init.method ?? 'GET'} ${path}: status ${res.status}: ${
          decoder.decode(bytes).slice(0, 2000)
        }`,
      )
    }
    return { body: JSON.parse(decoder.decode(bytes)) as T, bytes }
  }
  const pull = (query = '') => call<Pulled>(`/pull${query}`)
  const gzipSize = async (bytes: Uint8Array<ArrayBuffer>) =>
    (await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip')))
      .arrayBuffer())
      .byteLength
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`
  const records = (p: Pulled) =>
    Object.values(p.changes).reduce(
      (n, t) => n + t.created.length + t.updated.length + t.deleted.length,
      0,
    )

  const first = await pull()
  const offlineCursor = first.body.timestamp
  if (first.body.changes.expenses.created.length !== YEAR.expenses) {
    problems.push(
      `the first pull has ${first.body.changes.expenses.created.length} expenses, not ${YEAR.expenses}`,
    )
  }

  // ---- 30 days of changes made elsewhere (the web app, another phone) --------------------

  const idsOf = async (table: string, order: string) =>
    (await admin.unsafe<{ id: string }[]>(
      `select id from ${table} where user_id = $1 order by ${order}`,
      [userId],
    ))
      .map((r) => r.id)
  const expenseIds = await idsOf('pam.expenses', 'date, created_at, id')
  const placeIds = await idsOf('pam.saved_places', 'created_at, id')
  const maintenanceIds = await idsOf('pam.maintenance_records', 'date, id')
  const tripIds = await idsOf('pam.trips', 'start_date, id')
  const incomeIds = await idsOf('pam.income', 'date, id')
  const vehicleIds = await idsOf('pam.vehicles', 'name')
  /** Takes `n` ids off the front of `pool`. */
  const take = (pool: string[], n: number) => pool.splice(0, n)
  const offline = {
    expenseDeletes: take(expenseIds, OFFLINE.expenseDeletes),
    expenseUpdates: take(expenseIds, OFFLINE.expenseUpdates),
    placeDeletes: take(placeIds, OFFLINE.placeDeletes),
    placeUpdates: take(placeIds, OFFLINE.placeUpdates),
  }
  // Other tables' updates and deletions, spread over the days.
  const otherUpdates: [string, string, string][] = [
    ...offline.placeUpdates.map((
      id,
    ) => ['pam.saved_places', id, `name = name || ' (renamed)', rating = 5`]),
    ...take(maintenanceIds, OFFLINE.maintenanceUpdates).map((id) => [
      'pam.maintenance_records',
      id,
      `notes = 'Checked again', location = 'Broome'`,
    ]),
    ...take(tripIds, OFFLINE.tripUpdates).map((
      id,
    ) => ['pam.trips', id, `notes = 'Revisited', status = 'completed'`]),
    ...take(incomeIds, OFFLINE.incomeUpdates).map((
      id,
    ) => ['pam.income', id, `amount = amount + 5`]),
  ] as [string, string, string][]
  const otherDeletes: [string, string][] = [
    ...offline.placeDeletes.map((id) => ['pam.saved_places', id]),
    ...take(maintenanceIds, OFFLINE.maintenanceDeletes).map((
      id,
    ) => ['pam.maintenance_records', id]),
  ] as [string, string][]
  const spread = <T>(items: T[], day: number) => items.filter((_, i) => i % OFFLINE_DAYS === day)

  console.log(
    `Making ${OFFLINE_DAYS} days of changes elsewhere: ${OFFLINE.expenseCreates} expenses and ${OFFLINE.incomeCreates} income ` +
      `rows created, ${offline.expenseUpdates.length + otherUpdates.length} updates, ` +
      `${offline.expenseDeletes.length + otherDeletes.length} deletions, one transaction a day…`,
  )
  for (let day = 0; day < OFFLINE_DAYS; day++) {
    await admin.begin(async (tx) => {
      const perDay = OFFLINE.expenseCreates / OFFLINE_DAYS
      await tx`
        insert into pam.expenses (user_id, amount, currency, category, category_source, description, merchant, date,
                                  payment_method)
        select ${userId}, 5 + g * 3.25, 'AUD', (pam.wins_builtin_categories())[1 + (g + ${day}::int) % 13], 'user',
               'offline day ' || ${day}::int || ' #' || g, 'Coles', current_date - ${
        OFFLINE_DAYS - 1 - day
      }::int, 'card'
        from generate_series(1, ${perDay}::int) g`
      for (let i = 0; i < OFFLINE.incomeCreates / OFFLINE_DAYS; i++) {
        await tx`insert into pam.income (user_id, amount, currency, source, date)
                 values (${userId}, 120, 'AUD', 'Freelance', current_date - ${
          OFFLINE_DAYS - 1 - day
        }::int)`
      }
      const edits = spread(offline.expenseUpdates, day)
      if (edits.length) {
        await tx`update pam.expenses set amount = amount + 1, description = description || ' (edited)'
                 where id = any(${edits}::uuid[])`
      }
      for (const [table, id, set] of spread(otherUpdates, day)) {
        await tx.unsafe(`update ${table} set ${set} where id = $1`, [id])
      }
      const gone = spread(offline.expenseDeletes, day)
      if (gone.length) await tx`delete from pam.expenses where id = any(${gone}::uuid[])`
      for (const [table, id] of spread(otherDeletes, day)) {
        await tx.unsafe(`delete from ${table} where id = $1`, [id])
      }
    })
  }
  // The other users deleted as much meanwhile: tombstones the user's pull must step over.
  await admin`
    delete from pam.expenses where id in (
      select id from (
        select id, row_number() over (partition by user_id order by date, id) as n from pam.expenses
        where user_id <> ${userId}
      ) x where n <= ${
    OFFLINE.expenseDeletes + OFFLINE.placeDeletes + OFFLINE.maintenanceDeletes
  }::int)`
  await admin`vacuum analyze pam.expenses, pam.income, pam.trips, pam.maintenance_records, pam.saved_places,
                             pam.sync_tombstones`

  // ---- incremental and full pulls ---------------------------------------------

  const expected: Record<string, [number, number, number]> = {
    expenses: [OFFLINE.expenseCreates, OFFLINE.expenseUpdates, OFFLINE.expenseDeletes],
    income: [OFFLINE.incomeCreates, OFFLINE.incomeUpdates, 0],
    saved_places: [0, OFFLINE.placeUpdates, OFFLINE.placeDeletes],
    maintenance_records: [0, OFFLINE.maintenanceUpdates, OFFLINE.maintenanceDeletes],
    trips: [0, OFFLINE.tripUpdates, 0],
  }
  const rows: Record<string, string | number>[] = []
  const report = (
    request: string,
    latencies: number[],
    payload: string,
    gzip: string,
    results: string,
  ) =>
    rows.push({
      request,
      runs: latencies.length,
      'p50 ms': percentile(latencies, 50).toFixed(1),
      'p99 ms': percentile(latencies, 99).toFixed(1),
      'mean ms': (latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(1),
      'payload (JSON)': payload,
      gzipped: gzip,
      results,
    })

  let latest = first
  const incremental = async () => {
    latest = await pull(`?since=${offlineCursor}`)
  }
  await measure(5, 1, incremental) // warm-up: JIT, pools, plans
  const inc = await measure(PULLS, 1, incremental)
  const got = latest.body.changes
  for (const [table, [c, u, d]] of Object.entries(expected)) {
    const t = got[table]
    if (t.created.length !== c || t.updated.length !== u || t.deleted.length !== d) {
      problems.push(
        `incremental pull, ${table}: ${t.created.length}/${t.updated.length}/${t.deleted.length} ` +
          `created/updated/deleted, expected ${c}/${u}/${d}`,
      )
    }
  }
  const unexpected = Object.entries(got).filter(([t, ch]) =>
    !(t in expected) && ch.created.length + ch.updated.length + ch.deleted.length
  )
  if (unexpected.length) {
    problems.push(`incremental pull: changes in ${unexpected.map(([t]) => t).join(', ')}`)
  }
  const e = got.expenses
  report(
    `GET /sync/pull?since= (${OFFLINE_DAYS} days offline)`,
    inc.latencies,
    kb(latest.bytes.length),
    kb(await gzipSize(latest.bytes)),
    `${
      records(latest.body)
    } records (expenses ${e.created.length}+${e.updated.length}+${e.deleted.length}d)`,
  )

  let full = first
  const fullPull = async () => {
    full = await pull()
  }
  await measure(2, 1, fullPull)
  const fullRun = await measure(FULL_PULLS, 1, fullPull)
  report(
    'GET /sync/pull (first, full)',
    fullRun.latencies,
    kb(full.bytes.length),
    kb(await gzipSize(full.bytes)),
    `${records(full.body)} records (${full.body.changes.expenses.created.length} expenses)`,
  )

  // ---- plans as the user (before the pushes add to what changed) ----------------------

  const tables = syncTables(() => new Date())
  /** The statement pullChanges sends (text and values), without running it. */
  const pullStatement = async (since: number | null) => {
    let captured: { text: string; params: unknown[] } | undefined
    const capturing = {
      queryRaw: (text: string, params?: unknown[]) => {
        captured = { text, params: params ?? [] }
        return Promise.reject(new Error('captured'))
      },
    } as unknown as PostgresApi
    await pullChanges(capturing, tables, since).catch(() => {})
    if (!captured) throw new Error('pullChanges sent no statement')
    return captured
  }
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
  const explain = async (since: number | null) => {
    const { text, params } = await pullStatement(since)
    const run = () => explainAsUser(asUser, 'analyze, buffers, format text', text, params)
    await run() // a fresh connection's first plan pays for its catalog caches
    return await run()
  }
  const synced = new Set([...tables.map((t) => t.table.replace(/^\w+\./, '')), 'sync_tombstones'])
  const incPlan = await explain(offlineCursor)
  const fullPlan = await explain(null)
  await userDb.end()

  // ---- pushes of 500 changes ------------------------------------------------------

  const byId = new Map<string, Rec>()
  for (const t of ['expenses', 'saved_places']) {
    for (const r of full.body.changes[t].created) byId.set(`${t}:${r.id}`, r)
  }
  const placeDeletePool = placeIds.splice(placeIds.length - (PUSH.placeDeletes * pushRounds))
  const day = (n: number) =>
    new Date(Date.now() - (n % OFFLINE_DAYS) * 86_400_000).toISOString().slice(0, 10)
  const descriptions = [
    'Woolworths groceries',
    'Shell fuel',
    'Caravan park',
    'Pub dinner',
    'Telstra recharge',
    'Repco parts',
  ]
  /** 500 changes: fresh ids for creates; updates and deletes of rows no other push touched. */
  const batch = (round: number) => {
    /** A record as the app holds it (the full row from its last pull), edited, with WatermelonDB's bookkeeping. */
    const edited = (table: string, id: string, change: Rec) => {
      const { created_at: _c, updated_at: _u, ...row } = byId.get(`${table}:${id}`) ?? { id }
      return { ...row, ...change, _status: 'updated', _changed: Object.keys(change).join(',') }
    }
    const expenseCreates = Array.from({ length: PUSH.expenseCreates }, (_, i) => ({
      id: crypto.randomUUID(),
      amount: `${(5 + ((i * 37 + round * 11) % 300)).toFixed(2)}`,
      // A third without a category: classified on the server.
      ...(i % 3 ? { category: ['food', 'fuel', 'camping', 'dining', 'connectivity'][i % 5] } : {}),
      description: descriptions[i % descriptions.length],
      merchant: ['Coles', 'Shell', 'BIG4', 'Royal Hotel', 'Telstra', 'Repco'][i % 6],
      date: day(i),
      payment_method: 'card',
      tags: i % 4 ? [] : ['offline'],
      ...(i % 7 ? {} : { trip_id: tripIds[i % tripIds.length] }),
      _status: 'created',
      _changed: '',
    }))
    const expenseUpdates = take(expenseIds, PUSH.expenseUpdates).map((id, i) =>
      edited('expenses', id, {
        amount: `${(10 + i + round).toFixed(2)}`,
        description: `edited offline ${round}.${i}`,
      })
    )
    const placeUpdates = take(placeIds, PUSH.placeUpdates).map((id, i) =>
      edited('saved_places', id, { name: `Spot ${round}.${i}`, notes: 'great water', rating: 4 })
    )
    const maintenanceCreates = Array.from({ length: PUSH.maintenanceCreates }, (_, i) => ({
      id: crypto.randomUUID(),
      vehicle_id: vehicleIds[i % vehicleIds.length],
      task: `Offline check ${i}`,
      date: day(i),
      cost: '35.00',
      currency: 'AUD',
      notes: 'logged without signal',
      interval_days: 90,
      _status: 'created',
      _changed: '',
    }))
    return {
      expenses: {
        created: expenseCreates,
        updated: expenseUpdates,
        deleted: take(expenseIds, PUSH.expenseDeletes),
      },
      saved_places: {
        created: [],
        updated: placeUpdates,
        deleted: take(placeDeletePool, PUSH.placeDeletes),
      },
      maintenance_records: { created: maintenanceCreates },
    }
  }

  let cursor = latest.body.timestamp
  let round = 0
  /** The app's sync: a pull (untimed, through the gateway), then the next push's body, with that pull's cursor. */
  const nextPush = async () => {
    cursor = (await pull(`?since=${cursor}&tables=expenses,saved_places,maintenance_records`)).body
      .timestamp
    return JSON.stringify({ changes: batch(round++), last_pulled_at: cursor })
  }
  const checkPush = (pushed: Pushed) => {
    const applied = pushed.results.filter((r) => r.result === 'applied').length
    if (pushed.results.length !== PUSH_SIZE || applied !== PUSH_SIZE || pushed.conflicts) {
      const other = pushed.results.filter((r) => r.result !== 'applied').slice(0, 5)
      problems.push(
        `push ${
          round - 1
        }: ${applied} of ${pushed.results.length} applied (${pushed.conflicts} conflicts), ` +
          `expected ${PUSH_SIZE}: ${JSON.stringify(other)}`,
      )
    }
  }
  const pushTimes: number[] = []
  let pushBytes = 0
  for (let i = 0; i <= PUSHES; i++) {
    const body = await nextPush()
    const t = performance.now()
    const { body: pushed } = await call<Pushed>('/push', { method: 'POST', body })
    if (i) pushTimes.push(performance.now() - t) // the first: warm-up
    checkPush(pushed)
    pushBytes = body.length
  }
  report(
    `POST /sync/push (${PUSH_SIZE} changes)`,
    pushTimes,
    `${kb(pushBytes)} sent`,
    '-',
    `${PUSH_SIZE} applied each`,
  )

  console.log(
    `\nThrough the local gateway (JWT, rate limits, RLS), one request at a time, real Postgres; the user has a year ` +
      `of data (${perUser.toLocaleString('en')} rows), ${OTHER_USERS} other users as much:`,
  )
  printTable(rows)

  // ---- round trips: Postgres behind a delay proxy ------------------------------------

  /** The sync function in this process, its Postgres behind a delay proxy (`delay` ms each way) that counts round trips. */
  const behindProxy = async (delay: number) => {
    const db = new URL(stack.databaseUrl)
    const child = new Deno.Command('node', {
      args: [
        new URL('./delay-proxy.mjs', import.meta.url).pathname,
        `${db.hostname}:${db.port}`,
        String(delay),
      ],
      stdout: 'piped',
      stderr: 'inherit',
    }).spawn()
    proxies.push(child)
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader()
    const ports = JSON.parse((await reader.read()).value!.split('\n')[0]) as {
      port: number
      stats: number
    }
    reader.releaseLock()
    db.port = String(ports.port)
    const app = createSyncApp(parseConfig({
      ...Deno.env.toObject(),
      PAM_DB_URL: db.toString(),
      PAM_CACHE_PREFIX: `benchsync${delay}:`,
    }))
    return {
      async roundTrips(reset = false) {
        const res = await fetch(`http://127.0.0.1:${ports.stats}/`, {
          method: reset ? 'POST' : 'GET',
        })
        return ((await res.json()) as { round_trips: number }).round_trips
      },
      /** A call: its status, body, and time. */
      async call(path: string, body?: string) {
        const t = performance.now()
        const res = await app.fetch(
          new Request(`http://local/sync${path}`, {
            method: body ? 'POST' : 'GET',
            headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
            body,
          }),
        )
        const text = await res.text()
        return { status: res.status, text, ms: performance.now() - t }
      },
    }
  }
  const counting = await behindProxy(0)
  const delayed = await behindProxy(DELAY_MS)
  const since = cursor
  const pullOver = async (p: typeof counting) => {
    await p.call(`/pull?since=${since}&tables=expenses`) // opens the pool's connection
    const times: number[] = []
    let trips = 0
    for (let i = 0; i < 5; i++) {
      await p.roundTrips(true)
      const r = await p.call(`/pull?since=${since}`)
      if (r.status !== 200) throw new Error(`pull: status ${r.status}: ${r.text.slice(0, 500)}`)
      times.push(r.ms)
      trips = await p.roundTrips()
    }
    return { ms: percentile(times, 50), trips }
  }
  /** One push over `p` (after a pull through the gateway, untimed): time and round trips, or its failure. */
  const pushOver = async (p: typeof counting) => {
    const body = await nextPush()
    await p.roundTrips(true)
    const r = await p.call('/push', body)
    const trips = await p.roundTrips()
    if (r.status === 200) checkPush(JSON.parse(r.text) as Pushed)
    const error = r.status === 200
      ? ''
      : (JSON.parse(r.text) as { error?: { code?: string } }).error?.code ?? ''
    return { ...r, trips, error }
  }
  const pullCounted = await pullOver(counting)
  const pullDelayed = await pullOver(delayed)
  const pushesCounted = []
  for (let i = 0; i < PROXY_PUSHES - 1; i++) pushesCounted.push(await pushOver(counting))
  const failed = pushesCounted.find((r) => r.status !== 200)
  if (failed) {
    problems.push(
      `push over the counting proxy: status ${failed.status}: ${failed.text.slice(0, 500)}`,
    )
  }
  const pushTrips = percentile(pushesCounted.map((r) => r.trips), 50)
  const pushDelayed = await pushOver(delayed)
  const rtt = 2 * DELAY_MS
  printTable([
    {
      request: 'GET /sync/pull?since=',
      'db round trips': pullCounted.trips,
      'p50 ms, proxy 0 ms': pullCounted.ms.toFixed(1),
      [`p50 ms, ${rtt} ms RTT`]: pullDelayed.ms.toFixed(1),
    },
    {
      request: `POST /sync/push (${PUSH_SIZE} changes)`,
      'db round trips': pushTrips,
      'p50 ms, proxy 0 ms': percentile(pushesCounted.map((r) => r.ms), 50).toFixed(1),
      [`p50 ms, ${rtt} ms RTT`]: pushDelayed.status === 200
        ? pushDelayed.ms.toFixed(1)
        : `${pushDelayed.status} ${pushDelayed.error} after ${
          pushDelayed.ms.toFixed(0)
        } ms (${pushDelayed.trips} round trips)`,
    },
  ])
  if (pushDelayed.status !== 200) {
    console.log(
      `  NOTE: the push over a ${rtt} ms round trip failed (${pushDelayed.status} ${pushDelayed.error}): reported, not ` +
        `counted as a failure of the benchmark.`,
    )
  }
  // A push's transaction has 30 s in all (PUSH_DEADLINE_MS in supabase/functions/sync/index.ts).
  const localMs = percentile(pushTimes, 50)
  const deadlineMs = 30_000
  console.log(
    `  A push of ${PUSH_SIZE} changes waits on ${pushTrips} round trips: at ${localMs.toFixed(0)} ms of work, it ` +
      `would miss its ${deadlineMs / 1000} s deadline past a ${((deadlineMs - localMs) / pushTrips).toFixed(1)} ms round ` +
      `trip to Postgres; 1,000 changes (the most a push takes) would wait on about ` +
      `${Math.round((pushTrips * 1000) / PUSH_SIZE)}.`,
  )

  // ---- plan report -------------------------------------------------------------

  console.log(
    `\nEXPLAIN (ANALYZE, BUFFERS) of the incremental pull's statement (since the cursor before the ${OFFLINE_DAYS} days), as the user under RLS:`,
  )
  for (const line of incPlan) console.log(`  ${line}`)
  for (const [name, plan] of [['incremental pull', incPlan], ['full pull', fullPlan]] as const) {
    const text = plan.join('\n')
    console.log(
      `\nRows read per table, ${name} (execution ${
        /Execution Time: ([\d.]+)/.exec(text)?.[1] ?? '?'
      } ms, ` +
        `planning ${/Planning Time: ([\d.]+)/.exec(text)?.[1] ?? '?'} ms):`,
    )
    printTable(tableScans(plan, synced))
  }
  if (problems.length) {
    console.error('\nFAIL:')
    for (const p of problems) console.error(`  ${p}`)
  }
} finally {
  for (const child of proxies) {
    child.kill()
    await child.status
  }
  await admin.end({ timeout: 1 })
  await stop()
}
if (problems.length) Deno.exit(1)

interface Scan {
  table: string
  node: string
  index: string
  rows: number
  removed: number
  /** Bitmap heap scans: the entries their bitmap index scans returned. */
  entries: number | null
  buffers: number
}

/** Per scan node: rows returned (rows × loops), rows its filters removed, buffers (a bitmap heap scan's include
 * its index's); and whether the table's sync index answers it. */
function tableScans(plan: string[], synced: Set<string>): Record<string, string | number>[] {
  const scans: Scan[] = []
  let current: Scan | undefined
  let heap: Scan | undefined
  const actual = /actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)/
  for (const line of plan) {
    const bitmap = /Bitmap Index Scan on (\w+)/.exec(line)
    if (bitmap) {
      const a = actual.exec(line)
      if (heap) {
        heap.index = heap.index ? `${heap.index}+${bitmap[1]}` : bitmap[1]
        heap.entries = (heap.entries ?? 0) + (a ? Number(a[1]) * Number(a[2]) : 0)
      }
      current = undefined
      continue
    }
    const m =
      /(Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan)(?: Backward)?(?: using (\w+))? on (\w+)/
        .exec(line)
    const a = actual.exec(line)
    if (m && a) {
      current = {
        table: m[3],
        node: m[1],
        index: m[2] ?? '',
        rows: Number(a[1]) * Number(a[2]),
        removed: 0,
        entries: null,
        buffers: -1,
      }
      scans.push(current)
      if (m[1] === 'Bitmap Heap Scan') heap = current
      continue
    }
    if (/->|^\s*(InitPlan|SubPlan)/.test(line)) {
      current = undefined
      continue
    }
    if (!current) continue
    const removed = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(line)
    if (removed) current.removed += Number(removed[1])
    const buffers = /Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?/.exec(line)
    if (buffers && current.buffers < 0) {
      current.buffers = Number(buffers[1] ?? 0) + Number(buffers[2] ?? 0)
    }
  }
  const wanted = (table: string) =>
    table === 'sync_tombstones' ? 'sync_tombstones_user_xid_idx' : `${table}_user_sync_idx`
  const rows: Record<string, string | number>[] = scans.map((s) => ({
    table: s.table,
    scan: s.node,
    index: s.index || '-',
    'rows returned': s.rows,
    'removed by filter': s.removed,
    'rows read': s.rows + s.removed,
    'bitmap index entries': s.entries ?? '-',
    'shared buffers': Math.max(0, s.buffers),
    'sync index used': !synced.has(s.table)
      ? '-'
      : s.index.split('+').includes(wanted(s.table))
      ? 'yes'
      : `no (${wanted(s.table)})`,
  }))
  const sum = (k: string) =>
    rows.reduce((n, r) => n + (typeof r[k] === 'number' ? r[k] as number : 0), 0)
  rows.push({
    table: 'all',
    scan: '',
    index: '',
    'rows returned': sum('rows returned'),
    'removed by filter': sum('removed by filter'),
    'rows read': sum('rows read'),
    'bitmap index entries': sum('bitmap index entries') || '-',
    'shared buffers': sum('shared buffers'),
    'sync index used': `${rows.filter((r) => r['sync index used'] === 'yes').length} of ${
      rows.filter((r) => r['sync index used'] !== '-').length
    }`,
  })
  return rows
}
