// /wheels/trips: trips (a resource), the route through a trip's stops from
// Mapbox Directions with the vehicle's size as hints, stored with its fuel
// estimate, and day-by-day trip plans whose overnight stops come from the
// campsite directory. A plan still comes when Mapbox is down or not
// configured: from great-circle distances, marked `route_source: "estimate"`.
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { addDays, calendarDate } from '../_shared/dates.ts'
import { type LatLng, mapboxFor, type Route } from '../_shared/integrations/mapbox.ts'
import {
  body,
  createOf,
  IdParams,
  isoSql,
  json,
  newestFirst,
  patchOf,
  registerResource,
  type ResourceSpec,
  Uuid,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { Preferences } from '../_shared/profile.ts'
import { fromCents, toCents } from '../wins/money.ts'
import { AMENITIES, Campsite, CAMPSITE_TYPES, nearestCampsites } from './camping.ts'
import { invalidateVehiclesAndTrips, Latitude, Longitude, WHEELS_REFUSALS } from './common.ts'
import { consumption, TYPICAL_L_PER_100KM } from './fuel-economy.ts'
import { decodePolyline, haversineKm, lengthKm, pointsAlong, straightLine } from './geo.ts'

const Point = z.object({
  name: singleLineText({ max: 200 }).optional(),
  lat: Latitude,
  lng: Longitude,
}).strict().openapi('TripPoint')
const Stop = Point.extend({
  notes: multiLineText({ min: 0, max: 500 }).optional(),
  arrive_on: calendarDate().optional(),
}).strict().openapi('TripStop')
/** Mapbox takes 25 coordinates: origin, destination and 23 stops. */
const MAX_STOPS = 23

const fields = {
  name: singleLineText({ max: 200 }).openapi({ example: 'Red Centre loop' }),
  status: z.enum(['planned', 'active', 'completed']).optional().openapi({
    description: 'default planned',
  }),
  vehicle_id: Uuid.nullable().optional(),
  start_date: calendarDate().nullable().optional(),
  end_date: calendarDate().nullable().optional(),
  origin: Point.nullable().optional(),
  destination: Point.nullable().optional(),
  stops: z.array(Stop).max(MAX_STOPS).optional().openapi({
    description: `the ordered stops between, at most ${MAX_STOPS}`,
  }),
  notes: multiLineText({ min: 0, max: 4000 }).optional(),
}
const datesInOrder: [
  (v: { start_date?: string | null; end_date?: string | null }) => boolean,
  { message: string; path: string[] },
] = [
  (v) => !v.start_date || !v.end_date || v.start_date <= v.end_date,
  { message: 'start_date is after end_date', path: ['start_date'] },
]

const ROUTE_COLUMNS = {
  planned_distance_km: 'numeric',
  planned_duration_min: 'integer',
  route_polyline: 'text',
  route_computed_at: 'timestamptz',
  estimated_fuel_cost: 'numeric',
}
const COLUMNS: Record<string, string> = {
  name: 'text',
  status: 'text',
  vehicle_id: 'uuid',
  start_date: 'date',
  end_date: 'date',
  origin: 'jsonb',
  destination: 'jsonb',
  stops: 'jsonb',
  notes: 'text',
  ...ROUTE_COLUMNS,
}

const Trip = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['planned', 'active', 'completed']),
  vehicle_id: z.string().nullable(),
  start_date: z.string().nullable(),
  end_date: z.string().nullable(),
  origin: Point.nullable(),
  destination: Point.nullable(),
  stops: z.array(Stop),
  planned_distance_km: z.number().nullable(),
  planned_duration_min: z.number().nullable(),
  route_polyline: z.string().nullable().openapi({ description: 'polyline6 of the computed route' }),
  route_computed_at: z.string().nullable(),
  estimated_fuel_cost: z.string().nullable(),
  notes: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Trip')
type Trip = z.infer<typeof Trip>

const TRIP_COLUMNS =
  `t.id, t.name, t.status, t.vehicle_id, t.start_date::text as start_date, t.end_date::text as end_date,
  t.origin, t.destination, t.stops, t.planned_distance_km::float8 as planned_distance_km, t.planned_duration_min,
  t.route_polyline, ${isoSql('t.route_computed_at')} as route_computed_at,
  t.estimated_fuel_cost::text as estimated_fuel_cost, t.notes, ${
    isoSql('t.created_at')
  } as created_at,
  ${isoSql('t.updated_at')} as updated_at`

