// Function apps built with a configuration of the test's own (the stack's
// database and keys, plus overrides), called in-process like the gateway does.
import { parseConfig } from '../../supabase/functions/_shared/config.ts'
import { createAuthApp } from '../../supabase/functions/auth/index.ts'
import { stack } from './stack.ts'

/** The auth app with the in-process cache unless `overrides` name an Upstash URL. */
export function authAppWith(overrides: Record<string, string>) {
  const { UPSTASH_REDIS_REST_URL: _u, UPSTASH_REDIS_REST_TOKEN: _t, ...env } = Deno.env.toObject()
  const config = parseConfig({
    ...env,
    PAM_LOG_LEVEL: 'error',
    // A namespace of its own, so apps in one test run never share cache keys.
    PAM_CACHE_PREFIX: `t${crypto.randomUUID().slice(0, 8)}:`,
    ...overrides,
  })
  const app = createAuthApp(config)
  return (path: string, init: RequestInit & { token?: string; ip?: string } = {}) => {
    const headers = new Headers(init.headers)
    headers.set('apikey', stack.keys.publishableKey)
    if (init.token) headers.set('authorization', `Bearer ${init.token}`)
    if (init.body) headers.set('content-type', 'application/json')
    headers.set('cf-connecting-ip', init.ip ?? '203.0.113.7')
    return app.fetch(new Request(`http://local/auth${path}`, { ...init, headers }))
  }
}

/** Rate limits count in a sliding window that weighs the previous fixed window by how much
 * of the current one is left: counts taken across a window's edge are off by one by design.
 * Tests that expect a 429 at an exact count start well inside a window (the default: 60 s). */
export async function awayFromWindowEdge(windowSeconds = 60) {
  const intoWindow = (Date.now() / 1000) % windowSeconds
  if (intoWindow > windowSeconds - 5) {
    await new Promise((r) => setTimeout(r, (windowSeconds - intoWindow + 0.5) * 1000))
  }
}
