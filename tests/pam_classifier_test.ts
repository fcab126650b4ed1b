// PAM's intent classifier and entity extractors: pure functions, no database,
// no stack (run on its own with `node scripts/run.mjs test -A tests/pam_classifier_test.ts`).
// The entity extractors against pinned days (month, year and leap-day
// boundaries; en-AU and en-US day/month order), then the labelled messages of
// tests/_support/pam-labelled-messages.ts: accuracy overall and per intent,
// the misses, exact entities, and the cost per message.
import { assert, assertEquals } from './_support/assert.ts'
import {
  extractBudgetPeriod,
  extractCategory,
  extractDate,
  extractDistance,
  extractEntities,
  extractFuelPrice,
  extractMerchant,
  extractMoney,
  extractOdometer,
  extractPeriod,
  extractPlaces,
  extractVolume,
  monthFirst,
} from '../supabase/functions/_shared/pam/entities.ts'
import { classify, type Classification, INTENTS, normalise } from '../supabase/functions/_shared/pam/classifier.ts'
import {
  type ExpectedEntities,
  HELD_OUT,
  LABELLED,
  type Labelled,
  SECOND_ROUND,
  TODAY,
} from './_support/pam-labelled-messages.ts'

// ---------------------------------------------------------------- money

const money = (text: string, locale?: string) => extractMoney(text, { locale }).map((m) => m.currency ? `${m.amount} ${m.currency}` : m.amount)

Deno.test('money: symbols, words, currencies, thousands and k', () => {
  const cases: [string, string[]][] = [
    ['$45.50', ['45.50']],
    ['45 bucks', ['45.00']],
    ['45 dollars', ['45.00']],
    ['AUD 45', ['45.00 AUD']],
    ['45 aud', ['45.00 AUD']],
    ['A$45', ['45.00 AUD']],
    ['US$40 at Walmart', ['40.00 USD']],
    ['NZ$85 for the ferry', ['85.00 NZD']],
    ['usd 300', ['300.00 USD']],
    ['€30', ['30.00 EUR']],
    ['£12.5 for a pint', ['12.50 GBP']],
    ['45 quid', ['45.00 GBP']],
    ['50€ für Diesel', ['50.00 EUR']],
    ['$1.2k', ['1200.00']],
    ['$1.25k', ['1250.00']],
    ['saved 2k', ['2000.00']],
    ['client paid 1,250', ['1250.00']],
    ['45.5 on coffee', ['45.50']],
    ['spent 45 on fuel', ['45.00']],
    ['fuel 80', ['80.00']],
    ['coffee 5.50', ['5.50']],
    ['fifty bucks', ['50.00']],
    ['a hundred and twenty dollars', ['120.00']],
    ['twenty-five bucks', ['25.00']],
    ['two grand', ['2000.00']],
    ['50c for the shower', ['0.50']],
    ['$1.005', ['1.01']],
    ['paid $20 for lunch and $15.20 for cake', ['20.00', '15.20']],
  ]
  for (const [text, expected] of cases) assertEquals(money(text), expected, text)
})

Deno.test('money: numbers that are not money', () => {
  for (
    const text of [
      'I drive a 2019 Jayco', 'staying 3 nights', 'filled 62L', 'a 7.5m van', 'drove 300 km', 'on the 3rd', 'odo 184,233',
      'in 2 days', 'leaving at 5pm', 'on 3/3', 'March 3', '$2.19/L', '219.9c/L', '42', 'did 150k today', 'the 200k service',
      'at 184,000', '2 days ago', '$99999999999', '$0.00',
    ]
  ) {
    assertEquals(money(text), [], text)
  }
})

Deno.test('fuel prices: per litre and per gallon, in dollars or cents', () => {
  const price = (t: string) => {
    const p = extractFuelPrice(t)
    return p && `${p.price}/${p.per}${p.currency ? ' ' + p.currency : ''}`
  }
  assertEquals(price('55.3 litres at $2.19/L'), '2.190/L')
  assertEquals(price('diesel 1.99 a litre'), '1.990/L')
  assertEquals(price('219.9c/L'), '2.199/L')
  assertEquals(price('$3.49 a gallon'), '3.490/gal')
  assertEquals(price('2.05 per litre'), '2.050/L')
  assertEquals(price('$45 at Shell'), null)
})

