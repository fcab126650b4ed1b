// One local stack for the whole test run, started when the first test module
// loads: real Postgres (the throwaway database scripts/test.ts made), the
// Supabase CLI migrations, the auth service and the gateway on a free port.
// The external APIs (Mapbox, Open-Meteo) are the local stub of
// upstream-stub.ts: this machine may have no internet, and the suite never
// calls the real services (whatever MAPBOX_TOKEN the shell has).
import './shared-resources.ts'
import postgres from 'postgres'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { startStack } from '../../scripts/local/stack.ts'
import { startUpstreamStub } from './upstream-stub.ts'

const databaseUrl = Deno.env.get('PAM_TEST_DATABASE_URL')
if (!databaseUrl) {
  throw new Error('run the suite with `npm test` (it creates the test database), or set PAM_TEST_DATABASE_URL')
}
const tmp = Deno.env.get('PAM_TEST_TMP') ?? await Deno.makeTempDir({ prefix: 'pam-test-' })

// Generous limits for the suite; tests/ratelimit_test.ts checks exact ones.
for (const tier of ['AUTH', 'CHAT', 'STANDARD', 'BULK', 'SOCIAL']) Deno.env.set(`PAM_RATE_LIMIT_${tier}`, '100000')
// Quiet request logs unless asked for.
if (!Deno.env.get('PAM_TEST_LOGS')) Deno.env.set('PAM_LOG_LEVEL', 'error')

/** The stand-in for Mapbox and Open-Meteo the stack's functions call, answering
 * normally ('ok') for the whole run: a test that needs a failure starts a stub of
 * its own and an in-process app pointed at it (tests/_support/wheels.ts). */
export const upstream = startUpstreamStub()
// Read by the functions' configuration on first use, which comes after this.
Deno.env.set('MAPBOX_TOKEN', upstream.token)
Deno.env.set('MAPBOX_BASE_URL', upstream.url)
Deno.env.set('WEATHER_BASE_URL', upstream.url)
Deno.env.delete('WEATHER_API_KEY')

export const stack = await startStack({
  dataDir: `${tmp}/keys`,
  databaseUrl,
  port: 0,
  seed: true,
  // The whole suite signs in from one address; tests/local_auth_test.ts checks the real limits.
  authSettings: { rateLimit: { signInSignUps: 1e6, tokenRefresh: 1e6, emailSent: 1e6 } },
})

/** Superuser connection for fixtures and assertions (bypasses RLS). */
export const adminSql = postgres(databaseUrl, { max: 3, onnotice: () => {} })

export const functionsUrl = `${stack.url}/functions/v1`

/** A supabase-js client, as an app would create it. */
export function client(): SupabaseClient {
  return createClient(stack.url, stack.keys.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  })
}

export const uniqueEmail = (tag = 'user') => `${tag}-${crypto.randomUUID().slice(0, 12)}@example.com`

export interface TestUser {
  id: string
  email: string
  password: string
  accessToken: string
  client: SupabaseClient
}

/** Signs up a fresh user through the auth service and returns a signed-in client. */
export async function signUp(opts: { full_name?: string; region?: string } = {}): Promise<TestUser> {
  const c = client()
  const email = uniqueEmail()
  const password = 'correct-horse-battery'
  const { data, error } = await c.auth.signUp({
    email,
    password,
    options: { data: { full_name: opts.full_name ?? 'Test Traveller', region: opts.region } },
  })
  if (error || !data.session) throw new Error(`sign-up failed: ${error?.message}`)
  return { id: data.user!.id, email, password, accessToken: data.session.access_token, client: c }
}

/** Raw fetch to a function path under /functions/v1. */
export function callFunction(
  path: string,
  init: RequestInit & { token?: string; apikey?: string | null } = {},
): Promise<Response> {
  const headers = new Headers(init.headers)
  if (init.apikey !== null) headers.set('apikey', init.apikey ?? stack.keys.publishableKey)
  if (init.token) headers.set('authorization', `Bearer ${init.token}`)
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json')
  return fetch(`${functionsUrl}/${path}`, { ...init, headers })
}

export async function jsonOf(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`expected JSON, got ${res.status}: ${text.slice(0, 200)}`)
  }
}
