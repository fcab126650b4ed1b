// The HTTP/1.1 client the cache and the rate limiter call Upstash with
// (keepalive-http.ts), against servers in the test that answer byte for byte
// as told: framing, kept and dropped connections, retries, timeouts, limits, TLS.
// The cache tests and the end-to-end tests run it against the local Upstash bridge.
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { testCertificates } from './_support/tls.ts'
import { HttpCallError, KeepAliveClient } from '../supabase/functions/_shared/keepalive-http.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()

interface Received {
  head: string
  body: string
  /** Which connection of the server it came on (0, 1, …). */
  connection: number
}

/** A server that reads each request whole and answers it with `answer`; it may also end the
 * connection (answer null: closed without a byte). Records what it received. */
function scriptedServer(
  answer: (
    req: Received,
    index: number,
  ) => Uint8Array | string | null | Promise<Uint8Array | string | null>,
  listener: Deno.Listener = Deno.listen({ hostname: '127.0.0.1', port: 0 }),
) {
  const received: Received[] = []
  const conns: Deno.Conn[] = []
  const serving = (async () => {
    for await (const conn of listener) {
      const connection = conns.length
      conns.push(conn)
      ;(async () => {
        let buf = new Uint8Array(0)
        const chunk = new Uint8Array(64 * 1024)
        for (;;) {
          const headEnd = dec.decode(buf).indexOf('\r\n\r\n')
          if (headEnd >= 0) {
            const head = dec.decode(buf.subarray(0, headEnd))
            const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
            if (buf.length >= headEnd + 4 + length) {
              const req = {
                head,
                body: dec.decode(buf.subarray(headEnd + 4, headEnd + 4 + length)),
                connection,
              }
              buf = buf.slice(headEnd + 4 + length)
              received.push(req)
              const out = await answer(req, received.length - 1)
              if (out === null) {
                conn.close()
                return
              }
              const bytes = typeof out === 'string' ? enc.encode(out) : out
              for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at))
              continue
            }
          }
          const n = await conn.read(chunk).catch(() => null)
          if (n === null) return conn.close()
          const next = new Uint8Array(buf.length + n)
          next.set(buf)
          next.set(chunk.subarray(0, n), buf.length)
          buf = next
        }
      })().catch(() => {})
    }
  })().catch(() => {})
  const port = (listener.addr as Deno.NetAddr).port
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    conns,
    async close() {
      listener.close()
      for (const c of conns) {
        try {
          c.close()
        } catch { /* closed */ }
      }
      await serving
    },
  }
}

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${
    enc.encode(body).length
  }\r\n${extra}\r\n${body}`

Deno.test('keepalive-http: one request, as sent; the connection is kept for the next', async () => {
  const server = scriptedServer(() => ok('{"ok":1}', 'Upstash-Sync-Token: t1\r\n'))
  const client = new KeepAliveClient(`${server.url}/base/`)
  try {
    const answer = await client.post(
      '/pipeline',
      { authorization: 'Bearer x', 'content-type': 'application/json' },
      '[["PING"]]',
      1000,
    )
    assertEquals(answer.status, 200)
    assertEquals(answer.body, '{"ok":1}')
    assertEquals(answer.headers.get('upstash-sync-token'), 't1')
    const [first] = server.received
    assertMatch(first.head, /^POST \/base\/pipeline HTTP\/1\.1\r\n/)
    assertMatch(first.head, /\r\nhost: 127\.0\.0\.1:\d+\r\n/)
    assertMatch(first.head, /\r\ncontent-length: 10(\r\n|$)/)
    assertMatch(first.head, /\r\nauthorization: Bearer x\r\n/)
    assertMatch(first.head, /\r\naccept-encoding: identity\r\n/)
    assertEquals(first.body, '[["PING"]]')
    await client.post('/pipeline', {}, 'zoë 🚐', 1000)
    assertEquals(server.received[1].body, 'zoë 🚐') // Content-Length counts bytes
    // The connection's request buffer is reused, and grown for a body larger than it, then smaller again.
    const large = 'é🚐x'.repeat(20_000)
    await client.post('/pipeline', {}, large, 1000)
    await client.post('/pipeline', { 'x-last': '1' }, '[]', 1000)
    assertEquals(server.received[2].body, large)
    assertEquals(server.received[3].body, '[]')
    assertMatch(server.received[3].head, /\r\nx-last: 1\r\ncontent-length: 2$/)
    assertEquals(server.received.map((r) => r.connection), [0, 0, 0, 0])
  } finally {
    client.closeIdle()
    await server.close()
  }
})

Deno.test('keepalive-http: chunked answers, interim 1xx answers, and any status resolve; compressed ones are refused', async () => {
  const answers = [
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\n[1,2\r\n3\r\n,3]\r\n0\r\nx-trailer: t\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\n' + ok('"after 100"'),
    'HTTP/1.1 401 Unauthorized\r\ncontent-length: 24\r\n\r\n{"error":"Unauthorized"}',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 3\r\n\r\nxyz',
  ]
  const server = scriptedServer((_, i) => answers[i])
  const client = new KeepAliveClient(server.url)
  try {
    assertEquals((await client.post('/', {}, '', 1000)).body, '[1,2,3]')
    assertEquals((await client.post('/', {}, '', 1000)).body, '"after 100"')
    const refused = await client.post('/', {}, '', 1000)
    assertEquals([refused.status, refused.body], [401, '{"error":"Unauthorized"}'])
    assertEquals((await client.post('/', {}, '', 1000)).status, 204)
    // Compressed although the request asked for identity: refused, not read as text.
    const encoded = await client.post('/', {}, '', 1000).catch((e) => e)
    assert(encoded instanceof HttpCallError && encoded.kind === 'protocol', String(encoded))
    assertEquals(new Set(server.received.slice(0, 4).map((r) => r.connection)).size, 1)
  } finally {
    client.closeIdle()
    await server.close()
  }
})

Deno.test('keepalive-http: an answer that ends with the connection, or says close, is not reused', async () => {
  const server = scriptedServer((_, i) =>
    i === 0
      ? 'HTTP/1.1 200 OK\r\n\r\nuntil the end'
      : i === 1
      ? ok('"bye"', 'connection: close\r\n')
      : ok('"fresh"')
  )
  const client = new KeepAliveClient(server.url)
  try {
    const first = client.post('/', {}, '', 1000)
    // A close-delimited answer ends when the server closes: close it once the answer is out.
    setTimeout(() => server.conns[0]?.close(), 100)
    assertEquals((await first).body, 'until the end')
    assertEquals((await client.post('/', {}, '', 1000)).body, '"bye"')
    assertEquals((await client.post('/', {}, '', 1000)).body, '"fresh"')
    assertEquals(server.received.map((r) => r.connection), [0, 1, 2])
  } finally {
    client.closeIdle()
    await server.close()
  }
})

Deno.test('keepalive-http: a kept connection the server dropped is replaced, and the request sent once more', async () => {
  const server = scriptedServer(() => ok('"yes"'))
  const client = new KeepAliveClient(server.url)
  try {
    await client.post('/', {}, 'one', 1000)
    server.conns[0].close() // as a server ends an idle keep-alive connection
    await new Promise((r) => setTimeout(r, 50))
    assertEquals((await client.post('/', {}, 'two', 1000)).body, '"yes"')
    assertEquals(server.received.map((r) => [r.body, r.connection]), [['one', 0], ['two', 1]])
  } finally {
    client.closeIdle()
    await server.close()
  }
})

Deno.test('keepalive-http: a new connection that ends without an answer fails, and is not retried', async () => {
  const server = scriptedServer(() => null)
  const client = new KeepAliveClient(server.url)
  try {
    const err = await client.post('/', {}, 'once', 1000).catch((e) => e)
    assert(err instanceof HttpCallError, String(err))
    assertEquals(err.kind, 'connection')
    assertEquals(server.received.length, 1)
    // Half an answer is a broken answer, not a lost connection.
    const half = scriptedServer(() => 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort')
    const halfClient = new KeepAliveClient(half.url)
    const pending = halfClient.post('/', {}, '', 1000).catch((e) => e)
    setTimeout(() => half.conns[0]?.close(), 100)
    const broken = await pending
    assert(broken instanceof HttpCallError)
    assertEquals(broken.kind, 'protocol')
    await half.close()
    // Nobody listening.
    const closedPort = server.url
    await server.close()
    const refused = await client.post('/', {}, '', 1000).catch((e) => e)
    assert(
      refused instanceof HttpCallError && refused.kind === 'connection',
      `${closedPort}: ${refused}`,
    )
  } finally {
    client.closeIdle()
  }
})

Deno.test('keepalive-http: no answer within the timeout fails the call; the next call works', async () => {
  let hang = true
  const server = scriptedServer(
    () => (hang ? new Promise<string>(() => {}) : ok('"late but fine"')),
  )
  const client = new KeepAliveClient(server.url)
  try {
    const t0 = performance.now()
    const err = await client.post('/', {}, '', 100).catch((e) => e)
    const waited = performance.now() - t0
    assert(err instanceof HttpCallError && err.kind === 'timeout', String(err))
    assert(waited >= 95 && waited < 1000, `gave up after ${waited} ms`)
    hang = false
    assertEquals((await client.post('/', {}, '', 1000)).body, '"late but fine"')
    assertEquals(server.received.map((r) => r.connection), [0, 1]) // the timed-out connection was closed
  } finally {
    client.closeIdle()
    await server.close()
  }
})

Deno.test('keepalive-http: large answers arrive whole; past the limit they fail', async () => {
  const big = 'x'.repeat(3 * 1024 * 1024 + 7)
  const chunked = (body: string) => {
    let out = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'
    for (let at = 0; at < body.length; at += 100_000) {
      const part = body.slice(at, at + 100_000)
      out += `${part.length.toString(16)}\r\n${part}\r\n`
    }
    return out + '0\r\n\r\n'
  }
  const server = scriptedServer((_, i) => (i % 2 ? chunked(big) : ok(big)))
  const client = new KeepAliveClient(server.url)
  const small = new KeepAliveClient(server.url, { maxAnswerBytes: 1024 * 1024 })
  try {
    assertEquals((await client.post('/', {}, '', 5000)).body.length, big.length)
    assertEquals((await client.post('/', {}, '', 5000)).body, big)
    for (let i = 0; i < 2; i++) {
      const err = await small.post('/', {}, '', 5000).catch((e) => e)
      assert(err instanceof HttpCallError && err.kind === 'protocol', String(err))
      assertMatch(err.message, /larger than 1048576 bytes/)
    }
  } finally {
    client.closeIdle()
    small.closeIdle()
    await server.close()
  }
})

Deno.test('keepalive-http: https with a trusted CA; an untrusted certificate fails to connect', async () => {
  const certs = await testCertificates('the https test')
  if (!certs) return
  const server = scriptedServer(
    () => ok('"over tls"'),
    Deno.listenTls({ hostname: '127.0.0.1', port: 0, cert: certs.cert, key: certs.key }),
  )
  const url = server.url.replace('http:', 'https:')
  const trusting = new KeepAliveClient(url, { caCerts: [certs.ca] })
  try {
    assertEquals((await trusting.post('/', {}, 'a', 2000)).body, '"over tls"')
    assertEquals((await trusting.post('/', {}, 'b', 2000)).body, '"over tls"')
    assertEquals(server.received.map((r) => r.connection), [0, 0])
    const err = await new KeepAliveClient(url).post('/', {}, '', 2000).catch((e) => e)
    assert(err instanceof HttpCallError, String(err))
    assertEquals(server.received.length, 2)
  } finally {
    trusting.closeIdle()
    await server.close()
  }
})
