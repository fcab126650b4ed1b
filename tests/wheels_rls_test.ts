// RLS on every wheels table, as the functions' RLS-scoped client sees it:
// owner-only rows (vehicles, maintenance, trips, saved places), reviews every
// signed-in user reads but only their author writes, the campsite directory
// only the service role writes; and the composite foreign keys that keep a
// row's links within one owner even for SQL sent straight as that user.
import { assert, assertEquals } from './_support/assert.ts'
import { asUser, checkRls, newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'
import { type Claims, database, postgresClient } from '../supabase/functions/_shared/db.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'

import type postgres from 'postgres'
const one = async (q: Promise<postgres.RowList<postgres.Row[]>>) => (await q)[0].id as string

const vehicleOf = (owner: string) => one(adminSql`insert into pam.vehicles (user_id, name) values (${owner}, 'Troopy') returning id`)
const tripOf = (owner: string) => one(adminSql`insert into pam.trips (user_id, name) values (${owner}, 'Loop') returning id`)
const campsite = () =>
  one(adminSql`insert into pam.campsites (name, type, latitude, longitude) values ('Test site', 'free_camping', -23.7, 133.8) returning id`)

Deno.test('wheels RLS: vehicles', async () => {
  await checkRls({
    table: 'vehicles',
    createOwned: vehicleOf,
    insertValues: (userId) => ({ user_id: userId, name: 'Coaster' }),
    updateValues: { name: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wheels RLS: maintenance_records', async () => {
  let vehicle = ''
  await checkRls({
    table: 'maintenance_records',
    createOwned: async (owner) => {
      vehicle = await vehicleOf(owner)
      return one(adminSql`insert into pam.maintenance_records (user_id, vehicle_id, task, date)
        values (${owner}, ${vehicle}, 'Oil', '2026-03-01') returning id`)
    },
    insertValues: (userId) => ({ user_id: userId, vehicle_id: vehicle, task: 'Tyres', date: '2026-03-02' }),
    updateValues: { task: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wheels RLS: trips', async () => {
  await checkRls({
    table: 'trips',
    createOwned: tripOf,
    insertValues: (userId) => ({ user_id: userId, name: 'Gibb River Road' }),
    updateValues: { notes: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wheels RLS: saved_places', async () => {
  await checkRls({
    table: 'saved_places',
    createOwned: (owner) =>
      one(adminSql`insert into pam.saved_places (user_id, name, latitude, longitude) values (${owner}, 'Spot', -23.7, 133.8) returning id`),
    insertValues: (userId) => ({ user_id: userId, name: 'Water', latitude: '-12.5', longitude: '130.8' }),
    updateValues: { name: 'changed' },
    ownerMayDelete: true,
  })
})

// The functions' RLS-scoped client, every statement in a read-write transaction, as a user or as anon.
const db = database({ url: Deno.env.get('PAM_TEST_DATABASE_URL')!, poolMax: 2, statementTimeoutMs: 5000, acquireTimeoutMs: 5000 })
const claimsOf = (sub: string): Claims => ({ sub, role: 'authenticated', aud: 'authenticated' })
const run = (who: Claims | null, text: string, params: unknown[] = []) =>
  postgresClient(db, who).transaction((tx) => tx.unsafe(text, params as never[]) as Promise<postgres.Row[]>)

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected the statement to fail')
}
/** Refused outright (403), or allowed but touching no row. */
async function deniedOrNone(p: Promise<postgres.Row[]>, why: string) {
  try {
    assertEquals((await p).length, 0, why)
  } catch (err) {
    if (!(err instanceof ApiError)) throw err
    assertEquals(err.status, 403, `${why}: ${err.message}`)
  }
}
const denied = async (p: Promise<unknown>, why: string) => assertEquals((await failure(p)).status, 403, why)

Deno.test('wheels RLS: campsite_reviews are read by every signed-in user and written only by their author', async () => {
  const author = await newAuthUser()
  const reader = await newAuthUser()
  const site = await campsite()
  const otherSite = await campsite()
  const review = await one(adminSql`insert into pam.campsite_reviews (campsite_id, user_id, rating, review)
    values (${site}, ${author}, 4, 'Quiet') returning id`)
  const [a, r] = [claimsOf(author), claimsOf(reader)]
  const byId = 'select id from pam.campsite_reviews where id = $1'

  // select
  assertEquals((await run(a, byId, [review])).length, 1, 'the author reads it')
  assertEquals((await run(r, byId, [review])).length, 1, 'another signed-in user reads it')
  await deniedOrNone(run(null, byId, [review]), 'anon reads nothing')

  // update
  const rate = (who: Claims | null, rating: number) =>
    run(who, 'update pam.campsite_reviews set rating = $2 where id = $1 returning id', [review, rating])
  await deniedOrNone(rate(r, 1), 'another user cannot update it')
  await deniedOrNone(rate(null, 1), 'anon cannot update it')
  assertEquals((await rate(a, 5)).length, 1, 'the author updates it')
  await denied(run(a, 'update pam.campsite_reviews set user_id = $2 where id = $1', [review, reader]), 'nobody moves a review to another user')
  await denied(run(a, 'update pam.campsite_reviews set campsite_id = $2 where id = $1', [review, otherSite]), 'nor to another site')
  await denied(run(a, "update pam.campsite_reviews set created_at = now() - interval '1 year' where id = $1", [review]), 'nor backdates it')

  // insert
  const insert = (who: Claims | null, userId: string, campsiteId: string) =>
    run(who, 'insert into pam.campsite_reviews (campsite_id, user_id, rating) values ($1, $2, 3) returning id', [campsiteId, userId])
  await denied(insert(r, author, otherSite), 'a user cannot insert a review as someone else')
  await denied(insert(null, author, otherSite), 'anon cannot insert')
  await denied(
    run(a, 'insert into pam.campsite_reviews (id, campsite_id, user_id, rating) values ($1, $2, $3, 3)', [crypto.randomUUID(), otherSite, author]),
    'ids are not chosen by users',
  )
  const readers = await insert(r, reader, site)
  assertEquals(readers.length, 1, 'a user reviews a site themselves')
  assertEquals((await run(a, byId, [readers[0].id])).length, 1, "and the author reads the reader's review")
  assertEquals((await failure(insert(r, reader, site))).status, 409, 'one review per user and site')

  // delete
  const del = (who: Claims | null, id: string) => run(who, 'delete from pam.campsite_reviews where id = $1 returning id', [id])
  await deniedOrNone(del(r, review), 'another user cannot delete it')
  await deniedOrNone(del(null, review), 'anon cannot delete it')
  const [still] = await adminSql`select rating, review from pam.campsite_reviews where id = ${review}`
  assertEquals([still.rating, still.review], [5, 'Quiet'], 'only the author changed it')
  assertEquals((await del(a, review)).length, 1, 'the author deletes it')
  const left = await adminSql`select user_id from pam.campsite_reviews where campsite_id in (${site}, ${otherSite})`
  assertEquals(left.map((x) => x.user_id), [reader])
})

Deno.test('wheels RLS: campsites are read by signed-in users and written only by the service role', async () => {
  const user = await newAuthUser()
  const site = await campsite()
  const u = claimsOf(user)
  assertEquals((await run(u, 'select id from pam.campsites where id = $1', [site])).length, 1, 'a signed-in user reads the directory')
  assert((await run(u, 'select id from pam.campsites')).length >= 1)
  await deniedOrNone(run(null, 'select id from pam.campsites where id = $1', [site]), 'anon reads nothing')

  const insert = 'insert into pam.campsites (name, type, latitude, longitude) values ($1, $2, $3, $4) returning id'
  const values = ['Mine now', 'rest_area', '-20', '130']
  for (const who of [u, null]) {
    const as = who ? 'a signed-in user' : 'anon'
    await denied(run(who, insert, values), `${as} cannot add a campsite`)
    await deniedOrNone(run(who, "update pam.campsites set name = 'Renamed' where id = $1 returning id", [site]), `${as} cannot change one`)
    await deniedOrNone(run(who, 'delete from pam.campsites where id = $1 returning id', [site]), `${as} cannot delete one`)
  }
  const [row] = await adminSql`select name from pam.campsites where id = ${site}`
  assertEquals(row.name, 'Test site', 'untouched')

  // The service role (the seed, admin jobs) writes it.
  await adminSql.begin(async (sql) => {
    await sql`set local role service_role`
    const [added] = await sql.unsafe(insert, values)
    const changed = await sql`update pam.campsites set name = 'Renamed' where id = ${site} returning id`
    assertEquals(changed.length, 1)
    const removed = await sql`delete from pam.campsites where id = ${added.id} returning id`
    assertEquals(removed.length, 1)
  })
  const [renamed] = await adminSql`select name from pam.campsites where id = ${site}`
  assertEquals(renamed.name, 'Renamed')
})

Deno.test("wheels db: a row can only link its owner's vehicle or trip, even by direct SQL as that user", async () => {
  const a = await newAuthUser()
  const b = await newAuthUser()
  const bVehicle = await vehicleOf(b)
  const bTrip = await tripOf(b)
  const aVehicle = await vehicleOf(a)
  const aTrip = await tripOf(a)
  const as = asUser(a)
  // The composite foreign key (link, user_id) refuses it: 409, as the RLS client reports a foreign key.
  // (Postgres hides the key from a user who cannot read the referenced row, so the details name the
  // constraint's stem, e.g. "vehicle"; the API's own paths answer these as unknown_vehicle / unknown_trip.)
  const conflict = async (p: Promise<unknown>, field: string, why: string) => {
    const err = await failure(p)
    assertEquals([err.status, err.code], [409, 'conflict'], `${why} (${field}): ${err.message}`)
  }

  // A cannot see B's vehicle or trip at all.
  assertEquals((await as.queryRaw('select id from pam.vehicles where id = $1', [bVehicle])).length, 0)
  assertEquals((await as.queryRaw('select id from pam.trips where id = $1', [bTrip])).length, 0)

  // Expenses: by vehicle (with an odometer reading too), by trip, on insert and on update.
  await conflict(as.query`insert into pam.expenses (amount, category, vehicle_id) values (1, 'fuel', ${bVehicle})`, 'vehicle_id', 'expense → B vehicle')
  await conflict(
    as.query`insert into pam.expenses (amount, category, vehicle_id, odometer, fuel_volume) values (1, 'fuel', ${bVehicle}, 999999, 10)`,
    'vehicle_id',
    'fill-up → B vehicle with a reading',
  )
  await conflict(as.query`insert into pam.expenses (amount, category, trip_id) values (1, 'fuel', ${bTrip})`, 'trip_id', 'expense → B trip')
  const [mine] = await as.queryRaw<{ id: string }>(
    `insert into pam.expenses (amount, category, vehicle_id, trip_id) values (1, 'fuel', $1, $2) returning id`,
    [aVehicle, aTrip],
  )
  await conflict(as.query`update pam.expenses set vehicle_id = ${bVehicle} where id = ${mine.id}`, 'vehicle_id', 'expense moved to B vehicle')
  await conflict(as.query`update pam.expenses set trip_id = ${bTrip} where id = ${mine.id}`, 'trip_id', 'expense moved to B trip')

  // Maintenance and trips likewise.
  await conflict(as.query`insert into pam.maintenance_records (vehicle_id, task, date) values (${bVehicle}, 'Oil', '2026-03-01')`, 'vehicle_id', 'maintenance → B vehicle')
  await conflict(as.query`insert into pam.trips (name, vehicle_id) values ('Sneaky', ${bVehicle})`, 'vehicle_id', 'trip → B vehicle')
  await conflict(as.query`update pam.trips set vehicle_id = ${bVehicle} where id = ${aTrip}`, 'vehicle_id', 'trip moved to B vehicle')
  const [record] = await as.queryRaw<{ id: string }>(
    `insert into pam.maintenance_records (vehicle_id, task, date) values ($1, 'Oil', '2026-03-01') returning id`,
    [aVehicle],
  )
  await conflict(as.query`update pam.maintenance_records set vehicle_id = ${bVehicle} where id = ${record.id}`, 'vehicle_id', 'maintenance moved to B vehicle')

  // Nor can A hand a row to B (RLS: 403).
  await denied(as.query`update pam.vehicles set user_id = ${b} where id = ${aVehicle}`, 'vehicle given away')
  await denied(as.query`insert into pam.vehicles (user_id, name) values (${b}, 'Gift')`, 'vehicle made for B')
  await denied(as.query`insert into pam.expenses (user_id, amount, category, vehicle_id) values (${b}, 1, 'fuel', ${bVehicle})`, "an expense on B's vehicle, as B")

  const [expense] = await adminSql`select vehicle_id, trip_id from pam.expenses where id = ${mine.id}`
  assertEquals([expense.vehicle_id, expense.trip_id], [aVehicle, aTrip], 'links unchanged')
  const [linked] = await adminSql`
    select (select count(*) from pam.expenses where vehicle_id = ${bVehicle} or trip_id = ${bTrip})::int as expenses,
           (select count(*) from pam.maintenance_records where vehicle_id = ${bVehicle})::int as maintenance,
           (select count(*) from pam.trips where vehicle_id = ${bVehicle})::int as trips,
           (select current_odometer from pam.vehicles where id = ${bVehicle}) as odometer,
           (select count(*) from pam.vehicles where user_id = ${b})::int as b_vehicles`
  assertEquals(linked, { expenses: 0, maintenance: 0, trips: 0, odometer: 0, b_vehicles: 1 })
})
