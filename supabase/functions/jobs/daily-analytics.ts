// daily-analytics: each traveller's report of their last full local day (the
// day before their "today" at the job's instant): spend by category, where
// their budgets stood, distance driven and fuel bought; one report_ready
// notification per report. Travellers with nothing recorded that day get no
// report. Each local day is covered once (pam.daily_report_progress): a run
// after the traveller's zone moved their date on by two, or after missed
// runs, covers the days in between too (up to three). One statement per batch.
import type { Tx } from '../_shared/db.ts'
import type { BatchResult, UserRange } from './runs.ts'
import { usersCte } from './users.ts'

const KM_PER_MILE = 1.609344

export async function dailyAnalytics(tx: Tx, range: UserRange, at: Date): Promise<BatchResult> {
  const { sql, values } = usersCte(range, at)
  const [r] = await tx.unsafe(
    `${sql},
    -- The days after the last one covered for the traveller, up to yesterday (their local
    -- yesterday at the job's instant): one as a rule, two when their zone moved their date on
    -- since the last run, up to three after runs were missed; none when it moved back.
    days as (
      select u.user_id, u.currency, u.today - k as day
      from users u
      left join pam.daily_report_progress p on p.user_id = u.user_id
      join (values (1), (2), (3)) as n(k) on n.k <= u.today - 1 - coalesce(p.covered_through, u.today - 2)
    ),
    covered as (
      insert into pam.daily_report_progress as p (user_id, covered_through)
      select u.user_id, u.today - 1 from users u
      on conflict (user_id) do update set covered_through = excluded.covered_through
        where p.covered_through < excluded.covered_through
    ),
    by_category as (
      select d.user_id, d.day, e.category, e.currency, sum(e.amount) as amount, count(*) as n
      from days d join pam.expenses e on e.user_id = d.user_id and e.date = d.day
      group by d.user_id, d.day, e.category, e.currency
    ),
    -- Every fill-up and its litres, but the cost in the report's currency only (as total_spent, and
    -- as /wheels/fuel/stats counts them): amounts in other currencies do not add up.
    fuel as (
      select d.user_id, d.day, count(*) as fill_ups, sum(e.fuel_volume) as volume,
             sum(e.amount) filter (where e.currency = d.currency) as cost
      from days d join pam.expenses e on e.user_id = d.user_id and e.date = d.day and e.fuel_volume is not null
      group by d.user_id, d.day
    ),
    -- Per vehicle: the highest reading of the day less the last one before it
    -- (readings follow the calendar: see the odometer-order trigger).
    distance as (
      select x.user_id, x.day,
             sum((x.day_max - x.before) * case x.unit when 'mi' then ${KM_PER_MILE} else 1 end) as km
      from (
        select d.user_id, d.day, v.odometer_unit as unit,
          greatest(
            (select max(e.odometer) from pam.expenses e
              where e.vehicle_id = v.id and e.date = d.day and e.odometer is not null),
            (select max(m.odometer) from pam.maintenance_records m
              where m.vehicle_id = v.id and m.date = d.day and m.odometer is not null)) as day_max,
          greatest(
            (select e.odometer from pam.expenses e
              where e.vehicle_id = v.id and e.date < d.day and e.odometer is not null order by e.date desc, e.odometer desc limit 1),
            (select m.odometer from pam.maintenance_records m
              where m.vehicle_id = v.id and m.date < d.day and m.odometer is not null order by m.date desc, m.odometer desc limit 1))
            as before
        from days d join pam.vehicles v on v.user_id = d.user_id
      ) x
      where x.day_max is not null and x.before is not null
      group by x.user_id, x.day
    ),
    active as (
      select user_id, day from by_category union select user_id, day from distance
    ),
    budgets as (
      select d.user_id, d.day, jsonb_agg(jsonb_build_object(
               'budget_id', b.id, 'category', b.category, 'period', b.period,
               'period_start', s.period_start, 'period_end', s.period_end,
               'spent', s.spent::text, 'available', s.available::text, 'percent', s.percent,
               'status', case s.threshold when 100 then 'over' when 80 then 'warning' else 'ok' end)
             order by b.category, array_position(array['weekly', 'monthly', 'yearly'], b.period)) as list
      from days d
      join active a on a.user_id = d.user_id and a.day = d.day
      join pam.budgets b on b.user_id = d.user_id and b.start_date <= d.day
      cross join lateral pam.jobs_budget_period(b, d.day, d.day, d.currency) s
      group by d.user_id, d.day
    ),
    reports as (
      insert into pam.daily_reports (user_id, date, currency, total_spent, expense_count, spend_by_category, budgets,
                                     distance_km, fill_ups, fuel_volume, fuel_cost)
      select d.user_id, d.day, d.currency,
             coalesce((select sum(c.amount) from by_category c
                       where c.user_id = d.user_id and c.day = d.day and c.currency = d.currency), 0),
             coalesce((select sum(c.n) from by_category c where c.user_id = d.user_id and c.day = d.day), 0),
             coalesce((select jsonb_agg(jsonb_build_object('category', c.category, 'currency', c.currency,
                                        'amount', c.amount::text, 'count', c.n) order by c.amount desc, c.category)
                       from by_category c where c.user_id = d.user_id and c.day = d.day), '[]'),
             coalesce(b.list, '[]'),
             round(dist.km, 1),
             coalesce(f.fill_ups, 0), coalesce(f.volume, 0), coalesce(f.cost, 0)
      from days d
      join active a on a.user_id = d.user_id and a.day = d.day
      left join budgets b on b.user_id = d.user_id and b.day = d.day
      left join distance dist on dist.user_id = d.user_id and dist.day = d.day
      left join fuel f on f.user_id = d.user_id and f.day = d.day
      on conflict (user_id, date) do nothing
      returning id, user_id, date, currency, total_spent, expense_count, distance_km
    ),
    notified as (
      insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
      select r.user_id, 'report_ready', 'Your day on ' || r.date::text,
             'You spent ' || r.total_spent::text || ' ' || r.currency::text || ' in ' || r.expense_count::text ||
               case r.expense_count when 1 then ' expense' else ' expenses' end ||
               coalesce(' and drove ' || r.distance_km::text || ' km', '') || '.',
             jsonb_build_object('report_id', r.id, 'date', r.date),
             'report:' || r.date::text
      from reports r
      on conflict (user_id, dedupe_key) do nothing
      returning 1
    )
    select (select count(*) from reports)::int as rows_written, (select count(*) from notified)::int as notifications`,
    values as never[],
  )
  return { rows_written: r.rows_written, notifications: r.notifications }
}
