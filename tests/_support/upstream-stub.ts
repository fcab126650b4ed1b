// A local stand-in for the external APIs of integrations/: Mapbox Directions v5,
// Mapbox Geocoding v6 (forward), Mapbox's token check (the readiness probe of
// the health function) and Open-Meteo's forecast API, answering with
// bodies and headers of the real shape. It records every request, and each test
// switches it into the failure it needs. Point MAPBOX_BASE_URL and
// WEATHER_BASE_URL at `url`; Mapbox calls need `token` as their access token.
import './shared-resources.ts'
import { shutdownSoon } from './servers.ts'

export type StubMode =
  | 'ok'
  /** Mapbox: 401 for a bad token; Open-Meteo: 400 for a bad API key. */
  | 'unauthorized'
  /** Mapbox Directions and Geocoding: 422 InvalidInput; Open-Meteo: 400. */
  | 'invalid_input'
  /** Directions: no route, or a stop too far from any road (both a 200 with that `code`). */
  | 'no_route'
  | 'no_segment'
  /** 429: Mapbox with Retry-After and its X-Rate-Limit-* headers; Open-Meteo with neither. */
  | 'rate_limited'
  | 'server_error'
  /** 503 from the proxy in front: an HTML page. */
  | 'unavailable'
  /** Never answers (until the stub closes). */
  | 'hang'

/** Open-Meteo's values by variable: `current` one each, `daily` one per day. */
export interface ForecastValues {
  current: Record<string, number | null>
  daily: Record<string, (number | null)[]>
}

export interface UpstreamStub {
  readonly url: string
  readonly token: string
  /** Every request received, in order. */
  readonly requests: URL[]
  /** How requests are answered once the queue is empty. */
  mode: StubMode
  /** Retry-After (seconds) of Mapbox's `rate_limited` answers. */
  retryAfterS: number
  forecast: ForecastValues
  /** While set, every answer waits for it (a test holds an answer back to act meanwhile). */
  gate: Promise<void> | null
  /** Answers the next requests with these modes, one each, before going back to `mode`. */
  queue(...modes: StubMode[]): void
  /** Requests whose path contains `part`. */
  calls(part: string): URL[]
  close(): Promise<void>
}

const MAPBOX_ATTRIBUTION =
  'NOTICE: © 2025 Mapbox and its suppliers. All rights reserved. Use of this data is subject ' +
  'to the Mapbox Terms of Service (https://www.mapbox.com/about/maps/). This response and the information it ' +
  'contains may not be retained.'

export function startUpstreamStub(): UpstreamStub {
  const closing = new AbortController()
  const queued: StubMode[] = []
  const requests: URL[] = []
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url)
    requests.push(url)
    const mode = queued.shift() ?? stub.mode
    if (stub.gate) await stub.gate
    if (mode === 'hang') {
      await new Promise((resolve) => closing.signal.addEventListener('abort', resolve))
      return new Response(null, { status: 503 })
    }
    if (mode === 'unavailable') {
      return new Response(
        '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>',
        {
          status: 503,
          headers: { 'content-type': 'text/html' },
        },
      )
    }
    if (url.pathname.startsWith('/directions/v5/mapbox/')) {
      return mapbox(url, mode, stub) ?? directions(url, mode)
    }
    if (url.pathname === '/search/geocode/v6/forward') {
      return mapbox(url, mode, stub) ?? geocode(url)
    }
    if (url.pathname === '/tokens/v2') {
      return mapbox(url, mode, stub) ?? Response.json({
        code: 'TokenValid',
        token: { usage: 'pk', user: 'pam-test', authorization: crypto.randomUUID() },
      })
    }
    if (url.pathname === '/v1/forecast') return openMeteo(url, mode, stub.forecast)
    return Response.json({ message: 'Not Found' }, { status: 404 })
  })
  const stub: UpstreamStub = {
    url: `http://127.0.0.1:${server.addr.port}`,
    token: `pk.${crypto.randomUUID().replaceAll('-', '')}`,
    requests,
    mode: 'ok',
    gate: null,
    retryAfterS: 1,
    forecast: defaultForecast(),
    queue: (...modes) => void queued.push(...modes),
    calls: (part) => requests.filter((u) => u.pathname.includes(part)),
    close: async () => {
      closing.abort()
      await shutdownSoon(server)
    },
  }
  return stub
}

