// Calls to Supabase Auth's REST API (GoTrue) on behalf of the caller, with
// the project's publishable key. Auth's own errors are passed through as API
// errors with a matching status and code; an unreachable Auth is a 503.
import { resolveEnv } from '@supabase/server/core'
import type { Config } from './config.ts'
import { ApiError, unavailable } from './errors.ts'
import { log } from './logger.ts'

export interface AuthSession {
  access_token: string
  token_type: string
  expires_in: number
  expires_at: number
  refresh_token: string
  user: AuthUser
}

export interface AuthUser {
  id: string
  email?: string
  user_metadata?: Record<string, unknown>
  app_metadata?: Record<string, unknown>
  created_at?: string
  [key: string]: unknown
}

// GoTrue error codes → our status and code. Anything else keeps GoTrue's status.
const mapped: Record<string, [number, string]> = {
  user_already_exists: [409, 'email_taken'],
  email_exists: [409, 'email_taken'],
  weak_password: [400, 'weak_password'],
  email_address_invalid: [400, 'invalid_email'],
  validation_failed: [400, 'validation_failed'],
  invalid_credentials: [401, 'invalid_credentials'],
  email_not_confirmed: [403, 'email_not_confirmed'],
  refresh_token_not_found: [401, 'invalid_refresh_token'],
  refresh_token_already_used: [401, 'invalid_refresh_token'],
  session_not_found: [401, 'session_not_found'],
  signup_disabled: [403, 'signup_disabled'],
  over_request_rate_limit: [429, 'rate_limited'],
}

/** The key the function calls Supabase Auth with: the secret key when there is one, since
 * only a secret-key request may name the end user's address (Sb-Forwarded-For). */
function apiKey(): { key: string; secret: boolean } {
  const { data } = resolveEnv()
  const secret = data?.secretKeys.default ?? Object.values(data?.secretKeys ?? {})[0]
  if (secret) return { key: secret, secret: true }
  const key = data?.publishableKeys.default ?? Object.values(data?.publishableKeys ?? {})[0]
  if (!key) throw new ApiError(503, 'auth_unavailable', 'no publishable key is configured')
  return { key, secret: false }
}

/** Calls Supabase Auth for the caller. `clientIp` is the end user's address: Supabase Auth
 * counts its per-IP rate limits on it (with IP address forwarding on) instead of on this
 * function's own address, which every user shares. */
export async function authRequest<T>(
  config: Config,
  path: string,
  init: { method?: string; body?: unknown; token?: string; clientIp?: string } = {},
): Promise<T | null> {
  const { key, secret } = apiKey()
  const headers: Record<string, string> = {
    apikey: key,
    'content-type': 'application/json',
    'x-supabase-api-version': '2024-01-01',
  }
  if (secret && init.clientIp && init.clientIp !== 'unknown') headers['sb-forwarded-for'] = init.clientIp
  if (init.token) headers.authorization = `Bearer ${init.token}`
  let res: Response
  try {
    res = await fetch(`${config.supabaseUrl}/auth/v1${path}`, {
      method: init.method ?? 'POST',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(10_000),
    })
  } catch (err) {
    log('warn', 'supabase auth unreachable', { path, error: String(err) })
    throw unavailable('auth')
  }
  if (res.status === 204) return null
  const body = await res.json().catch(() => null) as Record<string, unknown> | null
  if (res.ok) return body as T
  const gotrueCode = String(body?.error_code ?? res.headers.get('x-sb-error-code') ?? body?.code ?? '')
  const message = String(body?.msg ?? body?.message ?? body?.error_description ?? 'authentication failed')
  if (res.status >= 500) {
    log('warn', 'supabase auth error', { path, status: res.status, code: gotrueCode })
    throw unavailable('auth')
  }
  const [status, code] = mapped[gotrueCode] ?? [res.status, gotrueCode || 'auth_error']
  // Supabase Auth's 429 has no Retry-After; ours always does.
  const headers429 = status === 429 ? { 'Retry-After': res.headers.get('retry-after') ?? '60' } : undefined
  throw new ApiError(status as 400, code, message, gotrueCode ? { auth_code: gotrueCode } : undefined, headers429)
}