// ---------------------------------------------------------------- days and periods

const day = (text: string, today: string, locale?: string, prefer?: 'past' | 'future') =>
  extractDate(text, { today, locale, prefer })?.date ?? null

Deno.test('dates: relative to today (Wednesday 4 March 2026)', () => {
  const t = '2026-03-04'
  const cases: [string, string | null][] = [
    ['today', '2026-03-04'],
    ['tonight', '2026-03-04'],
    ['yesterday', '2026-03-03'],
    ['last night', '2026-03-03'],
    ['day before yesterday', '2026-03-02'],
    ['2 days ago', '2026-03-02'],
    ['a week ago', '2026-02-25'],
    ['a couple of days ago', '2026-03-02'],
    ['last Tuesday', '2026-03-03'],
    ['on Tuesday', '2026-03-03'],
    ['on Wednesday', '2026-02-25'], // the most recent past one, not today
    ['on Friday', '2026-02-27'],
    ['on fri', '2026-02-27'],
    ['next Friday', '2026-03-06'],
    ['tomorrow', '2026-03-05'],
    ['in 3 days', '2026-03-07'],
    ['on the 3rd', '2026-03-03'],
    ['on the 4th', '2026-03-04'],
    ['on the 15th', '2026-02-15'], // after today: last month's
    ['3 March', '2026-03-03'],
    ['March 3', '2026-03-03'],
    ['the 3rd of March', '2026-03-03'],
    ['5 March', '2025-03-05'], // not yet this year: last year's
    ['Dec 25', '2025-12-25'],
    ['3 Mar 2026', '2026-03-03'],
    ['2026-03-03', '2026-03-03'],
    ['2026-02-30', null],
    ['3/3', '2026-03-03'],
    ['03/03/26', '2026-03-03'],
    ['3.3.2026', '2026-03-03'],
    ['paid 45.50 on 1/3', '2026-03-01'],
    ['nothing here', null],
  ]
  for (const [text, expected] of cases) assertEquals(day(text, t), expected, text)
})

Deno.test('dates: day/month order by locale (Intl), en-US month first', () => {
  const t = '2026-03-04'
  assert(monthFirst('en-US'))
  for (const l of ['en-AU', 'en-NZ', 'en-GB', 'de-DE', 'fr-FR', 'not a locale']) assert(!monthFirst(l), l)
  assertEquals(day('3/4', t, 'en-AU'), '2025-04-03') // 3 April: still ahead this year, so last year's
  assertEquals(day('3/4', t, 'en-GB'), '2025-04-03')
  assertEquals(day('3/4', t, 'en-US'), '2026-03-04') // March 4
  assertEquals(day('12/1', t, 'en-US'), '2025-12-01')
  assertEquals(day('12/1', t, 'en-AU'), '2026-01-12')
  assertEquals(day('3/4/2026', t, 'en-AU'), '2026-04-03')
  assertEquals(day('3/4/2026', t, 'en-US'), '2026-03-04')
  assertEquals(day('13/2', t, 'en-US'), null) // no 13th month
  assertEquals(day('3/4', t, 'en-AU', 'future'), '2026-04-03')
})

Deno.test('dates: month, year and leap-day boundaries', () => {
  // Sunday 1 March 2026
  assertEquals(day('yesterday', '2026-03-01'), '2026-02-28')
  assertEquals(day('2 days ago', '2026-03-01'), '2026-02-27')
  assertEquals(day('on the 1st', '2026-03-01'), '2026-03-01')
  assertEquals(day('on the 28th', '2026-03-01'), '2026-02-28')
  assertEquals(day('on the 30th', '2026-03-01'), '2026-01-30') // February has none
  assertEquals(day('on the 31st', '2026-03-01'), '2026-01-31')
  assertEquals(day('last Sunday', '2026-03-01'), '2026-02-22')
  assertEquals(day('on Saturday', '2026-03-01'), '2026-02-28')
  // 31 March: "the 31st" is today, "the 30th" is yesterday
  assertEquals(day('on the 31st', '2026-03-31'), '2026-03-31')
  assertEquals(day('on the 31st', '2026-04-15'), '2026-03-31') // April has none
  assertEquals(day('on the 31st', '2026-04-15', undefined, 'future'), '2026-05-31')
  // New Year's Day
  assertEquals(day('yesterday', '2026-01-01'), '2025-12-31')
  assertEquals(day('on the 15th', '2026-01-01'), '2025-12-15')
  assertEquals(day('30 Dec', '2026-01-01'), '2025-12-30')
  assertEquals(day('2 Jan', '2026-01-01', undefined, 'future'), '2026-01-02')
  // leap years
  assertEquals(day('yesterday', '2024-03-01'), '2024-02-29')
  assertEquals(day('29 Feb', '2026-03-04'), '2024-02-29')
  assertEquals(day('on the 29th', '2026-03-04'), '2026-01-29')
  assertEquals(day('on the 29th', '2024-03-04'), '2024-02-29')
})

