// What every wins route module shares: schema helpers, the caller's money
// context (time zone, home currency, today), write transactions and the
// errors they answer, SQL formatting helpers and the summary-cache
// invalidation every write ends with.
import { type AppContext, ErrorSchema, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { localDate } from './periods.ts'

/** Options of createWinsApp; `now` lets tests pin the clock. */
export interface WinsOptions {
  now: () => Date
}

export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } })
export const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, ...json(schema) } })
export const errorOf = (description: string) => ({ description, ...json(ErrorSchema) })

/** Any 8-4-4-4-12 hex uuid (Postgres accepts them all; other users' ids are then 404). */
export const Uuid = z.guid().openapi({ format: 'uuid' })
export const IdParams = z.object({ id: Uuid })

export const Currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').openapi({ example: 'AUD' })

/** At most this many categories of one's own (enforced by the database: migration wins_limits). */
export const MAX_OWN_CATEGORIES = 100

/** 400 for a category or hustle the caller does not have. */
export const invalidReference = (field: 'category' | 'hustle_id', message: string) =>
  new ApiError(400, field === 'category' ? 'unknown_category' : 'unknown_hustle', message, [{ path: [field], message }])

/** A write in one transaction. Validation and the reference checks catch bad
 * input before any write; what they cannot see coming is answered here from
 * the database's refusal, as the same clear errors and never as a constraint
 * name: a limit reached by parallel requests, a category or hustle deleted
 * meanwhile, an account deleted while its access token is still valid. */
export function writeTransaction<T>(c: AppContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return c.var.postgres.transaction(async (tx) => {
    try {
      return await fn(tx)
    } catch (err) {
      throw explainRefusal(err)
    }
  })
}

function explainRefusal(err: unknown): unknown {
  const { code, constraint_name: constraint = '' } = err as { code?: string; constraint_name?: string }
  if (code === '23503' && constraint.endsWith('_user_id_fkey')) {
    return new ApiError(401, 'account_not_found', 'this account no longer exists', undefined, { 'WWW-Authenticate': 'Bearer' })
  }
  if (code === '23503' && constraint.endsWith('_hustle_fkey')) return invalidReference('hustle_id', 'not one of your hustles')
  if (code === '23514' && constraint === 'known_category') return invalidReference('category', 'unknown category')
  if (code === '23514' && constraint === 'wins_own_categories_limit') {
    return new ApiError(409, 'limit_reached', `at most ${MAX_OWN_CATEGORIES} categories of your own`, {
      limit: 'own_categories',
      max: MAX_OWN_CATEGORIES,
    })
  }
  return err
}

export interface MoneyContext {
  timeZone: string
  currency: string
  /** The user's local calendar day now. */
  today: string
  /** profiles.preferences.notifications.budget_alerts (default on). */
  budgetAlerts: boolean
}

/** The caller's time zone, home currency and today, from their profile. */
export async function moneyContext(tx: Tx, now: Date): Promise<MoneyContext> {
  const [row] = await tx`
    select p.preferences ->> 'timezone' as tz,
           p.preferences ->> 'currency' as currency,
           coalesce(p.preferences -> 'notifications' -> 'budget_alerts', 'true'::jsonb) <> 'false'::jsonb as alerts
    from pam.profiles p where p.id = (select auth.uid())`
  const timeZone = typeof row?.tz === 'string' && row.tz ? row.tz : 'UTC'
  const currency = typeof row?.currency === 'string' && /^[A-Z]{3}$/.test(row.currency) ? row.currency : 'AUD'
  return { timeZone, currency, today: localDate(now, timeZone), budgetAlerts: row?.alerts !== false }
}

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

/** After a write has committed: every cached summary of this user is stale. */
export async function invalidateSummaries(c: AppContext): Promise<void> {
  await c.var.cache.delByPrefix(CACHE_POLICIES.expense_summaries.key(c.var.userId!, ''))
}
