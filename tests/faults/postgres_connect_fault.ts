// A connection attempt that fails while a transaction's statements wait for
// it: none of them may run anywhere else. (postgres.js queues statements sent
// while a connection opens, and sends what is queued on its next attempt: on
// a new session, outside the transaction, as the login role.)
import postgres from 'postgres'
import { assert, assertEquals } from '../_support/assert.ts'
import { ApiError } from '../../supabase/functions/_shared/errors.ts'
import { Database, postgresClient } from '../../supabase/functions/_shared/db.ts'
import { bootstrap, ensureDatabase } from '../../scripts/local/database.ts'
import { startEmbeddedPostgres } from '../../scripts/local/postgres.ts'

/** A TCP proxy to `port` that leaves its first connection unanswered. */
function silentFirstProxy(port: number) {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const held: Deno.Conn[] = []
  let accepted = 0
  const serving = (async () => {
    for await (const conn of listener) {
      if (accepted++ === 0) {
        held.push(conn)
        continue
      }
      const upstream = await Deno.connect({ hostname: '127.0.0.1', port })
      held.push(conn, upstream)
      conn.readable.pipeTo(upstream.writable).catch(() => {})
      upstream.readable.pipeTo(conn.writable).catch(() => {})
    }
  })()
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get attempts() {
      return accepted
    },
    async close() {
      listener.close()
      for (const c of held) {
        try {
          c.close()
        } catch { /* closed by the pipe */ }
      }
      await serving.catch(() => {})
    },
  }
}

Deno.test('a transaction whose connection attempt fails runs none of its statements on another session', async () => {
  const tmp = await Deno.makeTempDir({ prefix: 'pam-fault-' })
  await Deno.chmod(tmp, 0o755) // embedded Postgres runs as `postgres` when we are root
  const pg = await startEmbeddedPostgres(`${tmp}/postgres`)
  const url = await ensureDatabase(pg.serverUrl, 'pam')
  await bootstrap(url) // the roles hosted Supabase has
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  const proxy = silentFirstProxy(Number(new URL(url).port))
  // connect_timeout is the acquire timeout rounded up to seconds: 1 s.
  const db = new Database({ url: url.replace(/:\d+\//, `:${proxy.port}/`), poolMax: 1, statementTimeoutMs: 5000, acquireTimeoutMs: 500 })
  try {
    await admin`create table probe (who text)`
    await admin`grant insert on probe to authenticated`
    const claims = { role: 'authenticated', sub: crypto.randomUUID() }
    const err = await postgresClient(db, claims)
      .transaction((tx) => tx`insert into probe select current_user`)
      .then(() => null, (e) => e)
    assert(err instanceof ApiError && err.code === 'database_unavailable', String(err))
    await new Promise((r) => setTimeout(r, 500)) // whatever was queued has had its chance
    assertEquals([...await admin`select who from probe`], [], 'a statement ran outside its transaction')
    assert(proxy.attempts >= 1)
  } finally {
    await db.end()
    await proxy.close()
    await admin.end()
    await pg.stop()
    await Deno.remove(tmp, { recursive: true })
  }
})
