// Time zones: whether a name is one, and the calendar day an instant falls on
// there. Every area needs "today" in the traveller's zone (summaries, budgets,
// reminders); formatters are kept per zone because making one costs far more
// than using it.
const dayFormats = new Map<string, Intl.DateTimeFormat | null>()

function dayFormat(timeZone: string): Intl.DateTimeFormat | null {
  let format = dayFormats.get(timeZone)
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    } catch {
      format = null // not a time zone
    }
    if (dayFormats.size < 1000) dayFormats.set(timeZone, format)
  }
  return format
}

/** Whether `tz` is an IANA time zone name this runtime knows. */
export function isTimeZone(tz: string): boolean {
  return dayFormat(tz) !== null
}

/** The calendar day (YYYY-MM-DD) `now` falls on in `timeZone` (an unknown zone counts as UTC). */
export function localDate(now: Date, timeZone: string): string {
  const format = dayFormat(timeZone) ?? dayFormat('UTC')!
  // en-CA writes the day as YYYY-MM-DD; the parts are the fallback should an ICU ever differ.
  const day = format.format(now)
  if (/^\d{4}-\d{2}-\d{2}$/.test(day)) return day
  const parts = format.formatToParts(now)
  const get = (t: string) => parts.find((p) => p.type === t)!.value
  return `${get('year')}-${get('month')}-${get('day')}`
}
