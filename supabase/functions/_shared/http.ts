// Every function is an OpenAPIHono app built here: routes are declared once
// with zod schemas (validation and the OpenAPI document come from the same
// declaration), and every app gets the same request frame and error envelope.
//
// The frame is one middleware, not a stack of them: request id, CORS, body
// limit, security and cache headers, the error envelope and the log line.
// Per-request work is only what depends on the request; the database pool,
// the cache and the limiter are made once per isolate.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { RouteConfig } from '@hono/zod-openapi'
import { HTTPException } from 'hono/http-exception'
import { getPath } from 'hono/utils/url'
import { methodNotAllowed } from 'hono/method-not-allowed'
import type { Context, MiddlewareHandler, Next } from 'hono'
import type { Config } from './config.ts'
import { ApiError, errorBody } from './errors.ts'
import { type AuthMode, type AuthVariables, checkApiKey, rememberedClaims, verifyUserToken } from './auth.ts'
import {
  type Claims,
  database,
  type Database,
  postgresClient,
  type PostgresApi,
  type Row,
  sessionConfirmedWithin,
  type TransactionOptions,
  type Tx,
} from './db.ts'
import { type Cache, cacheFor, type CacheStatus } from './cache.ts'
import { limitRequest, type RateLimiter, rateLimiterFor, type RateLimitTier } from './ratelimit.ts'
import { errorFields, log, logs, setLogLevel } from './logger.ts'
import { idempotency } from './idempotency.ts'
import { KeptMatchRouter } from './router.ts'

export { z }

export type AppEnv = {
  /** What Deno.serve passes a handler besides the request (the connection's address). */
  Bindings: Deno.ServeHandlerInfo | undefined
  Variables: AuthVariables & {
    requestId: string
    config: Config
    postgres: PostgresApi
    cache: Cache
    rateLimiter: RateLimiter
    /** A cached read's answer: hit, miss or bypass (sent as x-cache). */
    cacheStatus?: CacheStatus
  }
}
export type AppContext = Context<AppEnv>
export type App = OpenAPIHono<AppEnv>

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: 'validation_failed' }),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).openapi('Error')

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
})

type RouteSpec = Omit<RouteConfig, 'middleware' | 'security'> & {
  auth: AuthMode
  /** Rate-limit tier: per user on 'user' routes, per IP otherwise. Default 'standard'. */
  rateLimit?: RateLimitTier | 'none'
  /** 'debug' for probes (liveness), which would drown the request log; failures still log. */
  requestLog?: 'debug'
  /** A read that calls an outside service (Mapbox, the weather): its rate limit is checked before it
   * runs, as a write's is, so that a burst over the limit never reaches the service. */
  limitFirst?: true
}

/** Body media types each route accepts, for the 415 answer (by method and path). */
const acceptedMediaTypes = new Map<string, string[]>()
/** Routes whose successful requests are logged at debug only (by method and path). */
const quietRoutes = new Set<string>()

/** A route with its auth gate, its rate limit, and the error responses every
 * route can give, documented. Handlers get the RLS-scoped `c.var.postgres`. */
export function route<const R extends RouteSpec>(
  spec: R,
): Omit<R, 'auth' | 'rateLimit' | 'requestLog' | 'limitFirst'> & { getRoutingPath(): string } {
  const { auth, rateLimit = 'standard', requestLog, limitFirst, ...rest } = spec
  if (requestLog === 'debug') quietRoutes.add(`${rest.method.toUpperCase()} ${rest.path}`)
  const middleware: MiddlewareHandler[] = auth === 'none' && rateLimit === 'none'
    ? []
    : [gate(auth, rateLimit, limitFirst === true)]
  // A user's writes take an Idempotency-Key (DELETE is idempotent by itself).
  const keyed = auth === 'user' && ['post', 'put', 'patch'].includes(rest.method)
  if (keyed) middleware.push(idempotency() as MiddlewareHandler)
  const security = auth === 'user' ? [{ bearerAuth: [] }] : auth === 'none' ? [] : [{ apikey: [] }]
  const body = (rest.request as { body?: { content?: Record<string, unknown> } } | undefined)?.body
  if (body?.content) acceptedMediaTypes.set(`${rest.method.toUpperCase()} ${rest.path}`, Object.keys(body.content))
  const request = keyed ? { ...rest.request, headers: IdempotencyHeaders } : rest.request
  parsedSynchronously(request)
  return createRoute({
    ...rest,
    ...(request ? { request } : {}),
    security,
    middleware,
    responses: {
      ...(keyed ? IDEMPOTENCY_RESPONSES : {}),
      ...rest.responses,
      ...(rest.request ? { 400: errorResponse('Invalid request (zod issues in details)') } : {}),
      ...(auth === 'none' ? {} : { 401: errorResponse('Missing or invalid credentials') }),
      ...(rateLimit === 'none' ? {} : { 429: errorResponse('Rate limit exceeded (see Retry-After)') }),
      500: errorResponse('Unexpected error (no internals are exposed)'),
      503: errorResponse('A service the answer needs is unavailable (see Retry-After)'),
    },
  } as never) as never
}