Deno.test('dates: forward for plans and forecasts', () => {
  const t = '2026-03-04'
  assertEquals(day('on Saturday', t, undefined, 'future'), '2026-03-07')
  assertEquals(day('on Wednesday', t, undefined, 'future'), '2026-03-11')
  assertEquals(day('last Saturday', t, undefined, 'future'), '2026-02-28') // "last" still means back
  assertEquals(day('on the 3rd', t, undefined, 'future'), '2026-04-03')
  assertEquals(day('5 March', t, undefined, 'future'), '2026-03-05')
  assertEquals(day('yesterday', t, undefined, 'future'), '2026-03-03')
})

Deno.test('periods: this/last week, month, year around today', () => {
  const p = (text: string, today = '2026-03-04') => {
    const m = extractPeriod(text, { today })
    return m && `${m.kind}:${m.offset} ${m.from}..${m.to}`
  }
  assertEquals(p('this week'), 'week:0 2026-03-02..2026-03-08') // ISO week, Monday first
  assertEquals(p('last week'), 'week:-1 2026-02-23..2026-03-01')
  assertEquals(p('this month'), 'month:0 2026-03-01..2026-03-31')
  assertEquals(p('so far this month'), 'month:0 2026-03-01..2026-03-31')
  assertEquals(p('last month'), 'month:-1 2026-02-01..2026-02-28')
  assertEquals(p('this year'), 'year:0 2026-01-01..2026-12-31')
  assertEquals(p('the previous year'), 'year:-1 2025-01-01..2025-12-31')
  assertEquals(p('last month', '2026-01-15'), 'month:-1 2025-12-01..2025-12-31')
  assertEquals(p('last month', '2024-03-31'), 'month:-1 2024-02-01..2024-02-29')
  assertEquals(p('last week', '2026-01-01'), 'week:-1 2025-12-22..2025-12-28')
  assertEquals(p('YTD'), 'year:0 2026-01-01..2026-12-31')
  assertEquals(p('last Tuesday'), null)
  assertEquals(p('a week ago'), null)
})

Deno.test('budget periods', () => {
  assertEquals(extractBudgetPeriod('$400 a month'), 'monthly')
  assertEquals(extractBudgetPeriod('150 per week'), 'weekly')
  assertEquals(extractBudgetPeriod('600/month'), 'monthly')
  assertEquals(extractBudgetPeriod('$60/wk'), 'weekly')
  assertEquals(extractBudgetPeriod('a weekly budget'), 'weekly')
  assertEquals(extractBudgetPeriod('2k a year'), 'yearly')
  assertEquals(extractBudgetPeriod('$150 pw'), 'weekly')
  assertEquals(extractBudgetPeriod('make the dining budget 200'), null)
})

// ---------------------------------------------------------------- distances, volumes, odometers

Deno.test('distances: km, miles, and "k" for kilometres outside the US', () => {
  const d = (text: string, locale?: string) => {
    const m = extractDistance(text, { locale })
    return m && `${m.value} ${m.unit} = ${m.km} km`
  }
  assertEquals(d('300 km'), '300 km = 300 km')
  assertEquals(d('300km a day'), '300 km = 300 km')
  assertEquals(d('400 kms'), '400 km = 400 km')
  assertEquals(d('1,200 kilometres'), '1200 km = 1200 km')
  assertEquals(d('200 miles'), '200 mi = 321.9 km')
  assertEquals(d('26.2 mi'), '26.2 mi = 42.2 km')
  assertEquals(d('did 150k today'), '150 km = 150 km')
  assertEquals(d('only 80k to go'), '80 km = 80 km')
  assertEquals(d('did 150k today', 'en-US'), null) // "k" is a thousand there
  assertEquals(d('saved 150k'), null)
  assertEquals(d('the 200k service'), null)
  assertEquals(d('odo 184,233 km'), null) // a reading, not a distance
  assertEquals(d('at 184233 km'), null)
})

