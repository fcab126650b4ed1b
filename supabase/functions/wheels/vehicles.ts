// /wheels/vehicles: the traveller's rigs — declared as a resource. The
// current odometer only moves forward (maintenance and fill-ups advance it;
// the database refuses a value below a recorded reading).
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import {
  createOf,
  isoSql,
  newestFirst,
  patchOf,
  registerResource,
  type ResourceSpec,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { FUEL_TYPES, invalidateVehiclesAndTrips, WHEELS_REFUSALS } from './common.ts'

export const VEHICLE_TYPES = [
  'motorhome',
  'caravan',
  'campervan',
  'fifth_wheel',
  'tow_vehicle',
  'other',
] as const

/** A positive decimal with at most `decimals` places, up to `max`. */
const measure = (max: number, decimals: number, example: number, description: string) =>
  z.number().positive().max(max)
    .refine((n) => Number(n.toFixed(decimals)) === n, `at most ${decimals} decimal places`)
    .openapi({ example, description })

const fields = {
  name: singleLineText({ max: 100 }).openapi({ example: 'The Troopy' }),
  type: z.enum(VEHICLE_TYPES).optional().openapi({ description: 'default motorhome' }),
  make: singleLineText({ max: 60 }).nullable().optional(),
  model: singleLineText({ max: 60 }).nullable().optional(),
  year: z.number().int().min(1900).max(2100).nullable().optional(),
  fuel_type: z.enum(FUEL_TYPES).nullable().optional(),
  tank_capacity: measure(2000, 1, 180, 'litres').nullable().optional(),
  current_odometer: z.number().int().min(0).max(10_000_000).optional()
    .openapi({ description: 'in odometer_unit; never below a recorded reading' }),
  odometer_unit: z.enum(['km', 'mi']).optional().openapi({
    description: 'default km; fixed once readings exist',
  }),
  height_m: measure(10, 2, 3.2, 'metres, a routing hint').nullable().optional(),
  width_m: measure(5, 2, 2.5, 'metres, a routing hint').nullable().optional(),
  length_m: measure(40, 1, 11.5, "metres, the whole rig's length (campsites have limits)")
    .nullable().optional(),
  weight_t: measure(100, 2, 4.5, 'tonnes, a routing hint').nullable().optional(),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
}

const COLUMNS: Record<string, string> = {
  name: 'text',
  type: 'text',
  make: 'text',
  model: 'text',
  year: 'integer',
  fuel_type: 'text',
  tank_capacity: 'numeric',
  current_odometer: 'integer',
  odometer_unit: 'text',
  height_m: 'numeric',
  width_m: 'numeric',
  length_m: 'numeric',
  weight_t: 'numeric',
  notes: 'text',
}

export const Vehicle = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(VEHICLE_TYPES),
  make: z.string().nullable(),
  model: z.string().nullable(),
  year: z.number().nullable(),
  fuel_type: z.string().nullable(),
  tank_capacity: z.number().nullable(),
  current_odometer: z.number(),
  odometer_unit: z.enum(['km', 'mi']),
  height_m: z.number().nullable(),
  width_m: z.number().nullable(),
  length_m: z.number().nullable(),
  weight_t: z.number().nullable(),
  notes: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Vehicle')
export type Vehicle = z.infer<typeof Vehicle>

export const VEHICLE_COLUMNS = `v.id, v.name, v.type, v.make, v.model, v.year, v.fuel_type,
  v.tank_capacity::float8 as tank_capacity, v.current_odometer, v.odometer_unit, v.height_m::float8 as height_m,
  v.width_m::float8 as width_m, v.length_m::float8 as length_m, v.weight_t::float8 as weight_t, v.notes,
  ${isoSql('v.created_at')} as created_at, ${isoSql('v.updated_at')} as updated_at`

/** The resource's declaration (also used by sync). */
export const vehicleResource: ResourceSpec = {
  one: 'vehicle',
  many: 'vehicles',
  noun: 'vehicle',
  path: '/vehicles',
  table: 'pam.vehicles',
  alias: 'v',
  tags: ['wheels: vehicles'],
  schema: Vehicle,
  select: VEHICLE_COLUMNS,
  order: newestFirst('v'),
  listSummary: 'Your vehicles, newest first',
  filters: {
    fields: { type: z.enum(VEHICLE_TYPES).optional() },
    where: (f, p) => (f.type ? [`v.type = ${p(f.type)}`] : []),
  },
  create: {
    schema: createOf(fields).openapi('VehicleCreate'),
    columns: COLUMNS,
    summary: 'Add a vehicle',
  },
  patch: {
    schema: patchOf(fields).openapi('VehiclePatch'),
    columns: COLUMNS,
    summary: 'Change a vehicle (409 when the odometer would go below a recorded reading)',
  },
  refusals: WHEELS_REFUSALS,
  afterWrite: invalidateVehiclesAndTrips,
}

export function registerVehicleRoutes(app: App) {
  registerResource(app, vehicleResource)
}
