// /wins/budgets: one budget per category and period (weekly, monthly,
// yearly), each answered with where it stands in its current period.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { BudgetStatus, budgetStatuses } from './budget-status.ts'
import { CategorySlug, isBuiltinCategory } from './categories.ts'
import { body, errorOf, invalidReference, json, moneyContext, type WinsOptions, writeTransaction } from './common.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import type { AppContext } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { fromCents, MAX_TARGET, money, toCents } from './money.ts'
import { budgetPeriodUnit, calendarDate, periodOf } from './periods.ts'
import type { MoneyContext } from './common.ts'

/** The home screen shows this month's budgets (GET /you/dashboard). */
export const dropHomeScreen = async (c: AppContext) =>
  void await c.var.cache.invalidate(c.var.userId!, CACHE_POLICIES.dashboard.key(c.var.userId!))

const BudgetPeriod = z.enum(['weekly', 'monthly', 'yearly'])
const CategoryParams = z.object({ category: CategorySlug })

const BudgetPut = z.object({
  amount: money(MAX_TARGET),
  period: BudgetPeriod.default('monthly'),
  start_date: calendarDate().optional()
    .openapi({ description: 'first day the budget applies; default: kept when replacing, else the start of the current period' }),
  rollover: z.boolean().default(false).openapi({ description: "carry the previous period's remainder (or overspend) into the current one" }),
}).strict().openapi('BudgetPut')

const Totals = z.array(z.object({
  period: BudgetPeriod,
  available: z.string(),
  spent: z.string(),
  remaining: z.string(),
}))

const tags = ['wins: budgets']

const putBudget = route({
  method: 'put',
  path: '/budgets/{category}',
  auth: 'user',
  tags,
  summary: 'Create or replace the budget for a category and period',
  request: { params: CategoryParams, ...body(BudgetPut) },
  responses: {
    200: { description: 'Replaced', ...json(z.object({ budget: BudgetStatus })) },
    201: { description: 'Created', ...json(z.object({ budget: BudgetStatus })) },
  },
})

const listBudgets = route({
  method: 'get',
  path: '/budgets',
  auth: 'user',
  tags,
  summary: 'Every budget with spent, remaining, percent and projected spend for its current period',
  request: { query: z.object({ period: BudgetPeriod.optional() }) },
  responses: { 200: { description: 'Budgets and totals per period', ...json(z.object({ budgets: z.array(BudgetStatus), totals: Totals })) } },
})

const deleteBudget = route({
  method: 'delete',
  path: '/budgets/{category}',
  auth: 'user',
  tags,
  summary: "Delete a category's budget (name the period when it has several)",
  request: { params: CategoryParams, query: z.object({ period: BudgetPeriod.optional() }) },
  responses: { 204: { description: 'Deleted' }, 404: errorOf('No such budget') },
})

export type BudgetInput = z.infer<typeof BudgetPut>

/** Creates or replaces `category`'s budget for its period (the route's and PAM's); where it now stands. */
export async function setBudget(tx: Tx, ctx: MoneyContext, category: string, input: BudgetInput) {
  if (!isBuiltinCategory(category)) {
    const [own] = await tx`select 1 from pam.expense_categories where slug = ${category}`
    if (!own) throw invalidReference('category', `unknown category "${category}"`)
  }
  const defaultStart = periodOf(budgetPeriodUnit[input.period], ctx.today).start
  const [row] = await tx`
    insert into pam.budgets (category, period, amount, start_date, rollover)
    values (${category}, ${input.period}, ${input.amount}::numeric,
            ${input.start_date ?? defaultStart}::date, ${input.rollover})
    on conflict (user_id, category, period) do update set
      amount = excluded.amount,
      rollover = excluded.rollover,
      start_date = coalesce(${input.start_date ?? null}::date, pam.budgets.start_date)
    returning id, (xmax = 0) as created`
  const [budget] = (await budgetStatuses(tx, ctx, { categories: [category], period: input.period }))
    .filter((b) => b.id === row.id)
  return { budget, created: row.created as boolean }
}

export function registerBudgetRoutes(app: App, opts: WinsOptions) {
  app.openapi(putBudget, async (c) => {
    const { category } = c.req.valid('param')
    const input = c.req.valid('json')
    const { budget, created } = await writeTransaction(c, async (tx) => setBudget(tx, await moneyContext(tx, opts.now()), category, input))
    await dropHomeScreen(c)
    return c.json({ budget }, created ? 201 : 200)
  })

  app.openapi(listBudgets, async (c) => {
    const { period } = c.req.valid('query')
    const budgets = await c.var.postgres.transaction(async (tx) =>
      budgetStatuses(tx, await moneyContext(tx, opts.now()), { period })
    )
    const totals = BudgetPeriod.options.flatMap((p) => {
      const of = budgets.filter((b) => b.period === p)
      if (!of.length) return []
      const sum = (f: (b: BudgetStatus) => string) => of.reduce((acc, b) => acc + toCents(f(b)), 0n)
      const available = sum((b) => b.current.available)
      const spent = sum((b) => b.current.spent)
      return [{ period: p, available: fromCents(available), spent: fromCents(spent), remaining: fromCents(available - spent) }]
    })
    return c.json({ budgets, totals }, 200)
  })

  app.openapi(deleteBudget, async (c) => {
    const { category } = c.req.valid('param')
    const { period } = c.req.valid('query')
    await c.var.postgres.transaction(async (tx) => {
      const rows = await tx`
        select id, period from pam.budgets
        where category = ${category} and (${period ?? null}::text is null or period = ${period ?? null})`
      if (!rows.length) throw notFound('budget')
      if (rows.length > 1) {
        throw new ApiError(400, 'period_required', `"${category}" has ${rows.length} budgets: name one with ?period=`, {
          periods: rows.map((r) => r.period),
        })
      }
      await tx`delete from pam.budgets where id = ${rows[0].id}`
    })
    await dropHomeScreen(c)
    return c.body(null, 204)
  })
}
