// The one way to call an external API: a GET answered with JSON, a timeout per
// attempt, and retries with backoff for what may pass by itself (network errors,
// timeouts, 429, 5xx), all within one time budget. What keeps failing becomes a
// 503 upstream_unavailable with a Retry-After. Secrets never reach the logs.
import type { z } from 'zod'
import { ApiError, badRequest } from '../errors.ts'
import { log } from '../logger.ts'

export interface UpstreamPolicy {
  /** One attempt, reading the body included. */
  timeoutMs: number
  /** Attempts after the first. */
  retries: number
  /** Every attempt and wait of one call together. */
  budgetMs: number
  /** Wait before the first retry; doubled for each further one, with jitter. */
  backoffMs: number
}

/** Production: 4 s per attempt, 2 retries, the whole call under 9 s. */
export const UPSTREAM_DEFAULTS: UpstreamPolicy = {
  timeoutMs: 4000,
  retries: 2,
  budgetMs: 9000,
  backoffMs: 250,
}

/** A 429 asking for a longer wait than this is not waited for: the call fails at once, passing it on. */
const MAX_RETRY_AFTER_MS = 2000
const DEFAULT_RETRY_AFTER_S = 5

export interface GetJsonOptions extends Pick<UpstreamPolicy, 'timeoutMs' | 'retries'> {
  /** Names the service in errors and logs, e.g. 'mapbox'. */
  service: string
  budgetMs?: number
  backoffMs?: number
  /** The caller giving up (e.g. the client went away): rejects with its reason, no retry. */
  signal?: AbortSignal
  /** For a final answer (2xx, or 4xx but 429): the error to throw when it means this request
   * cannot be served (a bad request, no route). Other 4xx become upstream_unavailable. */
  refuse?: (status: number, body: unknown) => ApiError | undefined
}

type Attempt =
  | { ok: true; status: number; body: unknown; headers: Headers }
  | { ok: false; error: string }

/** The parsed JSON body of a 2xx answer that `refuse` did not turn into an error. */
export async function getJson(url: string, opts: GetJsonOptions): Promise<unknown> {
  const {
    service,
    retries,
    budgetMs = UPSTREAM_DEFAULTS.budgetMs,
    backoffMs = UPSTREAM_DEFAULTS.backoffMs,
  } = opts
  const deadline = Date.now() + budgetMs
  for (let attempt = 1;; attempt++) {
    const result = await attemptOnce(
      url,
      Math.max(1, Math.min(opts.timeoutMs, deadline - Date.now())),
      opts.signal,
    )
    if (result.ok && !retryable(result)) return settle(result, url, opts)

    const hintMs = result.ok && result.status === 429 ? retryAfterMs(result.headers) : undefined
    const waitMs = Math.max(hintMs ?? 0, backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2))
    log('warn', 'upstream call failed', {
      service,
      attempt,
      url: redact(url),
      ...(result.ok ? { status: result.status } : { error: redact(result.error) }),
    })
    if (
      attempt > retries || (hintMs ?? 0) > MAX_RETRY_AFTER_MS || Date.now() + waitMs >= deadline
    ) {
      throw upstreamUnavailable(service, {
        retryAfterS: hintMs === undefined ? undefined : Math.ceil(hintMs / 1000),
      })
    }
    await sleep(waitMs, opts.signal)
  }
}

/** The error for a service that is down, slow, rate limiting, misconfigured or not configured. */
export function upstreamUnavailable(
  service: string,
  { why, retryAfterS = DEFAULT_RETRY_AFTER_S }: { why?: string; retryAfterS?: number } = {},
): ApiError {
  const message = why
    ? `${service} is unavailable: ${why}`
    : `${service} is unavailable, try again shortly`
  return new ApiError(503, 'upstream_unavailable', message, { service }, {
    'Retry-After': String(Math.max(1, retryAfterS)),
  })
}

/** A successful answer's body, checked: one of an unexpected shape is the service misbehaving. */
export function parsed<T>(service: string, schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  log('error', 'upstream answer not understood', {
    service,
    issues: result.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`),
  })
  throw upstreamUnavailable(service, { why: 'its answer was not understood' })
}

async function attemptOnce(url: string, timeoutMs: number, signal?: AbortSignal): Promise<Attempt> {
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    const res = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    })
    const text = await res.text()
    return { ok: true, status: res.status, body: parseJson(text), headers: res.headers }
  } catch (err) {
    if (signal?.aborted) throw signal.reason
    return { ok: false, error: timeout.aborted ? `no answer within ${timeoutMs} ms` : String(err) }
  }
}

function retryable(a: { status: number; body: unknown }): boolean {
  // A 2xx that is not JSON came from something in between (a captive portal, a broken proxy).
  return a.status === 429 || a.status >= 500 || (a.status < 300 && a.body === undefined)
}

function settle(a: { status: number; body: unknown }, url: string, opts: GetJsonOptions): unknown {
  const refused = opts.refuse?.(a.status, a.body)
  if (refused) throw refused
  if (a.status < 300) return a.body
  // Not the caller's fault (a rejected key, a wrong base URL): the operator has to act.
  log('error', 'upstream refused the request', {
    service: opts.service,
    status: a.status,
    url: redact(url),
    answer: redact(JSON.stringify(a.body) ?? '').slice(0, 300),
  })
  throw upstreamUnavailable(opts.service)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Retry-After (seconds or a date), else Mapbox's X-Rate-Limit-Reset (Unix seconds). */
function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after')
  if (value) {
    const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now()
    if (Number.isFinite(ms)) return Math.max(0, ms)
  }
  const reset = Number(headers.get('x-rate-limit-reset'))
  return reset > 0 ? Math.max(0, reset * 1000 - Date.now()) : undefined
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

const SECRET_PARAMS = /\b(access_token|apikey|api_key|appid|key|token)=[^&\s"')]+/gi

/** Text with the values of secret query parameters replaced (fetch errors quote the URL). */
function redact(text: string): string {
  return text.replace(SECRET_PARAMS, '$1=[redacted]')
}

// Cache keys: bounded length, the same for requests that ask the same thing.

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** `x` to `digits` decimals, as text without a negative zero. */
export function rounded(x: number, digits: number): string {
  return String(Number(x.toFixed(digits)))
}

// Shared by the adapters' inputs.

export interface LatLng {
  lat: number
  lng: number
}

export function checkLatLng({ lat, lng }: LatLng): void {
  if (!(Math.abs(lat) <= 90 && Math.abs(lng) <= 180)) {
    throw badRequest(
      'coordinates must be a latitude from -90 to 90 and a longitude from -180 to 180',
    )
  }
}