Deno.test('volumes: litres and US gallons', () => {
  const v = (text: string) => {
    const m = extractVolume(text)
    return m && `${m.value} ${m.unit} = ${m.litres} L`
  }
  assertEquals(v('62 litres'), '62 L = 62 L')
  assertEquals(v('62L'), '62 L = 62 L')
  assertEquals(v('62.4 ltr'), '62.4 L = 62.4 L')
  assertEquals(v('55.3 liters'), '55.3 L = 55.3 L')
  assertEquals(v('15 gallons'), '15 gal = 56.78 L')
  assertEquals(v('12 gal'), '12 gal = 45.42 L')
  assertEquals(v('$2.19/L'), null)
  assertEquals(v('a 7.5m van'), null)
})

Deno.test('odometer readings', () => {
  const o = (text: string) => {
    const m = extractOdometer(text)
    return m && `${m.value}${m.unit ? ' ' + m.unit : ''}`
  }
  assertEquals(o('odo 184,233'), '184233')
  assertEquals(o('odometer reading: 184233 km'), '184233 km')
  assertEquals(o('ODO at 92k'), '92000')
  assertEquals(o('had the oil changed at 184233 km'), '184233 km')
  assertEquals(o('had the oil changed at 184,000'), '184000')
  assertEquals(o('at 92.3k'), '92300')
  assertEquals(o('151,800 on the clock'), '151800')
  assertEquals(o('at 1500 miles'), '1500 mi')
  assertEquals(o('at 5000'), null) // four digits alone after "at": could be anything
  assertEquals(o('at $45'), null)
  assertEquals(o('62L at Shell'), null)
})

// ---------------------------------------------------------------- places, merchants, categories

Deno.test('places: at, in, near, to, from, "X to Y"', () => {
  assertEquals(extractPlaces('free camp near Broken Hill'), { place: 'Broken Hill' })
  assertEquals(extractPlaces('weather in Alice Springs'), { place: 'Alice Springs' })
  assertEquals(extractPlaces('heading to Cairns'), { destination: 'Cairns' })
  assertEquals(extractPlaces('drive from Brisbane to Darwin'), { origin: 'Brisbane', destination: 'Darwin' })
  assertEquals(extractPlaces('route Perth to Esperance, 400 km a day'), { origin: 'Perth', destination: 'Esperance' })
  assertEquals(extractPlaces('plan trip brisbane to townsville'), { origin: 'Brisbane', destination: 'Townsville' })
  assertEquals(extractPlaces('best way to Uluru from Coober Pedy'), { destination: 'Uluru', origin: 'Coober Pedy' })
  assertEquals(extractPlaces('near Mt. Isa'), { place: 'Mt. Isa' })
  assertEquals(extractPlaces('camping at the Bay of Fires'), { place: 'Bay of Fires' })
  assertEquals(extractPlaces('$45 at Shell'), {}) // a merchant
  assertEquals(extractPlaces('diesel at the BP in Roma'), { place: 'Roma' })
  assertEquals(extractPlaces('on Tuesday in March'), {})
  assertEquals(extractPlaces('from here to there'), {})
  assertEquals(extractPlaces('what is the weather like'), {})
  assertEquals(extractPlaces('Drive From Here To Cairns'), { destination: 'Cairns' }) // Title Case: function words are not names
})

Deno.test('merchants: known names, nicknames, initials', () => {
  const m = (text: string) => {
    const found = extractMerchant(text)
    return found && `${found.name}${found.category ? ' ' + found.category : ''}`
  }
  assertEquals(m('$45 at Shell'), 'Shell fuel')
  assertEquals(m('45 bucks at Maccas'), "McDonald's dining")
  assertEquals(m('diesel at the bp'), 'BP fuel')
  assertEquals(m('petrol at Coles Express'), 'Coles Express fuel')
  assertEquals(m('groceries at coles'), 'Coles food')
  assertEquals(m('dropped 60 at woolies'), 'Woolworths food')
  assertEquals(m('new hose from Bunnings'), 'Bunnings')
  assertEquals(m('paid at Service NSW'), 'Service NSW registration')
  assertEquals(m('weather tmr'), null)
  assertEquals(m('shellfish'), null)
})

