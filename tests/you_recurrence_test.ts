// The calendar's recurrence expansion on its own (no database): a rule that
// starts from near the window (daily, weekly and monthly rules skip the years
// before it, COUNT rules too where each step holds as many occurrences) gives
// exactly the occurrences of the rule expanded from its first day; and the
// starts that reminders read (startsIn) are those of the calendar's occurrences.
import { assertEquals } from './_support/assert.ts'
import rrule from 'rrule'
import { occurrences, startsIn, type Timing, wall } from '../supabase/functions/you/recurrence.ts'
import { instantOf, wallOf } from '../supabase/functions/_shared/timezone.ts'

const { RRule } = rrule

/** [rule, first start (wall clock), zone] */
const CASES: [string, string, string][] = [
  ['FREQ=DAILY', '2019-01-01T06:30', 'Australia/Sydney'],
  ['FREQ=DAILY;INTERVAL=3', '2020-02-29T23:45', 'Australia/Lord_Howe'],
  ['FREQ=WEEKLY;INTERVAL=2', '2018-03-25T02:30', 'Australia/Adelaide'],
  ['FREQ=WEEKLY;UNTIL=20300101', '2021-10-03T02:30', 'Australia/Sydney'],
  ['FREQ=MONTHLY', '2019-01-31T09:00', 'Pacific/Auckland'],
  ['FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR', '2019-01-07T05:00', 'Australia/Perth'],
  ['FREQ=WEEKLY;BYDAY=SA,SU', '2020-10-03T02:30', 'Australia/Sydney'],
  // COUNT rules, each ending within or before one of the windows.
  ['FREQ=DAILY;COUNT=999', '2024-01-15T07:00', 'Australia/Sydney'],
  ['FREQ=DAILY;INTERVAL=7;COUNT=120', '2024-02-29T02:30', 'Europe/London'],
  ['FREQ=WEEKLY;COUNT=120', '2024-02-04T02:30', 'Australia/Sydney'],
  ['FREQ=WEEKLY;BYDAY=TU,TH,SA;COUNT=350', '2024-01-03T18:00', 'America/New_York'], // starts on a Wednesday
  ['FREQ=WEEKLY;INTERVAL=2;BYDAY=FR,MO,MO;COUNT=999', '2019-06-05T23:30', 'Europe/London'],
  ['FREQ=WEEKLY;INTERVAL=3;BYDAY=SU;COUNT=60', '2023-01-01T02:30', 'Australia/Sydney'],
  ['FREQ=MONTHLY;COUNT=88', '2019-01-15T02:30', 'America/Los_Angeles'],
  ['FREQ=MONTHLY;INTERVAL=2;COUNT=999', '2018-07-28T23:00', 'Pacific/Auckland'],
  ['FREQ=MONTHLY;COUNT=500', '2018-01-30T08:00', 'Australia/Sydney'], // the 30th: from its first day
  // Monthly rules on days that some months lack.
  ['FREQ=MONTHLY;INTERVAL=5', '2017-01-31T10:00', 'Europe/Berlin'],
  ['FREQ=MONTHLY;INTERVAL=3;UNTIL=20291231', '2015-12-29T12:00', 'UTC'],
  ['FREQ=MONTHLY;UNTIL=20260930', '2020-01-31T02:30', 'Europe/Paris'],
]

Deno.test('you recurrence: expanded from near the window, the same occurrences as from the first day', () => {
  for (const [recurrence, start, tz] of CASES) {
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
        count: parts.COUNT ? Number(parts.COUNT) : null,
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

Deno.test('you recurrence: the starts in a window of hours are those of the occurrences, across daylight-saving changes', () => {
  const cases: [string, string, string, boolean][] = [
    ...CASES.map(([r, s, tz]): [string, string, string, boolean] => [r, s, tz, false]),
    ['FREQ=DAILY', '2025-01-01T00:00', 'America/Santiago', true], // all day: midnight, which its changes skip
    ['FREQ=WEEKLY;BYDAY=SU;COUNT=200', '2024-03-03T00:00', 'Australia/Lord_Howe', true],
    ['FREQ=DAILY', '2025-11-02T01:30', 'America/New_York', false], // a time that happens twice in November
  ]
  let starts = 0
  for (const [recurrence, start, tz, allDay] of cases) {
    const first = instantOf(wall(start), tz)
    const t: Timing = {
      all_day: allDay,
      time_zone: tz,
      starts_at: first,
      ends_at: allDay ? instantOf(new Date(wall(start).getTime() + 86_400_000), tz) : new Date(first.getTime() + 5_400_000),
      recurrence,
    }
    // Windows of a reminder run (6 h 5 min) every 193 minutes through both hemispheres' changes.
    for (const [day, days] of [['2026-03-05', 40], ['2026-09-20', 46]] as const) {
      for (let at = Date.parse(`${day}T00:00:00Z`); at < Date.parse(`${day}T00:00:00Z`) + days * 86_400_000; at += 193 * 60_000) {
        const from = new Date(at)
        const to = new Date(at + 365 * 60_000)
        const got = startsIn(t, from, to).map((o) => `${o.occurrence} ${o.starts_at.toISOString()}`)
        const want = occurrences(t, new Date(at - 3 * 86_400_000), new Date(to.getTime() + 1))
          .filter((o) => o.starts_at > from && o.starts_at <= to).map((o) => `${o.occurrence} ${o.starts_at.toISOString()}`)
        assertEquals(got, want, `${recurrence} from ${start} (${tz}), (${from.toISOString()}, ${to.toISOString()}]`)
        starts += got.length
      }
    }
  }
  assertEquals(starts > 500, true, `${starts} starts compared`)
})
