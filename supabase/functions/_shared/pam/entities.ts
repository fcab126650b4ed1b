// Entities in a traveller's chat message, found by rules (no model): money,
// days and periods, distances, fuel volumes and prices, odometer readings,
// places, merchants and the expense category. Pure and synchronous; every
// function takes the message as typed (or as `normalise` in classifier.ts
// leaves it) and never throws.
//
// Conventions:
// - Money is a decimal string with two decimals ("45.50"), as the wins API
//   takes it; `currency` is set only when the message names one ("AUD 45",
//   "US$40", "€30", "45 quid"); "$", "bucks" and "dollars" name none.
// - Days are YYYY-MM-DD counted from `today`, the user's local day. A day
//   without a year or week ("on Tuesday", "on the 3rd", "3 March", "3/3") is
//   the most recent such day on or before today ("on Tuesday", "last Tuesday":
//   strictly before), because people mostly log what already happened; with
//   `prefer: 'future'` (weather, trip plans) it is the next one on or after
//   today (strictly after for weekdays). "3/3" is day/month unless the locale
//   writes the month first (en-US), which Intl decides.
// - "The 31st" in a month without one is the nearest month that has it.
// - Spans (`index`, `text`) point into the string given, so a caller can tell
//   overlapping finds apart: `scanEntities` gives an odometer or a distance
//   precedence over a money amount made of the same digits.
import { KEYWORD_RULES, MERCHANT_RULES } from '../../wins/classify.ts'

// ---------------------------------------------------------------- types

export type CurrencyCode = 'AUD' | 'USD' | 'NZD' | 'EUR' | 'GBP'
export type PeriodKind = 'week' | 'month' | 'year'
export type BudgetPeriod = 'weekly' | 'monthly' | 'yearly'

export interface Span {
  /** Where the match starts in the text given. */
  index: number
  /** The matched text. */
  text: string
}

export interface MoneyMatch extends Span {
  /** Two decimals: "45.50". */
  amount: string
  currency?: CurrencyCode
  /** Written as money ("$", "bucks", "AUD", "k" after "$") rather than a bare number read from context. */
  explicit: boolean
}

export interface FuelPriceMatch extends Span {
  /** Per unit, three decimals: "2.199". */
  price: string
  currency?: CurrencyCode
  per: 'L' | 'gal'
}

export interface DayMatch extends Span {
  date: string
}

export interface PeriodMatch extends Span {
  kind: PeriodKind
  /** 0: the current one, -1: the one before. */
  offset: 0 | -1
  /** First day, inclusive. */
  from: string
  /** Last day, inclusive. */
  to: string
}

export interface DistanceMatch extends Span {
  value: number
  unit: 'km' | 'mi'
  /** To one decimal. */
  km: number
}

export interface VolumeMatch extends Span {
  value: number
  unit: 'L' | 'gal'
  /** US gallons converted; to two decimals. */
  litres: number
}

export interface OdometerMatch extends Span {
  value: number
  unit?: 'km' | 'mi'
}

export interface Places {
  /** "from Brisbane", "Brisbane to Darwin". */
  origin?: string
  /** "to Cairns". */
  destination?: string
  /** "at Broken Hill", "in Alice Springs", "near Mildura". */
  place?: string
}

export interface DateOptions {
  /** The user's local day, YYYY-MM-DD. */
  today: string
  /** BCP 47; decides day/month order of "3/4". Default en-AU. */
  locale?: string
  /** Which side of today a day without a year or week falls on; default past. */
  prefer?: 'past' | 'future'
}

/** What a message holds, as plain values (see `scanEntities` for the spans). */
export interface Entities {
  amount?: { value: string; currency?: CurrencyCode }
  fuelPrice?: { value: string; currency?: CurrencyCode; per: 'L' | 'gal' }
  date?: string
  period?: { kind: PeriodKind; offset: 0 | -1; from: string; to: string }
  budgetPeriod?: BudgetPeriod
  distance?: { value: number; unit: 'km' | 'mi'; km: number }
  volume?: { value: number; unit: 'L' | 'gal'; litres: number }
  odometer?: { value: number; unit?: 'km' | 'mi' }
  origin?: string
  destination?: string
  place?: string
  merchant?: string
  category?: string
}

// ---------------------------------------------------------------- helpers

export const LITRES_PER_US_GALLON = 3.785411784
const KM_PER_MILE = 1.609344

