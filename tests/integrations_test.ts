// The external-API adapters (Mapbox, Open-Meteo) against a local stand-in that
// answers like the real services, including their failures. No database needed:
//   node scripts/run.mjs test -A --no-check tests/integrations_test.ts
import { assert, assertEquals, assertMatch, type Json } from './_support/assert.ts'
import { encodePolyline6, startUpstreamStub, type UpstreamStub } from './_support/upstream-stub.ts'
import { type Config, parseConfig } from '../supabase/functions/_shared/config.ts'
import { Cache, MemoryStore } from '../supabase/functions/_shared/cache.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'
import { type LatLng, mapboxFor } from '../supabase/functions/_shared/integrations/mapbox.ts'
import {
  type CurrentWeather,
  type DailyWeather,
  FROST_C,
  GUST_CAUTION_KMH,
  GUST_WARNING_KMH,
  HEAT_CAUTION_C,
  HEAT_WARNING_C,
  HEAVY_RAIN_MM,
  RAIN_CAUTION_MM,
  weatherFor,
  weatherWarnings,
} from '../supabase/functions/_shared/integrations/weather.ts'

/** Fast enough for tests; production waits 4 s per attempt. */
const FAST = { timeoutMs: 300, retries: 2, backoffMs: 10 }

const STOPS: LatLng[] = [
  { lat: -28.643387, lng: 153.612224 }, // Byron Bay
  { lat: -28.8167, lng: 153.5667 }, // Ballina
  { lat: -29.4333, lng: 153.3667 }, // Yamba
]

interface Ctx {
  stub: UpstreamStub
  cache: Cache
  /** The log lines written (warnings and errors), parsed. */
  logs: Json[]
  config(env?: Record<string, string | undefined>): Config
}

function test(name: string, fn: (t: Ctx) => Promise<void>) {
  Deno.test(`integrations: ${name}`, async () => {
    const stub = startUpstreamStub()
    const logs: Json[] = []
    const consoleError = console.error
    console.error = (line: unknown) => void logs.push(JSON.parse(String(line)))
    try {
      await fn({
        stub,
        cache: newCache(),
        logs,
        config: (env = {}) =>
          parseConfig({
            SUPABASE_URL: 'http://127.0.0.1:9',
            SUPABASE_DB_URL: 'postgres://u@127.0.0.1:9/db',
            PAM_LOCAL_STACK: 'true',
            MAPBOX_TOKEN: stub.token,
            MAPBOX_BASE_URL: stub.url,
            WEATHER_BASE_URL: stub.url,
            ...env,
          }),
      })
    } finally {
      console.error = consoleError
      await stub.close()
    }
  })
}

const newCache = (store = new MemoryStore()) =>
  new Cache(store, { prefix: 'test:' })

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected an ApiError')
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now()
  return { value: await p, ms: performance.now() - start }
}

const r5 = (x: number) => Number(x.toFixed(5))

// Mapbox Directions

test('directions: a normalised route, asked as Directions v5 wants', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config(), cache, FAST)
  assert(mapbox.configured)
  const route = await mapbox.directions(STOPS)
  assertEquals(route.legs.length, 2)
  assert(route.legs.every((l) => l.distance_m > 0 && l.duration_s > 0))
  assert(Math.abs(route.distance_m - route.legs.reduce((s, l) => s + l.distance_m, 0)) < 0.5)
  assertEquals(route.polyline, encodePolyline6(STOPS.map((s) => [r5(s.lat), r5(s.lng)])))
  assertEquals(Object.keys(route).sort(), ['distance_m', 'duration_s', 'legs', 'polyline'])

  const [asked] = stub.requests
  assertEquals(
    asked.pathname,
    '/directions/v5/mapbox/driving/153.61222,-28.64339;153.5667,-28.8167;153.3667,-29.4333',
  )
  assertEquals(asked.searchParams.get('geometries'), 'polyline6')
  assertEquals(asked.searchParams.get('overview'), 'full')
  assertEquals(asked.searchParams.get('access_token'), stub.token)
  for (const p of ['max_height', 'max_width', 'max_weight']) {
    assertEquals(asked.searchParams.has(p), false, p)
  }
})

