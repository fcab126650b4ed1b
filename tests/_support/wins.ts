// Helpers for the wins tests: JSON calls as a signed-in user through the real
// gateway, or through an in-process wins app whose clock a test pins (for
// "today" and "current period" at time-zone boundaries).
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { createWinsApp } from '../../supabase/functions/wins/index.ts'
import type { Json } from './assert.ts'
import { adminSql, callFunction, signUp, stack, type TestUser } from './stack.ts'

export interface Answer {
  status: number
  body: Json
  headers: Headers
}

export type Call = (path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }) => Promise<Answer>

export async function answer(res: Response): Promise<Answer> {
  const text = await res.text()
  let body: Json = {}
  if (text) {
    try {
      body = JSON.parse(text)
    } catch {
      body = { text }
    }
  }
  return { status: res.status, body, headers: res.headers }
}

/** Strings and bytes are sent as they are, anything else as JSON. */
export const encode = (body: unknown): BodyInit =>
  typeof body === 'string' || body instanceof Uint8Array ? body as BodyInit : JSON.stringify(body)

/** Calls /functions/v1/<fn>/<path> through the gateway as `user`. */
export const functionAs = (fn: string) => (user: TestUser): Call => async (path, init = {}) =>
  answer(
    await callFunction(`${fn}/${path}`, {
      method: init.method ?? 'GET',
      token: user.accessToken,
      headers: init.headers,
      body: init.body === undefined ? undefined : encode(init.body),
    }),
  )

/** Calls /functions/v1/wins/<path> through the gateway as `user`. */
export const winsAs = functionAs('wins')

/** The test run's configuration with quiet logs, a cache namespace of its own, and `overrides`. */
export function testConfig(overrides: Record<string, string> = {}) {
  return parseConfig({
    ...Deno.env.toObject(),
    PAM_LOG_LEVEL: 'error',
    PAM_CACHE_PREFIX: `t${crypto.randomUUID().slice(0, 8)}:`,
    ...overrides,
  })
}

/** JSON calls as a signed-in user to an in-process function app served under /<fn>, as the gateway would make them. */
export function appAs(fn: string, app: { fetch(req: Request): Response | Promise<Response> }): (user: TestUser) => Call {
  return (user) => async (path, init = {}) => {
    const headers = new Headers(init.headers)
    headers.set('apikey', stack.keys.publishableKey)
    headers.set('authorization', `Bearer ${user.accessToken}`)
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json')
    return answer(
      await app.fetch(
        new Request(`http://local/${fn}/${path}`, {
          method: init.method ?? 'GET',
          headers,
          body: init.body === undefined ? undefined : encode(init.body),
        }),
      ),
    )
  }
}

/** An in-process wins app with a pinned clock and a cache namespace of its own. */
export function winsAppAt(now: string | Date, overrides: Record<string, string> = {}): (user: TestUser) => Call {
  return appAs('wins', createWinsApp(testConfig(overrides), { now: () => new Date(now) }))
}

/** A fresh user with these profile preferences (e.g. timezone, currency). */
export async function userWith(preferences: Record<string, unknown> = {}): Promise<TestUser> {
  const user = await signUp()
  if (Object.keys(preferences).length) {
    await adminSql`update pam.profiles set preferences = ${adminSql.json(preferences as never)} where id = ${user.id}`
  }
  return user
}

/** Expense rows straight into the table (fixtures), as `user`. */
export async function insertExpenses(userId: string, rows: Record<string, unknown>[]): Promise<void> {
  for (const r of rows) {
    await adminSql`insert into pam.expenses ${adminSql({ user_id: userId, currency: 'AUD', ...r } as never)}`
  }
}

/** A vehicle and a trip of `userId` (fixtures), for expenses that link them. */
export async function vehicleAndTrip(userId: string): Promise<{ vehicle: string; trip: string }> {
  const [v] = await adminSql`insert into pam.vehicles (user_id, name) values (${userId}, 'Troopy') returning id`
  const [t] = await adminSql`insert into pam.trips (user_id, name) values (${userId}, 'Red Centre') returning id`
  return { vehicle: v.id, trip: t.id }
}

/** The calendar day `now` is in `timeZone`. */
export const dayIn = (timeZone: string, now = new Date()) =>
  new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now)
