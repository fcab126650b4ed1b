// CSV export (RFC 4180) and import (all rows or none), through the gateway.
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { awayFromWindowEdge } from './_support/apps.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { winsAppAt, winsAs } from './_support/wins.ts'
import { parseCsv } from '../supabase/functions/wins/csv.ts'
import { CSV_COLUMNS } from '../supabase/functions/wins/expense-csv.ts'

const csvHeaders = { 'content-type': 'text/csv' }
const count = async (userId: string) =>
  (await adminSql`select count(*)::int as n from pam.expenses where user_id = ${userId}`)[0].n as number

Deno.test('wins csv: export is RFC 4180, survives awkward text, and imports back unchanged', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const awkward = [
    { amount: '12.50', category: 'food', date: '2026-03-02', description: 'Coles, "the big one"', merchant: 'Coles', tags: ['nt', 'bulk buy'] },
    { amount: '3.20', category: 'dining', date: '2026-03-01', description: 'Pie\nwith sauce\r\nand peas', location: 'Daly Waters' },
    { amount: '99.99', category: 'fuel', date: '2026-03-03', description: '=HYPERLINK("http://evil")', latitude: -16.25, longitude: 133.37, fuel_volume: '45.10', odometer: 200100 },
  ]
  for (const e of awkward) assertEquals((await w('expenses', { method: 'POST', body: e })).status, 201)
  await winsAs(await signUp())('expenses', { method: 'POST', body: { amount: '1.00', category: 'fuel' } }) // someone else's

  const res = await w('expenses/export.csv')
  assertEquals(res.status, 200)
  assertEquals(res.headers.get('content-type'), 'text/csv; charset=utf-8')
  assertMatch(res.headers.get('content-disposition')!, /^attachment; filename="pam-expenses-\d{4}-\d{2}-\d{2}\.csv"$/)
  const text = res.body.text as string
  assert(text.endsWith('\r\n'))
  const records = parseCsv(text)
  assertEquals(records[0].fields, [...CSV_COLUMNS])
  assertEquals(records.length, 4, 'header and my three rows only')
  const col = (r: { fields: string[] }, name: string) => r.fields[CSV_COLUMNS.indexOf(name as never)]
  assertEquals(records.slice(1).map((r) => col(r, 'date')), ['2026-03-01', '2026-03-02', '2026-03-03'], 'oldest first')
  assertEquals(col(records[1], 'description'), 'Pie\nwith sauce\r\nand peas')
  assertEquals(col(records[2], 'description'), 'Coles, "the big one"')
  assertEquals(col(records[2], 'tags'), 'nt;bulk buy')
  assertEquals(col(records[3], 'description'), '\'=HYPERLINK("http://evil")', 'formulas are defused')
  assertEquals([col(records[3], 'amount'), col(records[3], 'latitude'), col(records[3], 'fuel_volume'), col(records[3], 'odometer')], ['99.99', '-16.25', '45.10', '200100'])
  assertEquals((await w('expenses/export.csv?category=fuel')).body.text.split('\r\n').length, 3) // header, one row, ''
  assertEquals((await w('expenses/export.csv?from=2026-03-05&to=2026-03-01')).status, 400)

  // Into another account, unchanged.
  const copy = await signUp()
  const imported = await winsAs(copy)('expenses/import', { method: 'POST', body: text, headers: csvHeaders })
  assertEquals(imported.status, 201, JSON.stringify(imported.body))
  assertEquals(imported.body.imported, 3)
  const fields = 'amount::text, category, date::text, description, merchant, location, tags, latitude, fuel_volume::text, odometer'
  const mine = await adminSql.unsafe(`select ${fields} from pam.expenses where user_id = $1 order by date`, [user.id])
  const theirs = await adminSql.unsafe(`select ${fields} from pam.expenses where user_id = $1 order by date`, [copy.id])
  assertEquals(theirs, mine)
})

Deno.test('wins csv: export streams large accounts in chunks, each row once', async () => {
  const user = await signUp()
  await adminSql`
    insert into pam.expenses (user_id, amount, category, date, description)
    select ${user.id}, (g % 100) + 1, 'other', date '2026-01-01' + (g % 50), 'row ' || g
    from generate_series(1, 4500) g`
  const text = (await winsAs(user)('expenses/export.csv')).body.text as string
  const records = parseCsv(text)
  assertEquals(records.length, 4501)
  assertEquals(new Set(records.slice(1).map((r) => r.fields[0])).size, 4500)
})

