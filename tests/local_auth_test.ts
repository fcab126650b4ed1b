// The local auth service, driven for real: a throwaway Postgres database,
// the service on a random port, and the real supabase-js client.
import './_support/shared-resources.ts'
import assert from 'node:assert/strict'
import {
  createClient,
  isAuthApiError,
  isAuthWeakPasswordError,
  type SupabaseClient,
} from '@supabase/supabase-js'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import postgres from 'postgres'
import { parse as parseToml } from 'smol-toml'
import { bootstrap, dropDatabase, ensureDatabase } from '../scripts/local/database.ts'
import { createAuthService } from '../scripts/local/auth-service.ts'
import {
  AUTH_DEFAULTS,
  type AuthSettingsOverrides,
  loadAuthSettings,
  PROJECT_CONFIG,
} from '../scripts/local/auth-settings.ts'
import { loadOrCreateLocalKeys, type LocalKeys } from '../scripts/local/keys.ts'
import { shutdownSoon } from './_support/servers.ts'

// ---- database setup: a database of its own on the test run's Postgres ------

const SERVER_URL = Deno.env.get('PAM_TEST_SERVER_URL')
if (!SERVER_URL) throw new Error('run the suite with `npm test` (it starts the test Postgres)')

/** Creates `pam_authtest_<random>` with the bootstrap only; `drop()` removes it. */
async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `pam_authtest_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`
  const url = await ensureDatabase(SERVER_URL!, name)
  await bootstrap(url)
  return { url, drop: () => dropDatabase(SERVER_URL!, name) }
}

// ---- helpers --------------------------------------------------------------

const assertEquals = (actual: unknown, expected: unknown, msg?: string) =>
  assert.deepStrictEqual(actual, expected, msg)
const assertNotEquals = (actual: unknown, expected: unknown) =>
  assert.notDeepStrictEqual(actual, expected)
function assertExists<T>(value: T, msg?: string): asserts value is NonNullable<T> {
  assert.ok(value !== null && value !== undefined, msg ?? 'expected a value')
}

function newClient(baseUrl: string, keys: LocalKeys): SupabaseClient {
  return createClient(baseUrl, keys.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  })
}

async function call(
  baseUrl: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> | null }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
}

/** The session_id claim of an access token. */
const sessionId = (token: string) =>
  JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).session_id

const uniqueEmail = (name: string) => `${name}.${crypto.randomUUID().slice(0, 8)}@example.com`

/** The service on a port of its own; it sees each request's socket address, as behind Deno.serve. */
function serveAuth(
  sql: postgres.Sql,
  keys: LocalKeys,
  settings?: AuthSettingsOverrides,
  logs?: Record<string, unknown>[],
) {
  let handler: ReturnType<typeof createAuthService> = () =>
    Promise.resolve(new Response(null, { status: 503 }))
  const server = Deno.serve(
    { port: 0, hostname: '127.0.0.1', onListen: () => {} },
    (req, info) => handler(req, info),
  )
  const baseUrl = `http://127.0.0.1:${server.addr.port}`
  const issuer = `${baseUrl}/auth/v1`
  handler = createAuthService({ sql, keys, issuer, settings, log: (entry) => logs?.push(entry) })
  return { baseUrl, issuer, stop: () => shutdownSoon(server) }
}

/** A database and keys of their own, and services on them (stopped afterwards). */
async function withAuthDatabase(
  fn: (env: {
    sql: postgres.Sql
    keys: LocalKeys
    serve: (settings?: AuthSettingsOverrides, logs?: Record<string, unknown>[]) => string
  }) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase()
  const keysDir = await Deno.makeTempDir({ prefix: 'pam-keys-' })
  const sql = postgres(db.url, { max: 4, onnotice: () => {} })
  const services: ReturnType<typeof serveAuth>[] = []
  try {
    const keys = await loadOrCreateLocalKeys(keysDir)
    await fn({
      sql,
      keys,
      serve: (settings, logs) => {
        const service = serveAuth(sql, keys, settings, logs)
        services.push(service)
        return service.baseUrl
      },
    })
  } finally {
    for (const service of services) await service.stop()
    await sql.end()
    await db.drop()
    await Deno.remove(keysDir, { recursive: true })
  }
}

