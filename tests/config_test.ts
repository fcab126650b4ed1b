import { assertEquals, assertMatch } from './_support/assert.ts'
import { ConfigError, parseConfig } from '../supabase/functions/_shared/config.ts'
import { throws } from 'node:assert/strict'

const base = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_DB_URL: 'postgres://u@127.0.0.1/db' }

Deno.test('config: defaults from a minimal environment', () => {
  const c = parseConfig(base)
  assertEquals(c.databaseUrl, base.SUPABASE_DB_URL)
  assertEquals(c.corsOrigins, ['*'])
  assertEquals(c.maxBodyBytes, 1024 * 1024)
  assertEquals(c.openai.apiKey, undefined)
})

Deno.test('config: PAM_DB_URL (the pooler) wins over SUPABASE_DB_URL', () => {
  const c = parseConfig({ ...base, PAM_DB_URL: 'postgres://pooler@127.0.0.1:6543/db' })
  assertEquals(c.databaseUrl, 'postgres://pooler@127.0.0.1:6543/db')
})

Deno.test('config: errors name every missing or bad variable', () => {
  throws(() => parseConfig({}), (e: Error) => {
    assertMatch(e.message, /SUPABASE_URL/)
    assertMatch(e.message, /SUPABASE_DB_URL/)
    return e instanceof ConfigError
  })
  throws(() => parseConfig({ ...base, PAM_MAX_BODY_BYTES: 'lots' }), /PAM_MAX_BODY_BYTES/)
  throws(() => parseConfig({ ...base, PAM_LOG_LEVEL: 'loud' }), /PAM_LOG_LEVEL/)
  assertEquals(parseConfig({ ...base, PAM_CORS_ORIGINS: 'https://a.app, https://b.app' }).corsOrigins, [
    'https://a.app',
    'https://b.app',
  ])
})