Deno.test('wins csv: a good file imports every row (any column order, quotes, BOM, JSON body)', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const hustle = (await w('hustles', { method: 'POST', body: { title: 'Markets' } })).body.hustle
  const file = '\uFEFFAmount,Date,Description,Category,Tags,Hustle_ID\r\n' +
    `45.20,2026-03-01,"Shell, Roma",,,\r\n` +
    `12.00,2026-03-02,"Stall fee\nSaturday market",other,market;weekend,${hustle.id}\r\n` +
    `8.5,2026-03-03,Flat white,,,\r\n`
  const res = await w('expenses/import', { method: 'POST', body: file, headers: csvHeaders })
  assertEquals(res.status, 201, JSON.stringify(res.body))
  assertEquals([res.body.imported, res.body.categories_inferred], [3, 2])
  const rows = await adminSql`
    select amount::text, category, category_source, description, tags, hustle_id from pam.expenses
    where user_id = ${user.id} order by date`
  assertEquals(rows.map((r) => [r.amount, r.category, r.category_source]), [
    ['45.20', 'fuel', 'rule'],
    ['12.00', 'other', 'user'],
    ['8.50', 'dining', 'rule'],
  ])
  assertEquals([rows[1].description, rows[1].tags, rows[1].hustle_id], ['Stall fee\nSaturday market', ['market', 'weekend'], hustle.id])

  const json = await w('expenses/import', { method: 'POST', body: { csv: 'date,amount,category\n2026-03-04,1.00,food\n' } })
  assertEquals([json.status, json.body.imported], [201, 1])
  assertEquals(await count(user.id), 4)
})

Deno.test('wins csv: an import with an Idempotency-Key is done once; its retry gets the same answer', async () => {
  // The key's fingerprint reads the body first: the import must still get the file.
  const user = await signUp()
  const w = winsAs(user)
  const headers = { ...csvHeaders, 'idempotency-key': crypto.randomUUID() }
  const file = 'date,amount,category\n2026-03-05,2.00,food\n2026-03-06,3.00,fuel\n'
  const first = await w('expenses/import', { method: 'POST', body: file, headers })
  assertEquals([first.status, first.body.imported], [201, 2], JSON.stringify(first.body))
  const again = await w('expenses/import', { method: 'POST', body: file, headers })
  assertEquals([again.status, again.body.imported, again.headers.get('idempotent-replayed')], [201, 2, 'true'])
  assertEquals(await count(user.id), 2)
})

Deno.test('wins csv: one bad row imports nothing, and every problem is reported with its line', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const file = [
    'date,amount,category,description', //                     line 1
    '2026-03-01,10.00,fuel,ok', //                               line 2
    '2026-03-02,-4.00,fuel,negative', //                         line 3
    '2026-03-03,5.00,food,"spans', //                            line 4
    'two lines"', //                                             line 5
    '2026-02-30,5.00,food,no such day', //                       line 6
    '2026-03-04,5.00,yachts,unknown category', //                line 7
    '2026-03-05,5.00,food', //                                   line 8: a field short
    '2026-03-06,1000000.01,food,absurd', //                      line 9
    '2026-03-07,0,food,zero', //                                 line 10
  ].join('\r\n')
  const res = await w('expenses/import', { method: 'POST', body: file, headers: csvHeaders })
  assertEquals(res.status, 400, JSON.stringify(res.body))
  assertEquals(res.body.error.code, 'invalid_rows')
  const errors = res.body.error.details.errors as { line: number; column: string | null }[]
  assertEquals(errors.map((e) => [e.line, e.column]), [
    [3, 'amount'],
    [6, 'date'],
    [7, 'category'],
    [8, null],
    [9, 'amount'],
    [10, 'amount'],
  ])
  assertEquals(res.body.error.details.error_count, 6)
  assertEquals(await count(user.id), 0, 'nothing imported')
  // Fix the file: all of it goes in.
  const fixed = 'date,amount,category,description\r\n2026-03-01,10.00,fuel,ok\r\n2026-03-03,5.00,food,"spans\r\ntwo lines"\r\n'
  assertEquals((await w('expenses/import', { method: 'POST', body: fixed, headers: csvHeaders })).body.imported, 2)
  assertEquals(await count(user.id), 2)
})

