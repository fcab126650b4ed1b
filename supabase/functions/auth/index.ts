// auth: the account API over Supabase Auth — sign-up with profile fields,
// login, refresh, logout, and the caller's own profile (read, update, delete).
import { decodeJwt } from 'jose'
import { type AppContext, createApp, readThroughCache, route, z } from '../_shared/http.ts'
import { CachedAnswers } from '../_shared/cached-answers.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig, type RateLimitTier } from '../_shared/config.ts'
import { type Claims, forgetSession, type PostgresApi } from '../_shared/db.ts'
import { ApiError, badRequest, notFound } from '../_shared/errors.ts'
import { authRequest, type AuthSession, type AuthUser } from '../_shared/supabase-auth.ts'
import { CACHE_POLICIES, invalidateUser } from '../_shared/cache.ts'
import { singleLineText } from '../_shared/text.ts'
import { clientIp, rateLimited, rateLimitHeaders } from '../_shared/ratelimit.ts'
import { Preferences, updateProfile } from '../_shared/profile.ts'
import { removeLeftObjects } from '../_shared/storage.ts'

const Email = z.string().trim().toLowerCase().email().max(254).openapi({ example: 'traveller@example.com' })
// bcrypt only reads 72 bytes; Supabase Auth rejects longer passwords too. The
// minimum is Supabase Auth's setting (config.toml [auth] minimum_password_length):
// it answers weak_password below it.
const Password = z.string().min(1).max(72).refine((p) => !p.includes('\0'), 'must not contain NUL characters')
  .openapi({ example: 'a-long-passphrase', description: "at least the project's minimum_password_length (8 here)" })
const RefreshToken = z.string().regex(/^[A-Za-z0-9_-]{1,512}$/, 'not a refresh token')
// Text Postgres can store (no U+0000, no unpaired surrogates) and no control characters.
const FullName = singleLineText({ max: 200 })
const Region = singleLineText({ max: 100 }).openapi({ example: 'AU-QLD' })


const Profile = z.object({
  id: z.string().uuid(),
  email: z.string(),
  full_name: z.string(),
  region: z.string().nullable(),
  preferences: Preferences,
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Profile')

const Session = z.object({
  access_token: z.string(),
  token_type: z.string(),
  expires_in: z.number(),
  expires_at: z.number(),
  refresh_token: z.string(),
}).openapi('Session')

const User = z.object({ id: z.string().uuid(), email: z.string().optional() }).passthrough().openapi('User')

const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } })
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, ...json(schema) } })

const signup = route({
  method: 'post',
  path: '/signup',
  auth: 'publishable',
  rateLimit: 'none', // per IP and per account, in the handler
  tags: ['auth'],
  summary: 'Create an account and its profile',
  request: body(z.object({ email: Email, password: Password, full_name: FullName, region: Region.optional() })),
  responses: {
    201: {
      description: 'Account created; session is null when the project requires email confirmation',
      ...json(z.object({ user: User, profile: Profile.nullable(), session: Session.nullable() })),
    },
    409: { description: 'Email already registered', ...json(z.object({ error: z.any() })) },
  },
})

const login = route({
  method: 'post',
  path: '/login',
  auth: 'publishable',
  rateLimit: 'none', // per IP, per account and per failure, in the handler
  tags: ['auth'],
  summary: 'Sign in with email and password',
  request: body(z.object({ email: Email, password: Password })),
  responses: { 200: { description: 'Signed in', ...json(z.object({ user: User, session: Session })) } },
})

const refresh = route({
  method: 'post',
  path: '/refresh',
  auth: 'publishable',
  rateLimit: 'refresh',
  tags: ['auth'],
  summary: 'Exchange a refresh token for a new session (refresh tokens rotate; a retry of a lost answer gets the same session)',
  request: body(z.object({ refresh_token: RefreshToken })),
  responses: { 200: { description: 'New session', ...json(z.object({ user: User, session: Session })) } },
})

const logout = route({
  method: 'post',
  path: '/logout',
  auth: 'user',
  tags: ['auth'],
  summary: 'Sign out this session (scope=local), all sessions (global) or all others (others)',
  request: { query: z.object({ scope: z.enum(['local', 'global', 'others']).default('local') }) },
  responses: { 204: { description: 'Signed out' } },
})

