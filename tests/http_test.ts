// The conventions every function shares: request ids, the error envelope,
// 404/405/413, validation details, CORS, and the generated OpenAPI documents.
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { callFunction, functionsUrl, jsonOf, signUp, stack } from './_support/stack.ts'
import type { Json } from './_support/assert.ts'
import { createApp } from '../supabase/functions/_shared/http.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'


Deno.test('http: every response carries x-request-id; a caller-provided one is kept', async () => {
  const res = await callFunction('health')
  await res.body?.cancel()
  assertMatch(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
  const mine = await callFunction('health', { headers: { 'x-request-id': 'trace-abc-123' } })
  await mine.body?.cancel()
  assertEquals(mine.headers.get('x-request-id'), 'trace-abc-123')
  const missing = await callFunction('health/nope')
  assertEquals(missing.status, 404)
  assert(missing.headers.get('x-request-id'))
  assertEquals((await jsonOf(missing) as Json).error.code, 'not_found')
})

Deno.test('http: unknown function and unknown route are 404 in the envelope', async () => {
  const fn = await fetch(`${functionsUrl}/no-such-function`)
  assertEquals(fn.status, 404)
  assertEquals((await jsonOf(fn) as Json).error.code, 'not_found')
})

Deno.test('http: wrong method is 405 with Allow', async () => {
  const res = await callFunction('auth/me', { method: 'PUT', body: '{}' })
  assertEquals(res.status, 405)
  const allow = res.headers.get('allow') ?? ''
  for (const m of ['GET', 'PATCH', 'DELETE']) assert(allow.includes(m), allow)
  assertEquals((await jsonOf(res) as Json).error.code, 'method_not_allowed')
})

Deno.test('http: oversized body is 413', async () => {
  const res = await callFunction('auth/signup', {
    method: 'POST',
    body: JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024), full_name: 'Big' }),
  })
  assertEquals(res.status, 413)
  assertEquals((await jsonOf(res) as Json).error.code, 'payload_too_large')
})

Deno.test('http: a body sent without a length (chunked) is counted as it is read: 413 past the limit', async () => {
  const chunk = new TextEncoder().encode('x'.repeat(64 * 1024))
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"email": "a@example.com", "full_name": "Big", "password": "'))
    },
    pull(controller) {
      if (sent++ < 32) controller.enqueue(chunk) // 2 MiB, over the 1 MiB limit
      else {
        controller.enqueue(new TextEncoder().encode('"}'))
        controller.close()
      }
    },
  })
  const res = await callFunction('auth/signup', { method: 'POST', body, duplex: 'half' } as RequestInit)
  assertEquals(res.status, 413)
  assertEquals((await jsonOf(res) as Json).error.code, 'payload_too_large')
})

Deno.test('http: no body is read before the gate: a caller without credentials is refused while still sending', async () => {
  // A body that never ends: an answer can only come from a server that has not waited for it.
  let stop = () => {}
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"amount": "1'))
      stop = () => {
        try {
          controller.close()
        } catch {
          // the client already gave the body up (it had its answer)
        }
      }
    },
  })
  try {
    const res = await callFunction('wins/expenses', {
      method: 'POST',
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(10_000),
    } as RequestInit)
    assertEquals(res.status, 401)
    await res.body?.cancel()
  } finally {
    stop()
  }
})

Deno.test('http: malformed JSON is 400, wrong types list every issue', async () => {
  const bad = await callFunction('auth/login', { method: 'POST', body: '{"email": ' })
  assertEquals(bad.status, 400)
  assert(['invalid_body', 'validation_failed'].includes((await jsonOf(bad) as Json).error.code))
  const types = await callFunction('auth/login', { method: 'POST', body: JSON.stringify({ email: 5, password: [] }) })
  assertEquals(types.status, 400)
  const body = await jsonOf(types) as Json
  assertEquals(body.error.code, 'validation_failed')
  assertEquals([...new Set(body.error.details.map((i: Json) => i.path[0]))].sort(), ['email', 'password'])
})

Deno.test('http: query parameters are validated', async () => {
  const user = await signUp()
  const res = await callFunction('auth/logout?scope=everything', { method: 'POST', token: user.accessToken })
  assertEquals(res.status, 400)
  assertEquals((await jsonOf(res) as Json).error.details[0].path, ['scope'])
})

