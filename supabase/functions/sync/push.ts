// POST /sync/push: a batch of offline changes applied in one transaction,
// all or nothing, through the same domain code as the routes: the resource
// declarations (validation, "today" and currency defaults, the database's
// refusals as clear errors), the expense path (classification, references,
// budget impact and alerts), the odometer rules (database triggers).
//
// Conflicts: with `last_pulled_at`, a row changed on the server since that
// pull keeps the server's version — the pushed update or delete of it is not
// applied — and the result says so, with the row the server kept. Without
// it, updates apply as they come (last writer wins).
import { ApiError } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { explainRefusal, insertRow, type Refusals, updateRow } from '../_shared/resource.ts'
import { moneyContext } from '../wins/common.ts'
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
  const w = op === 'create' ? t.push!.spec.create : t.push!.spec.patch
  return Object.keys(w?.columns ?? {})
}

const pick = (row: Row, keys: string[]) => Object.fromEntries(keys.filter((k) => k in row).map((k) => [k, row[k]]))

interface Valid {
  table: SyncTable
  op: Op
  id: string
  input: Record<string, unknown>
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
      const id = typeof row === 'string' ? row : row.id
      if (typeof id !== 'string' || !uuid.test(id)) {
        problems.push({ table: t.name, id, op, code: 'validation_failed', message: 'every record needs its uuid `id`' })
        return
      }
      if (op === 'delete') return valid.push({ table: t, op, id, input: {} })
      const fields = pick(row as Row, writable(t, op))
      // Only fields the API does not take changed (the client's bookkeeping): nothing to do.
      if (op === 'update' && !Object.keys(fields).length) return valid.push({ table: t, op, id, input: {} })
      const schema = t.push!.kind === 'expense'
        ? (op === 'create' ? ExpenseCreate : ExpensePatch)
        : (op === 'create' ? t.push!.spec.create!.schema : t.push!.spec.patch!.schema)
      const parsed = schema.safeParse(op === 'create' ? { ...fields, id } : fields)
      if (!parsed.success) {
        problems.push({ table: t.name, id, op, code: 'validation_failed', message: 'not valid', details: parsed.error.issues })
      } else valid.push({ table: t, op, id, input: parsed.data as Record<string, unknown> })
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

  /** Ids among `ids` changed on the server since the client's last pull (not by this batch). */
  const changedSince = async (t: SyncTable, ids: string[]) => {
    if (since === null || !ids.length) return new Set<string>()
    const rows = await tx.unsafe(`select id from ${t.table} where id = any($1::uuid[]) and sync_xid >= $2::text::xid8
         and sync_xid <> pg_current_xact_id()`, [
      ids,
      String(since),
    ] as never[])
    return new Set(rows.map((r) => r.id as string))
  }

  const creates = valid.filter((v) => v.op === 'create')
  const updates = valid.filter((v) => v.op === 'update')
  const deletes = valid.filter((v) => v.op === 'delete')

  // Creates. Expenses in bulk: classification and reference checks in two or three queries for any number.
  for (const t of tables) {
    const mine = creates.filter((v) => v.table === t)
    if (!mine.length) continue
    if (t.push!.kind === 'expense') {
      const prepared = await prepareExpenses(tx, ctx, mine.map((v) => v.input as ExpenseCreate))
      const problem = prepared.errors[0]
      if (problem) failed(mine[problem.index], new ApiError(400, `unknown_${problem.field.replace('_id', '')}`, problem.message))
      let inserted: Expense[] = []
      try {
        inserted = await insertExpenses(tx, prepared.rows)
      } catch (err) {
        failed(mine[0], err)
      }
      const made = new Set(inserted.map((e) => e.id))
      for (const v of mine) {
        if (!made.has(v.id) && !(await serverRow(t, v.id))) failed(v, new ApiError(409, 'id_taken', 'this id is already used'))
        results.push({ table: t.name, id: v.id, op: 'create', result: made.has(v.id) ? 'applied' : 'unchanged' })
      }
      if (inserted.length) await budgetImpact(tx, ctx, inserted)
    } else {
      const spec = t.push!.spec
      for (const v of mine) {
        try {
          const input = spec.create!.prepare ? await spec.create!.prepare(tx, v.input) : v.input
          const { created } = await insertRow(tx, spec, input, spec.create!.columns)
          results.push({ table: t.name, id: v.id, op: 'create', result: created ? 'applied' : 'unchanged' })
        } catch (err) {
          failed(v, err)
        }
      }
    }
  }

  for (const t of tables) {
    const mine = updates.filter((v) => v.table === t)
    const conflicted = await changedSince(t, mine.map((v) => v.id))
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
        if (t.push!.kind === 'expense') row = await updateExpense(tx, ctx, v.id, v.input)
        else {
          const spec = t.push!.spec
          const input = spec.patch!.prepare ? await spec.patch!.prepare(tx, v.input) : v.input
          row = await updateRow(tx, spec, v.id, input, spec.patch!.columns)
        }
      } catch (err) {
        failed(v, err)
      }
      // No such row: deleted on the server (or never synced): the server's state stands.
      results.push(row
        ? { table: t.name, id: v.id, op: 'update', result: 'applied' }
        : { table: t.name, id: v.id, op: 'update', result: 'conflict', server: null })
    }
  }

  for (const t of [...tables].reverse()) {
    const mine = deletes.filter((v) => v.table === t)
    const conflicted = await changedSince(t, mine.map((v) => v.id))
    for (const v of mine) {
      if (conflicted.has(v.id)) {
        results.push({ table: t.name, id: v.id, op: 'delete', result: 'conflict', server: await serverRow(t, v.id) })
        continue
      }
      try {
        const gone = await tx.unsafe(`delete from ${t.table} where id = $1::uuid returning id`, [v.id])
        results.push({ table: t.name, id: v.id, op: 'delete', result: gone.length ? 'applied' : 'unchanged' })
      } catch (err) {
        failed(v, err)
      }
    }
  }
  return results
}

export type { Problem }