const API_2024 = { 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' }

/** A raw POST as supabase-js sends it (the publishable key unless `apikey` is given). */
function post(
  baseUrl: string,
  keys: LocalKeys,
  path: string,
  body: string | Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return call(baseUrl, `/auth/v1${path}`, {
    method: 'POST',
    headers: { ...API_2024, apikey: keys.publishableKey, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

Deno.test('local auth service speaks the Supabase Auth API to supabase-js', async (t) => {
  const db = await createTestDatabase()
  const keysDir = await Deno.makeTempDir({ prefix: 'pam-keys-' })
  const sql = postgres(db.url, { max: 4, onnotice: () => {} })
  const logs: Record<string, unknown>[] = []
  const keys = await loadOrCreateLocalKeys(keysDir)
  // The project's settings, with rate limits this many requests from one address never reach.
  const unlimited = { rateLimit: { signInSignUps: 1e6, tokenRefresh: 1e6 } }
  const { baseUrl, issuer, stop } = serveAuth(sql, keys, unlimited, logs)
  try {
    const json = {
      'content-type': 'application/json',
      apikey: keys.publishableKey,
      'x-supabase-api-version': '2024-01-01',
    }
    const email = uniqueEmail('alice')
    const password = 'correct horse 1'
    const client = newClient(baseUrl, keys)

    await t.step('keys are stable across loads', async () => {
      const again = await loadOrCreateLocalKeys(keysDir)
      assertEquals(again, keys)
      assert(
        keys.publishableKey.startsWith('sb_publishable_') &&
          keys.secretKey.startsWith('sb_secret_'),
      )
      assertEquals(keys.jwks.keys, [keys.publicJwk])
      assertEquals(keys.publicJwk.d, undefined)
      assertEquals((await Deno.stat(`${keysDir}/keys.json`)).mode! & 0o777, 0o600)
    })

    await t.step(
      'signUp autoconfirms and returns a session with a verifiable ES256 token',
      async () => {
        const { data, error } = await client.auth.signUp({
          email,
          password,
          options: { data: { full_name: 'Alice' } },
        })
        assertEquals(error, null)
        assertExists(data.session)
        assertEquals(data.session.token_type, 'bearer')
        assertEquals(data.session.expires_in, 3600)
        const user = data.user!
        assertEquals(user.email, email)
        assertEquals(user.user_metadata.full_name, 'Alice')
        assertEquals(user.app_metadata, { provider: 'email', providers: ['email'] })
        assertExists(user.email_confirmed_at)
        assertEquals(user.identities?.length, 1)
        assertEquals(user.identities?.[0].provider, 'email')

        const token = data.session.access_token
        assertEquals(decodeProtectedHeader(token), { alg: 'ES256', kid: keys.kid, typ: 'JWT' })
        const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks), {
          issuer,
          audience: 'authenticated',
        })
        assertEquals(payload.sub, user.id)
        assertEquals(payload.role, 'authenticated')
        assertEquals(payload.email, email)
        assertEquals(payload.phone, '')
        assertEquals(payload.aal, 'aal1')
        assertEquals(payload.is_anonymous, false)
        assertEquals(payload.app_metadata, { provider: 'email', providers: ['email'] })
        assertEquals((payload.user_metadata as Record<string, unknown>).full_name, 'Alice')
        assertEquals((payload.amr as { method: string }[])[0].method, 'password')
        assertEquals(payload.exp! - payload.iat!, 3600)
        assertExists(payload.session_id)

        const [row] =
          await sql`select encrypted_password, email_confirmed_at from auth.users where id = ${user.id}`
        assert(row.encrypted_password.startsWith('$2'), 'bcrypt hash stored')
        assertExists(row.email_confirmed_at)
      },
    )

    await t.step('signUp errors carry GoTrue codes', async () => {
      const dup = await client.auth.signUp({ email: email.toUpperCase(), password })
      assert(isAuthApiError(dup.error))
      assertEquals([dup.error.status, dup.error.code], [422, 'user_already_exists'])

      const weak = await client.auth.signUp({ email: uniqueEmail('weak'), password: 'short' })
      assert(isAuthWeakPasswordError(weak.error))
      assertEquals([weak.error.status, weak.error.code, weak.error.reasons], [
        422,
        'weak_password',
        ['length'],
      ])

      const bad = await client.auth.signUp({ email: 'not-an-email', password })
      assertEquals([bad.error?.status, bad.error?.code], [400, 'validation_failed'])
    })

    await t.step('signInWithPassword: good and bad credentials', async () => {
      const wrong = await client.auth.signInWithPassword({ email, password: 'wrong password' })
      assert(isAuthApiError(wrong.error))
      assertEquals([wrong.error.status, wrong.error.code, wrong.error.message], [
        400,
        'invalid_credentials',
        'Invalid login credentials',
      ])
      const unknown = await client.auth.signInWithPassword({
        email: uniqueEmail('nobody'),
        password,
      })
      assertEquals(unknown.error?.code, 'invalid_credentials')

      const { data, error } = await client.auth.signInWithPassword({ email, password })
      assertEquals(error, null)
      assertEquals(data.user?.email, email)
      assertExists(data.user?.last_sign_in_at)
    })

    await t.step('getUser returns the signed-in user', async () => {
      const { data, error } = await client.auth.getUser()
      assertEquals(error, null)
      assertEquals(data.user?.email, email)
    })

    await t.step('refreshSession rotates the refresh token in the same session', async () => {
      const before = (await client.auth.getSession()).data.session!
      const { data, error } = await client.auth.refreshSession()
      assertEquals(error, null)
      const after = data.session!
      assertNotEquals(after.refresh_token, before.refresh_token)
      assert(/^[a-z0-9]{12}$/.test(after.refresh_token), 'GoTrue-shaped refresh token')
      assertEquals(sessionId(after.access_token), sessionId(before.access_token))
      assertEquals(after.user.email, email)

      const other = newClient(baseUrl, keys)
      const unknown = await other.auth.refreshSession({ refresh_token: 'abcdefghijkl' })
      assertEquals([unknown.error?.status, unknown.error?.code], [400, 'refresh_token_not_found'])
      const malformed = await other.auth.refreshSession({ refresh_token: 'no-such-token' })
      assertEquals([malformed.error?.status, malformed.error?.code, malformed.error?.message], [
        400,
        'validation_failed',
        'Refresh token is not valid',
      ])
    })

    await t.step('updateUser changes metadata and password', async () => {
      const c = newClient(baseUrl, keys)
      await c.auth.signInWithPassword({ email, password })
      const { data, error } = await c.auth.updateUser({
        data: { full_name: 'Alice B', nickname: 'al' },
      })
      assertEquals(error, null)
      assertEquals([data.user?.user_metadata.full_name, data.user?.user_metadata.nickname], [
        'Alice B',
        'al',
      ])
      const removed = await c.auth.updateUser({ data: { nickname: null } })
      assertEquals(removed.data.user?.user_metadata.nickname, undefined, 'null removes a key')
      assertEquals(removed.data.user?.user_metadata.full_name, 'Alice B')
      const same = await c.auth.updateUser({ password })
      assertEquals(same.error?.code, 'same_password')
      const changed = await c.auth.updateUser({ password: 'a new password 2' })
      assertEquals(changed.error, null)
      assertEquals(
        (await c.auth.signInWithPassword({ email, password })).error?.code,
        'invalid_credentials',
      )
      assertEquals(
        (await c.auth.signInWithPassword({ email, password: 'a new password 2' })).error,
        null,
      )
      assertEquals((await c.auth.updateUser({ password })).error, null) // back to the original
    })

    await t.step('signOut ends the session: its token and refresh token stop working', async () => {
      const a = newClient(baseUrl, keys)
      const b = newClient(baseUrl, keys)
      const sessionA = (await a.auth.signInWithPassword({ email, password })).data.session!
      const sessionB = (await b.auth.signInWithPassword({ email, password })).data.session!

      assertEquals((await a.auth.signOut({ scope: 'local' })).error, null)
      const gone = await client.auth.getUser(sessionA.access_token)
      assertEquals(gone.error?.name, 'AuthSessionMissingError') // supabase-js's mapping of session_not_found
      const raw = await call(baseUrl, '/auth/v1/user', {
        headers: { ...json, authorization: `Bearer ${sessionA.access_token}` },
      })
      assertEquals([raw.status, raw.body?.code], [403, 'session_not_found'])
      const refresh = await a.auth.refreshSession({ refresh_token: sessionA.refresh_token })
      assertEquals(refresh.error?.code, 'refresh_token_not_found')

      assertEquals(
        (await client.auth.getUser(sessionB.access_token)).error,
        null,
        'other sessions survive local',
      )
      const c = newClient(baseUrl, keys)
      const sessionC = (await c.auth.signInWithPassword({ email, password })).data.session!
      assertEquals((await c.auth.signOut({ scope: 'others' })).error, null)
      assertEquals(
        (await client.auth.getUser(sessionB.access_token)).error?.name,
        'AuthSessionMissingError',
      )
      assertEquals(
        (await client.auth.getUser(sessionC.access_token)).error,
        null,
        'others keeps the caller',
      )

      const d = newClient(baseUrl, keys)
      await d.auth.signInWithPassword({ email, password })
      assertEquals((await d.auth.signOut()).error, null) // global
      assertEquals(
        (await client.auth.getUser(sessionC.access_token)).error?.name,
        'AuthSessionMissingError',
      )
      const [{ count }] = await sql`
        select count(*)::int as count from auth.sessions s join auth.users u on u.id = s.user_id where u.email = ${email}`
      assertEquals(count, 0, 'global signs every session out')
    })

    await t.step('raw protocol: api keys, error shapes, limits, CORS', async () => {
      const login = JSON.stringify({ email, password })
      const noKey = await call(baseUrl, '/auth/v1/token?grant_type=password', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
        body: login,
      })
      assertEquals([noKey.status, noKey.body?.code], [401, 'no_api_key'])
      const badKey = await call(baseUrl, '/auth/v1/token?grant_type=password', {
        method: 'POST',
        headers: { ...json, apikey: 'sb_publishable_wrong' },
        body: login,
      })
      assertEquals([badKey.status, badKey.body?.code], [401, 'invalid_api_key'])
      const secret = await call(baseUrl, '/auth/v1/token?grant_type=password', {
        method: 'POST',
        headers: { ...json, apikey: keys.secretKey },
        body: login,
      })
      assertEquals(secret.status, 200)

      const jwks = await call(baseUrl, '/auth/v1/.well-known/jwks.json')
      assertEquals([jwks.status, jwks.body], [200, keys.jwks])
      const health = await call(baseUrl, '/auth/v1/health')
      assertEquals([health.status, health.body?.name], [200, 'GoTrue (PAM local)'])

      // Without the version header: GoTrue's legacy error shape.
      const legacy = await call(baseUrl, '/auth/v1/token?grant_type=password', {
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: keys.publishableKey },
        body: JSON.stringify({ email, password: 'nope' }),
      })
      assertEquals(legacy.body, {
        code: 400,
        error_code: 'invalid_credentials',
        msg: 'Invalid login credentials',
      })
      assertEquals(legacy.headers.get('x-sb-error-code'), 'invalid_credentials')

      const modern = await call(baseUrl, '/auth/v1/signup', {
        method: 'POST',
        headers: json,
        body: '{"email":',
      })
      assertEquals([modern.status, modern.body?.code], [400, 'bad_json'])
      assertEquals(modern.headers.get('x-supabase-api-version'), '2024-01-01')
      assertEquals(modern.headers.get('x-sb-error-code'), 'bad_json')

      const huge = await call(baseUrl, '/auth/v1/signup', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ email, password, data: { blob: 'x'.repeat(70_000) } }),
      })
      assertEquals([huge.status, huge.body?.code], [413, 'request_entity_too_large'])

      assertEquals((await call(baseUrl, '/auth/v1/nope', { headers: json })).status, 404)
      assertEquals((await call(baseUrl, '/auth/v1/signup', { headers: json })).status, 405)

      const noBearer = await call(baseUrl, '/auth/v1/logout', { method: 'POST', headers: json })
      assertEquals([noBearer.status, noBearer.body?.code], [401, 'no_authorization'])
      const garbage = await call(baseUrl, '/auth/v1/logout', {
        method: 'POST',
        headers: { ...json, authorization: 'Bearer not.a.jwt' },
      })
      assertEquals([garbage.status, garbage.body?.code], [403, 'bad_jwt'])

      const preflight = await call(baseUrl, '/auth/v1/token?grant_type=password', {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
      })
      assertEquals(preflight.status, 204)
      assertEquals(preflight.headers.get('access-control-allow-origin'), '*')
      for (
        const h of [
          'authorization',
          'apikey',
          'content-type',
          'x-client-info',
          'x-supabase-api-version',
        ]
      ) {
        assert(preflight.headers.get('access-control-allow-headers')!.includes(h), h)
      }
    })

    await t.step('logs never contain secrets', () => {
      const text = JSON.stringify(logs)
      assert(logs.length > 20)
      for (const secret of [password, 'a new password 2', keys.publishableKey, keys.secretKey]) {
        assert(!text.includes(secret), 'a secret reached the log')
      }
      assert(!text.includes('eyJ'), 'a token reached the log')
    })
  } finally {
    await stop()
    await sql.end()
    await db.drop()
    await Deno.remove(keysDir, { recursive: true })
  }
})

