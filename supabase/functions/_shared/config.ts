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
  PAM_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  PAM_DB_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
  // The database server's CA (PEM): needed for TLS on the hosted Edge Runtime (Deno 2.1).
  PAM_DB_CA_CERT: z.string().includes('-----BEGIN CERTIFICATE-----').optional(),
  PAM_JWT_ISSUER: z.string().url().optional(),
  PAM_SESSION_CHECK_WINDOW_S: z.coerce.number().int().min(0).max(3600).default(60),
  PAM_CLIENT_IP_HEADER: z.string().regex(/^[a-z0-9-]{1,64}$/i).default('cf-connecting-ip'),
  // Set by the local stack (one process): allows the in-process cache.
  PAM_LOCAL_STACK: z.enum(['true', 'false']).default('false'),
  PAM_CORS_ORIGINS: csv.default(['*']),
  PAM_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
  PAM_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  PAM_VERSION: z.string().default('0.1.0'),
  OPENAI_API_KEY: optionalSecret,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_MODEL: z.string().min(1).max(100).default('gpt-4o-mini'),
  PAM_CHAT_MAX_TOOL_ROUNDS: z.coerce.number().int().min(0).max(10).default(4),
  PAM_CHAT_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(15_000),
  PAM_CHAT_DAILY_TOKENS: z.coerce.number().int().min(0).default(50_000),
  // The vision model that reads receipts (default: OPENAI_MODEL).
  PAM_RECEIPT_MODEL: z.string().min(1).max(100).optional(),
  MAPBOX_TOKEN: optionalSecret,
  MAPBOX_BASE_URL: optionalUrl,
  WEATHER_API_KEY: optionalSecret,
  WEATHER_BASE_URL: optionalUrl,
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: optionalSecret,
  PAM_CACHE_ENABLED: z.enum(['true', 'false']).default('true'),
  PAM_CACHE_PREFIX: z.string().max(64).regex(/^[^#]*$/, 'no #: it marks a field of a hash in cache keys').default('pam:'),
  PAM_CACHE_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(250),
  PAM_CACHE_MAX_ENTRIES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  PAM_RATE_LIMIT_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(60),
  PAM_RATE_LIMIT_AUTH: z.coerce.number().int().min(1).default(30),
  PAM_RATE_LIMIT_AUTH_ACCOUNT: z.coerce.number().int().min(1).default(10),
  PAM_RATE_LIMIT_REFRESH: z.coerce.number().int().min(1).default(60),
  PAM_RATE_LIMIT_LOGIN_FAILURES: z.coerce.number().int().min(1).default(5),
  PAM_RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: z.coerce.number().int().min(1).default(20),
  PAM_RATE_LIMIT_LOGIN_FAILURES_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(900),
  PAM_RATE_LIMIT_CHAT: z.coerce.number().int().min(1).default(30),
  PAM_RATE_LIMIT_STANDARD: z.coerce.number().int().min(1).default(100),
  PAM_RATE_LIMIT_BULK: z.coerce.number().int().min(1).default(10),
  PAM_RATE_LIMIT_SOCIAL: z.coerce.number().int().min(1).default(30),
  // Background jobs: QStash signs its calls with these keys (the jobs function
  // refuses to serve without them) and takes fan-out messages with the token.
  QSTASH_CURRENT_SIGNING_KEY: optionalSecret,
  QSTASH_NEXT_SIGNING_KEY: optionalSecret,
  QSTASH_URL: optionalUrl,
  QSTASH_TOKEN: optionalSecret,
  PAM_FUNCTIONS_URL: optionalUrl,
  PAM_JOBS_BATCH_USERS: z.coerce.number().int().min(1).max(100_000).default(1000),
  // Email (_shared/mail.ts): one transport, chosen here; the jobs function sends, never a request.
  PAM_EMAIL_TRANSPORT: z.enum(['smtp', 'http', 'none']).default('none'),
  PAM_EMAIL_FROM: z.string().max(320).regex(/^[^\r\n]*<?[^\s<>@]+@[^\s<>@]+>?$/, 'an address such as PAM <no-reply@example.com>')
    .optional(),
  PAM_EMAIL_REPLY_TO: z.email().optional(),
  PAM_EMAIL_API_URL: optionalUrl,
  PAM_EMAIL_API_KEY: optionalSecret,
  PAM_SMTP_HOST: z.string().max(253).regex(/^[A-Za-z0-9.:-]+$/, 'a host name or address').optional(),
  PAM_SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(465),
  PAM_SMTP_TLS: z.enum(['implicit', 'starttls', 'none']).default('implicit'),
  PAM_SMTP_USER: optionalSecret,
  PAM_SMTP_PASS: optionalSecret,
  PAM_SMTP_CA_CERT: z.string().includes('-----BEGIN CERTIFICATE-----').optional(),
  PAM_EMAIL_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  PAM_EMAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
  PAM_EMAIL_RETRY_BASE_S: z.coerce.number().int().min(1).max(3600).default(60),
  PAM_EMAIL_BATCH: z.coerce.number().int().min(1).max(1000).default(50),
  PAM_EMAIL_DIGEST_HOUR: z.coerce.number().int().min(0).max(23).default(18),
  PAM_EMAIL_SIGNING_SECRET: z.string().min(32, 'at least 32 characters (e.g. openssl rand -base64 32)').optional(),
  PAM_EMAIL_UNSUBSCRIBE_URL: optionalUrl,
})

