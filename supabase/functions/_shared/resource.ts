// One way to declare a table's API. A resource names its table, the select
// list that gives its JSON shape, its sort key, its filters and the zod
// schemas of what may be written; registerResource() turns that into
// documented, validated, RLS-scoped routes:
//
//   GET    {path}        a page, newest first (keyset cursor), filtered
//   GET    {path}/{id}   one row
//   POST   {path}        create             (when `create` is declared)
//   PATCH  {path}/{id}   change some fields (when `patch` is declared)
//   DELETE {path}/{id}   delete
//
// Every query runs as the caller through c.var.postgres, so RLS decides whose
// rows exist; another user's id is a 404. Domain rules stay in the domain's
// files: a resource may leave out any route (`routes`) and register its own,
// and its `afterWrite` hook drops what the write made stale.
import type { ZodRawShape } from 'zod'
import { type App, type AppContext, ErrorSchema, route, z } from './http.ts'
import type { TransactionOptions, Tx } from './db.ts'
import type { RateLimitTier } from './ratelimit.ts'
import { ApiError, notFound } from './errors.ts'
import { decodeCursor, type KeyKind, pageOfJson, PageQuery } from './pagination.ts'
import { calendarDate } from './dates.ts'

export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } })
export const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, ...json(schema) } })
export const errorOf = (description: string) => ({ description, ...json(ErrorSchema) })

/** Any 8-4-4-4-12 hex uuid (Postgres accepts them all; other users' ids are then 404), read in lower
 * case as Postgres writes it: ids are compared as text too (yourself, the audit log's target_id). */
export const Uuid = z.guid().overwrite((s) => s.toLowerCase()).openapi({ format: 'uuid' })
export const IdParams = z.object({ id: Uuid })

/** SQL: a timestamptz as an ISO string with microseconds, in UTC. */
export const isoSql = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/** Collects positional parameters for a hand-built query: `${p(value)}` → `$n`. */
export function params() {
  const values: unknown[] = []
  const p = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  return { values, p }
}

