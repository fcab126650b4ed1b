// health: liveness, readiness with the database for real, external APIs
// replaced at the HTTP boundary by a local server, and a database that is down.
import { assert, assertEquals } from './_support/assert.ts'
import { callFunction, jsonOf, stack, upstream } from './_support/stack.ts'
import type { Json } from './_support/assert.ts'
import { createHealthApp } from '../supabase/functions/health/index.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'
import { setLogLevel } from '../supabase/functions/_shared/logger.ts'
import { freePort } from '../scripts/local/postgres.ts'
import { shutdownSoon } from './_support/servers.ts'


Deno.test('health: liveness needs no credentials', async () => {
  const res = await fetch(`${stack.url}/functions/v1/health`)
  assertEquals(res.status, 200)
  const body = await jsonOf(res) as Json
  assertEquals(body.status, 'ok')
  assert(body.version && !Number.isNaN(Date.parse(body.timestamp)))
})

Deno.test('health: anyone learns what is down; only the secret key learns why', async () => {
  const res = await callFunction('health/ready')
  assertEquals(res.status, 200)
  const body = await jsonOf(res) as Json
  assertEquals(body.status, 'ready')
  assertEquals(body.checks.database, { status: 'up' })
  assertEquals(body.checks.cache, { status: 'up' })
  assertEquals(body.memory, undefined)
  for (const check of Object.values(body.checks) as Json[]) assertEquals(Object.keys(check), ['status'])
  const withPublishable = await jsonOf(await callFunction('health/ready', { apikey: stack.keys.publishableKey })) as Json
  assertEquals(withPublishable.checks.database, { status: 'up' }, 'the publishable key is public: no details')
})

Deno.test('health: readiness reports the database round trip and unconfigured services', async () => {
  const res = await callFunction('health/ready', { apikey: stack.keys.secretKey })
  assertEquals(res.status, 200)
  const body = await jsonOf(res) as Json
  assertEquals(body.status, 'ready')
  assertEquals(body.checks.database.status, 'up')
  assert(body.checks.database.latency_ms >= 0)
  assertEquals(body.checks.openai.status, 'not_configured')
  assertEquals(body.checks.cache.status, 'up')
  assert(['memory', 'upstash'].includes(body.checks.cache.backend))
  assert(body.memory.rss_bytes > 0)
})

Deno.test('health: configured external APIs are probed; a failing one degrades, not fails', async () => {
  const seen: string[] = []
  const stub = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url)
    seen.push(url.pathname)
    if (url.pathname === '/openai/models') {
      return req.headers.get('authorization') === 'Bearer sk-test'
        ? Response.json({ data: [] })
        : new Response('no', { status: 401 })
    }
    if (url.pathname === '/mapbox/tokens/v2') return Response.json({ code: 'TokenValid' })
    if (url.pathname === '/weather/v1/forecast') return new Response('down', { status: 503 })
    return new Response('?', { status: 404 })
  })
  try {
    const base = `http://127.0.0.1:${stub.addr.port}`
    const app = createHealthApp(parseConfig({
      SUPABASE_URL: stack.url,
      SUPABASE_DB_URL: stack.databaseUrl,
      PAM_LOG_LEVEL: 'error',
      PAM_LOCAL_STACK: 'true',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: `${base}/openai`,
      MAPBOX_TOKEN: 'pk.test',
      MAPBOX_BASE_URL: `${base}/mapbox`,
      WEATHER_API_KEY: 'w-test',
      WEATHER_BASE_URL: `${base}/weather`,
    }))
    const res = await app.fetch(new Request('http://local/health/ready', { headers: { apikey: stack.keys.secretKey } }))
    assertEquals(res.status, 200)
    const body = await jsonOf(res) as Json
    assertEquals(body.status, 'degraded')
    assertEquals(body.failing, ['weather'])
    assertEquals(body.checks.openai.status, 'up')
    assertEquals(body.checks.mapbox.status, 'up')
    assertEquals(body.checks.weather.status, 'down')
    // A second call within 30 s reuses the external results: the paid APIs are not hammered.
    await (await app.fetch(new Request('http://local/health/ready'))).body?.cancel()
    assertEquals(seen.filter((p) => p === '/openai/models').length, 1)

    // Open-Meteo needs no key: probed whether WEATHER_API_KEY is set or not; Mapbox without a token is not.
    const keyless = createHealthApp(parseConfig({
      SUPABASE_URL: stack.url,
      SUPABASE_DB_URL: stack.databaseUrl,
      PAM_LOG_LEVEL: 'error',
      PAM_LOCAL_STACK: 'true',
      WEATHER_BASE_URL: `${base}/weather`,
    }))
    const other = await jsonOf(
      await keyless.fetch(new Request('http://local/health/ready', { headers: { apikey: stack.keys.secretKey } })),
    ) as Json
    assertEquals([other.checks.mapbox.status, other.checks.weather.status], ['not_configured', 'down'])
  } finally {
    await shutdownSoon(stub)
  }
})