/** A change to where the trip goes makes its computed route stale. */
const forgetStaleRoute = (patch: Record<string, unknown>) =>
  Promise.resolve(
    'origin' in patch || 'destination' in patch || 'stops' in patch
      ? { ...patch, ...Object.fromEntries(Object.keys(ROUTE_COLUMNS).map((k) => [k, null])) }
      : patch,
  )

const FuelEstimate = z.object({
  litres: z.number(),
  l_per_100km: z.number(),
  consumption_source: z.enum(['measured', 'typical']).openapi({
    description: "the vehicle's fill-ups, or typical for its type",
  }),
  price_per_litre: z.string().nullable(),
  price_source: z.enum(['recent_fill_up', 'none']),
  cost: z.string().nullable().openapi({
    description: 'null without a fill-up in the last 90 days to price it',
  }),
  currency: z.string(),
}).openapi('FuelEstimate')
type FuelEstimate = z.infer<typeof FuelEstimate>

const computeRoute = route({
  method: 'post',
  path: '/trips/{id}/route',
  auth: 'user',
  tags: ['wheels: trips'],
  summary:
    "Route the trip through its stops (Mapbox, with the vehicle's size) and estimate its fuel cost",
  request: { params: IdParams },
  responses: {
    200: {
      description: 'The trip with its route',
      ...json(z.object({
        trip: Trip,
        route: z.object({
          distance_km: z.number(),
          duration_min: z.number(),
          legs: z.array(z.object({ distance_km: z.number(), duration_min: z.number() })),
        }),
        fuel: FuelEstimate,
      })),
    },
    404: { description: 'No such trip' },
    409: { description: "trip_changed: the trip's places or vehicle changed while the route was computed" },
    422: { description: 'No route between the stops, or the trip lacks an origin or destination' },
  },
})

export const PlanRequest = z.object({
  origin: Point,
  destination: Point,
  start_date: calendarDate(),
  max_daily_drive_km: z.number().int().min(50).max(1500).optional().openapi({
    description: 'default 350',
  }),
  vehicle_id: Uuid.optional().openapi({
    description: 'routing hints, rig length and fuel consumption from this vehicle',
  }),
  camping_types: z.array(z.enum(CAMPSITE_TYPES)).max(CAMPSITE_TYPES.length).optional(),
  amenities: z.array(z.enum(AMENITIES)).max(AMENITIES.length).optional(),
  rig_length_m: z.number().positive().max(40).optional().openapi({
    description: "default: the vehicle's length",
  }),
  max_price_per_night: z.number().min(0).max(10_000).optional(),
}).strict().openapi('TripPlanRequest')

const PlanDay = z.object({
  day: z.number(),
  date: z.string(),
  from: z.object({ lat: z.number(), lng: z.number(), name: z.string().nullable() }),
  to: z.object({ lat: z.number(), lng: z.number(), name: z.string().nullable() }),
  distance_km: z.number(),
  duration_min: z.number(),
  fuel_cost: z.string().nullable(),
  overnight: Campsite.nullable().openapi({
    description:
      'the campsite nearest the day’s end that matches; null on the last day or when none is within reach',
  }),
})
const Plan = z.object({
  route_source: z.enum(['mapbox', 'estimate']).openapi({
    description: 'estimate: Mapbox was unavailable; distances are great-circle × 1.25',
  }),
  currency: z.string(),
  total: z.object({
    distance_km: z.number(),
    duration_min: z.number(),
    days: z.number(),
    nights: z.number(),
    fuel: FuelEstimate,
    camping_cost: z.string().openapi({ description: 'the nights priced in the home currency' }),
    camping_other_currency_nights: z.number().openapi({ description: 'nights at sites priced in another currency (not in camping_cost)' }),
    estimated_cost: z.string().nullable(),
  }),
  days: z.array(PlanDay),
}).openapi('TripPlan')

const plan = route({
  method: 'post',
  path: '/trips/plan',
  auth: 'user',
  tags: ['wheels: trips'],
  summary:
    'A day-by-day plan: daily drives, overnight campsites near each day’s end, fuel and camping costs',
  request: body(PlanRequest),
  responses: { 200: { description: 'The plan', ...json(z.object({ plan: Plan })) } },
})