/** Escapes LIKE wildcards in user text. */
export const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, '\\$&')}%`

/** A patch schema: every field optional, unknown fields refused, at least one field. */
export const patchOf = <T extends ZodRawShape>(fields: T) =>
  z.object(fields).partial().strict().refine((v) => Object.keys(v).length > 0, 'nothing to update')

/** Maps a refusal of the database (by constraint name) to the API's answer. */
export type Refusals = Record<string, (err: { message?: string }) => ApiError>

/** A write in one transaction. What validation cannot see coming is answered
 * from the database's refusal as a clear error, never as a constraint name:
 * a reference to something that is not the caller's (foreign keys carry
 * user_id), a rule a parallel request got to first, or an account deleted
 * while its access token is still valid. */
export function writeTransaction<T>(
  c: AppContext,
  fn: (tx: Tx) => Promise<T>,
  refusals: Refusals = {},
  opts?: TransactionOptions,
): Promise<T> {
  // c.get, not c.var, here and in the routes below: Hono builds an object of every variable on each c.var.
  return c.get('postgres').transaction(async (tx) => {
    try {
      return await fn(tx)
    } catch (err) {
      throw explainRefusal(err, refusals)
    }
  }, opts)
}

/** The database's refusal as the API answers it (the error itself when it is not a known refusal). */
export function explainRefusal(err: unknown, refusals: Refusals): unknown {
  const { code, constraint_name: constraint = '' } = err as { code?: string; constraint_name?: string }
  if (code === '23503' && constraint.endsWith('_user_id_fkey')) {
    return new ApiError(401, 'account_not_found', 'this account no longer exists', undefined, { 'WWW-Authenticate': 'Bearer' })
  }
  const explain = (code?.startsWith('23') && refusals[constraint]) || undefined
  return explain ? explain(err as { message?: string }) : err
}

/** 400 for a reference (vehicle_id, trip_id and the like) to something the caller does not have. */
export const unknownReference = (field: string, code: string, message: string) =>
  new ApiError(400, code, message, [{ path: [field], message }])

export type Route = 'list' | 'get' | 'create' | 'patch' | 'delete'

/** Newest created first (the id breaks ties). */
export const newestFirst = (alias: string): ResourceSpec['order'] => [
  { field: 'created_at', sql: `${alias}.created_at`, kind: 'timestamp' },
  { field: 'id', sql: `${alias}.id`, kind: 'uuid' },
]

/** Latest calendar day first, then newest created (the id breaks ties). */
export const latestDayFirst = (alias: string): ResourceSpec['order'] => [
  { field: 'date', sql: `${alias}.date`, kind: 'date' },
  ...newestFirst(alias),
]

type Filters = NonNullable<ResourceSpec['filters']>

/** Filters with `from` and `to` (inclusive calendar days) on a date column, plus `more`. */
export function withDateRange(column: string, more: Omit<Filters, 'check'> = { fields: {}, where: () => [] }): Filters {
  return {
    fields: {
      from: calendarDate().optional().openapi({ description: 'first day (inclusive)' }),
      to: calendarDate().optional().openapi({ description: 'last day (inclusive)' }),
      ...more.fields,
    },
    where: (f, p) => [
      ...(f.from ? [`${column} >= ${p(f.from)}::date`] : []),
      ...(f.to ? [`${column} <= ${p(f.to)}::date`] : []),
      ...more.where(f, p),
    ],
    check: [(f) => !f.from || !f.to || (f.from as string) <= (f.to as string), { message: 'from is after to', path: ['from'] }],
  }
}

export interface Writable {
  /** For creates: built with createOf(fields), so it takes a client-generated id. */
  schema: z.ZodType
  /** SQL type of each writable field (a column of the same name): the cast of its value. */
  columns: Record<string, string>
  summary: string
  /** Fills what the input leaves to the caller's context (e.g. "today" in their time zone), in the write's
   * transaction; a patch's is given the row's id. */
  prepare?: (tx: Tx, input: Record<string, unknown>, id?: string) => Promise<Record<string, unknown>>
  /** The write's rate-limit tier (default standard). */
  rateLimit?: RateLimitTier
  /** Read the row again after the write: its after-triggers fill in what the answer shows. */
  reread?: boolean
}

export interface ResourceSpec {
  /** JSON keys: `{ [one]: row }` and `{ [many]: rows, next_cursor }`; `noun` is for messages. */
  one: string
  many: string
  noun: string
  /** Path under the function, e.g. '/vehicles' ('' for the function's root). */
  path: string
  /** The table and its alias in `select` and `scope`. */
  table: string
  alias: string
  tags: string[]
  /** The row's JSON shape and the select list (qualified by alias) that gives it. */
  schema: z.ZodObject
  select: string
  /** A condition every route adds, for a view of part of a table (e.g. the fill-ups among expenses). */
  scope?: string
  /** On a shared table (RLS shows others' rows too), the column naming the row's owner (e.g. `author_id`):
   * a create whose client-generated id is someone else's row is 409 id_taken, not that row. */
  owner?: string
  /** Whose rows the list shows: the caller's own by default (`{alias}.user_id = auth.uid()`);
   * a shared table names its own condition, RLS deciding what else is visible. */
  listScope?: string
  /** The sort key, newest first: fields of the row with their SQL and kind. The last is unique (the id). */
  order: { field: string; sql: string; kind: KeyKind }[]
  listSummary: string
  /** Query filters: their zod fields, and the SQL conditions for the values given. */
  filters?: {
    fields: ZodRawShape
    where: (f: Record<string, unknown>, p: (v: unknown) => string) => string[]
    check?: [(f: Record<string, unknown>) => boolean, { message: string; path: string[] }]
  }
  create?: Writable
  patch?: Writable
  /** Routes to leave out (the domain registers its own). */
  without?: Route[]
  refusals?: Refusals
  /** Why a patch or delete found no row it may change, when that is not "no such row"
   * (a shared row the caller sees but may not change is a 403, not a 404). */
  refuse?: (c: AppContext, id: string) => Promise<ApiError | undefined>
  /** Runs after a write has committed, with the id of the row written. */
  afterWrite?: (c: AppContext, id: string) => Promise<void>
}

/** Every resource declared in this isolate (a test checks that each select list's columns
 * have the same JSON in Postgres as in postgres.js, which the list relies on). */
export const declaredResources: ResourceSpec[] = []

/** The routes of a resource, declared once: validation and OpenAPI from the same schemas. */
export function registerResource(app: App, spec: ResourceSpec): void {
  declaredResources.push(spec)
  const a = spec.alias
  const has = (r: Route) => !spec.without?.includes(r) && (r === 'create' ? !!spec.create : r === 'patch' ? !!spec.patch : true)
  const one = z.object({ [spec.one]: spec.schema })
  const scoped = (where: string[]) => (spec.scope ? [...where, spec.scope] : where)
  const from = `${spec.table} ${a}`
  const afterWrite = (c: AppContext, id: string) => spec.afterWrite?.(c, id) ?? Promise.resolve()
  const noSuch = errorOf(`No such ${spec.noun}`)
  const missing = async (c: AppContext, id: string) => (await spec.refuse?.(c, id)) ?? notFound(spec.noun)
  const base = { auth: 'user' as const, tags: spec.tags }

  if (has('create')) {
    const { schema, columns, summary, prepare, rateLimit, reread } = spec.create!
    const r = route({
      ...base,
      rateLimit,
      method: 'post',
      path: spec.path,
      summary,
      request: body(schema),
      responses: {
        201: { description: 'Created', ...json(one) },
        200: { description: 'Already created with this client-generated id: the existing record, unchanged', ...json(one) },
        409: errorOf('id_taken: the client-generated id is already used'),
      },
    })
    app.openapi(r, async (c: AppContext) => {
      const input = (c.req as unknown as { valid(t: 'json'): Record<string, unknown> }).valid('json')
      const { row, created } = await writeTransaction(
        c,
        async (tx) => {
          const written = await insertRow(tx, spec, prepare ? await prepare(tx, input) : input, columns)
          if (!reread) return written
          const where = [`${a}.id = $1::uuid`, ...(spec.scope ? [spec.scope] : [])].join(' and ')
          const [row] = await tx.unsafe(`select ${spec.select} from ${from} where ${where}`, [written.row.id as string])
          return { ...written, row }
        },
        spec.refusals,
      )
      if (created) await afterWrite(c, row.id as string)
      return c.json({ [spec.one]: row }, created ? 201 : 200)
    })
  }

  if (has('list')) {
    const query = z.object({ ...spec.filters?.fields, ...PageQuery })
    const r = route({
      ...base,
      method: 'get',
      path: spec.path || '/', // '' : a function's own root (its items are /{id})
      summary: spec.listSummary,
      request: { query: spec.filters?.check ? query.refine(...spec.filters.check) : query },
      responses: {
        200: { description: 'A page', ...json(z.object({ [spec.many]: z.array(spec.schema), next_cursor: z.string().nullable() })) },
      },
    })
    // The parts of the page's query that are the same for every request.
    const scope = spec.listScope ?? `${a}.user_id = (select auth.uid())`
    const keyKinds = spec.order.map((k) => k.kind)
    const keyColumns = spec.order.map((k) => k.sql).join(', ')
    const orderBy = spec.order.map((k) => `${k.sql} desc`).join(', ')
    app.openapi(r, async (c: AppContext) => {
      const { limit, cursor, ...f } = (c.req as unknown as { valid(t: 'query'): Record<string, unknown> }).valid('query')
      const { values, p } = params()
      const where = scoped([scope, ...(spec.filters?.where(f, p) ?? [])])
      if (cursor) {
        const key = decodeCursor(cursor as string, keyKinds)
        const casts = spec.order.map((k, i) => `${p(key[i])}${CAST[k.kind]}`)
        where.push(`(${keyColumns}) < (${casts.join(', ')})`)
      }
      // Each row comes as its JSON text, made by Postgres: parsing every column
      // here only to write it out again cost most of a list's time in the
      // function. The rows keep the inner query's order (a plain subquery scan).
      const rows = await c.get('postgres').jsonRows(
        `select row_to_json(r)::text as row from (select ${spec.select} from ${from} where ${where.join(' and ')}
         order by ${orderBy} limit ${p((limit as number) + 1)}) r`,
        values,
      )
      const body = pageOfJson(spec.many, rows, limit as number, (last) => spec.order.map((k) => last[k.field] as string))
      return c.body(body, 200, { 'content-type': 'application/json' }) as never // the page, as JSON text
    })
  }

  if (has('get')) {
    const r = route({
      ...base,
      method: 'get',
      path: `${spec.path}/{id}`,
      summary: `One ${spec.noun}`,
      request: { params: IdParams },
      responses: { 200: { description: `The ${spec.noun}`, ...json(one) }, 404: noSuch },
    })
    app.openapi(r, async (c: AppContext) => {
      const { id } = (c.req as unknown as { valid(t: 'param'): { id: string } }).valid('param')
      const [row] = await c.get('postgres').queryRaw(
        `select ${spec.select} from ${from} where ${scoped([`${a}.id = $1::uuid`]).join(' and ')}`,
        [id],
      )
      if (!row) throw notFound(spec.noun)
      return c.json({ [spec.one]: row }, 200)
    })
  }

  if (has('patch')) {
    const { schema, columns, summary, prepare, rateLimit } = spec.patch!
    const r = route({
      ...base,
      rateLimit,
      method: 'patch',
      path: `${spec.path}/{id}`,
      summary,
      request: { params: IdParams, ...body(schema) },
      responses: {
        200: { description: 'Updated', ...json(one) },
        404: noSuch,
        ...(spec.refuse ? { 403: errorOf(`Not yours to change`) } : {}),
      },
    })
    app.openapi(r, async (c: AppContext) => {
      const { id } = (c.req as unknown as { valid(t: 'param'): { id: string } }).valid('param')
      const patch = (c.req as unknown as { valid(t: 'json'): Record<string, unknown> }).valid('json')
      const row = await writeTransaction(
        c,
        async (tx) => updateRow(tx, spec, id, prepare ? await prepare(tx, patch, id) : patch, columns),
        spec.refusals,
      )
      if (!row) throw await missing(c, id)
      await afterWrite(c, id)
      return c.json({ [spec.one]: row }, 200)
    })
  }

  if (has('delete')) {
    const r = route({
      ...base,
      method: 'delete',
      path: `${spec.path}/{id}`,
      summary: `Delete a ${spec.noun}`,
      request: { params: IdParams },
      responses: {
        204: { description: 'Deleted' },
        404: noSuch,
        ...(spec.refuse ? { 403: errorOf(`Not yours to delete`) } : {}),
      },
    })
    app.openapi(r, async (c: AppContext) => {
      const { id } = (c.req as unknown as { valid(t: 'param'): { id: string } }).valid('param')
      const rows = await writeTransaction(
        c,
        (tx) => tx.unsafe(`delete from ${from} where ${scoped([`${a}.id = $1::uuid`]).join(' and ')} returning ${a}.id`, [id]),
        spec.refusals,
      )
      if (!rows.length) throw await missing(c, id)
      await afterWrite(c, id)
      return c.body(null, 204)
    })
  }
}

const CAST: Record<KeyKind, string> = { date: '::date', timestamp: '::text::timestamptz', uuid: '::uuid' }

/** `$n::type` for a value; jsonb travels as text (postgres.js would send an array as a Postgres array). */
function cast(p: (v: unknown) => string, value: unknown, type: string): string {
  return type === 'jsonb' && value !== null ? `${p(JSON.stringify(value))}::text::jsonb` : `${p(value)}::${type}`
}

/** The optional client-generated id every create takes (offline apps make records, and link them, before they sync). */
export const ClientId = Uuid.optional().openapi({
  description: 'your own id for the new record (a UUID made on the device); creating the same id again answers the ' +
    'existing record (200) instead of a duplicate',
})

/** A create schema: the fields, unknown fields refused, and the optional client-generated `id`. */
export const createOf = <T extends ZodRawShape>(fields: T) => z.object({ id: ClientId, ...fields }).strict()

/** 409 when a client-generated id is already someone else's. */
export const idTaken = () => new ApiError(409, 'id_taken', 'this id is already used; make a new UUID')

/** Inserts the given fields (the table's defaults fill the rest) and returns the row as the API shows it.
 * With a client-generated `id` that exists already, the caller's existing row is answered instead
 * (`created: false`), unchanged; someone else's is id_taken (RLS hides it, or `owner` does). */
export async function insertRow(
  tx: Tx,
  spec: Pick<ResourceSpec, 'table' | 'alias' | 'select' | 'scope' | 'owner'>,
  input: Record<string, unknown>,
  columns: Record<string, string>,
): Promise<{ row: Record<string, unknown>; created: boolean }> {
  const { values, p } = params()
  const fields = Object.keys(input).filter((k) => (k in columns || k === 'id') && input[k] !== undefined)
  const types: Record<string, string> = { ...columns, id: 'uuid' }
  const [row] = await tx.unsafe(
    fields.length
      ? `insert into ${spec.table} as ${spec.alias} (${fields.join(', ')})
         values (${fields.map((k) => cast(p, input[k], types[k])).join(', ')})
         ${input.id ? 'on conflict (id) do nothing' : ''} returning ${spec.select}`
      : `insert into ${spec.table} as ${spec.alias} default values returning ${spec.select}`,
    values as never[],
  )
  if (row) return { row, created: true }
  const where = [
    `${spec.alias}.id = $1::uuid`,
    ...(spec.scope ? [spec.scope] : []),
    ...(spec.owner ? [`${spec.alias}.${spec.owner} = (select auth.uid())`] : []),
  ]
  const [existing] = await tx.unsafe(`select ${spec.select} from ${spec.table} ${spec.alias} where ${where.join(' and ')}`, [
    input.id,
  ] as never[])
  if (!existing) throw idTaken()
  return { row: existing, created: false }
}

/** Updates the given fields of row `id` (within the spec's scope); undefined when there is no such row. */
export async function updateRow(
  tx: Tx,
  spec: Pick<ResourceSpec, 'table' | 'alias' | 'select' | 'scope'>,
  id: string,
  patch: Record<string, unknown>,
  columns: Record<string, string>,
  extraSets: string[] = [],
): Promise<Record<string, unknown> | undefined> {
  const { values, p } = params()
  const sets = Object.entries(patch).filter(([k]) => k in columns).map(([k, v]) => `${k} = ${cast(p, v, columns[k])}`)
  const where = [`${spec.alias}.id = ${p(id)}::uuid`, ...(spec.scope ? [spec.scope] : [])]
  const [row] = await tx.unsafe(
    `update ${spec.table} as ${spec.alias} set ${[...sets, ...extraSets].join(', ')}
     where ${where.join(' and ')} returning ${spec.select}`,
    values as never[],
  )
  return row
}
