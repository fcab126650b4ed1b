// What PAM knows of the traveller before it answers: their profile (name,
// region, time zone, home currency), vehicles and active trip — one
// statement, cached under context:{user_id} (dropped when the profile,
// vehicles or trips change) — and "today" in their time zone, computed per
// message from the clock, never cached.
import type { AppContext } from '../http.ts'
import { readThroughCache } from '../http.ts'
import { CACHE_POLICIES } from '../cache.ts'
import { canonicalZone, isTimeZone, localDate } from '../timezone.ts'

export interface PamContext {
  name: string
  region: string | null
  timeZone: string
  currency: string
  vehicles: { id: string; name: string; type: string; odometer_unit: 'km' | 'mi'; current_odometer: number }[]
  activeTrip: { id: string; name: string } | null
  /** The caller's local day now. */
  today: string
  /** From the request, when the app sends it. */
  location: { lat: number; lng: number } | null
  /** The app screen the traveller is on, when the app says. */
  currentPage: string | null
}

type Cached = Omit<PamContext, 'today' | 'location' | 'currentPage'>

const CONTEXT_SQL = `
  select coalesce(nullif(p.full_name, ''), split_part(p.email, '@', 1)) as name, p.region,
         p.preferences ->> 'timezone' as tz, p.preferences ->> 'currency' as currency,
         (select coalesce(json_agg(json_build_object('id', v.id, 'name', v.name, 'type', v.type,
                   'odometer_unit', v.odometer_unit, 'current_odometer', v.current_odometer) order by v.created_at), '[]')
            from pam.vehicles v where v.user_id = p.id) as vehicles,
         (select json_build_object('id', t.id, 'name', t.name) from pam.trips t
            where t.user_id = p.id and t.status = 'active' order by t.updated_at desc limit 1) as active_trip
  from pam.profiles p where p.id = (select auth.uid())`

export async function loadContext(
  c: AppContext,
  now: Date,
  request: { location?: { lat: number; lng: number }; timezone?: string; currentPage?: string } = {},
): Promise<PamContext> {
  const policy = CACHE_POLICIES.chat_context
  const { value } = await readThroughCache<Cached>(c, policy.key(c.var.userId!), policy.ttl, async () => {
    const [row] = await c.var.postgres.queryRaw<Record<string, unknown>>(CONTEXT_SQL)
    const tz = typeof row?.tz === 'string' && isTimeZone(row.tz) ? row.tz : 'UTC'
    const currency = typeof row?.currency === 'string' && /^[A-Z]{3}$/.test(row.currency) ? row.currency : 'AUD'
    return {
      name: (row?.name as string) ?? '',
      region: (row?.region as string | null) ?? null,
      timeZone: tz,
      currency,
      vehicles: (row?.vehicles as Cached['vehicles']) ?? [],
      activeTrip: (row?.active_trip as Cached['activeTrip']) ?? null,
    }
  })
  // The profile's zone decides; the device's is used only when the profile has none.
  const timeZone = value.timeZone === 'UTC' && request.timezone && isTimeZone(request.timezone)
    ? canonicalZone(request.timezone) // the classifier tells US zones by name
    : value.timeZone
  return {
    ...value,
    timeZone,
    today: localDate(now, timeZone),
    location: request.location ?? null,
    currentPage: request.currentPage ?? null,
  }
}

/** After the profile, a vehicle or a trip changed. */
export async function forgetContext(c: AppContext): Promise<void> {
  await c.var.cache.invalidate(c.var.userId!, CACHE_POLICIES.chat_context.key(c.var.userId!))
}
