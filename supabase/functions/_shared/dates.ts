// Calendar days: YYYY-MM-DD between 1970-01-01 and 2100-12-31, checked as
// real days (no 2024-02-30) before they reach SQL, which has errors of its own.
import { z } from './http.ts'

export const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/
export const MIN_DATE = '1970-01-01'
export const MAX_DATE = '2100-12-31'

export function isCalendarDate(s: string): boolean {
  if (!DATE_PATTERN.test(s)) return false
  const d = new Date(`${s}T00:00:00Z`)
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s
}

/** A YYYY-MM-DD calendar day between 1970-01-01 and 2100-12-31. */
export const calendarDate = () =>
  z.string()
    .regex(DATE_PATTERN, 'a date as YYYY-MM-DD')
    .refine((s) => !DATE_PATTERN.test(s) || isCalendarDate(s), 'not a calendar date')
    .refine((s) => !isCalendarDate(s) || (s >= MIN_DATE && s <= MAX_DATE), `must be between ${MIN_DATE} and ${MAX_DATE}`)
    .openapi({ format: 'date', example: '2026-03-31' })

const toDate = (s: string) => new Date(`${s}T00:00:00Z`)
const fmt = (d: Date) => d.toISOString().slice(0, 10)

export function addDays(day: string, n: number): string {
  const d = toDate(day)
  d.setUTCDate(d.getUTCDate() + n)
  return fmt(d)
}

/** Whole days from a to b (b - a). */
export function daysBetween(a: string, b: string): number {
  return Math.round((toDate(b).getTime() - toDate(a).getTime()) / 86_400_000)
}