test('directions: the vehicle size goes as max_height/width/weight, and keys the cache', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config(), cache, FAST)
  const caravan = { heightM: 3.1, widthM: 2.5, weightT: 3.5 }
  const first = await mapbox.directions(STOPS, caravan)
  const asked = stub.requests[0].searchParams
  assertEquals([asked.get('max_height'), asked.get('max_width'), asked.get('max_weight')], [
    '3.1',
    '2.5',
    '3.5',
  ])

  // The same stops (within a metre) and size: from the cache.
  assertEquals(
    await mapbox.directions(STOPS.map((s) => ({ ...s, lat: s.lat + 1e-6 })), caravan),
    first,
  )
  assertEquals(stub.calls('/directions/').length, 1)
  // Another size, or none: another route.
  await mapbox.directions(STOPS, { ...caravan, heightM: 3.4 })
  await mapbox.directions(STOPS)
  assertEquals(stub.calls('/directions/').length, 3)
  assertEquals(stub.requests[1].searchParams.get('max_height'), '3.4')
})

test('directions: bad stops or sizes are a 400 before any call', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config(), cache, FAST)
  const stop = STOPS[0]
  const bad: [LatLng[], object?][] = [
    [[stop]],
    [Array.from({ length: 26 }, () => stop)],
    [[stop, { lat: 90.5, lng: 0 }]],
    [[stop, { lat: 0, lng: -181 }]],
    [[stop, { lat: NaN, lng: 0 }]],
    [STOPS, { heightM: 0 }],
    [STOPS, { widthM: 10.5 }],
    [STOPS, { weightT: 101 }],
    [STOPS, { heightM: NaN }],
  ]
  for (const [stops, vehicle] of bad) {
    const err = await refusal(mapbox.directions(stops, vehicle))
    assertEquals(
      [err.status, err.code],
      [400, 'bad_request'],
      JSON.stringify([stops.length, vehicle]),
    )
  }
  assertEquals(stub.requests.length, 0)
})

test('directions: no route is a 422 no_route, asked once and not cached', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config(), cache, FAST)
  stub.queue('no_route', 'no_route', 'no_segment', 'invalid_input')
  let err = await refusal(mapbox.directions(STOPS))
  assertEquals([err.status, err.code, err.message], [
    422,
    'no_route',
    'no driving route between these stops',
  ])
  err = await refusal(mapbox.directions(STOPS, { heightM: 4.2 }))
  assertEquals([err.code, err.message], [
    'no_route',
    'no driving route between these stops for a vehicle of this size',
  ])
  err = await refusal(mapbox.directions(STOPS))
  assertEquals(err.code, 'no_route')
  assertMatch(err.message, /too far from a road/)
  err = await refusal(mapbox.directions(STOPS))
  assertEquals([err.status, err.code], [422, 'invalid_route'])
  assertEquals(stub.requests.length, 4)
  await mapbox.directions(STOPS)
  assertEquals(stub.requests.length, 5)
})

test('a rejected token is a 503, asked once, logged without the token', async ({ stub, cache, config, logs }) => {
  stub.mode = 'unauthorized'
  const err = await refusal(mapboxFor(config(), cache, FAST).directions(STOPS))
  assertEquals([err.status, err.code, err.details], [503, 'upstream_unavailable', {
    service: 'mapbox',
  }])
  assertEquals(err.headers, { 'Retry-After': '5' })
  assertEquals(stub.requests.length, 1)
  const [line] = logs.filter((l) => l.level === 'error')
  assertEquals([line.service, line.status], ['mapbox', 401])
  assertMatch(line.url, /access_token=\[redacted\]/)
  assertMatch(line.answer, /Invalid Token/)
  assert(!JSON.stringify(logs).includes(stub.token))
})

test('5xx and proxy errors are retried with backoff, then answered', async ({ stub, cache, config, logs }) => {
  stub.queue('server_error', 'unavailable')
  const route = await mapboxFor(config(), cache, FAST).directions(STOPS)
  assertEquals(route.legs.length, 2)
  assertEquals(stub.requests.length, 3)
  const warnings = logs.filter((l) => l.level === 'warn')
  assertEquals(warnings.map((l) => [l.service, l.attempt, l.status]), [['mapbox', 1, 500], [
    'mapbox',
    2,
    503,
  ]])
})

