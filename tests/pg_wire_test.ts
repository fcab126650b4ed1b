// The read connection (pg-wire.ts) against the test's Postgres: it logs in with
// SCRAM-SHA-256, and gives the same values and the same errors as postgres.js
// for the same simple-query message.
import './_support/shared-resources.ts'
import net from 'node:net'
import { createHash } from 'node:crypto'
import postgres from 'postgres'
import { assert, assertEquals } from './_support/assert.ts'
import { ARRAY_TYPES_QUERY, type ArrayTypes, JsonRows, type StatementRows, WireConnection } from '../supabase/functions/_shared/pg-wire.ts'
import { literal } from '../supabase/functions/_shared/sql-literal.ts'

const serverUrl = new URL(Deno.env.get('PAM_TEST_SERVER_URL')!)

async function wire(arrays: ArrayTypes = new Map(), password = decodeURIComponent(serverUrl.password)) {
  const socket = net.connect(Number(serverUrl.port), serverUrl.hostname)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return await WireConnection.open(socket, {
    user: decodeURIComponent(serverUrl.username),
    password,
    database: serverUrl.pathname.slice(1) || 'postgres',
    applicationName: 'pam-test',
  }, arrays)
}

async function arrayTypes(conn: WireConnection): Promise<ArrayTypes> {
  const [types] = await conn.query(ARRAY_TYPES_QUERY)
  return new Map((types.rows as { oid: number | null; typarray: number }[]).filter((t) => t.oid !== null)
    .map((t) => [t.typarray, t.oid!]))
}

const VALUES = `select
  true as t, false as f, null::bool as nb,
  1::int2 as i2, '-2147483648'::int4 as i4, 9007199254740993::int8 as i8, 26::oid as o,
  1.5::float4 as f4, 'NaN'::float8 as nan, 'Infinity'::float8 as inf, 12345678901234567890.125::numeric as num,
  'héllo, "wörld"' || chr(10) || '✓' as txt, 'v'::varchar(3) as vc, ''::text as empty,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as id,
  '{"a": [1, 2.5, null, "x"], "b": {"c": true}}'::jsonb as jb, '[1, "two"]'::json as js, 'null'::jsonb as jnull,
  '2026-02-28'::date as d, '2026-02-28 13:45:01.123456'::timestamp as ts, '2026-02-28 13:45:01.5+10'::timestamptz as tz,
  '\\x00ff10'::bytea as b, '1 day 02:03:04'::interval as iv, '13:45'::time as tm, 'infinity'::date as dinf,
  array[1, 2, null]::int4[] as ai, array['a', 'b,c', 'd"e', 'f\\g', null, 'NULL', '']::text[] as at,
  array[[1, 2], [3, 4]]::int8[] as a2, '{}'::int4[] as aempty, array['{"k": 1}'::jsonb] as aj,
  array['2026-01-01'::date] as ad, array[true, false] as ab, array['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] as au,
  array[1.5]::numeric[] as an, 1 as dup, 2 as dup`

Deno.test('pg wire: values parse as postgres.js parses them', async () => {
  const conn = await wire()
  const sql = postgres(serverUrl.href, { max: 1, onnotice: () => {} })
  try {
    const arrays = await arrayTypes(conn)
    conn.close()
    const typed = await wire(arrays)
    try {
      const [ours] = await typed.query(VALUES)
      // postgres.js loads the array types on connecting, but a statement answered in the same
      // chunk as those types is parsed before they are in: its arrays stay text. Load them first.
      await sql`select 1`
      const [theirs] = await sql.unsafe(VALUES) // no parameters: the simple protocol, as ours
      assertEquals(ours.rows.length, 1)
      const row = (ours.rows as unknown[])[0] as Record<string, unknown>
      assertEquals(Object.keys(row), Object.keys(theirs))
      for (const key of Object.keys(theirs)) {
        const [a, b] = [row[key], theirs[key as keyof typeof theirs]]
        const same = a instanceof Date && b instanceof Date
          ? Object.is(a.getTime(), b.getTime())
          : a instanceof Uint8Array && b instanceof Uint8Array
          ? a.length === b.length && a.every((x, i) => x === b[i])
          : JSON.stringify(a) === JSON.stringify(b) && typeof a === typeof b
        assert(same, `${key}: ${Deno.inspect(a)} against postgres.js's ${Deno.inspect(b)}`)
      }
      assertEquals(row.i8, '9007199254740993', 'int8 stays a string')
      assertEquals(row.num, '12345678901234567890.125', 'numeric stays a string')
      assertEquals(row.at, ['a', 'b,c', 'd"e', 'f\\g', 'NULL', 'NULL', ''], 'as postgres.js: a NULL element is the text NULL')
    } finally {
      typed.close()
    }
  } finally {
    await sql.end()
  }
})