interface VehicleFacts {
  type: string
  unit: 'km' | 'mi'
  height_m: number | null
  width_m: number | null
  weight_t: number | null
  length_m: number | null
}

/** Litres per 100 km (the vehicle's measured, else typical for its type) and the recent fuel price. */
async function fuelBasis(tx: Tx, vehicleId: string | null, vehicle: VehicleFacts | null) {
  const [{ currency }] = await tx`select pam.wins_home_currency()::text as currency`
  let lPer100 = TYPICAL_L_PER_100KM[vehicle?.type ?? 'other']
  let source: FuelEstimate['consumption_source'] = 'typical'
  if (vehicleId && vehicle) {
    const fills = await tx`
      select odometer, fuel_volume::float8 as litres, coalesce(fuel_full_tank, true) as full
      from pam.expenses where vehicle_id = ${vehicleId} and fuel_volume is not null
      order by odometer nulls last, date, created_at`
    const measured = consumption(
      fills.map((f) => ({ odometer: f.odometer, litres: f.litres, full: f.full, cents: null })),
      vehicle.unit,
    )
    if (measured) [lPer100, source] = [measured.l_per_100km, 'measured']
  }
  const [price] = await tx`
    select fuel_price_per_unit::text as price from pam.expenses
    where user_id = (select auth.uid()) and fuel_price_per_unit is not null and currency = ${currency}
      and date >= current_date - 90 ${vehicleId ? tx`and vehicle_id = ${vehicleId}` : tx``}
    order by date desc, created_at desc limit 1`
  return {
    lPer100,
    source,
    price: (price?.price as string | undefined) ?? null,
    currency: currency as string,
  }
}

function estimateFuel(km: number, basis: Awaited<ReturnType<typeof fuelBasis>>): FuelEstimate {
  const litres = Math.round(km * basis.lPer100) / 100
  return {
    litres,
    l_per_100km: basis.lPer100,
    consumption_source: basis.source,
    price_per_litre: basis.price,
    price_source: basis.price ? 'recent_fill_up' : 'none',
    cost: basis.price ? fromCents(BigInt(Math.round(litres * Number(basis.price) * 100))) : null,
    currency: basis.currency,
  }
}

async function vehicleFacts(tx: Tx, id: string | null | undefined): Promise<VehicleFacts | null> {
  if (!id) return null
  const [v] = await tx`
    select type, odometer_unit as unit, height_m::float8 as height_m, width_m::float8 as width_m,
           weight_t::float8 as weight_t, length_m::float8 as length_m
    from pam.vehicles where id = ${id}`
  if (!v) {
    throw new ApiError(400, 'unknown_vehicle', 'not one of your vehicles', [{
      path: ['vehicle_id'],
      message: 'not one of your vehicles',
    }])
  }
  return v as VehicleFacts
}

const dims = (v: VehicleFacts | null) =>
  v
    ? {
      heightM: v.height_m ?? undefined,
      widthM: v.width_m ?? undefined,
      weightT: v.weight_t ?? undefined,
    }
    : undefined

/** Great-circle distance stretched to road distance, for when Mapbox cannot answer. */
const ROAD_FACTOR = 1.25
const ESTIMATE_KMH = 80

/** The resource's declaration (also used by sync). */
export const tripResource: ResourceSpec = {
  one: 'trip',
  many: 'trips',
  noun: 'trip',
  path: '/trips',
  table: 'pam.trips',
  alias: 't',
  tags: ['wheels: trips'],
  schema: Trip,
  select: TRIP_COLUMNS,
  order: newestFirst('t'),
  listSummary: 'Your trips, newest first',
  filters: {
    fields: {
      status: z.enum(['planned', 'active', 'completed']).optional(),
      vehicle_id: Uuid.optional(),
    },
    where: (f, p) => [
      ...(f.status ? [`t.status = ${p(f.status)}`] : []),
      ...(f.vehicle_id ? [`t.vehicle_id = ${p(f.vehicle_id)}::uuid`] : []),
    ],
  },
  create: {
    schema: createOf(fields).refine(...datesInOrder).openapi('TripCreate'),
    columns: COLUMNS,
    summary: 'Plan a trip',
  },
  patch: {
    schema: patchOf(fields).refine(...datesInOrder).openapi('TripPatch'),
    columns: COLUMNS,
    summary: 'Change a trip (a new origin, destination or stops clears the computed route)',
    prepare: (_tx, patch) => forgetStaleRoute(patch),
  },
  afterWrite: invalidateVehiclesAndTrips,
  refusals: WHEELS_REFUSALS,
}