test('a service still failing after the retries is a 503 with Retry-After', async ({ stub, cache, config }) => {
  stub.mode = 'server_error'
  const err = await refusal(mapboxFor(config(), cache, FAST).directions(STOPS))
  assertEquals([err.status, err.code, err.message], [
    503,
    'upstream_unavailable',
    'mapbox is unavailable, try again shortly',
  ])
  assertEquals(err.headers, { 'Retry-After': '5' })
  assertEquals(stub.requests.length, 1 + FAST.retries)
})

test('a 429 is retried after its Retry-After', async ({ stub, cache, config }) => {
  stub.retryAfterS = 1
  stub.queue('rate_limited')
  const { value: places, ms } = await timed(mapboxFor(config(), cache, FAST).geocode('Byron Bay'))
  assertEquals(places.length, 3)
  assertEquals(stub.requests.length, 2)
  assert(ms >= 950, `retried after ${ms} ms`)
})

test('a 429 asking for a long wait fails at once and passes the wait on', async ({ stub, cache, config }) => {
  stub.retryAfterS = 120
  stub.mode = 'rate_limited'
  const { value: err, ms } = await timed(
    refusal(mapboxFor(config(), cache, FAST).directions(STOPS)),
  )
  assertEquals([err.status, err.code], [503, 'upstream_unavailable'])
  assertEquals(err.headers, { 'Retry-After': '120' })
  assertEquals(stub.requests.length, 1)
  assert(ms < 500, `${ms} ms`)
})

test('a service that never answers: each attempt times out, a 503 within the budget', async ({ stub, cache, config }) => {
  stub.mode = 'hang'
  let { value: err, ms } = await timed(refusal(mapboxFor(config(), cache, FAST).directions(STOPS)))
  assertEquals([err.status, err.code], [503, 'upstream_unavailable'])
  assertEquals(stub.requests.length, 3)
  assert(ms >= 3 * FAST.timeoutMs && ms < 3 * FAST.timeoutMs + 500, `${ms} ms`) // The budget caps the whole call, however many retries are left.
  ;({ value: err, ms } = await timed(
    refusal(mapboxFor(config(), cache, { ...FAST, budgetMs: 500 }).geocode('Yamba')),
  ))
  assertEquals(err.code, 'upstream_unavailable')
  assert(ms < 700, `${ms} ms`)
  assertEquals(stub.requests.length, 5)
})

test('the caller giving up ends the call at once, with its reason', async ({ stub, cache, config }) => {
  stub.mode = 'hang'
  const gone = new Error('client went away')
  const abort = new AbortController()
  setTimeout(() => abort.abort(gone), 50)
  const started = performance.now()
  const reason = await mapboxFor(config(), cache, FAST).directions(STOPS, {}, abort.signal).catch((
    e,
  ) => e)
  assertEquals(reason, gone)
  assert(performance.now() - started < FAST.timeoutMs)
  assertEquals(stub.requests.length, 1)
})

test('without MAPBOX_TOKEN: not configured, a 503 naming it, nothing sent', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config({ MAPBOX_TOKEN: undefined }), cache, FAST)
  assertEquals(mapbox.configured, false)
  for (const call of [mapbox.directions(STOPS), mapbox.geocode('Byron Bay')]) {
    const err = await refusal(call)
    assertEquals([err.status, err.code, err.message], [
      503,
      'upstream_unavailable',
      'mapbox is unavailable: MAPBOX_TOKEN is not set',
    ])
  }
  assertEquals(stub.requests.length, 0)
})

test('network errors are retried, and no log shows the token', async ({ stub, cache, config, logs }) => {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const closedPort = listener.addr.port
  listener.close()
  const err = await refusal(
    mapboxFor(config({ MAPBOX_BASE_URL: `http://127.0.0.1:${closedPort}` }), cache, FAST)
      .directions(STOPS),
  )
  assertEquals(err.code, 'upstream_unavailable')
  const warnings = logs.filter((l) => l.level === 'warn')
  assertEquals(warnings.map((l) => l.attempt), [1, 2, 3])
  for (const l of warnings) {
    assertMatch(l.url, /access_token=\[redacted\]/)
    assert(typeof l.error === 'string' && l.error.length > 0)
  }
  assert(!JSON.stringify(logs).includes(stub.token))
})

