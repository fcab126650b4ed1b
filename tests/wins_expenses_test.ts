// /wins/expenses end to end through the gateway: CRUD, validation, other
// users' rows, classification, filters and keyset pages, and "today" in the
// user's time zone.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, functionsUrl, signUp } from './_support/stack.ts'
import { dayIn, insertExpenses, userWith, vehicleAndTrip, winsAppAt, winsAs } from './_support/wins.ts'

const count = async (userId: string) =>
  (await adminSql`select count(*)::int as n from pam.expenses where user_id = ${userId}`)[0].n as number

Deno.test('wins expenses: create, read, update, delete; money stays a decimal string', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const hustle = (await w('hustles', { method: 'POST', body: { title: 'Photos' } })).body.hustle
  const { vehicle, trip } = await vehicleAndTrip(user.id)
  const input = {
    amount: '85.5',
    currency: 'AUD',
    category: 'fuel',
    description: 'Fill-up before the Plenty Highway',
    merchant: 'Shell',
    date: '2026-03-01',
    location: 'Alice Springs NT',
    latitude: -23.698,
    longitude: 133.8807,
    payment_method: 'card',
    tags: ['outback', 'long drive'],
    receipt_url: 'https://example.com/r/1.jpg',
    vehicle_id: vehicle,
    trip_id: trip,
    hustle_id: hustle.id,
    fuel_type: 'diesel',
    fuel_volume: '62.40',
    fuel_price_per_unit: '2.199',
    odometer: 184233,
  }
  const created = await w('expenses', { method: 'POST', body: input })
  assertEquals(created.status, 201, JSON.stringify(created.body))
  const e = created.body.expense
  assertEquals(e.amount, '85.50')
  assertEquals(typeof e.amount, 'string')
  assertEquals({ ...e, id: undefined, created_at: undefined, updated_at: undefined }, {
    ...input,
    amount: '85.50',
    category_source: 'user',
    fuel_full_tank: true,
    receipt_path: null,
    id: undefined,
    created_at: undefined,
    updated_at: undefined,
  })
  assertEquals(created.body.category_inferred, false)
  assertEquals(created.body.classification, null)
  assertEquals(created.body.budgets, [])

  const read = await w(`expenses/${e.id}`)
  assertEquals(read.status, 200)
  assertEquals(read.body.expense, e)

  const patched = await w(`expenses/${e.id}`, {
    method: 'PATCH',
    body: { amount: '90.00', tags: [], location: null, latitude: null, longitude: null, hustle_id: null },
  })
  assertEquals(patched.status, 200, JSON.stringify(patched.body))
  assertEquals(patched.body.expense.amount, '90.00')
  assertEquals(patched.body.expense.tags, [])
  assertEquals(patched.body.expense.location, null)
  assertEquals(patched.body.expense.latitude, null)
  assertEquals(patched.body.expense.hustle_id, null)
  assertEquals(patched.body.expense.merchant, 'Shell', 'untouched fields stay')
  assert(patched.body.expense.updated_at > e.updated_at)

  const deleted = await w(`expenses/${e.id}`, { method: 'DELETE' })
  assertEquals(deleted.status, 204)
  assertEquals((await w(`expenses/${e.id}`)).status, 404)
  assertEquals((await w(`expenses/${e.id}`, { method: 'DELETE' })).status, 404)
})

Deno.test('wins expenses: supabase-js functions.invoke works as an app would use it', async () => {
  const user = await signUp()
  const { data, error } = await user.client.functions.invoke('wins/expenses', {
    method: 'POST',
    body: { amount: '4.50', description: 'Flat white', date: '2026-03-02' },
  })
  assertEquals(error, null)
  assertEquals(data.expense.category, 'dining')
  const list = await user.client.functions.invoke('wins/expenses?category=dining', { method: 'GET' })
  assertEquals(list.data.expenses.map((x: { id: string }) => x.id), [data.expense.id])
})