/** What the road profile says about planning (the request's own values come first). */
async function roadProfile(tx: Tx): Promise<Pick<Preferences, 'max_daily_km' | 'camp_types' | 'rig_length_m' | 'pets'>> {
  const [row] = await tx`select preferences from pam.profiles where id = (select auth.uid())`
  const stored = (row?.preferences ?? {}) as Record<string, unknown>
  // Each field on its own: one of an older shape reads as not given, and the others still count.
  const pick = <K extends 'max_daily_km' | 'camp_types' | 'rig_length_m' | 'pets'>(k: K) => {
    const r = Preferences.shape[k].safeParse(stored[k])
    return (r.success ? r.data : undefined) as Preferences[K]
  }
  return { max_daily_km: pick('max_daily_km'), camp_types: pick('camp_types'), rig_length_m: pick('rig_length_m'), pets: pick('pets') }
}

/** A day-by-day plan (the route's answer; PAM's plan_trip tool); the road profile fills what the request leaves. */
export async function planTrip(c: AppContext, input: z.infer<typeof PlanRequest>) {
  const mapbox = mapboxFor(c.var.config, c.var.cache)
  const { vehicle, basis, road } = await c.var.postgres.transaction(async (tx) => {
    const vehicle = await vehicleFacts(tx, input.vehicle_id)
    return { vehicle, basis: await fuelBasis(tx, input.vehicle_id ?? null, vehicle), road: await roadProfile(tx) }
  })
  let source: 'mapbox' | 'estimate' = 'mapbox'
  let line: LatLng[]
  let totalKm: number
  let totalMin: number
  try {
    const r = await mapbox.directions([input.origin, input.destination], dims(vehicle))
    line = decodePolyline(r.polyline)
    totalKm = r.distance_m / 1000
    totalMin = r.duration_s / 60
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'upstream_unavailable')) throw err
    source = 'estimate'
    line = straightLine(input.origin, input.destination)
    totalKm = haversineKm(input.origin, input.destination) * ROAD_FACTOR
    totalMin = (totalKm / ESTIMATE_KMH) * 60
  }
  // Day ends as fractions of the route; the line's own length scales them onto it.
  const daily = input.max_daily_drive_km ?? road.max_daily_km ?? 350
  const days = Math.max(1, Math.ceil(totalKm / daily))
  const scale = totalKm > 0 ? lengthKm(line) / totalKm : 1
  const ends = pointsAlong(
    line,
    Array.from({ length: days - 1 }, (_, i) => (i + 1) * daily * scale),
  )
  const filters = {
    types: input.camping_types ?? road.camp_types,
    amenities: input.amenities ?? (road.pets ? ['pet_friendly' as const] : undefined),
    rvFriendly: true,
    maxRigLength: input.rig_length_m ?? road.rig_length_m ?? vehicle?.length_m ?? undefined,
    maxPrice: input.max_price_per_night,
  }
  const near = await nearestCampsites(c.var.postgres, ends, 50, filters)
  const missing = near.flatMap((s, i) => (s ? [] : [i]))
  if (missing.length) {
    const wider = await nearestCampsites(
      c.var.postgres,
      missing.map((i) => ends[i]),
      100,
      filters,
    )
    missing.forEach((i, k) => (near[i] = wider[k]))
  }
  const stops = [
    { lat: input.origin.lat, lng: input.origin.lng, name: input.origin.name ?? null },
    ...ends.map((e, i) =>
      near[i]
        ? { lat: near[i]!.latitude, lng: near[i]!.longitude, name: near[i]!.name }
        : { ...e, name: null }
    ),
    {
      lat: input.destination.lat,
      lng: input.destination.lng,
      name: input.destination.name ?? null,
    },
  ]
  let camping = 0n
  let otherCurrencyNights = 0
  const planDays = stops.slice(1).map((to, i) => {
    const km = i === days - 1 ? totalKm - daily * (days - 1) : daily
    if (near[i] && near[i]!.currency === basis.currency) camping += toCents(near[i]!.price_per_night)
    else if (near[i]) otherCurrencyNights++
    return {
      day: i + 1,
      date: addDays(input.start_date, i),
      from: stops[i],
      to,
      distance_km: round1(km),
      duration_min: totalKm > 0 ? Math.round((totalMin * km) / totalKm) : 0,
      fuel_cost: estimateFuel(km, basis).cost,
      overnight: i < days - 1 ? near[i] : null,
    }
  })
  const fuel = estimateFuel(totalKm, basis)
  return {
    plan: {
      route_source: source,
      currency: basis.currency,
      total: {
        distance_km: round1(totalKm),
        duration_min: Math.round(totalMin),
        days,
        nights: days - 1,
        fuel,
        camping_cost: fromCents(camping),
        camping_other_currency_nights: otherCurrencyNights,
        estimated_cost: fuel.cost === null ? null : fromCents(toCents(fuel.cost) + camping),
      },
      days: planDays,
    },
  }
}

