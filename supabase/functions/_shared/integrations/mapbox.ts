// Mapbox: driving directions that respect the vehicle's size (Directions v5)
// and place search (Geocoding v6, forward), normalised and cached.
import { z } from 'zod'
import { type Cache, CACHE_POLICIES } from '../cache.ts'
import type { Config } from '../config.ts'
import { ApiError, badRequest } from '../errors.ts'
import {
  checkLatLng,
  getJson,
  type GetJsonOptions,
  type LatLng,
  parsed,
  rounded,
  sha256Hex,
  UPSTREAM_DEFAULTS,
  type UpstreamPolicy,
  upstreamUnavailable,
} from './upstream.ts'

export type { LatLng }

/** Height and width in metres, weight in metric tons. */
export interface VehicleDimensions {
  heightM?: number
  widthM?: number
  weightT?: number
}

export interface Route {
  distance_m: number
  duration_s: number
  /** The whole route as an encoded polyline with precision 6. */
  polyline: string
  legs: { distance_m: number; duration_s: number }[]
}

export interface Place {
  name: string
  full_address: string
  lat: number
  lng: number
  /** Geocoding v6 feature_type: address, street, place, region, country and the like */
  kind: string
}

export interface GeocodeOptions {
  /** Favour results near here. */
  proximity?: LatLng
  /** 1 to 10 results; 5 when not given. */
  limit?: number
  /** ISO 3166 alpha-2 codes, comma-separated, e.g. 'au' or 'au,nz'. */
  country?: string
}

export interface Mapbox {
  readonly configured: boolean
  directions(stops: LatLng[], vehicle?: VehicleDimensions, signal?: AbortSignal): Promise<Route>
  geocode(q: string, opts?: GeocodeOptions, signal?: AbortSignal): Promise<Place[]>
}

/** Directions v5 takes 2 to 25 coordinates on the driving profiles. */
export const MIN_STOPS = 2
export const MAX_STOPS = 25
/** The Directions parameters for each dimension and Mapbox's upper bound for it (the driving profiles only). */
const VEHICLE_PARAMS = [
  ['heightM', 'max_height', 10],
  ['widthM', 'max_width', 10],
  ['weightT', 'max_weight', 100],
] as const
/** Geocoding v6 limits on q (also at most 20 words) and limit. */
const MAX_QUERY_CHARS = 256
const MAX_RESULTS = 10

const DirectionsAnswer = z.object({
  routes: z.array(z.object({
    distance: z.number(),
    duration: z.number(),
    geometry: z.string(),
    legs: z.array(z.object({ distance: z.number(), duration: z.number() })),
  })).min(1),
})

const GeocodeAnswer = z.object({
  features: z.array(z.object({
    properties: z.object({
      name: z.string(),
      full_address: z.string().optional(),
      place_formatted: z.string().optional(),
      feature_type: z.string(),
      coordinates: z.object({ latitude: z.number(), longitude: z.number() }),
    }),
  })),
})

