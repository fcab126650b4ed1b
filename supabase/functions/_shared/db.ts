// Data access. User requests go through `postgresClient`: every statement runs
// in a transaction that first sets `request.jwt.claims` and `role
// authenticated` (what PostgREST and @supabase/server's client of the same
// name do), so RLS decides what the caller sees. `postgresAdminClient`
// bypasses RLS and is for scheduled jobs and admin paths only.
//
// Same shape as @supabase/server's `ctx.postgres` (`query` tagged template,
// `queryRaw`), written with postgres.js because that one runs each query in
// its own transaction with no way to group several (see its docs, "Limits in
// this version"), and PAM needs atomic multi-statement writes (CSV imports,
// an expense with its budget alert). `transaction()` adds that.
//
// Round trips. A read (`query`, `queryRaw`, `jsonRows`) is one message and
// one round trip: begin read only; the claims, the statement prepared on this
// server connection unless it is already (pam.prepare_read: the transaction
// pooler gives no client a connection of its own for protocol-level prepared
// statements), role, statement timeout and session check in one statement
// (the preamble); `execute` of the statement, its values written as literals
// (see sql-literal.ts: a parameterised statement would be described first, a
// round trip of its own); commit. User reads go over each slot's read
// connection (pg-wire.ts: that one message, parsed as postgres.js parses it,
// at half its cost). A write (`transaction()`) goes through postgres.js: begin
// and the preamble as one message pipelined with its first statement, real
// parameters, answered once committed.
//
// Failure. At most `poolMax` transactions per isolate; a request waits for a
// slot at most `acquireTimeoutMs`, gives up when its client has gone (watched
// once it has waited 50 ms: RequestSignal), and every transaction has a
// deadline (statement timeout on the server, and the same plus a margin here
// for a server that stopped answering). While the database is unreachable,
// requests get a 503 at once for a short, growing pause instead of queueing
// behind connection attempts.
import { createHash } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import postgres from 'postgres'
import { ApiError, unavailable } from './errors.ts'
import { log } from './logger.ts'
import { inlineParams, literal, literalOf } from './sql-literal.ts'
import { networkWait } from './network-wait.ts'
import { type Timeout, Timeouts } from './timeouts.ts'
import { ARRAY_TYPES_QUERY, type ArrayTypes, connectionClosed, JsonRows, WireConnection, type WireLogin } from './pg-wire.ts'

export type Sql = postgres.Sql
export type Tx = postgres.Sql
export type Row = Record<string, unknown>

export interface PostgresApi {
  /** One statement in a read-only transaction, answered without waiting for its commit. */
  query<T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>
  queryRaw<T = Row>(text: string, params?: unknown[]): Promise<T[]>
  /** One statement whose rows are each one column of JSON text (`row_to_json(r)::text`), as
   * Postgres wrote it, never parsed: for answers that write them into a body as they are.
   * Planned once per server connection, for any values (a generic plan): for the keyset
   * pages, whose `limit $n` would otherwise have Postgres plan them again on every run. */
  jsonRows(text: string, params?: unknown[]): Promise<JsonRows>
  /** Statements that write, or must see one snapshot: one transaction, committed before it resolves. */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions): Promise<T>
}

export interface TransactionOptions {
  /** How long the whole transaction may take before it is abandoned (503); default: the
   * statement timeout plus 2 s. For batches of many quick statements (sync pushes). */
  deadlineMs?: number
}

export interface Claims {
  sub?: string
  role?: string
  session_id?: string
  [key: string]: unknown
}

/** The request's abort signal, read only once the request has waited WATCH_CLIENT_AFTER_MS for a
 * connection: on Deno.serve, the first read of a request's signal sets up a wait for the client
 * going, ~27–37 µs of CPU in its default (legacy) abort mode and ~5–10 µs with
 * --unstable-no-legacy-abort, and most waits for a connection end sooner. */
export type RequestSignal = () => AbortSignal

/** How long a request waits for a connection before it watches for its client going away. A
 * client gone by then is seen at once on Deno 2.9; on Deno 2.1 a signal first read after its
 * client went never aborts, and that request runs when its turn comes, as one whose client goes
 * while its query runs does. */
const WATCH_CLIENT_AFTER_MS = 50

