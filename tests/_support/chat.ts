// Calls to PAM: through the gateway, or an in-process chat app whose clock a
// test pins (for "yesterday" and "this month").
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { createChatApp } from '../../supabase/functions/chat/index.ts'
import { stack, type TestUser } from './stack.ts'
import { answer, type Call, encode, functionAs } from './wins.ts'

/** Calls /functions/v1/chat/<path> through the gateway as `user`. */
export const chatAs = functionAs('chat')

export function chatAppAt(now: string, overrides: Record<string, string> = {}): (user: TestUser) => Call {
  const config = parseConfig({
    ...Deno.env.toObject(),
    PAM_LOG_LEVEL: 'error',
    PAM_CACHE_PREFIX: `tc${crypto.randomUUID().slice(0, 8)}:`,
    ...overrides,
  })
  const app = createChatApp(config, { now: () => new Date(now) })
  return (user) => async (path, init = {}) => {
    const headers = new Headers(init.headers)
    headers.set('apikey', stack.keys.publishableKey)
    headers.set('authorization', `Bearer ${user.accessToken}`)
    if (init.body !== undefined) headers.set('content-type', 'application/json')
    return answer(
      await app.fetch(
        new Request(`http://local/chat/${path}`, {
          method: init.method ?? 'GET',
          headers,
          body: init.body === undefined ? undefined : encode(init.body),
        }),
      ),
    )
  }
}
