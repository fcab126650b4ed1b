// auth: the account API over Supabase Auth — sign-up with profile fields,
// login, refresh, logout, and the caller's own profile (read, update, delete).
import { decodeJwt } from 'jose'
import { createApp, route, z } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { postgresClient, pool, type PostgresApi } from '../_shared/db.ts'
import { ApiError, badRequest, notFound } from '../_shared/errors.ts'
import { authRequest, type AuthSession, type AuthUser } from '../_shared/supabase-auth.ts'
import { CACHE_POLICIES, invalidateUser } from '../_shared/cache.ts'

const Email = z.string().trim().toLowerCase().email().max(254).openapi({ example: 'traveller@example.com' })
// bcrypt only reads 72 bytes; Supabase Auth rejects longer passwords too.
const Password = z.string().min(8, 'must be at least 8 characters').max(72)
  .openapi({ example: 'a-long-passphrase' })
const FullName = z.string().trim().min(1).max(200)
const Region = z.string().trim().min(1).max(100).openapi({ example: 'AU-QLD' })

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

const Preferences = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').optional(),
  units: z.enum(['metric', 'imperial']).optional(),
  timezone: z.string().max(64).refine(isTimeZone, 'an IANA time zone such as Australia/Brisbane').optional(),
  language: z.string().regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'a language tag such as en-AU').optional(),
  notifications: z.object({
    email: z.boolean().optional(),
    push: z.boolean().optional(),
    maintenance_reminders: z.boolean().optional(),
    budget_alerts: z.boolean().optional(),
  }).strict().optional(),
}).strict().openapi('Preferences')

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
  rateLimit: 'auth',
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
  rateLimit: 'auth',
  tags: ['auth'],
  summary: 'Sign in with email and password',
  request: body(z.object({ email: Email, password: z.string().min(1).max(72) })),
  responses: { 200: { description: 'Signed in', ...json(z.object({ user: User, session: Session })) } },
})

const refresh = route({
  method: 'post',
  path: '/refresh',
  auth: 'publishable',
  rateLimit: 'auth',
  tags: ['auth'],
  summary: 'Exchange a refresh token for a new session (refresh tokens are single-use)',
  request: body(z.object({ refresh_token: z.string().min(1).max(512) })),
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
  summary: 'Delete the account and every row it owns',
  responses: { 204: { description: 'Deleted' } },
})

type ProfileRow = z.infer<typeof Profile>

// The route's 'user' gate has already verified this token.
const bearerToken = (header?: string) => header!.slice('Bearer '.length)

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

export function createAuthApp(config: Config = getConfig()): App {
  const app = createApp('auth', config, 'Accounts and profiles over Supabase Auth.')

  app.openapi(signup, async (c) => {
    const { email, password, full_name, region } = c.req.valid('json')
    const res = await authRequest<AuthSession | AuthUser>(config, '/signup', {
      body: { email, password, data: { full_name, region } },
    })
    // With email confirmation on, Supabase Auth answers with the user and no session.
    const session = res && 'access_token' in res ? res as AuthSession : null
    const user = session ? session.user : res as AuthUser
    let profile: ProfileRow | null = null
    if (session) {
      // The token was just issued to us by Supabase Auth: its claims name the new user.
      const claims = decodeJwt(session.access_token) as Record<string, unknown>
      profile = (await readProfile(postgresClient(pool(config.databaseUrl, config.dbPoolMax), claims))) ?? null
    }
    return c.json({ user, profile, session: session && sessionOf(session) }, 201)
  })

  app.openapi(login, async (c) => {
    const { email, password } = c.req.valid('json')
    const s = (await authRequest<AuthSession>(config, '/token?grant_type=password', { body: { email, password } }))!
    return c.json({ user: s.user, session: sessionOf(s) }, 200)
  })

  app.openapi(refresh, async (c) => {
    const { refresh_token } = c.req.valid('json')
    const s = (await authRequest<AuthSession>(config, '/token?grant_type=refresh_token', {
      body: { refresh_token },
    }))!
    return c.json({ user: s.user, session: sessionOf(s) }, 200)
  })

  app.openapi(logout, async (c) => {
    const { scope } = c.req.valid('query')
    await authRequest(config, `/logout?scope=${scope}`, { token: bearerToken(c.req.header('authorization')) })
    return c.body(null, 204)
  })

  const profiles = CACHE_POLICIES.user_profiles

  app.openapi(getMe, async (c) => {
    // The key comes from the verified token's sub: a hit can only be the caller's own profile.
    const { value: profile, status } = await c.var.cache.getOrLoad(
      profiles.key(c.var.userId!),
      profiles.ttl,
      async () => (await readProfile(c.var.postgres)) ?? Promise.reject(notFound('profile')),
    )
    c.header('x-cache', status)
    return c.json({ profile }, 200)
  })

  app.openapi(patchMe, async (c) => {
    const patch = c.req.valid('json')
    if (Object.keys(patch).length === 0) throw badRequest('nothing to update: send full_name, region or preferences')
    const rows = await c.var.postgres.query<ProfileRow>`
      update pam.profiles set
        full_name = coalesce(${patch.full_name ?? null}, full_name),
        region = case when ${'region' in patch} then ${patch.region ?? null} else region end,
        preferences = preferences || ${patch.preferences ?? {}}::jsonb
      where id = (select auth.uid())
      returning id, email, full_name, region, preferences, created_at, updated_at`
    if (!rows[0]) throw notFound('profile')
    // Write-through: the update has committed; drop the cached copy.
    await c.var.cache.del(profiles.key(c.var.userId!))
    return c.json({ profile: serialize(rows[0]) }, 200)
  })

  app.openapi(deleteMe, async (c) => {
    const [row] = await c.var.postgres.query<{ deleted: boolean }>`select pam.delete_my_account() as deleted`
    if (!row?.deleted) throw new ApiError(404, 'not_found', 'account not found')
    await invalidateUser(c.var.cache, c.var.userId!)
    return c.body(null, 204)
  })

  return app
}

let app: App | undefined
export const handler = (req: Request) => (app ??= createAuthApp()).fetch(req)

if (import.meta.main) Deno.serve(handler)
