// POST /sync/push: a batch of offline changes applied in one transaction,
// all or nothing, through the same domain code as the routes: the resource
// declarations (validation, "today" and currency defaults, the database's
// refusals as clear errors), the expense path (classification, references,
// budget impact and alerts), the odometer rules (database triggers).
//
// Conflicts — the server wins. An update that carries the row's `updated_at`
// as the app last pulled it (a timestamp, any ISO form of the instant)
// conflicts when the server's differs (someone changed it since). Otherwise,
// with `last_pulled_at`, an update or delete of
// a row written since that pull conflicts: one its snapshot did not see
// (pam.sync_pulls), or, for a cursor whose snapshot is no longer kept, one
// written by the cursor's transaction or a later one. A conflicting change is
// not applied; the result carries the row the server kept. Without either,
// updates apply as they come (last writer wins). Conflicts are judged before
// the batch writes anything, so its own writes are none.
// A record's `_changed` (WatermelonDB: the columns changed on the device)
// limits an update to those columns.
//
// A create whose id is already the caller's row is a retry: the push that
// created it committed, but its answer never reached the app, which may have
// edited the record since. Its fields with a value are applied as an update
// when nobody else has changed the row since it was created ('applied'); the
// values the row holds already are 'unchanged'; different content on a row
// changed since by someone else, or content the row refuses, is a conflict,
// the server's row kept (the rest of the batch applies).
import { ApiError } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { z } from '../_shared/http.ts'
import { explainRefusal, insertRow, type Refusals, updateRow } from '../_shared/resource.ts'
import { invalidReference, moneyContext } from '../wins/common.ts'
import { budgetImpact } from '../wins/budget-status.ts'
import { type Expense, ExpenseCreate, ExpensePatch, insertExpenses, prepareExpenses } from '../wins/expense-model.ts'
import { EXPENSE_COLUMN_TYPES, updateExpense } from '../wins/expenses.ts'
import type { Row } from './pull.ts'
import type { SyncTable } from './tables.ts'

export const MAX_CHANGES = 1000

export interface Batch {
  [table: string]: { created: Row[]; updated: Row[]; deleted: string[] }
}

type Op = 'create' | 'update' | 'delete'
export interface Result {
  table: string
  id: string
  op: Op
  result: 'applied' | 'unchanged' | 'conflict'
  /** For a conflict: the row the server kept (null when it was deleted there). */
  server?: Row | null
}
interface Problem {
  table: string
  id: unknown
  op: Op
  code: string
  message: string
  details?: unknown
}

/** What an API create or patch of the table takes: the rest of a synced record (timestamps, computed fields, the
 * client's own bookkeeping) is ignored. */
function writable(t: SyncTable, op: 'create' | 'update'): string[] {
  if (t.push!.kind === 'expense') return Object.keys(EXPENSE_COLUMN_TYPES)
  if (t.push!.fields) return t.push!.fields
  const w = op === 'create' ? t.push!.spec.create : t.push!.spec.patch
  return Object.keys(w?.columns ?? {})
}

/** An updated record's `updated_at` as it was pulled: any ISO 8601 form of the instant. */
const Seen = z.object({ updated_at: z.iso.datetime({ offset: true }).refine((s) => !s.startsWith('0000'), 'there is no year 0') })

const pick = (row: Row, keys: string[]) => Object.fromEntries(keys.filter((k) => k in row).map((k) => [k, row[k]]))

interface Valid {
  table: SyncTable
  op: Op
  id: string
  input: Record<string, unknown>
  /** The row's updated_at as the app last pulled it. */
  seen?: string
  /** For a create: its fields as an update (the patch schema's), applied when the row is there already. */
  retry?: Record<string, unknown>
}

/** A created record's fields the table's update takes, as its patch schema parses them; undefined when there are none
 * (or they are no valid update). Only the fields the record carries with a value: in a create, null is "not given"
 * (a fill-up's full-tank flag then follows its volume), and no create default is applied again. */
function asUpdate(t: SyncTable, record: Row): Record<string, unknown> | undefined {
  const fields = Object.fromEntries(Object.entries(pick(record, writable(t, 'update'))).filter(([, v]) => v !== null))
  if (!Object.keys(fields).length) return undefined
  const schema = t.push!.kind === 'expense' ? ExpensePatch : t.push!.spec.patch?.schema
  const parsed = schema?.safeParse(fields)
  return parsed?.success ? parsed.data as Record<string, unknown> : undefined
}

