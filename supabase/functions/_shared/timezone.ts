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

/** The zone as given, in IANA's case when given in another ("america/los_angeles" is
 * America/Los_Angeles): Intl reads names in any case, what compares them by name does not. A name
 * Intl takes for an alias of another stays as given (Intl would answer Asia/Calcutta for
 * Asia/Kolkata, Europe/Kiev for Europe/Kyiv); so does one that is not a zone. */
export function canonicalZone(tz: string): string {
  const resolved = dayFormat(tz)?.resolvedOptions().timeZone
  return resolved !== undefined && resolved.toLowerCase() === tz.toLowerCase() ? resolved : tz
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

// ---- wall clocks and instants ----

const wallFormats = new Map<string, Intl.DateTimeFormat>()
function wallFormat(timeZone: string): Intl.DateTimeFormat {
  let f = wallFormats.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    if (wallFormats.size < 1000) wallFormats.set(timeZone, f)
  }
  return f
}

/** Wall clocks already read, by zone and second: a reminder run places thousands of events' dates in
 * a few zones, mostly the same instants (the same window, the same 09:00), and formatting is the cost. */
const walls = new Map<string, number>()
const MAX_WALLS = 20_000

/** The wall clock of `instant` in `timeZone`, as milliseconds of a UTC date with the same fields. */
function wallMs(instant: number, timeZone: string): number {
  const key = `${timeZone} ${Math.floor(instant / 1000)}`
  const known = walls.get(key)
  if (known !== undefined) return known
  const parts = wallFormat(timeZone).formatToParts(new Date(instant))
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value)
  const ms = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  if (walls.size >= MAX_WALLS) walls.clear()
  walls.set(key, ms)
  return ms
}

/** The offset of `timeZone` from UTC at `instant`, in ms (east positive). */
const offsetAt = (instant: number, timeZone: string) => wallMs(instant, timeZone) - Math.floor(instant / 1000) * 1000

/** The instant a wall clock (`wall`: the local fields as a UTC date) shows in `timeZone`. A time
 * that does not exist there (skipped by a daylight-saving change) moves forward by the gap, as
 * RFC 5545 and Postgres read it (02:30 on a spring-forward day is 03:30); a time that happens
 * twice (the clocks going back) is its first occurrence. */
export function instantOf(wall: Date, timeZone: string): Date {
  const w = wall.getTime()
  // The offsets a day either side bracket any change near `w`: try each.
  const candidates = [...new Set([offsetAt(w - 86_400_000, timeZone), offsetAt(w, timeZone), offsetAt(w + 86_400_000, timeZone)])]
  const exact = candidates.map((o) => w - o).filter((t) => wallMs(t, timeZone) === w).sort((a, b) => a - b)
  if (exact.length) return new Date(exact[0])
  // In a gap: the offset before the change, which lands after it.
  return new Date(w - Math.min(...candidates))
}

/** The wall clock of `instant` in `timeZone`, as a UTC date with the same fields. */
export const wallOf = (instant: Date, timeZone: string): Date => new Date(wallMs(instant.getTime(), timeZone) + instant.getUTCMilliseconds())