const round = (n: number, places: number) => {
  const f = 10 ** places
  return Math.round(n * f) / f
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The `n` words before `index` (lower case, punctuation dropped). */
function wordsBefore(text: string, index: number, n: number): string[] {
  const words = text.slice(Math.max(0, index - 60), index).toLowerCase().match(/[\p{L}\p{N}'$]+/gu) ?? []
  return words.slice(-n)
}

const overlaps = (a: Span, b: Span) => a.index < b.index + b.text.length && b.index < a.index + a.text.length

/** Whether `locale` writes the month before the day (en-US "3/4" is March 4). Cached per locale. */
const monthFirstCache = new Map<string, boolean>()
export function monthFirst(locale = 'en-AU'): boolean {
  let known = monthFirstCache.get(locale)
  if (known === undefined) {
    try {
      const parts = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'numeric', timeZone: 'UTC' })
        .formatToParts(new Date(Date.UTC(2026, 2, 4)))
      const types = parts.map((p) => p.type)
      known = types.indexOf('month') < types.indexOf('day')
    } catch {
      known = false // not a locale: the rest of the world's order
    }
    if (monthFirstCache.size < 200) monthFirstCache.set(locale, known)
  }
  return known
}

const isUs = (locale?: string) => /^[a-z]{2}-US$/i.test(locale ?? '')

// ---------------------------------------------------------------- money

const CURRENCY_WORDS: Record<string, CurrencyCode | undefined> = {
  'a$': 'AUD', 'au$': 'AUD', 'aud': 'AUD', 'us$': 'USD', 'usd': 'USD', 'nz$': 'NZD', 'nzd': 'NZD',
  '€': 'EUR', 'eur': 'EUR', 'euro': 'EUR', 'euros': 'EUR', '£': 'GBP', 'gbp': 'GBP', 'quid': 'GBP',
  'pound': 'GBP', 'pounds': 'GBP', 'aussie dollars': 'AUD', 'australian dollars': 'AUD', 'us dollars': 'USD',
  'american dollars': 'USD', 'kiwi dollars': 'NZD', 'nz dollars': 'NZD',
}

const NUMBER = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+`
const MONEY_RE = new RegExp(
  String.raw`(?<![\p{L}\p{N}.,$€£\/:-])` +
    String.raw`(?<pre>(?:a|au|us|nz)\$|\$|€|£|(?:aud|usd|nzd|eur|gbp)\s?)?` +
    String.raw`(?<num>${NUMBER})` +
    String.raw`(?:\s?(?<mult>k|m|grand)(?![\p{L}\p{N}]))?` +
    String.raw`(?:\s?(?<unit>aussie dollars|australian dollars|us dollars|american dollars|kiwi dollars|nz dollars|bucks?|dollars?|quid|euros?|pounds?|aud|usd|nzd|eur|gbp|cents?|c|€|£)(?![\p{L}\p{N}]))?`,
  'giu',
)

// After a bare number, what makes it something other than money.
const NOT_MONEY_AFTER = new RegExp(
  String.raw`^(?:\s?(?:km|kms|k's|ks|kilomet(?:re|er)s?|klicks?|kays|mi|miles?|l|lt|ltrs?|litres?|liters?|gal|gals|gallons?|%|percent|days?|nights?|weeks?|wks?|fortnights?|months?|years?|yrs?|yo|hours?|hrs?|h|mins?|minutes?|secs?|am|pm|a\.m\.?|p\.m\.?|st|nd|rd|th|people|persons?|adults?|kids?|dogs?|m|metres?|meters?|ft|feet|foot|tonnes?|t|kg|kgs|degrees?|°|x|times|stars?|cm|mm|seats?|o'clock|ish|wd|bed|berth|sites?|spots?|places?|stops?|things?)(?![\p{L}\p{N}])|^[\/:-]\d|^\s?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b)`,
  'iu',
)
// A bare number reads as money after these words (within three words), or
const MONEY_CUES_BEFORE = new Set([
  'spent', 'spend', 'spending', 'paid', 'pay', 'paying', 'cost', 'costs', 'costing', 'was', 'were', 'for', 'of', 'budget',
  'earned', 'earn', 'made', 'make', 'got', 'received', 'receive', 'add', 'added', 'put', 'save', 'saved', 'deposit',
  'deposited', 'towards', 'toward', 'total', 'charged', 'another', 'bill', 'worth', 'dropped', 'blew', 'bought', 'sold',
  'income', 'wages', 'salary', 'tips', 'expense', 'limit', 'cap', 'max', 'under', 'than', 'afford', 'fee', 'fees', 'price',
  'invoice', 'move', 'moved', 'transfer', 'owe', 'owed', 'refund', 'goal', 'fund', 'savings', 'payday', 'in', 'came',
  'take', 'took', 'withdraw', 'withdrew', 'pull', 'pulled',
])
// before these.
const MONEY_CUES_AFTER = /^\s?(?:on|for|at|towards?|into|to|from|in|each|per|a|an|every|weekly|monthly|yearly|total|this|last|today|yesterday|tonight|worth)\b/i

const WORD_NUMBERS: Record<string, number> = {
  a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11,
  twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
}
const WORD = Object.keys(WORD_NUMBERS).sort((a, b) => b.length - a.length).join('|')
const WORD_MONEY_RE = new RegExp(
  String.raw`(?<![\p{L}])(?<n1>${WORD})(?:[ -](?<n2>${WORD}))?(?:\s+(?<scale>hundred|thousand))?(?:\s+and\s+(?<n3>${WORD})(?:[ -](?<n4>${WORD}))?)?\s+(?<unit>bucks|dollars|quid|grand)(?![\p{L}])`,
  'giu',
)

/** Cents of a decimal string: exact, half up on the third decimal. */
function centsOf(num: string, multiplier: number): number {
  const clean = num.replace(/,/g, '')
  if (multiplier !== 1) return Math.round(Number(clean) * multiplier * 100)
  const [whole, frac = ''] = clean.split('.')
  const f = (frac + '000').slice(0, 3)
  return Number(whole || '0') * 100 + Number(f.slice(0, 2)) + (Number(f[2]) >= 5 ? 1 : 0)
}

const MAX_CENTS = 999_999_999_999

export function formatCents(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
}

const TRAVEL_BEFORE = /^(drove|drive|driving|driven|did|done|covered|travell?ed|travel|towed|towing|another|only|just|about|around|over)$/
const TRAVEL_AFTER = /^\s*(away|to go|left|a day|per day|\/day|each day|of driving|drive|today|yesterday|from|to)\b/i
const MONEY_VERBS = /^(earned|saved|paid|spent|cost|budget|income|goal|made|owe|salary|wages|save|\$)$/

/** Whether "150k" at `index` is a distance: outside the US, after a driving word or before "away", "a day"… */
export function isKmShorthand(text: string, index: number, end: number, locale?: string): boolean {
  if (isUs(locale)) return false
  const before = wordsBefore(text, index, 3)
  if (before.some((w) => MONEY_VERBS.test(w)) || text[index - 1] === '$') return false
  if (before[before.length - 1] === 'the') return false // "the 200k service" is a name
  if (before.slice(-2).some((w) => TRAVEL_BEFORE.test(w))) return true
  return TRAVEL_AFTER.test(text.slice(end))
}

/** Every amount of money in `text`, in order. Fuel prices per litre or gallon are not amounts (see `extractFuelPrice`). */
export function extractMoney(text: string, opts: { locale?: string } = {}): MoneyMatch[] {
  const out: MoneyMatch[] = []
  for (const m of text.matchAll(MONEY_RE)) {
    const found = moneyOf(text, m, opts.locale)
    if (found && !fuelPriceAfter(text, m.index! + m[0].length)) out.push(found)
  }
  for (const m of text.matchAll(WORD_MONEY_RE)) {
    const g = m.groups!
    const head = WORD_NUMBERS[g.n1.toLowerCase()] + (g.n2 ? WORD_NUMBERS[g.n2.toLowerCase()] : 0)
    const tail = (g.n3 ? WORD_NUMBERS[g.n3.toLowerCase()] : 0) + (g.n4 ? WORD_NUMBERS[g.n4.toLowerCase()] : 0)
    const scale = g.scale?.toLowerCase()
    let value = head * (scale === 'hundred' ? 100 : scale === 'thousand' ? 1000 : 1) + tail
    if (g.unit.toLowerCase() === 'grand') value *= 1000
    const tens = WORD_NUMBERS[g.n1.toLowerCase()]
    // "twenty five", not "five twenty".
    if (value <= 0 || (g.n2 && (tens < 20 || WORD_NUMBERS[g.n2.toLowerCase()] >= 10))) continue
    const currency = CURRENCY_WORDS[g.unit.toLowerCase()]
    out.push({ index: m.index!, text: m[0], amount: formatCents(value * 100), ...(currency ? { currency } : {}), explicit: true })
  }
  return out.sort((a, b) => a.index - b.index)
}

function moneyOf(text: string, m: RegExpMatchArray, locale?: string): MoneyMatch | null {
  const g = m.groups!
  const pre = g.pre?.trim().toLowerCase()
  const mult = g.mult?.toLowerCase()
  let unit: string | undefined = g.unit?.toLowerCase()
  const index = m.index!
  const end = index + m[0].length
  // "m" is a million only after a currency sign ("7.5m" is a length).
  if (mult === 'm' && !pre) return null
  // "c" is cents only straight after the number ("50c"), not a word that follows.
  if (unit === 'c' && /\s$/.test(m[0].slice(0, m[0].length - 1))) unit = undefined
  const cents = unit === 'c' || unit === 'cent' || unit === 'cents'
  const explicit = Boolean(pre || (unit && !cents) || mult === 'grand' || cents)
  if (!explicit) {
    if (!bareNumberIsMoney(text, index, end, g.num, mult, locale)) return null
  } else if (mult === 'k' && !pre && !unit && isKmShorthand(text, index, end, locale)) {
    return null
  }
  const multiplier = mult === 'k' || mult === 'grand' ? 1000 : mult === 'm' ? 1_000_000 : 1
  let c = centsOf(g.num, multiplier)
  if (cents) c = Math.round(c / 100)
  // More than the API's ten digits of dollars is not an amount anyone means.
  if (c <= 0 || c > MAX_CENTS) return null
  const currency = (pre && CURRENCY_WORDS[pre]) || (unit && CURRENCY_WORDS[unit]) || undefined
  // A trailing space the unit group did not use is not part of the match.
  const matched = m[0].replace(/\s+$/, '')
  return { index, text: matched, amount: formatCents(c), ...(currency ? { currency } : {}), explicit }
}

function bareNumberIsMoney(text: string, index: number, end: number, num: string, mult: string | undefined, locale?: string): boolean {
  const after = text.slice(end)
  if (mult === 'k') {
    return !isKmShorthand(text, index, end, locale) && !/^(odo|odometer|at|clock|the)$/.test(wordsBefore(text, index, 1)[0] ?? '')
  }
  if (mult) return false
  if (NOT_MONEY_AFTER.test(after)) return false
  const before = wordsBefore(text, index, 3)
  const prev = before[before.length - 1] ?? ''
  if (/^(the|odo|odometer|no|number|model|#|jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept|september|oct|october|nov|november|dec|december)$/.test(prev)) return false
  if (prev === 'at' && /^\d{1,3}(,\d{3})+$|^\d{4,}$/.test(num)) return false // an odometer reading
  const plain = num.replace(/,/g, '')
  // A year ("a 2019 Jayco") is money only straight after a money word.
  if (/^(19|20)\d\d$/.test(num) && !MONEY_CUES_BEFORE.has(prev)) return false
  if (/^\d+\.\d\d$/.test(plain)) return true
  if (/,/.test(num)) return true
  if (before.some((w) => MONEY_CUES_BEFORE.has(w))) return true
  if (MONEY_CUES_AFTER.test(after)) return true
  // "fuel 80", "coles 45": straight after a category word or a merchant.
  return KEYWORD_WORDS.has(prev) || MERCHANT_WORDS.has(prev)
}

// ---------------------------------------------------------------- fuel prices

const PER_UNIT_RE = /^\s*(?:\/|per\s+|a\s+|an\s+|the\s+)(l|lt|ltr|litre|liter|gal|gallon)(?![\p{L}])/iu

function fuelPriceAfter(text: string, end: number): 'L' | 'gal' | null {
  const m = PER_UNIT_RE.exec(text.slice(end))
  if (!m) return null
  return m[1].toLowerCase().startsWith('gal') ? 'gal' : 'L'
}

/** A price per litre or gallon: "$2.19/L", "1.99 a litre", "219.9c/L", "$3.49 a gallon". */
export function extractFuelPrice(text: string): FuelPriceMatch | null {
  for (const m of text.matchAll(MONEY_RE)) {
    const end = m.index! + m[0].length
    const per = fuelPriceAfter(text, end)
    if (!per) continue
    const g = m.groups!
    const unit = g.unit?.toLowerCase()
    if (g.mult) continue
    const value = Number(g.num.replace(/,/g, '')) / (unit === 'c' || unit === 'cents' || unit === 'cent' ? 100 : 1)
    if (!(value > 0) || value > 99) continue
    const pre = g.pre?.trim().toLowerCase()
    const currency = (pre && CURRENCY_WORDS[pre]) || (unit && CURRENCY_WORDS[unit]) || undefined
    const full = m[0] + PER_UNIT_RE.exec(text.slice(end))![0]
    return { index: m.index!, text: full, price: value.toFixed(3), ...(currency ? { currency } : {}), per }
  }
  return null
}

// ---------------------------------------------------------------- days and periods

const DAY_MS = 86_400_000
const toNum = (day: string) => Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10)) / DAY_MS
const fromNum = (n: number) => new Date(n * DAY_MS).toISOString().slice(0, 10)
const ymd = (y: number, m: number, d: number) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate()
const isDay = (y: number, m: number, d: number) => m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m)

/** `day` moved by `n` days. */
export function shiftDays(day: string, n: number): string {
  return fromNum(toNum(day) + n)
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const MONTH_NAME = String.raw`(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`
const monthOf = (name: string) => MONTHS.indexOf(name.slice(0, 3).toLowerCase()) + 1
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']
const WEEKDAY_NAME = String.raw`(?:sun|mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?)(?:day)?`
const weekdayOf = (name: string) => {
  const n = name.toLowerCase()
  return WEEKDAYS.findIndex((w) => w.startsWith(n.slice(0, 3)))
}

const COUNT: Record<string, number> = {
  a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, couple: 2,
  'a couple of': 2, 'a few': 3, few: 3,
}
const countOf = (s: string) => /^\d+$/.test(s) ? Number(s) : COUNT[s.toLowerCase()] ?? NaN

/** Of the days with month `m` and day `d` (any year), the nearest one on the preferred side of today. */
function nearestMonthDay(today: string, m: number, d: number, prefer: 'past' | 'future'): string | null {
  const y = +today.slice(0, 4)
  const years = prefer === 'past' ? [y, y - 1, y - 2, y - 3, y - 4] : [y, y + 1, y + 2, y + 3, y + 4]
  for (const year of years) {
    if (!isDay(year, m, d)) continue // 29 February: the nearest leap year
    const day = ymd(year, m, d)
    if (prefer === 'past' ? day <= today : day >= today) return day
  }
  return null
}

/** "The 3rd": this month's, else the nearest month on the preferred side that has that day. */
function nearestDayOfMonth(today: string, d: number, prefer: 'past' | 'future'): string | null {
  let y = +today.slice(0, 4)
  let m = +today.slice(5, 7)
  for (let i = 0; i < 13; i++) {
    if (isDay(y, m, d)) {
      const day = ymd(y, m, d)
      if (prefer === 'past' ? day <= today : day >= today) return day
    }
    m += prefer === 'past' ? -1 : 1
    if (m === 0) [y, m] = [y - 1, 12]
    if (m === 13) [y, m] = [y + 1, 1]
  }
  return null
}

function weekdayFrom(today: string, weekday: number, direction: -1 | 1): string {
  const t = toNum(today)
  const current = (t + 4) % 7 // 1970-01-01 was a Thursday
  const diff = direction < 0 ? ((current - weekday + 7) % 7) || 7 : ((weekday - current + 7) % 7) || 7
  return fromNum(t + direction * diff)
}

type DateRule = { re: RegExp; day: (m: RegExpMatchArray, o: Required<DateOptions>) => string | null }

const DATE_RULES: DateRule[] = [
  {
    // 2026-03-03
    re: /(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)/,
    day: (m) => isDay(+m[1], +m[2], +m[3]) ? ymd(+m[1], +m[2], +m[3]) : null,
  },
  {
    // 3 March, 3rd of March, 3 Mar 2026
    re: new RegExp(String.raw`(?<![\p{N}.$])(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+(${MONTH_NAME})\b\.?(?:,?\s+(\d{4}))?`, 'iu'),
    day: (m, o) => monthDay(o, monthOf(m[2]), +m[1], m[3]),
  },
  {
    // March 3, Mar 3rd, March 3 2026 (not "may 5 people": a month name then a day number)
    re: new RegExp(String.raw`\b(${MONTH_NAME})\.?\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?(?![\p{N}.:,]\d|\s?(?:km|l|litres|people|nights|days|bucks|dollars)\b)(?:,?\s+(\d{4}))?`, 'iu'),
    day: (m, o) => monthDay(o, monthOf(m[1]), +m[2], m[3]),
  },
  {
    // 3/3, 3/3/26, 03/03/2026, 3.3.2026 (day/month, or month/day in en-US); "3.50" is money
    re: /(?<![\d.$\/])(\d{1,2})(?:\/(\d{1,2})(?:\/(\d{4}|\d{2}))?|\.(\d{1,2})\.(\d{4}|\d{2}))(?![\d\/]|\.\d)/g,
    day: (m, o) => {
      const [a, b] = [+m[1], +(m[2] ?? m[4])]
      const year = m[3] ?? m[5]
      const [month, day] = monthFirst(o.locale) ? [a, b] : [b, a]
      return monthDay(o, month, day, year && (year.length === 2 ? `20${year}` : year))
    },
  },
  { re: /\b(?:the\s+)?day\s+before\s+yesterday\b/i, day: (_m, o) => shiftDays(o.today, -2) },
  { re: /\b(?:the\s+)?day\s+after\s+tomorrow\b/i, day: (_m, o) => shiftDays(o.today, 2) },
  { re: /\byesterday\b|\blast night\b/i, day: (_m, o) => shiftDays(o.today, -1) },
  { re: /\btomorrow\b/i, day: (_m, o) => shiftDays(o.today, 1) },
  { re: /\b(?:today|tonight|this (?:morning|afternoon|arvo|evening))\b/i, day: (_m, o) => o.today },
  {
    // 2 days ago, a week ago, a couple of days ago, a fortnight ago
    re: /\b(\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|a few|couple|few)\s+(days?|weeks?|fortnights?)\s+ago\b/i,
    day: (m, o) => {
      const n = countOf(m[1])
      const unit = m[2].toLowerCase()
      return Number.isFinite(n) ? shiftDays(o.today, -n * (unit.startsWith('day') ? 1 : unit.startsWith('week') ? 7 : 14)) : null
    },
  },
  {
    // in 3 days
    re: /\bin\s+(\d{1,3}|an?|one|two|three|four|five|six|seven|a couple of|a few)\s+(days?|weeks?)\b/i,
    day: (m, o) => {
      const n = countOf(m[1])
      return Number.isFinite(n) ? shiftDays(o.today, n * (m[2].toLowerCase().startsWith('day') ? 1 : 7)) : null
    },
  },
  {
    // on the 3rd, the 21st (this month, or the nearest month that has it)
    re: /\b(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b(?!\s+of\b)/i,
    day: (m, o) => {
      const d = +m[1]
      return d >= 1 && d <= 31 ? nearestDayOfMonth(o.today, d, o.prefer) : null
    },
  },
  {
    // last Tuesday, next Fri, on Tuesday, this Saturday, Tuesday (a full name alone)
    re: new RegExp(String.raw`\b(?:(last|next|this(?:\s+coming|\s+past)?|on|coming|past)\s+(${WEEKDAY_NAME})|(${WEEKDAYS.join('|')}))\b`, 'i'),
    day: (m, o) => {
      const which = m[1]?.toLowerCase().replace(/\s+/g, ' ')
      const weekday = weekdayOf(m[2] ?? m[3])
      if (weekday < 0) return null
      let direction: -1 | 1 = o.prefer === 'future' ? 1 : -1
      if (which === 'last' || which === 'this past' || which === 'past') direction = -1
      if (which === 'next' || which === 'coming' || which === 'this coming') direction = 1
      return weekdayFrom(o.today, weekday, direction)
    },
  },
]

// Every match of a rule is tried, in order: the first may not be a day ("45.50 on 3/3").
for (const rule of DATE_RULES) if (!rule.re.global) rule.re = new RegExp(rule.re.source, rule.re.flags + 'g')

function monthDay(o: Required<DateOptions>, month: number, day: number, year?: string): string | null {
  if (year) return isDay(+year, month, day) ? ymd(+year, month, day) : null
  if (month < 1 || month > 12 || day < 1 || day > 31) return null
  return nearestMonthDay(o.today, month, day, o.prefer)
}

function dateOptions(opts: DateOptions): Required<DateOptions> {
  return { today: opts.today, locale: opts.locale ?? 'en-AU', prefer: opts.prefer ?? 'past' }
}

/** The day a message speaks of, relative to `today`; null when it names none. */
export function extractDate(text: string, opts: DateOptions): DayMatch | null {
  const o = dateOptions(opts)
  for (const rule of DATE_RULES) {
    for (const m of text.matchAll(rule.re)) {
      const date = rule.day(m, o)
      if (date) return { index: m.index!, text: m[0], date }
    }
  }
  return null
}

const PERIOD_RE = /\b(?:(this|current|the current|last|previous|the last|the previous)\s+(week|month|year)|so far this (week|month|year)|(ytd|mtd)|(this|last)\s+(fortnight))\b/i

/** The calendar period containing `day` (ISO week, Monday first). */
export function periodBounds(kind: PeriodKind, day: string): { from: string; to: string } {
  const y = +day.slice(0, 4)
  const m = +day.slice(5, 7)
  if (kind === 'year') return { from: ymd(y, 1, 1), to: ymd(y, 12, 31) }
  if (kind === 'month') return { from: ymd(y, m, 1), to: ymd(y, m, daysInMonth(y, m)) }
  const n = toNum(day)
  const monday = n - ((n + 3) % 7)
  return { from: fromNum(monday), to: fromNum(monday + 6) }
}

/** "this month", "last week", "this year", "so far this month", "YTD": a calendar period around `today`. */
export function extractPeriod(text: string, opts: { today: string }): PeriodMatch | null {
  const m = PERIOD_RE.exec(text)
  if (!m) return null
  let kind: PeriodKind
  let offset: 0 | -1 = 0
  if (m[2]) {
    kind = m[2].toLowerCase() as PeriodKind
    offset = /last|previous/i.test(m[1]) ? -1 : 0
  } else if (m[3]) {
    kind = m[3].toLowerCase() as PeriodKind
  } else if (m[4]) {
    kind = m[4].toLowerCase() === 'ytd' ? 'year' : 'month'
  } else {
    // A fortnight is reported as its week pair's later week; close enough for a summary.
    kind = 'week'
    offset = m[5].toLowerCase() === 'last' ? -1 : 0
  }
  const anchor = offset === 0 ? opts.today : shiftBack(kind, opts.today)
  return { index: m.index, text: m[0], kind, offset, ...periodBounds(kind, anchor) }
}

function shiftBack(kind: PeriodKind, today: string): string {
  return shiftDays(periodBounds(kind, today).from, -1)
}

const BUDGET_PERIOD_RE = /\b(?:(weekly|monthly|yearly|annually|annual|fortnightly)|(?:a|per|each|every|\/)\s*(week|wk|month|mth|mo|year|yr|fortnight))\b|\/(week|wk|month|mth|mo|year|yr)\b|\b(pw|pa)\b/i

/** How often a budget resets: "a week", "per month", "monthly", "/wk", "pw". */
export function extractBudgetPeriod(text: string): BudgetPeriod | null {
  const m = BUDGET_PERIOD_RE.exec(text)
  if (!m) return null
  const w = (m[1] ?? m[2] ?? m[3] ?? m[4]).toLowerCase()
  if (/^(weekly|week|wk|pw|fortnight|fortnightly)$/.test(w)) return 'weekly'
  if (/^(monthly|month|mth|mo|pm)$/.test(w)) return 'monthly'
  return 'yearly'
}

// ---------------------------------------------------------------- distances, volumes, odometers

const DISTANCE_RE = new RegExp(
  String.raw`(?<![\p{L}\p{N}.,$])(${NUMBER})\s?(kms?|k's|kilomet(?:re|er)s?|klicks?|kays|mi|miles?|k)(?![\p{L}\p{N}])`,
  'giu',
)

/** "300 km", "200 miles", "150k" (kilometres outside the US, when about driving). Odometer readings are not distances. */
export function extractDistance(text: string, opts: { locale?: string } = {}): DistanceMatch | null {
  const odometer = extractOdometer(text)
  for (const m of text.matchAll(DISTANCE_RE)) {
    const span = { index: m.index!, text: m[0] }
    if (odometer && overlaps(span, odometer)) continue
    const unitWord = m[2].toLowerCase()
    if (unitWord === 'k' && !isKmShorthand(text, m.index!, m.index! + m[0].length, opts.locale)) continue
    const value = Number(m[1].replace(/,/g, ''))
    if (!(value > 0)) continue
    const unit = unitWord === 'mi' || unitWord.startsWith('mile') ? 'mi' : 'km'
    return { ...span, value, unit, km: round(unit === 'mi' ? value * KM_PER_MILE : value, 1) }
  }
  return null
}

const VOLUME_RE = new RegExp(
  String.raw`(?<![\p{L}\p{N}.,$\/])(\d+(?:\.\d+)?)\s?(l|lt|ltrs?|litres?|liters?|gal|gals|gallons?)(?![\p{L}\p{N}])`,
  'giu',
)

/** "62 litres", "62L", "62.4 ltr", "15 gallons" (US gallons, converted to litres). */
export function extractVolume(text: string): VolumeMatch | null {
  for (const m of text.matchAll(VOLUME_RE)) {
    // "/L" after a price is a unit, not a volume ("$2.19/L" never reaches here: the slash blocks it).
    const value = Number(m[1])
    if (!(value > 0) || value > 2000) continue
    const unit = m[2].toLowerCase().startsWith('gal') ? 'gal' : 'L'
    return { index: m.index!, text: m[0], value, unit, litres: round(unit === 'gal' ? value * LITRES_PER_US_GALLON : value, 2) }
  }
  return null
}

const READING = String.raw`(\d{1,3}(?:,\d{3})+|\d{3,7}|\d{1,4}(?:\.\d{1,3})?k)`
const ODO_UNIT = String.raw`(?:\s?(kms?|kilomet(?:re|er)s?|mi|miles)(?![\p{L}]))?`
const ODOMETER_RULES: { re: RegExp; strong: boolean }[] = [
  // odo 184,233 / odometer reading: 184233 km / speedo says 92k
  {
    re: new RegExp(String.raw`\b(?:odo|odometer|speedo|clock)(?:\s+(?:reading|reads|read|is|was|at|on|of|shows|showing|says|now|=))*\s*[:=]?\s*(?:at\s+)?${READING}${ODO_UNIT}`, 'iu'),
    strong: true,
  },
  // 184,233 on the clock / 184233 km on the odo
  {
    re: new RegExp(String.raw`(?<![\p{N}.,$])${READING}${ODO_UNIT}\s+(?:on\s+the\s+(?:clock|odo|odometer|speedo)|showing)`, 'iu'),
    strong: true,
  },
  // at 184233 km / at 184,000 / @ 92k
  {
    re: new RegExp(String.raw`(?:\bat|@)\s+(?:the\s+)?${READING}${ODO_UNIT}(?![\p{N}])`, 'iu'),
    strong: false,
  },
]

/** "odo 184,233", "at 184233 km", "at 184k", "184,233 on the clock". */
export function extractOdometer(text: string): OdometerMatch | null {
  for (const { re, strong } of ODOMETER_RULES) {
    const m = re.exec(text)
    if (!m) continue
    const raw = m[1].toLowerCase().replace(/,/g, '')
    const value = raw.endsWith('k') ? Math.round(Number(raw.slice(0, -1)) * 1000) : Number(raw)
    const u = m[2]?.toLowerCase()
    const unit = u ? (u === 'mi' || u.startsWith('mile') ? 'mi' : 'km') : undefined
    // "at" needs a reading that looks like one: a unit, thousands separators, "k", or five digits and more.
    if (!strong && !(unit || /,|k$/i.test(m[1]) || value >= 10_000)) continue
    if (!(value >= 100) || value > 9_999_999) continue
    if (!strong && /^\s?(?:bucks|dollars|aud|usd|\/|per|a litre|litres|l\b)/i.test(text.slice(m.index + m[0].length))) continue
    return { index: m.index, text: m[0], value, ...(unit ? { unit } : {}) }
  }
  return null
}

// ---------------------------------------------------------------- merchants and categories

// The wins rules' merchants, and a few more that chat mentions. Left out: names
// that are everyday words in a chat ("tmr" is "tomorrow", "target" a goal).
const EXTRA_MERCHANTS = [
  'bunnings', 'kmart', 'big w', 'officeworks', 'bcf', 'anaconda', "dan murphy's", 'dan murphys', 'liquorland', 'bws',
  'jb hi-fi', 'harvey norman', 'ikea',
]
const MERCHANT_ALIASES: Record<string, string> = {
  maccas: "McDonald's", "macca's": "McDonald's", woolies: 'Woolworths', 'hungry jacks': "Hungry Jack's",
  'coles express': 'Coles Express', 'big 4': 'BIG4', big4: 'BIG4', bp: 'BP', iga: 'IGA', koa: 'KOA', kfc: 'KFC',
  aami: 'AAMI', bcf: 'BCF', bws: 'BWS', dmv: 'DMV', cvs: 'CVS',
}
const SKIPPED_MERCHANTS = new Set(['tmr', 'speedway', 'new world', 'countdown', 'target'])

const MERCHANT_CATEGORY = new Map<string, string>()
for (const [category, names] of MERCHANT_RULES) {
  for (const name of names) if (!SKIPPED_MERCHANTS.has(name)) MERCHANT_CATEGORY.set(name, category)
}
MERCHANT_CATEGORY.set('maccas', 'dining').set("macca's", 'dining').set('woolies', 'food')
const MERCHANT_NAMES = [...MERCHANT_CATEGORY.keys(), ...EXTRA_MERCHANTS].sort((a, b) => b.length - a.length)
const MERCHANT_RE = new RegExp(`(?<![\\p{L}\\p{N}])(${MERCHANT_NAMES.map(escapeRe).join('|')})(?![\\p{L}\\p{N}])`, 'iu')
const MERCHANT_WORDS = new Set(MERCHANT_NAMES.filter((n) => !n.includes(' ')))

export interface MerchantMatch extends Span {
  /** As written, or its usual spelling for nicknames and initials ("maccas" → "McDonald's", "bp" → "BP"). */
  name: string
  /** The merchant's category under the wins rules, when it has one. */
  category?: string
}

const titleCase = (s: string) => s.replace(/(^|[\s-])(\p{L})/gu, (_m, sep: string, c: string) => sep + c.toUpperCase())

/** A known merchant named in the message ("at Shell", "coles", "Maccas"). */
export function extractMerchant(text: string): MerchantMatch | null {
  const m = MERCHANT_RE.exec(text.replace(/[’‘]/g, "'"))
  if (!m) return null
  const key = m[1].toLowerCase()
  const typed = m[1]
  const name = MERCHANT_ALIASES[key] ?? (typed === typed.toLowerCase() ? titleCase(typed) : typed)
  const category = MERCHANT_CATEGORY.get(key)
  return { index: m.index, text: typed, name, ...(category ? { category } : {}) }
}

// Words people use in chat that the wins rules (written for merchant and
// description fields) leave out. Checked together with KEYWORD_RULES.
const EXTRA_KEYWORDS: [string, string[]][] = [
  ['fuel', ['refuel', 'refuelled', 'refueled', 'fuelled up', 'fueled up', 'filled up', 'fill', 'gassed up', 'top up the tank']],
  ['camping', ['camp fees', 'site fees', 'park fees', 'campsite fees', 'caravan parks', 'campgrounds', 'campsites', 'free camp', 'camp', 'camps', 'night at the park']],
  ['dining', ['dining', 'dining out', 'eating out', 'takeaways', 'takeout', 'coffees', 'pub', 'beers', 'beer', 'drinks', 'meal', 'meals', 'fish and chips', 'brekkie', 'ice cream', 'ice creams', 'pies', 'snacks']],
  ['food', ['food', 'food shop', 'grocery shop', 'veggies', 'fruit', 'meat', 'bread', 'milk']],
  ['maintenance', ['brake pads', 'oil', 'parts', 'wheel bearings', 'filter', 'fan belt', 'alignment', 'van repairs', 'tyre repair']],
  ['utilities', ['water', 'shower', 'shower token', 'gas bottles', 'laundry']],
  ['connectivity', ['data', 'phone bill', 'mobile']],
  ['entertainment', ['ticket', 'golf', 'fishing charter', 'cruise', 'scenic flight']],
  ['health', ['vet', 'medicine', 'meds', 'ambulance']],
  ['tolls', ['toll road']],
]
const GAS_US: [string, string[]] = ['fuel', ['gas', 'gas station']]
const GAS_ELSEWHERE: [string, string[]] = ['utilities', ['gas']]

function keywordMatcher(rules: [string, string[]][]) {
  const category = new Map<string, string>()
  for (const [slug, words] of rules) for (const w of words) if (!category.has(w)) category.set(w, slug)
  const words = [...category.keys()].sort((a, b) => b.length - a.length)
  return { category, re: new RegExp(`(?<![\\p{L}\\p{N}])(${words.map(escapeRe).join('|')})(?![\\p{L}\\p{N}])`, 'iu') }
}
const BASE_RULES = [...(KEYWORD_RULES as [string, string[]][]), ...EXTRA_KEYWORDS]
const KEYWORDS_US = keywordMatcher([...BASE_RULES, GAS_US])
const KEYWORDS_ELSEWHERE = keywordMatcher([...BASE_RULES, GAS_ELSEWHERE])
// Single words, and the last word of longer keywords ("fish and chips 28").
const KEYWORD_WORDS = new Set([...KEYWORDS_ELSEWHERE.category.keys(), 'gas'].map((w) => w.split(' ').pop()!))

/** The expense category a message speaks of: the first keyword of what was bought
 * ("diesel", "groceries", "caravan park"; the wins rules and a few chat words),
 * else the merchant's ("Shell" → fuel); null when neither says. "Gas" is fuel in
 * the US, else LPG (utilities). */
export function extractCategory(text: string, opts: { locale?: string } = {}): { category: string; matched: string } | null {
  const clean = text.replace(/[’‘]/g, "'")
  const merchant = extractMerchant(clean)
  const rest = merchant ? clean.slice(0, merchant.index) + ' '.repeat(merchant.text.length) + clean.slice(merchant.index + merchant.text.length) : clean
  const keywords = isUs(opts.locale) ? KEYWORDS_US : KEYWORDS_ELSEWHERE
  const k = keywords.re.exec(rest)
  if (k) return { category: keywords.category.get(k[1].toLowerCase())!, matched: k[1] }
  if (merchant?.category) return { category: merchant.category, matched: merchant.text }
  return null
}

// ---------------------------------------------------------------- places

const PLACE_PREPOSITIONS = new Map<string, keyof Places>([
  ['at', 'place'], ['in', 'place'], ['near', 'place'], ['around', 'place'], ['outside', 'place'], ['nr', 'place'],
  ['to', 'destination'], ['towards', 'destination'], ['into', 'destination'], ['for', 'place'],
  ['from', 'origin'], ['via', 'place'],
])
const NOT_PLACES = new Set([
  'i', "i'm", 'im', "i've", "i'll", 'pam', 'me', 'we', 'us', 'the', 'a', 'my', 'our', 'christmas', 'easter', 'xmas',
  'facebook', 'instagram', 'google', 'youtube', 'am', 'pm', 'ok', 'okay', 'aud', 'usd', 'nzd', 'eur', 'gbp',
  ...WEEKDAYS, 'jan', 'january', 'feb', 'february', 'march', 'apr', 'april', 'may', 'june', 'july', 'aug', 'august',
  'sept', 'september', 'oct', 'october', 'nov', 'november', 'dec', 'december', 'rv', 'odo',
  // Function words, for Messages Typed In Title Case.
  'to', 'from', 'at', 'in', 'near', 'and', 'or', 'for', 'with', 'via', 'on', 'is', 'it', 'this', 'that', 'here', 'there',
  'home', 'today', 'tomorrow', 'tonight', 'yesterday', 'next', 'last',
])
const PLACE_CONNECTORS = new Set(['of', 'de', 'la', 'on', 'upon', 'le'])
// For "from brisbane to darwin" typed in lower case: where a name stops.
const STOP_WORDS = new Set([
  'here', 'there', 'home', 'now', 'then', 'today', 'tomorrow', 'tonight', 'yesterday', 'next', 'this', 'last', 'on', 'in',
  'at', 'by', 'via', 'over', 'with', 'and', 'for', 'avoiding', 'avoid', 'max', 'maximum', 'the', 'a', 'my', 'our', 'to',
  'from', 'please', 'pls', 'taking', 'through', 'along', 'stopping', 'without', 'via', 'around', 'about', 'it', 'is',
  'how', 'what', 'when', 'week', 'month', 'days', 'day', 'weeks', 'going', 'then', 'under', 'up', 'down', 'coast',
  'work', 'place', 'places', 'camp', 'so', 'but', 'or', 'if', 'we', 'i', 'you', 'me', 'us', 'them', 'doing',
])

type Word = { w: string; index: number }

function wordsOf(text: string): Word[] {
  return [...text.matchAll(/[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu)].map((m) => ({ w: m[0].replace(/[.'’-]+$/, ''), index: m.index! }))
}
const isCapitalised = (w: string) => /^\p{Lu}/u.test(w) && !NOT_PLACES.has(w.toLowerCase())

/** A run of capitalised words from `i` ("Alice Springs", "Port Augusta", "Mt. Isa"), with short connectors inside ("Bay of Fires"). */
function nameFrom(words: Word[], i: number, text: string): { name: string; next: number } | null {
  if (i < words.length && words[i].w.toLowerCase() === 'the' && i + 1 < words.length && isCapitalised(words[i + 1].w)) i++
  if (i >= words.length || !isCapitalised(words[i].w) || /^\d/.test(words[i].w)) return null
  let j = i + 1
  while (j < words.length && j - i < 5) {
    const gap = text.slice(words[j - 1].index + words[j - 1].w.length, words[j].index)
    // Not across a comma or the end of a sentence ("Mt. Isa" is one name).
    if (!/^[\s.'’]*$/.test(gap) || (/[.]\s/.test(gap) && !/^(mt|st|pt|ft|mount)$/i.test(words[j - 1].w))) break
    if (isCapitalised(words[j].w)) j++
    else if (PLACE_CONNECTORS.has(words[j].w) && j + 1 < words.length && isCapitalised(words[j + 1].w)) j += 2
    else break
  }
  const name = text.slice(words[i].index, words[j - 1].index + words[j - 1].w.length)
  return { name, next: j }
}

/** Places after at/in/to/from/near ("from Brisbane to Darwin", "near Broken Hill"), capitalised; "Brisbane to
 * Darwin" and, typed in lower case, "from brisbane to darwin" are a trip too. A known merchant is not a place. */
export function extractPlaces(text: string): Places {
  const out: Places = {}
  const words = wordsOf(text)
  for (let i = 0; i < words.length; i++) {
    const role = PLACE_PREPOSITIONS.get(words[i].w.toLowerCase())
    if (role) {
      const found = nameFrom(words, i + 1, text)
      if (!found) continue
      const name = withoutMerchant(found.name)
      if (name && !out[role]) out[role] = name
      i = found.next - 1
      continue
    }
    // "Brisbane to Darwin": a name, "to", a name.
    const start = nameFrom(words, i, text)
    if (!start) continue
    if (start.next < words.length && words[start.next].w.toLowerCase() === 'to') {
      const end = nameFrom(words, start.next + 1, text)
      const [origin, destination] = [withoutMerchant(start.name), end && withoutMerchant(end.name)]
      if (origin && destination && !out.origin && !out.destination) {
        Object.assign(out, { origin, destination })
        i = end!.next - 1
        continue
      }
    }
    i = start.next - 1
  }
  if (!out.origin && !out.destination) Object.assign(out, lowerCaseTrip(text))
  return out
}

/** A name less a merchant it starts with ("Shell Roma" → "Roma", "Coles" → null). */
function withoutMerchant(name: string): string | null {
  const m = extractMerchant(name)
  if (!m || m.index !== 0) return name
  const rest = name.slice(m.text.length).trim()
  return rest && isCapitalised(rest) ? rest : null
}

function lowerCaseTrip(text: string): Places {
  const m = /\b(?:from\s+|(?:trip|route|drive|drive from|driving|directions)\s+)([\p{Ll}][\p{Ll}' ]{1,30}?)\s+to\s+([\p{Ll}][\p{Ll}']+(?:\s+[\p{Ll}']+){0,2})/u.exec(text)
  if (!m) return {}
  const cut = (s: string) => {
    const kept: string[] = []
    for (const w of s.split(/\s+/)) {
      if (STOP_WORDS.has(w)) break
      kept.push(w)
    }
    return kept.length && kept.length <= 3 ? titleCase(kept.join(' ')) : null
  }
  const origin = cut(m[1])
  const destination = cut(m[2])
  if (!origin || !destination || origin.split(' ').length !== m[1].trim().split(/\s+/).length) return {}
  return { origin, destination }
}

// ---------------------------------------------------------------- everything

export interface ScanOptions {
  today: string
  locale?: string
  prefer?: 'past' | 'future'
}

/** Every entity with its span; overlaps resolved (an odometer, distance, volume or
 * date beats a money amount made of the same digits). `text` is for the numbers,
 * `original` (the message as typed) for places and merchants, which need its capitals. */
export interface Scan {
  money: MoneyMatch[]
  fuelPrice: FuelPriceMatch | null
  date: DayMatch | null
  period: PeriodMatch | null
  budgetPeriod: BudgetPeriod | null
  distance: DistanceMatch | null
  volume: VolumeMatch | null
  odometer: OdometerMatch | null
  places: Places
  merchant: MerchantMatch | null
  category: string | null
}

export function scanEntities(text: string, opts: ScanOptions, original = text): Scan {
  const odometer = extractOdometer(text)
  const distance = extractDistance(text, opts)
  const volume = extractVolume(text)
  const date = extractDate(text, opts)
  const period = extractPeriod(text, opts)
  const fuelPrice = extractFuelPrice(text)
  const taken = [odometer, distance, volume, date, fuelPrice].filter((s): s is NonNullable<typeof s> => s !== null)
  const money = extractMoney(text, opts).filter((m) => !taken.some((t) => overlaps(t, m)))
  return {
    money,
    fuelPrice,
    date,
    period,
    budgetPeriod: extractBudgetPeriod(text),
    distance,
    volume,
    odometer,
    places: extractPlaces(original),
    merchant: extractMerchant(original),
    category: extractCategory(text, opts)?.category ?? null,
  }
}

/** The entities of a scan as plain values (the first amount when there are several). */
export function entitiesOf(scan: Scan): Entities {
  const e: Entities = {}
  const amount = scan.money.find((m) => m.explicit) ?? scan.money[0]
  if (amount) e.amount = { value: amount.amount, ...(amount.currency ? { currency: amount.currency } : {}) }
  if (scan.fuelPrice) {
    const f = scan.fuelPrice
    e.fuelPrice = { value: f.price, ...(f.currency ? { currency: f.currency } : {}), per: f.per }
  }
  if (scan.date) e.date = scan.date.date
  if (scan.period) {
    const { kind, offset, from, to } = scan.period
    e.period = { kind, offset, from, to }
  }
  if (scan.budgetPeriod) e.budgetPeriod = scan.budgetPeriod
  if (scan.distance) e.distance = { value: scan.distance.value, unit: scan.distance.unit, km: scan.distance.km }
  if (scan.volume) e.volume = { value: scan.volume.value, unit: scan.volume.unit, litres: scan.volume.litres }
  if (scan.odometer) e.odometer = { value: scan.odometer.value, ...(scan.odometer.unit ? { unit: scan.odometer.unit } : {}) }
  Object.assign(e, scan.places)
  if (scan.merchant) e.merchant = scan.merchant.name
  if (scan.category) e.category = scan.category
  return e
}

/** All entities of a message, as plain values. */
export function extractEntities(text: string, opts: ScanOptions): Entities {
  return entitiesOf(scanEntities(text, opts))
}
