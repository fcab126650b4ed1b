// /wheels/maintenance: work done on a vehicle (a resource) and what is due.
// The latest record of a task on a vehicle decides when it is next due: by
// its next_due_date / next_due_odometer, else by its date + interval_days /
// odometer + interval_distance. Due items are cached per user (with the
// time zone that decides "today") and dropped by every write that can move
// an odometer or a due date.
import type { App, AppContext } from '../_shared/http.ts'
import { readThroughCache, route, z } from '../_shared/http.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import type { Tx } from '../_shared/db.ts'
import { calendarDate, daysBetween } from '../_shared/dates.ts'
import {
  createOf,
  isoSql,
  json,
  latestDayFirst,
  likePattern,
  patchOf,
  registerResource,
  type ResourceSpec,
  Uuid,
  withDateRange,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { localDate } from '../_shared/timezone.ts'
import { invalidateMaintenance, WHEELS_REFUSALS, type WheelsOptions, wholeQuery } from './common.ts'

const Cost = z.string().regex(/^\d{1,10}(\.\d{1,2})?$/, 'a decimal string such as "189.00"')
  .openapi({ example: '189.00' })

const fields = {
  vehicle_id: Uuid,
  task: singleLineText({ max: 200 }).openapi({ example: 'Engine oil and filter' }),
  date: calendarDate(),
  odometer: z.number().int().min(0).max(10_000_000).nullable().optional()
    .openapi({
      description: "in the vehicle's unit; readings must follow the calendar (409 otherwise)",
    }),
  cost: Cost.nullable().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').nullable().optional()
    .openapi({ description: "with cost; default: the profile's currency" }),
  location: singleLineText({ max: 200 }).nullable().optional(),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
  next_due_date: calendarDate().nullable().optional(),
  next_due_odometer: z.number().int().min(0).max(10_000_000).nullable().optional(),
  interval_days: z.number().int().min(1).max(3650).nullable().optional()
    .openapi({
      description: 'due again this many days after date (when next_due_date is not given)',
    }),
  interval_distance: z.number().int().min(1).max(1_000_000).nullable().optional()
    .openapi({ description: "due again this far after odometer, in the vehicle's unit" }),
}

const COLUMNS: Record<string, string> = {
  vehicle_id: 'uuid',
  task: 'text',
  date: 'date',
  odometer: 'integer',
  cost: 'numeric',
  currency: 'text',
  location: 'text',
  notes: 'text',
  next_due_date: 'date',
  next_due_odometer: 'integer',
  interval_days: 'integer',
  interval_distance: 'integer',
}

const Maintenance = z.object({
  id: z.string(),
  vehicle_id: z.string(),
  task: z.string(),
  date: z.string(),
  odometer: z.number().nullable(),
  cost: z.string().nullable(),
  currency: z.string().nullable(),
  location: z.string().nullable(),
  notes: z.string(),
  next_due_date: z.string().nullable(),
  next_due_odometer: z.number().nullable(),
  interval_days: z.number().nullable(),
  interval_distance: z.number().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('MaintenanceRecord')

const DueItem = z.object({
  record_id: z.string(),
  vehicle_id: z.string(),
  vehicle_name: z.string(),
  task: z.string(),
  last_done: z.object({ date: z.string(), odometer: z.number().nullable() }),
  due_date: z.string().nullable(),
  due_odometer: z.number().nullable(),
  odometer_unit: z.enum(['km', 'mi']),
  current_odometer: z.number(),
  days_left: z.number().nullable().openapi({ description: 'negative when overdue' }),
  distance_left: z.number().nullable().openapi({
    description: "in the vehicle's unit; negative when overdue",
  }),
  status: z.enum(['overdue', 'due']),
  by: z.array(z.enum(['date', 'odometer'])).openapi({
    description: 'what makes it due or overdue',
  }),
}).openapi('MaintenanceDue')

interface OpenItem {
  record_id: string
  vehicle_id: string
  vehicle_name: string
  task: string
  date: string
  odometer: number | null
  due_date: string | null
  due_odometer: number | null
  odometer_unit: 'km' | 'mi'
  current_odometer: number
}
interface CachedDue {
  timeZone: string
  items: OpenItem[]
}

const KM_PER_MILE = 1.609344

const dueRoute = route({
  method: 'get',
  path: '/maintenance/due',
  auth: 'user',
  tags: ['wheels: maintenance'],
  summary:
    'What is due or overdue, by date or odometer, per vehicle, soonest first (cached; x-cache)',
  request: {
    query: z.object({
      within_days: wholeQuery(3650, 'due within this many days (default 30)').default(30),
      within_km: wholeQuery(1_000_000, 'due within this distance in km (default 1000)').default(
        1000,
      ),
      vehicle_id: Uuid.optional(),
    }),
  },
  responses: {
    200: {
      description: 'Due items',
      ...json(
        z.object({
          today: z.string(),
          within_days: z.number(),
          within_km: z.number(),
          due: z.array(DueItem),
        }),
      ),
    },
  },
})

/** Each task's latest record per vehicle, with what it says is next due (exported for the benchmark's plan). */
export const OPEN_ITEMS_SQL = `
  with latest as (
    select distinct on (m.user_id, m.vehicle_id, lower(m.task)) m.id, m.vehicle_id, m.task, m.date, m.odometer,
           coalesce(m.next_due_date, m.date + m.interval_days) as due_date,
           coalesce(m.next_due_odometer, m.odometer + m.interval_distance) as due_odometer
    from pam.maintenance_records m
    where m.user_id = (select auth.uid())
    order by m.user_id, m.vehicle_id, lower(m.task), m.date desc, m.created_at desc
  )
  select l.id as record_id, l.vehicle_id, v.name as vehicle_name, l.task, l.date::text as date, l.odometer,
         l.due_date::text as due_date, l.due_odometer, v.odometer_unit, v.current_odometer,
         (select p.preferences ->> 'timezone' from pam.profiles p where p.id = (select auth.uid())) as tz
  from latest l join pam.vehicles v on v.id = l.vehicle_id
  where l.due_date is not null or l.due_odometer is not null`

/** The due and overdue items among `items` on `today`, soonest first. */
export function dueItems(items: OpenItem[], today: string, withinDays: number, withinKm: number) {
  const due = []
  for (const it of items) {
    const daysLeft = it.due_date ? daysBetween(today, it.due_date) : null
    const distanceLeft = it.due_odometer !== null ? it.due_odometer - it.current_odometer : null
    const withinDistance = it.odometer_unit === 'mi' ? withinKm / KM_PER_MILE : withinKm
    const overdueBy = [
      ...(daysLeft !== null && daysLeft < 0 ? ['date' as const] : []),
      ...(distanceLeft !== null && distanceLeft < 0 ? ['odometer' as const] : []),
    ]
    const dueBy = [
      ...(daysLeft !== null && daysLeft <= withinDays ? ['date' as const] : []),
      ...(distanceLeft !== null && distanceLeft <= withinDistance ? ['odometer' as const] : []),
    ]
    if (!dueBy.length) continue
    due.push({
      record_id: it.record_id,
      vehicle_id: it.vehicle_id,
      vehicle_name: it.vehicle_name,
      task: it.task,
      last_done: { date: it.date, odometer: it.odometer },
      due_date: it.due_date,
      due_odometer: it.due_odometer,
      odometer_unit: it.odometer_unit,
      current_odometer: it.current_odometer,
      days_left: daysLeft,
      distance_left: distanceLeft,
      status: overdueBy.length ? 'overdue' as const : 'due' as const,
      by: overdueBy.length ? overdueBy : dueBy,
    })
  }
  // Overdue first; then by days left, then by distance left (unknowns last).
  const rank = (n: number | null) => n ?? Number.POSITIVE_INFINITY
  return due.sort((a, b) =>
    (a.status === b.status ? 0 : a.status === 'overdue' ? -1 : 1) ||
    rank(a.days_left) - rank(b.days_left) ||
    rank(a.distance_left) - rank(b.distance_left) ||
    a.task.localeCompare(b.task)
  )
}

/** The resource's declaration (also used by sync). */
export const maintenanceResource: ResourceSpec = {
  one: 'record',
  many: 'records',
  noun: 'maintenance record',
  path: '/maintenance',
  table: 'pam.maintenance_records',
  alias: 'm',
  tags: ['wheels: maintenance'],
  schema: Maintenance,
  select: `m.id, m.vehicle_id, m.task, m.date::text as date, m.odometer, m.cost::text as cost,
    m.currency::text as currency, m.location, m.notes, m.next_due_date::text as next_due_date, m.next_due_odometer,
    m.interval_days, m.interval_distance, ${isoSql('m.created_at')} as created_at, ${
    isoSql('m.updated_at')
  } as updated_at`,
  order: latestDayFirst('m'),
  listSummary: 'Maintenance records, newest first',
  filters: withDateRange('m.date', {
    fields: {
      vehicle_id: Uuid.optional(),
      q: singleLineText({ max: 100 }).optional().openapi({ description: 'text in the task' }),
    },
    where: (f, p) => [
      ...(f.vehicle_id ? [`m.vehicle_id = ${p(f.vehicle_id)}::uuid`] : []),
      ...(f.q ? [`m.task ilike ${p(likePattern(f.q as string))}`] : []),
    ],
  }),
  create: {
    schema: createOf(fields).openapi('MaintenanceCreate'),
    columns: COLUMNS,
    summary:
      "Record maintenance (advances the vehicle's odometer; 409 when the reading is out of order)",
    prepare: costCurrency,
  },
  patch: {
    schema: patchOf(fields).openapi('MaintenancePatch'),
    columns: COLUMNS,
    summary: 'Change a maintenance record',
    prepare: costCurrency,
  },
  refusals: WHEELS_REFUSALS,
  afterWrite: invalidateMaintenance,
}

/** What is due for the caller (the route's answer; PAM's get_maintenance_due tool). */
export async function maintenanceDue(
  c: AppContext,
  now: Date,
  q: { within_days: number; within_km: number; vehicle_id?: string },
) {
  const policy = CACHE_POLICIES.maintenance_records
  const { value, status } = await readThroughCache<CachedDue>(c, policy.key(c.var.userId!), policy.ttl, async () => {
    const rows = await c.var.postgres.queryRaw<OpenItem & { tz: string | null }>(OPEN_ITEMS_SQL)
    const timeZone = rows[0]?.tz ?? (await c.var.postgres.queryRaw<{ tz: string | null }>(
      `select p.preferences ->> 'timezone' as tz from pam.profiles p where p.id = (select auth.uid())`,
    ))[0]?.tz ?? 'UTC'
    return { timeZone, items: rows.map(({ tz: _tz, ...item }) => item) }
  })
  const today = localDate(now, value.timeZone)
  const items = q.vehicle_id ? value.items.filter((i) => i.vehicle_id === q.vehicle_id) : value.items
  return { today, due: dueItems(items, today, q.within_days, q.within_km), status }
}

export function registerMaintenanceRoutes(app: App, opts: WheelsOptions) {
  // Before the resource's /maintenance/{id}: "due" is not an id.
  app.openapi(dueRoute, async (c) => {
    const { within_days, within_km, vehicle_id } = c.req.valid('query')
    const { today, due, status } = await maintenanceDue(c, opts.now(), { within_days, within_km, vehicle_id })
    c.set('cacheStatus', status)
    return c.json({ today, within_days, within_km, due }, 200)
  })

  registerResource(app, maintenanceResource)
}

/** A cost given without a currency is in the record's currency (a change of the amount alone keeps it),
 * else the profile's; no cost, no currency. */
async function costCurrency(
  tx: Tx,
  input: Record<string, unknown>,
  id?: string,
): Promise<Record<string, unknown>> {
  if ('cost' in input && input.cost === null) return { ...input, currency: null }
  if (input.cost == null || input.currency) return input
  const [row] = id
    ? await tx`select coalesce((select m.currency::text from pam.maintenance_records m where m.id = ${id}),
                               pam.wins_home_currency()::text) as currency`
    : await tx`select pam.wins_home_currency()::text as currency`
  return { ...input, currency: row.currency }
}