Deno.test('health: readiness is 503 naming the database when it is unreachable', async () => {
  const closed = await freePort()
  const app = createHealthApp(parseConfig({
    SUPABASE_URL: stack.url,
    SUPABASE_DB_URL: `postgres://postgres@127.0.0.1:${closed}/postgres`,
    PAM_LOG_LEVEL: 'error',
    PAM_LOCAL_STACK: 'true',
    WEATHER_BASE_URL: upstream.url, // the local stub: weather is always probed
  }))
  const res = await app.fetch(new Request('http://local/health/ready'))
  assertEquals(res.status, 503)
  const body = await jsonOf(res) as Json
  assertEquals(body.status, 'unavailable')
  assertEquals(body.failing, ['database'])
  assertEquals(body.checks.database, { status: 'down' }, 'no host, port or error text for anyone')
  const detailed = await jsonOf(
    await app.fetch(new Request('http://local/health/ready', { headers: { apikey: stack.keys.secretKey } })),
  ) as Json
  assertEquals(detailed.checks.database.status, 'down')
  assert(typeof detailed.checks.database.error === 'string', 'the operator gets the reason')
  const live = await app.fetch(new Request('http://local/health'))
  assertEquals(live.status, 200, 'liveness does not depend on the database')
  await live.body?.cancel()
})

Deno.test('health: a cache that is down degrades readiness but does not fail it', async () => {
  const closed = await freePort()
  const app = createHealthApp(parseConfig({
    SUPABASE_URL: stack.url,
    SUPABASE_DB_URL: stack.databaseUrl,
    PAM_LOG_LEVEL: 'error',
    PAM_LOCAL_STACK: 'true',
    UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${closed}`,
    UPSTASH_REDIS_REST_TOKEN: 'token',
    WEATHER_BASE_URL: upstream.url,
  }))
  const res = await app.fetch(new Request('http://local/health/ready', { headers: { apikey: stack.keys.secretKey } }))
  assertEquals(res.status, 200)
  const body = await jsonOf(res) as Json
  assertEquals(body.status, 'degraded')
  assertEquals(body.failing, ['cache'])
  assertEquals(body.checks.cache.backend, 'upstash')
})

Deno.test('health: liveness probes stay out of the request log unless they fail; other requests log one line', async () => {
  const app = createHealthApp(parseConfig({
    SUPABASE_URL: stack.url,
    SUPABASE_DB_URL: stack.databaseUrl,
    PAM_LOG_LEVEL: 'info',
    PAM_LOCAL_STACK: 'true',
    WEATHER_BASE_URL: upstream.url, // the local stub: weather is always probed
  }))
  const lines: string[] = []
  const original = console.log
  console.log = (line: string) => lines.push(line)
  try {
    await (await app.fetch(new Request('http://local/health'))).body?.cancel()
    await (await app.fetch(new Request('http://local/health/ready'))).body?.cancel()
  } finally {
    console.log = original
    // createHealthApp set the level for the whole isolate: back to the suite's.
    setLogLevel((Deno.env.get('PAM_LOG_LEVEL') ?? 'error') as 'error')
  }
  const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request')
  assertEquals(requests.map((r) => r.route), ['/health/ready'])
  assertEquals(requests[0].status, 200)
  assert(typeof requests[0].request_id === 'string' && typeof requests[0].duration_ms === 'number')
})
