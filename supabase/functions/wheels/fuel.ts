// /wheels/fuel: fill-ups. A fill-up is an expense (category fuel) with its
// fuel details — the Wins view and this one are the same rows (see the
// wheels migration) — so recording one here goes through Wins' expense path:
// reference checks, budget impact and alerts, summary cache drop. Reads,
// changes and deletes are the resource helper's, scoped to rows with a volume.
// /wheels/fuel/stats measures consumption between full tanks (fuel-economy.ts).
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { calendarDate } from '../_shared/dates.ts'
import {
  body,
  createOf,
  idTaken,
  isoSql,
  json,
  latestDayFirst,
  params,
  patchOf,
  registerResource,
  updateRow,
  Uuid,
  withDateRange,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { BudgetImpact, budgetImpact } from '../wins/budget-status.ts'
import { invalidateSummaries, invalidReference, moneyContext } from '../wins/common.ts'
import { insertExpenses, prepareExpenses } from '../wins/expense-model.ts'
import { divRound, fromCents, MAX_AMOUNT, toCents } from '../wins/money.ts'
import { FUEL_TYPES, Latitude, Longitude, WHEELS_REFUSALS, type WheelsOptions } from './common.ts'
import { consumption, type Fill } from './fuel-economy.ts'

const decimal = (intDigits: number, fracDigits: number, example: string) =>
  z.string()
    .regex(
      new RegExp(`^\\d{1,${intDigits}}(\\.\\d{1,${fracDigits}})?$`),
      `a decimal string such as "${example}"`,
    )
    .refine((s) => Number(s) > 0, 'must be greater than 0')
    .openapi({ example })

const fields = {
  vehicle_id: Uuid,
  date: calendarDate().optional().openapi({
    description: "default: today in the profile's time zone",
  }),
  odometer: z.number().int().min(0).max(10_000_000).nullable().optional()
    .openapi({
      description: "in the vehicle's unit; advances the vehicle's odometer; 409 when out of order",
    }),
  litres: decimal(6, 2, '62.40'),
  price_per_litre: decimal(5, 3, '2.199').optional().openapi({
    description: 'given, or total_cost ÷ litres',
  }),
  total_cost: z.string().regex(/^\d{1,7}(\.\d{1,2})?$/, 'a decimal string such as "137.22"')
    .refine((s) => Number(s) > 0 && Number(s) <= Number(MAX_AMOUNT), `greater than 0 and at most ${MAX_AMOUNT}`).optional()
    .openapi({ example: '137.22', description: 'given, or litres × price_per_litre' }),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').optional()
    .openapi({ description: "default: the profile's currency" }),
  full_tank: z.boolean().optional().openapi({
    description: 'default true; consumption is measured between full tanks',
  }),
  fuel_type: z.enum(FUEL_TYPES).nullable().optional().openapi({
    description: "default: the vehicle's",
  }),
  merchant: singleLineText({ max: 200 }).nullable().optional(),
  location: singleLineText({ max: 200 }).nullable().optional(),
  latitude: Latitude.nullable().optional(),
  longitude: Longitude.nullable().optional(),
  trip_id: Uuid.nullable().optional(),
  notes: multiLineText({ min: 0, max: 500 }).optional(),
}
/** A fill-up's litres, price a litre and total, as the route takes them (each more than 0): PAM's log_fuel too. */
export const { litres: Litres, price_per_litre: PricePerLitre, total_cost: TotalCost } = fields
type Check<T> = [(v: T) => boolean, { message: string; path: string[] }]
const priceOrTotal: Check<{ price_per_litre?: string; total_cost?: string }> = [
  (v) => v.price_per_litre !== undefined || v.total_cost !== undefined,
  { message: 'give price_per_litre or total_cost', path: ['total_cost'] },
]
const bothOrNeither: Check<{ latitude?: number | null; longitude?: number | null }> = [
  (v) => ('latitude' in v) === ('longitude' in v) && (v.latitude == null) === (v.longitude == null),
  { message: 'latitude and longitude go together', path: ['latitude'] },
]

export const FuelCreate = createOf(fields).refine(...priceOrTotal).refine(...bothOrNeither).openapi(
  'FuelLogCreate',
)
export type FuelInput = z.infer<typeof FuelCreate>
const { vehicle_id: _v, ...patchable } = fields
const FuelPatch = patchOf(patchable).refine(...bothOrNeither).openapi('FuelLogPatch')

/** API field → expense column (and its SQL type). */
const COLUMN_OF: Record<string, [string, string]> = {
  date: ['date', 'date'],
  odometer: ['odometer', 'integer'],
  litres: ['fuel_volume', 'numeric'],
  price_per_litre: ['fuel_price_per_unit', 'numeric'],
  total_cost: ['amount', 'numeric'],
  currency: ['currency', 'text'],
  full_tank: ['fuel_full_tank', 'boolean'],
  fuel_type: ['fuel_type', 'text'],
  merchant: ['merchant', 'text'],
  location: ['location', 'text'],
  latitude: ['latitude', 'double precision'],
  longitude: ['longitude', 'double precision'],
  trip_id: ['trip_id', 'uuid'],
  notes: ['description', 'text'],
}

const FuelLog = z.object({
  id: z.string().openapi({ description: 'also the id of the expense in Wins' }),
  vehicle_id: z.string().nullable(),
  trip_id: z.string().nullable(),
  date: z.string(),
  odometer: z.number().nullable(),
  litres: z.string(),
  price_per_litre: z.string().nullable(),
  total_cost: z.string(),
  currency: z.string(),
  full_tank: z.boolean(),
  fuel_type: z.string().nullable(),
  merchant: z.string().nullable(),
  location: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  notes: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('FuelLog')

const FUEL_COLUMNS =
  `e.id, e.vehicle_id, e.trip_id, e.date::text as date, e.odometer, e.fuel_volume::text as litres,
  e.fuel_price_per_unit::text as price_per_litre, e.amount::text as total_cost, e.currency::text as currency,
  coalesce(e.fuel_full_tank, true) as full_tank, e.fuel_type, e.merchant, e.location, e.latitude, e.longitude,
  e.description as notes, ${isoSql('e.created_at')} as created_at, ${
    isoSql('e.updated_at')
  } as updated_at`

const FILL_UPS = {
  table: 'pam.expenses',
  alias: 'e',
  select: FUEL_COLUMNS,
  scope: 'e.fuel_volume is not null',
}
const tags = ['wheels: fuel']

const createFuel = route({
  method: 'post',
  path: '/fuel',
  auth: 'user',
  tags,
  summary:
    'Record a fill-up: an expense in Wins (category fuel) with its fuel details, answered with the budget impact',
  request: body(FuelCreate),
  responses: {
    201: {
      description: 'Recorded',
      ...json(z.object({ fuel_log: FuelLog, budgets: z.array(BudgetImpact) })),
    },
    200: {
      description: 'Already recorded with this client-generated id: the existing fill-up',
      ...json(z.object({ fuel_log: FuelLog, budgets: z.array(BudgetImpact) })),
    },
    409: { description: 'id_taken, or odometer_out_of_order' },
  },
})

const patchFuel = route({
  method: 'patch',
  path: '/fuel/{id}',
  auth: 'user',
  tags,
  summary: 'Change a fill-up (the expense changes with it; new litres or price recompute total_cost unless it is given)',
  request: { params: z.object({ id: Uuid }), ...body(FuelPatch) },
  responses: { 200: { description: 'Updated', ...json(z.object({ fuel_log: FuelLog })) } },
})

const Consumption = z.object({
  distance_km: z.number(),
  litres: z.number(),
  l_per_100km: z.number(),
  km_per_l: z.number(),
  mpg_us: z.number(),
  mpg_imperial: z.number(),
  cost_per_km: z.string().nullable().openapi({
    description: 'home currency; null when a measured fill was paid in another',
  }),
  full_tank_intervals: z.number(),
}).nullable().openapi('FuelConsumption')

const stats = route({
  method: 'get',
  path: '/fuel/stats',
  auth: 'user',
  tags,
  summary: 'Fuel spend, volume and consumption (between full tanks), per vehicle and per month',
  request: {
    query: z.object({
      vehicle_id: Uuid.optional(),
      from: calendarDate().optional().openapi({ description: 'first day (inclusive)' }),
      to: calendarDate().optional().openapi({ description: 'last day (inclusive)' }),
    }).refine((f) => !f.from || !f.to || f.from <= f.to, {
      message: 'from is after to',
      path: ['from'],
    }),
  },
  responses: {
    200: {
      description: 'Fuel statistics',
      ...json(z.object({
        currency: z.string(),
        from: z.string().nullable(),
        to: z.string().nullable(),
        fuel_cost: z.string().openapi({
          description:
            "every fuel expense in the home currency: the same sum as /wins/summary's fuel category",
        }),
        other_currency_expenses: z.number(),
        fill_ups: z.number(),
        litres: z.string(),
        vehicles: z.array(z.object({
          vehicle_id: z.string(),
          name: z.string(),
          odometer_unit: z.enum(['km', 'mi']),
          fill_ups: z.number(),
          litres: z.string(),
          consumption: Consumption,
        })),
        monthly: z.array(
          z.object({
            month: z.string(),
            fuel_cost: z.string(),
            fill_ups: z.number(),
            litres: z.string(),
          }),
        ),
      })),
    },
  },
})

/** A fill-up's expense fields from its API fields. */
function expenseOf(input: FuelInput, vehicleFuel: string | null) {
  const total = input.total_cost ?? totalOf(input.litres, input.price_per_litre!)
  return {
    id: input.id,
    amount: total,
    currency: input.currency,
    category: 'fuel',
    description: input.notes ?? '',
    merchant: input.merchant ?? null,
    date: input.date,
    location: input.location ?? null,
    latitude: input.latitude ?? null,
    longitude: input.longitude ?? null,
    vehicle_id: input.vehicle_id,
    trip_id: input.trip_id ?? null,
    fuel_type: input.fuel_type === undefined
      ? vehicleFuel as (typeof FUEL_TYPES)[number] | null
      : input.fuel_type,
    fuel_volume: input.litres,
    fuel_price_per_unit: input.price_per_litre ?? pricePerLitre(total, input.litres),
    odometer: input.odometer ?? null,
    fuel_full_tank: input.full_tank ?? true,
  }
}

/** litres × price, rounded half-up to the cent; 400 when that is not an amount an expense can hold. */
function totalOf(litres: string, price: string): string {
  // litres (2 places) × price (3 places) has 5 places: to cents, ÷ 1000.
  const cents = divRound(units(litres, 2) * units(price, 3), 1000n)
  if (cents <= 0n || cents > toCents(MAX_AMOUNT)) {
    const message = `litres × price_per_litre must come to more than 0 and at most ${MAX_AMOUNT}`
    throw new ApiError(400, 'validation_failed', message, [{ path: ['total_cost'], message }])
  }
  return fromCents(cents)
}

/** A decimal string as a whole number of its smallest unit ("2.5", 3 → 2500n). */
const units = (s: string, places: number) => {
  const [whole, frac = ''] = s.split('.')
  return BigInt(whole + frac.padEnd(places, '0'))
}

/** total ÷ litres to 3 decimals, as a decimal string. */
function pricePerLitre(total: string, litres: string): string {
  const mills = divRound(toCents(total) * 1000n, toCents(litres))
  if (mills <= 0n) {
    const message = 'total_cost ÷ litres is below 0.001 a litre'
    throw new ApiError(400, 'validation_failed', message, [{ path: ['total_cost'], message }])
  }
  return `${mills / 1000n}.${String(mills % 1000n).padStart(3, '0')}`
}

/** Records a fill-up as an expense (the route's work; PAM's log_fuel tool). */
export async function recordFillUp(tx: Tx, now: Date, input: FuelInput) {
  const ctx = await moneyContext(tx, now)
  const [vehicle] = await tx`select fuel_type from pam.vehicles where id = ${input.vehicle_id}`
  const prepared = await prepareExpenses(tx, ctx, [expenseOf(input, vehicle?.fuel_type ?? null)])
  const problem = prepared.errors[0]
  if (problem) throw invalidReference(problem.field, problem.message)
  const [expense] = await insertExpenses(tx, prepared.rows)
  const id = expense?.id ?? input.id
  const [fuelLog] = await tx.unsafe(
    `select ${FUEL_COLUMNS} from pam.expenses e where e.id = $1 and ${FILL_UPS.scope}`,
    [id],
  )
  if (!fuelLog) throw idTaken()
  const [row] = expense
    ? [expense]
    : await tx`select category, date::text as date, currency::text as currency from pam.expenses where id = ${id}`
  return {
    created: !!expense,
    body: { fuel_log: fuelLog, budgets: await budgetImpact(tx, ctx, [row as never]) },
  }
}

export function registerFuelRoutes(app: App, opts: WheelsOptions) {
  app.openapi(createFuel, async (c) => {
    const input = c.req.valid('json')
    const result = await writeTransaction(c, (tx) => recordFillUp(tx, opts.now(), input), WHEELS_REFUSALS)
    if (result.created) await invalidateSummaries(c)
    return c.json(result.body as never, result.created ? 201 : 200)
  })

  // Before the resource's /fuel/{id}: "stats" is not an id.
  app.openapi(stats, async (c) => {
    const f = c.req.valid('query')
    const result = await c.var.postgres.transaction((tx) => fuelStats(tx, f))
    return c.json(result, 200)
  })

  app.openapi(patchFuel, async (c) => {
    const { id } = c.req.valid('param')
    const patch = c.req.valid('json') as Record<string, unknown>
    const row = await writeTransaction(c, async (tx) => {
      const [before] = await tx`
        select category, date::text as date, currency::text as currency, fuel_volume::text as litres,
               fuel_price_per_unit::text as price from pam.expenses
        where id = ${id} and fuel_volume is not null for update`
      if (!before) throw notFound('fill-up')
      // New litres or price without a total: the total follows them.
      const totalGiven = 'total_cost' in patch
      const litres = (patch.litres ?? before.litres) as string
      const price = (patch.price_per_litre ?? before.price) as string | null
      if (('litres' in patch || 'price_per_litre' in patch) && !('total_cost' in patch) && price) {
        patch.total_cost = totalOf(litres, price)
      }
      // A new total without a price: the price follows it (trip estimates read the price).
      if (totalGiven && typeof patch.total_cost === 'string' && !('price_per_litre' in patch)) {
        patch.price_per_litre = pricePerLitre(patch.total_cost, litres)
      }
      const columns: Record<string, string> = {}
      const renamed: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(patch)) {
        const [column, type] = COLUMN_OF[k]
        columns[column] = type
        renamed[column] = v
      }
      const updated = await updateRow(tx, FILL_UPS, id, renamed, columns)
      await budgetImpact(tx, await moneyContext(tx, opts.now()), [
        before as never,
        { ...before, ...updated } as never,
      ])
      return updated
    }, WHEELS_REFUSALS)
    await invalidateSummaries(c)
    return c.json({ fuel_log: row } as never, 200)
  })

  registerResource(app, {
    ...FILL_UPS,
    one: 'fuel_log',
    many: 'fuel_logs',
    noun: 'fill-up',
    path: '/fuel',
    tags,
    schema: FuelLog,
    order: latestDayFirst('e'),
    listSummary: 'Fill-ups, newest first',
    filters: withDateRange('e.date', {
      fields: { vehicle_id: Uuid.optional(), trip_id: Uuid.optional() },
      where: (f, p) => [
        ...(f.vehicle_id ? [`e.vehicle_id = ${p(f.vehicle_id)}::uuid`] : []),
        ...(f.trip_id ? [`e.trip_id = ${p(f.trip_id)}::uuid`] : []),
      ],
    }),
    without: ['create', 'patch'],
    refusals: WHEELS_REFUSALS,
    afterWrite: invalidateSummaries,
  })
}

/** Consumption with its cost per km as a decimal string of the currency. */
function perKm(
  { cost_per_km_cents: cents, ...measured }: NonNullable<ReturnType<typeof consumption>>,
) {
  return { ...measured, cost_per_km: cents === null ? null : (cents / 100).toFixed(3) }
}

interface FillRow {
  vehicle_id: string
  name: string
  unit: 'km' | 'mi'
  odometer: number | null
  litres: string
  amount: string
  currency: string
  full: boolean
}

async function fuelStats(tx: Tx, f: { vehicle_id?: string; from?: string; to?: string }) {
  const [{ currency }] = await tx`select pam.wins_home_currency()::text as currency`
  const { values, p } = params()
  const home = p(currency)
  const range = [
    ...(f.vehicle_id ? [`and e.vehicle_id = ${p(f.vehicle_id)}::uuid`] : []),
    ...(f.from ? [`and e.date >= ${p(f.from)}::date`] : []),
    ...(f.to ? [`and e.date <= ${p(f.to)}::date`] : []),
  ].join(' ')
  // One snapshot, two statements: the fill-ups for consumption, the month totals for spend.
  const fills = await tx.unsafe<FillRow[]>(
    `select e.vehicle_id, v.name, v.odometer_unit as unit, e.odometer, e.fuel_volume::text as litres,
            e.amount::text as amount, e.currency::text as currency, coalesce(e.fuel_full_tank, true) as full
     from pam.expenses e join pam.vehicles v on v.id = e.vehicle_id
     where e.user_id = (select auth.uid()) and e.fuel_volume is not null and ${home}::text is not null ${range}
     order by v.created_at, e.vehicle_id, e.odometer nulls last, e.date, e.created_at`,
    values as never[],
  )
  const monthly = await tx.unsafe<
    { month: string; cost: string; fills: number; litres: string; other: number }[]
  >(
    `select to_char(e.date, 'YYYY-MM') as month,
            coalesce(sum(e.amount) filter (where e.currency = ${home}), 0)::text as cost,
            count(*) filter (where e.fuel_volume is not null)::int as fills,
            coalesce(sum(e.fuel_volume), 0)::text as litres,
            count(*) filter (where e.currency <> ${home})::int as other
     from pam.expenses e
     where e.user_id = (select auth.uid()) and e.category = 'fuel' ${range}
     group by 1 order by 1`,
    values as never[],
  )
  const byVehicle = new Map<string, FillRow[]>()
  for (const r of fills) byVehicle.set(r.vehicle_id, [...(byVehicle.get(r.vehicle_id) ?? []), r])
  const sumLitres = (rows: { litres: string }[]) =>
    fromCents(rows.reduce((s, r) => s + toCents(r.litres), 0n))
  return {
    currency,
    from: f.from ?? null,
    to: f.to ?? null,
    fuel_cost: fromCents(monthly.reduce((s, m) => s + toCents(m.cost), 0n)),
    other_currency_expenses: monthly.reduce((s, m) => s + m.other, 0),
    fill_ups: monthly.reduce((s, m) => s + m.fills, 0),
    litres: sumLitres(monthly),
    vehicles: [...byVehicle.values()].map((rows) => {
      const measured = consumption(
        rows.map((r): Fill => ({
          odometer: r.odometer,
          litres: Number(r.litres),
          full: r.full,
          cents: r.currency === currency ? toCents(r.amount) : null,
        })),
        rows[0].unit,
      )
      return {
        vehicle_id: rows[0].vehicle_id,
        name: rows[0].name,
        odometer_unit: rows[0].unit,
        fill_ups: rows.length,
        litres: sumLitres(rows),
        consumption: measured && perKm(measured),
      }
    }),
    monthly: monthly.map((m) => ({
      month: m.month,
      fuel_cost: fromCents(toCents(m.cost)),
      fill_ups: m.fills,
      litres: fromCents(toCents(m.litres)),
    })),
  }
}
