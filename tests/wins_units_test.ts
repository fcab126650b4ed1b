// The pure parts of wins: money arithmetic, calendar periods and time zones,
// the CSV parser and writer, category rules, cursors.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql } from './_support/stack.ts'
import { divRound, fromCents, money, percentOf, toCents } from '../supabase/functions/wins/money.ts'
import {
  daysCounted,
  isCalendarDate,
  localDate,
  periodOf,
  previousPeriodOf,
} from '../supabase/functions/wins/periods.ts'
import { csvLine, CsvError, guardFormula, parseCsv, unguardFormula } from '../supabase/functions/wins/csv.ts'
import { classify, classifyByRules } from '../supabase/functions/wins/classify.ts'
import { BUILTIN_SLUGS } from '../supabase/functions/wins/categories.ts'
import { decodeCursor, encodeCursor } from '../supabase/functions/_shared/pagination.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'
import { thresholdReached } from '../supabase/functions/wins/budget-status.ts'
import { withProgress } from '../supabase/functions/wins/goals.ts'

Deno.test('wins money: cents, rounding and percentages without floats', () => {
  assertEquals(toCents('12.5'), 1250n)
  assertEquals(toCents('0.01'), 1n)
  assertEquals(toCents('9999999999.99'), 999999999999n)
  assertEquals(toCents('-3.07'), -307n)
  assertEquals(fromCents(1250n), '12.50')
  assertEquals(fromCents(-5n), '-0.05')
  assertEquals(fromCents(0n), '0.00')
  // 0.1 + 0.2 is exact here.
  assertEquals(fromCents(toCents('0.10') + toCents('0.20')), '0.30')
  assertEquals(divRound(10n, 3n), 3n)
  assertEquals(divRound(5n, 2n), 3n)
  assertEquals(divRound(-5n, 2n), -3n)
  assertEquals(percentOf(1n, 3n), 33.3)
  assertEquals(percentOf(2n, 3n), 66.7)
  assertEquals(percentOf(5n, 0n), null)
  assertEquals(percentOf(-1757500n, 2000n), -87875)

  const schema = money()
  for (const ok of ['0.01', '12', '12.5', '12.50', '1000000', '1000000.00']) assert(schema.safeParse(ok).success, ok)
  for (const bad of ['0', '0.00', '-1', '-0.01', '12.345', '1e3', ' 12', '12,50', '1000000.01', '99999999999', '', 'NaN', '.5']) {
    assert(!schema.safeParse(bad).success, bad)
  }
  assert(!schema.safeParse(12.5).success, 'JSON numbers are refused: amounts are strings')
})

Deno.test('wins periods: ISO weeks, months, years, leap days, previous periods', () => {
  // 2026-01-01 is a Thursday: its ISO week starts on Monday 2025-12-29.
  assertEquals(periodOf('week', '2026-01-01'), { start: '2025-12-29', end: '2026-01-04', days: 7 })
  assertEquals(periodOf('week', '2026-03-15'), { start: '2026-03-09', end: '2026-03-15', days: 7 }) // a Sunday
  assertEquals(periodOf('week', '2026-03-16'), { start: '2026-03-16', end: '2026-03-22', days: 7 }) // a Monday
  assertEquals(periodOf('month', '2028-02-10'), { start: '2028-02-01', end: '2028-02-29', days: 29 })
  assertEquals(periodOf('month', '2026-12-31'), { start: '2026-12-01', end: '2026-12-31', days: 31 })
  assertEquals(periodOf('year', '2028-07-01'), { start: '2028-01-01', end: '2028-12-31', days: 366 })
  assertEquals(previousPeriodOf('month', '2026-03-31'), { start: '2026-02-01', end: '2026-02-28', days: 28 })
  assertEquals(previousPeriodOf('month', '2026-01-15'), { start: '2025-12-01', end: '2025-12-31', days: 31 })
  assertEquals(previousPeriodOf('week', '2026-01-01'), { start: '2025-12-22', end: '2025-12-28', days: 7 })
  const march = periodOf('month', '2026-03-01')
  assertEquals(daysCounted(march, '2026-03-15'), 15)
  assertEquals(daysCounted(march, '2026-03-01'), 1)
  assertEquals(daysCounted(march, '2026-04-02'), 31)
  assertEquals(daysCounted(march, '2026-02-28'), 0)
  for (const bad of ['2026-02-29', '2026-02-30', '2026-13-01', '2026-00-10', '2026-1-01', '31/03/2026', '2026-03-31T00:00']) {
    assert(!isCalendarDate(bad), bad)
  }
  assert(isCalendarDate('2028-02-29'))
})