/** Mapbox's answers that do not depend on the API: token checks, rate limits, errors. */
function mapbox(url: URL, mode: StubMode, stub: UpstreamStub): Response | undefined {
  const token = url.searchParams.get('access_token')
  if (!token) return Response.json({ message: 'Not Authorized - No Token' }, { status: 401 })
  if (token !== stub.token || mode === 'unauthorized') {
    return Response.json({ message: 'Not Authorized - Invalid Token' }, { status: 401 })
  }
  if (mode === 'rate_limited') {
    return Response.json({ message: 'Too Many Requests' }, {
      status: 429,
      headers: {
        'retry-after': String(stub.retryAfterS),
        'x-rate-limit-interval': '60',
        'x-rate-limit-limit': '300',
        'x-rate-limit-reset': String(Math.ceil(Date.now() / 1000) + stub.retryAfterS),
      },
    })
  }
  if (mode === 'server_error') {
    return Response.json({ message: 'Internal Server Error' }, { status: 500 })
  }
  if (mode === 'invalid_input') {
    return url.pathname.startsWith('/directions/')
      ? Response.json({ message: 'Coordinate is invalid: 181,0', code: 'InvalidInput' }, {
        status: 422,
      })
      : Response.json({ message: 'Query too long', error_code: 'QUERY_TOO_LONG' }, { status: 422 })
  }
  return undefined
}

function directions(url: URL, mode: StubMode): Response {
  if (mode === 'no_route') {
    return Response.json({ code: 'NoRoute', message: 'No route found', routes: [], waypoints: [] })
  }
  if (mode === 'no_segment') {
    return Response.json({
      code: 'NoSegment',
      message: 'Could not find a matching segment for input coordinates',
    })
  }
  const stops = url.pathname.split('/').pop()!.split(';').map((p) =>
    p.split(',').map(Number) as [number, number]
  )
  // Roads are ~30% longer than the straight line; 80 km/h on average.
  const legs = stops.slice(1).map((to, i) => {
    const distance = Math.round(haversineM(stops[i], to) * 1.3 * 10) / 10
    const duration = Math.round(distance / (80 / 3.6) * 10) / 10
    return {
      via_waypoints: [],
      admins: [{ iso_3166_1_alpha3: 'AUS', iso_3166_1: 'AU' }],
      weight: duration * 1.1,
      duration,
      steps: [],
      distance,
      summary: 'Pacific Highway, M1',
    }
  })
  const sum = (k: 'distance' | 'duration') =>
    Math.round(legs.reduce((s, l) => s + l[k], 0) * 10) / 10
  return Response.json({
    routes: [{
      weight_name: 'auto',
      weight: sum('duration') * 1.1,
      duration: sum('duration'),
      distance: sum('distance'),
      legs,
      geometry: encodePolyline6(stops.map(([lng, lat]) => [lat, lng])),
    }],
    waypoints: stops.map((location) => ({ distance: 2.4, name: 'Pacific Highway', location })),
    code: 'Ok',
    uuid: crypto.randomUUID(),
  })
}

function geocode(url: URL): Response {
  const q = url.searchParams.get('q') ?? ''
  const limit = Number(url.searchParams.get('limit') ?? 5)
  const [lng, lat] = (url.searchParams.get('proximity') ?? '153.61,-28.64').split(',').map(Number)
  const features = Array.from({ length: Math.min(limit, 3) }, (_, i) => {
    const name = i === 0 ? q : `${i} ${q} Road`
    const place = 'Byron Bay, New South Wales 2481, Australia'
    const coordinates = { longitude: lng + i / 100, latitude: lat - i / 100 }
    const id = btoa(`urn:mbxplc:${crypto.randomUUID()}`)
    return {
      type: 'Feature',
      id,
      geometry: { type: 'Point', coordinates: [coordinates.longitude, coordinates.latitude] },
      properties: {
        mapbox_id: id,
        feature_type: i === 0 ? 'place' : 'address',
        full_address: `${name}, ${place}`,
        name,
        name_preferred: name,
        coordinates: i === 0 ? coordinates : { ...coordinates, accuracy: 'rooftop' },
        place_formatted: place,
        context: {
          region: {
            mapbox_id: 'dXJuOm1ieHBsYzpCUVRz',
            name: 'New South Wales',
            region_code: 'NSW',
            region_code_full: 'AU-NSW',
          },
          country: {
            mapbox_id: 'dXJuOm1ieHBsYzpJcXM',
            name: 'Australia',
            country_code: 'AU',
            country_code_alpha_3: 'AUS',
          },
        },
      },
    }
  })
  return Response.json({ type: 'FeatureCollection', features, attribution: MAPBOX_ATTRIBUTION })
}

const OPEN_METEO_UNITS: Record<string, string> = {
  temperature_2m: '°C',
  temperature_2m_max: '°C',
  temperature_2m_min: '°C',
  precipitation: 'mm',
  precipitation_sum: 'mm',
  precipitation_probability_max: '%',
  weather_code: 'wmo code',
  wind_speed_10m: 'km/h',
  wind_speed_10m_max: 'km/h',
  wind_gusts_10m: 'km/h',
  wind_gusts_10m_max: 'km/h',
  wind_direction_10m: '°',
}

