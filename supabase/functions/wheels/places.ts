// /wheels/places: the places a traveller keeps — campsites, dump points,
// fuel stations, water, favourites — declared as a resource.
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
import { Latitude, Longitude, WHEELS_REFUSALS } from './common.ts'

const PLACE_KINDS = [
  'campsite',
  'dump_point',
  'fuel_station',
  'water',
  'favourite',
  'other',
] as const

const fields = {
  name: singleLineText({ max: 200 }).openapi({ example: 'Ellery Creek Big Hole' }),
  kind: z.enum(PLACE_KINDS).optional().openapi({ description: 'default favourite' }),
  latitude: Latitude,
  longitude: Longitude,
  address: singleLineText({ max: 300 }).nullable().optional(),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
  rating: z.number().int().min(1).max(5).nullable().optional(),
}
const COLUMNS: Record<string, string> = {
  name: 'text',
  kind: 'text',
  latitude: 'double precision',
  longitude: 'double precision',
  address: 'text',
  notes: 'text',
  rating: 'smallint',
}

const Place = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(PLACE_KINDS),
  latitude: z.number(),
  longitude: z.number(),
  address: z.string().nullable(),
  notes: z.string(),
  rating: z.number().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('SavedPlace')

/** The resource's declaration (also used by sync). */
export const placeResource: ResourceSpec = {
  one: 'place',
  many: 'places',
  noun: 'place',
  path: '/places',
  table: 'pam.saved_places',
  alias: 'sp',
  tags: ['wheels: places'],
  schema: Place,
  select: `sp.id, sp.name, sp.kind, sp.latitude, sp.longitude, sp.address, sp.notes, sp.rating,
    ${isoSql('sp.created_at')} as created_at, ${isoSql('sp.updated_at')} as updated_at`,
  order: newestFirst('sp'),
  listSummary: 'Your saved places, newest first',
  filters: {
    fields: { kind: z.enum(PLACE_KINDS).optional() },
    where: (f, p) => (f.kind ? [`sp.kind = ${p(f.kind)}`] : []),
  },
  create: {
    schema: createOf(fields).openapi('SavedPlaceCreate'),
    columns: COLUMNS,
    summary: 'Save a place',
  },
  patch: {
    schema: patchOf(fields).openapi('SavedPlacePatch'),
    columns: COLUMNS,
    summary: 'Change a saved place',
  },
  refusals: WHEELS_REFUSALS,
}

export function registerPlaceRoutes(app: App) {
  registerResource(app, placeResource)
}
