// Every function is an OpenAPIHono app built here: routes are declared once
// with zod schemas (validation and the OpenAPI document come from the same
// declaration), and every app gets the same middleware and error envelope.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { RouteConfig } from '@hono/zod-openapi'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { requestId } from 'hono/request-id'
import type { Context, MiddlewareHandler } from 'hono'
import { AuthError } from '@supabase/server'
import type { Config } from './config.ts'
import { ApiError, errorBody } from './errors.ts'
import { type AuthMode, type AuthVariables, requireAuth } from './auth.ts'
import { type PostgresApi, withPostgresClient } from './db.ts'
import { type Cache, cacheFor } from './cache.ts'
import { enforceRateLimit, type RateLimiter, rateLimiterFor, type RateLimitTier } from './ratelimit.ts'
import { errorFields, log, setLogLevel } from './logger.ts'

export { z }

export type AppEnv = {
  Variables: AuthVariables & {
    requestId: string
    postgres: PostgresApi
    cache: Cache
    rateLimiter: RateLimiter
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
}

/** A route with its auth gate, its rate limit, and the error responses every
 * route can give, documented. Handlers get the RLS-scoped `c.var.postgres`. */
export function route<const R extends RouteSpec>(
  spec: R,
): Omit<R, 'auth' | 'rateLimit'> & { getRoutingPath(): string } {
  const { auth, rateLimit = 'standard', ...rest } = spec
  const middleware: MiddlewareHandler[] = auth === 'none' ? [] : [requireAuth(auth)]
  if (rateLimit !== 'none') middleware.push(enforceRateLimit(rateLimit))
  const security = auth === 'user' ? [{ bearerAuth: [] }] : auth === 'none' ? [] : [{ apikey: [] }]
  return createRoute({
    ...rest,
    security,
    middleware,
    responses: {
      ...rest.responses,
      ...(rest.request ? { 400: errorResponse('Invalid request (zod issues in details)') } : {}),
      ...(auth === 'none' ? {} : { 401: errorResponse('Missing or invalid credentials') }),
      ...(rateLimit === 'none' ? {} : { 429: errorResponse('Rate limit exceeded (see Retry-After)') }),
      500: errorResponse('Unexpected error (no internals are exposed)'),
    },
  } as never) as never
}

/** Creates the app for function `name`, served under `/<name>`. */
export function createApp(name: string, config: Config, description = ''): App {
  setLogLevel(config.logLevel)
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new ApiError(400, 'validation_failed', 'the request is not valid', result.error.issues)
      }
    },
  }).basePath(`/${name}`) as unknown as App

  app.use('*', requestId({ headerName: 'x-request-id' }))
  app.use('*', requestLog(name))
  app.use(
    '*',
    cors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      allowHeaders: ['authorization', 'apikey', 'content-type', 'x-client-info', 'x-request-id'],
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposeHeaders: [
        'x-request-id',
        'retry-after',
        'x-cache',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      maxAge: 600,
    }),
  )
  app.use('*', methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json(errorBody('method_not_allowed', `${c.req.method} is not allowed here`), 405, {
        Allow: methods.join(', '),
      }),
  }))
  app.use(
    '*',
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `the body is larger than ${config.maxBodyBytes} bytes`)
      },
    }),
  )
  app.use('*', withPostgresClient(config))
  const cache = cacheFor(config)
  const rateLimiter = rateLimiterFor(config, cache)
  app.use('*', async (c, next) => {
    c.set('cache', cache)
    c.set('rateLimiter', rateLimiter)
    await next()
  })

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
  app.onError((err, c) => renderError(err, c as unknown as AppContext))
  return app
}

function renderError(err: unknown, c: AppContext): Response {
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v)
    return c.json(errorBody(err.code, err.message, err.details), err.status)
  }
  if (err instanceof HTTPException) {
    const cause = err.cause
    if (cause instanceof AuthError) {
      if (cause.status >= 500) {
        log('error', 'auth configuration error', { request_id: c.var.requestId, ...errorFields(cause) })
        return c.json(errorBody('auth_unavailable', 'authentication is not available'), 503)
      }
      return c.json(errorBody('unauthorized', cause.message, { reason: cause.code }), 401, {
        'WWW-Authenticate': 'Bearer',
      })
    }
    if (err.status === 400) {
      return c.json(errorBody('invalid_body', err.message || 'the request body could not be read'), 400)
    }
    return c.json(errorBody(`http_${err.status}`, err.message || 'request failed'), err.status)
  }
  log('error', 'unhandled error', { request_id: c.var.requestId, ...errorFields(err) })
  return c.json(errorBody('internal_error', 'something went wrong on our side'), 500)
}

function requestLog(fn: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now()
    await next()
    const status = c.res.status
    log(status >= 500 ? 'error' : 'info', 'request', {
      request_id: c.var.requestId,
      function: fn,
      method: c.req.method,
      route: c.req.routePath,
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      user_id: c.var.userId,
    })
  }
}

/** Serves a function's app: `Deno.serve` in the Edge Runtime, or the local gateway. */
export type Handler = (req: Request) => Promise<Response>