// Mapbox Geocoding

test('geocode: normalised places, asked as Geocoding v6 wants, cached for repeats', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config(), cache, FAST)
  const near = { lat: -28.643387, lng: 153.612224 }
  const places = await mapbox.geocode('  Byron   Bay ', {
    proximity: near,
    limit: 3,
    country: 'AU',
  })
  assertEquals(places[0], {
    name: 'Byron Bay',
    full_address: 'Byron Bay, Byron Bay, New South Wales 2481, Australia',
    lat: -28.64,
    lng: 153.61,
    kind: 'place',
  })
  assertEquals(places.map((p) => p.kind), ['place', 'address', 'address'])

  const asked = stub.requests[0]
  assertEquals(asked.pathname, '/search/geocode/v6/forward')
  assertEquals(Object.fromEntries(asked.searchParams), {
    q: 'Byron Bay',
    limit: '3',
    proximity: '153.61,-28.64',
    country: 'au',
    access_token: stub.token,
  })

  // The same search (case, spacing, a few hundred metres away): from the cache.
  assertEquals(
    await mapbox.geocode('byron bay', {
      proximity: { lat: -28.6412, lng: 153.6149 },
      limit: 3,
      country: 'au',
    }),
    places,
  )
  assertEquals(stub.requests.length, 1)
  await mapbox.geocode('Byron Bay', { limit: 3, country: 'au' })
  assertEquals(stub.requests.length, 2)
})

test('geocode: bad input is a 400 before any call; a query Mapbox refuses is a 400', async ({ stub, cache, config }) => {
  const mapbox = mapboxFor(config(), cache, FAST)
  const bad: [string, object][] = [
    ['', {}],
    ['   ', {}],
    ['x'.repeat(257), {}],
    ['Yamba', { limit: 0 }],
    ['Yamba', { limit: 11 }],
    ['Yamba', { limit: 2.5 }],
    ['Yamba', { country: 'aus' }],
    ['Yamba', { proximity: { lat: 100, lng: 0 } }],
  ]
  for (const [q, opts] of bad) {
    const err = await refusal(mapbox.geocode(q, opts))
    assertEquals([err.status, err.code], [400, 'bad_request'], JSON.stringify([q.length, opts]))
  }
  assertEquals(stub.requests.length, 0)

  stub.mode = 'invalid_input'
  const err = await refusal(mapbox.geocode('Yamba'))
  assertEquals([err.status, err.code], [400, 'bad_request'])
  assertEquals(stub.requests.length, 1)
})

// Open-Meteo

test('weather: now and 7 days, normalised, asked as Open-Meteo wants', async ({ stub, cache, config }) => {
  const forecast = await weatherFor(config(), cache, FAST).forecast(STOPS[0])
  assertEquals(forecast.timezone, 'Australia/Sydney')
  assert(
    Math.abs(forecast.latitude - STOPS[0].lat) < 0.05 &&
      Math.abs(forecast.longitude - STOPS[0].lng) < 0.05,
  )
  assertMatch(forecast.current.time, /^\d{4}-\d{2}-\d{2}T14:00$/)
  assertEquals({ ...forecast.current, time: '' }, {
    time: '',
    temperature_c: 21.4,
    wind_speed_kmh: 14.8,
    wind_gusts_kmh: 27.4,
    wind_direction_deg: 135,
    precipitation_mm: 0,
    weather_code: 2,
    description: 'partly cloudy',
  })
  assertEquals(forecast.daily.length, 7)
  assertEquals({ ...forecast.daily[2], date: '' }, {
    date: '',
    temperature_max_c: 21.9,
    temperature_min_c: 16.4,
    precipitation_mm: 6.2,
    precipitation_probability_pct: 75,
    wind_speed_max_kmh: 25.9,
    wind_gusts_max_kmh: 44.6,
    weather_code: 61,
    description: 'light rain',
  })
  assertEquals(forecast.warnings, [])

  const asked = stub.requests[0]
  assertEquals(asked.pathname, '/v1/forecast')
  assertEquals(Object.fromEntries(asked.searchParams), {
    latitude: '-28.64',
    longitude: '153.61',
    current:
      'temperature_2m,wind_speed_10m,wind_gusts_10m,wind_direction_10m,precipitation,weather_code',
    daily:
      'temperature_2m_max,temperature_2m_min,precipitation_sum,precipitation_probability_max,' +
      'wind_speed_10m_max,wind_gusts_10m_max,weather_code',
    timezone: 'auto',
    forecast_days: '7',
    wind_speed_unit: 'kmh',
  })
})

