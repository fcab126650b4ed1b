// Environment, read and validated once. Every variable is documented in the README.
import { z } from 'zod'

const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
const optionalUrl = z.string().url().optional()
const optionalSecret = z.string().min(1).optional()

const schema = z.object({
  SUPABASE_URL: z.string().url(),
  // Pooled (transaction mode) URL for hosted deployments with many isolates;
  // secrets starting SUPABASE_ are reserved on Edge Functions, hence PAM_DB_URL.
  PAM_DB_URL: z.string().url().optional(),
  SUPABASE_DB_URL: z.string().url().optional(),
  PAM_DB_POOL_MAX: z.coerce.number().int().min(1).max(50).default(4),
  PAM_CORS_ORIGINS: csv.default(['*']),
  PAM_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
  PAM_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  PAM_VERSION: z.string().default('0.1.0'),
  OPENAI_API_KEY: optionalSecret,
  OPENAI_BASE_URL: optionalUrl,
  MAPBOX_TOKEN: optionalSecret,
  MAPBOX_BASE_URL: optionalUrl,
  WEATHER_API_KEY: optionalSecret,
  WEATHER_BASE_URL: optionalUrl,
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: optionalSecret,
  PAM_CACHE_ENABLED: z.enum(['true', 'false']).default('true'),
  PAM_CACHE_PREFIX: z.string().max(64).default('pam:'),
  PAM_CACHE_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(250),
  PAM_CACHE_MAX_ENTRIES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  PAM_RATE_LIMIT_AUTH: z.coerce.number().int().min(1).default(5),
  PAM_RATE_LIMIT_CHAT: z.coerce.number().int().min(1).default(30),
  PAM_RATE_LIMIT_STANDARD: z.coerce.number().int().min(1).default(100),
  PAM_RATE_LIMIT_BULK: z.coerce.number().int().min(1).default(10),
  PAM_RATE_LIMIT_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(60),
})

export type RawConfig = z.infer<typeof schema>

export interface Config {
  supabaseUrl: string
  databaseUrl: string
  dbPoolMax: number
  corsOrigins: string[]
  maxBodyBytes: number
  logLevel: RawConfig['PAM_LOG_LEVEL']
  version: string
  openai: { apiKey?: string; baseUrl: string }
  mapbox: { token?: string; baseUrl: string }
  weather: { apiKey?: string; baseUrl: string }
  upstash: { url?: string; token?: string }
  cache: { enabled: boolean; prefix: string; timeoutMs: number; maxEntries: number }
  /** Requests per window for each rate-limit tier. */
  rateLimits: { windowSeconds: number; auth: number; chat: number; standard: number; bulk: number }
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses an environment; throws a ConfigError naming every bad or missing variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const result = schema.safeParse(cleaned)
  const problems = result.success
    ? []
    : result.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`)
  if (!cleaned.PAM_DB_URL && !cleaned.SUPABASE_DB_URL) problems.push('SUPABASE_DB_URL: required (or PAM_DB_URL)')
  if (!result.success || problems.length) {
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const e = result.data
  return {
    supabaseUrl: e.SUPABASE_URL,
    databaseUrl: (e.PAM_DB_URL ?? e.SUPABASE_DB_URL)!,
    dbPoolMax: e.PAM_DB_POOL_MAX,
    corsOrigins: e.PAM_CORS_ORIGINS,
    maxBodyBytes: e.PAM_MAX_BODY_BYTES,
    logLevel: e.PAM_LOG_LEVEL,
    version: e.PAM_VERSION,
    openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL ?? 'https://api.openai.com/v1' },
    mapbox: { token: e.MAPBOX_TOKEN, baseUrl: e.MAPBOX_BASE_URL ?? 'https://api.mapbox.com' },
    weather: { apiKey: e.WEATHER_API_KEY, baseUrl: e.WEATHER_BASE_URL ?? 'https://api.openweathermap.org' },
    upstash: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN },
    cache: {
      enabled: e.PAM_CACHE_ENABLED === 'true',
      prefix: e.PAM_CACHE_PREFIX,       timeoutMs: e.PAM_CACHE_TIMEOUT_MS,
      maxEntries: e.PAM_CACHE_MAX_ENTRIES,
    },
    rateLimits: {
      windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S,
      auth: e.PAM_RATE_LIMIT_AUTH,
      chat: e.PAM_RATE_LIMIT_CHAT,
      standard: e.PAM_RATE_LIMIT_STANDARD,
      bulk: e.PAM_RATE_LIMIT_BULK,
    },
  }
}

let cached: Config | undefined

/** The process's configuration, from Deno.env, parsed on first use. */
export function getConfig(): Config {
  return cached ??= parseConfig(Deno.env.toObject())
}