export interface DbOptions {
  url: string
  poolMax: number
  /** Server-side limit of one statement; the transaction's deadline here is this plus a margin. */
  statementTimeoutMs: number
  /** How long a request may wait for a free connection. */
  acquireTimeoutMs: number
  /** PEM of the CA that signed the server's certificate (Supabase: Database settings, SSL
   * Configuration). With it the certificate is verified whatever the sslmode, as libpq does
   * with sslrootcert; Deno 2.1 (the hosted Edge Runtime) always verifies, so TLS needs it there. */
  ca?: string
}

/** One pool per connection string per isolate, opened lazily. */
export class Database {
  private readonly slots: Slot[]
  private readonly free: Slot[]
  private readonly waiting: { grant: (slot: Slot) => void; fail: (e: unknown) => void }[] = []
  private downUntil = 0
  private pause = 0
  /** The deadlines and the waits for a slot: one timer per length (timeouts.ts). */
  private readonly timeouts = new Timeouts()

  constructor(readonly opts: DbOptions) {
    const connectTimeout = Math.max(1, Math.ceil(opts.acquireTimeoutMs / 1000))
    const url = new URL(opts.url)
    const sslmode = url.searchParams.get('sslmode') ?? 'disable'
    const options = {
      prepare: false, // the transaction pooler (Supavisor) has no prepared statements
      connect_timeout: connectTimeout,
      idle_timeout: 30,
      onnotice: () => {},
      connection: { application_name: 'pam' },
      ssl: false, // negotiated by connectSocket instead
      // `socket` is a documented postgres.js option its types lack.
      socket: ({ host, port }: { host: string[]; port: number[] }) =>
        connectSocket(host[0], port[0], sslmode, opts.ca, connectTimeout * 1000),
    } as postgres.Options<Record<string, never>>
    const login: WireLogin = {
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username),
      applicationName: 'pam',
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const port = Number(url.port || 5432)
    const openReader = async () => {
      const socket = await connectSocket(host, port, sslmode, opts.ca, connectTimeout * 1000)
      const conn = await WireConnection.open(socket, login, this.arrayTypes, connectTimeout * 1000)
      if (!this.arrayTypes.size) await this.loadArrayTypes(conn)
      return conn
    }
    this.slots = Array.from({ length: opts.poolMax }, () => new Slot(opts.url, options, openReader))
    this.free = [...this.slots]
  }

  /** Array types of this server, for parsing array columns as postgres.js does (it loads them
   * on every connection; here once per isolate). */
  private readonly arrayTypes: ArrayTypes = new Map()
  private async loadArrayTypes(conn: WireConnection) {
    const [types] = await conn.query(ARRAY_TYPES_QUERY)
    for (const { oid, typarray } of types.rows as { oid: number | null; typarray: number }[]) {
      if (oid !== null) this.arrayTypes.set(typarray, oid)
    }
  }

  /** Runs `fn` with a connection of its own (postgres.js), within the admission and deadline rules above. */
  withConnection<T>(fn: (conn: Sql) => Promise<T>, signal?: RequestSignal, deadlineMs?: number): Promise<T> {
    return this.withSlot(async (slot) => {
      const lease = slot.lease()
      try {
        await lease.open().catch((e) => Promise.reject(cannotConnect(e)))
        return await fn(lease.sql)
      } finally {
        // A connection that closed while leased is not used again (see Slot).
        if (lease.lost()) slot.discard()
      }
    }, signal, deadlineMs)
  }

  /** Runs `fn` with the slot's read connection (pg-wire.ts), under the same rules. */
  withReader<T>(fn: (conn: WireConnection) => Promise<T>, signal?: RequestSignal): Promise<T> {
    return this.withSlot(async (slot) => {
      const conn = await slot.reader().catch((e) => Promise.reject(cannotConnect(e)))
      try {
        return await fn(conn)
      } finally {
        slot.readerDone()
      }
    }, signal)
  }

  private async withSlot<T>(fn: (slot: Slot) => Promise<T>, signal?: RequestSignal, deadlineMs?: number): Promise<T> {
    networkWait() // what the request queued (its rate-limit check) goes out alongside
    if (Date.now() < this.downUntil) throw unavailable('database')
    const slot = await this.acquire(signal)
    let settled = false
    const work = fn(slot)
      .finally(() => this.release(slot))
      .then((v) => (this.succeeded(), v), (e) => Promise.reject(this.failed(e)))
      .finally(() => (settled = true))
    // A server that stopped answering never settles `work`: answer 503 at the
    // deadline, and drop the connection, so that what it was sent is never
    // committed once the server answers again (the client was told to retry),
    // and the slot is free again.
    const deadline = deadlineMs ?? this.opts.statementTimeoutMs + 2000
    let timeout: Timeout | undefined
    const expired = new Promise<never>((_, reject) => {
      timeout = this.timeouts.start(deadline, () => {
        if (!settled) {
          slot.discard()
          this.markDown()
          log('warn', 'database did not answer in time', { deadline_ms: deadline })
          reject(unavailable('database'))
        }
      })
    })
    try {
      return await Promise.race([work, expired])
    } finally {
      timeout!.cancel()
    }
  }