test('weather: cached per ~1 km; WEATHER_API_KEY goes as apikey', async ({ stub, cache, config }) => {
  const weather = weatherFor(config(), cache, FAST)
  const first = await weather.forecast({ lat: -28.6434, lng: 153.6122 })
  assertEquals(await weather.forecast({ lat: -28.6371, lng: 153.6088 }), first)
  assertEquals(stub.requests.length, 1)

  await weatherFor(config({ WEATHER_API_KEY: 'om-key' }), newCache(), FAST).forecast(STOPS[0])
  assertEquals(stub.requests[1].searchParams.get('apikey'), 'om-key')
})

test('weather: warnings come with the forecast', async ({ stub, cache, config }) => {
  stub.forecast.daily.wind_gusts_10m_max[3] = 72.5
  stub.forecast.daily.weather_code[5] = 95
  const { daily, warnings } = await weatherFor(config(), cache, FAST).forecast(STOPS[0])
  assertEquals(warnings.map((w) => [w.date, w.kind, w.severity]), [
    [daily[3].date, 'high_wind', 'warning'],
    [daily[5].date, 'storm', 'warning'],
  ])
  assertEquals(warnings[0].message, "wind up to 73 km/h: don't tow or drive a high-sided vehicle")
})

test('weather: a bad key is a 503 asked once; 429 and 5xx are retried', async ({ stub, cache, config, logs }) => {
  const weather = weatherFor(config({ WEATHER_API_KEY: 'om-wrong' }), cache, FAST)
  stub.mode = 'unauthorized'
  let err = await refusal(weather.forecast(STOPS[0]))
  assertEquals([err.status, err.code, err.details], [503, 'upstream_unavailable', {
    service: 'weather',
  }])
  assertEquals(stub.requests.length, 1)
  assert(!JSON.stringify(logs).includes('om-wrong'))

  // Open-Meteo's 429 says nothing of when to come back: backoff, then the default Retry-After.
  stub.mode = 'rate_limited'
  err = await refusal(weather.forecast(STOPS[0]))
  assertEquals([err.code, err.headers], ['upstream_unavailable', { 'Retry-After': '5' }])
  assertEquals(stub.requests.length, 4)

  stub.mode = 'ok'
  stub.queue('rate_limited', 'server_error')
  assertEquals((await weather.forecast(STOPS[0])).daily.length, 7)
  assertEquals(stub.requests.length, 7)
})

const CALM: DailyWeather = {
  date: '2026-07-01',
  temperature_max_c: 22,
  temperature_min_c: 12,
  precipitation_mm: 0,
  precipitation_probability_pct: 0,
  wind_speed_max_kmh: 15,
  wind_gusts_max_kmh: 25,
  weather_code: 1,
  description: 'mainly clear',
}
const NOW: CurrentWeather = {
  time: '2026-07-01T14:00',
  temperature_c: 20,
  wind_speed_kmh: 12,
  wind_gusts_kmh: 20,
  wind_direction_deg: 90,
  precipitation_mm: 0,
  weather_code: 1,
  description: 'mainly clear',
}
const dayWarnings = (d: Partial<DailyWeather>) =>
  weatherWarnings(NOW, [{ ...CALM, ...d }]).map((w) => `${w.kind}:${w.severity}`)

