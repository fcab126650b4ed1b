// Hostile input to every wins route: text Postgres cannot store, numbers and
// dates it would refuse, oversized and deeply nested bodies, forged cursors,
// pathological CSV files, limits raced by parallel requests, and accounts
// deleted under a valid token. Each is a clear 4xx that changes nothing and
// never names a database constraint.
import { assert, assertEquals, assertMatch, type Json } from './_support/assert.ts'
import { adminSql, signUp, type TestUser } from './_support/stack.ts'
import { type Answer, winsAs } from './_support/wins.ts'
import { encodeCursor } from '../supabase/functions/_shared/pagination.ts'
import { multiLineText, singleLineText } from '../supabase/functions/_shared/text.ts'

const rowCount = async (table: string, userId: string) =>
  (await adminSql.unsafe(`select count(*)::int as n from pam.${table} where user_id = $1`, [userId]))[0].n as number

function assertRefused(res: Answer, field: string | number, why: string, message?: RegExp) {
  assertEquals(res.status, 400, `${why}: ${JSON.stringify(res.body).slice(0, 300)}`)
  assertEquals(res.body.error.code, 'validation_failed', why)
  const issue = res.body.error.details.find((d: Json) => d.path.includes(field))
  assert(issue, `${why}: an issue names ${field}: ${JSON.stringify(res.body.error.details).slice(0, 300)}`)
  if (message) assertMatch(issue.message, message, why)
}

/** A user with one goal and one hustle, for the routes that need them. */
async function fixtures(): Promise<{ user: TestUser; w: ReturnType<typeof winsAs>; goal: string; hustle: string }> {
  const user = await signUp()
  const w = winsAs(user)
  const goal = (await w('goals', { method: 'POST', body: { name: 'Solar', target_amount: '500.00' } })).body.goal.id
  const hustle = (await w('hustles', { method: 'POST', body: { title: 'Markets' } })).body.hustle.id
  return { user, w, goal, hustle }
}

const CONTROL = /control characters/
const UNICODE = /unpaired surrogate/

Deno.test('wins input: the shared text type', () => {
  const line = singleLineText({ max: 3 })
  const parse = (schema: typeof line, s: string) => {
    const r = schema.safeParse(s)
    return r.success ? r.data : r.error.issues.map((i) => i.code).join()
  }
  assertEquals(parse(line, '  ab '), 'ab', 'trimmed')
  assertEquals(parse(line, '🚐🚐🚐'), '🚐🚐🚐', 'three characters, six UTF-16 units')
  assertEquals(parse(line, '🚐🚐🚐🚐'), 'too_big')
  assertEquals(parse(line, '   '), 'too_small')
  for (const bad of ['a\u0000', 'a\tb', 'a\nb', 'a\rb', 'a\u2028b', 'a\u007f', 'a\u009b', '\ud800', 'a\udc00b']) {
    assertEquals(parse(line, bad), 'custom', JSON.stringify(bad))
  }
  const block = multiLineText({ min: 0, max: 10, trim: false })
  assertEquals(parse(block, ' a\tb\r\nc '), ' a\tb\r\nc ', 'tab and line breaks kept, not trimmed')
  assertEquals(parse(block, ''), '')
  for (const bad of ['a\u0000', 'a\u0008', 'a\u000b', 'a\u001b', 'a\u0085', '\ud83d']) {
    assertEquals(parse(block, bad), 'custom', JSON.stringify(bad))
  }
  assertEquals(parse(block, '🚐'.repeat(11)), 'too_big')
})

