// Local stand-in for Supabase Auth (GoTrue): the part of its REST API that
// supabase-js v2 calls, with GoTrue's status codes, error codes and bodies,
// keeping users and sessions in the auth.* tables of the local Postgres.
import { createLocalJWKSet, importJWK, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import type postgres from 'postgres'
import { z } from 'zod'
import type { LocalKeys } from './keys.ts'

export interface AuthServiceOptions {
  /** Admin connection (superuser); auth.* is queried directly. */
  sql: postgres.Sql
  keys: LocalKeys
  /** e.g. 'http://127.0.0.1:54321/auth/v1' */
  issuer: string
  /** Default 3600. */
  accessTokenTtlSeconds?: number
  log?: (entry: Record<string, unknown>) => void
}

const VERSION = '1.0.0'
const MAX_BODY_BYTES = 64 * 1024
const MIN_PASSWORD_LENGTH = 8
const MAX_PASSWORD_BYTES = 72 // bcrypt ignores anything longer
const API_VERSION_2024 = '2024-01-01'
const NIL_UUID = '00000000-0000-0000-0000-000000000000'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const USER_COLUMNS = ('id aud role email phone email_confirmed_at phone_confirmed_at ' +
  'last_sign_in_at raw_app_meta_data raw_user_meta_data created_at updated_at banned_until ' +
  'is_anonymous').split(' ')
const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, OPTIONS',
  // What supabase-js sends (its cors.ts list) plus auth-js's version header.
  'access-control-allow-headers': 'authorization, apikey, content-type, accept, x-client-info, ' +
    'x-supabase-api-version, x-retry-count, traceparent, tracestate, baggage',
  // Without these a browser client cannot read the error code and version.
  'access-control-expose-headers': 'x-supabase-api-version, x-sb-error-code',
  'access-control-max-age': '86400',
}

class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra = {},
  ) {
    super(message)
  }
}

function fail(status: number, code: string, message: string, extra = {}): never {
  throw new AuthError(status, code, message, extra)
}

const UNEXPECTED = new AuthError(
  500,
  'unexpected_failure',
  'Unexpected failure, please check server logs for more information',
)

type Json = Record<string, unknown>
type Db = postgres.ISql
type Time = Date | null
interface UserRow {
  id: string
  aud: string | null
  role: string | null
  email: string | null
  phone: string | null
  email_confirmed_at: Time
  phone_confirmed_at: Time
  last_sign_in_at: Time
  raw_app_meta_data: Json | null
  raw_user_meta_data: Json | null
  created_at: Date
  updated_at: Date
  banned_until: Time
  is_anonymous: boolean
}
interface IdentityRow {
  id: string
  provider_id: string
  user_id: string
  identity_data: Json
  provider: string
  last_sign_in_at: Time
  created_at: Date
  updated_at: Date
  email: string | null
}
type User = { row: UserRow; identities: IdentityRow[] }
type SessionInfo = { userId: string; sessionId: string; signedInAt: Date; refreshToken: string }
interface Service {
  sql: postgres.Sql
  keys: LocalKeys
  issuer: string
  ttl: number
  signingKey: ReturnType<typeof importJWK>
  jwks: ReturnType<typeof createLocalJWKSet>
}
type Ctx = { svc: Service; req: Request; url: URL }

const routes = new Map<string, Record<string, (c: Ctx) => Promise<Response>>>([
  ['/signup', { POST: signup }],
  ['/token', { POST: token }],
  ['/logout', { POST: logout }],
  ['/user', { GET: getUser, PUT: updateUser }],
  ['/.well-known/jwks.json', { GET: jwks }],
  ['/health', { GET: health }],
])
const PUBLIC_PATHS = new Set(['/.well-known/jwks.json', '/health'])