/** Validates every record with the routes' own schemas; every problem is listed, nothing is applied. */
export function validateBatch(batch: Batch, tables: SyncTable[]): { valid: Valid[]; problems: Problem[] } {
  const valid: Valid[] = []
  const problems: Problem[] = []
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
  for (const t of tables) {
    const changes = batch[t.name]
    if (!changes) continue
    const check = (op: Op, row: Row | string) => {
      const sent = typeof row === 'string' ? row : row.id
      if (typeof sent !== 'string' || !uuid.test(sent)) {
        problems.push({ table: t.name, id: sent, op, code: 'validation_failed', message: 'every record needs its uuid `id`' })
        return
      }
      // As Postgres writes it (and the routes' Uuid takes it): an id in upper case (Swift's) is the same record.
      const id = sent.toLowerCase()
      if (op === 'delete') return valid.push({ table: t, op, id, input: {} })
      const record = row as Row
      const changed = typeof record._changed === 'string' && record._changed
        ? new Set(record._changed.split(',').map((c) => c.trim()))
        : null
      const fields = pick(record, writable(t, op).filter((k) => op === 'create' || !changed || changed.has(k)))
      // The version the app pulled. WatermelonDB stamps its own clock there (a number, or '' in a text column): not read.
      const seen = op === 'update' && typeof record.updated_at === 'string' && record.updated_at ? record.updated_at : undefined
      const stamp = seen === undefined ? undefined : Seen.safeParse({ updated_at: seen })
      if (stamp && !stamp.success) {
        const message = '`updated_at` is the timestamp the record was pulled with (or none)'
        problems.push({ table: t.name, id, op, code: 'validation_failed', message, details: stamp.error.issues })
        return
      }
      // Only fields the API does not take changed (the client's bookkeeping): nothing to do.
      if (op === 'update' && !Object.keys(fields).length) return valid.push({ table: t, op, id, input: {}, seen })
      const schema = t.push!.kind === 'expense'
        ? (op === 'create' ? ExpenseCreate : ExpensePatch)
        : (op === 'create' ? t.push!.spec.create!.schema : t.push!.spec.patch!.schema)
      const parsed = schema.safeParse(op === 'create' ? { ...fields, id } : fields)
      if (!parsed.success) {
        problems.push({ table: t.name, id, op, code: 'validation_failed', message: 'not valid', details: parsed.error.issues })
      } else valid.push({ table: t, op, id, input: parsed.data as Record<string, unknown>, seen, retry: op === 'create' ? asUpdate(t, record) : undefined })
    }
    for (const row of changes.created) check('create', row)
    for (const row of changes.updated) check('update', row)
    for (const id of changes.deleted) check('delete', id)
  }
  return { valid, problems }
}

