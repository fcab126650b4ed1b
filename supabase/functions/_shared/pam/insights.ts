// PAM's 360° view: what joins the traveller's money, vehicle and trips —
// budget use, net income, the daily cost of life on the road, what each trip
// cost, maintenance that is due now and what the odometer says will come due,
// and where this month's spending is heading. Route GET /chat/insights and
// PAM's get_insights tool answer the same thing.
import type { AppContext } from '../http.ts'
import { budgetStatuses } from '../../wins/budget-status.ts'
import { moneyContext } from '../../wins/common.ts'
import { fromCents, toCents } from '../../wins/money.ts'
import { addDays, daysBetween } from '../dates.ts'
import { maintenanceDue } from '../../wheels/maintenance.ts'

/** Categories that are the cost of being on the road (not of living). */
export const ROAD_CATEGORIES = ['fuel', 'camping', 'tolls', 'maintenance', 'registration', 'insurance']

const INSIGHTS_SQL = `
  with month as (
    select coalesce(sum(e.amount) filter (where e.currency = $3), 0) as spent,
           coalesce(sum(e.amount) filter (where e.currency = $3 and e.category = any($4::text[])), 0) as road
    from pam.expenses e where e.user_id = (select auth.uid()) and e.date between $1::date and $2::date
  ),
  earned as (
    select coalesce(sum(i.amount) filter (where i.currency = $3), 0) as income
    from pam.income i where i.user_id = (select auth.uid()) and i.date between $1::date and $2::date
  ),
  last30 as (
    select coalesce(sum(e.amount) filter (where e.category = any($4::text[])), 0) as road,
           coalesce(sum(e.amount), 0) as spent
    from pam.expenses e
    where e.user_id = (select auth.uid()) and e.currency = $3 and e.date > $5::date - 30 and e.date <= $5::date
  ),
  -- What each trip cost: the expenses linked to it, by category, and per day of the trip.
  trips as (
    select t.id, t.name, t.status, t.start_date::text as start_date, t.end_date::text as end_date, x.spent::text as spent,
           x.expenses, x.by_category,
           case when t.start_date is not null and t.end_date is not null
                then round(x.spent / (t.end_date - t.start_date + 1), 2)::text end as per_day
    from pam.trips t
    cross join lateral (
      select coalesce(sum(c.amount), 0) as spent, coalesce(sum(c.n), 0)::int as expenses,
             coalesce(json_object_agg(c.category, c.amount::text) filter (where c.category is not null), '{}') as by_category
      from (select e.category, sum(e.amount) as amount, count(*) as n from pam.expenses e
            where e.user_id = t.user_id and e.trip_id = t.id and e.currency = $3 group by e.category) c
    ) x
    where t.user_id = (select auth.uid())
    order by t.created_at desc limit 10
  ),
  -- Distance per vehicle over the last 90 days of odometer readings.
  readings as (
    select r.vehicle_id, min(r.odometer) as low, max(r.odometer) as high, min(r.date) as first_day, max(r.date) as last_day
    from (
      select e.vehicle_id, e.odometer, e.date from pam.expenses e
      where e.user_id = (select auth.uid()) and e.odometer is not null and e.date > $5::date - 90
      union all
      select m.vehicle_id, m.odometer, m.date from pam.maintenance_records m
      where m.user_id = (select auth.uid()) and m.odometer is not null and m.date > $5::date - 90
    ) r group by r.vehicle_id
  ),
  hustles as (
    select coalesce(sum(i.amount), 0) - coalesce((select sum(e.amount) from pam.expenses e
             where e.user_id = (select auth.uid()) and e.hustle_id is not null and e.currency = $3), 0) as profit
    from pam.income i where i.user_id = (select auth.uid()) and i.hustle_id is not null and i.currency = $3
  )
  select (select spent::text from month) as month_spent, (select road::text from month) as month_road,
         (select income::text from earned) as month_income,
         (select road::text from last30) as road_30, (select spent::text from last30) as spent_30,
         (select coalesce(json_agg(trips), '[]') from trips) as trips,
         (select coalesce(json_agg(json_build_object('vehicle_id', v.id, 'name', v.name, 'unit', v.odometer_unit,
                   'distance', r.high - r.low, 'days', r.last_day - r.first_day)), '[]')
            from readings r join pam.vehicles v on v.id = r.vehicle_id) as usage,
         (select profit::text from hustles) as hustle_profit`