Deno.test('wins periods: "today" is the calendar day in the user\'s time zone', () => {
  const instant = new Date('2026-03-31T15:30:00Z')
  assertEquals(localDate(instant, 'Australia/Perth'), '2026-03-31') // 23:30 local
  assertEquals(localDate(instant, 'Australia/Brisbane'), '2026-04-01') // 01:30 local
  assertEquals(localDate(instant, 'UTC'), '2026-03-31')
  assertEquals(localDate(instant, 'America/Los_Angeles'), '2026-03-31') // 08:30 local
  assertEquals(localDate(new Date('2026-04-01T06:59:00Z'), 'America/Los_Angeles'), '2026-03-31')
  assertEquals(localDate(new Date('2026-04-01T07:00:00Z'), 'America/Los_Angeles'), '2026-04-01')
  assertEquals(localDate(instant, 'Mars/Olympus_Mons'), '2026-03-31', 'an unknown zone counts as UTC')
})

Deno.test('wins csv: quotes, commas, line breaks inside quotes, CRLF, BOM, blank lines', () => {
  const text = '\uFEFFdate,amount,description\r\n' +
    '2026-03-01,12.50,"Shell, Roma"\r\n' +
    '\r\n' +
    '2026-03-02,3.00,"He said ""hi""\nand left"\n' +
    '2026-03-03,4.00,\n' +
    '2026-03-04,5.00,plain'
  const records = parseCsv(text)
  assertEquals(records, [
    { line: 1, fields: ['date', 'amount', 'description'] },
    { line: 2, fields: ['2026-03-01', '12.50', 'Shell, Roma'] },
    { line: 4, fields: ['2026-03-02', '3.00', 'He said "hi"\nand left'] },
    { line: 6, fields: ['2026-03-03', '4.00', ''] },
    { line: 7, fields: ['2026-03-04', '5.00', 'plain'] },
  ])
  assertEquals(parseCsv('a,"",c\n'), [{ line: 1, fields: ['a', '', 'c'] }])
  assertEquals(parseCsv('a,b,'), [{ line: 1, fields: ['a', 'b', ''] }])
  assertEquals(parseCsv(''), [])
  const err = (t: string) => {
    try {
      parseCsv(t)
    } catch (e) {
      if (e instanceof CsvError) return [e.line, e.message]
      throw e
    }
    throw new Error('expected a CsvError')
  }
  assertEquals(err('a,b\n1,"open\n\n'), [2, 'a quoted field is not closed'])
  assertEquals(err('a,b\n1,x"y\n')[0], 2)
  assertEquals(err('a,b\n1,"x"y\n')[0], 2)
  // Line numbers count the line breaks inside quoted fields, doubled quotes included.
  assertEquals(parseCsv('a\n"x""\ny"""\nb\n').map((r) => [r.line, r.fields]), [[1, ['a']], [2, ['x"\ny"']], [4, ['b']]])
})

Deno.test('wins csv: the parser stops at a record of more than maxFields fields, and after maxRecords', () => {
  assertEquals(parseCsv('a,b,c\n1,2,3\n', { maxFields: 3 }).length, 2)
  for (const text of ['a,b,c,d\n', 'a\n,,,\n', 'a,b,"c",d']) {
    try {
      parseCsv(text, { maxFields: 3 })
      throw new Error(`accepted ${text}`)
    } catch (e) {
      assert(e instanceof CsvError && e.code === 'too_many_columns', text)
    }
  }
  assertEquals(parseCsv('a\n1\n2\n3\n4\n', { maxRecords: 2 }).length, 3, 'one past the limit, to tell it was passed')
})