Deno.test('http: CORS preflight answers for app origins', async () => {
  const res = await fetch(`${functionsUrl}/auth/me`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://localhost:3000',
      'access-control-request-method': 'PATCH',
      'access-control-request-headers': 'authorization, apikey, content-type, x-client-info',
    },
  })
  await res.body?.cancel()
  assert(res.status === 204 || res.status === 200)
  assertEquals(res.headers.get('access-control-allow-origin'), '*')
  // Everything supabase-js sends (its cors.ts list), or the browser refuses the call.
  const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(/,\s*/)
  for (const h of ['authorization', 'apikey', 'content-type', 'x-client-info', 'x-region', 'traceparent', 'tracestate', 'baggage']) {
    assert(allowed.includes(h), `CORS allows ${h}`)
  }
})

Deno.test('http: nosniff on every answer; user data never stored by a shared or browser cache', async () => {
  const user = await signUp()
  const answers = [
    await callFunction('auth/me', { token: user.accessToken }),
    await callFunction('wins/expenses', { token: user.accessToken }),
    await callFunction('wins/expenses/export.csv', { token: user.accessToken }),
    await callFunction('auth/me'), // an error
    await callFunction('health'),
    await callFunction('nope/nothing'),
  ]
  for (const res of answers) {
    await res.body?.cancel()
    assertEquals(res.headers.get('x-content-type-options'), 'nosniff', res.url)
  }
  for (const res of answers.slice(0, 4)) assertMatch(res.headers.get('cache-control') ?? '', /no-store/, res.url)
  assertMatch(answers[0].headers.get('cache-control') ?? '', /private/)
})

Deno.test('http: OpenAPI per function and merged at the gateway', async () => {
  const own = await jsonOf(await callFunction('auth/openapi.json')) as Json
  assert(own.paths['/auth/signup'].post, 'signup documented')
  assert(own.paths['/auth/me'].patch.requestBody, 'PATCH /auth/me body documented')
  const merged = await jsonOf(await fetch(`${functionsUrl}/openapi.json`)) as Json
  assert(merged.paths['/health/ready'].get && merged.paths['/auth/me'].delete)
  assertEquals(merged.servers[0].url, `${stack.url}/functions/v1`)
  assert(merged.components.securitySchemes.bearerAuth)
  const page = await fetch(`${functionsUrl}/docs`)
  assertMatch(await page.text(), /openapi\.json/)
})

Deno.test('http: an unexpected error is a 500 with no internals in the body', async () => {
  const app = createApp('boom', parseConfig({ SUPABASE_URL: stack.url, SUPABASE_DB_URL: stack.databaseUrl, PAM_LOG_LEVEL: 'error', PAM_LOCAL_STACK: 'true' }))
  app.get('/', () => {
    throw new Error('connection string postgres://secret@db leaked')
  })
  const res = await app.fetch(new Request('http://local/boom'))
  assertEquals(res.status, 500)
  const text = await res.text()
  assertEquals(JSON.parse(text), { error: { code: 'internal_error', message: 'something went wrong on our side' } })
  assert(res.headers.get('x-request-id'))
})

Deno.test('http: a service_role token cannot query as a user', async () => {
  const { SignJWT, importJWK } = await import('jose')
  const token = await new SignJWT({
    sub: crypto.randomUUID(),
    role: 'service_role',
    aud: 'authenticated',
    iss: `${stack.url}/auth/v1`,
  })
    .setProtectedHeader({ alg: 'ES256', kid: stack.keys.kid })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(await importJWK(stack.keys.privateJwk, 'ES256'))
  const res = await callFunction('auth/me', { token })
  assertEquals(res.status, 401)
  assertEquals((await jsonOf(res) as Json).error.details.reason, 'not_a_user_token')
})

Deno.test('http: a route\'s transaction keeps the deadline it asks for (a long batch is not cut at the default)', async () => {
  // Statement timeout 100 ms: the default deadline is 2.1 s; this transaction takes ~2.5 s.
  const app = createApp('slow', parseConfig({
    SUPABASE_URL: stack.url,
    SUPABASE_DB_URL: stack.databaseUrl,
    PAM_LOG_LEVEL: 'error',
    PAM_LOCAL_STACK: 'true',
    PAM_DB_STATEMENT_TIMEOUT_MS: '100',
  }))
  const steps = 28
  app.get('/', async (c) => {
    const sleeps = await c.var.postgres.transaction(async (tx) => {
      for (let i = 0; i < steps; i++) await tx`select pg_sleep(0.09)`
      return steps
    }, { deadlineMs: 10_000 })
    return c.json({ sleeps })
  })
  const res = await app.fetch(new Request('http://local/slow'))
  assertEquals(res.status, 200, await res.clone().text())
  assertEquals(await res.json(), { sleeps: steps })
})
