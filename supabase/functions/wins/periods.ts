// Calendar days and periods. Expense and income dates are local calendar days
// (YYYY-MM-DD, as the user entered them), so period arithmetic is pure date
// arithmetic; the time zone only decides which day is "today".

export type Period = 'week' | 'month' | 'year'
export type BudgetPeriod = 'weekly' | 'monthly' | 'yearly'

export const budgetPeriodUnit: Record<BudgetPeriod, Period> = { weekly: 'week', monthly: 'month', yearly: 'year' }

import { addDays, calendarDate, daysBetween, isCalendarDate, MAX_DATE, MIN_DATE } from '../_shared/dates.ts'
export { addDays, calendarDate, daysBetween, isCalendarDate, MAX_DATE, MIN_DATE }

export { isTimeZone, localDate } from '../_shared/timezone.ts'

const toDate = (s: string) => new Date(`${s}T00:00:00Z`)
const fmt = (d: Date) => d.toISOString().slice(0, 10)

export interface Bounds {
  start: string
  /** Inclusive. */
  end: string
  days: number
}

/** The calendar period containing `day`: ISO week (Monday–Sunday), month or year. */
export function periodOf(period: Period, day: string): Bounds {
  const d = toDate(day)
  let start: Date
  let next: Date
  if (period === 'week') {
    const isoDow = (d.getUTCDay() + 6) % 7 // Monday = 0
    start = new Date(d)
    start.setUTCDate(d.getUTCDate() - isoDow)
    next = new Date(start)
    next.setUTCDate(start.getUTCDate() + 7)
  } else if (period === 'month') {
    start = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1))
    next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))
  } else {
    start = new Date(Date.UTC(d.getUTCFullYear(), 0, 1))
    next = new Date(Date.UTC(d.getUTCFullYear() + 1, 0, 1))
  }
  const s = fmt(start)
  const end = addDays(fmt(next), -1)
  return { start: s, end, days: daysBetween(s, end) + 1 }
}

/** The period just before the one containing `day`. */
export function previousPeriodOf(period: Period, day: string): Bounds {
  return periodOf(period, addDays(periodOf(period, day).start, -1))
}

/** Days of the period counted for averages and projections: all of a past
 * period, the elapsed ones (today included) of the current one, none of a future one. */
export function daysCounted(bounds: Bounds, today: string): number {
  if (today > bounds.end) return bounds.days
  if (today < bounds.start) return 0
  return daysBetween(bounds.start, today) + 1
}
