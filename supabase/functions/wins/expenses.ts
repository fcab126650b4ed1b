// /wins/expenses: create (classified when no category is given, answered with
// the budget impact) and update here; list (filters, keyset pages newest
// first), read and delete declared as a resource. Every write drops the user's cached summaries after commit.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { notFound } from '../_shared/errors.ts'
import { singleLineText } from '../_shared/text.ts'
import { BudgetImpact, budgetImpact } from './budget-status.ts'
import { CategorySlug, isBuiltinCategory } from './categories.ts'
import {
  body,
  errorOf,
  IdParams,
  invalidateSummaries,
  invalidReference,
  json,
  likePattern,
  moneyContext,
  type MoneyContext,
  params,
  Uuid,
  WINS_REFUSALS,
  type WinsOptions,
  writeTransaction,
} from './common.ts'
import { idTaken, latestDayFirst, registerResource } from '../_shared/resource.ts'
import {
  Expense,
  EXPENSE_COLUMNS,
  ExpenseCreate,
  ExpensePatch,
  insertExpenses,
  prepareExpenses,
} from './expense-model.ts'
import { calendarDate } from './periods.ts'
import { ownObjects, removeLeftObjects } from '../_shared/storage.ts'
import type { AppContext } from '../_shared/http.ts'

export const expenseFilterFields = {
  from: calendarDate().optional().openapi({ description: 'first day (inclusive)' }),
  to: calendarDate().optional().openapi({ description: 'last day (inclusive)' }),
  category: CategorySlug.optional(),
  vehicle_id: Uuid.optional(),
  trip_id: Uuid.optional(),
  hustle_id: Uuid.optional(),
  tag: singleLineText({ max: 40 }).optional(),
  q: singleLineText({ max: 100 }).optional()
    .openapi({ description: 'text in the description, merchant or location (case-insensitive)' }),
}
export const fromBeforeTo: [(f: { from?: string; to?: string }) => boolean, { message: string; path: string[] }] = [
  (f) => !f.from || !f.to || f.from <= f.to,
  { message: 'from is after to', path: ['from'] },
]
export const ExpenseFilters = z.object(expenseFilterFields).refine(...fromBeforeTo)
export type ExpenseFilters = z.infer<typeof ExpenseFilters>

/** SQL conditions for the filters (alias e), the caller's own rows. */
export function expenseWhere(f: ExpenseFilters, p: (v: unknown) => string): string {
  return ['e.user_id = (select auth.uid())', ...expenseConditions(f, p)].join(' and ')
}

function expenseConditions(f: ExpenseFilters, p: (v: unknown) => string): string[] {
  const where: string[] = []
  if (f.from) where.push(`e.date >= ${p(f.from)}::date`)
  if (f.to) where.push(`e.date <= ${p(f.to)}::date`)
  if (f.category) where.push(`e.category = ${p(f.category)}`)
  if (f.vehicle_id) where.push(`e.vehicle_id = ${p(f.vehicle_id)}::uuid`)
  if (f.trip_id) where.push(`e.trip_id = ${p(f.trip_id)}::uuid`)
  if (f.hustle_id) where.push(`e.hustle_id = ${p(f.hustle_id)}::uuid`)
  if (f.tag) where.push(`e.tags @> array[${p(f.tag)}::text]`)
  if (f.q) {
    const q = p(likePattern(f.q))
    where.push(`(e.description ilike ${q} or e.merchant ilike ${q} or e.location ilike ${q})`)
  }
  return where
}

const Classification = z.object({
  source: z.enum(['learned', 'rule', 'default']),
  matched: z.string().nullable().openapi({ description: 'the merchant or keyword that matched, or the learned merchant key' }),
}).nullable()

const ExpenseWritten = z.object({
  expense: Expense,
  category_inferred: z.boolean(),
  classification: Classification,
  budgets: z.array(BudgetImpact).openapi({ description: "the expense category's budgets, in their current period" }),
})

const tags = ['wins: expenses']

const createExpense = route({
  method: 'post',
  path: '/expenses',
  auth: 'user',
  tags,
  summary: 'Record an expense (category inferred when absent); answers with the budget impact',
  request: body(ExpenseCreate),
  responses: {
    201: { description: 'Recorded', ...json(ExpenseWritten) },
    200: { description: 'Already recorded with this client-generated id: the existing expense, unchanged', ...json(ExpenseWritten) },
    409: errorOf('id_taken: the client-generated id is already used'),
  },
})

const patchExpense = route({
  method: 'patch',
  path: '/expenses/{id}',
  auth: 'user',
  tags,
  summary: 'Change an expense (null clears optional fields); answers with the budget impact',
  request: { params: IdParams, ...body(ExpensePatch) },
  responses: {
    200: { description: 'Updated', ...json(ExpenseWritten.omit({ category_inferred: true, classification: true })) },
    404: errorOf('No such expense'),
  },
})

/** SQL type of each writable column, for casts in hand-built updates. */
export const EXPENSE_COLUMN_TYPES: Record<string, string> = {
  amount: 'numeric', currency: 'text', category: 'text', description: 'text', merchant: 'text', date: 'date',
  location: 'text', latitude: 'double precision', longitude: 'double precision', payment_method: 'text',
  tags: 'text[]', receipt_url: 'text', receipt_path: 'text', vehicle_id: 'uuid', trip_id: 'uuid', hustle_id: 'uuid', fuel_type: 'text',
  fuel_volume: 'numeric', fuel_price_per_unit: 'numeric', odometer: 'integer', fuel_full_tank: 'boolean',
}