Deno.test('wins input: NUL, control characters and unpaired surrogates in any text field are a 400 naming it', async () => {
  const { user, w, goal, hustle } = await fixtures()
  const expense = { amount: '10.00', category: 'fuel', date: '2026-03-01' }
  const income = { amount: '10.00', source: 'Markets', date: '2026-03-01' }
  // [path, method, body without the field, field, multi-line?]
  const targets: [string, string, Record<string, unknown>, string, boolean][] = [
    ['expenses', 'POST', expense, 'description', true],
    ['expenses', 'POST', expense, 'merchant', false],
    ['expenses', 'POST', expense, 'location', false],
    ['expenses', 'POST', expense, 'receipt_url', false],
    ['income', 'POST', income, 'source', false],
    ['income', 'POST', income, 'description', true],
    ['categories', 'POST', { slug: 'laundry' }, 'label', false],
    ['goals', 'POST', { target_amount: '10.00' }, 'name', false],
    ['goals', 'POST', { name: 'Tyres', target_amount: '10.00' }, 'notes', true],
    [`goals/${goal}`, 'PATCH', {}, 'name', false],
    [`goals/${goal}/contributions`, 'POST', { amount: '1.00' }, 'note', true],
    ['hustles', 'POST', {}, 'title', false],
    ['hustles', 'POST', { title: 'Repairs' }, 'notes', true],
    [`hustles/${hustle}`, 'PATCH', {}, 'notes', true],
  ]
  for (const [path, method, base, field, multiline] of targets) {
    const value = field === 'receipt_url' ? 'https://example.com/r' : 'Roma'
    for (const bad of [`${value}\u0000x`, `${value}\u0007`, `${value}\u001b[31m`, `${value}\u0085`]) {
      assertRefused(await w(path, { method, body: { ...base, [field]: bad } }), field, `${method} ${path} ${field} ${JSON.stringify(bad)}`, CONTROL)
    }
    // JSON can carry half of a surrogate pair ("\ud83d"): that is not text.
    const lone = JSON.stringify({ ...base, [field]: value }).replace(`"${value}"`, `"${value}\\ud83d"`)
    assertRefused(await w(path, { method, body: lone }), field, `${method} ${path} ${field} lone surrogate`, UNICODE)
    const lines = await w(path, { method, body: { ...base, [field]: `${value}\nsecond line` } })
    if (multiline) {
      assert(lines.status === 200 || lines.status === 201, `${path} ${field} takes line breaks: ${JSON.stringify(lines.body)}`)
    } else {
      assertRefused(lines, field, `${method} ${path} ${field} with a line break`, /single line/)
    }
  }
  // Tags: in the array, at their index.
  const tagged = await w('expenses', { method: 'POST', body: { ...expense, tags: ['ok', 'nul\u0000'] } })
  assertRefused(tagged, 'tags', 'tag with NUL', CONTROL)
  assertEquals(tagged.body.error.details[0].path, ['tags', 1])
  // PATCH goes through the same types.
  const e = (await w('expenses', { method: 'POST', body: expense })).body.expense
  assertRefused(await w(`expenses/${e.id}`, { method: 'PATCH', body: { merchant: 'a\u0000' } }), 'merchant', 'PATCH merchant')
  const i = (await w('income', { method: 'POST', body: income })).body.income
  assertRefused(await w(`income/${i.id}`, { method: 'PATCH', body: { source: 'a\u0000' } }), 'source', 'PATCH source')
  // Nothing bad was stored: only the rows created above and the multi-line ones.
  const [bad] = await adminSql`
    select count(*)::int as n from pam.expenses
    where user_id = ${user.id} and (description ~ '[\u0001-\u0008]' or merchant is not null)`
  assertEquals(bad.n, 0)
  assertEquals(await rowCount('expense_categories', user.id), 0)
})

Deno.test('wins input: text filters refuse control characters; lengths count characters as Postgres does', async () => {
  const w = winsAs(await signUp())
  for (const path of ['expenses', 'income', 'expenses/export.csv']) {
    for (const [param, value] of [['q', '%00'], ['q', 'shell%07'], ['q', 'a%0Ab'], ['tag', 'nt%00']]) {
      if (param === 'tag' && path === 'income') continue
      assertRefused(await w(`${path}?${param}=${value}`), param, `${path}?${param}=${value}`, /control characters/)
    }
  }
  // 500 emoji are 500 characters for Postgres (and 1,000 UTF-16 units): accepted, and one more is not.
  const emoji = '🚐'.repeat(500)
  const ok = await w('expenses', { method: 'POST', body: { amount: '1.00', category: 'fuel', description: emoji } })
  assertEquals(ok.status, 201, JSON.stringify(ok.body).slice(0, 200))
  assertEquals(ok.body.expense.description, emoji)
  assertRefused(await w('expenses', { method: 'POST', body: { amount: '1.00', description: emoji + '🚐' } }), 'description', '501 emoji', /<=500/)
  assertRefused(await w('expenses', { method: 'POST', body: { amount: '1.00', merchant: '   ' } }), 'merchant', 'blank merchant')
})

