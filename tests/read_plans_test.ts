// User reads are prepared once per server connection (pam.prepare_read) and
// run with `execute`: what they see is still RLS's, they run as the caller's
// role, no API role can prepare anything, a connection holds a bounded number,
// a prepared read is marked so that the next skips the lookup, and a migration
// that changes what a prepared read returns, or a mark that outlived its
// statement, costs one retry.
import { assert, assertEquals } from './_support/assert.ts'
import { newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'
import { database, postgresClient, preparedRead } from '../supabase/functions/_shared/db.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'

// One slot: every read below goes over the same server connection.
const db = database({
  url: Deno.env.get('PAM_TEST_DATABASE_URL')!,
  poolMax: 1,
  statementTimeoutMs: 5000,
  acquireTimeoutMs: 5000,
})
const as = (sub: string) => postgresClient(db, { sub, role: 'authenticated', aud: 'authenticated' })
const PREPARED = `select p.name::text as name, p.statement from pg_catalog.pg_prepared_statements p
  where p.name like 'pam\\_r\\_%' order by p.prepare_time`

Deno.test('read plans: a read is prepared once on its connection, runs with its values, sees what RLS lets it', async () => {
  const [alice, bob] = [await newAuthUser(), await newAuthUser()]
  const text = 'select p.id::text as id, p.full_name from pam.profiles p where p.id = $1::uuid'
  const mine = await as(alice).queryRaw(text, [alice])
  assertEquals(mine.map((r) => r.id), [alice])
  assertEquals(await as(alice).queryRaw(text, [bob]), [], "another user's row stays invisible")
  assertEquals((await as(bob).queryRaw(text, [bob])).map((r) => r.id), [bob])
  // Values that do not fit the statement's types are the caller's error, as before.
  const bad = await as(alice).queryRaw(text, ['not-a-uuid']).catch((e) => e)
  assert(bad instanceof ApiError && bad.status === 400, String(bad))

  const prepared = await as(alice).queryRaw<{ name: string; statement: string }>(PREPARED)
  const name = preparedRead(text).name
  assertEquals(prepared.filter((p) => p.name === name).length, 1)
  assert(prepared.find((p) => p.name === name)!.statement.endsWith(text), 'prepared with its text')
  // jsonRows goes the same way.
  const json = await as(alice).jsonRows(`select row_to_json(r)::text from (select $1::int as n) r`, [7])
  assertEquals([json.length, json.row(0), json.joined()], [1, '{"n":7}', '{"n":7}'])
})

Deno.test('read plans: pages run one generic plan; other reads leave the choice to Postgres', async () => {
  const user = await newAuthUser()
  const page = `select row_to_json(r)::text from (select e.id from pam.expenses e where e.user_id = (select auth.uid())
    and e.date <= $1::date order by e.date desc, e.created_at desc, e.id desc limit $2) r`
  const rows = `select e.id from pam.expenses e where e.user_id = (select auth.uid()) and e.date <= $1::date
    order by e.date desc, e.created_at desc, e.id desc limit $2`
  for (let i = 0; i < 7; i++) {
    assertEquals((await as(user).jsonRows(page, ['2030-01-01', 21])).length, 0)
    assertEquals(await as(user).queryRaw(rows, ['2030-01-01', 21]), [])
  }
  const plans = await as(user).queryRaw<{ name: string; generic_plans: string; custom_plans: string }>(
    `select p.name::text as name, p.generic_plans, p.custom_plans from pg_catalog.pg_prepared_statements p`,
  )
  const of = (text: string) => plans.find((p) => p.name === preparedRead(text).name)!
  assertEquals([Number(of(page).generic_plans), Number(of(page).custom_plans)], [7, 0])
  // Postgres's own rule: five custom plans, then the generic one if it is not costlier (with
  // `limit $2` on a large table it always is, and Postgres plans every run).
  assert(Number(of(rows).custom_plans) >= 5, JSON.stringify(of(rows)))
  assertEquals(Number(of(rows).generic_plans) + Number(of(rows).custom_plans), 7)
})

Deno.test('read plans: the statement runs as the caller\'s role (authenticated, anon), not the login role', async () => {
  const user = await newAuthUser()
  const text = 'select current_user::text as role, (select auth.uid())::text as uid'
  assertEquals(await as(user).queryRaw(text), [{ role: 'authenticated', uid: user }])
  assertEquals(await postgresClient(db, null).queryRaw(text), [{ role: 'anon', uid: null }])
})

Deno.test('read plans: no API role may call pam.prepare_read', async () => {
  const user = await newAuthUser()
  for (const client of [as(user), postgresClient(db, null)]) {
    const err = await client.transaction((tx) => tx`select pam.prepare_read('pam_r_x', 'select 1')`).catch((e) => e)
    assert(err instanceof ApiError && err.status === 403, String(err))
  }
  for (const role of ['anon', 'authenticated', 'service_role']) {
    const [{ allowed }] = await adminSql`
      select has_function_privilege(${role}, 'pam.prepare_read(text, text)', 'execute') as allowed`
    assertEquals(allowed, false, role)
  }
})

Deno.test('read plans: at most 64 per connection, the oldest goes; a name found with another text is replaced', async () => {
  const user = await newAuthUser()
  for (let i = 0; i < 70; i++) {
    assertEquals(await as(user).queryRaw(`select ${i}::int as n, $1::text as t`, ['x']), [{ n: i, t: 'x' }])
  }
  const prepared = await as(user).queryRaw<{ name: string }>(PREPARED)
  assertEquals(prepared.length, 64)
  assertEquals(prepared.at(-1)!.name, preparedRead(PREPARED).name)
  const first = preparedRead(`select 0::int as n, $1::text as t`).name
  assert(!prepared.some((p) => p.name === first), 'the first went')
  // Its mark went with it; the one prepared last has its mark.
  const mark = (name: string) =>
    as(user).queryRaw<{ mark: string | null }>(`select current_setting('pam.' || $1, true) as mark`, [name])
  assertEquals(await mark(first), [{ mark: '' }])
  assertEquals(await mark(preparedRead(`select 69::int as n, $1::text as t`).name), [{ mark: '1' }])

  // On one connection of the login role: the same name with another text.
  const conn = await adminSql.reserve()
  try {
    await conn`select pam.prepare_read('pam_r_test', 'select 1 as a')`
    assertEquals([...await conn.unsafe('execute pam_r_test')], [{ a: 1 }])
    await conn`select pam.prepare_read('pam_r_test', 'select 1 as a')` // kept
    await conn`select pam.prepare_read('pam_r_test', 'select 2 as a')`
    assertEquals([...await conn.unsafe('execute pam_r_test')], [{ a: 2 }])
  } finally {
    await conn.unsafe('deallocate all')
    conn.release()
  }
})

Deno.test('read plans: a migration that changes what a prepared read returns costs it one retry', async () => {
  const user = await newAuthUser()
  await adminSql.unsafe(`
    create schema read_plans_probe;
    grant usage on schema read_plans_probe to authenticated;
    create table read_plans_probe.items (a int);
    insert into read_plans_probe.items values (1);
    grant select on read_plans_probe.items to authenticated`)
  try {
    const text = 'select * from read_plans_probe.items where a >= $1::int'
    assertEquals(await as(user).queryRaw(text, [0]), [{ a: 1 }])
    await adminSql`alter table read_plans_probe.items add column b text default 'new'`
    assertEquals(await as(user).queryRaw(text, [0]), [{ a: 1, b: 'new' }])
    assertEquals(await as(user).queryRaw(text, [0]), [{ a: 1, b: 'new' }])
  } finally {
    await adminSql`drop schema read_plans_probe cascade`
  }
})

Deno.test('read plans: a prepared read is marked on its connection, and the next read skips the lookup', async () => {
  const { name, prepare, prepareAlways } = preparedRead(`select 'marked'::text as a, ${Date.now()} as b`)
  const conn = await adminSql.reserve() // the login role, as the preamble runs it
  try {
    const state = async () => {
      const [row] = await conn`
        select exists (select 1 from pg_catalog.pg_prepared_statements p where p.name = ${name}) as prepared,
               current_setting('pam.' || ${name}, true) as mark`
      return [row.prepared, row.mark]
    }
    assertEquals(await state(), [false, null])
    await conn.unsafe(`select ${prepare}`)
    assertEquals(await state(), [true, '1'])
    // With the mark set the function is not called: a statement dropped by hand stays dropped.
    await conn.unsafe(`deallocate ${name}`)
    await conn.unsafe(`select ${prepare}`)
    assertEquals(await state(), [false, '1'])
    await conn.unsafe(`select ${prepareAlways}`)
    assertEquals(await state(), [true, '1'])
    // A mark undone by a rollback (its statement stays): the function finds the statement and marks it.
    await conn.unsafe(`select set_config('pam.${name}', '', false)`)
    await conn.unsafe(`select ${prepare}`)
    assertEquals(await state(), [true, '1'])
  } finally {
    await conn.unsafe(`select set_config('pam.${name}', '', false)`)
    await conn.unsafe('deallocate all')
    conn.release()
  }
})

Deno.test('read plans: a mark that outlived its statement costs the read one retry', async () => {
  const user = await newAuthUser()
  const text = `select $1::int + 1 as n, ${Date.now()} as stamp`
  const { name } = preparedRead(text)
  // A mark for a statement this connection never prepared (as a DEALLOCATE would leave one).
  await as(user).queryRaw(`select set_config('pam.' || $1, '1', false) as s`, [name])
  const [row] = await as(user).queryRaw<{ n: number }>(text, [41])
  assertEquals(row.n, 42)
  const prepared = await as(user).queryRaw<{ name: string }>(PREPARED)
  assert(prepared.some((p) => p.name === name), 'prepared again')
})