export type RawConfig = z.infer<typeof schema>

/** Rate-limit tiers. auth: sign-up and login per IP; auth_account: the same per account;
 * refresh: session refreshes per IP; login_failures: failed logins per account and IP;
 * login_failures_account: failed logins per account from anywhere; social: what others see
 * (posts, comments, friend requests, invitations, reports); chat, standard, bulk: the other
 * routes, per user (per IP without one). */
export type RateLimitTier =
  | 'auth'
  | 'auth_account'
  | 'refresh'
  | 'login_failures'
  | 'login_failures_account'
  | 'chat'
  | 'standard'
  | 'bulk'
  | 'social'

export interface Config {
  supabaseUrl: string
  databaseUrl: string
  dbPoolMax: number
  dbStatementTimeoutMs: number
  dbAcquireTimeoutMs: number
  /** PEM of the CA that signed the database server's certificate. */
  dbCaCert?: string
  /** Expected `iss` of user tokens: the project's Auth URL. */
  jwtIssuer: string
  /** How long a session confirmed alive by the database is trusted for answers that need no database. */
  sessionCheckWindowMs: number
  /** The header the platform's edge sets to the client's address (clients cannot set it). */
  clientIpHeader: string
  localStack: boolean
  corsOrigins: string[]
  maxBodyBytes: number
  logLevel: RawConfig['PAM_LOG_LEVEL']
  version: string
  /** The model behind PAM: an OpenAI-compatible chat completions API (none without a key: PAM runs offline). */
  openai: {
    apiKey?: string
    baseUrl: string
    model: string
    /** Rounds of tool calls a message may take before the model must answer. */
    maxToolRounds: number
    /** One model call (reading its answer included); a message's model calls together get twice this. */
    timeoutMs: number
    /** Tokens a user may spend per local day; past it PAM answers offline. */
    dailyTokens: number
  }
  /** The vision model receipts are read with (the same OpenAI-compatible API and key as chat). */
  receiptModel: string
  mapbox: { token?: string; baseUrl: string }
  weather: { apiKey?: string; baseUrl: string }
  upstash: { url?: string; token?: string }
  cache: { enabled: boolean; prefix: string; timeoutMs: number; maxEntries: number }
  /** Requests per window for each rate-limit tier. */
  rateLimits: Record<RateLimitTier, { limit: number; windowSeconds: number }>
  /** The scheduled jobs: QStash's signing keys and API, where the functions are served, batch size. */
  jobs: {
    currentSigningKey?: string
    nextSigningKey?: string
    qstashUrl: string
    qstashToken?: string
    /** The public URL of the functions (a job's destination is `<functionsUrl>/jobs/<job>`). */
    functionsUrl: string
    batchUsers: number
  }
  email: EmailConfig
}

