// document-reminders: a document (GET /you/documents) that expires within 30
// days of the traveller's today, in their time zone, gets a document_expiring
// notification 30 days before and another 7 days before, once each: a run
// that missed the day still sends the reminder whose window it is in (a
// document added 20 days before it expires gets the 30-day one at once, one
// added 3 days before the 7-day one), and a new expiry date (renewed) starts
// over. Travellers who turned preferences.notifications.document_reminders
// off get none.
import type { Tx } from '../_shared/db.ts'
import type { BatchResult, UserRange } from './runs.ts'
import { prefOn, usersCte } from './users.ts'

/** Days before the expiry date that a reminder is sent, latest first. */
export const REMINDER_DAYS = [30, 7] as const

export async function documentReminders(tx: Tx, range: UserRange, at: Date): Promise<BatchResult> {
  const { sql, values } = usersCte(range, at)
  const [r] = await tx.unsafe(
    `${sql},
    due as (
      select d.id, d.user_id, d.kind, d.title, d.expires_on, d.vehicle_id, d.expires_on - u.today as days_left
      from users u join pam.documents d on d.user_id = u.user_id
      where d.expires_on between u.today and u.today + ${REMINDER_DAYS[0]} and ${prefOn('document_reminders')}
    ),
    staged as (
      select due.*, case when due.days_left <= ${REMINDER_DAYS[1]} then ${REMINDER_DAYS[1]} else ${REMINDER_DAYS[0]} end as stage
      from due
    ),
    notified as (
      insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
      select s.user_id, 'document_expiring',
             left(s.title || case s.days_left when 0 then ' expires today' when 1 then ' expires tomorrow'
                                  else ' expires in ' || s.days_left || ' days' end, 200),
             'Valid until ' || s.expires_on::text || '. Renew it in time, then update it in PAM with the new date.',
             jsonb_build_object('document_id', s.id, 'kind', s.kind, 'expires_on', s.expires_on, 'days_left', s.days_left,
               'reminder_days', s.stage, 'vehicle_id', s.vehicle_id),
             'document:' || s.id || ':' || s.expires_on::text || ':' || s.stage
      from staged s
      on conflict (user_id, dedupe_key) do nothing
      returning 1
    )
    select (select count(*) from notified)::int as notifications`,
    values as never[],
  )
  return { rows_written: r.notifications, notifications: r.notifications }
}
