// Events in time: wall clocks in the event's zone, and occurrences of a
// recurring event between two instants. Recurrence is the RRULE subset the
// migration checks (FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY for weekly
// rules, UNTIL as a local day or COUNT), expanded by the `rrule` library over the wall clock the event was
// entered in, each occurrence then placed in the zone: 09:00 stays 09:00
// across a daylight-saving change, and a day without 02:30 has it at 03:30.
import rrule from 'rrule'
import { addDays } from '../_shared/dates.ts'
import { instantOf, wallOf } from '../_shared/timezone.ts'

const { RRule } = rrule

export const RECURRENCE =
  /^FREQ=(DAILY|WEEKLY|MONTHLY)(;INTERVAL=[1-9][0-9]{0,2})?(;BYDAY=(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU)){0,6})?(;(UNTIL=[0-9]{8}|COUNT=[1-9][0-9]{0,2}))?$/

/** The most occurrences a calendar answer expands (per request). */
export const MAX_OCCURRENCES = 2000

const FREQ = { DAILY: RRule.DAILY, WEEKLY: RRule.WEEKLY, MONTHLY: RRule.MONTHLY } as const
const WEEKDAY = { MO: RRule.MO, TU: RRule.TU, WE: RRule.WE, TH: RRule.TH, FR: RRule.FR, SA: RRule.SA, SU: RRule.SU } as const

export interface Timing {
  all_day: boolean
  time_zone: string
  starts_at: Date
  ends_at: Date
  recurrence: string | null
}

/** The timing of an event row as the database gives it (instants as Date or text). */
export const timingOfRow = (e: Record<string, unknown>): Timing => ({
  all_day: e.all_day as boolean,
  time_zone: e.time_zone as string,
  starts_at: new Date(e.starts_at as string | Date),
  ends_at: new Date(e.ends_at as string | Date),
  recurrence: e.recurrence as string | null,
})

/** `YYYY-MM-DD` (+ `THH:MM`) as a wall clock (a UTC date with those fields). */
export const wall = (local: string) => new Date(`${local.length === 10 ? `${local}T00:00` : local}:00Z`)
const wallText = (w: Date, allDay: boolean) => w.toISOString().slice(0, allDay ? 10 : 16)
const untilDay = (rule: string) => /UNTIL=(\d{4})(\d{2})(\d{2})/.exec(rule)?.slice(1).join('-')

const DAY_MS = 86_400_000

/** The rule of `t`. With `near` (a wall clock), it starts from its last occurrence a step or two
 * before `near` instead of its first: the same occurrences from there on, without walking the
 * years before (the library iterates from the start). A step is INTERVAL days, weeks or months; a
 * COUNT rule has its count less what the skipped steps held, which is known only where every step
 * holds as many (a day, a week's BYDAY days, a monthly day that every month has: the 1st to the
 * 28th), so the others still start from their first day. null: nothing from `near` on (COUNT spent). */
function ruleOf(t: Timing, near?: Date) {
  const parts = Object.fromEntries(t.recurrence!.split(';').map((p) => p.split('=')))
  const until = untilDay(t.recurrence!)
  const interval = parts.INTERVAL ? Number(parts.INTERVAL) : 1
  const byday: string[] | null = parts.BYDAY ? parts.BYDAY.split(',') : null
  let dtstart = wallOf(t.starts_at, t.time_zone)
  let count: number | null = parts.COUNT ? Number(parts.COUNT) : null
  let bymonthday: number | null = null
  if (near && parts.FREQ === 'MONTHLY') {
    const day = dtstart.getUTCDate()
    const months = (near.getUTCFullYear() - dtstart.getUTCFullYear()) * 12 + near.getUTCMonth() - dtstart.getUTCMonth()
    const skip = Math.floor(months / interval) - 1
    if (skip >= 1 && !byday && (count === null || day <= 28)) {
      // The 1st of the month `skip` steps on, with the day of the month kept (the 31st skips shorter months).
      bymonthday = day
      const d = dtstart
      dtstart = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + skip * interval, 1, d.getUTCHours(), d.getUTCMinutes(),
        d.getUTCSeconds(), d.getUTCMilliseconds()))
      if (count !== null) count -= skip
    }
  } else if (near) {
    const step = parts.FREQ === 'DAILY' ? interval * DAY_MS : interval * 7 * DAY_MS
    // What one step holds: a weekly rule's BYDAY days (one: its start's weekday), a daily rule's one day.
    const perStep = parts.FREQ === 'WEEKLY' ? (byday ? new Set(byday).size : 1) : byday ? 0 : 1
    if (near.getTime() - dtstart.getTime() > 2 * step && (count === null || perStep > 0)) {
      const skip = Math.floor((near.getTime() - dtstart.getTime()) / step) - 1
      dtstart = new Date(dtstart.getTime() + skip * step)
      if (count !== null) count -= skip * perStep
    }
  }
  if (count !== null && count <= 0) return null
  return new RRule({
    freq: FREQ[parts.FREQ as keyof typeof FREQ],
    interval,
    dtstart,
    // UNTIL is the last local day an occurrence may start on.
    until: until ? wall(`${until}T23:59`) : null,
    count,
    byweekday: byday ? byday.map((d) => WEEKDAY[d as keyof typeof WEEKDAY]) : null,
    bymonthday,
    wkst: RRule.MO,
  })
}