/** zod 4 runs an object's compiled check only in a synchronous parse, and the validators
 * @hono/zod-openapi puts on a route always parse asynchronously (~2 µs more for a list's query).
 * So each schema of a request parses synchronously when it can: a schema with an asynchronous
 * check makes zod throw $ZodAsyncError, and that one is parsed asynchronously as before. */
function parsedSynchronously(request: RouteConfig['request']) {
  const schemas = [request?.query, request?.params, request?.headers, request?.cookies,
    ...Object.values(request?.body?.content ?? {}).map((c) => (c as { schema?: unknown } | undefined)?.schema)]
  for (const schema of schemas) {
    if (!(schema instanceof z.ZodType) || syncParsed.has(schema)) continue
    syncParsed.add(schema)
    const parseAsync = schema.safeParseAsync
    schema.safeParseAsync = (data, params) => {
      try {
        return Promise.resolve(schema.safeParse(data, params))
      } catch (err) {
        if (err instanceof z.core.$ZodAsyncError) return parseAsync(data, params)
        throw err
      }
    }
  }
}
const syncParsed = new WeakSet<z.ZodType>()

/** A route's gate, one middleware: the caller's credentials for `auth` (on 'user' routes sets
 * `claims` and `userId`; a token verified before is found without waiting), then the rate limit. */
function gate(auth: AuthMode, tier: RateLimitTier | 'none', limitFirst: boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (auth === 'user') {
      const header = c.req.header('authorization')
      const claims = rememberedClaims(header) ?? await verifyUserToken(header, c.get('config'))
      c.set('claims', claims)
      c.set('userId', claims.sub)
    } else if (auth !== 'none') {
      checkApiKey(c.req.header('apikey'), auth)
    }
    if (tier === 'none') await next()
    else await limitRequest(c, tier, next, limitFirst)
  }
}

