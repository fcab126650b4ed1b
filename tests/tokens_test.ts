// Every way a bearer token can be wrong gets 401 from a 'user' route.
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose'
import { assertEquals } from './_support/assert.ts'
import { callFunction, jsonOf, signUp, stack } from './_support/stack.ts'

const user = await signUp()
const now = () => Math.floor(Date.now() / 1000)
const claims = () => ({
  sub: user.id,
  aud: 'authenticated',
  role: 'authenticated',
  email: user.email,
  session_id: crypto.randomUUID(),
  iss: `${stack.url}/auth/v1`,
})
const projectKey = await importJWK(stack.keys.privateJwk, 'ES256')
const sign = (payload: Record<string, unknown>, opts: { exp?: number; key?: CryptoKey | Uint8Array; alg?: string; kid?: string } = {}) =>
  new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: opts.kid ?? stack.keys.kid, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? now() + 600)
    .sign(opts.key ?? projectKey)

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

Deno.test('tokens: missing', () => expect401(undefined, 'no Authorization header'))

Deno.test('tokens: malformed', () => expect401('not.a.jwt', 'garbage'))

Deno.test('tokens: expired', async () => expect401(await sign(claims(), { exp: now() - 60 }), 'expired'))

Deno.test('tokens: tampered payload', async () => {
  const [h, , s] = (await sign(claims())).split('.')
  const forged = b64url(JSON.stringify({ ...claims(), sub: crypto.randomUUID(), exp: now() + 600 }))
  await expect401(`${h}.${forged}.${s}`, 'payload changed after signing')
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
