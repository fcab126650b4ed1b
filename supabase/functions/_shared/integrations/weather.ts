// Weather from Open-Meteo's forecast API (no key needed; WEATHER_API_KEY for its
// commercial endpoint): now and the next 7 days at a place, with the warnings
// that matter to high-sided vehicles (caravans, motorhomes, campervans).
import { z } from 'zod'
import { type Cache, CACHE_POLICIES } from '../cache.ts'
import type { Config } from '../config.ts'
import {
  checkLatLng,
  getJson,
  type LatLng,
  parsed,
  rounded,
  UPSTREAM_DEFAULTS,
  type UpstreamPolicy,
} from './upstream.ts'

/** Wind gusts that push a caravan or motorhome off line: slow down, take care on exposed roads and bridges. */
export const GUST_CAUTION_KMH = 45
/** Wind gusts at which towing or driving a high-sided vehicle is unsafe (near a gale: Beaufort 8 starts at 62). */
export const GUST_WARNING_KMH = 60
/** A day's rain that makes unsealed roads slippery or boggy. */
export const RAIN_CAUTION_MM = 10
/** A day's rain that floods low roads and causeways and closes unsealed ones. */
export const HEAVY_RAIN_MM = 25
/** Heat that strains an engine towing uphill, and tyres. */
export const HEAT_CAUTION_C = 35
export const HEAT_WARNING_C = 40
/** Freezing overnight: icy roads in the morning, water tanks and lines at risk. */
export const FROST_C = 0
/** WMO weather codes (Open-Meteo's weather_code). */
const THUNDERSTORM = [95, 96, 99]
const SNOW = [71, 73, 75, 77, 85, 86]
const FREEZING_RAIN = [56, 57, 66, 67]

export const FORECAST_DAYS = 7

export interface CurrentWeather {
  /** Local time at the place, ISO 8601 without an offset. */
  time: string
  temperature_c: number | null
  wind_speed_kmh: number | null
  wind_gusts_kmh: number | null
  wind_direction_deg: number | null
  precipitation_mm: number | null
  weather_code: number | null
  description: string
}

export interface DailyWeather {
  date: string
  temperature_max_c: number | null
  temperature_min_c: number | null
  precipitation_mm: number | null
  precipitation_probability_pct: number | null
  wind_speed_max_kmh: number | null
  wind_gusts_max_kmh: number | null
  weather_code: number | null
  description: string
}

export type WarningKind =
  | 'high_wind'
  | 'strong_wind'
  | 'heavy_rain'
  | 'rain'
  | 'storm'
  | 'snow'
  | 'ice'
  | 'heat'
  | 'frost'

export interface WeatherWarning {
  /** The day it is forecast for; null for the current conditions. */
  date: string | null
  kind: WarningKind
  severity: 'caution' | 'warning'
  message: string
}

export interface Forecast {
  /** The forecast grid point nearest the place asked for. */
  latitude: number
  longitude: number
  timezone: string
  current: CurrentWeather
  daily: DailyWeather[]
  warnings: WeatherWarning[]
}

export interface Weather {
  forecast(at: LatLng, signal?: AbortSignal): Promise<Forecast>
}

const Value = z.number().nullable()
const Values = z.array(Value)
/** The answer's shape; the variables asked for are the keys listed here. */
const ForecastAnswer = z.object({
  latitude: z.number(),
  longitude: z.number(),
  timezone: z.string(),
  current: z.object({
    time: z.string(),
    temperature_2m: Value,
    wind_speed_10m: Value,
    wind_gusts_10m: Value,
    wind_direction_10m: Value,
    precipitation: Value,
    weather_code: Value,
  }),
  daily: z.object({
    time: z.array(z.string()),
    temperature_2m_max: Values,
    temperature_2m_min: Values,
    precipitation_sum: Values,
    precipitation_probability_max: Values,
    wind_speed_10m_max: Values,
    wind_gusts_10m_max: Values,
    weather_code: Values,
  }),
})
const variables = (shape: Record<string, unknown>) =>
  Object.keys(shape).filter((k) => k !== 'time').join(',')

export function weatherFor(
  config: Config,
  cache: Cache,
  policy: Partial<UpstreamPolicy> = {},
): Weather {
  const { apiKey } = config.weather
  const base = config.weather.baseUrl.replace(/\/+$/, '')
  return {
    async forecast(at, signal) {
      checkLatLng(at)
      // ~1 km: the forecast grid is coarser, so nearby places share one cached forecast.
      const [lat, lng] = [rounded(at.lat, 2), rounded(at.lng, 2)]
      const url = new URL(`${base}/v1/forecast`)
      url.searchParams.set('latitude', lat)
      url.searchParams.set('longitude', lng)
      url.searchParams.set('current', variables(ForecastAnswer.shape.current.shape))
      url.searchParams.set('daily', variables(ForecastAnswer.shape.daily.shape))
      url.searchParams.set('timezone', 'auto')
      url.searchParams.set('forecast_days', String(FORECAST_DAYS))
      url.searchParams.set('wind_speed_unit', 'kmh')
      if (apiKey) url.searchParams.set('apikey', apiKey)
      const { value } = await cache.getOrLoad(
        CACHE_POLICIES.weather.key(lat, lng),
        CACHE_POLICIES.weather.ttl,
        async () => {
          const body = await getJson(url.href, {
            ...UPSTREAM_DEFAULTS,
            ...policy,
            service: 'weather',
            signal,
          })
          return normalise(parsed('weather', ForecastAnswer, body))
        },
      )
      return value
    },
  }
}

