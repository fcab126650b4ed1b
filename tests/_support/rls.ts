// The RLS test every user table gets: select, insert, update and delete as
// the owner, as another signed-in user and as anon, through the same
// RLS-scoped client the functions use (claims + role set per transaction).
import { assert, assertEquals } from './assert.ts'
import { type Claims, database, postgresClient, type PostgresApi } from '../../supabase/functions/_shared/db.ts'
import { ApiError } from '../../supabase/functions/_shared/errors.ts'
import { adminSql } from './stack.ts'

export interface RlsSpec {
  table: string
  /** The primary key column. */
  idColumn?: string
  /** Creates a row owned by `ownerId` with the admin connection; returns its id. */
  createOwned(ownerId: string): Promise<string>
  /** Column values for an insert as `userId` owning it (omit when users may not insert). */
  insertValues?: (userId: string) => Record<string, unknown>
  /** Column values for an update. */
  updateValues: Record<string, unknown>
  /** Whether the owner may delete directly (false when deletion goes through a function). */
  ownerMayDelete: boolean
  /** Whether the owner may update (false for rows only jobs write); default true. */
  ownerMayUpdate?: boolean
}

const userDb = database({
  url: Deno.env.get('PAM_TEST_DATABASE_URL')!,
  poolMax: 2,
  statementTimeoutMs: 5000,
  acquireTimeoutMs: 5000,
})

export async function newAuthUser(): Promise<string> {
  const [u] = await adminSql`
    insert into auth.users (email, raw_app_meta_data, raw_user_meta_data)
    values (${`rls-${crypto.randomUUID()}@example.com`}, '{"provider":"email"}', '{"full_name":"RLS"}')
    returning id`
  return u.id
}

const claimsOf = (sub: string): Claims => ({ sub, role: 'authenticated', aud: 'authenticated' })
/** The functions' RLS-scoped client, every statement in a read-write transaction
 * (query and queryRaw alone are read-only), so writes are tested as well as reads. */
const as = (claims: Claims | null): PostgresApi => {
  const api = postgresClient(userDb, claims)
  return {
    query: (strings, ...values) => api.transaction((tx) => tx(strings, ...(values as never[])) as never),
    queryRaw: (text, params = []) => api.transaction((tx) => tx.unsafe(text, params as never[]) as never),
    jsonRows: api.jsonRows,
    transaction: api.transaction,
  }
}

/** The RLS-scoped client the functions use, as the signed-in user `sub` (no session check). */
export const asUser = (sub: string): PostgresApi => as(claimsOf(sub))

/** The same client with no token: the anon role. */
export const asAnon = (): PostgresApi => as(null)

async function denied(p: Promise<unknown>): Promise<boolean> {
  try {
    await p
    return false
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return true
    throw err
  }
}

/** A table nobody reaches through RLS, not even the traveller whose row it is (`owner`): each statement is
 * refused as `owner`, as another signed-in user and as anon (the jobs and definer functions write it). */
export async function checkNobodyReaches(owner: string, statements: string[]): Promise<void> {
  const other = await newAuthUser()
  for (const [who, api] of [['owner', asUser(owner)], ['another user', asUser(other)], ['anon', asAnon()]] as const) {
    for (const sql of statements) assert(await denied(api.queryRaw(sql)), `${who}: ${sql}: allowed`)
  }
}

export async function checkRls(spec: RlsSpec): Promise<void> {
  const id = spec.idColumn ?? 'id'
  const t = `pam.${spec.table}`
  const owner = await newAuthUser()
  const other = await newAuthUser()
  const rowId = await spec.createOwned(owner)
  const countAs = async (who: Claims | null) =>
    (await as(who).queryRaw(`select 1 from ${t} where ${id} = $1`, [rowId])).length

  // select
  assertEquals(await countAs(claimsOf(owner)), 1, `${t}: owner sees own row`)
  assertEquals(await countAs(claimsOf(other)), 0, `${t}: another user sees nothing`)
  assert((await denied(countAs(null))) || (await countAs(null)) === 0, `${t}: anon sees nothing`)

  // update
  const sets = Object.keys(spec.updateValues).map((k, i) => `${k} = $${i + 2}`).join(', ')
  const update = (who: Claims | null) =>
    as(who).queryRaw(`update ${t} set ${sets} where ${id} = $1 returning ${id}`, [
      rowId,
      ...Object.values(spec.updateValues),
    ])
  if (spec.ownerMayUpdate === false) {
    assert((await denied(update(claimsOf(owner)))) || (await update(claimsOf(owner))).length === 0, `${t}: owner cannot update`)
  } else {
    assertEquals((await update(claimsOf(owner))).length, 1, `${t}: owner updates own row`)
  }
  assert(
    (await denied(update(claimsOf(other)))) || (await update(claimsOf(other))).length === 0,
    `${t}: another user cannot update`,
  )
  assert((await denied(update(null))) || (await update(null)).length === 0, `${t}: anon cannot update`)

  // insert
  if (spec.insertValues) {
    const insert = (who: Claims | null, ownerId: string) => {
      const values = spec.insertValues!(ownerId)
      const cols = Object.keys(values)
      return as(who).queryRaw(
        `insert into ${t} (${cols.join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')}) returning ${id}`,
        Object.values(values),
      )
    }
    assertEquals((await insert(claimsOf(owner), owner)).length, 1, `${t}: owner inserts own row`)
    assert(await denied(insert(claimsOf(other), owner)), `${t}: a user cannot insert a row owned by another`)
    assert(await denied(insert(null, owner)), `${t}: anon cannot insert`)
  } else {
    const cols = Object.keys(spec.updateValues)
    const tryInsert = (who: Claims | null) =>
      as(who).queryRaw(
        `insert into ${t} (${id}, ${cols.join(', ')}) values ($1, ${cols.map((_, i) => `$${i + 2}`).join(', ')})`,
        [crypto.randomUUID(), ...Object.values(spec.updateValues)],
      )
    assert(await denied(tryInsert(claimsOf(owner))), `${t}: users cannot insert directly`)
    assert(await denied(tryInsert(null)), `${t}: anon cannot insert`)
  }

  // delete
  const del = (who: Claims | null) => as(who).queryRaw(`delete from ${t} where ${id} = $1 returning ${id}`, [rowId])
  assert((await denied(del(claimsOf(other)))) || (await del(claimsOf(other))).length === 0, `${t}: another user cannot delete`)
  assert((await denied(del(null))) || (await del(null)).length === 0, `${t}: anon cannot delete`)
  if (spec.ownerMayDelete) {
    assertEquals((await del(claimsOf(owner))).length, 1, `${t}: owner deletes own row`)
  } else {
    assert((await denied(del(claimsOf(owner)))) || (await del(claimsOf(owner))).length === 0, `${t}: owner cannot delete directly`)
  }
  const [still] = await adminSql.unsafe(`select count(*)::int as n from ${t} where ${id} = $1`, [rowId])
  assertEquals(still.n, spec.ownerMayDelete ? 0 : 1, `${t}: row count after delete attempts`)
}