export function mapboxFor(
  config: Config,
  cache: Cache,
  policy: Partial<UpstreamPolicy> = {},
): Mapbox {
  const { token } = config.mapbox
  const base = config.mapbox.baseUrl.replace(/\/+$/, '')
  const ready = () => {
    if (!token) {
      throw upstreamUnavailable('mapbox', { why: 'MAPBOX_TOKEN is not set', retryAfterS: 3600 })
    }
    return token
  }
  const call = (url: URL, signal: AbortSignal | undefined, refuse: GetJsonOptions['refuse']) => {
    const withToken = new URL(url)
    withToken.searchParams.set('access_token', ready())
    return getJson(withToken.href, {
      ...UPSTREAM_DEFAULTS,
      ...policy,
      service: 'mapbox',
      signal,
      refuse,
    })
  }

  return {
    configured: Boolean(token),

    async directions(stops, vehicle = {}, signal) {
      ready()
      if (stops.length < MIN_STOPS || stops.length > MAX_STOPS) {
        throw badRequest(`a route needs ${MIN_STOPS} to ${MAX_STOPS} stops`)
      }
      stops.forEach(checkLatLng)
      // ~1 m: closer stops share a cached route, and the request asks exactly what the key says.
      const path = stops.map((s) => `${rounded(s.lng, 5)},${rounded(s.lat, 5)}`).join(';')
      const url = new URL(`${base}/directions/v5/mapbox/driving/${path}`)
      url.searchParams.set('geometries', 'polyline6')
      url.searchParams.set('overview', 'full')
      let sized = false
      for (const [field, param, max] of VEHICLE_PARAMS) {
        const value = vehicle[field]
        if (value === undefined) continue
        if (!(value > 0 && value <= max)) {
          throw badRequest(`${field} must be above 0 and at most ${max}`)
        }
        url.searchParams.set(param, rounded(value, 2))
        sized = true
      }
      const key = CACHE_POLICIES.routes.key(await sha256Hex(`${url.pathname}?${url.searchParams}`))
      const { value } = await cache.getOrLoad(key, CACHE_POLICIES.routes.ttl, async () => {
        const body = await call(url, signal, (status, body) => refuseRoute(status, body, sized))
        const route = parsed('mapbox', DirectionsAnswer, body).routes[0]
        return {
          distance_m: route.distance,
          duration_s: route.duration,
          polyline: route.geometry,
          legs: route.legs.map((l) => ({ distance_m: l.distance, duration_s: l.duration })),
        }
      })
      return value
    },

    async geocode(q, opts = {}, signal) {
      ready()
      const query = q.trim().replace(/\s+/g, ' ')
      if (!query || query.length > MAX_QUERY_CHARS) {
        throw badRequest(`the search text must be 1 to ${MAX_QUERY_CHARS} characters`)
      }
      const limit = opts.limit ?? 5
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RESULTS) {
        throw badRequest(`limit must be 1 to ${MAX_RESULTS}`)
      }
      if (opts.country !== undefined && !/^[a-z]{2}(,[a-z]{2})*$/i.test(opts.country)) {
        throw badRequest('country must be ISO 3166 alpha-2 codes, comma-separated')
      }
      const url = new URL(`${base}/search/geocode/v6/forward`)
      url.searchParams.set('q', query)
      url.searchParams.set('limit', String(limit))
      if (opts.proximity) {
        checkLatLng(opts.proximity)
        // ~1 km is close enough to bias results, and makes nearby searches share the cache.
        url.searchParams.set(
          'proximity',
          `${rounded(opts.proximity.lng, 2)},${rounded(opts.proximity.lat, 2)}`,
        )
      }
      if (opts.country) url.searchParams.set('country', opts.country.toLowerCase())
      const key = CACHE_POLICIES.geocode.key(await sha256Hex(url.search.toLowerCase()))
      const { value } = await cache.getOrLoad(key, CACHE_POLICIES.geocode.ttl, async () => {
        const body = await call(url, signal, refuseSearch)
        return parsed('mapbox', GeocodeAnswer, body).features.map(({ properties: p }) => ({
          name: p.name,
          full_address: p.full_address ?? [p.name, p.place_formatted].filter(Boolean).join(', '),
          lat: p.coordinates.latitude,
          lng: p.coordinates.longitude,
          kind: p.feature_type,
        }))
      })
      return value
    },
  }
}

/** Directions answers NoRoute and NoSegment with a 200 (its `code` says so), InvalidInput with a 422. */
function refuseRoute(status: number, body: unknown, sized: boolean): ApiError | undefined {
  const code = (body as { code?: unknown } | null | undefined)?.code
  if (code === 'NoRoute') {
    const forSize = sized ? ' for a vehicle of this size' : ''
    return new ApiError(422, 'no_route', `no driving route between these stops${forSize}`)
  }
  if (code === 'NoSegment') {
    return new ApiError(
      422,
      'no_route',
      'no driving route between these stops: one is too far from a road',
    )
  }
  if (status === 422) {
    return new ApiError(422, 'invalid_route', 'these stops or vehicle dimensions cannot be routed')
  }
  return undefined
}

/** Geocoding v6 answers a query it cannot take with a 422. */
function refuseSearch(status: number): ApiError | undefined {
  return status === 422 ? badRequest('the search text cannot be searched for') : undefined
}
