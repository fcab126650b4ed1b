// Data access. User requests go through `withPostgresClient`: every query runs
// in a transaction that first sets `request.jwt.claims` and `role
// authenticated` (what PostgREST and @supabase/server's client of the same
// name do), so RLS decides what the caller sees. `withPostgresAdminClient`
// bypasses RLS and is for scheduled jobs and admin paths only.
//
// Same shape as @supabase/server's `ctx.postgres` (`query` tagged template,
// `queryRaw`), written with postgres.js because that one runs each query in
// its own transaction with no way to group several (see its docs, "Limits
// in this version"), and PAM needs atomic multi-statement writes (CSV imports,
// an expense with its budget alert). `transaction()` adds that.
import postgres from 'postgres'
import { createMiddleware } from 'hono/factory'
import type { Config } from './config.ts'
import { ApiError, unavailable } from './errors.ts'
import { log } from './logger.ts'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql
export type Row = Record<string, unknown>

export interface PostgresApi {
  query<T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>
  queryRaw<T = Row>(text: string, params?: unknown[]): Promise<T[]>
  /** Several statements in one transaction (under the same identity). */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>
}

export interface Claims {
  sub?: string
  role?: string
  [key: string]: unknown
}

const pools = new Map<string, Sql>()

/** One pool per connection string per process, opened lazily. */
export function pool(url: string, max = 4): Sql {
  let sql = pools.get(url)
  if (!sql) {
    sql = postgres(url, {
      max,
      prepare: false, // transaction pooler (Supavisor) has no prepared statements
      connect_timeout: 5,
      idle_timeout: 30,
      onnotice: () => {},
      connection: { application_name: 'pam' },
    })
    pools.set(url, sql)
  }
  return sql
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()]
  pools.clear()
  await Promise.all(all.map((p) => p.end({ timeout: 1 })))
}

/** RLS-scoped client for the caller named by verified claims (or anon). */
export function postgresClient(sql: Sql, claims: Claims | null): PostgresApi {
  const role = claims?.role ?? 'anon'
  if (role !== 'authenticated' && role !== 'anon') {
    throw new ApiError(403, 'unsupported_role', `tokens with role "${role}" cannot query as a user`)
  }
  const claimsJson = JSON.stringify(claims ?? { role: 'anon' })
  const transaction = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> =>
    run(() =>
      sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${claimsJson}, true)`
        await tx.unsafe(role === 'authenticated' ? 'set local role authenticated' : 'set local role anon')
        return await fn(tx)
      }) as Promise<T>
    )
  return {
    query: (strings, ...values) => transaction((tx) => tx(strings, ...(values as never[])) as never),
    queryRaw: (text, params = []) => transaction((tx) => tx.unsafe(text, params as never[]) as never),
    transaction,
  }
}

/** Bypasses RLS. Only for jobs and admin paths; every use must say why. */
export function postgresAdminClient(sql: Sql): PostgresApi {
  return {
    query: (strings, ...values) => run(() => sql(strings, ...(values as never[])) as never),
    queryRaw: (text, params = []) => run(() => sql.unsafe(text, params as never[]) as never),
    transaction: <T>(fn: (tx: Tx) => Promise<T>) => run(() => sql.begin(fn) as Promise<T>),
  }
}

const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006',
])

/** Maps driver and Postgres errors onto API errors; the rest stay 500. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw translate(err)
  }
}

export function translate(err: unknown): unknown {
  if (err instanceof ApiError) return err
  const e = err as { code?: string; message?: string; errno?: string; constraint_name?: string }
  const code = e?.code ?? e?.errno
  if (code && unavailableCodes.has(code)) {
    log('warn', 'database unavailable', { code, error: e.message })
    return unavailable('database')
  }
  switch (code) {
    case '42501':
      return new ApiError(403, 'forbidden', 'not allowed to do that')
    case '23505':
      return new ApiError(409, 'conflict', 'a record with these values already exists', {
        constraint: e.constraint_name,
      })
    case '23503':
      return new ApiError(409, 'conflict', 'a referenced record does not exist', {
        constraint: e.constraint_name,
      })
    case '23514':
    case '23502':
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
      return new ApiError(400, 'invalid_value', 'a value was rejected by the database', {
        constraint: e.constraint_name,
      })
  }
  return err
}

/** Hono middleware: `c.var.postgres`, scoped to the verified claims the
 * route's auth gate puts on `c.var.supabaseContext` (anon when there are none).
 * Claims are read when a query runs, so this can be registered app-wide. */
export function withPostgresClient(config: Config) {
  return createMiddleware<{ Variables: { postgres: PostgresApi; supabaseContext?: { jwtClaims: Claims | null } } }>(
    async (c, next) => {
      const scoped = () =>
        postgresClient(pool(config.databaseUrl, config.dbPoolMax), c.get('supabaseContext')?.jwtClaims ?? null)
      c.set('postgres', {
        query: (strings, ...values) => scoped().query(strings, ...values),
        queryRaw: (text, params) => scoped().queryRaw(text, params),
        transaction: (fn) => scoped().transaction(fn),
      })
      await next()
    },
  )
}

/** Hono middleware: `c.var.postgresAdmin`, bypassing RLS (jobs and admin paths only). */
export function withPostgresAdminClient(config: Config) {
  return createMiddleware<{ Variables: { postgresAdmin: PostgresApi } }>(async (c, next) => {
    c.set('postgresAdmin', postgresAdminClient(pool(config.databaseUrl, config.dbPoolMax)))
    await next()
  })
}