export function createAuthService(opts: AuthServiceOptions): (req: Request) => Promise<Response> {
  const svc: Service = {
    sql: opts.sql,
    keys: opts.keys,
    issuer: opts.issuer,
    ttl: opts.accessTokenTtlSeconds ?? 3600,
    signingKey: importJWK(opts.keys.privateJwk, 'ES256'),
    jwks: createLocalJWKSet(opts.keys.jwks),
  }
  return async (req) => {
    const started = performance.now()
    const url = new URL(req.url)
    let res: Response
    try {
      res = await dispatch({ svc, req, url })
    } catch (err) {
      if (!(err instanceof AuthError)) {
        const error = err instanceof Error ? err.message : String(err)
        opts.log?.({ level: 'error', service: 'auth', msg: 'unexpected failure', error })
      }
      res = errorResponse(req, err instanceof AuthError ? err : UNEXPECTED)
    }
    for (const [name, value] of Object.entries(CORS_HEADERS)) res.headers.set(name, value)
    // The query string is left out on purpose: it may carry an apikey.
    opts.log?.({
      level: res.status >= 500 ? 'error' : 'info',
      service: 'auth',
      method: req.method,
      path: url.pathname,
      grant_type: url.searchParams.get('grant_type') ?? undefined,
      status: res.status,
      error_code: res.headers.get('x-sb-error-code') ?? undefined,
      duration_ms: Math.round(performance.now() - started),
    })
    return res
  }
}

