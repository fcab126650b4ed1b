// QStash's request signature, made the way QStash makes it: an HS256 JWT in
// the Upstash-Signature header, with iss "Upstash", sub the destination URL,
// iat/nbf now, exp five minutes on, a unique jti, and body the base64url
// SHA-256 of the raw body. The one signing implementation of the project:
// the local scheduler, `npm run job` and the tests sign with it, and the
// jobs function checks it with @upstash/qstash's Receiver.
import { base64url, SignJWT } from 'jose'

export interface SignOptions {
  /** The signing key (QStash's current one). */
  key: string
  /** The destination URL the request is for. */
  url: string
  /** The raw body exactly as sent. */
  body: string
  /** Seconds since the epoch the token is made at (default now). */
  now?: number
  /** Seconds until it expires (QStash: 300). */
  ttlSeconds?: number
}

export async function bodyHash(body: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))
  return base64url.encode(new Uint8Array(digest))
}

export async function signQStash(opts: SignOptions): Promise<string> {
  const now = opts.now ?? Math.floor(Date.now() / 1000)
  return await new SignJWT({ body: await bodyHash(opts.body) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('Upstash')
    .setSubject(opts.url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (opts.ttlSeconds ?? 300))
    .setJti(`jwt_${crypto.randomUUID().replaceAll('-', '')}`)
    .sign(new TextEncoder().encode(opts.key))
}
