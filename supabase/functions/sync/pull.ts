// GET /sync/pull: what changed in the caller's tables since a cursor, in
// WatermelonDB's shape, read in one statement (one snapshot, one round
// trip); then that snapshot is remembered for the push's conflicts.
import type { PostgresApi } from '../_shared/db.ts'
import { params } from '../_shared/resource.ts'
import { cursorExpired } from './cursor.ts'
import type { SyncTable } from './tables.ts'

export type Row = Record<string, unknown>
export interface TableChanges {
  created: Row[]
  updated: Row[]
  deleted: string[]
}

/** Rows of `tables` written since `since` (every row when null), and the deletions since then. */
export async function pullChanges(
  db: PostgresApi,
  tables: SyncTable[],
  since: number | null,
): Promise<{ changes: Record<string, TableChanges>; cursor: number }> {
  const { values, p } = params()
  const from = since === null ? null : `${p(String(since))}::xid8`
  const rows = tables.map((t) => {
    const a = t.alias
    const isNew = from ? `${a}.sync_created >= ${from}` : 'true'
    return `'${t.name}', (select coalesce(json_agg(r), '[]'::json) from (
      select ${t.select}, ${isNew} as _new from ${t.table} ${a}
      where ${a}.user_id = (select auth.uid()) ${from ? `and ${a}.sync_xid >= ${from}` : ''}) r)`
  })
  // A deleted id whose row is yours again (created anew with that id since) is not listed: the row is the state.
  const again = tables.map((t) =>
    `when '${t.name}' then exists (select 1 from ${t.table} x where x.id = s.row_id and x.user_id = s.user_id)`
  )
  const deleted = from
    ? `(select coalesce(json_object_agg(d.table_name, d.ids), '{}'::json) from (
         select s.table_name, json_agg(s.row_id) as ids from pam.sync_tombstones s
         where s.user_id = (select auth.uid()) and s.sync_xid >= ${from}
           and s.table_name = any(${p(`{${tables.map((t) => t.name).join(',')}}`)}::text[])
           and not case s.table_name ${again.join(' ')} end
         group by s.table_name) d)`
    : `'{}'::json`
  const [result] = await db.queryRaw<
    { changes: Record<string, (Row & { _new: boolean })[]>; deleted: Record<string, string[]>; cursor: string; snapshot: string; horizon: string }
  >(
    `select json_build_object(${rows.join(',\n')}) as changes, ${deleted} as deleted,
            pg_snapshot_xmin(pg_current_snapshot())::text as cursor, pg_current_snapshot()::text as snapshot,
            (select h.xid::text from pam.sync_horizon h) as horizon`,
    values,
  )
  // Tombstones up to the horizon are removed: a pull since then would need some of them.
  if (since !== null && since <= Number(result.horizon) && result.horizon !== '0') throw cursorExpired()
  const changes: Record<string, TableChanges> = {}
  for (const t of tables) {
    const created: Row[] = []
    const updated: Row[] = []
    for (const { _new, ...row } of result.changes[t.name]) (_new ? created : updated).push(row)
    changes[t.name] = { created, updated, deleted: result.deleted[t.name] ?? [] }
  }
  await rememberPull(db, result.snapshot)
  return { changes, cursor: Number(result.cursor) }
}

/** Keeps what the pull saw for the push that follows (20261202003000_sync_pulls.sql), before the cursor is
 * answered: a cursor given out whose snapshot was not kept could be judged by another pull's later one. */
async function rememberPull(db: PostgresApi, snapshot: string): Promise<void> {
  await db.transaction((tx) => tx`select pam.sync_remember_pull(${snapshot}::pg_snapshot)`)
}