Deno.test('settings come from supabase/config.toml with Supabase Auth defaults', async (t) => {
  const dir = await Deno.makeTempDir({ prefix: 'pam-auth-settings-' })
  const file = (name: string, text: string) => {
    Deno.writeTextFileSync(`${dir}/${name}`, text)
    return `${dir}/${name}`
  }
  try {
    await t.step('an absent key takes the default', () => {
      assertEquals(loadAuthSettings({}, file('empty.toml', 'project_id = "x"\n')), AUTH_DEFAULTS)
      assertEquals(AUTH_DEFAULTS.minimumPasswordLength, 6)
      assertEquals(AUTH_DEFAULTS.refreshTokenReuseInterval, 10)
      assertEquals(AUTH_DEFAULTS.rateLimit, { signInSignUps: 30, tokenRefresh: 150, emailSent: 30 })
      assertEquals(AUTH_DEFAULTS.email.confirmations, true, "GoTrue's default: sign-up waits for the emailed link")
    })

    await t.step('every key is read; other keys are left alone', () => {
      const all = file(
        'all.toml',
        `[auth]
site_url = "http://127.0.0.1:3000"
minimum_password_length = 12
jwt_expiry = 600
enable_refresh_token_rotation = false
refresh_token_reuse_interval = 3
enable_signup = false

[auth.rate_limit]
email_sent = 2
sign_in_sign_ups = 7
token_refresh = 9
`,
      )
      assertEquals(loadAuthSettings({}, all), {
        minimumPasswordLength: 12,
        jwtExpiry: 600,
        refreshTokenRotation: false,
        refreshTokenReuseInterval: 3,
        enableSignup: false,
        siteUrl: 'http://127.0.0.1:3000',
        additionalRedirectUrls: [],
        email: AUTH_DEFAULTS.email,
        rateLimit: { signInSignUps: 7, tokenRefresh: 9, emailSent: 2 },
        sbForwardedFor: false,
      })
      // Explicit settings win, key by key (the rate limits too).
      assertEquals(
        loadAuthSettings(
          { jwtExpiry: 60, rateLimit: { tokenRefresh: 1 }, sbForwardedFor: true },
          all,
        ),
        {
          minimumPasswordLength: 12,
          jwtExpiry: 60,
          refreshTokenRotation: false,
          refreshTokenReuseInterval: 3,
          enableSignup: false,
          siteUrl: 'http://127.0.0.1:3000',
          additionalRedirectUrls: [],
          email: AUTH_DEFAULTS.email,
          rateLimit: { signInSignUps: 7, tokenRefresh: 1, emailSent: 2 },
          sbForwardedFor: true,
        },
      )
    })

    await t.step('a minimum under 6 is 6, as Supabase Auth has it', () => {
      const low = file('low.toml', '[auth]\nminimum_password_length = 4\n')
      assertEquals(loadAuthSettings({}, low).minimumPasswordLength, 6)
      assertEquals(loadAuthSettings({ minimumPasswordLength: 1 }, low).minimumPasswordLength, 6)
    })

    await t.step('a malformed value is an error naming its key', () => {
      const bad = file('bad.toml', '[auth.rate_limit]\ntoken_refresh = "lots"\n')
      assert.throws(() => loadAuthSettings({}, bad), /\[auth\] rate_limit\.token_refresh/)
      const expiry = file('expiry.toml', '[auth]\njwt_expiry = 0\n')
      assert.throws(() => loadAuthSettings({}, expiry), /\[auth\] jwt_expiry/)
    })

    await t.step("the default file is the project's supabase/config.toml", () => {
      const auth = (parseToml(Deno.readTextFileSync(PROJECT_CONFIG)).auth ?? {}) as Record<
        string,
        unknown
      >
      const settings = loadAuthSettings()
      assertEquals(settings.minimumPasswordLength, auth.minimum_password_length ?? 6)
      assertEquals(settings.jwtExpiry, auth.jwt_expiry ?? 3600)
      assertEquals(settings.refreshTokenReuseInterval, auth.refresh_token_reuse_interval ?? 10)
    })
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})

Deno.test('password rules and validation order follow Supabase Auth', async (t) => {
  await withAuthDatabase(async ({ sql, keys, serve }) => {
    await t.step('without settings the service follows the project config', async () => {
      const min = loadAuthSettings().minimumPasswordLength
      const baseUrl = serve()
      const short = await post(baseUrl, keys, '/signup', {
        email: uniqueEmail('short'),
        password: 'p'.repeat(min - 1),
      })
      assertEquals([short.status, short.body?.code, short.body?.message], [
        422,
        'weak_password',
        `Password should be at least ${min} characters.`,
      ])
      const exact = await post(baseUrl, keys, '/signup', {
        email: uniqueEmail('exact'),
        password: 'p'.repeat(min),
      })
      assertEquals(exact.status, 200)
    })

    const baseUrl = serve({ minimumPasswordLength: 6, jwtExpiry: 900 })
    const email = uniqueEmail('six')

    await t.step('the minimum is a setting; jwt_expiry too', async () => {
      const five = await post(baseUrl, keys, '/signup', { email, password: '12345' })
      assertEquals([five.status, five.body?.code, five.body?.message, five.body?.weak_password], [
        422,
        'weak_password',
        'Password should be at least 6 characters.',
        { reasons: ['length'] },
      ])
      const six = await post(baseUrl, keys, '/signup', { email, password: '123456' })
      assertEquals([six.status, six.body?.expires_in], [200, 900])
      const { payload } = await jwtVerify(
        six.body!.access_token as string,
        createLocalJWKSet(keys.jwks),
      )
      assertEquals(payload.exp! - payload.iat!, 900)
    })

    await t.step('signing in with a password under a stricter minimum warns', async () => {
      const strict = serve({ minimumPasswordLength: 10 })
      const login = await post(strict, keys, '/token?grant_type=password', {
        email,
        password: '123456',
      })
      assertEquals(login.status, 200)
      assertEquals(login.body?.weak_password, {
        message: 'Password should be at least 10 characters.',
        reasons: ['length'],
      })
      const fine = await post(baseUrl, keys, '/token?grant_type=password', {
        email,
        password: '123456',
      })
      assertEquals([fine.status, fine.body?.weak_password], [200, undefined])
    })

    await t.step('sign-up checks the password before the email, as GoTrue does', async () => {
      // validateSignupParams (checkPasswordStrength) runs before validateEmail.
      const both = await post(baseUrl, keys, '/signup', { email: 'a', password: '123' })
      assertEquals([both.status, both.body?.code], [422, 'weak_password'])
      const badEmail = await post(baseUrl, keys, '/signup', { email: 'a', password: '123456' })
      assertEquals([badEmail.status, badEmail.body?.code, badEmail.body?.message], [
        400,
        'validation_failed',
        'Unable to validate email address: invalid format',
      ])
      const none = await post(baseUrl, keys, '/signup', { password: '123456' })
      assertEquals([none.status, none.body?.code], [422, 'anonymous_provider_disabled'])
    })

    await t.step('updating the user checks the email before the password', async () => {
      const login = await post(baseUrl, keys, '/token?grant_type=password', {
        email,
        password: '123456',
      })
      const bearer = { authorization: `Bearer ${login.body!.access_token}` }
      const both = await call(baseUrl, '/auth/v1/user', {
        method: 'PUT',
        headers: { ...API_2024, apikey: keys.publishableKey, ...bearer },
        body: JSON.stringify({ email: 'not-an-email', password: '1' }),
      })
      assertEquals([both.status, both.body?.code, both.body?.message], [
        400,
        'validation_failed',
        'Unable to validate email address: invalid format',
      ])
      const weak = await call(baseUrl, '/auth/v1/user', {
        method: 'PUT',
        headers: { ...API_2024, apikey: keys.publishableKey, ...bearer },
        body: JSON.stringify({ password: '1' }),
      })
      assertEquals([weak.status, weak.body?.code], [422, 'weak_password'])
    })

    await t.step('enable_signup = false refuses sign-ups, not sign-ins', async () => {
      const users = () => sql`select count(*)::int as count from auth.users`.then(([r]) => r.count)
      const before = await users()
      const closed = serve({ enableSignup: false })
      const refused = await post(closed, keys, '/signup', {
        email: uniqueEmail('late'),
        password: '123456789',
      })
      assertEquals([refused.status, refused.body?.code, refused.body?.message], [
        422,
        'signup_disabled',
        'Signups not allowed for this instance',
      ])
      const login = await post(closed, keys, '/token?grant_type=password', {
        email,
        password: '123456',
      })
      assertEquals(login.status, 200)
      assertEquals(await users(), before, 'the refused sign-up created no user')
    })
  })
})

Deno.test('refresh token reuse follows Supabase Auth (token_refresh.go)', async (t) => {
  await withAuthDatabase(async ({ sql, keys, serve }) => {
    const baseUrl = serve({ refreshTokenReuseInterval: 10, refreshTokenRotation: true })
    const refresh = (token: string, url = baseUrl) =>
      post(url, keys, '/token?grant_type=refresh_token', { refresh_token: token })
    const tokenOf = (res: { body: Record<string, unknown> | null }) =>
      res.body?.refresh_token as string
    const signUp = async (url: string) => {
      const res = await post(url, keys, '/signup', {
        email: uniqueEmail('refresher'),
        password: 'a long enough password',
      })
      assertEquals(res.status, 200)
      return { token: tokenOf(res), sid: sessionId(res.body!.access_token as string) as string }
    }
    /** The session's tokens that are not revoked, oldest first. */
    const live = (sid: string) =>
      sql`select token from auth.refresh_tokens where session_id = ${sid} and not revoked
        order by id`.then((rows) => rows.map((r) => r.token))
    /** As if the token had been revoked `seconds` ago. */
    const revokedAgo = (token: string, seconds: number) =>
      sql`update auth.refresh_tokens set updated_at = now() - make_interval(secs => ${seconds})
        where token = ${token}`

    const { token: a, sid } = await signUp(baseUrl)
    let b = '', c = '', d = '', e = ''

    await t.step('a live token is rotated: revoked, and a child issued', async () => {
      const res = await refresh(a)
      assertEquals(res.status, 200)
      b = tokenOf(res)
      assertNotEquals(b, a)
      assertEquals(sessionId(res.body!.access_token as string), sid)
      assertEquals(await live(sid), [b])
    })

    await t.step(
      'the parent of the active token gets the active token back, however late',
      async () => {
        // The client never stored the answer to its refresh (a lost response).
        await revokedAgo(a, 3600)
        const res = await refresh(a)
        assertEquals([res.status, tokenOf(res)], [200, b])
        assertEquals(sessionId(res.body!.access_token as string), sid)
        assertEquals(await live(sid), [b], 'nothing rotated, nothing revoked')
      },
    )

    await t.step('concurrent refreshes with one token all get the same new token', async () => {
      const answers = await Promise.all([refresh(b), refresh(b), refresh(b)])
      assertEquals(answers.map((r) => r.status), [200, 200, 200])
      c = tokenOf(answers[0])
      assertEquals(answers.map(tokenOf), [c, c, c])
      assertEquals(await live(sid), [c])
    })

    await t.step('another rotated token within the reuse interval is rotated again', async () => {
      d = tokenOf(await refresh(c))
      // b is no longer the active token's parent; it was rotated 9 s ago.
      await revokedAgo(b, 9)
      const res = await refresh(b)
      assertEquals(res.status, 200)
      e = tokenOf(res)
      assert(![a, b, c, d].includes(e), 'a new token')
      assertEquals(await live(sid), [d, e], 'the active token is not revoked')
    })

    await t.step(
      'reuse past the interval is a leak: every live token of the session is revoked',
      async () => {
        await revokedAgo(c, 11)
        const res = await refresh(c)
        assertEquals([res.status, res.body?.code, res.body?.message], [
          400,
          'refresh_token_already_used',
          'Invalid Refresh Token: Already Used',
        ])
        assertEquals(await live(sid), [], 'revoked, and committed with the error')
        // As in GoTrue, a token revoked with its family is itself in its reuse interval for a
        // moment; past it, it is refused.
        await revokedAgo(e, 11)
        assertEquals((await refresh(e)).body?.code, 'refresh_token_already_used')
      },
    )

    await t.step('with rotation off, a leak is refused but revokes nothing', async () => {
      const lax = serve({ refreshTokenRotation: false })
      const { token: x, sid: laxSid } = await signUp(lax)
      const y = tokenOf(await refresh(x, lax))
      const z = tokenOf(await refresh(y, lax))
      await revokedAgo(x, 11)
      assertEquals((await refresh(x, lax)).body?.code, 'refresh_token_already_used')
      assertEquals(await live(laxSid), [z])
    })

    await t.step('the reuse interval is a setting', async () => {
      const strict = serve({ refreshTokenReuseInterval: 0 })
      const { token: p, sid: strictSid } = await signUp(strict)
      const q = tokenOf(await refresh(p, strict))
      tokenOf(await refresh(q, strict))
      await revokedAgo(p, 1)
      assertEquals((await refresh(p, strict)).body?.code, 'refresh_token_already_used')
      assertEquals(await live(strictSid), [])
    })

    await t.step("malformed and unknown tokens get GoTrue's errors", async () => {
      for (const token of ['', 'short', 'ABCDEFGHIJKL', 'abcdefghijklm', 'abc.defghijk']) {
        const res = await refresh(token)
        assertEquals([res.status, res.body?.code, res.body?.message], [
          400,
          'validation_failed',
          'Refresh token is not valid',
        ], token)
      }
      const missing = await post(baseUrl, keys, '/token?grant_type=refresh_token', {})
      assertEquals(missing.body?.code, 'validation_failed')
      const unknown = await refresh('abcdefghijkl')
      assertEquals([unknown.status, unknown.body?.code, unknown.body?.message], [
        400,
        'refresh_token_not_found',
        'Invalid Refresh Token: Refresh Token Not Found',
      ])
    })
  })
})

Deno.test('rate limits per client address, as Supabase Auth counts them', async (t) => {
  await withAuthDatabase(async ({ keys, serve }) => {
    // Rate 0: the burst of 30 only, so counts are exact.
    const baseUrl = serve({ rateLimit: { tokenRefresh: 0, signInSignUps: 0 } })
    const from = (ip: string) => ({ 'x-forwarded-for': ip })
    const badRefresh = (headers: Record<string, string> = {}, url = baseUrl) =>
      post(url, keys, '/token?grant_type=refresh_token', { refresh_token: 'bad' }, headers)
    const burst = async (n: number, send: () => Promise<{ status: number }>) => {
      const statuses: number[] = []
      for (let i = 0; i < n; i++) statuses.push((await send()).status)
      return statuses
    }
    const limited = { code: 'over_request_rate_limit', message: 'Request rate limit reached' }

    await t.step('/token: a burst of 30, then 429 over_request_rate_limit', async () => {
      const ip = from('198.51.100.1')
      assertEquals(await burst(31, () => badRefresh(ip)), [...Array(30).fill(400), 429])
      const modern = await badRefresh(ip)
      assertEquals([modern.status, modern.body], [429, limited])
      assertEquals(modern.headers.get('x-sb-error-code'), 'over_request_rate_limit')
      const legacy = await call(baseUrl, '/auth/v1/token?grant_type=refresh_token', {
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: keys.publishableKey, ...ip },
        body: '{"refresh_token":"bad"}',
      })
      assertEquals([legacy.status, legacy.body], [429, {
        code: 429,
        error_code: 'over_request_rate_limit',
        msg: 'Request rate limit reached',
      }])
      // One bucket for every grant type; an unknown grant type is refused before it.
      const login = await post(baseUrl, keys, '/token?grant_type=password', {
        email: 'a@example.com',
        password: 'whatever1',
      }, ip)
      assertEquals(login.status, 429)
      const unknown = await post(baseUrl, keys, '/token?grant_type=magic', {}, ip)
      assertEquals([unknown.status, unknown.body?.code], [400, 'invalid_credentials'])
    })

    await t.step('each address has its own bucket: the first X-Forwarded-For value', async () => {
      assertEquals((await badRefresh(from('198.51.100.2'))).status, 400)
      assertEquals((await badRefresh(from('198.51.100.1, 10.0.0.1'))).status, 429)
      assertEquals((await badRefresh(from(' 10.0.0.1 , 198.51.100.1'))).status, 400)
    })

    await t.step('without X-Forwarded-For the socket address counts', async () => {
      assertEquals(await burst(31, () => badRefresh()), [...Array(30).fill(400), 429])
    })

    await t.step('sign-ups and PUT /user share the sign_in_sign_ups bucket', async () => {
      const ip = from('203.0.113.50')
      const email = uniqueEmail('limited')
      const password = 'a long enough password'
      const created = await post(baseUrl, keys, '/signup', { email, password }, ip)
      assertEquals(created.status, 200)
      const weak = () =>
        post(baseUrl, keys, '/signup', { email: uniqueEmail('w'), password: '1' }, ip)
      assertEquals(await burst(30, weak), [...Array(29).fill(422), 429])
      const bearer = { authorization: `Bearer ${created.body!.access_token}` }
      const update = (headers: Record<string, string>) =>
        call(baseUrl, '/auth/v1/user', {
          method: 'PUT',
          headers: { ...API_2024, apikey: keys.publishableKey, ...bearer, ...headers },
          body: JSON.stringify({ data: { nick: 'x' } }),
        })
      assertEquals([(await update(ip)).status, (await update(ip)).body], [429, limited])
      assertEquals((await update(from('203.0.113.51'))).status, 200)
      // /token counts apart, and GET /user is not limited.
      const login = await post(baseUrl, keys, '/token?grant_type=password', { email, password }, ip)
      assertEquals(login.status, 200)
      const me = await call(baseUrl, '/auth/v1/user', {
        headers: { ...API_2024, apikey: keys.publishableKey, ...bearer, ...ip },
      })
      assertEquals(me.status, 200)
    })

    await t.step('the bucket refills at the configured rate per 5 minutes', async () => {
      const perSecond = serve({ rateLimit: { tokenRefresh: 300 } })
      const ip = from('198.51.100.9')
      const statuses = await burst(31, () => badRefresh(ip, perSecond))
      assertEquals(statuses.slice(0, 30), Array(30).fill(400))
      assertEquals(statuses[30], 429)
      await new Promise((r) => setTimeout(r, 1100))
      assertEquals(await burst(2, () => badRefresh(ip, perSecond)), [400, 429])
    })

    await t.step('Sb-Forwarded-For counts only with forwarding on and the secret key', async () => {
      const forwarding = serve({ sbForwardedFor: true, rateLimit: { tokenRefresh: 0 } })
      const server = from('192.0.2.1')
      await burst(30, () => badRefresh(server, forwarding))
      assertEquals((await badRefresh(server, forwarding)).status, 429)
      const user = (value: string, apikey = keys.secretKey) => ({
        ...server,
        'sb-forwarded-for': value,
        apikey,
      })
      assertEquals((await badRefresh(user('203.0.113.9'), forwarding)).status, 400)
      assertEquals((await badRefresh(user('203.0.113.9, 10.1.1.1'), forwarding)).status, 400)
      assertEquals(
        (await badRefresh(user('203.0.113.9', keys.publishableKey), forwarding)).status,
        429,
        'the header is not taken from a publishable-key request',
      )
      assertEquals((await badRefresh(user('not-an-ip'), forwarding)).status, 429)
      // One address, however it is spelt.
      await burst(30, () => badRefresh(user('2001:db8::1'), forwarding))
      assertEquals((await badRefresh(user('2001:DB8:0:0:0:0:0:1'), forwarding)).status, 429)
      // Forwarding off (a new project's default): ignored even with the secret key.
      assertEquals((await badRefresh(user('203.0.113.10'), baseUrl)).status, 400)
      assertEquals(
        (await badRefresh({ ...user('203.0.113.10'), ...from('198.51.100.1') }, baseUrl)).status,
        429,
      )
    })
  })
})