  private acquire(signal?: RequestSignal): Promise<Slot> {
    const slot = this.free.pop()
    if (slot) return Promise.resolve(slot)
    return new Promise((resolve, reject) => {
      const entry = {
        grant: (slot: Slot) => {
          cleanup()
          resolve(slot)
        },
        fail: (e: unknown) => {
          cleanup()
          reject(e)
        },
      }
      const timeout = this.timeouts.start(this.opts.acquireTimeoutMs, () => entry.fail(unavailable('database')))
      const onAbort = () => entry.fail(clientGone())
      let watched: AbortSignal | undefined
      const watch = signal && this.timeouts.start(WATCH_CLIENT_AFTER_MS, () => {
        watched = signal()
        if (watched.aborted) return onAbort()
        watched.addEventListener('abort', onAbort, { once: true })
      })
      const cleanup = () => {
        timeout.cancel()
        watch?.cancel()
        watched?.removeEventListener('abort', onAbort)
        const i = this.waiting.indexOf(entry)
        if (i >= 0) this.waiting.splice(i, 1)
      }
      this.waiting.push(entry)
    })
  }

  private release(slot: Slot) {
    const next = this.waiting.shift()
    if (next) next.grant(slot) // the slot passes on
    else this.free.push(slot)
  }

  private succeeded() {
    this.pause = 0
  }

  private failed(err: unknown): unknown {
    // Only a database that is away pauses the isolate; a slow statement or a
    // deadlock is that request's trouble (a 503 all the same, to retry).
    const code = (err as PgError)?.code ?? (err as PgError)?.errno
    if (code && lostCodes.has(code)) this.markDown()
    else if (err instanceof ApiError && err.code === 'database_unavailable') this.markDown() // could not connect
    return translate(err)
  }

  /** Fail fast for a while: 0.5 s, doubling to 5 s while failures continue. Failures
   * during a pause are requests that were already in flight: the same outage, not a longer one. */
  private markDown() {
    if (Date.now() < this.downUntil) return
    this.pause = Math.min(5000, this.pause ? this.pause * 2 : 500)
    this.downUntil = Date.now() + this.pause
    // Waiting requests would only time out: tell them now.
    for (const w of this.waiting.splice(0)) w.fail(unavailable('database'))
  }

  async end(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.end()))
  }
}

/** Opening a connection failed (refused, TLS, pg_hba, password, timeout): to the caller the
 * database is unavailable, whatever the driver's error. */
function cannotConnect(err: unknown): ApiError {
  const e = err as PgError
  log('warn', 'database unavailable', { code: e?.code ?? e?.errno, error: e?.message })
  return unavailable('database')
}

const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47])

/** A connected socket for postgres.js, upgraded to TLS the way Postgres asks (SSLRequest,
 * then 'S') unless sslmode is disable. postgres.js upgrades one tick after the 'S': on Deno 2.1
 * the socket's next read has claimed the stream by then, the upgrade fails silently and every
 * connection times out. Upgrading within the 'data' event works on Deno 2.1 and 2.9. */
function connectSocket(
  host: string,
  port: number,
  sslmode: string,
  ca: string | undefined,
  timeoutMs: number,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, host)
    const fail = (err: Error) => {
      clearTimeout(timer)
      raw.destroy()
      reject(err)
    }
    const done = (socket: net.Socket) => {
      clearTimeout(timer)
      socket.removeListener('error', fail)
      resolve(socket)
    }
    const timedOut = Object.assign(new Error('connecting to the database timed out'), { code: 'CONNECT_TIMEOUT' })
    const timer = setTimeout(() => fail(timedOut), timeoutMs)
    raw.once('error', fail)
    raw.once('connect', () => {
      if (sslmode === 'disable') return done(raw)
      raw.once('data', upgrade)
      raw.write(SSL_REQUEST)
    })
    const upgrade = (answer: Uint8Array) => {
      // Bytes after the answer would be read as if they came over TLS (CVE-2021-23222).
      if (answer.length !== 1) return fail(new Error('unexpected data before the TLS handshake'))
      if (answer[0] !== 0x53) { // not 'S': this server has no TLS
        if (sslmode !== 'prefer' && sslmode !== 'allow') return fail(new Error('the database server has no TLS'))
        return done(raw)
      }
      raw.removeListener('error', fail)
      const verify = ca !== undefined || sslmode.startsWith('verify')
      const socket = tls.connect({
        socket: raw,
        ca,
        servername: net.isIP(host) ? undefined : host,
        rejectUnauthorized: verify,
        ...(sslmode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
      })
      socket.once('error', fail)
      socket.once('secureConnect', () => done(socket))
    }
  })
}