Deno.test('wins input: a CSV cell goes through the same row schema', async () => {
  const { user, w } = await fixtures()
  const file = 'date,amount,description,merchant,tags\r\n' +
    '2026-03-01,1.00,fine,Shell,\r\n' +
    '2026-03-02,1.00,"nul\u0000here",,\r\n' +
    '2026-03-03,1.00,ok,"two\nlines",\r\n' +
    '2026-03-04,1.00,ok,,bell\u0007\r\n'
  const res = await w('expenses/import', { method: 'POST', body: file, headers: { 'content-type': 'text/csv' } })
  assertEquals([res.status, res.body.error?.code], [400, 'invalid_rows'], JSON.stringify(res.body))
  assertEquals(res.body.error.details.errors.map((e: Json) => [e.line, e.column]), [[3, 'description'], [4, 'merchant'], [6, 'tags']])
  assertMatch(res.body.error.details.errors[0].message, CONTROL)
  assertEquals(await rowCount('expenses', user.id), 0)
})

Deno.test('wins input: CSV import reads UTF-8 bytes, takes text/plain, and names the types it accepts', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const post = (body: string | Uint8Array, type?: string) =>
    w('expenses/import', { method: 'POST', body, headers: type ? { 'content-type': type } : {} })
  // "Café" in Latin-1 (0xE9) is not UTF-8: refused, not silently turned into U+FFFD.
  const latin1 = Uint8Array.from([...'date,amount,description\n2026-03-01,4.50,Caf'].map((c) => c.charCodeAt(0)).concat([0xe9, 0x0a]))
  const refused = await post(latin1, 'text/csv')
  assertEquals([refused.status, refused.body.error.code], [400, 'invalid_encoding'])
  assertMatch(refused.body.error.message, /UTF-8/)
  const utf8 = new TextEncoder().encode('date,amount,description\n2026-03-01,4.50,Café\n')
  const taken = await post(utf8, 'text/csv; charset=utf-8')
  assertEquals(taken.status, 201, JSON.stringify(taken.body))
  const [row] = await adminSql`select description from pam.expenses where user_id = ${user.id}`
  assertEquals(row.description, 'Café')
  // supabase.functions.invoke sends a string body as text/plain.
  const { data, error } = await user.client.functions.invoke('wins/expenses/import', {
    method: 'POST',
    body: 'date,amount,category\n2026-03-02,2.00,food\n',
  })
  assertEquals(error, null)
  assertEquals(data.imported, 1)
  for (const type of ['application/xml', 'text/html', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) {
    const res = await post('date,amount\n2026-03-01,1.00\n', type)
    assertEquals([res.status, res.body.error.code], [415, 'unsupported_media_type'], type)
    assertMatch(res.body.error.message, /text\/csv.*text\/plain.*application\/json/)
  }
  // JSON {csv} is read from the same bytes: malformed JSON or a wrong shape is a 400.
  assertEquals((await post('{"csv": ', 'application/json')).body.error.code, 'invalid_body')
  assertEquals((await post('{"csv": 5}', 'application/json')).body.error.code, 'validation_failed')
  assertEquals((await post('{"csv": "date,amount\\n2026-03-03,1.00\\n", "x": 1}', 'application/json')).status, 400)
  assertEquals(await rowCount('expenses', user.id), 2)
  // The route documents the three types.
  const doc = (await w('openapi.json')).body
  assertEquals(Object.keys(doc.paths['/wins/expenses/import'].post.requestBody.content).sort(), ['application/json', 'text/csv', 'text/plain'])
})

