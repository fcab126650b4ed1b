// Where each budget stands in its current period (spent, remaining, percent,
// projection), computed in one query, and the 80% / 100% alerts: at most one
// notification per threshold per budget period, written in the caller's
// transaction (so an expense and the alert it causes commit together).
import type { Tx } from '../_shared/db.ts'
import { z } from '../_shared/http.ts'
import { BUILTIN_CATEGORIES } from './categories.ts'
import { isoSql, type MoneyContext, params } from './common.ts'
import { divRound, fromCents, percentOf, toCents } from './money.ts'
import { budgetPeriodUnit, type BudgetPeriod, daysCounted, periodOf, previousPeriodOf } from './periods.ts'

export const BudgetStatus = z.object({
  id: z.string(),
  category: z.string(),
  label: z.string(),
  period: z.enum(['weekly', 'monthly', 'yearly']),
  amount: z.string(),
  rollover: z.boolean(),
  start_date: z.string(),
  active: z.boolean().openapi({ description: 'false while start_date is in the future' }),
  currency: z.string(),
  current: z.object({
    start: z.string(),
    end: z.string(),
    carried_over: z.string().openapi({ description: "previous period's remainder (negative: overspend), when rollover is on" }),
    available: z.string().openapi({ description: 'amount + carried_over, at least 0' }),
    spent: z.string(),
    remaining: z.string(),
    percent: z.number().nullable(),
    projected: z.string().openapi({ description: 'spend by the end of the period at the current daily rate' }),
    days_elapsed: z.number(),
    days_in_period: z.number(),
    status: z.enum(['ok', 'warning', 'over']),
  }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('BudgetStatus')
export type BudgetStatus = z.infer<typeof BudgetStatus>

interface Row {
  id: string
  category: string
  period: BudgetPeriod
  amount: string
  rollover: boolean
  start_date: string
  own_label: string | null
  spent: string
  previous_spent: string | null
  created_at: string
  updated_at: string
}

const labelOf = (slug: string, own: string | null) =>
  BUILTIN_CATEGORIES.find((c) => c.slug === slug)?.label ?? own ?? slug

/** Budgets (all, or those of some categories) with their current period. */
export async function budgetStatuses(
  tx: Tx,
  ctx: MoneyContext,
  filter: { categories?: string[]; period?: BudgetPeriod } = {},
): Promise<BudgetStatus[]> {
  const bounds = Object.fromEntries(
    (Object.keys(budgetPeriodUnit) as BudgetPeriod[]).map((p) => {
      const cur = periodOf(budgetPeriodUnit[p], ctx.today)
      const prev = previousPeriodOf(budgetPeriodUnit[p], ctx.today)
      return [p, { ...cur, prev_start: prev.start, prev_end: prev.end }]
    }),
  ) as Record<BudgetPeriod, { start: string; end: string; days: number; prev_start: string; prev_end: string }>
  const { values, p } = params()
  // An object parameter: postgres.js serializes it for the jsonb cast.
  const b = p(bounds)
  const currency = p(ctx.currency)
  const spentBetween = (from: string, to: string) => `
    coalesce((select sum(e.amount) from pam.expenses e
              where e.user_id = b.user_id and e.category = b.category and e.currency = ${currency}
                and e.date between (x.bounds ->> '${from}')::date and (x.bounds ->> '${to}')::date), 0)::text`
  const rows = await tx.unsafe<Row[]>(
    `select b.id, b.category, b.period, b.amount::text as amount, b.rollover, b.start_date::text as start_date,
            c.label as own_label,
            ${spentBetween('start', 'end')} as spent,
            case when b.rollover and (x.bounds ->> 'prev_end')::date >= b.start_date
                 then ${spentBetween('prev_start', 'prev_end')} end as previous_spent,
            ${isoSql('b.created_at')} as created_at, ${isoSql('b.updated_at')} as updated_at
     from pam.budgets b
     cross join lateral (select ${b}::jsonb -> b.period as bounds) x
     left join pam.expense_categories c on c.user_id = b.user_id and c.slug = b.category
     where b.user_id = (select auth.uid())
       ${filter.categories ? `and b.category = any(${p(filter.categories)}::text[])` : ''}
       ${filter.period ? `and b.period = ${p(filter.period)}` : ''}
     order by b.category, array_position(array['weekly', 'monthly', 'yearly'], b.period)`,
    values as never[],
  )
  return rows.map((r) => {
    const bnd = bounds[r.period]
    const amount = toCents(r.amount)
    const spent = toCents(r.spent)
    const active = r.start_date <= ctx.today
    const carried = active && r.previous_spent !== null ? amount - toCents(r.previous_spent) : 0n
    const available = amount + carried > 0n ? amount + carried : 0n
    const elapsed = daysCounted(bnd, ctx.today)
    const projected = elapsed > 0 ? divRound(spent * BigInt(bnd.days), BigInt(elapsed)) : spent
    const reached = thresholdReached(spent, available)
    return {
      id: r.id,
      category: r.category,
      label: labelOf(r.category, r.own_label),
      period: r.period,
      amount: r.amount,
      rollover: r.rollover,
      start_date: r.start_date,
      active,
      currency: ctx.currency,
      current: {
        start: bnd.start,
        end: bnd.end,
        carried_over: fromCents(carried),
        available: fromCents(available),
        spent: fromCents(spent),
        remaining: fromCents(available - spent),
        percent: percentOf(spent, available),
        projected: fromCents(projected),
        days_elapsed: elapsed,
        days_in_period: bnd.days,
        status: reached === 100 ? 'over' : reached === 80 ? 'warning' : 'ok',
      },
      created_at: r.created_at,
      updated_at: r.updated_at,
    }
  })
}

/** The highest alert threshold spending has reached (nothing spent reaches nothing). */
export function thresholdReached(spent: bigint, available: bigint): 80 | 100 | null {
  if (spent <= 0n) return null
  if (spent * 100n >= available * 100n) return 100
  if (spent * 100n >= available * 80n) return 80
  return null
}

export const BudgetAlert = z.object({
  threshold: z.number().openapi({ description: '80 or 100 (% of the available amount)' }),
  notified: z.boolean().openapi({ description: 'true when this write created the notification' }),
}).nullable()

const periodWords: Record<BudgetPeriod, string> = { weekly: 'this week', monthly: 'this month', yearly: 'this year' }

/** Creates the alert notification for each budget past a threshold, once per
 * threshold per period; reaching 100% first means no 80% alert afterwards. */
export async function notifyBudgetAlerts(
  tx: Tx,
  ctx: MoneyContext,
  statuses: BudgetStatus[],
): Promise<Map<string, z.infer<typeof BudgetAlert>>> {
  const alerts = new Map<string, z.infer<typeof BudgetAlert>>()
  for (const s of statuses) {
    const threshold = s.active ? thresholdReached(toCents(s.current.spent), toCents(s.current.available)) : null
    if (!threshold) {
      alerts.set(s.id, null)
      continue
    }
    if (!ctx.budgetAlerts) {
      alerts.set(s.id, { threshold, notified: false })
      continue
    }
    const key = (t: number) => `budget:${s.id}:${s.current.start}:${t}`
    const title = threshold === 100
      ? `${s.label} budget used up`
      : `${s.label} budget at ${s.current.percent}%`
    const text = `You have spent ${s.current.spent} ${ctx.currency} of ${s.current.available} ${ctx.currency} ` +
      `on ${s.label.toLowerCase()} ${periodWords[s.period]} (${s.current.start} to ${s.current.end}).`
    const data = {
      budget_id: s.id,
      category: s.category,
      period: s.period,
      period_start: s.current.start,
      period_end: s.current.end,
      threshold,
      spent: s.current.spent,
      available: s.current.available,
      percent: s.current.percent,
      currency: ctx.currency,
    }
    const created = await tx`
      insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
      select (select auth.uid()), 'budget_threshold', ${title}, ${text}, ${tx.json(data)}::jsonb, ${key(threshold)}
      where ${threshold === 100} or not exists (
        select 1 from pam.notification_keys k
        where k.user_id = (select auth.uid()) and k.dedupe_key = ${key(100)})
      on conflict (user_id, dedupe_key) do nothing
      returning id`
    alerts.set(s.id, { threshold, notified: created.length > 0 })
  }
  return alerts
}

export const BudgetImpact = BudgetStatus.extend({
  affected: z.boolean().openapi({ description: "the write changed this budget's current period (the row is, or was, in it)" }),
  alert: BudgetAlert,
}).openapi('BudgetImpact')
export type BudgetImpact = z.infer<typeof BudgetImpact>

/** After expenses were written: the budgets of their categories, where they
 * stand now, and the alerts that crossing 80% / 100% created. */
export async function budgetImpact(
  tx: Tx,
  ctx: MoneyContext,
  touched: { category: string; date: string; currency: string }[],
): Promise<BudgetImpact[]> {
  const categories = [...new Set(touched.map((t) => t.category))]
  if (!categories.length) return []
  // Serialize concurrent writes to the same budgets: a second transaction waits
  // here until the first commits, and its status query (a new snapshot under
  // READ COMMITTED) then sees both expenses, so a crossing is never missed.
  await tx`
    select 1 from pam.budgets b
    where b.user_id = (select auth.uid()) and b.category = any(${categories}::text[])
    order by b.id
    for no key update`
  const statuses = await budgetStatuses(tx, ctx, { categories })
  const alerts = await notifyBudgetAlerts(tx, ctx, statuses)
  return statuses.map((s) => ({
    ...s,
    affected: touched.some((t) =>
      t.category === s.category && t.currency === ctx.currency && t.date >= s.current.start && t.date <= s.current.end
    ),
    alert: alerts.get(s.id) ?? null,
  }))
}
