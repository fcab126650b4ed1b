// /wheels/geocode and /wheels/weather: Mapbox geocoding (near the caller's
// last known location unless told where) and Open-Meteo forecasts with the
// warnings that matter to high-sided vehicles. Both go through the adapters
// in _shared/integrations (timeouts, retries, cache, 503 upstream_unavailable).
import type { App } from '../_shared/http.ts'
import { ensureLiveSession, route, z } from '../_shared/http.ts'
import { mapboxFor } from '../_shared/integrations/mapbox.ts'
import { weatherFor } from '../_shared/integrations/weather.ts'
import { json } from '../_shared/resource.ts'
import { singleLineText } from '../_shared/text.ts'
import { LatQuery, LngQuery } from './common.ts'

const PlaceFound = z.object({
  name: z.string(),
  full_address: z.string(),
  lat: z.number(),
  lng: z.number(),
  kind: z.string(),
})

const geocode = route({
  method: 'get',
  path: '/geocode',
  auth: 'user',
  limitFirst: true, // a paid or outside service
  tags: ['wheels: lookups'],
  summary: 'Places matching a search, nearest your last known location first (Mapbox; cached 24 h)',
  request: {
    query: z.object({
      q: singleLineText({ max: 256 }).openapi({ example: 'Coober Pedy' }),
      limit: z.string().regex(/^\d{1,2}$/).transform(Number).pipe(z.number().min(1).max(10))
        .default(5)
        .openapi({ type: 'integer', minimum: 1, maximum: 10, default: 5 }),
      near_lat: LatQuery.optional().openapi({
        description: 'favour results near here (with near_lng)',
      }),
      near_lng: LngQuery.optional(),
      country: z.string().regex(
        /^[a-z]{2}(,[a-z]{2}){0,9}$/i,
        'ISO 3166 alpha-2 codes, comma-separated',
      ).optional()
        .openapi({ example: 'au' }),
    }).refine((q) => (q.near_lat === undefined) === (q.near_lng === undefined), {
      message: 'near_lat and near_lng go together',
      path: ['near_lat'],
    }),
  },
  responses: {
    200: {
      description: 'Matches',
      ...json(z.object({
        places: z.array(PlaceFound),
        near: z.object({ lat: z.number(), lng: z.number() }).nullable().openapi({
          description: 'the point favoured',
        }),
      })),
    },
  },
})

const Warning = z.object({
  date: z.string().nullable(),
  kind: z.string(),
  severity: z.enum(['caution', 'warning']),
  message: z.string(),
})
const weather = route({
  method: 'get',
  path: '/weather',
  auth: 'user',
  limitFirst: true, // a paid or outside service
  tags: ['wheels: lookups'],
  summary:
    'Current weather, a 7-day forecast, and warnings for high-sided vehicles (Open-Meteo; cached 30 min)',
  request: { query: z.object({ lat: LatQuery, lng: LngQuery }) },
  responses: {
    200: {
      description: 'The forecast',
      ...json(z.object({
        forecast: z.object({
          latitude: z.number(),
          longitude: z.number(),
          timezone: z.string(),
          current: z.record(z.string(), z.unknown()),
          daily: z.array(z.record(z.string(), z.unknown())),
          warnings: z.array(Warning),
        }),
      })),
    },
  },
})

/** The caller's most recent position: their latest expense with coordinates, or saved place. */
const LAST_LOCATION_SQL = `
  select lat, lng from (
    (select e.latitude as lat, e.longitude as lng, e.created_at from pam.expenses e
      where e.user_id = (select auth.uid()) and e.latitude is not null
      order by e.date desc, e.created_at desc limit 1)
    union all
    (select sp.latitude, sp.longitude, sp.created_at from pam.saved_places sp
      where sp.user_id = (select auth.uid()) order by sp.created_at desc limit 1)
  ) last order by created_at desc limit 1`

export function registerLookupRoutes(app: App) {
  app.openapi(geocode, async (c) => {
    const q = c.req.valid('query')
    // Told where: no query, whose transaction would have checked the session (signed out, suspended).
    const near = q.near_lat !== undefined
      ? (await ensureLiveSession(c), { lat: q.near_lat, lng: q.near_lng! })
      : (await c.var.postgres.queryRaw<{ lat: number; lng: number }>(LAST_LOCATION_SQL))[0] ?? null
    const places = await mapboxFor(c.var.config, c.var.cache).geocode(
      q.q,
      { proximity: near ?? undefined, limit: q.limit, country: q.country?.toLowerCase() },
    )
    return c.json({ places, near }, 200)
  })

  app.openapi(weather, async (c) => {
    const { lat, lng } = c.req.valid('query')
    await ensureLiveSession(c) // no query of its own checks the session
    const forecast = await weatherFor(c.var.config, c.var.cache).forecast({ lat, lng })
    return c.json({ forecast }, 200)
  })
}