Deno.test('integrations: weather warnings at their thresholds, none just below', () => {
  const cases: [Partial<DailyWeather>, string[]][] = [
    [{}, []],
    [{ wind_gusts_max_kmh: GUST_CAUTION_KMH - 0.1 }, []],
    [{ wind_gusts_max_kmh: GUST_CAUTION_KMH }, ['strong_wind:caution']],
    [{ wind_gusts_max_kmh: GUST_WARNING_KMH - 0.1 }, ['strong_wind:caution']],
    [{ wind_gusts_max_kmh: GUST_WARNING_KMH }, ['high_wind:warning']],
    [{ wind_gusts_max_kmh: null, wind_speed_max_kmh: GUST_CAUTION_KMH }, ['strong_wind:caution']],
    [{ precipitation_mm: RAIN_CAUTION_MM - 0.1 }, []],
    [{ precipitation_mm: RAIN_CAUTION_MM }, ['rain:caution']],
    [{ precipitation_mm: HEAVY_RAIN_MM - 0.1 }, ['rain:caution']],
    [{ precipitation_mm: HEAVY_RAIN_MM }, ['heavy_rain:warning']],
    [{ temperature_max_c: HEAT_CAUTION_C - 0.1 }, []],
    [{ temperature_max_c: HEAT_CAUTION_C }, ['heat:caution']],
    [{ temperature_max_c: HEAT_WARNING_C - 0.1 }, ['heat:caution']],
    [{ temperature_max_c: HEAT_WARNING_C }, ['heat:warning']],
    [{ temperature_min_c: FROST_C + 0.1 }, []],
    [{ temperature_min_c: FROST_C }, ['frost:caution']],
    [{ weather_code: 82 }, []],
    [{ weather_code: 95 }, ['storm:warning']],
    [{ weather_code: 99 }, ['storm:warning']],
    [{ weather_code: 75 }, ['snow:warning']],
    [{ weather_code: 67 }, ['ice:warning']],
    [{ wind_gusts_max_kmh: 80, weather_code: 96, precipitation_mm: 40 }, [
      'high_wind:warning',
      'storm:warning',
      'heavy_rain:warning',
    ]],
    [{
      temperature_max_c: null,
      temperature_min_c: null,
      precipitation_mm: null,
      wind_gusts_max_kmh: null,
      wind_speed_max_kmh: null,
      weather_code: null,
    }, []],
  ]
  for (const [day, expected] of cases) assertEquals(dayWarnings(day), expected, JSON.stringify(day))

  // Now: wind and sky, dated null.
  const now = weatherWarnings(
    { ...NOW, wind_gusts_kmh: GUST_WARNING_KMH + 1, weather_code: 95 },
    [],
  )
  assertEquals(now.map((w) => [w.date, w.kind, w.severity]), [[null, 'high_wind', 'warning'], [
    null,
    'storm',
    'warning',
  ]])
})

// The cache

class FlakyStore extends MemoryStore {
  down = false
  readonly keys: string[] = []
  override get(key: string) {
    this.keys.push(key)
    return this.down ? Promise.reject(new Error('connection refused')) : super.get(key)
  }
  override set(key: string, value: string, ttlSeconds: number) {
    return this.down
      ? Promise.reject(new Error('connection refused'))
      : super.set(key, value, ttlSeconds)
  }
}

test('a cache that is down never fails a call; keys stay short', async ({ stub, config }) => {
  const store = new FlakyStore()
  const cache = newCache(store)
  const mapbox = mapboxFor(config(), cache, FAST)
  const long = Array.from({ length: 25 }, (_, i) => ({ lat: -28 - i / 10, lng: 153 + i / 100 }))
  await mapbox.directions(long, { heightM: 3.2 })
  await mapbox.geocode('x'.repeat(256))
  await weatherFor(config(), cache, FAST).forecast(STOPS[0])
  assert(store.keys.every((k) => k.length <= 80), store.keys.join('\n'))

  store.down = true
  assertEquals((await mapbox.directions(STOPS)).legs.length, 2)
  assertEquals((await mapbox.directions(STOPS)).legs.length, 2)
  assertEquals(stub.calls('/directions/').length, 3)
})