export function registerTripRoutes(app: App) {
  const mapboxOf = (c: AppContext) => mapboxFor(c.var.config, c.var.cache)

  // Before the resource's /trips/{id}: "plan" is not an id.
  app.openapi(plan, async (c) => {
    return c.json(await planTrip(c, c.req.valid('json')) as never, 200)
  })

  app.openapi(computeRoute, async (c) => {
    const { id } = c.req.valid('param')
    const [trip] = await c.var.postgres.queryRaw<Trip>(
      `select ${TRIP_COLUMNS} from pam.trips t where t.id = $1::uuid`,
      [id],
    )
    if (!trip) throw notFound('trip')
    if (!trip.origin || !trip.destination) {
      throw new ApiError(422, 'trip_incomplete', 'give the trip an origin and a destination first')
    }
    const vehicle = await c.var.postgres.transaction((tx) => vehicleFacts(tx, trip.vehicle_id))
    const points = [trip.origin, ...trip.stops, trip.destination]
    const r: Route = await mapboxOf(c).directions(points, dims(vehicle))
    const km = r.distance_m / 1000
    const result = await writeTransaction(c, async (tx) => {
      const fuel = estimateFuel(km, await fuelBasis(tx, trip.vehicle_id, vehicle))
      // Only onto the trip the route was computed for: where it goes, or its vehicle, may have
      // changed while Mapbox answered (and that change cleared the route).
      const [updated] = await tx.unsafe<Trip[]>(
        `update pam.trips t set planned_distance_km = $2::numeric, planned_duration_min = $3::integer,
           route_polyline = $4, route_computed_at = now(), estimated_fuel_cost = $5::numeric
         where t.id = $1::uuid and t.origin = $6::jsonb and t.destination = $7::jsonb and t.stops = $8::jsonb
           and t.vehicle_id is not distinct from $9::uuid
         returning ${TRIP_COLUMNS}`,
        [
          id,
          round1(km),
          Math.round(r.duration_s / 60),
          r.polyline,
          fuel.cost,
          JSON.stringify(trip.origin),
          JSON.stringify(trip.destination),
          JSON.stringify(trip.stops),
          trip.vehicle_id,
        ] as never[],
      )
      if (!updated) {
        const [still] = await tx.unsafe(`select 1 from pam.trips t where t.id = $1::uuid`, [id])
        if (!still) throw notFound('trip')
        throw new ApiError(409, 'trip_changed', "the trip's places or vehicle changed while its route was computed: compute it again")
      }
      return { trip: updated, fuel }
    }, WHEELS_REFUSALS)
    return c.json({
      trip: result.trip,
      route: {
        distance_km: round1(km),
        duration_min: Math.round(r.duration_s / 60),
        legs: r.legs.map((l) => ({
          distance_km: round1(l.distance_m / 1000),
          duration_min: Math.round(l.duration_s / 60),
        })),
      },
      fuel: result.fuel,
    }, 200)
  })

  registerResource(app, tripResource)
}

const round1 = (n: number) => Math.round(n * 10) / 10