Deno.test('wins input: pathological CSV files get a small 4xx, quickly', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const mib = 1024 * 1024
  const cases: [string, string, string][] = [
    ['60,000 columns', Array.from({ length: 60_000 }, (_, i) => `c${i}`).join(',') + '\n', 'too_many_columns'],
    ['60,000 empty columns in a row', 'date,amount\n' + ','.repeat(60_000) + '\n', 'too_many_columns'],
    ['64 unknown columns with long names', Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(1800, 'x')).join(',') + '\n', 'invalid_csv'],
    ['one huge line', 'x'.repeat(mib - 100), 'invalid_csv'],
    ['an unterminated quoted field', 'date,amount\n"' + 'x'.repeat(mib - 100), 'invalid_csv'],
    ['a field of doubled quotes', '"' + '""'.repeat(mib / 2 - 100) + '"\n', 'invalid_csv'],
    ['a million blank lines', '\n'.repeat(mib - 100), 'empty_csv'],
    ['5,000 rows, each wrong in many ways', 'date,amount,currency,latitude,odometer,payment_method\n' +
      'x,y,z,north,far,gold\n'.repeat(5000), 'invalid_rows'],
  ]
  for (const [why, file, code] of cases) {
    const started = performance.now()
    const res = await w('expenses/import', { method: 'POST', body: file, headers: { 'content-type': 'text/csv' } })
    const ms = performance.now() - started
    const size = JSON.stringify(res.body).length
    assertEquals([res.status, res.body.error?.code], [400, code], `${why}: ${JSON.stringify(res.body).slice(0, 300)}`)
    assert(size < 16 * 1024, `${why}: a ${size}-byte answer`)
    assert(ms < 5000, `${why}: ${Math.round(ms)} ms`)
  }
  const many = await w('expenses/import', {
    method: 'POST',
    body: Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(1800, 'x')).join(',') + '\n',
    headers: { 'content-type': 'text/csv' },
  })
  assertEquals(many.body.error.details.error_count, 66, '64 unknown columns, no date, no amount')
  assert(many.body.error.details.errors.length <= 20)
  const rows = await w('expenses/import', {
    method: 'POST',
    body: 'date,amount,currency\n' + 'x,y,z\n'.repeat(5000),
    headers: { 'content-type': 'text/csv' },
  })
  assertEquals([rows.body.error.details.error_count, rows.body.error.details.errors.length], [15000, 100])
  assertEquals(await rowCount('expenses', user.id), 0)
})

Deno.test('wins input: database constraints are never the first to complain, nor named in an answer', async () => {
  const { user, w } = await fixtures()
  // The table wants a lower-case scheme; an upper-case one is normalised, not refused by the database.
  const upper = await w('expenses', { method: 'POST', body: { amount: '1.00', category: 'fuel', receipt_url: 'HTTPS://Example.com/R/1.jpg' } })
  assertEquals(upper.status, 201, JSON.stringify(upper.body))
  assertEquals(upper.body.expense.receipt_url, 'https://Example.com/R/1.jpg')
  const csv = await w('expenses/import', {
    method: 'POST',
    body: 'date,amount,receipt_url\n2026-03-01,1.00,Http://example.com/a\n',
    headers: { 'content-type': 'text/csv' },
  })
  assertEquals(csv.status, 201, JSON.stringify(csv.body))
  for (const url of ['https:/example.com', 'https://', 'mailto:x@example.com', 'https://exa mple.com']) {
    assertRefused(await w('expenses', { method: 'POST', body: { amount: '1.00', receipt_url: url } }), 'receipt_url', url)
  }
  assertEquals(await rowCount('expenses', user.id), 2)

  // An account deleted while its token is still valid: every write says so, naming no constraint.
  const gone = await fixtures()
  await adminSql`delete from auth.users where id = ${gone.user.id}`
  const writes: [string, string, unknown][] = [
    ['expenses', 'POST', { amount: '1.00', category: 'fuel' }],
    ['income', 'POST', { amount: '1.00', source: 'x' }],
    ['budgets/fuel', 'PUT', { amount: '100.00' }],
    ['categories', 'POST', { slug: 'laundry', label: 'Laundry' }],
    ['goals', 'POST', { name: 'x', target_amount: '10.00' }],
    ['hustles', 'POST', { title: 'x' }],
  ]
  for (const [path, method, body] of writes) {
    const res = await gone.w(path, { method, body })
    // Its sessions went with it: the transaction's preamble refuses the token first.
    assertEquals([res.status, res.body.error?.code], [401, 'session_not_found'], `${method} ${path}: ${JSON.stringify(res.body)}`)
    assert(!/fkey|constraint/i.test(JSON.stringify(res.body)), JSON.stringify(res.body))
  }
  const imported = await gone.w('expenses/import', {
    method: 'POST',
    body: 'date,amount\n2026-03-01,1.00\n',
    headers: { 'content-type': 'text/csv' },
  })
  assertEquals([imported.status, imported.body.error?.code], [401, 'session_not_found'])
})