async function checkReferences(tx: Tx, patch: { category?: string; receipt_path?: string | null }) {
  if (patch.category && !isBuiltinCategory(patch.category)) {
    const [own] = await tx`select 1 from pam.expense_categories where slug = ${patch.category}`
    if (!own) throw invalidReference('category', `unknown category "${patch.category}"`)
  }
  if (patch.receipt_path && !(await ownObjects(tx, 'receipts', [patch.receipt_path])).has(patch.receipt_path)) {
    throw invalidReference('receipt_path', 'no such receipt of yours: upload it to the receipts bucket first')
  }
}

/** The caller's expense with a client-generated id that was created before, as a create answers it. */
async function existingExpense(tx: Tx, ctx: MoneyContext, id: string) {
  const [expense] = await tx.unsafe<Expense[]>(`select ${EXPENSE_COLUMNS} from pam.expenses e where e.id = $1`, [id])
  if (!expense) throw idTaken()
  return { expense, category_inferred: false, classification: null, budgets: await budgetImpact(tx, ctx, [expense]) }
}

/** Changes an expense (the caller's own, through RLS) and answers its budget impact; undefined when there is none. */
export async function updateExpense(tx: Tx, ctx: MoneyContext, id: string, patch: z.infer<typeof ExpensePatch>) {
  const [before] = await tx`
    select category, date::text as date, currency::text as currency from pam.expenses where id = ${id} for update`
  if (!before) return undefined
  await checkReferences(tx, patch)
  const { values, p } = params()
  const sets = Object.entries(patch).map(([k, v]) => `${k} = ${p(v)}::${EXPENSE_COLUMN_TYPES[k]}`)
  // A category the user picks is their choice, and teaches future classification
  // (the same category sent again, as a synced whole record does, is no new choice).
  if (patch.category && patch.category !== before.category) sets.push(`category_source = 'user'`)
  // A fill-up's full-tank flag follows its volume unless given.
  if ('fuel_volume' in patch && !('fuel_full_tank' in patch)) {
    sets.push(patch.fuel_volume === null ? 'fuel_full_tank = null' : 'fuel_full_tank = coalesce(e.fuel_full_tank, true)')
  }
  // A fill-up's new amount alone: its price per litre follows (Wheels' trip estimates read it).
  if ('amount' in patch && !('fuel_volume' in patch) && !('fuel_price_per_unit' in patch)) {
    sets.push(`fuel_price_per_unit = case when e.fuel_volume > 0 and e.fuel_price_per_unit is not null
      then round(${p(patch.amount)}::numeric / e.fuel_volume, 3) else e.fuel_price_per_unit end`)
  }
  const [expense] = await tx.unsafe<Expense[]>(
    `update pam.expenses e set ${sets.join(', ')} where e.id = ${p(id)}::uuid returning ${EXPENSE_COLUMNS}`,
    values as never[],
  )
  const budgets = await budgetImpact(tx, ctx, [before as { category: string; date: string; currency: string }, expense])
  return { expense, budgets }
}

export function registerExpenseRoutes(app: App, opts: WinsOptions) {
  app.openapi(createExpense, async (c) => {
    const input = c.req.valid('json')
    const result = await writeTransaction(c, async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const prepared = await prepareExpenses(tx, ctx, [input])
      const problem = prepared.errors[0]
      if (problem) throw invalidReference(problem.field, problem.message)
      const [expense] = await insertExpenses(tx, prepared.rows)
      if (!expense) return { created: false, body: await existingExpense(tx, ctx, input.id!) }
      const cls = prepared.classifications[0]
      return {
        created: true,
        body: {
          expense,
          category_inferred: cls !== null,
          classification: cls && { source: cls.source, matched: cls.matched },
          budgets: await budgetImpact(tx, ctx, [expense]),
        },
      }
    })
    if (result.created) await invalidateSummaries(c)
    return c.json(result.body, result.created ? 201 : 200)
  })

  app.openapi(patchExpense, async (c) => {
    const { id } = c.req.valid('param')
    const patch = c.req.valid('json')
    const result = await writeTransaction(c, async (tx) => {
      const updated = await updateExpense(tx, await moneyContext(tx, opts.now()), id, patch)
      if (!updated) throw notFound('expense')
      return updated
    })
    await invalidateSummaries(c)
    // A replaced or cleared receipt is removed from storage.
    if ('receipt_path' in patch) await removeLeftObjects(c.var.config, c.var.userId!)
    return c.json(result, 200)
  })


  registerResource(app, {
    one: 'expense',
    many: 'expenses',
    noun: 'expense',
    path: '/expenses',
    table: 'pam.expenses',
    alias: 'e',
    tags,
    schema: Expense,
    select: EXPENSE_COLUMNS,
    order: latestDayFirst('e'),
    listSummary: 'Expenses, newest first, filtered, one page at a time',
    filters: { fields: expenseFilterFields, where: expenseConditions, check: fromBeforeTo as never },
    without: ['create', 'patch'],
    refusals: WINS_REFUSALS,
    // A deleted expense's receipt goes with it.
    afterWrite: async (c: AppContext) => {
      await invalidateSummaries(c)
      await removeLeftObjects(c.var.config, c.var.userId!)
    },
  })
}