const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().optional().openapi({
    description: 'Makes a retry safe: the first request with a key is done and its success remembered for 24 h; a retry ' +
      'with the same key and request gets that answer again (header Idempotent-Replayed: true) without doing anything. ' +
      'Scoped to you. 1–255 visible ASCII characters; a UUID per logical request is a good key.',
    example: '8e03978e-40d5-43e8-bc93-6894a57f9324',
  }),
})
const IDEMPOTENCY_RESPONSES = {
  409: errorResponse('idempotency_in_progress: a request with this Idempotency-Key is still running (see Retry-After)'),
  422: errorResponse('idempotency_key_reused: this Idempotency-Key was used for another request'),
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

// What supabase-js sends (its cors.ts list) plus our own.
const ALLOW_HEADERS = 'authorization, apikey, content-type, x-client-info, x-request-id, x-region, ' +
  'x-supabase-api-version, traceparent, tracestate, baggage, idempotency-key'
const EXPOSE_HEADERS = 'x-request-id, retry-after, x-cache, x-ratelimit-limit, x-ratelimit-remaining, ' +
  'x-ratelimit-reset, allow'
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS'

export interface AppOptions {
  /** A smaller body limit for this function's routes than PAM_MAX_BODY_BYTES (413 past it). */
  maxBodyBytes?: number
  /** Paths (as /<name>/…) that keep PAM_MAX_BODY_BYTES: uploads such as a CSV import. */
  largeBodyPaths?: string[]
}

/** Creates the app for function `name`, served under `/<name>`. */
export function createApp(name: string, config: Config, description = '', options: AppOptions = {}): App {
  setLogLevel(config.logLevel)
  const app = new OpenAPIHono<AppEnv>({
    router: new KeptMatchRouter(),
    // The local gateway hands requests over untouched: the /functions/v1
    // prefix it would strip (as Supabase's does) is ignored here instead.
    getPath: (req) => {
      const path = getPath(req)
      return path.startsWith('/functions/v1/') ? path.slice(13) : path
    },
    defaultHook: (result) => {
      if (!result.success) {
        throw new ApiError(400, 'validation_failed', 'the request is not valid', result.error.issues)
      }
    },
  }).basePath(`/${name}`) as unknown as App

  const db = database({
    url: config.databaseUrl,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    acquireTimeoutMs: config.dbAcquireTimeoutMs,
    ca: config.dbCaCert,
  })
  const cache = cacheFor(config)
  const rateLimiter = rateLimiterFor(config, cache)
  const mna = methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json(errorBody('method_not_allowed', `${c.req.method} is not allowed here`), 405, {
        Allow: methods.join(', '),
      }),
  })
  const small = Math.min(options.maxBodyBytes ?? config.maxBodyBytes, config.maxBodyBytes)
  const largeBodyPaths = new Set(options.largeBodyPaths ?? [])
  // GET and HEAD bodies are never read: no limit to keep.
  const inner = (c: Context, next: Next) =>
    c.req.method === 'GET' || c.req.method === 'HEAD' ? mna(c, next) : mna(c, async () => void (await limitBody(c, next)))
  app.use('*', frame({ name, config, db, cache, rateLimiter, next: inner }))

  /** Bodies are limited by Content-Length up front (unless sent chunked: then the length is not
   * the body's). Any other body is counted as the handler reads it, so nothing of it is read
   * before the route's gate has let the request through (a caller with no credentials cannot
   * make us hold a body), and a read past the limit fails and the answer is 413. */
  async function limitBody(c: Context, next: Next) {
    const max = largeBodyPaths.has(c.req.path) ? config.maxBodyBytes : small
    const length = c.req.header('content-length')
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (!(Number(length) <= max)) throw tooLarge(max)
      return await next()
    }
    const body = c.req.raw.body
    if (!body) return await next()
    let size = 0
    let over = false
    const counted = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.byteLength
          if (size <= max) return controller.enqueue(chunk)
          over = true
          controller.error(tooLarge(max))
        },
      }),
    )
    c.req.raw = new Request(c.req.raw, { body: counted, duplex: 'half' } as RequestInit)
    await next()
    if (over) throw tooLarge(max) // whatever the read's failure became (invalid JSON, say)
  }

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A Supabase Auth access token (supabase-js sends it for you once signed in).',
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'apikey', {
    type: 'apiKey',
    in: 'header',
    name: 'apikey',
    description: 'The project publishable key (sb_publishable_…).',
  })
  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: { title: `PAM ${name}`, version: config.version, description },
  })

  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404))
  app.onError((err, c) => renderError(err, c as unknown as AppContext, name))
  return app
}

const tooLarge = (max: number) => new ApiError(413, 'payload_too_large', `the body is larger than ${max} bytes`)

interface FrameOptions {
  name: string
  config: Config
  db: Database
  cache: Cache
  rateLimiter: RateLimiter
  next: (c: Context, next: Next) => Promise<unknown>
}

function frame(o: FrameOptions): MiddlewareHandler<AppEnv> {
  const { config } = o
  const anyOrigin = config.corsOrigins.includes('*')
  const allowedOrigin = (origin: string | undefined) =>
    !origin ? undefined : anyOrigin ? '*' : config.corsOrigins.includes(origin) ? origin : undefined
  return async (c, next) => {
    const started = performance.now()
    const given = c.req.header('x-request-id')
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID()
    const origin = c.req.header('origin')
    c.set('requestId', requestId)
    c.set('config', config)
    c.set('cache', o.cache)
    c.set('rateLimiter', o.rateLimiter)
    c.set('claims', null)
    // The request's abort signal is read only by a query that waits long for a connection (db.ts).
    c.set('postgres', new ScopedPostgres(o.db, c))

    if (c.req.method === 'OPTIONS' && origin && c.req.header('access-control-request-method')) {
      const allow = allowedOrigin(origin)
      c.res = new Response(null, {
        status: 204,
        headers: allow
          ? {
            'access-control-allow-origin': allow,
            'access-control-allow-methods': ALLOW_METHODS,
            'access-control-allow-headers': ALLOW_HEADERS,
            'access-control-max-age': '600',
            vary: 'origin',
          }
          : { vary: 'origin' },
      })
    } else {
      try {
        await o.next(c, next)
      } catch (err) {
        c.res = renderError(err, c, o.name)
      }
    }

    // Set on the answer once it exists: headers given to the context before it
    // are copied and checked twice on their way into the answer.
    const h = c.res.headers
    h.set('x-request-id', requestId)
    h.set('x-content-type-options', 'nosniff')
    // User data must not sit in shared or browser caches (a route may say otherwise).
    if (!h.has('cache-control')) h.set('cache-control', 'private, no-store')
    const cacheStatus = c.get('cacheStatus')
    if (cacheStatus) h.set('x-cache', cacheStatus)
    const allow = allowedOrigin(origin)
    if (allow) {
      h.set('access-control-allow-origin', allow)
      h.set('access-control-expose-headers', EXPOSE_HEADERS)
      if (allow !== '*') h.append('vary', 'origin')
    }
    const status = c.res.status
    const route = c.req.routePath // Hono lists every matched handler's path to find it
    const quiet = status < 400 && quietRoutes.has(`${c.req.method} ${route.slice(o.name.length + 1) || '/'}`)
    const level = status >= 500 ? 'error' : quiet ? 'debug' : 'info'
    if (!logs(level)) return
    log(level, 'request', {
      request_id: requestId,
      function: o.name,
      method: c.req.method,
      route,
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      user_id: c.get('userId'),
    })
  }
}

