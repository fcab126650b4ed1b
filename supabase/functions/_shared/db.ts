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
// Round trips. The preamble (begin, then claims, role, statement timeout and
// the session check in one parameterless statement) is pipelined with the
// first statement, so a one-statement read answers after two round trips:
// the preamble plus the statement's parse and describe, then its execution.
// (postgres.js describes a parameterised statement before binding it, and
// the transaction pooler allows no prepared statements to skip that.) Such a
// read runs in a read-only transaction whose commit is not waited for:
// nothing the answer depends on can change with it. Writes go through
// `transaction()`, which answers only once committed.
//
// Failure. At most `poolMax` transactions per isolate; a request waits for a
// slot at most `acquireTimeoutMs`, gives up when its client has gone, and
// every transaction has a deadline (statement timeout on the server, and the
// same plus a margin here for a server that stopped answering). While the
// database is unreachable, requests get a 503 at once for a short, growing
// pause instead of queueing behind connection attempts.
import postgres from 'postgres'
import { ApiError, unavailable } from './errors.ts'
import { log } from './logger.ts'

export type Sql = postgres.Sql
export type Tx = postgres.Sql
export type Row = Record<string, unknown>

export interface PostgresApi {
  /** One statement in a read-only transaction, answered without waiting for its commit. */
  query<T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>
  queryRaw<T = Row>(text: string, params?: unknown[]): Promise<T[]>
  /** Statements that write, or must see one snapshot: one transaction, committed before it resolves. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>
}

export interface Claims {
  sub?: string
  role?: string
  session_id?: string
  [key: string]: unknown
}

export interface DbOptions {
  url: string
  poolMax: number
  /** Server-side limit of one statement; the transaction's deadline here is this plus a margin. */
  statementTimeoutMs: number
  /** How long a request may wait for a free connection. */
  acquireTimeoutMs: number
}

/** One pool per connection string per isolate, opened lazily. */
export class Database {
  readonly sql: Sql
  private inUse = 0
  private readonly waiting: { grant: () => void; fail: (e: unknown) => void }[] = []
  private downUntil = 0
  private pause = 0

  constructor(readonly opts: DbOptions) {
    this.sql = postgres(opts.url, {
      max: opts.poolMax,
      prepare: false, // the transaction pooler (Supavisor) has no prepared statements
      connect_timeout: Math.max(1, Math.ceil(opts.acquireTimeoutMs / 1000)),
      idle_timeout: 30,
      onnotice: () => {},
      connection: { application_name: 'pam' },
    })
  }

  /** Runs `fn` with a reserved connection, within the admission and deadline rules above.
   * `fn` may return `after`, work that must finish on the same connection before it goes
   * back to the pool (a read's commit) but that the answer need not wait for. */
  async withConnection<T>(
    fn: (conn: postgres.ReservedSql) => Promise<{ value: T; after?: Promise<unknown> }>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (Date.now() < this.downUntil) throw unavailable('database')
    await this.acquire(signal)
    let settled = false
    const work = (async () => {
      const conn = await this.sql.reserve()
      let after: Promise<unknown> | undefined
      try {
        const out = await fn(conn)
        after = out.after
        return out.value
      } finally {
        const release = () => {
          conn.release()
          this.release()
        }
        if (after) after.then(release, release)
        else release()
      }
    })()
      .then((v) => (this.succeeded(), v), (e) => Promise.reject(this.failed(e)))
      .finally(() => (settled = true))
    // A server that stopped answering never settles `work`: answer 503 at the
    // deadline (the slot stays taken until it does settle).
    const deadline = this.opts.statementTimeoutMs + 2000
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (!settled) {
          this.markDown()
          log('warn', 'database did not answer in time', { deadline_ms: deadline })
          reject(unavailable('database'))
        }
      }, deadline)
    })
    try {
      return await Promise.race([work, expired])
    } finally {
      clearTimeout(timer)
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(clientGone())
    if (this.inUse < this.opts.poolMax) {
      this.inUse++
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          cleanup()
          resolve()
        },
        fail: (e: unknown) => {
          cleanup()
          reject(e)
        },
      }
      const timer = setTimeout(() => entry.fail(unavailable('database')), this.opts.acquireTimeoutMs)
      const onAbort = () => entry.fail(clientGone())
      signal?.addEventListener('abort', onAbort, { once: true })
      const cleanup = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        const i = this.waiting.indexOf(entry)
        if (i >= 0) this.waiting.splice(i, 1)
      }
      this.waiting.push(entry)
    })
  }

  private release() {
    const next = this.waiting.shift()
    if (next) next.grant() // the slot passes on
    else this.inUse--
  }

  private succeeded() {
    this.pause = 0
  }

  private failed(err: unknown): unknown {
    const e = translate(err)
    if (e instanceof ApiError && e.code === 'database_unavailable') this.markDown()
    return e
  }

  /** Fail fast for a while: 0.5 s, doubling to 5 s while failures continue. */
  private markDown() {
    this.pause = Math.min(5000, this.pause ? this.pause * 2 : 500)
    this.downUntil = Date.now() + this.pause
    // Waiting requests would only time out: tell them now.
    for (const w of this.waiting.splice(0)) w.fail(unavailable('database'))
  }

  async end(): Promise<void> {
    await this.sql.end({ timeout: 1 })
  }
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

