import { assertEquals, assertMatch } from './_support/assert.ts'
import { ConfigError, parseConfig } from '../supabase/functions/_shared/config.ts'
import { throws } from 'node:assert/strict'

const hosted = { SUPABASE_URL: 'https://ref.supabase.co', SUPABASE_DB_URL: 'postgres://u@127.0.0.1/db' }
const base = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_DB_URL: 'postgres://u@127.0.0.1/db', PAM_LOCAL_STACK: 'true' }

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

Deno.test('config: outside the local stack, the cache is shared (Upstash) or off, never per isolate', () => {
  throws(() => parseConfig(hosted), /UPSTASH_REDIS_REST_URL.*PAM_CACHE_ENABLED=false/)
  assertEquals(parseConfig({ ...hosted, PAM_CACHE_ENABLED: 'false' }).cache.enabled, false)
  const upstash = parseConfig({
    ...hosted,
    UPSTASH_REDIS_REST_URL: 'https://eu1-example.upstash.io',
    UPSTASH_REDIS_REST_TOKEN: 'token',
  })
  assertEquals(upstash.cache.enabled, true)
  assertEquals(upstash.localStack, false)
})

Deno.test('config: the token issuer is the project\'s Auth URL unless set', () => {
  assertEquals(parseConfig({ ...hosted, PAM_CACHE_ENABLED: 'false' }).jwtIssuer, 'https://ref.supabase.co/auth/v1')
  assertEquals(
    parseConfig({ ...hosted, PAM_CACHE_ENABLED: 'false', PAM_JWT_ISSUER: 'https://api.example.com/auth/v1' }).jwtIssuer,
    'https://api.example.com/auth/v1',
  )
})

Deno.test('every function is declared for deployment: config.toml and the README deploy command name it', async () => {
  const root = new URL('../', import.meta.url)
  const functions = [...Deno.readDirSync(new URL('supabase/functions/', root))]
    .filter((e) => e.isDirectory && !e.name.startsWith('_')).map((e) => e.name).sort()
  const toml = await Deno.readTextFile(new URL('supabase/config.toml', root))
  const readme = await Deno.readTextFile(new URL('README.md', root))
  const deploy = /npx supabase functions deploy ([a-z ]+) --use-api/.exec(readme)?.[1].split(' ') ?? []
  for (const name of functions) {
    const entry = new RegExp(String.raw`\[functions\.${name}\]\nverify_jwt = false\nimport_map = "\.\./import_map\.json"`)
    if (!entry.test(toml)) throw new Error(`supabase/config.toml has no [functions.${name}] entry like the others`)
    if (!deploy.includes(name)) throw new Error(`the README's deploy command leaves out ${name}`)
  }
  assertEquals([...deploy].sort(), functions, 'the deploy command names exactly the functions')
})
