// What every wins route module shares: schema helpers, the caller's money
// context (time zone, home currency, today), write transactions and the
// errors they answer, SQL formatting helpers and the summary-cache
// invalidation every write ends with.
import type { AppContext } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import {
  type Refusals,
  unknownReference,
  writeTransaction as sharedWriteTransaction,
} from '../_shared/resource.ts'
export { body, errorOf, IdParams, isoSql, json, likePattern, params, Uuid } from '../_shared/resource.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { localDate } from './periods.ts'

/** Options of createWinsApp; `now` lets tests pin the clock. */
export interface WinsOptions {
  now: () => Date
}

export const Currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').openapi({ example: 'AUD' })

/** At most this many categories of one's own (enforced by the database: migration wins_limits). */
export const MAX_OWN_CATEGORIES = 100

const REFERENCE_CODES = {
  category: 'unknown_category',
  hustle_id: 'unknown_hustle',
  vehicle_id: 'unknown_vehicle',
  trip_id: 'unknown_trip',
  receipt_path: 'unknown_receipt',
} as const

/** 400 for a category, hustle, vehicle, trip or receipt the caller does not have. */
export const invalidReference = (field: keyof typeof REFERENCE_CODES, message: string) =>
  unknownReference(field, REFERENCE_CODES[field], message)

/** What the database refuses in Wins writes, as the API answers it. */
export const WINS_REFUSALS: Refusals = {
  expenses_hustle_fkey: () => invalidReference('hustle_id', 'not one of your hustles'),
  income_hustle_fkey: () => invalidReference('hustle_id', 'not one of your hustles'),
  expenses_vehicle_fkey: () => invalidReference('vehicle_id', 'not one of your vehicles'),
  expenses_trip_fkey: () => invalidReference('trip_id', 'not one of your trips'),
  expenses_receipt_path_check: () =>
    invalidReference('receipt_path', 'no such receipt of yours: upload it to the receipts bucket first'),
  expenses_full_tank_needs_volume: () =>
    new ApiError(400, 'validation_failed', 'fuel_full_tank needs fuel_volume', [
      { path: ['fuel_full_tank'], message: 'fuel_full_tank needs fuel_volume' },
    ]),
  known_category: () => invalidReference('category', 'unknown category'),
  wins_own_categories_limit: () =>
    new ApiError(409, 'limit_reached', `at most ${MAX_OWN_CATEGORIES} categories of your own`, {
      limit: 'own_categories',
      max: MAX_OWN_CATEGORIES,
    }),
  wheels_odometer_order: (err) => new ApiError(409, 'odometer_out_of_order', err.message ?? 'odometer out of order'),
}

/** A Wins write in one transaction, the database's refusals answered as clear errors. */
export const writeTransaction = <T>(c: AppContext, fn: (tx: Tx) => Promise<T>): Promise<T> =>
  sharedWriteTransaction(c, fn, WINS_REFUSALS)

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


/** After an expense or income write has committed: every cached summary of this user is stale. */
export async function invalidateSummaries(c: AppContext): Promise<void> {
  const user = c.var.userId!
  // An expense can be a fill-up whose odometer moves what maintenance is due, and the vehicle's
  // current odometer, which PAM's context states.
  await c.var.cache.invalidate(
    user,
    CACHE_POLICIES.expense_summaries.hash(user),
    CACHE_POLICIES.maintenance_records.key(user),
    CACHE_POLICIES.dashboard.key(user),
    CACHE_POLICIES.chat_context.key(user),
  )
}
