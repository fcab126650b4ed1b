// budget-alerts: every budget whose current period (in the traveller's time
// zone) has reached 80% or 100% of what is available gets the same
// budget_threshold notification, with the same dedupe key, as an expense
// write in wins makes (budget-status.ts): once per threshold per period, and
// no 80% alert once 100% was sent, whichever path sees it first. Catches what
// no single expense crossed (a budget lowered, a sync, an import).
import type { Tx } from '../_shared/db.ts'
import { BUILTIN_CATEGORIES } from '../wins/categories.ts'
import type { BatchResult, UserRange } from './runs.ts'
import { prefOn, usersCte } from './users.ts'

const LABELS = Object.fromEntries(BUILTIN_CATEGORIES.map((c) => [c.slug, c.label]))

export async function budgetAlerts(tx: Tx, range: UserRange, at: Date): Promise<BatchResult> {
  const { sql, values, p } = usersCte(range, at)
  const labels = p(LABELS) // postgres.js serializes it for the jsonb cast
  const [r] = await tx.unsafe(
    `${sql},
    status as (
      select b.id, b.user_id, b.category, b.period, u.currency, s.*,
             coalesce(${labels}::jsonb ->> b.category, c.label, b.category) as label,
             'budget:' || b.id || ':' || s.period_start::text || ':' as key
      from users u
      join pam.budgets b on b.user_id = u.user_id
      cross join lateral pam.jobs_budget_period(b, u.today, 'infinity'::date, u.currency) s
      left join pam.expense_categories c on c.user_id = b.user_id and c.slug = b.category
      where ${prefOn('budget_alerts')} and s.threshold is not null
    ),
    notified as (
      insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
      select s.user_id, 'budget_threshold',
             case s.threshold when 100 then s.label || ' budget used up' else s.label || ' budget at ' || s.percent || '%' end,
             format('You have spent %s %s of %s %s on %s %s (%s to %s).', s.spent, s.currency, s.available, s.currency,
                    lower(s.label),
                    case s.period when 'weekly' then 'this week' when 'monthly' then 'this month' else 'this year' end,
                    s.period_start, s.period_end),
             jsonb_build_object('budget_id', s.id, 'category', s.category, 'period', s.period,
               'period_start', s.period_start, 'period_end', s.period_end, 'threshold', s.threshold,
               'spent', s.spent::text, 'available', s.available::text, 'percent', s.percent, 'currency', s.currency),
             s.key || s.threshold
      from status s
      where s.threshold = 100 or not exists (
        select 1 from pam.notification_keys k where k.user_id = s.user_id and k.dedupe_key = s.key || '100')
      on conflict (user_id, dedupe_key) do nothing
      returning 1
    )
    select (select count(*) from notified)::int as notifications`,
    values as never[],
  )
  return { rows_written: r.notifications, notifications: r.notifications }
}
