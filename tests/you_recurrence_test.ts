// The calendar's recurrence expansion on its own (no database): a rule that
// starts from near the window (daily and weekly rules skip the years before
// it) gives exactly the occurrences of the rule expanded from its first day.
import { assertEquals } from './_support/assert.ts'
import rrule from 'rrule'
import { occurrences, type Timing, wall } from '../supabase/functions/you/recurrence.ts'
import { instantOf, wallOf } from '../supabase/functions/_shared/timezone.ts'

const { RRule } = rrule

Deno.test('you recurrence: expanded from near the window, the same occurrences as from the first day', () => {
  const cases: [string, string, string][] = [
    ['FREQ=DAILY', '2019-01-01T06:30', 'Australia/Sydney'],
    ['FREQ=DAILY;INTERVAL=3', '2020-02-29T23:45', 'Australia/Lord_Howe'],
    ['FREQ=WEEKLY;INTERVAL=2', '2018-03-25T02:30', 'Australia/Adelaide'],
    ['FREQ=WEEKLY;UNTIL=20300101', '2021-10-03T02:30', 'Australia/Sydney'],
    ['FREQ=MONTHLY', '2019-01-31T09:00', 'Pacific/Auckland'],
    ['FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR', '2019-01-07T05:00', 'Australia/Perth'],
    ['FREQ=WEEKLY;BYDAY=SA,SU', '2020-10-03T02:30', 'Australia/Sydney'],
  ]
  for (const [recurrence, start, tz] of cases) {
    const starts = instantOf(wall(start), tz)
    const t: Timing = { all_day: false, time_zone: tz, starts_at: starts, ends_at: new Date(starts.getTime() + 3_600_000), recurrence }
    for (const [from, to] of [['2026-03-20', '2026-04-20'], ['2026-09-25', '2026-10-10'], ['2029-12-20', '2030-01-05']]) {
      const a = instantOf(wall(from), tz)
      const b = instantOf(wall(to), tz)
      const got = occurrences(t, a, b).map((o) => o.occurrence)
      // The reference: the library from the first day, over the same window.
      const parts = Object.fromEntries(recurrence.split(';').map((p) => p.split('=')))
      const all = new RRule({
        freq: { DAILY: RRule.DAILY, WEEKLY: RRule.WEEKLY, MONTHLY: RRule.MONTHLY }[parts.FREQ as 'DAILY'],
        interval: Number(parts.INTERVAL ?? 1),
        dtstart: wallOf(starts, tz),
        until: parts.UNTIL ? wall(`${parts.UNTIL.slice(0, 4)}-${parts.UNTIL.slice(4, 6)}-${parts.UNTIL.slice(6)}T23:59`) : null,
        byweekday: parts.BYDAY ? parts.BYDAY.split(',').map((d: string) => RRule[d as 'MO']) : null,
        wkst: RRule.MO,
      }).between(new Date(wallOf(a, tz).getTime() - 3 * 86_400_000), new Date(wallOf(b, tz).getTime() + 86_400_000), true)
        .map((w) => ({ w, s: instantOf(w, tz) }))
        .filter(({ s }) => s < b && new Date(s.getTime() + 3_600_000) > a)
        .map(({ w }) => w.toISOString().slice(0, 16))
      assertEquals(got, all, `${recurrence} from ${start} (${tz}), ${from}..${to}`)
    }
  }
})