Deno.test('wins csv: what the writer writes, the parser reads back', () => {
  const values = ['plain', 'with, comma', 'with "quotes"', 'two\r\nlines', 'lf\nonly', ' padded ', '', 'ünïcødé ✓']
  const text = csvLine(values) + csvLine(['x', 'y', 'z', 'a', 'b', 'c', 'd', 'e'])
  assert(text.endsWith('\r\n'))
  assertEquals(parseCsv(text).map((r) => r.fields), [values, ['x', 'y', 'z', 'a', 'b', 'c', 'd', 'e']])
  for (const s of ['=SUM(A1:A9)', '+61 400', '-5', '@cmd', 'fine', "'quoted"]) {
    assertEquals(unguardFormula(guardFormula(s)), s)
  }
  assertEquals(guardFormula('=HYPERLINK("x")'), '\'=HYPERLINK("x")')
})

Deno.test('wins classify: merchant names, keywords, learned choices, default', () => {
  const cat = (description: string, merchant?: string) => classifyByRules(merchant, description)?.category ?? null
  for (const d of ['Shell Roma', 'BP Tennant Creek', 'Caltex Woolworths', 'Ampol Foodary', 'Coles Express Kempsey', 'diesel 62L', 'Unleaded top-up']) {
    assertEquals(cat(d), 'fuel', d)
  }
  for (const d of ['KOA Holiday Park', 'BIG4 Adventure Whitsunday', 'Big 4 Tasman', 'Alice Springs caravan park', 'Powered site 2 nights']) {
    assertEquals(cat(d), 'camping', d)
  }
  for (const d of ['Woolworths Cairns', 'Coles', 'ALDI Mildura', 'IGA Xpress', 'weekly groceries']) assertEquals(cat(d), 'food', d)
  assertEquals(cat('Lunch at the pub'), 'dining')
  assertEquals(cat('Linkt toll'), 'tolls')
  assertEquals(cat('Spirit of Tasmania'), 'tolls')
  assertEquals(cat('Gas bottle refill'), 'utilities')
  assertEquals(cat('Telstra prepaid'), 'connectivity')
  assertEquals(cat('Rego renewal'), 'registration')
  assertEquals(cat('Chemist Warehouse'), 'health')
  assertEquals(cat('New tyres'), 'maintenance')
  assertEquals(cat('x', "McDonald’s"), 'dining', 'curly apostrophes')
  // Whole words only.
  assertEquals(cat('Shellharbour markets'), null)
  assertEquals(cat('BPM festival pass'), 'entertainment')
  assertEquals(cat('Koala sanctuary'), null)
  assertEquals(cat(''), null)
  assertEquals(classifyByRules('Shell', null), { category: 'fuel', source: 'rule', matched: 'Shell' })

  assertEquals(classify('Shell', 'snacks', { category: 'food', key: 'shell' }), { category: 'food', source: 'learned', matched: 'shell' })
  assertEquals(classify(null, 'Mystery shop', null), { category: 'other', source: 'default', matched: null })
})

Deno.test('wins categories: the TypeScript list is the SQL list', async () => {
  const [row] = await adminSql`select pam.wins_builtin_categories() as slugs`
  assertEquals(row.slugs, [...BUILTIN_SLUGS])
  const [key] = await adminSql`select pam.wins_match_key('  Shell  Roma #12 ', 'x') as a, pam.wins_match_key(null, 'Mick''s Place') as b`
  assertEquals([key.a, key.b], ['shell roma', 'mick s place'])
})

