// The gate on every route: @supabase/server's withSupabase (Hono adapter).
// 'user' verifies the Bearer token against the project JWKS (asymmetric keys
// with kid; legacy HS256 and `alg: none` are refused) and requires
// aud=authenticated; 'publishable' / 'secret' check the apikey header against
// SUPABASE_PUBLISHABLE_KEYS / SUPABASE_SECRET_KEYS; 'none' lets anyone in.
import { withSupabase } from '@supabase/server/adapters/hono'
import type { SupabaseContext } from '@supabase/server'
import { createMiddleware } from 'hono/factory'

export type AuthMode = 'user' | 'publishable' | 'secret' | 'none'

export type AuthVariables = { supabaseContext: SupabaseContext; userId?: string }

export function requireAuth(mode: AuthMode) {
  const gate = mode === 'user'
    ? withSupabase({ auth: 'user', audience: 'authenticated' })
    : withSupabase({ auth: mode })
  return createMiddleware<{ Variables: AuthVariables }>(async (c, next) => {
    await gate(c, async () => {
      const sub = c.var.supabaseContext?.jwtClaims?.sub
      if (typeof sub === 'string') c.set('userId', sub)
      await next()
    })
  })
}
