// The local auth service, driven for real: a throwaway Postgres database,
// the service on a random port, and the real supabase-js client.
import assert from 'node:assert/strict'
import {
  createClient,
  isAuthApiError,
  isAuthWeakPasswordError,
  type SupabaseClient,
} from '@supabase/supabase-js'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import postgres from 'postgres'
import { bootstrap, dropDatabase, ensureDatabase } from '../scripts/local/database.ts'
import { createAuthService } from '../scripts/local/auth-service.ts'
import { loadOrCreateLocalKeys, type LocalKeys } from '../scripts/local/keys.ts'

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

const uniqueEmail = (name: string) => `${name}.${crypto.randomUUID().slice(0, 8)}@example.com`

Deno.test('local auth service speaks the Supabase Auth API to supabase-js', async (t) => {
  const db = await createTestDatabase()
  const keysDir = await Deno.makeTempDir({ prefix: 'pam-keys-' })
  const sql = postgres(db.url, { max: 4, onnotice: () => {} })
  const logs: Record<string, unknown>[] = []
  let handler: (req: Request) => Promise<Response> = () =>
    Promise.resolve(new Response(null, { status: 503 }))
  const server = Deno.serve(
    { port: 0, hostname: '127.0.0.1', onListen: () => {} },
    (req) => handler(req),
  )
  const baseUrl = `http://127.0.0.1:${server.addr.port}`
  const issuer = `${baseUrl}/auth/v1`
  try {
    const keys = await loadOrCreateLocalKeys(keysDir)
    handler = createAuthService({ sql, keys, issuer, log: (entry) => logs.push(entry) })
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

    await t.step('refreshSession rotates the refresh token; a used one is refused', async () => {
      const before = (await client.auth.getSession()).data.session!
      const { data, error } = await client.auth.refreshSession()
      assertEquals(error, null)
      const after = data.session!
      assertNotEquals(after.refresh_token, before.refresh_token)
      const sid = (t: string) =>
        JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).session_id
      assertEquals(sid(after.access_token), sid(before.access_token))

      const other = newClient(baseUrl, keys)
      const reused = await other.auth.refreshSession({ refresh_token: before.refresh_token })
      assertEquals([reused.error?.status, reused.error?.code], [400, 'refresh_token_already_used'])
      // Reuse revokes the session's whole token chain, the current token too.
      const current = await other.auth.refreshSession({ refresh_token: after.refresh_token })
      assertEquals(current.error?.code, 'refresh_token_already_used')
      const unknown = await other.auth.refreshSession({ refresh_token: 'no-such-token' })
      assertEquals(unknown.error?.code, 'refresh_token_not_found')
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
    await server.shutdown()
    await sql.end()
    await db.drop()
    await Deno.remove(keysDir, { recursive: true })
  }
})
