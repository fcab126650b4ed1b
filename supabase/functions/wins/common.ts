// What every wins route module shares: schema helpers, the caller's money
// context (time zone, home currency, today), SQL formatting helpers and the
// summary-cache invalidation every write ends with.
import { type AppContext, ErrorSchema, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
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
export const Uuid = z.guid().openapi({ type: 'string', format: 'uuid' })
export const IdParams = z.object({ id: Uuid })

export const Currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').openapi({ example: 'AUD' })

/** An optional text field: trimmed, 1..max characters, null clears it. */
export const optionalText = (max: number) => z.string().trim().min(1).max(max).nullable().optional()

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