async function dispatch(c: Ctx): Promise<Response> {
  if (c.req.method === 'OPTIONS') return new Response(null, { status: 204 })
  const path = /^\/auth\/v1(\/.*?)\/*$/.exec(c.url.pathname)?.[1] ?? ''
  const methods = routes.get(path) ?? fail(404, 'not_found', 'Not found')
  const handler = Object.hasOwn(methods, c.req.method) ? methods[c.req.method] : undefined
  if (!handler) fail(405, 'method_not_allowed', `Method ${c.req.method} not allowed`)
  if (!PUBLIC_PATHS.has(path)) requireApiKey(c)
  return await handler(c)
}

// ---- endpoints ------------------------------------------------------------

const text = z.string().nullish()
const Credentials = z.object({
  email: text,
  phone: text,
  password: text,
  data: z.record(z.string(), z.unknown()).nullish(),
})
const RefreshBody = z.object({ refresh_token: text })
const ONE_OF_EMAIL_OR_PHONE = 'Only an email address or phone number should be provided'

async function signup(c: Ctx): Promise<Response> {
  const body = await readBody(c.req, Credentials)
  const password = body.password ||
    fail(400, 'validation_failed', 'Signup requires a valid password')
  checkPasswordStrength(password)
  if (body.email && body.phone) {
    fail(400, 'validation_failed', `${ONE_OF_EMAIL_OR_PHONE} on signup.`)
  }
  if (body.phone) fail(400, 'phone_provider_disabled', 'Phone signups are disabled')
  const email = validateEmail(body.email ?? '')
  const id = crypto.randomUUID()
  // GoTrue's email identity; its data become the user's metadata, where
  // autoconfirm then marks the email verified.
  const identity = { ...body.data, sub: id, email, email_verified: false, phone_verified: false }
  const session = await c.svc.sql.begin(async (tx) => {
    const [created] = await tx`
      insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
        email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
      values (${NIL_UUID}, ${id}, 'authenticated', 'authenticated', ${email},
        extensions.crypt(${password}, extensions.gen_salt('bf', 10)), now(),
        ${jsonb({ provider: 'email', providers: ['email'] })}::text::jsonb,
        ${jsonb({ ...identity, email_verified: true })}::text::jsonb)
      on conflict do nothing
      returning id`
    if (!created) fail(422, 'user_already_exists', 'User already registered')
    await tx`
      insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
      values (${id}, ${id}, ${jsonb(identity)}::text::jsonb, 'email', now())`
    return await startSession(tx, id, c.req)
  })
  return await sessionResponse(c.svc, session)
}

function token(c: Ctx): Promise<Response> {
  const grantType = c.url.searchParams.get('grant_type')
  if (grantType === 'password') return passwordGrant(c)
  if (grantType === 'refresh_token') return refreshTokenGrant(c)
  fail(400, 'invalid_credentials', 'unsupported_grant_type')
}

async function passwordGrant(c: Ctx): Promise<Response> {
  const body = await readBody(c.req, Credentials)
  if (body.email && body.phone) {
    fail(400, 'validation_failed', `${ONE_OF_EMAIL_OR_PHONE} on login.`)
  }
  if (body.phone) fail(422, 'phone_provider_disabled', 'Phone logins are disabled')
  const email = body.email || fail(400, 'validation_failed', 'missing email or phone')
  const session = await c.svc.sql.begin(async (tx) => {
    const [user] = await tx<{ id: string; ok: boolean; banned: boolean; confirmed: boolean }[]>`
      select id, ${passwordMatches(tx, body.password ?? '')} as ok,
        coalesce(banned_until > now(), false) as banned,
        email_confirmed_at is not null as confirmed
      from auth.users
      where lower(email) = ${email.toLowerCase()} and not is_sso_user and deleted_at is null`
    if (!user?.ok) fail(400, 'invalid_credentials', 'Invalid login credentials')
    if (user.banned) fail(400, 'user_banned', 'User is banned')
    if (!user.confirmed) fail(400, 'email_not_confirmed', 'Email not confirmed')
    return await startSession(tx, user.id, c.req)
  })
  return await sessionResponse(c.svc, session)
}

type TokenRow = { id: string; revoked: boolean; session_id: string; user_id: string | null }

async function refreshTokenGrant(c: Ctx): Promise<Response> {
  const { refresh_token: refreshToken } = await readBody(c.req, RefreshBody)
  if (!refreshToken) fail(400, 'validation_failed', 'refresh_token required')
  const session = await c.svc.sql.begin(async (tx) => {
    const [rt] = await tx<(TokenRow & { signed_in_at: Date; expired: boolean; banned: boolean })[]>`
      select rt.id, rt.revoked, rt.session_id, s.user_id, s.created_at as signed_in_at,
        coalesce(s.not_after < now(), false) as expired,
        coalesce(u.banned_until > now(), false) as banned
      from auth.refresh_tokens rt
        left join auth.sessions s on s.id = rt.session_id
        left join auth.users u on u.id = s.user_id
      where rt.token = ${refreshToken}
      for update of rt`
    const invalid = 'Invalid Refresh Token:'
    if (!rt) fail(400, 'refresh_token_not_found', `${invalid} Refresh Token Not Found`)
    if (!rt.user_id) fail(400, 'session_not_found', `${invalid} No Valid Session Found`)
    if (rt.expired) fail(400, 'session_expired', `${invalid} Session Expired`)
    if (rt.banned) fail(400, 'user_banned', `${invalid} User Banned`)
    if (rt.revoked) {
      // A rotated token came back: it may have leaked, so the session's whole
      // token chain is revoked (as GoTrue does), committed before answering.
      await tx`update auth.refresh_tokens set revoked = true, updated_at = now()
        where session_id = ${rt.session_id} and not revoked`
      return null
    }
    const next = newRefreshToken()
    await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${rt.id}`
    await tx`insert into auth.refresh_tokens (token, user_id, parent, session_id)
      values (${next}, ${rt.user_id}, ${refreshToken}, ${rt.session_id})`
    await tx`update auth.sessions set updated_at = now() where id = ${rt.session_id}`
    const { user_id: userId, session_id: sessionId, signed_in_at: signedInAt } = rt
    return { userId, sessionId, signedInAt, refreshToken: next }
  })
  if (!session) fail(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used')
  return await sessionResponse(c.svc, session)
}

async function logout(c: Ctx): Promise<Response> {
  const { user, sessionId } = await authenticate(c)
  const scope = c.url.searchParams.get('scope') || 'global'
  if (!['global', 'local', 'others'].includes(scope)) {
    fail(400, 'validation_failed', `Unsupported logout scope ${JSON.stringify(scope)}`)
  }
  const { sql } = c.svc
  // Without a session_id claim every scope means global, as in GoTrue.
  const which = !sessionId || scope === 'global'
    ? sql`user_id = ${user.row.id}`
    : scope === 'local'
    ? sql`id = ${sessionId}`
    : sql`user_id = ${user.row.id} and id <> ${sessionId}`
  // Refresh tokens go with their session (on delete cascade).
  await sql`delete from auth.sessions where ${which}`
  return new Response(null, { status: 204 })
}

async function getUser(c: Ctx): Promise<Response> {
  return json(200, userJson((await authenticate(c)).user))
}

async function updateUser(c: Ctx): Promise<Response> {
  const { user: { row: user }, sessionId } = await authenticate(c)
  const { email, phone, password, data } = await readBody(c.req, Credentials)
  const unsupported = (what: string) =>
    fail(
      422,
      'validation_failed',
      `Changing the ${what} is not supported by the local auth service`,
    )
  if (email && email.toLowerCase() !== user.email) unsupported('email address')
  if (phone && phone !== (user.phone ?? '')) unsupported('phone number')
  if (password != null) checkPasswordStrength(password)
  await c.svc.sql.begin(async (tx) => {
    const [current] = await tx<{ meta: Json | null; same_password: boolean }[]>`
      select raw_user_meta_data as meta,
        ${password != null ? passwordMatches(tx, password) : tx`false`} as same_password
      from auth.users where id = ${user.id} for update`
    if (password != null) {
      if (current.same_password) {
        fail(422, 'same_password', 'New password should be different from the old password.')
      }
      await tx`update auth.users set updated_at = now(),
        encrypted_password = extensions.crypt(${password}, extensions.gen_salt('bf', 10))
        where id = ${user.id}`
      // As GoTrue: a new password signs every other session out.
      await tx`delete from auth.sessions
        where user_id = ${user.id} and id is distinct from ${sessionId}::uuid`
    }
    if (data) {
      // GoTrue merges the keys; a null value removes one.
      const meta: Json = { ...current.meta }
      for (const [key, value] of Object.entries(data)) {
        if (value === null) delete meta[key]
        else meta[key] = value
      }
      await tx`update auth.users set raw_user_meta_data = ${jsonb(meta)}::text::jsonb,
        updated_at = now() where id = ${user.id}`
    }
  })
  return json(200, userJson((await loadUser(c.svc.sql, user.id))!))
}

function jwks(c: Ctx): Promise<Response> {
  return Promise.resolve(json(200, c.svc.keys.jwks, { 'cache-control': 'public, max-age=600' }))
}

function health(): Promise<Response> {
  const description = 'Local stand-in for Supabase Auth'
  return Promise.resolve(json(200, { name: 'GoTrue (PAM local)', version: VERSION, description }))
}

// ---- sessions, tokens, users ----------------------------------------------

async function startSession(tx: Db, userId: string, req: Request): Promise<SessionInfo> {
  const [session] = await tx<{ id: string; created_at: Date }[]>`
    insert into auth.sessions (id, user_id, aal, user_agent)
    values (${crypto.randomUUID()}, ${userId}, 'aal1', ${req.headers.get('user-agent')})
    returning id, created_at`
  const refreshToken = newRefreshToken()
  await tx`insert into auth.refresh_tokens (token, user_id, session_id)
    values (${refreshToken}, ${userId}, ${session.id})`
  await tx`update auth.users set last_sign_in_at = now() where id = ${userId}`
  return { userId, sessionId: session.id, signedInAt: session.created_at, refreshToken }
}

async function sessionResponse(svc: Service, session: SessionInfo): Promise<Response> {
  const user = await loadUser(svc.sql, session.userId)
  if (!user) throw new Error('user disappeared while signing in')
  const u = user.row
  const now = Math.floor(Date.now() / 1000)
  const claims: JWTPayload = {
    iss: svc.issuer,
    sub: u.id,
    aud: u.aud || 'authenticated',
    exp: now + svc.ttl,
    iat: now,
    email: u.email ?? '',
    phone: u.phone ?? '',
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    role: u.role || 'authenticated',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: Math.floor(session.signedInAt.getTime() / 1000) }],
    session_id: session.sessionId,
    is_anonymous: u.is_anonymous,
  }
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: svc.keys.kid, typ: 'JWT' })
    .sign(await svc.signingKey)
  return json(200, {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: svc.ttl,
    expires_at: now + svc.ttl,
    refresh_token: session.refreshToken,
    user: userJson(user),
  })
}

/** 16 random bytes as 22 base64url characters (GoTrue's are 12 alphanumerics). */
function newRefreshToken(): string {
  const b64 = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))
  return b64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