Deno.test('pg wire: statements, raw rows, errors and the transaction left behind', async () => {
  const conn = await wire()
  try {
    // One result per statement that returns rows; none for begin, commit or an empty statement.
    const results = await conn.query(`begin read only; select 1 as n union all select 2; ; select row_to_json(r)::text
      from (select 'é' as name, 3 as n) r; commit`)
    assertEquals(results.map((r) => r.rows.length), [2, 1])
    assertEquals(conn.status, 'I')
    // JSON rows: each row's first column, NULL as null, the rows joined by commas.
    const texts = (r: StatementRows) => Array.from({ length: r.rows.length }, (_, i) => (r.rows as JsonRows).row(i))
    const [asJson] = await conn.query(`select row_to_json(r)::text, 2 from (select 'é"' as name) r union all select null, 3`, true)
    assert(asJson.rows instanceof JsonRows)
    assertEquals(texts(asJson), ['{"name":"é\\""}', 'null'])
    assertEquals(asJson.rows.joined(), '{"name":"é\\""},null')
    assertEquals(asJson.rows.joined(1), '{"name":"é\\""}')
    const [ascii] = await conn.query(`select '{"n":' || g || '}' from generate_series(1, 3) g`, true)
    assertEquals([texts(ascii), (ascii.rows as JsonRows).joined(2)], [['{"n":1}', '{"n":2}', '{"n":3}'], '{"n":1},{"n":2}'])
    // Over many reads, with NULLs, empty rows and characters outside ASCII between (in chunks
    // of the socket, read after read), and each statement with rows of its own.
    const values = Array.from({ length: 300 }, (_, i) => i % 7 === 3 ? null : i % 11 === 5 ? '' : `"${i}:${'é'.repeat(i * 3)}"`)
    const many = await conn.query(
      `select t from unnest(array[${values.map((t) => t === null ? 'null' : literal(t)).join(',')}]::text[]) with ordinality as u(t, i) order by i; select '"second"'`,
      true,
    )
    assertEquals(texts(many[0]), values.map((t) => t ?? 'null'))
    assertEquals((many[0].rows as JsonRows).joined(), values.map((t) => t ?? 'null').join(','))
    assertEquals(texts(many[1]), ['"second"'])
    const none = await conn.query(`select 'x' where false`, true)
    assertEquals([none[0].rows.length, (none[0].rows as JsonRows).joined()], [0, ''])

    // An error stops the message; the first error is the one reported, with postgres.js's field names.
    const failure = await conn.query(`begin; do $$ begin raise exception using errcode = '23505', message = 'm',
      detail = 'Key (x)=(1) already exists.', hint = 'h', constraint = 'c_key', table = 't', column = 'x', schema = 's';
      end $$; select 1/0; commit`).then(() => undefined, (e) => e)
    assert(failure instanceof Error)
    const e = failure as unknown as Record<string, string>
    assertEquals([e.name, e.message, e.code, e.detail, e.hint, e.constraint_name, e.table_name, e.column_name, e.schema_name],
      ['PostgresError', 'm', '23505', 'Key (x)=(1) already exists.', 'h', 'c_key', 't', 'x', 's'])
    assertEquals(conn.status, 'E', 'the transaction is left open and aborted')
    await conn.query('rollback')
    assertEquals(conn.status, 'I')
    const [after] = await conn.query('select 42 as n')
    assertEquals(after.rows, [{ n: 42 }], 'the connection is usable after an error')

    // A large answer arrives in many chunks.
    const [big] = await conn.query(`select repeat('x', 100000) as s, g from generate_series(1, 20) g`)
    assertEquals(big.rows.length, 20)
    assertEquals(((big.rows as unknown[])[19] as { s: string }).s.length, 100000)
  } finally {
    conn.close()
  }
  await conn.closed
  const late = await conn.query('select 1').then(() => undefined, (e) => e)
  assertEquals((late as { code?: string })?.code, 'CONNECTION_CLOSED')
})

