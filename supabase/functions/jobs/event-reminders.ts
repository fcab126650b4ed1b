// event-reminders: every reminder offset of every calendar event becomes one
// event_reminder notification when its instant comes (the occurrence's start
// less the offset). Run every 5 minutes; each run sends what fell due since
// LOOKBACK_HOURS ago, deduplicated per event, occurrence and offset, so a
// repeated delivery sends nothing twice and a late one (QStash retrying, a
// run missed) still sends what was missed. One-off events are matched in SQL;
// recurring ones are expanded with the calendar's own code (rrule, in each
// event's time zone) over the window their reminders can fall in.
import type { Tx } from '../_shared/db.ts'
import { occurrences, type Timing } from '../you/recurrence.ts'
import type { BatchResult } from './runs.ts'

export const LOOKBACK_HOURS = 6
/** The longest reminder offset the calendar takes (28 days), in minutes. */
const MAX_OFFSET_MIN = 40320

interface Due {
  user_id: string
  event_id: string
  title: string
  time_zone: string
  occurrence: string
  minutes: number
  starts_at: string
}

export async function eventReminders(tx: Tx, at: Date): Promise<BatchResult> {
  const now = at.toISOString()
  const since = new Date(at.getTime() - LOOKBACK_HOURS * 3_600_000)
  const due: Due[] = []
  // Recurring events with reminders that have not ended: their occurrences starting in
  // (since, now + the longest offset] may have a reminder due in (since, now].
  const recurring = await tx`
    select e.id, e.user_id, e.title, e.time_zone, e.all_day, e.starts_at, e.ends_at, e.recurrence, e.reminders
    from pam.calendar_events e
    where e.recurrence is not null and e.reminders <> '{}'
      and (e.recurrence_ends is null or e.recurrence_ends >= (${since.toISOString()}::timestamptz - interval '1 day')::date)
      and e.starts_at <= ${now}::timestamptz + make_interval(mins => ${MAX_OFFSET_MIN})`
  for (const e of recurring) {
    const offsets = e.reminders as number[]
    const t: Timing = {
      all_day: e.all_day,
      time_zone: e.time_zone,
      starts_at: new Date(e.starts_at),
      ends_at: new Date(e.ends_at),
      recurrence: e.recurrence,
    }
    const until = new Date(at.getTime() + Math.max(...offsets) * 60_000 + 1)
    for (const o of occurrences(t, since, until)) {
      for (const offset of offsets) {
        const fires = o.starts_at.getTime() - offset * 60_000
        if (fires > since.getTime() && fires <= at.getTime()) {
          due.push({ user_id: e.user_id, event_id: e.id, title: e.title, time_zone: e.time_zone, occurrence: o.occurrence,
            minutes: offset, starts_at: o.starts_at.toISOString() })
        }
      }
    }
  }
  const [r] = await tx`
    with one_off as (
      select e.user_id, e.id as event_id, e.title, e.time_zone,
             to_char(e.starts_at at time zone e.time_zone, case when e.all_day then 'YYYY-MM-DD' else 'YYYY-MM-DD"T"HH24:MI' end)
               as occurrence,
             m.minutes, e.starts_at
      from pam.calendar_events e cross join lateral unnest(e.reminders) as m(minutes)
      where e.recurrence is null and e.reminders <> '{}'
        and e.starts_at > ${since.toISOString()}::timestamptz
        and e.starts_at <= ${now}::timestamptz + make_interval(mins => ${MAX_OFFSET_MIN})
        and e.starts_at - make_interval(mins => m.minutes) > ${since.toISOString()}::timestamptz
        and e.starts_at - make_interval(mins => m.minutes) <= ${now}::timestamptz
    ),
    expanded as (
      select * from jsonb_to_recordset(${JSON.stringify(due)}::text::jsonb)
        as d(user_id uuid, event_id uuid, title text, time_zone text, occurrence text, minutes int, starts_at timestamptz)
    ),
    due as (select * from one_off union all select * from expanded),
    notified as (
      insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
      select d.user_id, 'event_reminder', left(d.title, 200),
             case when d.occurrence ~ 'T' then 'At ' || replace(d.occurrence, 'T', ' ') || ' (' || d.time_zone || ')'
                  else 'On ' || d.occurrence end,
             jsonb_build_object('event_id', d.event_id, 'occurrence', d.occurrence, 'minutes_before', d.minutes,
               'starts_at', d.starts_at, 'time_zone', d.time_zone),
             'event:' || d.event_id || ':' || d.occurrence || ':' || d.minutes
      from due d
      on conflict (user_id, dedupe_key) do nothing
      returning 1
    )
    select (select count(*) from notified)::int as notifications`
  return { rows_written: r.notifications, notifications: r.notifications }
}

/** The run a delivery belongs to: its 5-minute slot of the UTC day (the period), e.g. `slot-0915`. */
export function slotOf(at: Date): string {
  const m = Math.floor((at.getUTCHours() * 60 + at.getUTCMinutes()) / 5) * 5
  return `slot-${String(Math.floor(m / 60)).padStart(2, '0')}${String(m % 60).padStart(2, '0')}`
}