const getMe = route({
  method: 'get',
  path: '/me',
  auth: 'user',
  tags: ['auth'],
  summary: "The caller's profile",
  responses: {
    200: { description: 'Profile', ...json(z.object({ profile: Profile })) },
    404: { description: 'Account deleted', ...json(z.object({ error: z.any() })) },
  },
})

const patchMe = route({
  method: 'patch',
  path: '/me',
  auth: 'user',
  tags: ['auth'],
  summary: "Update the caller's profile (preferences are merged key by key)",
  request: body(
    z.object({ full_name: FullName, region: Region.nullable(), preferences: Preferences }).partial().strict(),
  ),
  responses: { 200: { description: 'Updated profile', ...json(z.object({ profile: Profile })) } },
})

const deleteMe = route({
  method: 'delete',
  path: '/me',
  auth: 'user',
  tags: ['auth'],
  summary: 'Delete the account and every row it owns (the session must still be signed in)',
  responses: { 204: { description: 'Deleted' } },
})

type ProfileRow = z.infer<typeof Profile>

// The route's 'user' gate has already verified this token.
const bearerToken = (header?: string) => header!.replace(/^bearer[ \t]+/i, '').trim()

const profileColumns = 'id, email, full_name, region, preferences, created_at, updated_at'

async function readProfile(pg: PostgresApi): Promise<ProfileRow | undefined> {
  const rows = await pg.queryRaw<ProfileRow>(
    `select ${profileColumns} from pam.profiles where id = (select auth.uid())`,
  )
  return rows[0] && serialize(rows[0])
}

function serialize(p: ProfileRow): ProfileRow {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v))
  return { ...p, created_at: iso(p.created_at), updated_at: iso(p.updated_at) }
}

const sessionOf = (s: AuthSession) => ({
  access_token: s.access_token,
  token_type: s.token_type,
  expires_in: s.expires_in,
  expires_at: s.expires_at,
  refresh_token: s.refresh_token,
})

/** Rate-limit keys for an account: a hash, so no email address is stored in the limiter. */
async function accountKey(email: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(email))
  return Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Counts the request against each tier; 429 at the first one over its limit. */
async function limit(c: AppContext, checks: [RateLimitTier, string][], message?: string) {
  const results = await Promise.all(checks.map(([tier, id]) => c.var.rateLimiter.limit(tier, id)))
  const over = results.find((r) => !r.success)
  if (over) throw rateLimited(over, message)
  for (const [k, v] of Object.entries(rateLimitHeaders(results[0]))) c.header(k, v)
}

