// One-click unsubscribe without signing in (RFC 8058): every email carries a
// token naming the traveller and what to stop (a notification kind, `digest`,
// or `all`), signed with HMAC-SHA256 under PAM_EMAIL_SIGNING_SECRET, with
// the instant it was made (when the email's notification or digest was
// written, so every attempt of an email carries the same token). Whoever
// holds the email may use it; nothing else can be done with it. Verified in
// constant time (WebCrypto's verify).

/** What a token stops: a kind's emails, the daily digest, or every email. */
export interface UnsubscribeScope {
  userId: string
  scope: string
  /** Seconds since the epoch. */
  issuedAt: number
}

/** Links stay good this long: an old email's link still works, a leaked one not forever. */
export const TOKEN_MAX_AGE_S = 365 * 24 * 3600

const PREFIX = 'pam-unsubscribe:v1:'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const SCOPE = /^(all|digest|[a-z][a-z0-9_]{0,49})$/
const encoder = new TextEncoder()

const keys = new Map<string, Promise<CryptoKey>>()
function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    keys.set(secret, key)
  }
  return key
}

const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
function fromB64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - text.length % 4) % 4))
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0))
  } catch {
    return null
  }
}

/** `<payload>.<signature>`, both base64url; the payload is `<user id>.<scope>.<issued at>`. */
export async function signUnsubscribe(secret: string, s: UnsubscribeScope): Promise<string> {
  const payload = `${s.userId}.${s.scope}.${s.issuedAt}`
  const mac = await crypto.subtle.sign('HMAC', await keyFor(secret), encoder.encode(PREFIX + payload))
  return `${b64url(encoder.encode(payload))}.${b64url(new Uint8Array(mac))}`
}

export type Verified = { ok: true; value: UnsubscribeScope } | { ok: false; reason: 'malformed' | 'signature' | 'expired' }

export async function verifyUnsubscribe(secret: string, token: string, now = Date.now()): Promise<Verified> {
  const parts = token.split('.')
  if (parts.length !== 2 || token.length > 400) return { ok: false, reason: 'malformed' }
  const payloadBytes = fromB64url(parts[0])
  const mac = fromB64url(parts[1])
  if (!payloadBytes || !mac || mac.length !== 32) return { ok: false, reason: 'malformed' }
  const payload = new TextDecoder().decode(payloadBytes)
  const [userId, scope, issued, ...rest] = payload.split('.')
  if (rest.length || !UUID.test(userId ?? '') || !SCOPE.test(scope ?? '') || !/^\d{1,12}$/.test(issued ?? '')) {
    return { ok: false, reason: 'malformed' }
  }
  const good = await crypto.subtle.verify('HMAC', await keyFor(secret), mac as BufferSource, encoder.encode(PREFIX + payload))
  if (!good) return { ok: false, reason: 'signature' }
  const issuedAt = Number(issued)
  if (issuedAt * 1000 > now + 300_000 || now - issuedAt * 1000 > TOKEN_MAX_AGE_S * 1000) return { ok: false, reason: 'expired' }
  return { ok: true, value: { userId, scope, issuedAt } }
}
