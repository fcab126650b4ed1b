// event-reminders: every reminder offset of every calendar event becomes one
// event_reminder notification when its instant comes (the occurrence's start
// less the offset). Run every 5 minutes; each run sends what fell due since
// LOOKBACK_HOURS ago, deduplicated per event, occurrence and offset, so a
// repeated delivery sends nothing twice and a late one (QStash retrying, a
// run missed) still sends what was missed. Like the other per-user jobs, a
// run fans out into batches of users (index.ts: a plan per 5-minute slot,
// fanout.ts). A batch reads its users' events with reminders that may be due
// (one-off events matched in SQL) and finds, in JavaScript with the calendar's
// own code (rrule, in each event's time zone), the occurrences whose reminder
// falls in the window: for an offset, those starting in (since + offset,
// now + offset], a few hours of the rule started near them (not 28 days from
// the event's first day). An event that cannot be expanded is logged and
// skipped: the others are still sent.
import type { Tx } from '../_shared/db.ts'
import { log } from '../_shared/logger.ts'
import { startsIn, type Timing, timingOfRow } from '../you/recurrence.ts'
import { type BatchResult, inRange, type UserRange } from './runs.ts'

export const LOOKBACK_HOURS = 6
/** The longest reminder offset the calendar takes (28 days), in minutes. */
const MAX_OFFSET_MIN = 40320
/** A batch whose expansion takes longer is logged: it nears a hosted invocation's CPU limit (2 s). */
const SLOW_EXPANSION_MS = 500

interface Due {
  user_id: string
  event_id: string
  title: string
  time_zone: string
  occurrence: string
  minutes: number
  starts_at: string
}

/** The reminders of one event due in (since, at]: for each offset, the occurrences starting in (since + offset, at + offset]. */
export function dueReminders(t: Timing, offsets: number[], since: Date, at: Date): { occurrence: string; minutes: number; starts_at: Date }[] {
  const out = []
  for (const minutes of new Set(offsets)) {
    const ms = minutes * 60_000
    for (const o of startsIn(t, new Date(since.getTime() + ms), new Date(at.getTime() + ms))) {
      out.push({ occurrence: o.occurrence, minutes, starts_at: o.starts_at })
    }
  }
  return out
}

export async function eventReminders(tx: Tx, range: UserRange, at: Date): Promise<BatchResult> {
  const since = new Date(at.getTime() - LOOKBACK_HOURS * 3_600_000)
  const values: unknown[] = [since.toISOString(), at.toISOString()]
  const p = (v: unknown) => `$${values.push(v)}`
  const users = inRange('e.user_id', range, p)
  // One-off events with a reminder in (since, now]; recurring ones that have not ended and whose
  // first occurrence is within their longest offset of now.
  const events = await tx.unsafe(
    `select e.id, e.user_id, e.title, e.time_zone, e.all_day, e.starts_at, e.ends_at, e.recurrence, e.reminders
    from pam.calendar_events e
    where e.recurrence is null and e.reminders <> '{}' and ${users}
      and e.starts_at > $1::timestamptz and e.starts_at <= $2::timestamptz + make_interval(mins => ${MAX_OFFSET_MIN})
      and exists (select from unnest(e.reminders) m(minutes)
                  where e.starts_at - make_interval(mins => m.minutes) > $1::timestamptz
                    and e.starts_at - make_interval(mins => m.minutes) <= $2::timestamptz)
    union all
    select e.id, e.user_id, e.title, e.time_zone, e.all_day, e.starts_at, e.ends_at, e.recurrence, e.reminders
    from pam.calendar_events e
    where e.recurrence is not null and e.reminders <> '{}' and ${users}
      and (e.recurrence_ends is null or e.recurrence_ends >= ($1::timestamptz - interval '1 day')::date)
      and e.starts_at <= $2::timestamptz + make_interval(mins => (select max(m) from unnest(e.reminders) m))`,
    values as never[],
  )
  const t0 = performance.now()
  const due: Due[] = []
  let failed = 0
  for (const e of events) {
    try {
      for (const r of dueReminders(timingOfRow(e), e.reminders as number[], since, at)) {
        due.push({ user_id: e.user_id, event_id: e.id, title: e.title, time_zone: e.time_zone, occurrence: r.occurrence,
          minutes: r.minutes, starts_at: r.starts_at.toISOString() })
      }
    } catch (err) {
      // Its reminders are not sent (nor retried: the batch is done); every run logs it until it is fixed.
      failed++
      log('error', 'event reminders: an event could not be expanded and was skipped', {
        event_id: e.id,
        user_id: e.user_id,
        error: String((err as Error)?.message ?? err).slice(0, 500),
      })
    }
  }
  const ms = performance.now() - t0
  if (ms > SLOW_EXPANSION_MS) {
    log('warn', 'event reminders: expanding the events was slow (fewer users per batch: PAM_JOBS_BATCH_USERS)', {
      events: events.length,
      failed,
      ms: Math.round(ms),
    })
  }
  const [r] = await tx`
    with due as (
      select * from jsonb_to_recordset(${JSON.stringify(due)}::text::jsonb)
        as d(user_id uuid, event_id uuid, title text, time_zone text, occurrence text, minutes int, starts_at timestamptz)
    ),
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