function normalise(a: z.infer<typeof ForecastAnswer>): Forecast {
  const c = a.current
  const current: CurrentWeather = {
    time: c.time,
    temperature_c: c.temperature_2m,
    wind_speed_kmh: c.wind_speed_10m,
    wind_gusts_kmh: c.wind_gusts_10m,
    wind_direction_deg: c.wind_direction_10m,
    precipitation_mm: c.precipitation,
    weather_code: c.weather_code,
    description: describe(c.weather_code),
  }
  const d = a.daily
  const daily = d.time.map((date, i): DailyWeather => ({
    date,
    temperature_max_c: d.temperature_2m_max[i] ?? null,
    temperature_min_c: d.temperature_2m_min[i] ?? null,
    precipitation_mm: d.precipitation_sum[i] ?? null,
    precipitation_probability_pct: d.precipitation_probability_max[i] ?? null,
    wind_speed_max_kmh: d.wind_speed_10m_max[i] ?? null,
    wind_gusts_max_kmh: d.wind_gusts_10m_max[i] ?? null,
    weather_code: d.weather_code[i] ?? null,
    description: describe(d.weather_code[i] ?? null),
  }))
  return {
    latitude: a.latitude,
    longitude: a.longitude,
    timezone: a.timezone,
    current,
    daily,
    warnings: weatherWarnings(current, daily),
  }
}

interface Conditions {
  date: string | null
  windKmh: number | null
  code: number | null
  rainMm?: number | null
  maxC?: number | null
  minC?: number | null
}

/** Warnings for now (wind and sky) and for each day (also rain and temperature). */
export function weatherWarnings(current: CurrentWeather, daily: DailyWeather[]): WeatherWarning[] {
  return [
    {
      date: null,
      windKmh: current.wind_gusts_kmh ?? current.wind_speed_kmh,
      code: current.weather_code,
    },
    ...daily.map((d) => ({
      date: d.date,
      windKmh: d.wind_gusts_max_kmh ?? d.wind_speed_max_kmh,
      code: d.weather_code,
      rainMm: d.precipitation_mm,
      maxC: d.temperature_max_c,
      minC: d.temperature_min_c,
    })),
  ].flatMap(warningsFor)
}

function warningsFor(c: Conditions): WeatherWarning[] {
  const out: WeatherWarning[] = []
  const add = (kind: WarningKind, severity: WeatherWarning['severity'], message: string) =>
    out.push({ date: c.date, kind, severity, message })
  const n = (x: number) => Math.round(x)
  const wind = c.windKmh ?? -Infinity
  if (wind >= GUST_WARNING_KMH) {
    add(
      'high_wind',
      'warning',
      `wind up to ${n(wind)} km/h: don't tow or drive a high-sided vehicle`,
    )
  } else if (wind >= GUST_CAUTION_KMH) {
    add(
      'strong_wind',
      'caution',
      `wind up to ${n(wind)} km/h: slow down on exposed roads and bridges`,
    )
  }
  const code = c.code ?? -1
  if (THUNDERSTORM.includes(code)) {
    add('storm', 'warning', `${describe(code)}: sudden violent gusts, don't tow`)
  }
  if (SNOW.includes(code)) {
    add('snow', 'warning', `${describe(code)}: roads may close, chains may be required`)
  }
  if (FREEZING_RAIN.includes(code)) add('ice', 'warning', `${describe(code)}: black ice on roads`)
  const rain = c.rainMm ?? -Infinity
  if (rain >= HEAVY_RAIN_MM) {
    add(
      'heavy_rain',
      'warning',
      `${n(rain)} mm of rain: flooded roads likely, avoid unsealed roads and causeways`,
    )
  } else if (rain >= RAIN_CAUTION_MM) {
    add('rain', 'caution', `${n(rain)} mm of rain: unsealed roads may be slippery or boggy`)
  }
  const max = c.maxC ?? -Infinity
  if (max >= HEAT_WARNING_C) {
    add(
      'heat',
      'warning',
      `up to ${n(max)} °C: engines and tyres overheat, travel early and carry water`,
    )
  } else if (max >= HEAT_CAUTION_C) {
    add('heat', 'caution', `up to ${n(max)} °C: watch engine temperature when towing uphill`)
  }
  const min = c.minC ?? Infinity
  if (min <= FROST_C) {
    add(
      'frost',
      'caution',
      `down to ${n(min)} °C: icy roads in the morning, protect water tanks and lines`,
    )
  }
  return out
}

const DESCRIPTIONS: Record<number, string> = {
  0: 'clear sky',
  1: 'mainly clear',
  2: 'partly cloudy',
  3: 'overcast',
  45: 'fog',
  48: 'freezing fog',
  51: 'light drizzle',
  53: 'drizzle',
  55: 'heavy drizzle',
  56: 'light freezing drizzle',
  57: 'freezing drizzle',
  61: 'light rain',
  63: 'rain',
  65: 'heavy rain',
  66: 'light freezing rain',
  67: 'heavy freezing rain',
  71: 'light snow',
  73: 'snow',
  75: 'heavy snow',
  77: 'snow grains',
  80: 'light rain showers',
  81: 'rain showers',
  82: 'violent rain showers',
  85: 'light snow showers',
  86: 'heavy snow showers',
  95: 'thunderstorm',
  96: 'thunderstorm with light hail',
  99: 'thunderstorm with heavy hail',
}

function describe(code: number | null): string {
  return (code === null ? undefined : DESCRIPTIONS[code]) ?? 'unknown'
}