/** postgres.js defers a small write to an immediate and cancels it when a larger write
 * sends first. On Deno 2.1 (the Edge Runtime) an immediate cancelled while its batch is
 * running still runs, and writes postgres.js's emptied buffer: `socket.write(null)`, an
 * uncaught TypeError that ends the isolate (denoland/deno#29262). Nothing is pending then,
 * so such a write is skipped. */
export function withoutNullWrites<S extends { write(chunk: unknown, ...rest: unknown[]): boolean }>(socket: S): S {
  const write = socket.write
  socket.write = function (this: S, chunk: unknown, ...rest: unknown[]) {
    return chunk === null ? true : write.call(this, chunk, ...rest)
  }
  return socket
}

// For every socket of the isolate, not only the ones db.ts opens: the local stack's and the
// tests' own postgres.js clients (the auth service's, Storage's, the tests' admin client)
// crashed the Edge Runtime's Deno the same way.
withoutNullWrites(net.Socket.prototype)
withoutNullWrites(tls.TLSSocket.prototype)

/**
 * One place in the pool, used by one request at a time: a read connection
 * (pg-wire.ts) for user reads, and a postgres.js client of its own (max 1) for
 * transactions and the admin client, each opened when first needed. So an
 * isolate holds at most `poolMax` transactions in flight, on at most twice
 * that many server connections. Not postgres.js's own pool with reserve(): in
 * postgres.js 3.4.9 a statement sent on a reserved connection whose server
 * connection has closed throws an uncaught TypeError from a timer (the
 * process dies; upstream issue porsager/postgres#1208), and a closed reserved
 * connection may be reconnected and handed to another request while the
 * first still holds it. Here a close is seen by the request holding the
 * connection (`onclose`): its later statements are refused rather than sent on
 * a new session (outside its transaction, as the login role), and the client
 * is replaced, since a connection closed mid-write can be left unable to send.
 * A connection is opened before a lease pipelines its statements: postgres.js
 * queues statements sent while a connection opens and, when that attempt
 * fails, sends them on the next one, on a new session (outside their
 * transaction, as the login role). postgres.js's own connection lifetime would
 * close one between two statements of a transaction: connections are renewed
 * between leases instead.
 */
class Slot {
  private client?: Sql
  private renewAt = 0
  private isOpen = false
  /** Counts the closes of this slot's connections; a lease that sees it change has lost its connection. */
  private closes = 0
  /** The read connection (pg-wire.ts): opened on the first read, closed after READER_IDLE_MS unused. */
  private wire?: Promise<WireConnection>
  private wireRenewAt = 0
  private wireUsedAt = 0
  private wireBusy = false
  private wireIdle?: ReturnType<typeof setTimeout>

  constructor(
    private readonly url: string,
    private readonly options: postgres.Options<Record<string, never>>,
    private readonly openReader: () => Promise<WireConnection>,
  ) {}

  /** The read connection, opened if it is not (or has closed, or is due for renewal). A
   * connection that fails while in use rejects its query (CONNECTION_CLOSED) and is not reused. */
  async reader(): Promise<WireConnection> {
    this.wireBusy = true
    const current = this.wire && await this.wire.catch(() => undefined)
    if (current && !current.isClosed && Date.now() <= this.wireRenewAt) return current
    current?.close()
    const opening = this.openReader()
    this.wire = opening
    this.wireRenewAt = renewalTime()
    try {
      return await opening
    } catch (err) {
      if (this.wire === opening) this.wire = undefined
      throw err
    }
  }

  /** A read is over: the read connection closes once unused for READER_IDLE_MS (as
   * postgres.js's idle_timeout does for the other), so an idle isolate holds no server
   * connection. One timer per slot, re-armed when it finds the connection used since: not
   * a timer set and cleared on every read. */
  readerDone() {
    this.wireBusy = false
    this.wireUsedAt = Date.now()
    if (this.wireIdle === undefined) this.armReaderIdle(READER_IDLE_MS)
  }