/** A SQL string literal in the E'' form, which means the same whatever standard_conforming_strings says. */
export function literal(text: string): string {
  if (text.includes('\0')) throw new Error('a SQL literal cannot hold NUL')
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

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

/** RLS-scoped client for the caller named by verified claims (or anon). */
export function postgresClient(db: Database, claims: Claims | null, signal?: AbortSignal): PostgresApi {
  const role = claims?.role ?? 'anon'
  if (role !== 'authenticated' && role !== 'anon') {
    throw new ApiError(403, 'unsupported_role', `tokens with role "${role}" cannot query as a user`)
  }
  const sessionId = role === 'authenticated' && typeof claims?.session_id === 'string' &&
      UUID.test(claims.session_id) && typeof claims.sub === 'string' && UUID.test(claims.sub)
    ? claims.session_id
    : undefined
  // Claims come from a verified token; they are inlined (not a parameter) so
  // the statement needs no describe round trip and pipelines with begin.
  const preamble = `select set_config('request.jwt.claims', ${literal(JSON.stringify(claims ?? { role: 'anon' }))}, true),` +
    ` set_config('role', '${role}', true),` +
    ` set_config('statement_timeout', '${db.opts.statementTimeoutMs}', true)` +
    (sessionId ? `, pam.require_session('${sessionId}', '${claims!.sub}')` : '')

  /** begin + preamble, pipelined with whatever runs next on `conn`. */
  const open = (conn: postgres.ReservedSql, readOnly: boolean) => {
    const begin = (readOnly ? conn`begin read only` : conn`begin`).execute()
    const pre = conn.unsafe(preamble).execute()
    // Errors surface through the statements that follow; keep these quiet.
    begin.catch(() => {})
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

  const read = <T>(statement: (conn: postgres.ReservedSql) => postgres.PendingQuery<postgres.Row[]>) =>
    db.withConnection(async (conn) => {
      // Read-only, so a statement that writes fails loudly instead of being
      // acknowledged before its commit.
      const pre = open(conn, true)
      let rows: T[]
      try {
        rows = await statement(conn) as unknown as T[]
      } catch (err) {
        await conn`rollback`.catch(() => {})
        throw await firstError(pre, err)
      }
      confirmed()
      // A read's answer does not wait for its commit; the connection goes
      // back to the pool once the commit is through.
      return { value: rows, after: conn`commit`.execute() }
    }, signal)

  const transaction = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> =>
    db.withConnection(async (conn) => {
      const pre = open(conn, false)
      let result: T
      try {
        result = await fn(conn as unknown as Tx)
        await pre
        await conn`commit`
      } catch (err) {
        await conn`rollback`.catch(() => {})
        throw await firstError(pre, err)
      }
      confirmed()
      return { value: result }
    }, signal)

  return {
    query: (strings, ...values) => read((conn) => conn(strings, ...(values as never[]))),
    queryRaw: (text, params = []) => read((conn) => conn.unsafe(text, params as never[])),
    transaction,
  }
}

/** Bypasses RLS. Only for jobs and admin paths; every use must say why. */
export function postgresAdminClient(db: Database): PostgresApi {
  const run = <T>(fn: (conn: postgres.ReservedSql) => Promise<T>) =>
    db.withConnection(async (conn) => ({ value: await fn(conn) }))
  return {
    query: (strings, ...values) => run((conn) => conn(strings, ...(values as never[])) as never),
    queryRaw: (text, params = []) => run((conn) => conn.unsafe(text, params as never[]) as never),
    transaction: <T>(fn: (tx: Tx) => Promise<T>) =>
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
      }),
  }
}

const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  // admin shutdown, crash shutdown, cannot connect now, too many connections, connection exceptions,
  // statement timeout, serialization and deadlock (retry later), out of memory / disk
  '57P01', '57P02', '57P03', '53300', '53200', '53100', '08000', '08001', '08003', '08006', '57014',
  '40001', '40P01',
])

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
  // "Key (hustle_id, user_id)=(…) …": the first key column that is not the owner.
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
    return unavailable('database')
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