export function createAuthApp(config: Config = getConfig()): App {
  const app = createApp('auth', config, 'Accounts and profiles over Supabase Auth.')
  const ipOf = (c: AppContext) => clientIp(c, config)

  app.openapi(signup, async (c) => {
    const { email, password, full_name, region } = c.req.valid('json')
    const account = await accountKey(email)
    await limit(c, [['auth', `ip:${ipOf(c)}`], ['auth_account', `account:${account}`]])
    const res = await authRequest<AuthSession | AuthUser>(config, '/signup', {
      body: { email, password, data: { full_name, region } },
      clientIp: ipOf(c),
    })
    // With email confirmation on, Supabase Auth answers with the user and no session.
    const session = res && 'access_token' in res ? res as AuthSession : null
    const user = session ? session.user : res as AuthUser
    let profile: ProfileRow | null = null
    if (session) {
      // The token was just issued to us by Supabase Auth: its claims name the new user.
      c.set('claims', decodeJwt(session.access_token) as Claims)
      profile = (await readProfile(c.var.postgres)) ?? null
    }
    return c.json({ user, profile, session: session && sessionOf(session) }, 201)
  })

  app.openapi(login, async (c) => {
    const { email, password } = c.req.valid('json')
    const ip = ipOf(c)
    const account = await accountKey(email)
    await limit(c, [['auth', `ip:${ip}`], ['auth_account', `account:${account}`]])
    // Failed sign-ins are limited more tightly than sign-ins: per account from
    // this address, and per account from anywhere (a guessing attack spread
    // over many addresses), so a shared address does not lock others out.
    // Each attempt counts as a failure before it is made, and is taken back
    // when it turns out not to be one: counted only after Supabase Auth's
    // answer, attempts sent at once would all pass a limit they all exceed.
    const failures: [RateLimitTier, string][] = [
      ['login_failures', `account:${account}:ip:${ip}`],
      ['login_failures_account', `account:${account}`],
    ]
    const counted = await Promise.all(failures.map(([tier, id]) => c.var.rateLimiter.limit(tier, id)))
    const takeBack = () =>
      Promise.all(failures.map(([tier, id], i) => counted[i].success && c.var.rateLimiter.release(tier, id, counted[i])))
    const blocked = counted.find((r) => !r.success)
    if (blocked) {
      await takeBack()
      throw rateLimited(blocked, 'too many failed sign-ins for this account')
    }
    try {
      const s = (await authRequest<AuthSession>(config, '/token?grant_type=password', {
        body: { email, password },
        clientIp: ip,
      }))!
      await takeBack()
      return c.json({ user: s.user, session: sessionOf(s) }, 200)
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'invalid_credentials')) await takeBack()
      throw err
    }
  })

  app.openapi(refresh, async (c) => {
    const { refresh_token } = c.req.valid('json')
    const s = (await authRequest<AuthSession>(config, '/token?grant_type=refresh_token', {
      body: { refresh_token },
      clientIp: ipOf(c),
    }))!
    return c.json({ user: s.user, session: sessionOf(s) }, 200)
  })

  app.openapi(logout, async (c) => {
    const { scope } = c.req.valid('query')
    await authRequest(config, `/logout?scope=${scope}`, {
      token: bearerToken(c.req.header('authorization')),
      clientIp: ipOf(c),
    })
    const sid = c.var.claims?.session_id
    if (typeof sid === 'string' && scope !== 'others') forgetSession(sid)
    return c.body(null, 204)
  })

  const profiles = CACHE_POLICIES.user_profiles
  // A hit on the same cached text answers with the text made from it before (no parse, no stringify).
  const answers = new CachedAnswers<ProfileRow>()

  app.openapi(getMe, async (c) => {
    // The key comes from the verified token's sub: a hit can only be the caller's own profile.
    const key = profiles.key(c.get('userId')!)
    // An address changed in Supabase Auth reaches the profile (a trigger), not the cache; the token of the
    // change's session on carries it, so a cached profile with another address is read again.
    const email = c.get('claims')?.email
    const { value: profile, status } = await readThroughCache(
      c,
      key,
      profiles.ttl,
      async () => (await readProfile(c.get('postgres'))) ?? Promise.reject(notFound('profile')),
      (cached) => typeof email !== 'string' || cached.email === email,
      answers.parser(key),
    )
    c.set('cacheStatus', status)
    const body = answers.answer(key, profile, '', () => JSON.stringify({ profile }))
    return c.body(body, 200, { 'content-type': 'application/json' }) as never // the answer, as JSON text
  })

  app.openapi(patchMe, async (c) => {
    const patch = c.req.valid('json')
    if (Object.keys(patch).length === 0) throw badRequest('nothing to update: send full_name, region or preferences')
    const row = await updateProfile(c, patch)
    if (!row) throw notFound('profile')
    return c.json({ profile: serialize(row as ProfileRow) }, 200)
  })

  app.openapi(deleteMe, async (c) => {
    // The transaction's preamble checks the session first: a token whose
    // session has ended (signed out, password changed) deletes nothing.
    const [row] = await c.var.postgres.transaction(async (tx) =>
      (await tx`select pam.delete_my_account() as deleted`) as unknown as { deleted: boolean }[]
    )
    if (!row?.deleted) throw new ApiError(404, 'not_found', 'account not found')
    // Every file of the account (queued by the deletion; the cleanup job retries what fails now).
    await removeLeftObjects(c.var.config, c.var.userId!)
    await invalidateUser(c.var.cache, c.var.userId!)
    const sid = c.var.claims?.session_id
    if (typeof sid === 'string') forgetSession(sid)
    return c.body(null, 204)
  })

  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createAuthApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