  private armReaderIdle(ms: number) {
    this.wireIdle = setTimeout(() => {
      this.wireIdle = undefined
      if (!this.wire) return
      const unused = Date.now() - this.wireUsedAt
      if (this.wireBusy || unused < READER_IDLE_MS) this.armReaderIdle(READER_IDLE_MS - (this.wireBusy ? 0 : unused))
      else this.closeReader()
    }, ms)
    unref(this.wireIdle) // an idle connection keeps no process alive
  }

  private closeReader() {
    clearTimeout(this.wireIdle)
    this.wireIdle = undefined
    const wire = this.wire
    this.wire = undefined
    wire?.then((c) => c.close(), () => {})
  }

  lease(): { sql: Sql; open(): Promise<void>; lost(): boolean } {
    if (this.client && Date.now() > this.renewAt) this.discard()
    const sql = this.client ??= this.connect()
    const at = this.closes
    const lost = () => this.closes !== at
    const check = () => {
      if (lost()) throw connectionClosed()
    }
    return {
      lost,
      open: async () => {
        if (this.isOpen) return
        try {
          await sql`select 1`
        } catch (err) {
          // A client whose socket never opened is not reused: postgres.js would queue the next
          // statements behind that attempt for good (nothing reports it closed).
          this.discard()
          throw err
        }
        check()
        this.isOpen = true
      },
      sql: new Proxy(sql, {
        apply: (target, self, args) => (check(), Reflect.apply(target, self, args)),
        get: (target, prop) => {
          const value = Reflect.get(target, prop)
          return prop === 'unsafe' ? (...args: unknown[]) => (check(), Reflect.apply(value, target, args)) : value
        },
      }),
    }
  }

  /** Drops this slot's connections: the next use opens new ones. */
  discard() {
    const old = this.client
    this.client = undefined
    this.closes++
    old?.end({ timeout: 0 }).catch(() => {})
    this.closeReader()
  }

  async end() {
    const old = this.client
    this.client = undefined
    const wire = this.wire
    this.closeReader()
    await Promise.all([old?.end({ timeout: 1 }), wire?.then((c) => c.closed, () => {})])
  }

  private connect(): Sql {
    this.renewAt = renewalTime()
    this.isOpen = false
    const client: Sql = postgres(this.url, {
      ...this.options,
      max: 1,
      max_lifetime: null,
      // Only this client's closes count: a replaced one may still report its own.
      onclose: () => {
        if (this.client !== client) return
        this.isOpen = false
        this.closes++
      },
    })
    return client
  }
}

const READER_IDLE_MS = 30_000

/** When a connection opened now is renewed: in 30 to 60 minutes, as postgres.js's default lifetime. */
const renewalTime = () => Date.now() + (30 + Math.random() * 30) * 60_000

/** Lets the process (or a test) end while `timer` is pending: a Node-style timer (what
 * setTimeout gives on Deno 2.9) has unref(); a numeric one goes to Deno.unrefTimer where the
 * runtime has it, and stays as it is where it has not. */
function unref(timer: ReturnType<typeof setTimeout>) {
  const t = timer as unknown
  if (typeof t === 'object' && t !== null && 'unref' in t) (t as { unref(): void }).unref()
  else if (typeof t === 'number') (Deno as { unrefTimer?: (id: number) => void }).unrefTimer?.(t)
}

const databases = new Map<string, Database>()

export function database(opts: DbOptions): Database {
  const key = JSON.stringify(opts)
  let db = databases.get(key)
  if (!db) databases.set(key, db = new Database(opts))
  return db
}

export async function closePools(): Promise<void> {
  const all = [...databases.values()]
  databases.clear()
  await Promise.all(all.map((d) => d.end()))
}

/** The client's connection went away while this request waited: nothing to answer. */
const clientGone = () => new ApiError(499 as never, 'client_closed_request', 'the client went away')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Sessions seen alive by the database, per isolate (see freshSession). */
const liveSessions = new Map<string, number>()
const LIVE_SESSIONS_MAX = 50_000

/** Whether the database confirmed `sessionId` alive within the last `windowMs`. */
export function sessionConfirmedWithin(sessionId: string, windowMs: number): boolean {
  const at = liveSessions.get(sessionId)
  return at !== undefined && Date.now() - at < windowMs
}