/** SQL: whether `password` matches the row's bcrypt hash (false when it has none). */
function passwordMatches(sql: Db, password: string) {
  return sql`(case when encrypted_password like '$2%'
    then encrypted_password = extensions.crypt(${password}, encrypted_password) else false end)`
}

/** GoTrue's requireAuthentication: a valid access token whose user and session still exist. */
async function authenticate(c: Ctx): Promise<{ user: User; sessionId: string | null }> {
  const token = bearerToken(c.req) ??
    fail(401, 'no_authorization', 'This endpoint requires a valid Bearer token')
  let claims: JWTPayload
  try {
    claims = (await jwtVerify(token, c.svc.jwks, { algorithms: ['ES256'] })).payload
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    fail(403, 'bad_jwt', `invalid JWT: unable to parse or verify signature, ${reason}`)
  }
  const { sub, session_id: sid } = claims
  if (typeof sub !== 'string' || !UUID.test(sub)) {
    fail(403, 'bad_jwt', 'invalid claim: sub claim must be a UUID')
  }
  const user = await loadUser(c.svc.sql, sub) ??
    fail(403, 'user_not_found', 'User from sub claim in JWT does not exist')
  let sessionId: string | null = null
  if (typeof sid === 'string' && sid !== '' && sid !== NIL_UUID) {
    if (!UUID.test(sid)) fail(403, 'bad_jwt', 'invalid claim: session_id claim must be a UUID')
    const [found] = await c.svc.sql`
      select 1 from auth.sessions where id = ${sid} and user_id = ${sub}`
    if (!found) {
      fail(403, 'session_not_found', 'Session from session_id claim in JWT does not exist')
    }
    sessionId = sid
  }
  if (user.row.banned_until && user.row.banned_until > new Date()) {
    fail(403, 'user_banned', 'User is banned')
  }
  return { user, sessionId }
}