Deno.test('wins input: numbers, dates, arrays and nesting Postgres would refuse are 400s', async () => {
  const { user, w } = await fixtures()
  const ok = { amount: '10.00', category: 'fuel', date: '2026-03-01' }
  const raw = (fields: string) => `{"amount":"10.00","category":"fuel",${fields}}`
  const bodies: [unknown, string, string][] = [
    [raw('"odometer":1e400'), 'odometer', 'odometer Infinity'],
    [raw('"latitude":1e999,"longitude":1'), 'latitude', 'latitude Infinity'],
    [raw('"odometer":1e20'), 'odometer', 'huge odometer'],
    [{ ...ok, fuel_volume: '1e3' }, 'fuel_volume', 'exponent volume'],
    [{ ...ok, fuel_volume: '1000000.00' }, 'fuel_volume', 'volume past numeric(8,2)'],
    [{ ...ok, fuel_price_per_unit: '100000.000' }, 'fuel_price_per_unit', 'price past numeric(8,3)'],
    [{ ...ok, date: '2026-02-30' }, 'date', '30 February'],
    [{ ...ok, date: '0000-01-01' }, 'date', 'year 0'],
    [{ ...ok, date: '99999-01-01' }, 'date', 'year 99999'],
    [{ ...ok, description: 'x'.repeat(501) }, 'description', 'overlong'],
    [{ ...ok, tags: Array.from({ length: 30_000 }, () => 1) }, 'tags', '30,000 tags'],
    [{ ...ok, tags: [[[[[[[['deep']]]]]]]] }, 'tags', 'nested tags'],
    [raw(`"description":${'['.repeat(20_000)}${']'.repeat(20_000)}`), 'description', 'deeply nested JSON'],
  ]
  for (const [body, field, why] of bodies) {
    const res = await w('expenses', { method: 'POST', body })
    assertRefused(res, field, why)
    assert(JSON.stringify(res.body).length < 8 * 1024, `${why}: a ${JSON.stringify(res.body).length}-byte answer`)
  }
  const hours = await w('hustles', { method: 'POST', body: '{"title":"x","hours_invested":1e400}' })
  assertRefused(hours, 'hours_invested', 'hours Infinity')
  const target = await w('goals', { method: 'POST', body: { name: 'x', target_amount: '10.00', target_date: '2026-02-30' } })
  assertRefused(target, 'target_date', 'goal date')
  for (const query of ['from=2026-02-30', 'to=0000-01-01', 'from=99999-01-01', 'limit=1e2', 'limit=Infinity', 'limit=0x10', 'limit=%2010', 'limit=99999999999999999999']) {
    assertEquals((await w(`expenses?${query}`)).status, 400, query)
    assertEquals((await w(`income?${query}`)).status, 400, query)
  }
  assertEquals((await w('goals?limit=1e1')).status, 400)
  assertEquals((await w('expenses?limit=10')).status, 200)
  assertEquals(await rowCount('expenses', user.id), 0)
})