Deno.test('wins csv: malformed files, limits and media types', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const post = (body: string, headers: Record<string, string> = csvHeaders) => w('expenses/import', { method: 'POST', body, headers })
  const code = async (body: string, headers?: Record<string, string>) => {
    const res = await post(body, headers)
    return [res.status, res.body.error?.code]
  }
  assertEquals(await code('date,amount\n2026-03-01,"10.00\n'), [400, 'invalid_csv'])
  assertEquals((await post('date,amount\n2026-03-01,"10.00\n')).body.error.details.line, 2)
  assertEquals(await code('date,amount,colour\n2026-03-01,1.00,red\n'), [400, 'invalid_csv'])
  assertEquals(await code('date,description\n2026-03-01,x\n'), [400, 'invalid_csv'])
  assertEquals(await code('date,amount,amount\n2026-03-01,1,2\n'), [400, 'invalid_csv'])
  assertEquals(await code(''), [400, 'empty_csv'])
  assertEquals(await code('date,amount\r\n'), [400, 'empty_csv'])
  const many = 'date,amount\n' + '2026-03-01,1.00\n'.repeat(5001)
  assertEquals(await code(many), [400, 'too_many_rows'])
  const big = 'date,amount,description\n' + `2026-03-01,1.00,${'x'.repeat(400)}\n`.repeat(2700) // > 1 MiB
  assertEquals((await post(big)).status, 413)
  assertEquals(await code('date,amount\n2026-03-01,1.00\n', { 'content-type': 'application/xml' }), [415, 'unsupported_media_type'])
  assertEquals((await w('expenses/import', { method: 'POST', body: { file: 'x' } })).status, 400)
  assertEquals(await count(user.id), 0)
  // The limit is 5,000 rows: exactly that many is fine.
  const max = 'date,amount,category\n' + '2026-03-01,1.00,other\n'.repeat(5000)
  const ok = await post(max)
  assertEquals([ok.status, ok.body.imported], [201, 5000])
  assertEquals(await count(user.id), 5000)
})

Deno.test('wins csv: an import triggers the budget alert like a single expense', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const today = (await w('summary')).body.today as string
  await w('budgets/fuel', { method: 'PUT', body: { amount: '100.00' } })
  const res = await w('expenses/import', { method: 'POST', body: `date,amount,category\n${today},60,fuel\n${today},25,fuel\n`, headers: csvHeaders })
  assertEquals(res.status, 201)
  assertEquals(res.body.budgets[0].alert, { threshold: 80, notified: true })
  const [n] = await adminSql`select count(*)::int as n from pam.notifications where user_id = ${user.id}`
  assertEquals(n.n, 1)
})

Deno.test('wins csv: export and import are on the bulk rate limit', async () => {
  await awayFromWindowEdge()
  const user = await signUp()
  const w = winsAppAt(new Date(), { PAM_RATE_LIMIT_BULK: '2', PAM_RATE_LIMIT_STANDARD: '1000' })(user)
  const first = await w('expenses/export.csv')
  assertEquals([first.status, first.headers.get('x-ratelimit-limit')], [200, '2'])
  assertEquals((await w('expenses/import', { method: 'POST', body: 'date,amount\n2026-03-01,1.00\n', headers: csvHeaders })).status, 201)
  // Over the limit, an export is refused before its query runs: with the table locked, the 429 comes all the same.
  let unlock!: () => void
  const locked = new Promise<void>((resolve) => {
    adminSql.begin(async (tx) => {
      await tx`lock table pam.expenses in access exclusive mode`
      resolve()
      await new Promise<void>((r) => unlock = r)
    })
  })
  await locked
  let limited
  try {
    limited = await Promise.race([
      w('expenses/export.csv'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the export waited for the table')), 3000)),
    ])
  } finally {
    unlock()
  }
  assertEquals([limited.status, limited.body.error.code], [429, 'rate_limited'])
  assert(limited.headers.get('retry-after'))
  // Other routes are on the standard tier.
  assertEquals((await w('expenses')).headers.get('x-ratelimit-limit'), '1000')
})