async function loadUser(sql: Db, id: string): Promise<User | undefined> {
  const [row] = await sql<UserRow[]>`select ${sql(USER_COLUMNS)} from auth.users where id = ${id}`
  if (!row) return undefined
  const identities = await sql<IdentityRow[]>`
    select * from auth.identities where user_id = ${id} order by created_at`
  return { row, identities }
}

/** GoTrue's user JSON; null timestamps are left out, as Go's `omitempty` does. */
function userJson({ row: u, identities }: User): Json {
  const confirmed = [u.email_confirmed_at, u.phone_confirmed_at].filter((d) => d !== null)
  return defined({
    id: u.id,
    aud: u.aud ?? '',
    role: u.role ?? '',
    email: u.email ?? '',
    email_confirmed_at: iso(u.email_confirmed_at),
    phone: u.phone ?? '',
    phone_confirmed_at: iso(u.phone_confirmed_at),
    confirmed_at: iso(confirmed.sort((a, b) => a.getTime() - b.getTime())[0] ?? null),
    last_sign_in_at: iso(u.last_sign_in_at),
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    identities: identities.map((i) =>
      defined({
        identity_id: i.id,
        id: i.provider_id,
        user_id: i.user_id,
        identity_data: i.identity_data,
        provider: i.provider,
        last_sign_in_at: iso(i.last_sign_in_at),
        created_at: iso(i.created_at),
        updated_at: iso(i.updated_at),
        email: i.email ?? undefined,
      })
    ),
    created_at: iso(u.created_at),
    updated_at: iso(u.updated_at),
    banned_until: iso(u.banned_until),
    is_anonymous: u.is_anonymous,
  })
}

