// GET /wins/summary: income, expenses, net, by category, daily average, top
// merchants and locations, and the change from the previous period. The
// aggregates come from one SQL query over the (user_id, date) indexes.
//
// Cached per user and request (field {period}:{date|current} of the hash expenses:{user_id}, 15 min)
// together with what they were computed for (time zone, currency, period), so a
// cached answer needs one cache round trip and no database: "current" entries
// are used only while today, in their time zone, is still in their period.
// Every expense or income write drops the user's cached summaries, and so does
// a change of preferences (time zone, home currency).
import type { App } from '../_shared/http.ts'
import { readThroughCache, route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { CachedAnswers } from '../_shared/cached-answers.ts'
import { BUILTIN_CATEGORIES } from './categories.ts'
import { json, moneyContext, type WinsOptions } from './common.ts'
import { canonical, divRound, fromCents, percentOf, toCents } from './money.ts'
import {
  type Bounds,
  calendarDate,
  daysCounted,
  localDate,
  type Period,
  periodOf,
  previousPeriodOf,
} from './periods.ts'

const Ranked = (key: 'merchant' | 'location') =>
  z.array(z.object({ [key]: z.string(), amount: z.string(), count: z.number() }))

const Summary = z.object({
  period: z.enum(['week', 'month', 'year']),
  start: z.string(),
  end: z.string(),
  today: z.string().openapi({ description: "today in the profile's time zone" }),
  timezone: z.string(),
  currency: z.string().openapi({ description: 'the profile currency; rows in other currencies are in other_currencies' }),
  income: z.string(),
  expenses: z.string(),
  net: z.string(),
  expense_count: z.number(),
  days_counted: z.number().openapi({ description: 'days of the period so far (all of a past period)' }),
  daily_average: z.string().openapi({ description: 'expenses / days_counted' }),
  by_category: z.array(z.object({
    category: z.string(),
    label: z.string(),
    amount: z.string(),
    count: z.number(),
    percent: z.number().nullable(),
  })),
  top_merchants: Ranked('merchant'),
  top_locations: Ranked('location'),
  other_currencies: z.array(z.object({ currency: z.string(), income: z.string(), expenses: z.string() })),
  previous: z.object({ start: z.string(), end: z.string(), income: z.string(), expenses: z.string(), net: z.string() }),
  change: z.object({
    income: z.string(),
    expenses: z.string(),
    net: z.string(),
    income_percent: z.number().nullable(),
    expenses_percent: z.number().nullable(),
  }),
}).openapi('Summary')

const getSummary = route({
  method: 'get',
  path: '/summary',
  auth: 'user',
  tags: ['wins: summary'],
  summary: 'Income and spending for the week, month or year containing a day (cached; x-cache says hit or miss)',
  request: {
    query: z.object({
      period: z.enum(['week', 'month', 'year']).default('month'),
      date: calendarDate().optional().openapi({ description: "a day in the period; default: today in the profile's time zone" }),
    }),
  },
  responses: { 200: { description: 'The summary', ...json(Summary) } },
})

/** What the SQL gives (and the cache keeps): nothing here depends on today. */
export interface Aggregates {
  expenses: string
  expense_count: number
  income: string
  previous_expenses: string
  previous_income: string
  by_category: { category: string; label: string | null; amount: string; count: number }[]
  top_merchants: { merchant: string; amount: string; count: number }[]
  top_locations: { location: string; amount: string; count: number }[]
  other_currencies: { currency: string; income: string; expenses: string }[]
}

export const TOP_N = 5

/** The summary query: one statement, one index range scan per table covering both periods. */
export const SUMMARY_SQL = `
with e as (
  select e.date, e.amount, e.currency, e.category, e.merchant, e.location
  from pam.expenses e
  where e.user_id = (select auth.uid()) and e.date between $1::date and $3::date
),
i as (
  select i.date, i.amount, i.currency
  from pam.income i
  where i.user_id = (select auth.uid()) and i.date between $1::date and $3::date
),
cur as (select * from e where e.date >= $2::date and e.currency = $4)
select
  (select coalesce(sum(amount), 0)::text from cur) as expenses,
  (select count(*)::int from cur) as expense_count,
  (select coalesce(sum(amount), 0)::text from e where date < $2::date and currency = $4) as previous_expenses,
  (select coalesce(sum(amount), 0)::text from i where date >= $2::date and currency = $4) as income,
  (select coalesce(sum(amount), 0)::text from i where date < $2::date and currency = $4) as previous_income,
  (select coalesce(json_agg(json_build_object('category', x.category, 'label', c.label, 'amount', x.amount::text,
                                              'count', x.n) order by x.amount desc, x.category), '[]')
     from (select category, sum(amount) as amount, count(*)::int as n from cur group by category) x
     left join pam.expense_categories c on c.user_id = (select auth.uid()) and c.slug = x.category) as by_category,
  (select coalesce(json_agg(json_build_object('merchant', x.name, 'amount', x.amount::text, 'count', x.n)
                            order by x.amount desc, x.name), '[]')
     from (select min(merchant) as name, sum(amount) as amount, count(*)::int as n from cur
           where merchant is not null group by lower(btrim(merchant))
           order by sum(amount) desc, min(merchant) limit ${TOP_N}) x) as top_merchants,
  (select coalesce(json_agg(json_build_object('location', x.name, 'amount', x.amount::text, 'count', x.n)
                            order by x.amount desc, x.name), '[]')
     from (select min(location) as name, sum(amount) as amount, count(*)::int as n from cur
           where location is not null group by lower(btrim(location))
           order by sum(amount) desc, min(location) limit ${TOP_N}) x) as top_locations,
  (select coalesce(json_agg(json_build_object('currency', u.currency, 'income', u.income::text,
                                              'expenses', u.expenses::text) order by u.currency), '[]')
     from (select currency::text as currency, sum(inc) as income, sum(exp) as expenses from (
             select currency, 0::numeric as inc, amount as exp from e where date >= $2::date and currency <> $4
             union all
             select currency, amount, 0 from i where date >= $2::date and currency <> $4) o
           group by currency) u) as other_currencies`

export async function loadAggregates(tx: Tx, cur: Bounds, prev: Bounds, currency: string): Promise<Aggregates> {
  const [row] = await tx.unsafe(SUMMARY_SQL, [prev.start, cur.start, cur.end, currency])
  return row as unknown as Aggregates
}

/** What the cache keeps: the aggregates and what they were computed for. */
interface CachedSummary {
  timeZone: string
  currency: string
  cur: Bounds
  prev: Bounds
  agg: Aggregates
}

const isWithin = (day: string, b: Bounds) => day >= b.start && day <= b.end

const builtinLabel = (slug: string) => BUILTIN_CATEGORIES.find((c) => c.slug === slug)?.label

export function registerSummaryRoutes(app: App, opts: WinsOptions) {
  const policy = CACHE_POLICIES.expense_summaries

  // A hit on the same cached aggregates on the same day gives the same answer.
  const answers = new CachedAnswers<CachedSummary>()

  app.openapi(getSummary, async (c) => {
    const { period, date } = c.req.valid('query')
    const now = opts.now()
    // The key comes from the verified token's sub: a hit can only be the caller's own.
    const key = policy.key(c.get('userId')!, `${period}:${date ?? 'current'}`)
    const { value: summary, status } = await readThroughCache<CachedSummary>(
      c,
      key,
      policy.ttl,
      () =>
        c.var.postgres.transaction(async (tx) => {
          const ctx = await moneyContext(tx, now)
          const day = date ?? ctx.today
          const cur = periodOf(period as Period, day)
          const prev = previousPeriodOf(period as Period, day)
          const agg = await loadAggregates(tx, cur, prev, ctx.currency)
          return { timeZone: ctx.timeZone, currency: ctx.currency, cur, prev, agg }
        }),
      // "This period" moves on with the calendar in the user's time zone.
      (s) => date !== undefined || isWithin(localDate(now, s.timeZone), s.cur),
      answers.parser(key),
    )
    c.set('cacheStatus', status)
    const today = localDate(now, summary.timeZone)
    const body = answers.answer(key, summary, today, () => JSON.stringify(summaryAnswer(period as Period, summary, today)))
    return c.body(body, 200, { 'content-type': 'application/json' }) as never // the answer, as JSON text
  })
}

/** The answer for `period` from its cached aggregates, as of `today` in the profile's time zone. */
function summaryAnswer(period: Period, summary: CachedSummary, today: string): z.infer<typeof Summary> {
  const { agg, cur, prev } = summary
  const expenses = toCents(agg.expenses)
  const income = toCents(agg.income)
  const prevExpenses = toCents(agg.previous_expenses)
  const prevIncome = toCents(agg.previous_income)
  const days = daysCounted(cur, today)
  return {
    period,
    start: cur.start,
    end: cur.end,
    today,
    timezone: summary.timeZone,
    currency: summary.currency,
    income: fromCents(income),
    expenses: fromCents(expenses),
    net: fromCents(income - expenses),
    expense_count: agg.expense_count,
    days_counted: days,
    daily_average: fromCents(days > 0 ? divRound(expenses, BigInt(days)) : 0n),
    by_category: agg.by_category.map((b) => ({
      category: b.category,
      label: builtinLabel(b.category) ?? b.label ?? b.category,
      amount: b.amount,
      count: b.count,
      percent: percentOf(toCents(b.amount), expenses),
    })),
    top_merchants: agg.top_merchants,
    top_locations: agg.top_locations,
    other_currencies: agg.other_currencies.map((o) => ({
      currency: o.currency,
      income: canonical(o.income),
      expenses: canonical(o.expenses),
    })),
    previous: {
      start: prev.start,
      end: prev.end,
      income: fromCents(prevIncome),
      expenses: fromCents(prevExpenses),
      net: fromCents(prevIncome - prevExpenses),
    },
    change: {
      income: fromCents(income - prevIncome),
      expenses: fromCents(expenses - prevExpenses),
      net: fromCents(income - expenses - (prevIncome - prevExpenses)),
      income_percent: percentOf(income - prevIncome, prevIncome),
      expenses_percent: percentOf(expenses - prevExpenses, prevExpenses),
    },
  }
}