/** The 360° summary; `months`: how far ahead maintenance is predicted. */
export async function insightsFor(c: AppContext, now: Date, months = 3) {
  const { ctx, budgets, row } = await c.var.postgres.transaction(async (tx) => {
    const ctx = await moneyContext(tx, now)
    const start = `${ctx.today.slice(0, 8)}01`
    const end = new Date(Date.UTC(Number(ctx.today.slice(0, 4)), Number(ctx.today.slice(5, 7)), 0)).toISOString().slice(0, 10)
    const [row] = await tx.unsafe(INSIGHTS_SQL, [start, end, ctx.currency, `{${ROAD_CATEGORIES.join(',')}}`, ctx.today] as never[])
    return { ctx, budgets: await budgetStatuses(tx, ctx), row: { ...row, start, end } as Record<string, unknown> }
  })
  const { due } = await maintenanceDue(c, now, { within_days: 30, within_km: 1000 })
  // Everything open, to predict from the odometer what falls due within `months`.
  const { due: open } = await maintenanceDue(c, now, { within_days: 3650, within_km: 1_000_000 })
  const start = row.start as string
  const end = row.end as string
  const daysIn = daysBetween(start, end) + 1
  const daysSoFar = daysBetween(start, ctx.today) + 1
  const spent = toCents(row.month_spent as string)
  const income = toCents(row.month_income as string)
  const projected = daysSoFar > 0 ? (spent * BigInt(daysIn)) / BigInt(daysSoFar) : spent
  const perDayRoad = toCents(row.road_30 as string) / 30n
  const usage = (row.usage as { vehicle_id: string; name: string; unit: string; distance: number; days: number }[])
    .map((u) => ({ ...u, per_month: u.days > 0 ? Math.round((u.distance / u.days) * 30) : null }))
  const perDay = new Map(usage.filter((u) => u.days > 0).map((u) => [u.vehicle_id, u.distance / u.days]))
  const horizon = addDays(ctx.today, months * 30)
  const predicted = open.map((d) => {
    const rate = perDay.get(d.vehicle_id)
    const byDistance = d.distance_left !== null && rate ? addDays(ctx.today, Math.max(0, Math.round(d.distance_left / rate))) : null
    const when = [d.due_date, byDistance].filter((x): x is string => !!x).sort()[0] ?? null
    return { task: d.task, vehicle_name: d.vehicle_name, due_date: d.due_date, predicted_by_odometer: byDistance, expected: when }
  }).filter((p) => p.expected && p.expected <= horizon).sort((a, b) => a.expected!.localeCompare(b.expected!))
  const insights: string[] = []
  const money = (cents: bigint) => `${ctx.currency} ${fromCents(cents)}`
  if (spent > 0n) {
    const roadShare = Number((toCents(row.month_road as string) * 1000n) / spent) / 10
    insights.push(`Life on the road (fuel, camping, tolls, upkeep) is ${roadShare}% of this month's spending.`)
    insights.push(`At this pace you'll spend ${money(projected)} this month${income > 0n ? ` against ${money(income)} earned` : ''}.`)
  }
  if (perDayRoad > 0n) insights.push(`Travelling costs you about ${money(perDayRoad)} a day (last 30 days).`)
  const over = budgets.filter((b) => b.current.status === 'over')
  if (over.length) insights.push(`Over budget: ${over.map((b) => b.label).join(', ')}.`)
  const overdue = due.filter((d) => d.status === 'overdue')
  if (overdue.length) insights.push(`${overdue.length} maintenance item${overdue.length > 1 ? 's are' : ' is'} overdue.`)
  for (const u of usage) {
    if (u.per_month) insights.push(`${u.name} covers about ${u.per_month} ${u.unit} a month.`)
  }
  return {
    currency: ctx.currency,
    today: ctx.today,
    month: {
      start,
      end,
      spent: fromCents(spent),
      income: fromCents(income),
      net: fromCents(income - spent),
      projected_spent: fromCents(projected),
      road_spent: row.month_road as string,
    },
    daily_road_cost: fromCents(perDayRoad),
    budgets: budgets.map((b) => ({ category: b.category, label: b.label, percent: b.current.percent, status: b.current.status })),
    maintenance: { due: due.length, overdue: overdue.length, items: due.slice(0, 5), predicted_next_months: predicted },
    vehicle_usage: usage,
    trips: row.trips,
    hustle_profit: row.hustle_profit as string,
    insights,
  }
}