function checkPasswordStrength(password: string): void {
  // In bytes, as GoTrue (Go's len) counts them.
  const bytes = new TextEncoder().encode(password).length
  if (bytes > MAX_PASSWORD_BYTES) {
    fail(
      400,
      'validation_failed',
      `Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`,
    )
  }
  if (bytes < MIN_PASSWORD_LENGTH) {
    fail(422, 'weak_password', `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`, {
      weak_password: { reasons: ['length'] },
    })
  }
}

function validateEmail(email: string): string {
  if (!email) fail(400, 'validation_failed', 'An email address is required')
  if (email.length > 255) fail(400, 'validation_failed', 'An email address is too long')
  if (!z.email().safeParse(email).success) {
    fail(400, 'validation_failed', 'Unable to validate email address: invalid format')
  }
  return email.toLowerCase()
}

// ---- HTTP helpers ---------------------------------------------------------

/** The API gateway's check (Kong on hosted Supabase): publishable or secret key. */
function requireApiKey(c: Ctx): void {
  const valid = [c.svc.keys.publishableKey, c.svc.keys.secretKey]
  const known = (key: string | null) => key !== null && valid.some((v) => sameString(v, key))
  const apikey = c.req.headers.get('apikey') ?? c.url.searchParams.get('apikey')
  if (known(apikey) || known(bearerToken(c.req))) return
  if (!apikey) {
    fail(401, 'no_api_key', 'No API key found in request', {
      hint: 'No `apikey` request header or url param was found.',
    })
  }
  fail(401, 'invalid_api_key', 'Invalid API key', {
    hint: 'Double check the provided API key: it must be the publishable or the secret key.',
  })
}

function bearerToken(req: Request): string | null {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get('authorization') ?? '')?.[1] ?? null
}

/** Constant-time comparison, so response timing does not reveal key prefixes. */
function sameString(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

async function readBody<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  const tooLarge = () =>
    fail(413, 'request_entity_too_large', `Request body too large (max ${MAX_BODY_BYTES} bytes)`)
  if (Number(req.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) tooLarge()
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of req.body ?? []) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) tooLarge()
    chunks.push(chunk)
  }
  let value: unknown
  try {
    value = JSON.parse(await new Blob(chunks as BlobPart[]).text())
  } catch {
    // Not the parser's message: it quotes the body, which may hold a password.
    fail(400, 'bad_json', 'Could not parse request body as JSON')
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const { path, message } = parsed.error.issues[0]
    fail(
      400,
      'bad_json',
      `Could not parse request body as JSON: ${path.join('.') || 'body'}: ${message}`,
    )
  }
  return parsed.data
}

/** API version 2024-01-01 (what supabase-js sends) gets `{code, message}`, older `{code: status,
 * error_code, msg}`; auth-js only trusts `code` when the response echoes the version. */
function errorResponse(req: Request, err: AuthError): Response {
  const version = req.headers.get('x-supabase-api-version') ?? ''
  const headers: Record<string, string> = { 'x-sb-error-code': err.code }
  if (/^\d{4}-\d{2}-\d{2}$/.test(version) && version >= API_VERSION_2024) {
    headers['x-supabase-api-version'] = API_VERSION_2024
    return json(err.status, { code: err.code, message: err.message, ...err.extra }, headers)
  }
  const legacy = { code: err.status, error_code: err.code, msg: err.message, ...err.extra }
  return json(err.status, legacy, headers)
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const base = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
  return new Response(JSON.stringify(body), { status, headers: { ...base, ...headers } })
}

/** Sent as text and cast in SQL: postgres.js would JSON-encode a jsonb parameter again. */
function jsonb(value: unknown): string {
  return JSON.stringify(value)
}

function iso(date: Time): string | undefined {
  return date?.toISOString()
}

function defined(obj: Json): Json {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined))
}
