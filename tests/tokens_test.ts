// Every way a bearer token can be wrong gets 401 from a 'user' route.
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import type { Json } from './_support/assert.ts'
import { callFunction, jsonOf, signUp, stack } from './_support/stack.ts'

const user = await signUp()
const sessionId = decodeJwt(user.accessToken).session_id as string
const now = () => Math.floor(Date.now() / 1000)
const claims = () => ({
  sub: user.id,
  aud: 'authenticated',
  role: 'authenticated',
  email: user.email,
  session_id: sessionId,
  iss: `${stack.url}/auth/v1`,
})
const projectKey = await importJWK(stack.keys.privateJwk, 'ES256')
const sign = (
  payload: Record<string, unknown>,
  opts: { exp?: number | null; key?: CryptoKey | Uint8Array; alg?: string; kid?: string } = {},
) => {
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: opts.kid ?? stack.keys.kid, typ: 'JWT' })
    .setIssuedAt()
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 600)
  return jwt.sign(opts.key ?? projectKey)
}

const b64url = (s: string) => btoa(s).replaceAll('=', '').replaceAll('+', '-').replaceAll('/', '_')

async function expect401(token: string | undefined, why: string) {
  const res = await callFunction('auth/me', { token })
  const body = await jsonOf(res) as { error: { code: string } }
  assertEquals(res.status, 401, why)
  assertEquals(body.error.code, 'unauthorized', why)
}

Deno.test('tokens: a token signed with the project key is accepted (control)', async () => {
  const res = await callFunction('auth/me', { token: await sign(claims()) })
  assertEquals(res.status, 200)
})

Deno.test('tokens: the scheme is case-insensitive (RFC 7235)', async () => {
  const token = await sign(claims())
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const res = await callFunction('auth/me', { headers: { authorization: `${scheme} ${token}` } })
    assertEquals(res.status, 200, scheme)
    await res.body?.cancel()
  }
})

Deno.test('tokens: missing', async () => {
  const res = await callFunction('auth/me')
  const body = await jsonOf(res) as Json
  assertEquals(res.status, 401)
  assertMatch(body.error.message, /^sign in first/)
  assert(!/supabase\/server|@supabase|apikey/i.test(JSON.stringify(body)), 'names no library and no header it did not need')
})

Deno.test('tokens: no exp is refused (it would be valid forever)', async () => {
  await expect401(await sign(claims(), { exp: null }), 'no exp')
})

Deno.test('tokens: another issuer is refused', async () => {
  await expect401(await sign({ ...claims(), iss: 'https://evil.example.com/auth/v1' }), 'iss')
  const { iss: _iss, ...noIssuer } = claims()
  await expect401(await sign(noIssuer), 'no iss')
})

Deno.test('tokens: a session that has signed out no longer works, on every route', async () => {
  const u = await signUp()
  const profile = await callFunction('auth/me', { token: u.accessToken }) // cached from here on
  assertEquals(profile.status, 200)
  await profile.body?.cancel()
  const out = await callFunction('auth/logout?scope=global', { method: 'POST', token: u.accessToken })
  assertEquals(out.status, 204)
  for (const [path, method] of [['auth/me', 'GET'], ['wins/expenses', 'GET'], ['auth/me', 'DELETE']]) {
    const res = await callFunction(path, { method, token: u.accessToken })
    const body = await jsonOf(res) as Json
    assertEquals([res.status, body.error?.code], [401, 'session_not_found'], `${method} ${path}`)
  }
})

Deno.test('tokens: malformed', () => expect401('not.a.jwt', 'garbage'))

Deno.test('tokens: expired', async () => expect401(await sign(claims(), { exp: now() - 60 }), 'expired'))

Deno.test('tokens: tampered payload', async () => {
  const [h, , s] = (await sign(claims())).split('.')
  const forged = b64url(JSON.stringify({ ...claims(), sub: crypto.randomUUID(), exp: now() + 600 }))
  await expect401(`${h}.${forged}.${s}`, 'payload changed after signing')
})

Deno.test('tokens: a tampered payload is refused after its token was accepted (tokens are remembered by signature)', async () => {
  const token = await sign(claims())
  const accepted = await callFunction('auth/me', { token })
  assertEquals(accepted.status, 200)
  await accepted.body?.cancel()
  const [h, , s] = token.split('.')
  const forged = b64url(JSON.stringify({ ...claims(), sub: crypto.randomUUID(), exp: now() + 600 }))
  await expect401(`${h}.${forged}.${s}`, 'the remembered signature under another payload')
  const again = await callFunction('auth/me', { token })
  assertEquals(again.status, 200, 'the token itself is still accepted')
  await again.body?.cancel()
})

Deno.test('tokens: signed with another key under the project kid', async () => {
  const { privateKey } = await generateKeyPair('ES256')
  await expect401(await sign(claims(), { key: privateKey }), 'wrong key')
})

Deno.test('tokens: unknown kid', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  await exportJWK(publicKey)
  await expect401(await sign(claims(), { key: privateKey, kid: crypto.randomUUID() }), 'unknown kid')
})

Deno.test('tokens: legacy HS256 with a shared secret', async () => {
  const secret = new TextEncoder().encode('super-secret-jwt-token-with-at-least-32-characters-long')
  await expect401(await sign(claims(), { key: secret, alg: 'HS256' }), 'HS256')
})

Deno.test('tokens: alg none', async () => {
  const header = b64url(JSON.stringify({ alg: 'none', typ: 'JWT', kid: stack.keys.kid }))
  const payload = b64url(JSON.stringify({ ...claims(), iat: now(), exp: now() + 600 }))
  await expect401(`${header}.${payload}.`, 'alg none')
})

Deno.test('tokens: wrong audience', async () => {
  await expect401(await sign({ ...claims(), aud: 'somebody-else' }), 'aud')
})

Deno.test('tokens: an API key is not a user token', async () => {
  await expect401(stack.keys.publishableKey, 'publishable key as bearer')
  await expect401(stack.keys.secretKey, 'secret key as bearer')
})