/** Forget sessions (sign-out): the next request that needs one checks the database. */
export function forgetSession(sessionId: string): void {
  liveSessions.delete(sessionId)
}

function confirmSession(sessionId: string) {
  liveSessions.delete(sessionId)
  liveSessions.set(sessionId, Date.now())
  if (liveSessions.size > LIVE_SESSIONS_MAX) liveSessions.delete(liveSessions.keys().next().value!)
}

interface Scope {
  role: string
  sessionId?: string
  /** The claims as a SQL literal. */
  claims: string
}

/** What a preamble needs from verified claims, made once per claims object: a verified token
 * is remembered (auth.ts), and so are its claims, for every request that carries it. */
const scopes = new WeakMap<Claims, Scope>()
const ANON_SCOPE: Scope = { role: 'anon', claims: literal(JSON.stringify({ role: 'anon' })) }

function scopeOf(claims: Claims | null): Scope {
  if (!claims) return ANON_SCOPE
  let scope = scopes.get(claims)
  if (!scope) {
    const role = claims.role ?? 'anon'
    const sessionId = role === 'authenticated' && typeof claims.session_id === 'string' &&
        UUID.test(claims.session_id) && typeof claims.sub === 'string' && UUID.test(claims.sub)
      ? claims.session_id
      : undefined
    scope = { role, sessionId, claims: literal(JSON.stringify(claims)) }
    scopes.set(claims, scope)
  }
  return scope
}

/** Pages (jsonRows) run their generic plan: with `limit $n`, Postgres finds every custom plan
 * (made for the values given) cheaper than a generic one that cannot know the limit, so it
 * would plan each run again, and planning is half of what a page costs it. A page's query is
 * one table's rows for one user (an InitPlan even in custom plans) in an index's order, and
 * its generic plan is the custom one (the expenses list's, with and without its cursor and
 * filters, on the benchmark's 1.1 M rows). */
const GENERIC_PLAN = ", set_config('plan_cache_mode', 'force_generic_plan', true)"

/** A user read on the server connections: its name (`pam_r_` and a hash of its text), and the
 * preamble's call that prepares it there unless it is already: `prepare` skips pam.prepare_read
 * while the connection's mark for the name is set (it is once the function has prepared or found
 * the statement there); `prepareAlways` calls it, for a mark whose statement has gone. Made once
 * per text. */
interface PreparedRead {
  name: string
  prepare: string
  prepareAlways: string
}
const preparedReads = new Map<string, PreparedRead>()
const PREPARED_READS_MAX = 1000

/** Exported for the benchmark, whose Postgres floor sends the list's own message. */
export function preparedRead(text: string): PreparedRead {
  let prepared = preparedReads.get(text)
  if (!prepared) {
    if (preparedReads.size >= PREPARED_READS_MAX) preparedReads.clear()
    const name = `pam_r_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`
    const prepareAlways = `pam.prepare_read('${name}', ${literal(text)})`
    const prepare = `case when pg_catalog.current_setting('pam.${name}', true) = '1' then null else ${prepareAlways} end`
    prepared = { name, prepare, prepareAlways }
    preparedReads.set(text, prepared)
  }
  return prepared
}

/** Worth the read's one retry with its statement prepared again: a migration changed what it
 * returns (Postgres will not run the old one), or the connection's mark outlived the statement
 * (a DEALLOCATE; see 20261201000000_read_plans_marked.sql). */
function isStalePlan(err: unknown): boolean {
  const code = (err as PgError)?.code
  return code === '26000' ||
    (code === '0A000' && /cached plan must not change result type/.test((err as Error).message))
}

