// The sockets db.ts gives postgres.js, and the pool around them.
import './_support/shared-resources.ts'
import net from 'node:net'
import { assert, assertEquals } from './_support/assert.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'
import { database, postgresAdminClient, withoutNullWrites } from '../supabase/functions/_shared/db.ts'

const serverUrl = new URL(Deno.env.get('PAM_TEST_SERVER_URL')!)

// postgres.js can run a deferred write after its buffer was sent and emptied; on
// Deno 2.1 that `socket.write(null)` was an uncaught error that ended the isolate.
Deno.test('db sockets: a null write is skipped, other writes pass through', () => {
  const written: unknown[] = []
  const socket = withoutNullWrites({ write: (chunk: unknown, ..._rest: unknown[]) => (written.push(chunk), false) })
  assertEquals(socket.write(null), true)
  assertEquals(socket.write('a'), false)
  assertEquals(written, ['a'])
  // Every socket of an isolate that loads db.ts, whoever opened it (postgres.js's own too).
  const plain = new net.Socket()
  assertEquals(plain.write(null as unknown as string), true)
  plain.destroy()
})

/** Forwards connections on `listener` to the test's Postgres server. */
function forward(listener: Deno.TcpListener): Promise<void> {
  return (async () => {
    for await (const client of listener) {
      Deno.connect({ hostname: serverUrl.hostname, port: Number(serverUrl.port) }).then((server) => {
        client.readable.pipeTo(server.writable).catch(() => {})
        server.readable.pipeTo(client.writable).catch(() => {})
      }, () => client.close())
    }
  })().catch(() => {})
}

Deno.test('db sockets: a connection that could not open is not reused; the next request connects at once', async () => {
  // A port nobody listens on yet.
  const probe = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const port = probe.addr.port
  probe.close()
  const url = new URL(serverUrl)
  url.port = String(port)
  const deadline = 5000 + 2000
  const db = database({ url: url.href, poolMax: 1, statementTimeoutMs: 5000, acquireTimeoutMs: 2000 })
  const admin = postgresAdminClient(db)
  let listener: Deno.TcpListener | undefined
  try {
    const refused = await admin.queryRaw('select 1').then(() => undefined, (e) => e)
    assert(refused instanceof ApiError && refused.status === 503, `refused: ${refused}`)

    listener = Deno.listen({ hostname: '127.0.0.1', port })
    const forwarding = forward(listener)
    const started = performance.now()
    let answer: unknown
    while (performance.now() - started < deadline + 1000) {
      // 503 at once while the pool pauses after the failure (0.5 s); then it connects.
      answer = await admin.queryRaw<{ n: number }>('select 1 as n').then((rows) => rows[0].n, (e) => e)
      if (answer === 1) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const ms = performance.now() - started
    assertEquals(answer, 1)
    assert(ms < 2000, `answered ${Math.round(ms)} ms after the server came up: the failed client was reused until the deadline`)
    listener.close()
    await forwarding
  } finally {
    try {
      listener?.close()
    } catch { /* closed above */ }
    await db.end()
  }
})