Deno.test('categories: what was bought first, then the merchant (wins/classify.ts rules)', () => {
  const c = (text: string, locale?: string) => extractCategory(text, { locale })?.category ?? null
  assertEquals(c('spent 80 on fuel'), 'fuel')
  assertEquals(c('spent 80 on fuel at Coles'), 'fuel') // the keyword, not the supermarket
  assertEquals(c('$45 at Shell'), 'fuel')
  assertEquals(c('coffee at Shell'), 'dining')
  assertEquals(c('paid 300 at Service NSW'), 'registration') // not "service" (maintenance)
  assertEquals(c('groceries'), 'food')
  assertEquals(c('35 for a powered site'), 'camping')
  assertEquals(c('flat white 5.50'), 'dining')
  assertEquals(c('eating out'), 'dining')
  assertEquals(c('rego renewal'), 'registration')
  assertEquals(c('Telstra recharge'), 'connectivity')
  assertEquals(c('ferry to Tassie'), 'tolls')
  assertEquals(c('gas bottle refill'), 'utilities')
  assertEquals(c('55 bucks on gas', 'en-US'), 'fuel')
  assertEquals(c('55 bucks on gas', 'en-AU'), 'utilities') // LPG
  assertEquals(c('something nice'), null)
})

Deno.test('entities together: digits claimed once', () => {
  const e = extractEntities('filled up 62L at Shell for $128.40, odo 184,233 yesterday', { today: '2026-03-04' })
  assertEquals(e.amount, { value: '128.40' })
  assertEquals(e.volume, { value: 62, unit: 'L', litres: 62 })
  assertEquals(e.odometer, { value: 184233 })
  assertEquals(e.date, '2026-03-03')
  assertEquals(e.merchant, 'Shell')
  assertEquals(e.category, 'fuel')
  const fuel = extractEntities('55.3 litres at $2.19/L', { today: '2026-03-04' })
  assertEquals(fuel.amount, undefined)
  assertEquals(fuel.fuelPrice, { value: '2.190', per: 'L' })
})

// ---------------------------------------------------------------- normalisation

Deno.test('normalise: case, contractions, shorthand, typos', () => {
  assertEquals(normalise('Spnt $45 on FULE'), 'spent $45 on fuel')
  assertEquals(normalise("What's the wether tmrw?"), 'what is the weather tomorrow?')
  assertEquals(normalise('wen is the maintanence due'), 'when is the maintenance due')
  assertEquals(normalise("I'm vegetarian, don't forget"), 'i am vegetarian, do not forget')
  assertEquals(normalise('diesal at the servo'), 'diesel at the servo')
  assertEquals(normalise('servce the van'), 'service the van') // one edit from "service"
  assertEquals(normalise('the Patrol needs tyres'), 'the patrol needs tyres') // a real word: kept
  assertEquals(normalise('hows the buget'), 'how is the budget')
})

// ---------------------------------------------------------------- the classifier

interface Tally {
  total: number
  correct: number
  perIntent: Map<string, { n: number; ok: number }>
  misses: string[]
}

function run(table: Labelled[]): { tally: Tally; results: Classification[] } {
  const tally: Tally = { total: 0, correct: 0, perIntent: new Map(), misses: [] }
  const results = table.map((m) => classify(m.text, { today: TODAY, locale: m.locale }))
  table.forEach((m, i) => {
    const r = results[i]
    const row = tally.perIntent.get(m.intent) ?? { n: 0, ok: 0 }
    row.n++
    tally.total++
    if (r.intent === m.intent) {
      row.ok++
      tally.correct++
    } else {
      tally.misses.push(`${m.intent} → ${r.intent} (${r.confidence}): ${JSON.stringify(m.text)}`)
    }
    tally.perIntent.set(m.intent, row)
  })
  return { tally, results }
}

