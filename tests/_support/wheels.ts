// Helpers for the wheels tests: JSON calls as a signed-in user through the
// real gateway, or through an in-process wheels app with a pinned clock and
// configuration of the test's own (e.g. Mapbox and Open-Meteo pointed at the
// local stub of tests/_support/upstream-stub.ts).
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { createWheelsApp } from '../../supabase/functions/wheels/index.ts'
import { stack, type TestUser } from './stack.ts'
import { answer, type Call, encode, functionAs } from './wins.ts'

/** Calls /functions/v1/wheels/<path> through the gateway as `user`. */
export const wheelsAs = functionAs('wheels')

/** An in-process wheels app: its own clock, cache namespace and configuration overrides. */
export function wheelsApp(
  overrides: Record<string, string> = {},
  now: () => Date = () => new Date(),
): (user: TestUser) => Call {
  const config = parseConfig({
    ...Deno.env.toObject(),
    PAM_LOG_LEVEL: 'error',
    PAM_CACHE_PREFIX: `th${crypto.randomUUID().slice(0, 8)}:`,
    ...overrides,
  })
  const app = createWheelsApp(config, { now })
  return (user) => async (path, init = {}) => {
    const headers = new Headers(init.headers)
    headers.set('apikey', stack.keys.publishableKey)
    headers.set('authorization', `Bearer ${user.accessToken}`)
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json')
    return answer(
      await app.fetch(
        new Request(`http://local/wheels/${path}`, {
          method: init.method ?? 'GET',
          headers,
          body: init.body === undefined ? undefined : encode(init.body),
        }),
      ),
    )
  }
}