/** Applies validated changes in `tx`, in the tables' order (parents first) for creates and updates, children first for deletes. */
export async function applyBatch(
  tx: Tx,
  valid: Valid[],
  tables: SyncTable[],
  since: number | null,
  now: Date,
  refusals: Refusals,
): Promise<Result[]> {
  // A traveller's pushes take turns (two devices at once): each locks the rows it checks for conflicts,
  // and then, through the odometer triggers, the vehicles its fill-ups name, so two at once could each
  // hold a row the other waits for.
  await tx`select pg_advisory_xact_lock(hashtextextended('pam.sync_push/' || (select auth.uid())::text, 0))`
  const ctx = await moneyContext(tx, now)
  const results: Result[] = []
  const failed = (v: Valid, err: unknown): never => {
    const e = explainRefusal(err, refusals)
    if (e instanceof ApiError) {
      throw new ApiError(e.status, e.code, `${v.table.name} ${v.id} (${v.op}): ${e.message}`, {
        record: { table: v.table.name, id: v.id, op: v.op },
        ...(e.details === undefined ? {} : { details: e.details }),
      })
    }
    throw e
  }
  const serverRow = async (t: SyncTable, id: string) =>
    (await tx.unsafe(`select ${t.select} from ${t.table} ${t.alias} where ${t.alias}.id = $1::uuid`, [id]))[0] ?? null

  /** The changes among `mine` that conflict: rows changed on the server since the app saw them
   * (by the `updated_at` it saw, else by its last pull). Run before the batch writes anything.
   * The rows are locked until the commit: a push or a PATCH of one at the same time waits, then
   * sees this one's change (the lock reads a row's latest version, not the statement's snapshot). */
  const conflicting = async (t: SyncTable, mine: Valid[]) => {
    if (!mine.length || (since === null && !mine.some((v) => v.seen))) return new Set<string>()
    const rows = await tx.unsafe(
      `select r.id, r.updated_at is distinct from m.seen as changed_since_seen,
              ($2::text is not null and r.sync_xid >= $2::text::xid8
               and not coalesce(pg_visible_in_snapshot(r.sync_xid, (select p.snapshot from pam.sync_pulls p
                 where p.user_id = (select auth.uid()) and p.cursor = $2::text::xid8)), false)) as since_pull
       from ${t.table} r join unnest($1::uuid[], $3::timestamptz[]) as m(id, seen) on m.id = r.id
       order by r.id for no key update of r`,
      [mine.map((v) => v.id), since === null ? null : String(since), mine.map((v) => v.seen ?? null)] as never[],
    )
    const server = new Map(rows.map((r) => [r.id as string, r]))
    return new Set(mine.filter((v) => {
      const row = server.get(v.id)
      if (!row) return false // gone: an update finds nothing, a delete has nothing to do
      return v.seen ? row.changed_since_seen === true : row.since_pull === true
    }).map((v) => v.id))
  }

  /** The table's own update (domain rules, triggers); undefined when there is no such row. */
  const update = async (t: SyncTable, id: string, input: Record<string, unknown>): Promise<unknown> => {
    if (t.push!.kind === 'expense') return await updateExpense(tx, ctx, id, input)
    if (t.push!.update) return await t.push!.update(tx, id, input)
    const spec = t.push!.spec
    const prepared = spec.patch!.prepare ? await spec.patch!.prepare(tx, input, id) : input
    return await updateRow(tx, spec, id, prepared, spec.patch!.columns)
  }

  /** A create whose row, `before`, is there already (see the top of this file). The update runs in a
   * savepoint, which is rolled back, side effects and all, unless it is applied. */
  const retriedCreate = async (t: SyncTable, v: Valid, before: Row): Promise<Result> => {
    const result = (result: Result['result'], server?: Row | null): Result =>
      ({ table: t.name, id: v.id, op: 'create', result, ...(server === undefined ? {} : { server }) })
    // The same values as the row has (a replay of the first push): nothing to run.
    if (!v.retry || Object.entries(v.retry).every(([k, x]) => JSON.stringify(x) === JSON.stringify(before[k]))) {
      return result('unchanged')
    }
    const [{ as_created }] = await tx.unsafe(
      `select sync_xid = sync_created as as_created from ${t.table} where id = $1::uuid`,
      [v.id] as never[],
    )
    await tx.unsafe('savepoint pam_retried_create')
    let refused = false
    try {
      await update(t, v.id, v.retry)
    } catch (err) {
      // Content the row cannot take now (an odometer below readings recorded since, a trip since deleted): the
      // server's row stands. Anything else (the database gone) fails the push as before.
      const e = explainRefusal(err, refusals)
      if (!(e instanceof ApiError && e.status < 500) && !String((err as { code?: string }).code).startsWith('23')) throw err
      refused = true
    }
    const same = !refused && sameContent(before, await serverRow(t, v.id))
    const applied = as_created && !refused && !same
    if (!applied) await tx.unsafe('rollback to savepoint pam_retried_create')
    await tx.unsafe('release savepoint pam_retried_create')
    return applied ? result('applied') : same ? result('unchanged') : result('conflict', before)
  }

  const creates = valid.filter((v) => v.op === 'create')
  const updates = valid.filter((v) => v.op === 'update')
  const deletes = valid.filter((v) => v.op === 'delete')

  // Conflicts are judged before the batch writes: its own writes are none (a fill-up that moves its vehicle's
  // odometer on changes the vehicle's updated_at), and cannot hide another's change made before them.
  const conflicted = new Set<string>()
  for (const t of tables) {
    for (const id of await conflicting(t, valid.filter((v) => v.table === t && v.op !== 'create'))) conflicted.add(id)
  }

  // Creates of records deleted on the server since (a push whose answer was lost is sent again, and the record was
  // deleted meanwhile): a tombstone of yours and no row. The deletion stands; the record is not made again.
  const tombstones = new Set(
    creates.length
      ? (await tx.unsafe(
        `select table_name || ' ' || row_id as key from pam.sync_tombstones
         where user_id = (select auth.uid()) and row_id = any($1::uuid[])`,
        [creates.map((v) => v.id)] as never[],
      )).map((r) => r.key as string)
      : [],
  )
  const deleted = new Set<Valid>()
  for (const v of creates) {
    if (tombstones.has(`${v.table.name} ${v.id}`) && !(await serverRow(v.table, v.id))) deleted.add(v)
  }

  // Creates. Expenses in bulk: classification and reference checks in two or three queries for any number.
  for (const t of tables) {
    for (const v of creates) {
      if (v.table === t && deleted.has(v)) results.push({ table: t.name, id: v.id, op: 'create', result: 'conflict', server: null })
    }
    const mine = creates.filter((v) => v.table === t && !deleted.has(v))
    if (!mine.length) continue
    if (t.push!.kind === 'expense') {
      const prepared = await prepareExpenses(tx, ctx, mine.map((v) => v.input as ExpenseCreate))
      const problem = prepared.errors[0]
      if (problem) failed(mine[problem.index], invalidReference(problem.field, problem.message))
      let inserted: Expense[] = []
      try {
        inserted = await insertExpenses(tx, prepared.rows)
      } catch (err) {
        failed(mine[0], err)
      }
      const made = new Set(inserted.map((e) => e.id))
      if (inserted.length) await budgetImpact(tx, ctx, inserted)
      for (const v of mine) {
        if (made.has(v.id)) {
          results.push({ table: t.name, id: v.id, op: 'create', result: 'applied' })
          continue
        }
        const before = await serverRow(t, v.id)
        if (!before) failed(v, new ApiError(409, 'id_taken', 'this id is already used'))
        results.push(await retriedCreate(t, v, before!))
      }
    } else {
      const spec = t.push!.spec
      for (const v of mine) {
        try {
          const input = spec.create!.prepare ? await spec.create!.prepare(tx, v.input) : v.input
          // Not created: `row` is the one there already, in the same select list.
          const { row, created } = await insertRow(tx, spec, input, spec.create!.columns)
          if (created) results.push({ table: t.name, id: v.id, op: 'create', result: 'applied' })
          else results.push(await retriedCreate(t, v, row))
        } catch (err) {
          failed(v, err)
        }
      }
    }
  }

  for (const t of tables) {
    const mine = updates.filter((v) => v.table === t)
    for (const v of mine) {
      if (conflicted.has(v.id)) {
        results.push({ table: t.name, id: v.id, op: 'update', result: 'conflict', server: await serverRow(t, v.id) })
        continue
      }
      if (!Object.keys(v.input).length) {
        const exists = await serverRow(t, v.id)
        results.push(exists
          ? { table: t.name, id: v.id, op: 'update', result: 'unchanged' }
          : { table: t.name, id: v.id, op: 'update', result: 'conflict', server: null })
        continue
      }
      let row: unknown
      try {
        row = await update(t, v.id, v.input)
      } catch (err) {
        failed(v, err)
      }
      // No such row: deleted on the server (or never synced): the server's state stands.
      results.push(row
        ? { table: t.name, id: v.id, op: 'update', result: 'applied' }
        : { table: t.name, id: v.id, op: 'update', result: 'conflict', server: null })
    }
  }

  // Deletes, children first, one statement per table.
  for (const t of [...tables].reverse()) {
    const mine = deletes.filter((v) => v.table === t)
    if (!mine.length) continue
    const wanted = mine.filter((v) => !conflicted.has(v.id))
    let gone = new Set<string>()
    try {
      const rows = await tx.unsafe(`delete from ${t.table} where id = any($1::uuid[]) returning id`, [
        wanted.map((v) => v.id),
      ] as never[])
      gone = new Set(rows.map((r) => r.id as string))
    } catch (err) {
      failed(wanted[0], err)
    }
    for (const v of mine) {
      if (conflicted.has(v.id)) {
        results.push({ table: t.name, id: v.id, op: 'delete', result: 'conflict', server: await serverRow(t, v.id) })
      } else results.push({ table: t.name, id: v.id, op: 'delete', result: gone.has(v.id) ? 'applied' : 'unchanged' })
    }
  }
  return results
}

/** Two versions of a row (the API's shape) with the same content: only `updated_at` may differ. */
function sameContent(a: Row | null, b: Row | null): boolean {
  const content = (r: Row | null) => r && JSON.stringify({ ...r, updated_at: undefined })
  return content(a) === content(b)
}

export type { Problem }
