// The users a batch covers, with what every job needs of their profile: the
// local calendar day at the job's instant (their time zone; UTC when unset or
// unknown to the database) and their home currency.
import { params } from '../_shared/resource.ts'
import { inRange, type UserRange } from './runs.ts'

/** `with zones …, users (user_id, today, currency, prefs) as (…)`: the start of a job's statement. */
export function usersCte(range: UserRange, at: Date) {
  const { values, p } = params()
  const sql = `
    with zones as materialized (select name from pg_timezone_names),
    users as materialized (
      select pr.id as user_id,
             (${p(at.toISOString())}::timestamptz at time zone coalesce(z.name, 'UTC'))::date as today,
             case when pr.preferences ->> 'currency' ~ '^[A-Z]{3}$' then pr.preferences ->> 'currency' else 'AUD' end
               ::char(3) as currency,
             coalesce(pr.preferences -> 'notifications', '{}'::jsonb) as prefs
      from pam.profiles pr
      left join zones z on z.name = pr.preferences ->> 'timezone'
      where ${inRange('pr.id', range, p)}
    )`
  return { sql, values, p }
}

/** SQL: whether the user left a notification preference on (absent means on). */
export const prefOn = (name: string) => `coalesce(u.prefs -> '${name}', 'true'::jsonb) <> 'false'::jsonb`