const pct = (ok: number, n: number) => `${(100 * ok / n).toFixed(1)}%`

function report(name: string, t: Tally): number {
  console.log(`\n${name}: ${t.correct}/${t.total} = ${pct(t.correct, t.total)}`)
  const rows = [...t.perIntent].sort((a, b) => a[0].localeCompare(b[0]))
  for (const [intent, { n, ok }] of rows) console.log(`  ${intent.padEnd(17)} ${String(ok).padStart(3)}/${String(n).padEnd(3)} ${pct(ok, n)}`)
  if (t.misses.length) console.log(`  misses (expected → got):\n    ${t.misses.join('\n    ')}`)
  return t.correct / t.total
}

// Floors. The classifier was tuned on LABELLED and SECOND_ROUND, where it reads
// about 99% right; an unseen message does worse: SECOND_ROUND scored 78.7% when
// first written, HELD_OUT (never tuned on, 56 messages) 87.5%. So:
// - the tuned tables must stay at ≥ 95%: above what an unseen set gets, so a
//   regression of more than about a dozen messages fails, yet a rule change
//   may trade a few messages one way for a few the other;
// - the held-out set must stay at ≥ 80%, about its 95% interval's lower end
//   (87.5% ± 9 points with 56 messages): a change that makes the rules fit the
//   tuning set at the expense of new phrasing shows up here.
const TUNED_FLOOR = 0.95
const HELD_OUT_FLOOR = 0.8

Deno.test('classifier: labelled messages (accuracy, per intent, misses)', () => {
  assert(LABELLED.length >= 220, `${LABELLED.length} labelled messages`)
  const intents = new Set<string>(INTENTS)
  for (const m of [...LABELLED, ...SECOND_ROUND, ...HELD_OUT]) assert(intents.has(m.intent), `${m.intent}: ${m.text}`)
  for (const intent of INTENTS) assert(LABELLED.some((m) => m.intent === intent), `no labelled message for ${intent}`)

  const tuned = report('tuned on (LABELLED + SECOND_ROUND)', run([...LABELLED, ...SECOND_ROUND]).tally)
  const labelledOnly = run(LABELLED).tally
  console.log(`  of which LABELLED: ${labelledOnly.correct}/${labelledOnly.total} = ${pct(labelledOnly.correct, labelledOnly.total)}`)
  const held = report('held out (never tuned on)', run(HELD_OUT).tally)
  assert(tuned >= TUNED_FLOOR, `accuracy ${pct(tuned, 1)} on the tuned tables is below ${pct(TUNED_FLOOR, 1)}`)
  assert(held >= HELD_OUT_FLOOR, `accuracy ${pct(held, 1)} on the held-out table is below ${pct(HELD_OUT_FLOOR, 1)}`)
})

function entityView(r: Classification): Record<string, unknown> {
  const e = r.entities
  return {
    amount: e.amount?.value,
    currency: e.amount?.currency,
    date: e.date,
    period: e.period && `${e.period.kind}:${e.period.offset}`,
    category: e.category,
    merchant: e.merchant,
    origin: e.origin,
    destination: e.destination,
    place: e.place,
    litres: e.volume?.litres,
    km: e.distance?.km,
    odometer: e.odometer?.value,
  }
}

function entityMismatches(table: Labelled[]): { checked: number; wrong: string[] } {
  const wrong: string[] = []
  let checked = 0
  for (const m of table) {
    if (!m.entities) continue
    const got = entityView(classify(m.text, { today: TODAY, locale: m.locale }))
    for (const [key, want] of Object.entries(m.entities) as [keyof ExpectedEntities, unknown][]) {
      checked++
      if (got[key] !== want) wrong.push(`${JSON.stringify(m.text)} ${key}: expected ${want}, got ${got[key]}`)
    }
  }
  return { checked, wrong }
}

Deno.test('classifier: exact entities of the labelled messages (amount, date, category, places…)', () => {
  const tuned = entityMismatches([...LABELLED, ...SECOND_ROUND])
  console.log(`\nentities, tuned tables: ${tuned.checked - tuned.wrong.length}/${tuned.checked} fields exact`)
  assertEquals(tuned.wrong, [])
  const held = entityMismatches(HELD_OUT)
  console.log(`entities, held out: ${held.checked - held.wrong.length}/${held.checked} fields exact`)
  if (held.wrong.length) console.log(`  ${held.wrong.join('\n  ')}`)
  // A wrong intent drops its category (categories belong to money intents), so some misses repeat here.
  assert(held.wrong.length <= held.checked * 0.1, `${held.wrong.length} of ${held.checked} held-out entity fields wrong`)
})