/** How email leaves (see _shared/mail.ts); `transport: 'none'` sends nothing. */
export interface EmailConfig {
  transport: 'smtp' | 'http' | 'none'
  from: string
  replyTo?: string
  /** The HTTP email API (Resend's `POST /emails`, bearer key). */
  api: { url: string; key?: string }
  smtp: { host?: string; port: number; tls: 'implicit' | 'starttls' | 'none'; user?: string; pass?: string; ca?: string }
  /** One attempt to hand a message over, connection included. */
  timeoutMs: number
  maxAttempts: number
  /** The first retry waits this long; each next one twice as long (at most 6 hours). */
  retryBaseSeconds: number
  /** Messages claimed per round of the delivery job. */
  batch: number
  /** The local hour after which a traveller's daily digest goes out. */
  digestHour: number
  /** HMAC-SHA256 key of the unsubscribe tokens. */
  signingSecret?: string
  /** The page an email's unsubscribe link opens (default: the notifications function's own). */
  unsubscribeUrl?: string
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
  if (result.success) problems.push(...deploymentProblems(result.data))
  if (!result.success || problems.length) {
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const e = result.data
  return {
    supabaseUrl: e.SUPABASE_URL,
    databaseUrl: (e.PAM_DB_URL ?? e.SUPABASE_DB_URL)!,
    dbPoolMax: e.PAM_DB_POOL_MAX,
    dbStatementTimeoutMs: e.PAM_DB_STATEMENT_TIMEOUT_MS,
    dbAcquireTimeoutMs: e.PAM_DB_ACQUIRE_TIMEOUT_MS,
    dbCaCert: e.PAM_DB_CA_CERT,
    jwtIssuer: e.PAM_JWT_ISSUER ?? `${e.SUPABASE_URL.replace(/\/+$/, '')}/auth/v1`,
    sessionCheckWindowMs: e.PAM_SESSION_CHECK_WINDOW_S * 1000,
    clientIpHeader: e.PAM_CLIENT_IP_HEADER.toLowerCase(),
    localStack: e.PAM_LOCAL_STACK === 'true',
    corsOrigins: e.PAM_CORS_ORIGINS,
    maxBodyBytes: e.PAM_MAX_BODY_BYTES,
    logLevel: e.PAM_LOG_LEVEL,
    version: e.PAM_VERSION,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      model: e.OPENAI_MODEL,
      maxToolRounds: e.PAM_CHAT_MAX_TOOL_ROUNDS,
      timeoutMs: e.PAM_CHAT_TIMEOUT_MS,
      dailyTokens: e.PAM_CHAT_DAILY_TOKENS,
    },
    receiptModel: e.PAM_RECEIPT_MODEL ?? e.OPENAI_MODEL,
    mapbox: { token: e.MAPBOX_TOKEN, baseUrl: e.MAPBOX_BASE_URL ?? 'https://api.mapbox.com' },
    weather: { apiKey: e.WEATHER_API_KEY, baseUrl: e.WEATHER_BASE_URL ?? 'https://api.open-meteo.com' },
    upstash: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN },
    cache: {
      enabled: e.PAM_CACHE_ENABLED === 'true',
      prefix: e.PAM_CACHE_PREFIX,
      timeoutMs: e.PAM_CACHE_TIMEOUT_MS,
      maxEntries: e.PAM_CACHE_MAX_ENTRIES,
    },
    rateLimits: {
      auth: { limit: e.PAM_RATE_LIMIT_AUTH, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
      auth_account: { limit: e.PAM_RATE_LIMIT_AUTH_ACCOUNT, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
      refresh: { limit: e.PAM_RATE_LIMIT_REFRESH, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
      login_failures: {
        limit: e.PAM_RATE_LIMIT_LOGIN_FAILURES,
        windowSeconds: e.PAM_RATE_LIMIT_LOGIN_FAILURES_WINDOW_S,
      },
      login_failures_account: {
        limit: e.PAM_RATE_LIMIT_LOGIN_FAILURES_ACCOUNT,
        windowSeconds: e.PAM_RATE_LIMIT_LOGIN_FAILURES_WINDOW_S,
      },
      chat: { limit: e.PAM_RATE_LIMIT_CHAT, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
      standard: { limit: e.PAM_RATE_LIMIT_STANDARD, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
      bulk: { limit: e.PAM_RATE_LIMIT_BULK, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
      social: { limit: e.PAM_RATE_LIMIT_SOCIAL, windowSeconds: e.PAM_RATE_LIMIT_WINDOW_S },
    },
    jobs: {
      currentSigningKey: e.QSTASH_CURRENT_SIGNING_KEY,
      nextSigningKey: e.QSTASH_NEXT_SIGNING_KEY,
      qstashUrl: e.QSTASH_URL ?? 'https://qstash.upstash.io',
      qstashToken: e.QSTASH_TOKEN,
      functionsUrl: (e.PAM_FUNCTIONS_URL ?? `${e.SUPABASE_URL.replace(/\/+$/, '')}/functions/v1`).replace(/\/+$/, ''),
      batchUsers: e.PAM_JOBS_BATCH_USERS,
    },
    email: {
      transport: e.PAM_EMAIL_TRANSPORT,
      from: e.PAM_EMAIL_FROM ?? 'PAM <no-reply@pam.local>',
      replyTo: e.PAM_EMAIL_REPLY_TO,
      api: { url: (e.PAM_EMAIL_API_URL ?? 'https://api.resend.com').replace(/\/+$/, ''), key: e.PAM_EMAIL_API_KEY },
      smtp: {
        host: e.PAM_SMTP_HOST,
        port: e.PAM_SMTP_PORT,
        tls: e.PAM_SMTP_TLS,
        user: e.PAM_SMTP_USER,
        pass: e.PAM_SMTP_PASS,
        ca: e.PAM_SMTP_CA_CERT,
      },
      timeoutMs: e.PAM_EMAIL_TIMEOUT_MS,
      maxAttempts: e.PAM_EMAIL_MAX_ATTEMPTS,
      retryBaseSeconds: e.PAM_EMAIL_RETRY_BASE_S,
      batch: e.PAM_EMAIL_BATCH,
      digestHour: e.PAM_EMAIL_DIGEST_HOUR,
      signingSecret: e.PAM_EMAIL_SIGNING_SECRET,
      unsubscribeUrl: e.PAM_EMAIL_UNSUBSCRIBE_URL,
    },
  }
}

/** Combinations that only work in the local stack's single process, and email settings that cannot send. */
function deploymentProblems(e: RawConfig): string[] {
  return [...emailProblems(e), ...cacheProblems(e)]
}

function cacheProblems(e: RawConfig): string[] {
  if (e.PAM_LOCAL_STACK === 'true') return []
  const upstash = Boolean(e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN)
  if (e.PAM_CACHE_ENABLED === 'true' && !upstash) {
    // Each isolate would cache on its own: a write drops the cached copy only
    // in the isolate that served it, and the others answer stale data.
    return [
      'UPSTASH_REDIS_REST_URL: outside the local stack the cache must be shared across isolates: ' +
      'set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or PAM_CACHE_ENABLED=false',
    ]
  }
  return []
}

function emailProblems(e: RawConfig): string[] {
  const problems: string[] = []
  if (e.PAM_EMAIL_TRANSPORT === 'none') return problems
  if (!e.PAM_EMAIL_FROM) problems.push('PAM_EMAIL_FROM: required to send email')
  if (!e.PAM_EMAIL_SIGNING_SECRET) problems.push('PAM_EMAIL_SIGNING_SECRET: required to send email (unsubscribe links)')
  if (e.PAM_EMAIL_TRANSPORT === 'http' && !e.PAM_EMAIL_API_KEY) problems.push('PAM_EMAIL_API_KEY: required by PAM_EMAIL_TRANSPORT=http')
  if (e.PAM_EMAIL_TRANSPORT === 'smtp') {
    if (!e.PAM_SMTP_HOST) problems.push('PAM_SMTP_HOST: required by PAM_EMAIL_TRANSPORT=smtp')
    if (Boolean(e.PAM_SMTP_USER) !== Boolean(e.PAM_SMTP_PASS)) problems.push('PAM_SMTP_USER, PAM_SMTP_PASS: both or neither')
    // A password in the clear crosses no network but the machine's own.
    const loopback = /^(localhost|127(\.\d{1,3}){3}|::1)$/i.test(e.PAM_SMTP_HOST ?? '')
    if (e.PAM_SMTP_TLS === 'none' && e.PAM_SMTP_USER && !loopback) {
      problems.push('PAM_SMTP_TLS: none would send PAM_SMTP_PASS unencrypted; use implicit (port 465) or starttls')
    }
  }
  return problems
}

let cached: Config | undefined

/** The process's configuration, from Deno.env, parsed on first use. */
export function getConfig(): Config {
  return cached ??= parseConfig(Deno.env.toObject())
}