function openMeteo(url: URL, mode: StubMode, values: ForecastValues): Response {
  const error = (status: number, reason: string) =>
    Response.json({ error: true, reason }, { status })
  if (mode === 'unauthorized') return error(400, 'The supplied API key is invalid.')
  if (mode === 'rate_limited') {
    return error(429, 'Minutely API request limit exceeded. Please try again in one minute.')
  }
  if (mode === 'server_error') return error(500, 'Internal Server Error')
  const lat = Number(url.searchParams.get('latitude'))
  const lng = Number(url.searchParams.get('longitude'))
  if (mode === 'invalid_input' || !(Math.abs(lat) <= 90)) {
    return error(400, `Latitude must be in range of -90 to 90°. Given: ${lat}.`)
  }
  const current = url.searchParams.get('current')?.split(',') ?? []
  const daily = url.searchParams.get('daily')?.split(',') ?? []
  const unknown = [...current, ...daily].find((v) => !(v in OPEN_METEO_UNITS))
  if (unknown) {
    return error(400, `Cannot initialize ForecastVariable from invalid String value ${unknown}.`)
  }
  const days = Number(url.searchParams.get('forecast_days') ?? 7)
  const today = new Date()
  const dates = Array.from(
    { length: days },
    (_, i) => new Date(today.getTime() + i * 86_400_000).toISOString().slice(0, 10),
  )
  const pick = (names: string[], value: (name: string) => unknown) =>
    Object.fromEntries(names.map((n) => [n, value(n)]))
  return Response.json({
    // The nearest grid point, not the place asked for.
    latitude: Math.round(lat * 40) / 40 + 0.0012,
    longitude: Math.round(lng * 40) / 40 - 0.0021,
    generationtime_ms: 0.0591,
    utc_offset_seconds: 36000,
    timezone: 'Australia/Sydney',
    timezone_abbreviation: 'GMT+10',
    elevation: 12,
    current_units: {
      time: 'iso8601',
      interval: 'seconds',
      ...pick(current, (n) => OPEN_METEO_UNITS[n]),
    },
    current: {
      time: `${dates[0]}T14:00`,
      interval: 900,
      ...pick(current, (n) => values.current[n] ?? null),
    },
    daily_units: { time: 'iso8601', ...pick(daily, (n) => OPEN_METEO_UNITS[n]) },
    daily: {
      time: dates,
      ...pick(daily, (n) => dates.map((_, i) => values.daily[n]?.[i] ?? null)),
    },
  })
}

/** A calm week in Byron Bay; tests change what they look at. */
function defaultForecast(): ForecastValues {
  return {
    current: {
      temperature_2m: 21.4,
      precipitation: 0,
      weather_code: 2,
      wind_speed_10m: 14.8,
      wind_direction_10m: 135,
      wind_gusts_10m: 27.4,
    },
    daily: {
      weather_code: [2, 3, 61, 80, 1, 0, 3],
      temperature_2m_max: [24.1, 23.5, 21.9, 22.4, 24.8, 25.3, 24],
      temperature_2m_min: [15.2, 16, 16.4, 15.1, 14.3, 14.8, 15.5],
      precipitation_sum: [0, 0.4, 6.2, 3.1, 0, 0, 0.2],
      precipitation_probability_max: [5, 20, 75, 60, 10, 3, 15],
      wind_speed_10m_max: [18.7, 22.3, 25.9, 20.2, 15.1, 12.4, 16.6],
      wind_gusts_10m_max: [34.2, 40.3, 44.6, 37.8, 29.5, 24.1, 31],
    },
  }
}

function haversineM([lng1, lat1]: [number, number], [lng2, lat2]: [number, number]): number {
  const rad = Math.PI / 180
  const a = Math.sin((lat2 - lat1) * rad / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin((lng2 - lng1) * rad / 2) ** 2
  return 2 * 6_371_000 * Math.asin(Math.sqrt(a))
}

/** Google's encoded polyline format at precision 6, of [lat, lng] points. */
export function encodePolyline6(points: [number, number][]): string {
  let out = ''
  let previous = [0, 0]
  for (const point of points) {
    const scaled = point.map((x) => Math.round(x * 1e6))
    for (const i of [0, 1]) {
      const delta = scaled[i] - previous[i]
      let n = delta < 0 ? ~(delta << 1) : delta << 1
      while (n >= 0x20) {
        out += String.fromCharCode((0x20 | (n & 0x1f)) + 63)
        n >>= 5
      }
      out += String.fromCharCode(n + 63)
    }
    previous = scaled
  }
  return out
}