Deno.test('wins cursors: opaque, round trip, and refused when forged', () => {
  const key = ['2026-03-01', '2026-03-01T10:00:00.123456Z', '8f7a3c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b']
  assertEquals(decodeCursor(encodeCursor(key), ['date', 'timestamp', 'uuid']), key)
  const forged = [
    ['2024-02-30', key[1], key[2]],
    ['0000-01-01', key[1], key[2]],
    ['2101-01-01', key[1], key[2]],
    [key[0], '2026-03-01T24:00:00.000000Z', key[2]],
    [key[0], '2026-03-01T23:59:60.000000Z', key[2]],
    [key[0], '2026-02-29T10:00:00.000000Z', key[2]],
    [key[0], key[1], 'not-a-uuid'],
  ].map(encodeCursor)
  for (const bad of ['', 'not-base64!', encodeCursor(['x']), encodeCursor(['2026-03-01', "'; drop table x", key[2]]), btoa('{"a":1}'), ...forged]) {
    try {
      decodeCursor(bad, ['date', 'timestamp', 'uuid'])
      throw new Error(`accepted ${bad}`)
    } catch (err) {
      assert(err instanceof ApiError && err.code === 'invalid_cursor', bad)
    }
  }
})

Deno.test('wins budgets and goals: thresholds and the monthly amount needed', () => {
  assertEquals(thresholdReached(0n, 10000n), null)
  assertEquals(thresholdReached(7999n, 10000n), null)
  assertEquals(thresholdReached(8000n, 10000n), 80)
  assertEquals(thresholdReached(9999n, 10000n), 80)
  assertEquals(thresholdReached(10000n, 10000n), 100)
  assertEquals(thresholdReached(1n, 0n), 100)
  const goal = {
    id: 'g', name: 'Solar', target_amount: '1000.00', saved_amount: '100.00', target_date: '2026-07-15',
    status: 'active' as const, notes: '', created_at: '', updated_at: '',
  }
  // 181 days ≈ 5.95 months → 6; 900.00 / 6 = 150.00
  assertEquals(withProgress(goal, '2026-01-15'), { ...goal, remaining: '900.00', progress_percent: 10, months_left: 6, monthly_needed: '150.00' })
  // 900.00 / 7 = 128.5714… → rounded up to 128.58
  assertEquals(withProgress({ ...goal, target_date: '2026-08-10' }, '2026-01-15').monthly_needed, '128.58')
  assertEquals(withProgress(goal, '2026-07-15').months_left, 0)
  assertEquals(withProgress(goal, '2026-08-01').monthly_needed, '900.00')
  assertEquals(withProgress({ ...goal, target_date: null }, '2026-01-15').monthly_needed, null)
  assertEquals(withProgress({ ...goal, saved_amount: '1200.00' }, '2026-01-15').remaining, '0.00')
})

Deno.test('time zones: the local day changes exactly at local midnight, also in zones a quarter hour off', () => {
  // Kathmandu is UTC+5:45: its midnight is 18:15 UTC.
  assertEquals(localDate(new Date('2026-03-01T18:14:59.999Z'), 'Asia/Kathmandu'), '2026-03-01')
  assertEquals(localDate(new Date('2026-03-01T18:15:00.000Z'), 'Asia/Kathmandu'), '2026-03-02')
  // Same quarter hour asked again, then the next: the remembered day is the right one both times.
  assertEquals(localDate(new Date('2026-03-01T18:29:00.000Z'), 'Asia/Kathmandu'), '2026-03-02')
  assertEquals(localDate(new Date('2026-03-01T23:59:59.000Z'), 'UTC'), '2026-03-01')
  assertEquals(localDate(new Date('2026-03-02T00:00:00.000Z'), 'UTC'), '2026-03-02')
  // Chatham Islands (UTC+13:45 in southern summer) and a DST change in Sydney (5 April 2026, 3am → 2am).
  assertEquals(localDate(new Date('2026-03-01T10:14:00.000Z'), 'Pacific/Chatham'), '2026-03-01')
  assertEquals(localDate(new Date('2026-03-01T10:15:00.000Z'), 'Pacific/Chatham'), '2026-03-02')
  assertEquals(localDate(new Date('2026-04-04T13:59:59.000Z'), 'Australia/Sydney'), '2026-04-05')
  assertEquals(localDate(new Date('2026-04-04T12:59:59.000Z'), 'Australia/Sydney'), '2026-04-04')
})
