// Local stand-in for Supabase Auth (GoTrue): the part of its REST API that
// supabase-js v2 calls, with GoTrue's status codes, error codes and bodies,
// keeping users and sessions in the auth.* tables of the local Postgres.
import { isIP } from 'node:net'
import { createHash, randomInt } from 'node:crypto'
import { createLocalJWKSet, importJWK, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import type postgres from 'postgres'
import { z } from 'zod'
import { type AuthSettings, type AuthSettingsOverrides, loadAuthSettings } from './auth-settings.ts'
import type { LocalKeys } from './keys.ts'
import type { Mail } from '../../supabase/functions/_shared/mail.ts'
import { sameText } from '../../supabase/functions/_shared/constant-time.ts'

export interface AuthServiceOptions {
  /** Admin connection (superuser); auth.* is queried directly. */
  sql: postgres.Sql
  keys: LocalKeys
  /** e.g. 'http://127.0.0.1:54321/auth/v1' */
  issuer: string
  /** On top of the [auth] settings of supabase/config.toml. */
  settings?: AuthSettingsOverrides
  log?: (entry: Record<string, unknown>) => void
  /** Sends the service's emails (sign-up confirmation, recovery, magic link, email change): locally, to the mail catcher. */
  mailer?: { send(mail: Mail): Promise<unknown> }
}

const VERSION = '1.0.0'
const MAX_BODY_BYTES = 64 * 1024
const MAX_PASSWORD_BYTES = 72 // bcrypt ignores anything longer
const API_VERSION_2024 = '2024-01-01'
const NIL_UUID = '00000000-0000-0000-0000-000000000000'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const USER_COLUMNS = ('id aud role email phone email_confirmed_at phone_confirmed_at ' +
  'last_sign_in_at raw_app_meta_data raw_user_meta_data created_at updated_at banned_until ' +
  'is_anonymous confirmation_sent_at recovery_sent_at email_change email_change_sent_at').split(' ')
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
  confirmation_sent_at: Time
  recovery_sent_at: Time
  email_change: string | null
  email_change_sent_at: Time
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
  settings: AuthSettings
  signingKey: ReturnType<typeof importJWK>
  jwks: ReturnType<typeof createLocalJWKSet>
  limits: { signups: IpLimiter; token: IpLimiter; verify: IpLimiter; emails: HourLimiter }
  mailer?: AuthServiceOptions['mailer']
}
type Ctx = {
  svc: Service
  req: Request
  url: URL
  /** The client's address as the server saw it (none when called in-process). */
  remoteAddr?: string
  /** The request's API key is the secret one. */
  secretKey?: boolean
}

const routes = new Map<string, Record<string, (c: Ctx) => Promise<Response>>>([
  ['/signup', { POST: signup }],
  ['/token', { POST: token }],
  ['/logout', { POST: logout }],
  ['/user', { GET: getUser, PUT: updateUser }],
  ['/recover', { POST: recover }],
  ['/verify', { GET: verify, POST: verify }],
  ['/otp', { POST: otp }],
  ['/magiclink', { POST: otp }],
  ['/resend', { POST: resend }],
  ['/.well-known/jwks.json', { GET: jwks }],
  ['/health', { GET: health }],
])
// /verify is opened from an emailed link, with no key (an open route of the API gateway, as hosted).
const PUBLIC_PATHS = new Set(['/.well-known/jwks.json', '/health', '/verify'])