/** RLS-scoped client for the caller named by verified claims (or anon). */
export function postgresClient(db: Database, claims: Claims | null, signal?: RequestSignal): PostgresApi {
  const { role, sessionId, claims: claimsLiteral } = scopeOf(claims)
  if (role !== 'authenticated' && role !== 'anon') {
    throw new ApiError(403, 'unsupported_role', `tokens with role "${role}" cannot query as a user`)
  }
  // Claims come from a verified token; they are written as a literal so the
  // statement needs no describe round trip and goes in one message with begin.
  const claimsSet = `set_config('request.jwt.claims', ${claimsLiteral}, true)`
  const roleOn = `set_config('role', '${role}', true),` +
    ` set_config('statement_timeout', '${db.opts.statementTimeoutMs}', true)` +
    (sessionId ? `, pam.require_session('${sessionId}', '${claims!.sub}')` : '')
  const preamble = `select ${claimsSet}, ${roleOn}`

  /** begin + preamble as one message, pipelined with whatever runs next on `conn`. */
  const open = (conn: Sql) => {
    const pre = conn.unsafe(`begin;\n${preamble}`).execute()
    // Its error surfaces through the statements that follow; keep it quiet here.
    pre.catch(() => {})
    return pre
  }
  /** The preamble's error (a dead session) explains the statement's (an aborted transaction). */
  const firstError = async (pre: Promise<unknown>, err: unknown) => {
    try {
      await pre
    } catch (preErr) {
      return preErr
    }
    return err
  }
  const confirmed = () => sessionId && confirmSession(sessionId)

  // A read is one message and one round trip: begin read only; the preamble,
  // which first has the statement prepared on this server connection unless it
  // is already (pam.prepare_read, by the login role, before the role switch,
  // and only while the connection has no mark for it: preparedRead);
  // `execute` with the values as literals (sql-literal.ts); commit. Read only,
  // so a statement that writes fails loudly; writes use transaction(). Reads go
  // over the slot's read connection (pg-wire.ts); `asJson`: each row's first
  // column as its JSON text, never parsed (JsonRows).
  const read = <R>(text: string, params: readonly unknown[], asJson = false) =>
    db.withReader(async (conn) => {
      const prepared = preparedRead(text)
      const message = (prepare: string) =>
        `begin read only;\nselect ${claimsSet}, ${prepare}, ${roleOn}${asJson ? GENERIC_PLAN : ''};\n` +
        `execute ${prepared.name}${params.length ? `(${params.map(literalOf).join(', ')})` : ''};\ncommit`
      for (let attempt = 1;; attempt++) {
        let results
        try {
          results = await conn.query(message(attempt === 1 ? prepared.prepare : prepared.prepareAlways), asJson)
        } catch (err) {
          if (attempt === 1 && isStalePlan(err)) {
            await conn.query('rollback').catch(() => {})
            // Its text is unchanged, so prepare_read would keep it: drop it first.
            if ((err as PgError).code === '0A000') await conn.query(`deallocate ${prepared.name}`).catch(() => {})
            continue
          }
          throw err
        } finally {
          // An error left the transaction open and aborted: end it before the connection is reused.
          if (conn.status !== 'I' && !conn.isClosed) await conn.query('rollback').catch(() => conn.close())
        }
        // The preamble's rows and the statement's.
        if (results.length !== 2) throw new Error('query() and queryRaw() run exactly one statement that returns rows')
        confirmed()
        return results[1].rows as R
      }
    }, signal)

  const transaction = <T>(fn: (tx: Tx) => Promise<T>, opts: TransactionOptions = {}): Promise<T> =>
    db.withConnection(async (conn) => {
      const pre = open(conn)
      let result: T
      try {
        result = await fn(literalStatements(conn))
        await pre
        await conn`commit`
      } catch (err) {
        await conn`rollback`.catch(() => {})
        throw await firstError(pre, err)
      }
      confirmed()
      return result
    }, signal, opts.deadlineMs)

  return {
    query: <T>(strings: TemplateStringsArray, ...values: unknown[]) => read<T[]>(templateText(strings, values), values),
    queryRaw: <T>(text: string, params: unknown[] = []) => read<T[]>(text, params),
    jsonRows: (text, params = []) => read<JsonRows>(text, params, true),
    transaction,
  }
}

const isPlain = (v: unknown) =>
  !(v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array) &&
    Object.getPrototypeOf(v) !== Object.prototype)

/** The connection as a transaction sees it: a parameterised statement goes as one
 * simple-protocol message with its values as literals (sql-literal.ts), one round trip
 * instead of two — postgres.js describes a parameterised statement before binding it,
 * and the transaction pooler allows no prepared ones. Statements built with postgres.js
 * fragments or helpers keep real parameters. */
function literalStatements(conn: Sql): Tx {
  const tagged = (strings: TemplateStringsArray, ...values: unknown[]) =>
    values.length && values.every(isPlain)
      ? conn.unsafe(inlineParams(templateText(strings, values), values))
      : conn(strings, ...(values as never[]))
  const unsafe = (text: string, params?: unknown[], options?: unknown) =>
    params?.length ? conn.unsafe(inlineParams(text, params)) : conn.unsafe(text, params as never, options as never)
  return new Proxy(tagged, {
    get: (_target, prop) => (prop === 'unsafe' ? unsafe : Reflect.get(conn, prop)),
  }) as unknown as Tx
}

