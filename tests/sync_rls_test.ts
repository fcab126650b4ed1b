// RLS on the tables behind retries and sync: remembered answers are their
// owner's alone; tombstones are read by their owner only and written by the
// database alone; the horizon is one shared number nobody but the service
// role changes.
import { assert, assertEquals } from './_support/assert.ts'
import { asUser, checkRls, newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'
import { database, postgresClient } from '../supabase/functions/_shared/db.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'

const anon = postgresClient(
  database({ url: Deno.env.get('PAM_TEST_DATABASE_URL')!, poolMax: 1, statementTimeoutMs: 5000, acquireTimeoutMs: 5000 }),
  null,
)

/** True when the statement is refused (403) or touches nothing. */
async function refusedOrNothing(p: Promise<unknown[]>): Promise<boolean> {
  try {
    return (await p).length === 0
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return true
    throw err
  }
}

Deno.test('sync RLS: idempotency_keys', async () => {
  await checkRls({
    table: 'idempotency_keys',
    idColumn: 'key',
    createOwned: async (owner) => {
      const key = crypto.randomUUID()
      await adminSql`insert into pam.idempotency_keys (user_id, key, fingerprint) values (${owner}, ${key}, ${'a'.repeat(64)})`
      return key
    },
    insertValues: (userId) => ({ user_id: userId, key: crypto.randomUUID(), fingerprint: 'b'.repeat(64) }),
    updateValues: { status: 201 },
    ownerMayDelete: true,
  })
})

Deno.test('sync RLS: tombstones are read by their owner only and written by the database alone', async () => {
  const owner = await newAuthUser()
  const other = await newAuthUser()
  const [e] = await adminSql`insert into pam.expenses (user_id, amount, currency, category, date)
                             values (${owner}, 1, 'AUD', 'other', '2026-03-01') returning id`
  await adminSql`delete from pam.expenses where id = ${e.id}`
  const select = (who: ReturnType<typeof asUser>) =>
    who.queryRaw(`select row_id from pam.sync_tombstones where row_id = $1`, [e.id])
  assertEquals((await select(asUser(owner))).length, 1, 'the owner sees the tombstone')
  assertEquals((await select(asUser(other))).length, 0, 'another user does not')
  assert(await refusedOrNothing(anon.queryRaw(`select row_id from pam.sync_tombstones where row_id = $1`, [e.id])), 'anon does not')
  for (const who of [asUser(owner), asUser(other)]) {
    assert(await refusedOrNothing(who.queryRaw(`delete from pam.sync_tombstones where row_id = $1 returning row_id`, [e.id])))
    assert(await refusedOrNothing(who.queryRaw(`update pam.sync_tombstones set table_name = 'x' where row_id = $1 returning row_id`, [e.id])))
    assert(await refusedOrNothing(who.queryRaw(
      `insert into pam.sync_tombstones (user_id, table_name, row_id) values ($1, 'expenses', $2) returning row_id`,
      [owner, crypto.randomUUID()],
    )))
  }
  assert(await refusedOrNothing(asUser(owner).queryRaw(`update pam.sync_horizon set xid = '0' returning xid`)), 'the horizon is read-only')
  assert(await refusedOrNothing(asUser(owner).queryRaw(`select * from pam.sync_cleanup()`)), 'only the service role cleans up')
  // Deleting the account leaves no tombstones for nobody to sync.
  const [f] = await adminSql`insert into pam.expenses (user_id, amount, currency, category, date)
                             values (${other}, 1, 'AUD', 'other', '2026-03-01') returning id`
  await adminSql`delete from auth.users where id = ${other}`
  assertEquals((await adminSql`select count(*)::int as n from pam.sync_tombstones where row_id = ${f.id}`)[0].n, 0)
})

Deno.test('sync RLS: what a pull saw is read by its owner only and written by the pull alone; 16 kept', async () => {
  const owner = await newAuthUser()
  const other = await newAuthUser()
  for (let i = 0; i < 20; i++) {
    await adminSql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: owner, role: 'authenticated' })}, true)`
      // Each remembered at a cursor of its own.
      await tx`select pam.sync_remember_pull(${`${1000 + i}:${1000 + i}:`}::pg_snapshot)`
    })
  }
  const kept = await adminSql`select cursor::text from pam.sync_pulls where user_id = ${owner} order by cursor`
  assertEquals(kept.map((r) => r.cursor), Array.from({ length: 16 }, (_, i) => String(1004 + i)), 'the 16 newest')
  // Two pulls at one cursor, remembered in either order: the earlier snapshot (it saw least) stays.
  const remember = (snapshot: string) =>
    adminSql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: owner, role: 'authenticated' })}, true)`
      await tx`select pam.sync_remember_pull(${snapshot}::pg_snapshot)`
    })
  const keptAt = async () => (await adminSql`select snapshot::text from pam.sync_pulls where user_id = ${owner} and cursor = '1030'`)[0].snapshot
  await remember('1030:1040:1030,1035')
  assertEquals(await keptAt(), '1030:1040:1030,1035', 'a later pull at a new cursor, remembered first')
  await remember('1030:1033:1030,1031')
  assertEquals(await keptAt(), '1030:1033:1030,1031', 'an earlier one replaces it')
  await remember('1030:1033:1030')
  await remember('1030:1050:1030')
  assertEquals(await keptAt(), '1030:1033:1030,1031', 'later ones do not')
  const select = (who: ReturnType<typeof asUser>) => who.queryRaw(`select cursor from pam.sync_pulls where user_id = $1`, [owner])
  assertEquals((await select(asUser(owner))).length, 16, 'the owner reads them')
  assertEquals((await select(asUser(other))).length, 0, 'another user does not')
  assert(await refusedOrNothing(anon.queryRaw(`select cursor from pam.sync_pulls where user_id = $1`, [owner])), 'anon does not')
  for (const who of [asUser(owner), asUser(other)]) {
    assert(await refusedOrNothing(who.queryRaw(`delete from pam.sync_pulls where user_id = $1 returning cursor`, [owner])))
    assert(await refusedOrNothing(who.queryRaw(`update pam.sync_pulls set snapshot = '1:1:' where user_id = $1 returning cursor`, [owner])))
    assert(await refusedOrNothing(who.queryRaw(
      `insert into pam.sync_pulls (user_id, cursor, snapshot) values ($1, '7', '7:7:') returning cursor`,
      [owner],
    )))
  }
  // Without a signed-in user there is no one to remember it for.
  const err = await adminSql`select pam.sync_remember_pull('5:5:'::pg_snapshot)`.catch((e) => e)
  assert(String(err?.message).includes('signed-in user'), String(err))
  await adminSql`delete from auth.users where id = ${owner}`
  assertEquals((await adminSql`select count(*)::int as n from pam.sync_pulls where user_id = ${owner}`)[0].n, 0, 'gone with the account')
})
