// What the wheels route modules share: options, the database's refusals as
// the API answers them, and the cache drop every write that can move an
// odometer or a due date ends with.
import type { AppContext } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { ApiError } from '../_shared/errors.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { type Refusals, unknownReference } from '../_shared/resource.ts'

/** Options of createWheelsApp; `now` lets tests pin the clock. */
export interface WheelsOptions {
  now: () => Date
}

export const FUEL_TYPES = [
  'diesel',
  'unleaded',
  'premium',
  'e10',
  'lpg',
  'electric',
  'other',
] as const

export { LatQuery, Latitude, LngQuery, Longitude } from '../_shared/coordinates.ts'

/** A positive whole number in a query string, up to `max`. */
export const wholeQuery = (max: number, description: string) =>
  z.string().regex(/^\d{1,9}$/, `a whole number up to ${max}`).transform(Number).pipe(
    z.number().min(1).max(max),
  )
    .openapi({ type: 'integer', minimum: 1, maximum: max, description })

export const WHEELS_REFUSALS: Refusals = {
  maintenance_records_vehicle_fkey: () =>
    unknownReference('vehicle_id', 'unknown_vehicle', 'not one of your vehicles'),
  trips_vehicle_fkey: () =>
    unknownReference('vehicle_id', 'unknown_vehicle', 'not one of your vehicles'),
  expenses_vehicle_fkey: () =>
    unknownReference('vehicle_id', 'unknown_vehicle', 'not one of your vehicles'),
  expenses_trip_fkey: () => unknownReference('trip_id', 'unknown_trip', 'not one of your trips'),
  campsite_reviews_campsite_id_fkey: () =>
    unknownReference('campsite_id', 'unknown_campsite', 'no such campsite'),
  trips_dates_order: () =>
    new ApiError(400, 'validation_failed', 'start_date is after end_date', [
      { path: ['start_date'], message: 'start_date is after end_date' },
    ]),
  maintenance_records_cost_currency: () =>
    new ApiError(400, 'validation_failed', 'currency goes with cost', [
      { path: ['currency'], message: 'currency goes with cost' },
    ]),
  wheels_odometer_order: (err) =>
    new ApiError(409, 'odometer_out_of_order', err.message ?? 'odometer out of order'),
  wheels_odometer_unit: (err) =>
    new ApiError(409, 'odometer_unit_locked', err.message ?? 'odometer unit locked'),
}

/** After a write that can change what is due (vehicles, maintenance, odometer readings). A
 * service's reading can raise the vehicle's current odometer, which PAM's context states. */
export async function invalidateMaintenance(c: AppContext): Promise<void> {
  const user = c.var.userId!
  await c.var.cache.invalidate(
    user,
    CACHE_POLICIES.maintenance_records.key(user),
    CACHE_POLICIES.dashboard.key(user),
    CACHE_POLICIES.chat_context.key(user),
  )
}

/** After a vehicle or trip changed: what is due, and what PAM knows of the traveller (their rigs, active trip). */
export async function invalidateVehiclesAndTrips(c: AppContext): Promise<void> {
  const user = c.var.userId!
  await c.var.cache.invalidate(
    user,
    CACHE_POLICIES.maintenance_records.key(user),
    CACHE_POLICIES.chat_context.key(user),
    CACHE_POLICIES.dashboard.key(user),
  )
}