/** A tagged template's text with numbered parameters ($1, $2 and so on) for its values (plain values only: no postgres.js fragments). */
function templateText(strings: TemplateStringsArray, values: unknown[]): string {
  for (const v of values) {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array) &&
      Object.getPrototypeOf(v) !== Object.prototype) {
      throw new Error('query`…` takes plain values; use transaction() for postgres.js fragments')
    }
  }
  return strings.reduce((text, s, i) => `${text}$${i}${s}`)
}

/** Bypasses RLS. Only for jobs and admin paths; every use must say why. */
export function postgresAdminClient(db: Database): PostgresApi {
  const run = <T>(fn: (conn: Sql) => Promise<T>, deadlineMs?: number) => db.withConnection(fn, undefined, deadlineMs)
  return {
    query: (strings, ...values) => run((conn) => conn(strings, ...(values as never[])) as never),
    queryRaw: (text, params = []) => run((conn) => conn.unsafe(text, params as never[]) as never),
    jsonRows: (text, params = []) =>
      run((conn) => conn.unsafe(text, params as never[]).values() as unknown as Promise<string[][]>)
        .then((rows) => JsonRows.of(rows.map((r) => r[0]))),
    transaction: <T>(fn: (tx: Tx) => Promise<T>, opts: TransactionOptions = {}) =>
      run(async (conn) => {
        await conn`begin`
        try {
          const result = await fn(conn as unknown as Tx)
          await conn`commit`
          return result
        } catch (err) {
          await conn`rollback`.catch(() => {})
          throw err
        }
      }, opts.deadlineMs),
  }
}

/** The database is away (or refuses new sessions): the isolate pauses before trying again. */
const lostCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  // admin shutdown, crash shutdown, cannot connect now, too many connections, connection exceptions
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006',
])
/** Worth a retry, but the database is there: statement timeout, serialization failure and
 * deadlock, out of memory or disk. */
const retryCodes = new Set(['57014', '40001', '40P01', '53200', '53100'])
const unavailableCodes = new Set([...lostCodes, ...retryCodes])
const NOT_LOST = 'the database could not finish this request, try again shortly'

interface PgError {
  code?: string
  errno?: string
  message?: string
  detail?: string
  table_name?: string
  column_name?: string
  constraint_name?: string
}

/** The column a constraint error is about, from what Postgres reports (never the constraint's name). */
function fieldOf(e: PgError): string | undefined {
  if (e.column_name) return e.column_name
  // "Key (hustle_id, user_id)=(the values) is not present": the first key column that is not the owner.
  const key = /^Key \(([^)]+)\)/.exec(e.detail ?? '')?.[1]
  if (key) return key.split(',').map((k) => k.trim()).find((k) => k !== 'user_id') ?? key.split(',')[0].trim()
  const name = e.constraint_name
  if (name && e.table_name && name.startsWith(`${e.table_name}_`)) {
    return name.slice(e.table_name.length + 1).replace(/_(check|fkey|key|not_null)$/, '')
  }
  return name
}

const invalidField = (status: 400 | 409, code: string, message: string, field?: string) =>
  new ApiError(status, code, message, field ? [{ path: [field], message }] : undefined)

/** Maps driver and Postgres errors onto API errors; the rest stay 500. */
export function translate(err: unknown): unknown {
  if (err instanceof ApiError) return err
  const e = err as PgError
  const code = e?.code ?? e?.errno
  if (code && unavailableCodes.has(code)) {
    log('warn', 'database unavailable', { code, error: e.message })
    return retryCodes.has(code)
      ? new ApiError(503, 'database_unavailable', NOT_LOST, undefined, { 'Retry-After': '1' })
      : unavailable('database')
  }
  switch (code) {
    case 'PAM01':
      return new ApiError(401, 'session_not_found', 'this session has ended: sign in again', undefined, {
        'WWW-Authenticate': 'Bearer error="invalid_token"',
      })
    case '42501':
      return new ApiError(403, 'forbidden', 'not allowed to do that')
    case '23505':
      return invalidField(409, 'conflict', 'a record with these values already exists', fieldOf(e))
    case '23503':
      return invalidField(409, 'conflict', 'a referenced record does not exist', fieldOf(e))
    case '23514':
    case '23502':
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
    case '22001':
    case '22023':
    case '2201B':
      return invalidField(400, 'invalid_value', 'a value is not valid', fieldOf(e))
  }
  return err
}
