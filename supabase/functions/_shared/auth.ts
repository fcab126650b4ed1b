// The gate on every route. 'user' verifies `Authorization: Bearer <token>`
// (scheme in any case, RFC 7235) against the project JWKS: ES256 or RS256 with
// a `kid`, audience `authenticated`, the project's issuer, and `exp`, `sub`
// and `role: authenticated` required; legacy HS256 and `alg: none` are
// refused. 'publishable' / 'secret' check the `apikey` header against
// SUPABASE_PUBLISHABLE_KEYS / SUPABASE_SECRET_KEYS; 'none' lets anyone in.
//
// The same rules as @supabase/server's withSupabase, written here with jose
// because that one cannot require `exp` or accept a lower-case scheme, builds
// a new key set (and imports the key) on every request when the JWKS is
// inline, creates a supabase-js client per request, and names itself in the
// errors callers see. Here the key set is built once per isolate, and a token
// verified once is remembered (found by its signature, compared whole) until
// it expires, so the signature check is paid once per token, not once per
// request.
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose'
import { resolveEnv } from '@supabase/server/core'
import type { Config } from './config.ts'
import type { Claims } from './db.ts'
import { ApiError } from './errors.ts'
import { log } from './logger.ts'
import { sameText } from './constant-time.ts'

export type AuthMode = 'user' | 'publishable' | 'secret' | 'none'

export type AuthVariables = {
  /** Verified claims of a 'user' route's token; null elsewhere. */
  claims: Claims | null
  userId?: string
}

type KeySet = Parameters<typeof jwtVerify>[1]

interface Keys {
  jwks: KeySet | null
  publishable: string[]
  secret: string[]
}

let keys: Keys | undefined

/** Keys from the environment the platform injects, resolved once per isolate. */
function projectKeys(): Keys {
  if (keys) return keys
  const { data } = resolveEnv()
  const jwks = data?.jwks
  keys = {
    jwks: !jwks ? null : jwks instanceof URL
      ? createRemoteJWKSet(jwks, { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
      : createLocalJWKSet(jwks),
    publishable: Object.values(data?.publishableKeys ?? {}).filter(Boolean),
    secret: Object.values(data?.secretKeys ?? {}).filter(Boolean),
  }
  return keys
}

/** Forget the resolved keys and verified tokens (after the environment changed). */
export function resetProjectKeys(): void {
  keys = undefined
  verified.clear()
}

const unauthorized = (message: string, reason: string) =>
  new ApiError(401, 'unauthorized', message, { reason }, { 'WWW-Authenticate': 'Bearer' })

/** Verified tokens by their signature (the text after the last dot): the Authorization header
 * they came in, their claims, and until when to trust them. A repeat is found by the signature,
 * a short key to hash, and is the same token only if its header is the same text. */
const verified = new Map<string, { header: string; claims: Claims; until: number }>()
const VERIFIED_MAX = 20_000
/** A remembered token is checked against the key set again after this long (key rotation). */
const REVERIFY_MS = 10 * 60_000

const BEARER = /^bearer[ \t]+([A-Za-z0-9\-_.~+/]+=*)[ \t]*$/i

/** A token's signature, its key in `verified`: what follows the header's last dot. */
const signatureOf = (header: string) => header.slice(header.lastIndexOf('.') + 1)

/** The claims of a token verified before and still trusted, found without waiting; else undefined. */
export function rememberedClaims(header: string | undefined): Claims | undefined {
  if (!header) return undefined
  const known = verified.get(signatureOf(header))
  return known && known.header === header && known.until > Date.now() ? known.claims : undefined
}

/** Verifies a user access token; throws 401 (or 503 when the key set cannot be fetched). */
export async function verifyUserToken(header: string | undefined, config: Config): Promise<Claims> {
  const remembered = rememberedClaims(header)
  if (remembered) return remembered
  const token = header ? BEARER.exec(header)?.[1] : undefined
  if (!token) {
    throw unauthorized(
      header ? 'the Authorization header is not "Bearer <access token>"' : 'sign in first: this route needs a user access token',
      header ? 'malformed_authorization' : 'missing_token',
    )
  }
  const { jwks } = projectKeys()
  if (!jwks) {
    log('error', 'no JWKS configured: set SUPABASE_JWKS or SUPABASE_JWKS_URL (or SUPABASE_URL)')
    throw new ApiError(503, 'auth_unavailable', 'authentication is not available', undefined, { 'Retry-After': '30' })
  }
  let payload: JWTPayload
  try {
    ;({ payload } = await jwtVerify(token, jwks, {
      algorithms: ['ES256', 'RS256'],
      audience: 'authenticated',
      issuer: config.jwtIssuer,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: 5,
    }))
  } catch (err) {
    throw tokenError(err)
  }
  if (typeof payload.sub !== 'string' || !payload.sub) throw unauthorized('the token names no user', 'no_subject')
  if (payload.role !== 'authenticated') {
    throw unauthorized('this route needs a signed-in user\'s token', 'not_a_user_token')
  }
  const claims = payload as Claims
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!)
  const until = Math.min(payload.exp! * 1000, Date.now() + REVERIFY_MS)
  verified.set(signatureOf(header!), { header: header!, claims, until })
  return claims
}

function tokenError(err: unknown): ApiError {
  if (err instanceof joseErrors.JWTExpired) {
    return unauthorized('the access token has expired: refresh the session and retry', 'token_expired')
  }
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) {
    log('warn', 'JWKS unavailable', { error: String(err) })
    return new ApiError(503, 'auth_unavailable', 'authentication is not available', undefined, { 'Retry-After': '5' })
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return unauthorized(`the access token's "${err.claim}" claim is not valid here`, `claim_${err.claim}`)
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return unauthorized('the access token was not signed by this project', 'unknown_key')
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return unauthorized('the access token uses a signing algorithm this project does not accept', 'algorithm')
  }
  return unauthorized('the access token is not valid', 'invalid_token')
}

/** Whether `given` is one of the project's secret keys (never throws). */
export function holdsSecretKey(given: string | undefined): boolean {
  return given !== undefined && projectKeys().secret.some((k) => sameText(k, given))
}

/** Checks the `apikey` header against the project's keys for `mode`; throws 401 (503 without keys). */
export function checkApiKey(given: string | undefined, mode: 'publishable' | 'secret') {
  const k = projectKeys()
  // The secret key can do whatever the publishable key can.
  const accepted = mode === 'secret' ? k.secret : [...k.publishable, ...k.secret]
  if (!accepted.length) {
    log('error', `no ${mode} key configured: set SUPABASE_${mode.toUpperCase()}_KEYS`)
    throw new ApiError(503, 'auth_unavailable', 'authentication is not available', undefined, { 'Retry-After': '30' })
  }
  if (!given) throw unauthorized(`this route needs the project's ${mode} key in the apikey header`, 'missing_apikey')
  if (!accepted.some((k) => sameText(k, given))) {
    throw unauthorized(`the apikey header is not this project's ${mode} key`, 'invalid_apikey')
  }
}