export function createAuthService(
  opts: AuthServiceOptions,
): (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> {
  const settings = loadAuthSettings(opts.settings)
  const svc: Service = {
    sql: opts.sql,
    keys: opts.keys,
    issuer: opts.issuer,
    settings,
    signingKey: importJWK(opts.keys.privateJwk, 'ES256'),
    jwks: createLocalJWKSet(opts.keys.jwks),
    limits: {
      signups: new IpLimiter(settings.rateLimit.signInSignUps),
      token: new IpLimiter(settings.rateLimit.tokenRefresh),
      verify: new IpLimiter(30),
      emails: new HourLimiter(settings.rateLimit.emailSent),
    },
    mailer: opts.mailer,
  }
  return async (req, info) => {
    const started = performance.now()
    const url = new URL(req.url)
    const remoteAddr = (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname
    let res: Response
    try {
      res = await dispatch({ svc, req, url, remoteAddr })
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
  if (!PUBLIC_PATHS.has(path)) c.secretKey = requireApiKey(c) === 'secret'
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

/** GoTrue's order: anonymous check, rate limit, signup switch, password, email, then the user. */
async function signup(c: Ctx): Promise<Response> {
  const body = await readBody(c.req, Credentials)
  if (!body.email && !body.phone) {
    fail(422, 'anonymous_provider_disabled', 'Anonymous sign-ins are disabled')
  }
  limitRate(c, c.svc.limits.signups)
  if (!c.svc.settings.enableSignup) {
    fail(422, 'signup_disabled', 'Signups not allowed for this instance')
  }
  const password = body.password ||
    fail(400, 'validation_failed', 'Signup requires a valid password')
  checkPasswordStrength(c.svc.settings, password)
  if (body.email && body.phone) {
    fail(400, 'validation_failed', `${ONE_OF_EMAIL_OR_PHONE} on signup.`)
  }
  if (body.phone) fail(400, 'phone_provider_disabled', 'Phone signups are disabled')
  const email = validateEmail(body.email ?? '')
  checkMetadata(body.data)
  const confirmations = c.svc.settings.email.confirmations
  const id = crypto.randomUUID()
  // GoTrue's email identity; its data become the user's metadata, where
  // autoconfirm then marks the email verified.
  const identity = { ...body.data, sub: id, email, email_verified: false, phone_verified: false }
  const outcome = await c.svc.sql.begin(async (tx) => {
    const [existing] = await tx<{ id: string; confirmed: boolean }[]>`
      select id, email_confirmed_at is not null as confirmed from auth.users
      where lower(email) = ${email} and not is_sso_user for update`
    if (existing?.confirmed || (existing && !confirmations)) {
      // Confirmations on: the same answer as a new sign-up, so an address cannot be tested for an account.
      if (!confirmations) fail(422, 'user_already_exists', 'User already registered')
      return { fake: true as const }
    }
    let userId = existing?.id
    if (!userId) {
      const [created] = await tx`
        insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
          email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
        values (${NIL_UUID}, ${id}, 'authenticated', 'authenticated', ${email},
          extensions.crypt(${password}, extensions.gen_salt('bf', 10)),
          ${confirmations ? null : new Date()},
          ${jsonb({ provider: 'email', providers: ['email'] })}::text::jsonb,
          ${jsonb({ ...identity, email_verified: !confirmations })}::text::jsonb)
        on conflict do nothing
        returning id`
      if (!created) fail(422, 'user_already_exists', 'User already registered')
      await tx`
        insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
        values (${id}, ${id}, ${jsonb(identity)}::text::jsonb, 'email', now())`
      userId = id
    }
    if (confirmations) {
      await sendAuthEmail(c, tx, 'signup', userId)
      return { userId }
    }
    return { session: await startSession(tx, userId, c.req) }
  })
  if ('fake' in outcome) return json(200, fakeUser(email, body.data ?? {}))
  if ('session' in outcome && outcome.session) return await sessionResponse(c.svc, outcome.session)
  return json(200, userJson((await loadUser(c.svc.sql, (outcome as { userId: string }).userId))!))
}

/** GoTrue's sanitizeUser: what a repeated sign-up of a confirmed address answers while confirmations are on. */
function fakeUser(email: string, data: Json): Json {
  const now = new Date().toISOString()
  return {
    id: crypto.randomUUID(),
    aud: 'authenticated',
    role: '',
    email,
    phone: '',
    confirmation_sent_at: now,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  }
}

function token(c: Ctx): Promise<Response> {
  const grantType = c.url.searchParams.get('grant_type')
  const grant = grantType === 'password'
    ? passwordGrant
    : grantType === 'refresh_token'
    ? refreshTokenGrant
    : fail(400, 'invalid_credentials', 'unsupported_grant_type')
  // One bucket for every grant type, as GoTrue's Token handler does.
  limitRate(c, c.svc.limits.token)
  return grant(c)
}

async function passwordGrant(c: Ctx): Promise<Response> {
  const { email, phone, password: given } = await readBody(c.req, Credentials)
  const password = given ?? ''
  if (email && phone) {
    fail(400, 'validation_failed', `${ONE_OF_EMAIL_OR_PHONE} on login.`)
  }
  if (phone) fail(422, 'phone_provider_disabled', 'Phone logins are disabled')
  if (!email) fail(400, 'validation_failed', 'missing email or phone')
  // No account can hold text Postgres cannot store.
  if (!storable(email) || !storable(password)) {
    fail(400, 'invalid_credentials', 'Invalid login credentials')
  }
  const session = await c.svc.sql.begin(async (tx) => {
    const [user] = await tx<
      { id: string; has_password: boolean; ok: boolean; banned: boolean; confirmed: boolean }[]
    >`
      select id, encrypted_password like '$2%' as has_password,
        ${passwordMatches(tx, password)} as ok,
        coalesce(banned_until > now(), false) as banned,
        email_confirmed_at is not null as confirmed
      from auth.users
      where lower(email) = ${email.toLowerCase()} and not is_sso_user and deleted_at is null`
    // ResourceOwnerPasswordGrant's order: the ban shows before the password is checked.
    if (!user?.has_password) fail(400, 'invalid_credentials', 'Invalid login credentials')
    if (user.banned) fail(400, 'user_banned', 'User is banned')
    if (!user.ok) fail(400, 'invalid_credentials', 'Invalid login credentials')
    if (!user.confirmed) fail(400, 'email_not_confirmed', 'Email not confirmed')
    return await startSession(tx, user.id, c.req)
  })
  // A password weaker than today's policy still signs in, with a warning.
  const weak = passwordWeakness(c.svc.settings, password)
  return await sessionResponse(c.svc, session, weak ? { weak_password: weak } : {})
}

/** 12 lowercase letters and digits: the only refresh tokens this service issues (GoTrue's v1). */
const REFRESH_TOKEN = /^[a-z0-9]{12}$/

/**
 * The refresh_token grant as Supabase Auth's RefreshTokenGrant (api/token_refresh.go, then
 * tokens.Service.RefreshTokenGrant for a v1 refresh token) does it:
 * - a live token is rotated: revoked, and a child token issued (models.GrantRefreshTokenSwap);
 * - a revoked token that is the parent of the session's currently active token
 *   (Session.FindCurrentlyActiveRefreshToken) gets that active token back: its answer was lost;
 * - another revoked token, within refresh_token_reuse_interval of its revocation, is rotated
 *   again: a new child token (concurrent refreshes);
 * - any other reuse answers refresh_token_already_used and, with rotation enabled, revokes every
 *   live token of the session (models.RevokeTokenFamily), committed with the error.
 */
async function refreshTokenGrant(c: Ctx): Promise<Response> {
  const { refresh_token: refreshToken } = await readBody(c.req, RefreshBody)
  // RefreshTokenGrantParams.Validate. (The signed v2 format is never issued here.)
  if (!refreshToken || !REFRESH_TOKEN.test(refreshToken)) {
    fail(400, 'validation_failed', 'Refresh token is not valid')
  }
  const { settings } = c.svc
  const session = await c.svc.sql.begin(async (tx) => {
    // Waits for a concurrent refresh of the same token, then sees its outcome.
    const [rt] = await tx<
      {
        id: string
        revoked: boolean
        session_id: string | null
        user_id: string | null
        signed_in_at: Date
        expired: boolean
        banned: boolean
        reusable: boolean
      }[]
    >`
      select rt.id, rt.revoked, s.id as session_id, u.id as user_id, s.created_at as signed_in_at,
        coalesce(s.not_after < now(), false) as expired,
        coalesce(u.banned_until > now(), false) as banned,
        now() <= rt.updated_at + make_interval(secs => ${settings.refreshTokenReuseInterval})
          as reusable
      from auth.refresh_tokens rt
        left join auth.users u on u.id = rt.user_id::uuid
        left join auth.sessions s on s.id = rt.session_id
      where rt.token = ${refreshToken}
      for update of rt`
    const invalid = 'Invalid Refresh Token:'
    if (!rt?.user_id) fail(400, 'refresh_token_not_found', `${invalid} Refresh Token Not Found`)
    if (rt.banned) fail(400, 'user_banned', `${invalid} User Banned`)
    if (!rt.session_id) fail(400, 'session_not_found', `${invalid} No Valid Session Found`)
    if (rt.expired) fail(400, 'session_expired', `${invalid} Session Expired`)
    const { user_id: userId, session_id: sessionId, signed_in_at: signedInAt } = rt
    let issued: string | undefined
    if (rt.revoked) {
      const [active] = await tx<{ token: string; parent: string | null }[]>`
        select token, parent from auth.refresh_tokens
        where session_id = ${sessionId} and not revoked order by id desc limit 1`
      if (active?.parent === refreshToken) issued = active.token
      else if (!rt.reusable) {
        if (settings.refreshTokenRotation) {
          await tx`update auth.refresh_tokens set revoked = true, updated_at = now()
            where session_id = ${sessionId} and not revoked`
        }
        return null
      }
    }
    if (!issued) {
      issued = newRefreshToken()
      await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${rt.id}`
      await tx`insert into auth.refresh_tokens (token, user_id, parent, session_id)
        values (${issued}, ${userId}, ${refreshToken}, ${sessionId})`
      await tx`update auth.users set last_sign_in_at = now() where id = ${userId}`
    }
    await tx`update auth.sessions set updated_at = now(), user_agent = ${userAgent(c.req)}
      where id = ${sessionId}`
    return { userId, sessionId, signedInAt, refreshToken: issued }
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
  limitRate(c, c.svc.limits.signups)
  const { email, phone, password, data } = await readBody(c.req, Credentials)
  // validateUserUpdateParams' order: the email, then the password.
  if (email) validateEmail(email)
  if (password != null) checkPasswordStrength(c.svc.settings, password)
  const unsupported = (what: string) =>
    fail(
      422,
      'validation_failed',
      `Changing the ${what} is not supported by the local auth service`,
    )
  const newEmail = email && email.toLowerCase() !== user.email ? email.toLowerCase() : undefined
  if (newEmail) {
    const [taken] = await c.svc.sql`select 1 from auth.users where lower(email) = ${newEmail} and id <> ${user.id}`
    if (taken) fail(422, 'email_exists', 'A user with this email address has already been registered')
  }
  if (phone && phone !== (user.phone ?? '')) unsupported('phone number')
  checkMetadata(data)
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
    // The new address takes effect once confirmed (/verify type=email_change): from it, and from the
    // current one too while double_confirm_changes is on.
    if (newEmail) await sendAuthEmail(c, tx, 'email_change', user.id, newEmail)
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

// ---- emails: confirmation, recovery, magic link, email change -------------

type EmailKind = 'signup' | 'recovery' | 'magiclink' | 'email_change'

/** GoTrue's crypto.GenerateTokenHash: SHA-224 of the address and the code, hex. */
const tokenHash = (address: string, otp: string) => createHash('sha224').update(address + otp).digest('hex')

const otpOf = (digits: number) => Array.from({ length: digits }, () => randomInt(10)).join('')

/** The column that times each kind's email, for max_frequency and expiry. */
const SENT_AT: Record<EmailKind, string> = {
  signup: 'confirmation_sent_at',
  recovery: 'recovery_sent_at',
  magiclink: 'recovery_sent_at',
  email_change: 'email_change_sent_at',
}

/**
 * GoTrue's sendConfirmation / sendPasswordRecovery / sendMagicLink / sendEmailChange: a new code
 * and token for the kind (the token is SHA-224 of the address and the code, stored on the user),
 * the email with its link (`/verify?token=…&type=…&redirect_to=…`) and code, in the caller's
 * transaction: a mail that cannot be sent leaves no token behind.
 */
async function sendAuthEmail(c: Ctx, tx: Db, kind: EmailKind, userId: string, newEmail?: string): Promise<void> {
  const { settings } = c.svc
  const [u] = await tx<{ email: string; sent_at: Date | null; meta: Json | null }[]>`
    select email, ${tx(SENT_AT[kind])} as sent_at, raw_user_meta_data as meta from auth.users where id = ${userId}`
  const wait = u.sent_at ? u.sent_at.getTime() + settings.email.maxFrequencySeconds * 1000 - Date.now() : 0
  if (wait > 0) {
    fail(429, 'over_email_send_rate_limit', `For security purposes, you can only request this after ${Math.ceil(wait / 1000)} seconds.`)
  }
  // As GoTrue (for now), the service-wide hourly limit applies while confirmations are on.
  if (settings.email.confirmations && !c.svc.limits.emails.allow()) {
    fail(429, 'over_email_send_rate_limit', 'email rate limit exceeded')
  }
  const referrer = referrerOf(c)
  const link = (hash: string, type: string) =>
    `${c.svc.issuer}/verify?token=${hash}&type=${type}&redirect_to=${encodeURIComponent(referrer)}`
  const mails: { to: string; otp: string; hash: string }[] = []
  const code = () => otpOf(settings.email.otpLength)
  if (kind === 'email_change') {
    const otpNew = code()
    const hashNew = tokenHash(newEmail!, otpNew)
    mails.push({ to: newEmail!, otp: otpNew, hash: hashNew })
    let hashCurrent = ''
    if (settings.email.secureEmailChange && u.email) {
      const otpCurrent = code()
      hashCurrent = tokenHash(u.email, otpCurrent)
      mails.push({ to: u.email, otp: otpCurrent, hash: hashCurrent })
    }
    await tx`update auth.users set email_change = ${newEmail!}, email_change_token_new = ${hashNew},
      email_change_token_current = ${hashCurrent}, email_change_confirm_status = 0, email_change_sent_at = now()
      where id = ${userId}`
  } else {
    const otp = code()
    const hash = tokenHash(u.email, otp)
    mails.push({ to: u.email, otp, hash })
    if (kind === 'signup') {
      await tx`update auth.users set confirmation_token = ${hash}, confirmation_sent_at = now() where id = ${userId}`
    } else {
      await tx`update auth.users set recovery_token = ${hash}, recovery_sent_at = now() where id = ${userId}`
    }
  }
  if (!c.svc.mailer) fail(500, 'unexpected_failure', 'Error sending email: no mailer is configured')
  for (const m of mails) {
    const content = authEmail(kind, link(m.hash, kind), m.otp, u.email, newEmail)
    try {
      await c.svc.mailer.send({
        to: m.to,
        subject: content.subject,
        text: content.text,
        html: content.html,
        messageId: `<auth.${kind}.${m.hash.slice(0, 24)}@pam.local>`,
        idempotencyKey: `auth/${kind}/${m.hash}`,
      })
    } catch (err) {
      throw new AuthError(500, 'unexpected_failure', `Error sending ${kind === 'signup' ? 'confirmation' : kind.replace('_', ' ')} email`, {
        cause: err instanceof Error ? err.message : String(err),
      })
    }
  }
}

/** Supabase Auth's default templates (subjects as it has them), with the link and the code in plain text too. */
function authEmail(kind: EmailKind, url: string, otp: string, email: string, newEmail?: string) {
  const t = {
    signup: ['Confirm your email address', 'Follow the link below to confirm this email address and finish signing up.'],
    recovery: ['Reset your password', 'We received a request to reset your password. Follow the link below to choose a new one.'],
    magiclink: ['Your sign-in link', 'Follow the link below to sign in. This link expires shortly and can only be used once.'],
    email_change: ['Confirm your new email address', `Follow the link below to confirm ${newEmail} as your new email address (instead of ${email}).`],
  }[kind]
  const text = `${t[1]}\n\n${url}\n\nOr enter this code: ${otp}\n\nIf you didn't request this, you can safely ignore this email.\n`
  const esc = (x: string) => x.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[ch]!))
  const html = `<h2>${esc(t[0])}</h2>\n<p>${esc(t[1])}</p>\n<p><a href="${esc(url)}">${esc(t[0])}</a></p>\n` +
    `<p>Or enter this code: <strong>${otp}</strong></p>\n`
  return { subject: t[0], text, html }
}

/** GoTrue's GetReferrer: `redirect_to` (header, then query) if allowed, else the Referer if allowed, else site_url. */
function referrerOf(c: Ctx): string {
  for (const candidate of [c.req.headers.get('redirect_to'), c.url.searchParams.get('redirect_to'), c.req.headers.get('referer')]) {
    if (candidate && redirectAllowed(c.svc.settings, candidate)) return candidate
  }
  return c.svc.settings.siteUrl
}

/** GoTrue's IsRedirectURLValid: the site's own origin (any port on loopback), a loopback address, or an allow-list glob. */
function redirectAllowed(settings: AuthSettings, target: string): boolean {
  let base: URL, ref: URL
  try {
    base = new URL(settings.siteUrl)
    ref = new URL(target)
  } catch {
    return false
  }
  const loopback = (h: string) => h === 'localhost' || h === '127.0.0.1' || h === '[::1]' || /^127\./.test(h)
  if (base.hostname === ref.hostname && base.protocol === ref.protocol && (base.port === ref.port || loopback(ref.hostname))) {
    return true
  }
  if (/^\d+$/.test(ref.hostname)) return false
  if (isIP(ref.hostname.replace(/^\[|\]$/g, ''))) return loopback(ref.hostname)
  const withoutFragment = target.split('#')[0]
  return settings.additionalRedirectUrls.some((pattern) => glob(pattern).test(withoutFragment))
}

/** gobwas/glob with separators `.` and `/`, as GoTrue compiles the allow list. */
function glob(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*'
      i++
    } else if (ch === '*') re += '[^./]*'
    else if (ch === '?') re += '[^./]'
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

const EmailBody = z.object({
  email: text,
  type: text,
  data: z.record(z.string(), z.unknown()).nullish(),
  create_user: z.boolean().nullish(),
  code_challenge: text,
  code_challenge_method: text,
})

/** The local service runs the implicit flow (supabase-js's default); PKCE needs its flow state, not kept here. */
function noPkce(challenge: string | null | undefined): void {
  if (challenge) fail(400, 'validation_failed', 'The PKCE flow is not supported by the local auth service; use the implicit flow')
}

async function userIdByEmail(sql: Db, email: string): Promise<{ id: string; confirmed: boolean } | undefined> {
  const [u] = await sql<{ id: string; confirmed: boolean }[]>`
    select id, email_confirmed_at is not null as confirmed from auth.users
    where lower(email) = ${email} and not is_sso_user and deleted_at is null`
  return u
}

/** POST /recover: a recovery email when the address has an account; the same empty answer either way. */
async function recover(c: Ctx): Promise<Response> {
  const body = await readBody(c.req, EmailBody)
  if (!body.email) fail(400, 'validation_failed', 'Password recovery requires an email')
  const email = validateEmail(body.email)
  noPkce(body.code_challenge)
  limitRate(c, c.svc.limits.signups)
  const user = await userIdByEmail(c.svc.sql, email)
  if (user) await c.svc.sql.begin((tx) => sendAuthEmail(c, tx, 'recovery', user.id))
  return json(200, {})
}

/** POST /otp (and the older /magiclink): a sign-in link and code by email; a new address signs up first. */
async function otp(c: Ctx): Promise<Response> {
  const body = await readBody(c.req, EmailBody)
  if (!body.email) fail(400, 'validation_failed', 'One of email or phone must be set')
  const email = validateEmail(body.email)
  noPkce(body.code_challenge)
  limitRate(c, c.svc.limits.signups)
  checkMetadata(body.data)
  const existing = await userIdByEmail(c.svc.sql, email)
  if (!existing?.confirmed) {
    if (body.create_user === false && !existing) fail(422, 'otp_disabled', 'Signups not allowed for otp')
    if (!c.svc.settings.enableSignup && !existing) fail(422, 'signup_disabled', 'Signups not allowed for this instance')
  }
  await c.svc.sql.begin(async (tx) => {
    let id = existing?.id
    if (!id) {
      id = crypto.randomUUID()
      const confirmed = !c.svc.settings.email.confirmations
      const identity = { ...body.data, sub: id, email, email_verified: false, phone_verified: false }
      await tx`
        insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
          raw_app_meta_data, raw_user_meta_data)
        values (${NIL_UUID}, ${id}, 'authenticated', 'authenticated', ${email}, '', ${confirmed ? new Date() : null},
          ${jsonb({ provider: 'email', providers: ['email'] })}::text::jsonb,
          ${jsonb({ ...identity, email_verified: confirmed })}::text::jsonb)`
      await tx`
        insert into auth.identities (provider_id, user_id, identity_data, provider)
        values (${id}, ${id}, ${jsonb(identity)}::text::jsonb, 'email')`
      await sendAuthEmail(c, tx, confirmed ? 'magiclink' : 'signup', id)
    } else {
      await sendAuthEmail(c, tx, existing!.confirmed ? 'magiclink' : 'signup', id)
    }
  })
  return json(200, {})
}

/** POST /resend: the sign-up confirmation or the email change's emails again. */
async function resend(c: Ctx): Promise<Response> {
  const body = await readBody(c.req, EmailBody)
  if (body.type !== 'signup' && body.type !== 'email_change') {
    fail(400, 'validation_failed', 'Missing one of these types: signup, email_change, sms, phone_change')
  }
  if (!body.email) fail(400, 'validation_failed', 'Type provided requires an email address')
  const email = validateEmail(body.email)
  limitRate(c, c.svc.limits.signups)
  await c.svc.sql.begin(async (tx) => {
    if (body.type === 'signup') {
      const user = await userIdByEmail(tx, email)
      // GoTrue answers the same for an unknown address; a confirmed one is an error.
      if (!user) return
      if (user.confirmed) fail(400, 'email_address_not_authorized', 'Email link is invalid or has expired')
      await sendAuthEmail(c, tx, 'signup', user.id)
    } else {
      const [user] = await tx<{ id: string; email_change: string }[]>`
        select id, email_change from auth.users where lower(email_change) = ${email} and email_change <> ''`
      if (user) await sendAuthEmail(c, tx, 'email_change', user.id, user.email_change)
    }
  })
  return json(200, {})
}

const VerifyBody = z.object({
  type: text,
  token: text,
  token_hash: text,
  email: text,
  phone: text,
  redirect_to: text,
})

const SINGLE_CONFIRMATION = 'Confirmation link accepted. Please proceed to confirm link sent to the other email'

/**
 * /verify, as GoTrue's Verify: POST with `{type, token_hash}` or `{type, email, token}` answers the
 * session (or, for the first of two email-change confirmations, a message); GET (the emailed link,
 * `?token=<hash>&type=…&redirect_to=…`) redirects to redirect_to with the session in the fragment
 * (`#access_token=…&refresh_token=…&type=recovery`), or the error there.
 */
async function verify(c: Ctx): Promise<Response> {
  const isGet = c.req.method === 'GET'
  const q = c.url.searchParams
  const p = isGet
    ? { type: q.get('type'), token: null, token_hash: q.get('token'), email: null }
    : await readBody(c.req, VerifyBody)
  const redirectTo = isGet ? referrerOf(c) : ''
  if (!p.type) fail(400, 'validation_failed', 'Verify requires a verification type')
  if (isGet && !p.token_hash) fail(400, 'validation_failed', 'Verify requires a token or a token hash')
  if (!isGet && Boolean(p.token) === Boolean(p.token_hash)) fail(400, 'validation_failed', 'Verify requires either a token or a token hash')
  limitRate(c, c.svc.limits.verify)
  try {
    const outcome = await c.svc.sql.begin(async (tx) => {
      const type = p.type as string
      let hash = p.token_hash ?? ''
      if (p.token) {
        // A phone code (sms, phone_change): this service has no phone accounts, so no code is valid.
        if (p.phone && !p.email) fail(403, 'otp_expired', 'Token has expired or is invalid')
        if (!p.email || p.phone) fail(400, 'validation_failed', 'Only an email address or phone number should be provided on verify')
        hash = tokenHash(validateEmail(p.email), p.token)
      }
      if (!/^[0-9a-f]{56}$/.test(hash)) fail(403, 'otp_expired', 'Email link is invalid or has expired')
      const column = { signup: 'confirmation_token', invite: 'confirmation_token', recovery: 'recovery_token', magiclink: 'recovery_token' }[type]
      const expiry = c.svc.settings.email.otpExpirySeconds
      let user: { id: string; banned: boolean } | undefined
      if (type === 'email') {
        ;[user] = await tx`select id, coalesce(banned_until > now(), false) as banned from auth.users
          where (confirmation_token = ${hash} and confirmation_sent_at > now() - make_interval(secs => ${expiry}))
             or (recovery_token = ${hash} and recovery_sent_at > now() - make_interval(secs => ${expiry})) for update`
      } else if (column) {
        const sentAt = column === 'confirmation_token' ? 'confirmation_sent_at' : 'recovery_sent_at'
        ;[user] = await tx`select id, coalesce(banned_until > now(), false) as banned from auth.users
          where ${tx(column)} = ${hash} and ${tx(sentAt)} > now() - make_interval(secs => ${expiry}) for update`
      } else if (type === 'email_change') {
        ;[user] = await tx`select id, coalesce(banned_until > now(), false) as banned from auth.users
          where (email_change_token_new = ${hash} or email_change_token_current = ${hash})
            and email_change_sent_at > now() - make_interval(secs => ${expiry}) for update`
      } else {
        fail(400, 'validation_failed', 'Unsupported verification type')
      }
      if (!user) {
        fail(403, 'otp_expired', p.token ? 'Token has expired or is invalid' : 'Email link is invalid or has expired')
      }
      if (user.banned) fail(403, 'user_banned', 'User is banned')
      if (type === 'email_change') {
        const single = await confirmEmailChange(c, tx, user.id, hash)
        if (single) return { single: true as const }
      } else if (type === 'signup' || type === 'invite' || type === 'email') {
        await tx`update auth.users set confirmation_token = '', recovery_token = case when recovery_token = ${hash} then '' else recovery_token end,
          email_confirmed_at = coalesce(email_confirmed_at, now()),
          raw_user_meta_data = coalesce(raw_user_meta_data, '{}') || '{"email_verified": true}' where id = ${user.id}`
        await tx`update auth.identities set identity_data = identity_data || '{"email_verified": true}'
          where user_id = ${user.id} and provider = 'email'`
      } else {
        await tx`update auth.users set recovery_token = '', email_confirmed_at = coalesce(email_confirmed_at, now())
          where id = ${user.id}`
      }
      return { session: await startSession(tx, user.id, c.req) }
    })
    if ('single' in outcome) {
      if (isGet) return redirect(withFragment(redirectTo, { message: SINGLE_CONFIRMATION, sb: '' }))
      return json(200, { msg: SINGLE_CONFIRMATION, code: '200' })
    }
    const res = await sessionResponse(c.svc, outcome.session, {}, 'otp')
    if (!isGet) return res
    const s = await res.json() as Json
    return redirect(withFragment(redirectTo, {
      access_token: String(s.access_token),
      expires_at: String(s.expires_at),
      expires_in: String(s.expires_in),
      refresh_token: String(s.refresh_token),
      token_type: 'bearer',
      type: p.type as string,
    }))
  } catch (err) {
    if (!isGet || !(err instanceof AuthError)) throw err
    const error = err.status === 403 ? 'access_denied' : err.status >= 500 ? 'server_error' : 'invalid_request'
    return redirect(withFragment(redirectTo, { error, error_code: err.code, error_description: err.message, sb: '' }))
  }
}

/** GoTrue's emailChangeVerify: with double confirmation, the first link only counts; then the address changes. */
async function confirmEmailChange(c: Ctx, tx: Db, userId: string, hash: string): Promise<boolean> {
  const [u] = await tx<{ email: string; email_change: string; status: number; current: string; new_token: string }[]>`
    select email, email_change, coalesce(email_change_confirm_status, 0) as status,
      coalesce(email_change_token_current, '') as current, coalesce(email_change_token_new, '') as new_token
    from auth.users where id = ${userId}`
  const { settings } = c.svc
  if (settings.email.confirmations && settings.email.secureEmailChange && u.status === 0 && u.email) {
    const matched = hash === u.current ? 'email_change_token_current' : 'email_change_token_new'
    await tx`update auth.users set email_change_confirm_status = 1, ${tx(matched)} = '' where id = ${userId}`
    return true
  }
  const [taken] = await tx`select 1 from auth.users where lower(email) = ${u.email_change} and id <> ${userId}`
  if (taken) fail(422, 'email_exists', 'A user with this email address has already been registered')
  await tx`update auth.users set email = ${u.email_change}, email_change = '', email_change_token_new = '',
    email_change_token_current = '', email_change_confirm_status = 0, email_confirmed_at = coalesce(email_confirmed_at, now()),
    raw_user_meta_data = coalesce(raw_user_meta_data, '{}') || ${jsonb({ email: u.email_change })}::text::jsonb,
    updated_at = now()
    where id = ${userId}`
  await tx`update auth.identities set identity_data = identity_data || ${jsonb({ email: u.email_change, email_verified: true })}::text::jsonb
    where user_id = ${userId} and provider = 'email'`
  return false
}

function withFragment(target: string, values: Record<string, string>): string {
  const url = new URL(target)
  url.hash = new URLSearchParams(values).toString()
  return url.toString()
}

const redirect = (location: string) => new Response(null, { status: 303, headers: { location } })

/** Emails per hour for the whole service (GoTrue's limiterOpts.Email). */
class HourLimiter {
  #sent: number[] = []
  constructor(private readonly perHour: number) {}

  allow(): boolean {
    const now = Date.now()
    this.#sent = this.#sent.filter((t) => now - t < 3_600_000)
    if (this.#sent.length >= this.perHour) return false
    this.#sent.push(now)
    return true
  }
}

// ---- sessions, tokens, users ----------------------------------------------

async function startSession(tx: Db, userId: string, req: Request): Promise<SessionInfo> {
  const [session] = await tx<{ id: string; created_at: Date }[]>`
    insert into auth.sessions (id, user_id, aal, user_agent)
    values (${crypto.randomUUID()}, ${userId}, 'aal1', ${userAgent(req)})
    returning id, created_at`
  const refreshToken = newRefreshToken()
  await tx`insert into auth.refresh_tokens (token, user_id, session_id)
    values (${refreshToken}, ${userId}, ${session.id})`
  await tx`update auth.users set last_sign_in_at = now() where id = ${userId}`
  return { userId, sessionId: session.id, signedInAt: session.created_at, refreshToken }
}

async function sessionResponse(
  svc: Service,
  session: SessionInfo,
  extra: Json = {},
  method: 'password' | 'otp' = 'password',
): Promise<Response> {
  const user = await loadUser(svc.sql, session.userId)
  if (!user) throw new Error('user disappeared while signing in')
  const u = user.row
  const now = Math.floor(Date.now() / 1000)
  const ttl = svc.settings.jwtExpiry
  const claims: JWTPayload = {
    iss: svc.issuer,
    sub: u.id,
    aud: u.aud || 'authenticated',
    exp: now + ttl,
    iat: now,
    email: u.email ?? '',
    phone: u.phone ?? '',
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    role: u.role || 'authenticated',
    aal: 'aal1',
    amr: [{ method, timestamp: Math.floor(session.signedInAt.getTime() / 1000) }],
    session_id: session.sessionId,
    is_anonymous: u.is_anonymous,
  }
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: svc.keys.kid, typ: 'JWT' })
    .sign(await svc.signingKey)
  return json(200, {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: ttl,
    expires_at: now + ttl,
    refresh_token: session.refreshToken,
    user: userJson(user),
    ...extra,
  })
}

/** GoTrue's v1 refresh token (crypto.SecureAlphanumeric(12)): 12 lowercase base32 characters. */
function newRefreshToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => alphabet[b & 31]).join('')
}

function userAgent(req: Request): string | null {
  return req.headers.get('user-agent') || null
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
    confirmation_sent_at: iso(u.confirmation_sent_at),
    recovery_sent_at: iso(u.recovery_sent_at),
    new_email: u.email_change || undefined,
    email_change_sent_at: iso(u.email_change_sent_at),
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

/** GoTrue's checkPasswordStrength, for a password about to be stored. */
function checkPasswordStrength(settings: AuthSettings, password: string): void {
  // Postgres text cannot hold them, so bcrypt here could not either.
  if (!storable(password)) {
    fail(400, 'validation_failed', 'Password cannot contain NUL characters or unpaired surrogates')
  }
  if (byteLength(password) > MAX_PASSWORD_BYTES) {
    fail(
      400,
      'validation_failed',
      `Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`,
    )
  }
  const weak = passwordWeakness(settings, password)
  if (weak) fail(422, 'weak_password', weak.message, { weak_password: { reasons: weak.reasons } })
}

/** Why `password` is weak under the settings (GoTrue's WeakPasswordError), or null. */
function passwordWeakness(settings: AuthSettings, password: string) {
  const min = settings.minimumPasswordLength
  return byteLength(password) < min
    ? { message: `Password should be at least ${min} characters.`, reasons: ['length'] }
    : null
}

/** In bytes, as GoTrue (Go's len) counts them. */
function byteLength(text: string): number {
  return new TextEncoder().encode(text).length
}

/** The format check GoTrue uses (github.com/badoux/checkmail ValidateFormat). */
const EMAIL = new RegExp(
  "^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?" +
    '(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$',
)

function validateEmail(email: string): string {
  if (!email) fail(400, 'validation_failed', 'An email address is required')
  if (email.length > 255) fail(400, 'validation_failed', 'An email address is too long')
  if (!EMAIL.test(email)) {
    fail(400, 'validation_failed', 'Unable to validate email address: invalid format')
  }
  return email.toLowerCase()
}

/** User metadata Postgres can store as jsonb (where GoTrue would fail with a 500). */
function checkMetadata(data: Json | null | undefined): void {
  const ok = (value: unknown): boolean =>
    typeof value === 'string'
      ? storable(value)
      : Array.isArray(value)
      ? value.every(ok)
      : typeof value === 'object' && value !== null
      ? Object.entries(value).every(([k, v]) => storable(k) && ok(v))
      : true
  if (data && !ok(data)) {
    fail(
      400,
      'validation_failed',
      'User metadata cannot contain NUL characters or unpaired surrogates',
    )
  }
}

/** Text Postgres can store: no NUL character, no unpaired UTF-16 surrogate. */
function storable(text: string): boolean {
  return !text.includes('\0') && text.isWellFormed()
}

// ---- rate limits ----------------------------------------------------------

const BUCKET_SIZE = 30
const BUCKET_LIFETIME_MS = 60 * 60 * 1000

/**
 * Supabase Auth's per-IP limiter (internal/api/apilimiter: tollbooth over golang.org/x/time/rate):
 * each IP has a bucket of 30 requests, refilled at `perFiveMinutes` / 300 per second; a bucket is
 * dropped an hour after it was made (tollbooth's expirable cache), and the IP starts full again.
 */
class IpLimiter {
  #buckets = new Map<string, { tokens: number; at: number; created: number }>()
  #swept = Date.now()

  constructor(private readonly perFiveMinutes: number) {}

  allow(ip: string): boolean {
    const now = Date.now()
    if (now - this.#swept > BUCKET_LIFETIME_MS) this.#sweep(now)
    let bucket = this.#buckets.get(ip)
    if (!bucket || now - bucket.created >= BUCKET_LIFETIME_MS) {
      bucket = { tokens: BUCKET_SIZE, at: now, created: now }
      this.#buckets.set(ip, bucket)
    }
    const refill = ((now - bucket.at) / 1000) * (this.perFiveMinutes / 300)
    bucket.tokens = Math.min(BUCKET_SIZE, bucket.tokens + refill)
    bucket.at = now
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  #sweep(now: number): void {
    for (const [ip, bucket] of this.#buckets) {
      if (now - bucket.created >= BUCKET_LIFETIME_MS) this.#buckets.delete(ip)
    }
    this.#swept = now
  }
}

/** GoTrue's performRateLimiting: 429 over_request_rate_limit once the client's bucket is empty. */
function limitRate(c: Ctx, limiter: IpLimiter): void {
  const ip = clientIp(c)
  if (ip !== null && !limiter.allow(ip)) {
    fail(429, 'over_request_rate_limit', 'Request rate limit reached')
  }
}

/**
 * The address rate limits count, as hosted Supabase Auth picks it:
 * 1. with IP address forwarding on, the first value of `Sb-Forwarded-For` when it is an IP address,
 *    on a request made with the secret key (the platform takes it from no other key; GoTrue's
 *    sbff middleware then puts it first);
 * 2. else the first value of `X-Forwarded-For`, set by the trusted gateway in front
 *    (GOTRUE_RATE_LIMIT_HEADER on hosted Supabase);
 * 3. else the socket address, when the service is served directly.
 * null when none is known: GoTrue then applies no limit.
 */
function clientIp(c: Ctx): string | null {
  const first = (header: string) => c.req.headers.get(header)?.split(',')[0].trim() || null
  const forwarded = first('sb-forwarded-for')
  if (c.svc.settings.sbForwardedFor && c.secretKey && forwarded) {
    const ip = canonicalIp(forwarded)
    if (ip) return ip
  }
  return first('x-forwarded-for') ?? c.remoteAddr ?? null
}

/** Go's net.ParseIP(text).String(): one spelling per address, or null. */
function canonicalIp(text: string): string | null {
  const kind = isIP(text)
  if (kind === 4) return text
  if (kind !== 6 || text.includes('%')) return null
  return new URL(`http://[${text}]`).hostname.slice(1, -1)
}

// ---- HTTP helpers ---------------------------------------------------------

/** The API gateway's check (Kong on hosted Supabase): publishable or secret key; which one. */
function requireApiKey(c: Ctx): 'publishable' | 'secret' {
  const { publishableKey, secretKey } = c.svc.keys
  const role = (key: string | null) =>
    key === null
      ? null
      : sameText(secretKey, key)
      ? 'secret'
      : sameText(publishableKey, key)
      ? 'publishable'
      : null
  const apikey = c.req.headers.get('apikey') ?? c.url.searchParams.get('apikey')
  const found = role(apikey) ?? role(bearerToken(c.req))
  if (found) return found
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
