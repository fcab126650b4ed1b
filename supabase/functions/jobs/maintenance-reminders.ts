// maintenance-reminders: every task whose latest record says it is due within
// 30 days or 1,000 km (621 mi) of today, or overdue, by the same rules as
// GET /wheels/maintenance/due, becomes one maintenance_due notification per
// record (a new record of the task is a new reminder). Travellers who turned
// preferences.notifications.maintenance_reminders off get none.
import type { Tx } from '../_shared/db.ts'
import type { BatchResult, UserRange } from './runs.ts'
import { prefOn, usersCte } from './users.ts'

export const WITHIN_DAYS = 30
export const WITHIN_KM = 1000
const KM_PER_MILE = 1.609344

export async function maintenanceReminders(tx: Tx, range: UserRange, at: Date): Promise<BatchResult> {
  const { sql, values } = usersCte(range, at)
  const [r] = await tx.unsafe(
    `${sql},
    latest as (
      select distinct on (m.user_id, m.vehicle_id, lower(m.task)) m.id, m.user_id, m.vehicle_id, m.task,
             coalesce(m.next_due_date, m.date + m.interval_days) as due_date,
             coalesce(m.next_due_odometer, m.odometer + m.interval_distance) as due_odometer
      from users u join pam.maintenance_records m on m.user_id = u.user_id
      where ${prefOn('maintenance_reminders')}
      order by m.user_id, m.vehicle_id, lower(m.task), m.date desc, m.created_at desc
    ),
    due as (
      select l.*, v.name as vehicle, v.odometer_unit as unit,
             l.due_date - u.today as days_left, l.due_odometer - v.current_odometer as distance_left,
             case v.odometer_unit when 'mi' then ${WITHIN_KM} / ${KM_PER_MILE} else ${WITHIN_KM} end as within_distance
      from latest l join users u on u.user_id = l.user_id join pam.vehicles v on v.id = l.vehicle_id
    ),
    hits as (
      select d.*, d.days_left < 0 or d.distance_left < 0 as overdue,
             array_remove(array[
               case when d.days_left <= ${WITHIN_DAYS} then 'date' end,
               case when d.distance_left <= d.within_distance then 'odometer' end], null) as by
      from due d
    ),
    notified as (
      insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
      select h.user_id, 'maintenance_due',
             left(h.task || case when h.overdue then ' is overdue' else ' is due soon' end || ' on ' || h.vehicle, 200),
             concat_ws(' ',
               case when h.days_left < 0 then 'It was due on ' || h.due_date::text || '.'
                    when h.due_date is not null then 'Due on ' || h.due_date::text || ' (in ' || h.days_left || ' days).' end,
               case when h.distance_left < 0 then 'It was due at ' || h.due_odometer || ' ' || h.unit || '.'
                    when h.due_odometer is not null then
                      'Due at ' || h.due_odometer || ' ' || h.unit || ' (' || h.distance_left || ' ' || h.unit || ' to go).' end),
             jsonb_build_object('record_id', h.id, 'vehicle_id', h.vehicle_id, 'task', h.task,
               'due_date', h.due_date, 'due_odometer', h.due_odometer, 'odometer_unit', h.unit,
               'days_left', h.days_left, 'distance_left', h.distance_left,
               'status', case when h.overdue then 'overdue' else 'due' end, 'by', to_jsonb(h.by)),
             'maintenance:' || h.id
      from hits h
      where cardinality(h.by) > 0
      on conflict (user_id, dedupe_key) do nothing
      returning 1
    )
    select (select count(*) from notified)::int as notifications`,
    values as never[],
  )
  return { rows_written: r.notifications, notifications: r.notifications }
}
