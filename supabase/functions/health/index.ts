// health: liveness (no auth) and readiness (database, cache, external APIs).
// Anyone may ask whether the backend is ready and what is down; how and why
// (latencies, error messages naming hosts and ports, memory) only a caller
// holding the project's secret key is told.
import { createApp, route, z } from '../_shared/http.ts'
import { holdsSecretKey } from '../_shared/auth.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import type { PostgresApi } from '../_shared/db.ts'
import type { Cache } from '../_shared/cache.ts'
import { isoNow } from '../_shared/clock.ts'

const Check = z.object({
  status: z.enum(['up', 'down', 'not_configured']),
  backend: z.string().optional(),
  latency_ms: z.number().optional(),
  error: z.string().optional(),
}).openapi('HealthCheck')

const Ready = z.object({
  status: z.enum(['ready', 'degraded', 'unavailable']),
  version: z.string(),
  timestamp: z.string(),
  failing: z.array(z.string()),
  checks: z.record(z.string(), Check).openapi({
    description: 'status of each check; backend, latency_ms and error only with the secret key',
  }),
  memory: z.object({ rss_bytes: z.number(), heap_used_bytes: z.number(), heap_total_bytes: z.number() })
    .optional().openapi({ description: 'only with the secret key' }),
}).openapi('Readiness')

type CheckResult = z.infer<typeof Check>

const liveness = route({
  method: 'get',
  path: '/',
  auth: 'none',
  rateLimit: 'none',
  requestLog: 'debug', // probed every few seconds by monitors
  tags: ['health'],
  summary: 'Liveness: the function is up',
  responses: {
    200: {
      description: 'Alive',
      content: {
        'application/json': {
          schema: z.object({ status: z.literal('ok'), version: z.string(), timestamp: z.string() }),
        },
      },
    },
  },
})

const readiness = route({
  method: 'get',
  path: '/ready',
  auth: 'none',
  tags: ['health'],
  summary: 'Readiness: database, cache and external APIs',
  description: '200 when the database answers (cache or external APIs down make it "degraded"); 503 when not. ' +
    'With the secret key in the apikey header, also latencies, error messages and memory.',
  responses: {
    200: { description: 'Ready or degraded', content: { 'application/json': { schema: Ready } } },
    503: { description: 'The database is unreachable', content: { 'application/json': { schema: Ready } } },
  },
})

const PROBE_TIMEOUT_MS = 2000
const EXTERNAL_TTL_MS = 30_000

async function timed(fn: () => Promise<void>): Promise<CheckResult> {
  const started = performance.now()
  try {
    await fn()
    return { status: 'up', latency_ms: Math.round((performance.now() - started) * 10) / 10 }
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) }
  }
}

const checkDatabase = (pg: PostgresApi) =>
  timed(async () => {
    const rows = await withTimeout(pg.query`select 1 as ok`, PROBE_TIMEOUT_MS, 'database')
    if (rows[0]?.ok !== 1) throw new Error('unexpected answer')
  })

/** An HTTP probe: up when the service answers below 500 and accepts our credentials. */
const probe = (url: string, init: RequestInit = {}) =>
  timed(async () => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
    await res.body?.cancel()
    if (res.status === 401 || res.status === 403) throw new Error(`credentials rejected (${res.status})`)
    if (res.status >= 500) throw new Error(`answered ${res.status}`)
  })

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

const checkCache = async (cache: Cache): Promise<CheckResult> => ({
  ...await timed(() => cache.ping()),
  backend: cache.backend,
})

function externalChecks(config: Config): Record<string, () => Promise<CheckResult>> {
  const { openai, mapbox, weather } = config
  return {
    openai: () =>
      openai.apiKey
        ? probe(`${openai.baseUrl}/models`, { headers: { authorization: `Bearer ${openai.apiKey}` } })
        : Promise.resolve({ status: 'not_configured' }),
    mapbox: () =>
      mapbox.token
        ? probe(`${mapbox.baseUrl}/tokens/v2?access_token=${encodeURIComponent(mapbox.token)}`)
        : Promise.resolve({ status: 'not_configured' }),
    // Open-Meteo needs no key (WEATHER_API_KEY is its commercial plan's): always probed.
    weather: () =>
      probe(
        `${weather.baseUrl.replace(/\/+$/, '')}/v1/forecast?latitude=0&longitude=0&current=temperature_2m` +
          (weather.apiKey ? `&apikey=${encodeURIComponent(weather.apiKey)}` : ''),
      ),
  }
}

export function createHealthApp(config: Config = getConfig()): App {
  const app = createApp('health', config, 'Liveness and readiness of the PAM backend.')
  // External services are paid and rate limited: probe them at most every 30 s.
  // The database and the cache are ours: checked on every call.
  let external: { at: number; results: Promise<Record<string, CheckResult>> } | undefined
  const checks = externalChecks(config)
  const externalResults = () => {
    if (!external || Date.now() - external.at > EXTERNAL_TTL_MS) {
      const results = Promise.all(Object.entries(checks).map(async ([k, f]) => [k, await f()] as const))
        .then(Object.fromEntries)
      external = { at: Date.now(), results }
    }
    return external.results
  }

  app.openapi(liveness, (c) =>
    c.json({ status: 'ok' as const, version: config.version, timestamp: isoNow() }, 200))

  app.openapi(readiness, async (c) => {
    const [database, cache, others] = await Promise.all([
      checkDatabase(c.var.postgres),
      checkCache(c.var.cache),
      externalResults(),
    ])
    const all: Record<string, CheckResult> = { database, cache, ...others }
    const failing = Object.entries(all).filter(([, r]) => r.status === 'down').map(([k]) => k)
    const details = holdsSecretKey(c.req.header('apikey'))
    const checks = details ? all : Object.fromEntries(Object.entries(all).map(([k, r]) => [k, { status: r.status }]))
    const mem = details ? Deno.memoryUsage() : undefined
    const body = {
      status: database.status !== 'up' ? 'unavailable' as const : failing.length ? 'degraded' as const : 'ready' as const,
      version: config.version,
      timestamp: isoNow(),
      failing,
      checks,
      ...(mem && { memory: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed, heap_total_bytes: mem.heapTotal } }),
    }
    return database.status === 'up' ? c.json(body, 200) : c.json(body, 503)
  })
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createHealthApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