Deno.test('pg wire: a wrong password is refused with the server\'s error', async () => {
  const refused = await wire(new Map(), 'not-the-password').then((c) => (c.close(), undefined), (e) => e)
  assertEquals((refused as { code?: string })?.code, '28P01')
})

Deno.test("pg wire: a connection the server ends fails its query with the server's reason, and closes", async () => {
  const conn = await wire()
  const sql = postgres(serverUrl.href, { max: 1, onnotice: () => {} })
  try {
    const [{ pid }] = (await conn.query('select pg_backend_pid() as pid'))[0].rows as { pid: number }[]
    const running = conn.query('select pg_sleep(5)').then(() => undefined, (e) => e)
    await sql`select pg_terminate_backend(${pid})`
    assertEquals(((await running) as { code?: string })?.code, '57P01', 'the server says why (admin shutdown)')
    await conn.closed
    assert(conn.isClosed)
  } finally {
    conn.close()
    await sql.end()
  }
})

Deno.test('pg wire: a server that accepts but never answers the login times out, and the socket is closed', async () => {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const held: Deno.Conn[] = []
  const accepting = (async () => {
    for await (const c of listener) held.push(c)
  })().catch(() => {})
  try {
    const socket = net.connect(listener.addr.port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const login = { user: 'u', password: 'p', database: 'd', applicationName: 'pam-test' }
    const started = performance.now()
    const failed = await WireConnection.open(socket, login, new Map(), 200).then(() => undefined, (e) => e)
    assertEquals((failed as { code?: string })?.code, 'CONNECT_TIMEOUT')
    assert(performance.now() - started < 2000)
    await new Promise((r) => setTimeout(r, 20))
    assert(socket.destroyed, 'the socket is closed')
  } finally {
    listener.close()
    held.forEach((c) => c.close())
    await accepting
  }
})

/** A server that asks for the password the way `method` says (md5 or cleartext), checks it
 * as Postgres does, and answers AuthenticationOk or 28P01. Resolves with what it received. */
function passwordServer(method: 'md5' | 'cleartext', user: string, password: string) {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const salt = new Uint8Array([1, 2, 3, 4])
  const message = (type: string, body: Uint8Array) => {
    const m = new Uint8Array(body.length + 5)
    m[0] = type.charCodeAt(0)
    new DataView(m.buffer).setInt32(1, body.length + 4)
    m.set(body, 5)
    return m
  }
  const int32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])
  const served = (async () => {
    const conn = await listener.accept()
    const read = async () => {
      const buf = new Uint8Array(4096)
      const n = await conn.read(buf)
      return buf.subarray(0, n ?? 0)
    }
    await read() // the startup message
    await conn.write(message('R', method === 'md5' ? new Uint8Array([...int32(5), ...salt]) : int32(3)))
    const answer = await read()
    const given = new TextDecoder().decode(answer.subarray(5, answer.length - 1))
    const md5 = (x: Uint8Array | string) => createHash('md5').update(x).digest('hex')
    const expected = method === 'md5'
      ? 'md5' + md5(new Uint8Array([...new TextEncoder().encode(md5(password + user)), ...salt]))
      : password
    if (given === expected) {
      await conn.write(new Uint8Array([...message('R', int32(0)), ...message('Z', new TextEncoder().encode('I'))]))
    } else {
      await conn.write(message('E', new TextEncoder().encode('SFATAL\0C28P01\0Mpassword authentication failed\0\0')))
    }
    await read().catch(() => undefined) // until the client closes
    conn.close()
    return given
  })()
  return { port: listener.addr.port, served: served.finally(() => listener.close()) }
}

for (const method of ['md5', 'cleartext'] as const) {
  Deno.test(`pg wire: ${method} password login, right and wrong`, async () => {
    for (const [password, ok] of [['s3cret', true], ['wrong', false]] as const) {
      const server = passwordServer(method, 'alice', 's3cret')
      const socket = net.connect(server.port, '127.0.0.1')
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
      const login = { user: 'alice', password, database: 'd', applicationName: 'pam-test' }
      const result = await WireConnection.open(socket, login, new Map(), 2000).then((c) => (c.close(), 'ok'), (e) => e.code)
      assertEquals(result, ok ? 'ok' : '28P01', `${method} with ${password}`)
      await server.served
    }
  })
}
