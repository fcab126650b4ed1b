// The local stack's signing key and API keys, generated once and kept in
// `<dir>/keys.json` (mode 0600) so tokens and clients survive restarts.
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { z } from 'zod'

export interface LocalKeys {
  kid: string
  /** Private signing key: includes kid, alg 'ES256', use 'sig'. */
  privateJwk: JWK
  /** Public part only: kid, alg 'ES256', use 'sig', key_ops ['verify']. */
  publicJwk: JWK
  /** `{ keys: [publicJwk] }`, as served at `/auth/v1/.well-known/jwks.json`. */
  jwks: { keys: JWK[] }
  publishableKey: string
  secretKey: string
}

const ecJwk = z.looseObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string(),
  y: z.string(),
})

const StoredKeys = z.object({
  kid: z.string().min(1),
  privateJwk: ecJwk.extend({ d: z.string() }),
  publicJwk: ecJwk,
  publishableKey: z.string().startsWith('sb_publishable_'),
  secretKey: z.string().startsWith('sb_secret_'),
})

/** 24 random bytes are exactly 32 base64url characters. */
function randomKeySuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24))
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_')
}

async function generate(): Promise<z.infer<typeof StoredKeys>> {
  const kid = crypto.randomUUID()
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const { kty, crv, x, y, d } = await exportJWK(privateKey)
  const pub = await exportJWK(publicKey)
  return StoredKeys.parse({
    kid,
    privateJwk: { kty, crv, x, y, d, kid, alg: 'ES256', use: 'sig' },
    publicJwk: {
      kty: pub.kty,
      crv: pub.crv,
      x: pub.x,
      y: pub.y,
      kid,
      alg: 'ES256',
      use: 'sig',
      key_ops: ['verify'],
    },
    publishableKey: `sb_publishable_${randomKeySuffix()}`,
    secretKey: `sb_secret_${randomKeySuffix()}`,
  })
}

export async function loadOrCreateLocalKeys(dir: string): Promise<LocalKeys> {
  const path = `${dir.replace(/\/+$/, '')}/keys.json`
  let stored: z.infer<typeof StoredKeys>
  try {
    stored = StoredKeys.parse(JSON.parse(await Deno.readTextFile(path)))
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new Error(`${path} is unreadable or malformed; delete it to generate new keys`, {
        cause: err,
      })
    }
    await Deno.mkdir(dir, { recursive: true })
    stored = await generate()
    await Deno.writeTextFile(path, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 })
    await Deno.chmod(path, 0o600) // `mode` is masked by the umask
  }
  const { kid, privateJwk, publicJwk, publishableKey, secretKey } = stored
  return { kid, privateJwk, publicJwk, jwks: { keys: [publicJwk] }, publishableKey, secretKey }
}