Deno.test('wins input: a forged cursor with an impossible date or time is invalid_cursor, not another day', async () => {
  const w = winsAs(await signUp())
  const id = crypto.randomUUID()
  const forged = [
    ['2024-02-30', '2026-03-01T10:00:00.000000Z', id],
    ['0000-01-01', '2026-03-01T10:00:00.000000Z', id],
    ['2026-03-01', '2026-02-30T10:00:00.000000Z', id],
    ['2026-03-01', '2026-03-01T24:00:00.000000Z', id],
    ['2026-03-01', '2026-03-01T10:60:00.000000Z', id],
    ['2026-03-01', '2026-03-01T10:00:60.000000Z', id],
    ['2026-03-01', '0000-03-01T10:00:00.000000Z', id],
  ]
  for (const key of forged) {
    const res = await w(`expenses?cursor=${encodeCursor(key)}`)
    assertEquals([res.status, res.body.error?.code], [400, 'invalid_cursor'], key.join(' '))
  }
  const goals = await w(`goals?cursor=${encodeCursor(['2026-02-29T10:00:00.000000Z', id])}`)
  assertEquals([goals.status, goals.body.error?.code], [400, 'invalid_cursor'])
  const fine = await w(`expenses?cursor=${encodeCursor(['2024-02-29', '2026-03-01T23:59:59.999999Z', id])}`)
  assertEquals(fine.status, 200)
})

Deno.test('wins input: the own-category limit holds against parallel requests', async () => {
  const user = await signUp()
  await adminSql`
    insert into pam.expense_categories (user_id, slug, label)
    select ${user.id}, 'mine-' || g, 'Mine ' || g from generate_series(1, 95) g`
  const w = winsAs(user)
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => w('categories', { method: 'POST', body: { slug: `extra-${i}`, label: `Extra ${i}` } })),
  )
  const statuses = results.map((r) => r.status).sort()
  assertEquals(await rowCount('expense_categories', user.id), 100)
  assertEquals(statuses.filter((s) => s === 201).length, 5, JSON.stringify(statuses))
  const refused = results.filter((r) => r.status !== 201)
  assert(refused.every((r) => r.status === 409 && r.body.error.code === 'limit_reached'), JSON.stringify(refused.map((r) => r.body)))
  assertMatch(refused[0].body.error.message, /100 categories/)
  assertEquals(refused[0].body.error.details, { limit: 'own_categories', max: 100 })
  // Deleting one frees a slot.
  assertEquals((await w('categories/mine-1', { method: 'DELETE' })).status, 204)
  assertEquals((await w('categories', { method: 'POST', body: { slug: 'one-more', label: 'One more' } })).status, 201)
})

Deno.test('wins input: a category cannot be deleted while an expense naming it is being written', async () => {
  const user = await signUp()
  const w = winsAs(user)
  assertEquals((await w('categories', { method: 'POST', body: { slug: 'dog-care', label: 'Dog care' } })).status, 201)
  const claims = JSON.stringify({ sub: user.id, role: 'authenticated' })
  // An expense insert, as the user, left open; the delete arrives meanwhile.
  const reserved = await adminSql.reserve()
  try {
    await reserved`begin`
    await reserved`select set_config('request.jwt.claims', ${claims}, true)`
    await reserved`set local role authenticated`
    await reserved`insert into pam.expenses (amount, category) values (5, 'dog-care')`
    const deleting = w('categories/dog-care', { method: 'DELETE' })
    // Wait until the delete is waiting on the open insert (or has finished without waiting).
    let settled = false
    deleting.then(() => (settled = true))
    for (let i = 0; i < 100 && !settled; i++) {
      const [waiting] = await adminSql`
        select count(*)::int as n from pg_stat_activity
        where wait_event_type = 'Lock' and datname = current_database() and query ilike '%expense_categories%'`
      if (waiting.n > 0) break
      await new Promise((r) => setTimeout(r, 50))
    }
    await reserved`commit`
    const res = await deleting
    assertEquals([res.status, res.body.error?.code], [409, 'category_in_use'])
  } finally {
    reserved.release()
  }
  const [orphans] = await adminSql`
    select count(*)::int as n from pam.expenses e
    where e.user_id = ${user.id} and not exists (select 1 from pam.expense_categories c where c.user_id = e.user_id and c.slug = e.category)`
  assertEquals(orphans.n, 0)
})