/** `c.var.postgres`: RLS-scoped to the claims the route's gate verified (anon without). One
 * object per request; the client is made when a query runs, and reads the request's abort signal
 * only if the query waits long for a connection (RequestSignal in db.ts: reading it costs). */
class ScopedPostgres implements PostgresApi {
  constructor(private readonly db: Database, private readonly c: Context<AppEnv>) {}

  private client() {
    return postgresClient(this.db, this.c.get('claims') as Claims | null, () => this.c.req.raw.signal)
  }

  query<T = Row>(strings: TemplateStringsArray, ...values: unknown[]) {
    return this.client().query<T>(strings, ...values)
  }

  queryRaw<T = Row>(text: string, params?: unknown[]) {
    return this.client().queryRaw<T>(text, params)
  }

  jsonRows(text: string, params?: unknown[]) {
    return this.client().jsonRows(text, params)
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions) {
    return this.client().transaction(fn, opts)
  }
}

function renderError(err: unknown, c: Context, name: string): Response {
  const vars = c as AppContext
  if (err instanceof ApiError) {
    const headers = err.headers ?? {}
    return c.json(errorBody(err.code, err.message, err.details), err.status, headers)
  }
  if (err instanceof HTTPException) {
    if (err.status === 400) {
      return c.json(errorBody('invalid_body', 'the request body is not valid JSON'), 400)
    }
    if (err.status === 415) {
      const path = c.req.routePath.slice(name.length + 1)
      const types = acceptedMediaTypes.get(`${c.req.method} ${path}`) ?? ['application/json']
      return c.json(
        errorBody('unsupported_media_type', `send the body as ${types.join(' or ')}`, { accepted: types }),
        415,
      )
    }
    return c.json(errorBody(`http_${err.status}`, err.message || 'request failed'), err.status)
  }
  log('error', 'unhandled error', { request_id: vars.var.requestId, ...errorFields(err) })
  return c.json(errorBody('internal_error', 'something went wrong on our side'), 500)
}

/** A cached read of the caller's own data: the cached value when there is
 * one (and `usable` accepts it), else `load()`'s, then cached unless a write of
 * the caller's came after the lookup (Cache.invalidate). An answer from
 * the cache alone still needs the caller's session to be alive: confirmed by
 * the database within the configured window, or checked now. */
export async function readThroughCache<T>(
  c: AppContext,
  key: string,
  ttlSeconds: number,
  load: () => Promise<T>,
  usable: (value: T) => boolean = () => true,
  parse?: (text: string) => T,
): Promise<{ value: T; status: CacheStatus }> {
  // c.get, not c.var: Hono builds a new object of every variable on each c.var.
  const cache = c.get('cache')
  const cached = await cache.get<T>(key, parse, c.get('userId'))
  if (cached.status === 'hit' && usable(cached.value as T)) {
    await ensureLiveSession(c)
    return { value: cached.value as T, status: 'hit' }
  }
  const value = await load()
  if (cached.status !== 'bypass') await cache.set(key, value, ttlSeconds, cached.since)
  return { value, status: cached.status === 'bypass' ? 'bypass' : 'miss' }
}

/** Checks the caller's session with the database unless it was confirmed within the window. */
export async function ensureLiveSession(c: AppContext): Promise<void> {
  const sid = c.get('claims')?.session_id
  if (typeof sid !== 'string' || sessionConfirmedWithin(sid, c.get('config').sessionCheckWindowMs)) return
  await c.get('postgres').queryRaw('select 1') // the transaction's preamble checks the session
}

/** Serves a function's app: `Deno.serve` in the Edge Runtime, or the local gateway. */
export type Handler = (req: Request) => Promise<Response>