Deno.test('NUL characters and unpaired surrogates get a 400 and change nothing', async (t) => {
  await withAuthDatabase(async ({ sql, keys, serve }) => {
    const logs: Record<string, unknown>[] = []
    const baseUrl = serve({}, logs)
    const email = uniqueEmail('clean')
    const password = 'a clean password'
    const created = await post(baseUrl, keys, '/signup', { email, password, data: { nick: 'al' } })
    assertEquals(created.status, 200)
    const bearer = { authorization: `Bearer ${created.body!.access_token}` }
    const state = () =>
      sql`select u.email, u.encrypted_password, u.raw_user_meta_data, u.updated_at,
          (select count(*)::int from auth.sessions) as sessions,
          (select count(*)::int from auth.refresh_tokens) as tokens
        from auth.users u order by u.id`
    const before = await state()
    const put = (body: string) =>
      call(baseUrl, '/auth/v1/user', {
        method: 'PUT',
        headers: { ...API_2024, apikey: keys.publishableKey, ...bearer },
        body,
      })

    // JSON escapes in the request text, as a client would send them.
    for (const bad of ['\\u0000', '\\ud800', '\\udc00']) {
      await t.step(`${bad} in each field`, async () => {
        const fresh = uniqueEmail('fresh')
        const answers = {
          signupEmail: await post(
            baseUrl,
            keys,
            '/signup',
            `{"email":"a${bad}b@example.com","password":"${password}"}`,
          ),
          signupPassword: await post(
            baseUrl,
            keys,
            '/signup',
            `{"email":"${fresh}","password":"pass${bad}word"}`,
          ),
          signupMetadata: await post(
            baseUrl,
            keys,
            '/signup',
            `{"email":"${fresh}","password":"${password}","data":{"nick":"a${bad}"}}`,
          ),
          signupMetadataKey: await post(
            baseUrl,
            keys,
            '/signup',
            `{"email":"${fresh}","password":"${password}","data":{"x":[{"a${bad}":1}]}}`,
          ),
          loginEmail: await post(
            baseUrl,
            keys,
            '/token?grant_type=password',
            `{"email":"${bad}${email}","password":"${password}"}`,
          ),
          loginPassword: await post(
            baseUrl,
            keys,
            '/token?grant_type=password',
            `{"email":"${email}","password":"${password}${bad}"}`,
          ),
          refreshToken: await post(
            baseUrl,
            keys,
            '/token?grant_type=refresh_token',
            `{"refresh_token":"abcdefghijk${bad}"}`,
          ),
          updateMetadata: await put(`{"data":{"nick":"${bad}"}}`),
          updatePassword: await put(`{"password":"new password ${bad}"}`),
        }
        const got = Object.fromEntries(
          Object.entries(answers).map(([k, r]) => [k, `${r.status} ${r.body?.code}`]),
        )
        assertEquals(got, {
          signupEmail: '400 validation_failed',
          signupPassword: '400 validation_failed',
          signupMetadata: '400 validation_failed',
          signupMetadataKey: '400 validation_failed',
          loginEmail: '400 invalid_credentials',
          loginPassword: '400 invalid_credentials',
          refreshToken: '400 validation_failed',
          updateMetadata: '400 validation_failed',
          updatePassword: '400 validation_failed',
        })
        assertEquals(
          answers.signupEmail.body?.message,
          'Unable to validate email address: invalid format',
        )
      })
    }

    assertEquals(await state(), before, 'nothing changed')
    assertEquals(logs.filter((l) => Number(l.status) >= 500), [])
  })
})