Deno.test('wins expenses: bad input is a 400 naming the field, and stores nothing', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const ok = { amount: '10.00', category: 'fuel', date: '2026-03-01' }
  const cases: [unknown, string | null, string][] = [
    [{ ...ok, amount: '-5.00' }, 'amount', 'negative'],
    [{ ...ok, amount: '0' }, 'amount', 'zero'],
    [{ ...ok, amount: '0.00' }, 'amount', 'zero with decimals'],
    [{ ...ok, amount: '1000000.01' }, 'amount', 'absurd'],
    [{ ...ok, amount: '99999999999' }, 'amount', 'too many digits'],
    [{ ...ok, amount: '12.345' }, 'amount', 'three decimals'],
    [{ ...ok, amount: 12.5 }, 'amount', 'a JSON number'],
    [{ ...ok, amount: '1e3' }, 'amount', 'exponent'],
    [{ category: 'fuel' }, 'amount', 'missing amount'],
    [{ ...ok, date: '2026-02-30' }, 'date', 'not a calendar day'],
    [{ ...ok, date: '2026-13-01' }, 'date', 'month 13'],
    [{ ...ok, date: '31/03/2026' }, 'date', 'wrong format'],
    [{ ...ok, date: '1969-12-31' }, 'date', 'before 1970'],
    [{ ...ok, category: 'Fuel!' }, 'category', 'not a slug'],
    [{ ...ok, currency: 'aud' }, 'currency', 'lower-case currency'],
    [{ ...ok, colour: 'red' }, null, 'unknown field'],
    [{ ...ok, user_id: crypto.randomUUID() }, null, 'user_id is never taken from the body'],
    [{ ...ok, latitude: -23.7 }, 'latitude', 'latitude without longitude'],
    [{ ...ok, latitude: 91, longitude: 0 }, 'latitude', 'latitude out of range'],
    [{ ...ok, longitude: 181, latitude: 0 }, 'longitude', 'longitude out of range'],
    [{ ...ok, description: 'x'.repeat(501) }, 'description', 'description too long'],
    [{ ...ok, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags', 'too many tags'],
    [{ ...ok, tags: ['a;b'] }, 'tags', 'tag with a separator'],
    [{ ...ok, receipt_url: 'ftp://example.com/x' }, 'receipt_url', 'not http'],
    [{ ...ok, vehicle_id: 'car-1' }, 'vehicle_id', 'bad uuid'],
    [{ ...ok, hustle_id: 'nope' }, 'hustle_id', 'bad hustle uuid'],
    [{ ...ok, payment_method: 'barter' }, 'payment_method', 'unknown payment method'],
    [{ ...ok, odometer: 12.5 }, 'odometer', 'fractional odometer'],
    [{ ...ok, fuel_volume: '-3' }, 'fuel_volume', 'negative volume'],
  ]
  for (const [body, field, why] of cases) {
    const res = await w('expenses', { method: 'POST', body })
    assertEquals(res.status, 400, `${why}: ${JSON.stringify(res.body)}`)
    assertEquals(res.body.error.code, 'validation_failed', why)
    if (field) assertEquals(res.body.error.details[0].path[0], field, why)
  }
  const unknown = await w('expenses', { method: 'POST', body: { ...ok, category: 'yachts' } })
  assertEquals(unknown.status, 400)
  assertEquals(unknown.body.error.code, 'unknown_category')
  const notMine = await w('expenses', { method: 'POST', body: { ...ok, hustle_id: crypto.randomUUID() } })
  assertEquals(notMine.status, 400)
  assertEquals(notMine.body.error.code, 'unknown_hustle')
  const someoneElses = await vehicleAndTrip((await signUp()).id)
  for (const [field, id, code] of [['vehicle_id', someoneElses.vehicle, 'unknown_vehicle'], ['trip_id', someoneElses.trip, 'unknown_trip']]) {
    const res = await w('expenses', { method: 'POST', body: { ...ok, [field]: id } })
    assertEquals([res.status, res.body.error.code], [400, code], field)
    const mine = (await w('expenses', { method: 'POST', body: ok })).body.expense
    const patched = await w(`expenses/${mine.id}`, { method: 'PATCH', body: { [field]: id } })
    assertEquals([patched.status, patched.body.error.code], [400, code], `PATCH ${field}`)
    assertEquals((await w(`expenses/${mine.id}`, { method: 'DELETE' })).status, 204)
  }
  const malformed = await w('expenses', { method: 'POST', body: '{"amount": "1.00",' })
  assertEquals(malformed.status, 400)
  const oversized = await w('expenses', { method: 'POST', body: { ...ok, description: 'x'.repeat(70 * 1024) } })
  assertEquals(oversized.status, 413)
  assertEquals(oversized.body.error.code, 'payload_too_large')
  assertEquals(await count(user.id), 0)
})

Deno.test('wins expenses: ids are validated, and other users\' rows are 404 and untouched', async () => {
  const owner = await signUp()
  const other = await signUp()
  const mine = (await winsAs(owner)('expenses', { method: 'POST', body: { amount: '20.00', category: 'food' } })).body.expense
  const w = winsAs(other)
  assertEquals((await w(`expenses/${mine.id}`)).status, 404)
  assertEquals((await w(`expenses/${mine.id}`, { method: 'PATCH', body: { amount: '1.00' } })).status, 404)
  assertEquals((await w(`expenses/${mine.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await w('expenses')).body.expenses, [])
  const [row] = await adminSql`select amount::text as a from pam.expenses where id = ${mine.id}`
  assertEquals(row.a, '20.00')

  const bad = await w('expenses/not-a-uuid')
  assertEquals(bad.status, 400)
  assertEquals(bad.body.error.details[0].path, ['id'])
  assertEquals((await w('expenses/12345678', { method: 'DELETE' })).status, 400)
  const o = winsAs(owner)
  const empty = await o(`expenses/${mine.id}`, { method: 'PATCH', body: {} })
  assertEquals(empty.status, 400)
  assertEquals((await o(`expenses/${mine.id}`, { method: 'PATCH', body: { amount: null } })).status, 400)
  assertEquals((await o(`expenses/${mine.id}`, { method: 'PATCH', body: { category: 'yachts' } })).body.error.code, 'unknown_category')
  // Not captured by /expenses/{id}:
  const csv = await o('expenses/export.csv')
  assertEquals(csv.status, 200)
  assert(csv.headers.get('content-type')!.startsWith('text/csv'))
})

Deno.test('wins expenses: categories are inferred from merchants and keywords, and learned from the user', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const post = async (body: Record<string, unknown>) => {
    const res = await w('expenses', { method: 'POST', body: { amount: '10.00', date: '2026-03-01', ...body } })
    assertEquals(res.status, 201, JSON.stringify(res.body))
    return res.body
  }
  const shell = await post({ description: 'Shell Roma' })
  assertEquals([shell.expense.category, shell.expense.category_source, shell.category_inferred], ['fuel', 'rule', true])
  assertEquals(shell.classification, { source: 'rule', matched: 'Shell' })
  assertEquals((await post({ merchant: 'KOA', description: 'two nights' })).expense.category, 'camping')
  assertEquals((await post({ description: 'BIG4 Port Augusta' })).expense.category, 'camping')
  assertEquals((await post({ description: 'Woolworths Broome' })).expense.category, 'food')
  assertEquals((await post({ description: 'Lakeside caravan park' })).expense.category, 'camping')
  const unknown = await post({ description: "Mick's Place" })
  assertEquals([unknown.expense.category, unknown.classification.source], ['other', 'default'])

  // The user says what Mick's Place is; next time it is learned.
  const fixed = await w(`expenses/${unknown.expense.id}`, { method: 'PATCH', body: { category: 'dining' } })
  assertEquals(fixed.body.expense.category_source, 'user')
  const again = await post({ description: "mick's  place!" })
  assertEquals([again.expense.category, again.expense.category_source], ['dining', 'learned'])
  assertEquals(again.classification, { source: 'learned', matched: 'mick s place' })

  // A learned choice beats a merchant rule: this user buys snacks at Shell Roma.
  await post({ description: 'Shell Roma', category: 'food' })
  const snacks = await post({ description: 'SHELL ROMA' })
  assertEquals([snacks.expense.category, snacks.expense.category_source], ['food', 'learned'])
  // The user's own categories can be learned too.
  assertEquals((await w('categories', { method: 'POST', body: { slug: 'laundry', label: 'Laundry' } })).status, 201)
  await post({ merchant: 'Suds Laundromat', category: 'laundry' })
  assertEquals((await post({ merchant: 'Suds Laundromat' })).expense.category, 'laundry')
  // Learning is per user.
  const stranger = await winsAs(await signUp())('expenses', { method: 'POST', body: { amount: '1.00', description: 'Shell Roma' } })
  assertEquals(stranger.body.expense.category, 'fuel')
})

Deno.test('wins expenses: filters and keyset pages, newest first, each row exactly once', async () => {
  const user = await signUp()
  const other = await signUp()
  const w = winsAs(user)
  const hustle = (await w('hustles', { method: 'POST', body: { title: 'Markets' } })).body.hustle
  const { vehicle, trip } = await vehicleAndTrip(user.id)
  await insertExpenses(user.id, [
    { amount: 10, category: 'fuel', date: '2026-03-01', description: 'Shell', vehicle_id: vehicle },
    { amount: 11, category: 'fuel', date: '2026-03-03', description: 'BP 100%_off', vehicle_id: vehicle, trip_id: trip },
    { amount: 12, category: 'food', date: '2026-03-03', description: 'Coles', merchant: 'Coles Katherine', tags: ['nt'] },
    { amount: 13, category: 'food', date: '2026-03-03', description: 'IGA', location: 'Daly Waters', trip_id: trip },
    { amount: 14, category: 'camping', date: '2026-03-05', description: 'Site', hustle_id: hustle.id, tags: ['nt', 'free'] },
    { amount: 15, category: 'dining', date: '2026-02-27', description: 'Pie' },
  ])
  await insertExpenses(other.id, [{ amount: 99, category: 'fuel', date: '2026-03-02', description: 'Shell' }])

  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await w(`expenses?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    assertEquals(res.status, 200)
    seen.push(...res.body.expenses.map((e: { amount: string }) => e.amount))
    cursor = res.body.next_cursor
    pages++
  } while (cursor)
  assertEquals(pages, 3)
  assertEquals(seen.length, 6)
  assertEquals(seen[0], '14.00')
  assertEquals(new Set(seen).size, 6, 'no row twice')
  assertEquals(seen.slice(1, 4).sort(), ['11.00', '12.00', '13.00'])
  assertEquals(seen.slice(4), ['10.00', '15.00'])

  const amounts = async (query: string) => {
    const res = await w(`expenses?${query}`)
    assertEquals(res.status, 200, `${query}: ${JSON.stringify(res.body)}`)
    return res.body.expenses.map((e: { amount: string }) => e.amount).sort()
  }
  assertEquals(await amounts('from=2026-03-03&to=2026-03-04'), ['11.00', '12.00', '13.00'])
  assertEquals(await amounts('category=food'), ['12.00', '13.00'])
  assertEquals(await amounts(`vehicle_id=${vehicle}`), ['10.00', '11.00'])
  assertEquals(await amounts(`trip_id=${trip}`), ['11.00', '13.00'])
  assertEquals(await amounts(`hustle_id=${hustle.id}`), ['14.00'])
  assertEquals(await amounts('tag=nt'), ['12.00', '14.00'])
  assertEquals(await amounts('q=katherine'), ['12.00'])
  assertEquals(await amounts('q=daly'), ['13.00'])
  assertEquals(await amounts('q=shell'), ['10.00'])
  assertEquals(await amounts(`q=${encodeURIComponent('%_')}`), ['11.00'], 'LIKE wildcards are literal')
  assertEquals(await amounts('category=fuel&from=2026-03-02'), ['11.00'])

  for (const bad of ['limit=0', 'limit=201', 'limit=abc', 'from=2026-03-05&to=2026-03-01', 'from=yesterday', 'cursor=garbage', 'vehicle_id=1']) {
    const res = await w(`expenses?${bad}`)
    assertEquals(res.status, 400, bad)
  }
  assertEquals((await w('expenses?cursor=garbage')).body.error.code, 'invalid_cursor')
  assertEquals((await w('expenses?limit=200')).status, 200)
})

Deno.test('wins expenses: without a date, the expense is dated today in the user\'s time zone', async () => {
  // 2026-03-31 15:30 UTC: 23:30 on the 31st in Perth, 01:30 on 1 April in Brisbane.
  const at = winsAppAt('2026-03-31T15:30:00Z')
  const perth = await userWith({ timezone: 'Australia/Perth' })
  const brisbane = await userWith({ timezone: 'Australia/Brisbane' })
  const plain = await userWith()
  const post = async (u: typeof perth) => (await at(u)('expenses', { method: 'POST', body: { amount: '5.00', category: 'food' } })).body.expense.date
  assertEquals(await post(perth), '2026-03-31')
  assertEquals(await post(brisbane), '2026-04-01')
  assertEquals(await post(plain), '2026-03-31')
  // And with the real clock, through the gateway.
  const kiribati = await userWith({ timezone: 'Pacific/Kiritimati' }) // UTC+14
  const samoa = await userWith({ timezone: 'Pacific/Pago_Pago' }) // UTC-11
  const before = [dayIn('Pacific/Kiritimati'), dayIn('Pacific/Pago_Pago')]
  const k = (await winsAs(kiribati)('expenses', { method: 'POST', body: { amount: '1.00', category: 'food' } })).body.expense.date
  const s = (await winsAs(samoa)('expenses', { method: 'POST', body: { amount: '1.00', category: 'food' } })).body.expense.date
  const after = [dayIn('Pacific/Kiritimati'), dayIn('Pacific/Pago_Pago')]
  // (Either side of a local midnight that falls during the calls.)
  assert([before[0], after[0]].includes(k), `Kiritimati: ${k}`)
  assert([before[1], after[1]].includes(s), `Pago Pago: ${s}`)
  assert(k > s, 'a day apart, at least')
  // The home currency is the default currency.
  const nz = await userWith({ currency: 'NZD' })
  assertEquals((await winsAs(nz)('expenses', { method: 'POST', body: { amount: '1.00', category: 'food' } })).body.expense.currency, 'NZD')
})

Deno.test('wins expenses: pages stay exact when rows share a date and a created_at (one import)', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const csv = 'date,amount,category\n' + Array.from({ length: 7 }, (_, i) => `2026-03-01,${i + 1}.00,food\n`).join('')
  assertEquals((await w('expenses/import', { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } })).status, 201)
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res = await w(`expenses?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
    seen.push(...res.body.expenses.map((e: { id: string }) => e.id))
    cursor = res.body.next_cursor
  } while (cursor)
  assertEquals(seen.length, 7)
  assertEquals(new Set(seen).size, 7)
})

Deno.test('wins: every route is in the OpenAPI document, merged at the gateway too', async () => {
  const doc = (await winsAs(await signUp())('openapi.json')).body
  assertEquals(Object.keys(doc.paths).sort(), [
    '/wins/budgets', '/wins/budgets/{category}', '/wins/categories', '/wins/categories/{slug}', '/wins/expenses',
    '/wins/expenses/export.csv', '/wins/expenses/import', '/wins/expenses/{id}', '/wins/goals', '/wins/goals/{id}',
    '/wins/goals/{id}/contributions', '/wins/hustles', '/wins/hustles/roi', '/wins/hustles/{id}', '/wins/hustles/{id}/roi',
    '/wins/income', '/wins/income/{id}', '/wins/receipts/read', '/wins/reports', '/wins/summary',
  ])
  assert(doc.paths['/wins/expenses'].post.requestBody.content['application/json'].schema)
  assertEquals(doc.paths['/wins/expenses/{id}'].delete.security, [{ bearerAuth: [] }])
  const merged = await (await fetch(`${functionsUrl}/openapi.json`)).json()
  assert(merged.paths['/wins/summary'].get && merged.components.schemas.Expense)
})
