// Helpers for the social tests: JSON calls as a signed-in user through the
// real gateway, or through an in-process social app with configuration of
// the test's own (e.g. a tight rate limit).
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { createSocialApp } from '../../supabase/functions/social/index.ts'
import { stack, type TestUser } from './stack.ts'
import { answer, type Call, encode, functionAs } from './wins.ts'

/** Calls /functions/v1/social/<path> through the gateway as `user`. */
export const socialAs = functionAs('social')

/** An in-process social app with its own cache namespace and configuration overrides. */
export function socialApp(overrides: Record<string, string> = {}): (user: TestUser) => Call {
  const config = parseConfig({
    ...Deno.env.toObject(),
    PAM_LOG_LEVEL: 'error',
    PAM_CACHE_PREFIX: `ts${crypto.randomUUID().slice(0, 8)}:`,
    ...overrides,
  })
  const app = createSocialApp(config)
  return (user) => async (path, init = {}) => {
    const headers = new Headers(init.headers)
    headers.set('apikey', stack.keys.publishableKey)
    headers.set('authorization', `Bearer ${user.accessToken}`)
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json')
    return answer(
      await app.fetch(
        new Request(`http://local/social/${path}`, {
          method: init.method ?? 'GET',
          headers,
          body: init.body === undefined ? undefined : encode(init.body),
        }),
      ),
    )
  }
}
