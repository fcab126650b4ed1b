// Time zones: whether a name is one, and the calendar day an instant falls on
// there. Every area needs "today" in the traveller's zone (summaries, budgets,
// reminders); formatters are kept per zone because making one costs far more
// than using it, and the day per quarter hour because even using one costs.
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

/** Days by time zone and quarter hour. Every zone's offset is a whole number of
 * quarter hours, so a local day always starts on a quarter hour of UTC, and the
 * day cannot change within one: formatting once per quarter hour is enough. */
const days = new Map<string, { quarter: number; day: string }>()
const QUARTER_HOUR = 15 * 60_000

/** The calendar day (YYYY-MM-DD) `now` falls on in `timeZone` (an unknown zone counts as UTC). */
export function localDate(now: Date, timeZone: string): string {
  const quarter = Math.floor(now.getTime() / QUARTER_HOUR)
  const known = days.get(timeZone)
  if (known?.quarter === quarter) return known.day
  const day = formatDay(now, timeZone)
  if (days.size < 1000 || known) days.set(timeZone, { quarter, day })
  return day
}

function formatDay(now: Date, timeZone: string): string {
  const format = dayFormat(timeZone) ?? dayFormat('UTC')!
  // en-CA writes the day as YYYY-MM-DD; the parts are the fallback should an ICU ever differ.
  const day = format.format(now)
  if (/^\d{4}-\d{2}-\d{2}$/.test(day)) return day
  const parts = format.formatToParts(now)
  const get = (t: string) => parts.find((p) => p.type === t)!.value
  return `${get('year')}-${get('month')}-${get('day')}`
}