/** The last local day an occurrence starts on (null: it recurs for ever; the first day without recurrence). */
export function lastDay(t: Timing): string | null {
  const first = wallText(wallOf(t.starts_at, t.time_zone), true)
  if (!t.recurrence) return first
  const until = untilDay(t.recurrence)
  if (until) return until < first ? first : until
  if (!/COUNT=/.test(t.recurrence)) return null
  const all = ruleOf(t)!.all()
  return wallText(all[all.length - 1], true)
}

export interface Occurrence {
  /** The occurrence's start as a wall clock in the event's zone (its key: reminders name it). */
  occurrence: string
  starts_at: Date
  ends_at: Date
}

/** The event's occurrences that overlap [from, to), in order. */
export function occurrences(t: Timing, from: Date, to: Date, max = MAX_OCCURRENCES): Occurrence[] {
  const startWall = wallOf(t.starts_at, t.time_zone)
  const endWall = wallOf(t.ends_at, t.time_zone)
  const span = endWall.getTime() - startWall.getTime() // in wall-clock time: 09:00–10:00 stays so
  const at = (w: Date): Occurrence => {
    const starts = instantOf(w, t.time_zone)
    const ends = instantOf(new Date(w.getTime() + span), t.time_zone)
    return { occurrence: wallText(w, t.all_day), starts_at: starts, ends_at: ends < starts ? starts : ends }
  }
  const overlaps = (o: Occurrence) => o.starts_at < to && (o.ends_at > from || o.starts_at.getTime() === o.ends_at.getTime() && o.starts_at >= from)
  if (!t.recurrence) {
    const only = at(startWall)
    return overlaps(only) ? [only] : []
  }
  // The window in the event's wall clock, a day wider each side (offsets are under 15 h), less the event's length.
  const a = new Date(wallOf(from, t.time_zone).getTime() - span - 86_400_000)
  const b = new Date(wallOf(to, t.time_zone).getTime() + 86_400_000)
  const out: Occurrence[] = []
  for (const w of ruleOf(t, a)?.between(a, b, true) ?? []) {
    const o = at(w)
    if (overlaps(o)) out.push(o)
    if (out.length >= max) break
  }
  return out
}

const HOUR_MS = 3_600_000

/** The starts of the event's occurrences in (from, to], in order, with the keys and instants
 * `occurrences` gives them (a one-off event: its own instant), but not their ends: what a reminder
 * needs, for less. Placing a date in the zone is the costly part, so only the rule's dates within 3 h
 * (and the zone's change of offset in the window) of the window's wall clocks are placed: a zone's
 * offset changes at most once in a day. A window longer than a day is widened by a day each side. */
export function startsIn(t: Timing, from: Date, to: Date): { occurrence: string; starts_at: Date }[] {
  if (!t.recurrence) {
    const s = t.starts_at
    return s > from && s <= to ? [{ occurrence: wallText(wallOf(s, t.time_zone), t.all_day), starts_at: s }] : []
  }
  const fromWall = wallOf(from, t.time_zone).getTime()
  const toWall = wallOf(to, t.time_zone).getTime()
  const change = Math.abs((toWall - to.getTime()) - (fromWall - from.getTime()))
  const pad = to.getTime() - from.getTime() <= DAY_MS ? change + 3 * HOUR_MS : DAY_MS
  const a = new Date(fromWall - pad)
  const b = new Date(toWall + pad)
  const out: { occurrence: string; starts_at: Date }[] = []
  for (const w of ruleOf(t, a)?.between(a, b, true) ?? []) {
    const s = instantOf(w, t.time_zone)
    if (s > from && s <= to) out.push({ occurrence: wallText(w, t.all_day), starts_at: s })
  }
  return out
}

/** The instants of a local day range in `timeZone`: [start of `from`, start of the day after `to`). */
export const dayRange = (from: string, to: string, timeZone: string) => ({
  from: instantOf(wall(from), timeZone),
  to: instantOf(wall(addDays(to, 1)), timeZone),
})
