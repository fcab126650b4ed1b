// GET /you/dashboard: the app's home screen in one call, built from the same
// code as the routes it summarises (the calendar, what maintenance is due,
// where the budgets stand, the trips, the notifications), so its figures are
// theirs. The day's picture is cached briefly per user and dropped by every
// write to its sources; the unread count is read each time (notifications
// also arrive from jobs and other travellers, which drop nothing), and the
// weather has its own cache by place.
import type { App, AppContext } from '../_shared/http.ts'
import { readThroughCache, route, z } from '../_shared/http.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { ApiError } from '../_shared/errors.ts'
import { addDays } from '../_shared/dates.ts'
import { localDate } from '../_shared/timezone.ts'
import { LatQuery, LngQuery } from '../_shared/coordinates.ts'
import { weatherFor } from '../_shared/integrations/weather.ts'
import { json } from '../_shared/resource.ts'
import { budgetStatuses, type BudgetStatus } from '../wins/budget-status.ts'
import { maintenanceDue } from '../wheels/maintenance.ts'
import { calendarOf } from './events.ts'

export interface DashboardOptions {
  now: () => Date
}

/** Maintenance due within this many days or km shows on the home screen. */
const DUE_DAYS = 30
const DUE_KM = 1000

interface Day {
  time_zone: string
  currency: string
  today: string
  spent_today: string
  next_trip: Record<string, unknown> | null
}

/** The profile's zone and currency, today's spending in it and the next trip: one statement. */
async function dayOf(c: AppContext, now: Date): Promise<Day> {
  const [row] = await c.var.postgres.queryRaw<{ tz: string | null; currency: string | null }>(
    `select p.preferences ->> 'timezone' as tz, p.preferences ->> 'currency' as currency
     from pam.profiles p where p.id = (select auth.uid())`,
  )
  const timeZone = row?.tz && /^[A-Za-z0-9_+\-/]{1,64}$/.test(row.tz) ? row.tz : 'UTC'
  const currency = row?.currency && /^[A-Z]{3}$/.test(row.currency) ? row.currency : 'AUD'
  const today = localDate(now, timeZone)
  const [r] = await c.var.postgres.queryRaw<{ spent: string; trip: Record<string, unknown> | null }>(
    `select (select coalesce(sum(e.amount), 0)::numeric(14, 2)::text from pam.expenses e
              where e.user_id = (select auth.uid()) and e.date = $1::date and e.currency = $2) as spent,
            (select json_build_object('id', t.id, 'name', t.name, 'status', t.status, 'start_date', t.start_date,
                      'end_date', t.end_date, 'destination', t.destination)
               from pam.trips t
              where t.user_id = (select auth.uid()) and t.status <> 'completed'
                and (t.status = 'active' or t.start_date is null or t.start_date >= $1::date)
              order by t.status = 'active' desc, t.start_date nulls last, t.created_at limit 1) as trip`,
    [today, currency],
  )
  return { time_zone: timeZone, currency, today, spent_today: r.spent, next_trip: r.trip }
}

const Dashboard = z.object({
  today: z.string(),
  time_zone: z.string(),
  currency: z.string(),
  events: z.object({ today: z.array(z.unknown()), tomorrow: z.array(z.unknown()) })
    .openapi({ description: 'occurrences as /you/calendar gives them' }),
  maintenance_due: z.array(z.unknown()).openapi({ description: `as /wheels/maintenance/due (${DUE_DAYS} days, ${DUE_KM} km)` }),
  budgets: z.array(z.unknown()).openapi({ description: "this month's budgets, as /wins/budgets?period=monthly" }),
  spent_today: z.string().openapi({ description: 'expenses dated today in the home currency' }),
  next_trip: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'the active trip, else the next planned one' }),
  unread_notifications: z.number(),
  weather: z.record(z.string(), z.unknown()).nullable()
    .openapi({ description: 'at lat/lng when given (as /wheels/weather); null without them or when the service is down' }),
}).openapi('Dashboard')

const dashboard = route({
  method: 'get',
  path: '/dashboard',
  auth: 'user',
  tags: ['you: home'],
  summary: 'The home screen in one call',
  request: {
    query: z.object({ lat: LatQuery.optional(), lng: LngQuery.optional() }).refine(
      (q) => (q.lat === undefined) === (q.lng === undefined),
      { message: 'lat and lng go together', path: ['lat'] },
    ),
  },
  responses: { 200: { description: 'The home screen (x-cache says whether the day came from the cache)', ...json(Dashboard) } },
})

type Cached = Omit<z.infer<typeof Dashboard>, 'unread_notifications' | 'weather'>

/** Drops the cached home screen: after any write to what it shows. */
export const dropDashboard = (c: AppContext) =>
  c.var.cache.invalidate(c.var.userId!, CACHE_POLICIES.dashboard.key(c.var.userId!))

export function registerDashboardRoutes(app: App, opts: DashboardOptions) {
  app.openapi(dashboard, async (c) => {
    const q = c.req.valid('query')
    const now = opts.now()
    const policy = CACHE_POLICIES.dashboard
    const [{ value, status }, unread, weather] = await Promise.all([
      readThroughCache<Cached>(c, policy.key(c.var.userId!), policy.ttl, async () => {
        const day = await dayOf(c, now)
        const [events, due, budgets] = await Promise.all([
          calendarOf(c, day.today, addDays(day.today, 1), day.time_zone),
          maintenanceDue(c, now, { within_days: DUE_DAYS, within_km: DUE_KM }),
          c.var.postgres.transaction((tx) =>
            budgetStatuses(tx, { timeZone: day.time_zone, currency: day.currency, today: day.today, budgetAlerts: false }, {
              period: 'monthly',
            })
          ),
        ])
        return {
          today: day.today,
          time_zone: day.time_zone,
          currency: day.currency,
          events: {
            // Today: whatever is on today, including what began earlier and is still going.
            today: events.filter((o) => o.date <= day.today),
            tomorrow: events.filter((o) => o.date === addDays(day.today, 1)),
          },
          maintenance_due: due.due,
          budgets: budgets as BudgetStatus[],
          spent_today: day.spent_today,
          next_trip: day.next_trip,
        }
      }, (v) => v.today === localDate(now, v.time_zone)),
      c.var.postgres.queryRaw<{ n: number }>(
        `select count(*)::int as n from pam.notifications where user_id = (select auth.uid()) and read_at is null`,
      ),
      q.lat === undefined ? Promise.resolve(null) : weatherFor(c.var.config, c.var.cache).forecast({ lat: q.lat, lng: q.lng! })
        .catch((err) => {
          // The home screen still comes without the weather.
          if (err instanceof ApiError && err.code === 'upstream_unavailable') return null
          throw err
        }),
    ])
    c.set('cacheStatus', status)
    return c.json({ ...value, unread_notifications: unread[0].n, weather: weather as Record<string, unknown> | null }, 200)
  })
}