Deno.test('classifier: near misses between questions and statements', () => {
  const intent = (text: string, locale?: string) => classify(text, { today: TODAY, locale }).intent
  assertEquals(intent('how much did fuel cost this month'), 'spending_summary')
  assertEquals(intent('spent 80 on fuel'), 'add_expense')
  assertEquals(intent('filled up, 62L for $128'), 'log_fuel')
  assertEquals(intent('when is the oil change due?'), 'maintenance_due')
  assertEquals(intent('had the oil changed at 184,000'), 'log_maintenance')
  assertEquals(intent("how's my fuel budget"), 'budget_status')
  assertEquals(intent('set my fuel budget to 400'), 'set_budget')
  assertEquals(intent('paid 35 for a powered site'), 'add_expense')
  assertEquals(intent('find a powered site near Dubbo'), 'find_camping')
  assertEquals(intent('we always fill up at Shell'), 'remember')
  assertEquals(intent('forget that we always fill up at Shell'), 'forget')
})

Deno.test('classifier: confidence, determinism, forward dates, time zones', () => {
  for (const m of [...LABELLED, ...SECOND_ROUND, ...HELD_OUT]) {
    const a = classify(m.text, { today: TODAY, locale: m.locale })
    const b = classify(m.text, { today: TODAY, locale: m.locale })
    assertEquals(a, b, m.text)
    assert(a.confidence >= 0 && a.confidence <= 1, `${a.confidence}: ${m.text}`)
  }
  // A clear message is more confident than an ambiguous one.
  const clear = classify('how much did I spend on fuel last month?', { today: TODAY })
  const vague = classify('fuel', { today: TODAY })
  assert(clear.confidence > 0.7, `${clear.confidence}`)
  assert(vague.confidence < clear.confidence, `${vague.confidence} vs ${clear.confidence}`)
  // Empty and nonsense messages are unknown; so is a 10,000-character one, quickly.
  assertEquals(classify('', { today: TODAY }).intent, 'unknown')
  assertEquals(classify('    ', { today: TODAY }).intent, 'unknown')
  const long = classify('blah '.repeat(2000), { today: TODAY })
  assertEquals(long.intent, 'unknown')
  // Weather and trips read "Saturday" forward, expenses back.
  assertEquals(classify('will it rain on Saturday', { today: TODAY }).entities.date, '2026-03-07')
  assertEquals(classify('spent 40 on groceries on Saturday', { today: TODAY }).entities.date, '2026-02-28')
  // No locale: a US time zone means month/day.
  assertEquals(classify('groceries 3/4 $20', { today: TODAY, timeZone: 'America/Denver' }).entities.date, '2026-03-04')
  assertEquals(classify('groceries 3/4 $20', { today: TODAY, timeZone: 'Australia/Perth' }).entities.date, '2025-04-03')
  // A category only where it means something.
  assertEquals(classify('is it raining at the campsite', { today: TODAY }).entities.category, undefined)
  assertEquals(classify('diesel $95 at the BP', { today: TODAY }).entities.category, 'fuel')
})

Deno.test('classifier: cost per message', () => {
  const messages = [...LABELLED, ...SECOND_ROUND, ...HELD_OUT]
  for (const m of messages) classify(m.text, { today: TODAY, locale: m.locale }) // warm up: compile, cache
  const rounds = 20
  const started = performance.now()
  for (let i = 0; i < rounds; i++) for (const m of messages) classify(m.text, { today: TODAY, locale: m.locale })
  const perMessageUs = (performance.now() - started) * 1000 / (rounds * messages.length)
  console.log(`\nclassify: ${perMessageUs.toFixed(1)} µs per message (${messages.length} messages × ${rounds})`)
  // Typically tens of µs; the bound leaves room for a slow CI machine.
  assert(perMessageUs < 1000, `${perMessageUs.toFixed(0)} µs per message`)
})
