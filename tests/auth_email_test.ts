// The local auth service's emails, driven by supabase-js as an app drives
// Supabase Auth and read from the stack's mail catcher: password recovery end
// to end (resetPasswordForEmail → the link or the code → a session →
// updateUser({ password })), sign-up confirmation (enable_confirmations on),
// email change (confirmed from both addresses), and the magic link.
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { adminSql, client, signUp, stack, uniqueEmail } from './_support/stack.ts'
import { shutdownSoon } from './_support/servers.ts'
import { createAuthService } from '../scripts/local/auth-service.ts'
import { mailerFor } from '../supabase/functions/_shared/mail.ts'
import type { AuthSettingsOverrides } from '../scripts/local/auth-settings.ts'
import type { CaughtMessage } from '../scripts/local/mail-catcher.ts'

const catcher = stack.mail.catcher
const APP = 'http://127.0.0.1:3000/welcome'

/** The newest email to `to`, waiting a moment for it. */
async function lastMailTo(to: string, count = 1): Promise<CaughtMessage> {
  for (let i = 0; i < 50; i++) {
    const found = catcher.messages({ to })
    if (found.length >= count) return found[0]
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no email to ${to}`)
}

const linkIn = (m: CaughtMessage) => /(http:\/\/\S+\/auth\/v1\/verify\?\S+)/.exec(m.text)![1]
const codeIn = (m: CaughtMessage) => /code: (\d{6})/.exec(m.text)![1]
const hashIn = (m: CaughtMessage) => new URL(linkIn(m)).searchParams.get('token')!

/** Opens an emailed link as a browser would, without following the redirect: the Location's fragment. */
async function open(link: string): Promise<URLSearchParams> {
  const res = await fetch(link, { redirect: 'manual' })
  await res.body?.cancel()
  assertEquals(res.status, 303)
  const location = new URL(res.headers.get('location')!)
  return new URLSearchParams(location.hash.slice(1))
}

/** An auth service of its own (settings of the test's own), on its own port, mailing the stack's catcher. */
function authWith(settings: AuthSettingsOverrides) {
  const handlers: ReturnType<typeof createAuthService>[] = []
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (req, info) => handlers[0](req, info))
  const url = `http://127.0.0.1:${server.addr.port}`
  handlers[0] = createAuthService({
    sql: adminSql,
    keys: stack.keys,
    issuer: `${url}/auth/v1`,
    settings: { ...settings, rateLimit: { signInSignUps: 1e6, tokenRefresh: 1e6, emailSent: 1e6 } },
    mailer: mailerFor({
      transport: 'smtp',
      from: 'PAM <no-reply@pam.local>',
      api: { url: '' },
      smtp: { host: catcher.hostname, port: catcher.port, tls: 'none' },
      timeoutMs: 5000,
      maxAttempts: 1,
      retryBaseSeconds: 60,
      batch: 1,
      digestHour: 18,
    }),
  })
  const supabase = (): SupabaseClient =>
    createClient(url, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } })
  return { url, supabase, stop: () => shutdownSoon(server) }
}

Deno.test('auth email: password recovery end to end, by the link and by the code', async () => {
  const user = await signUp()
  const app = client()
  const { error } = await app.auth.resetPasswordForEmail(user.email, { redirectTo: APP })
  assertEquals(error, null)
  const mail = await lastMailTo(user.email)
  assertEquals(mail.subject, 'Reset your password')
  const link = linkIn(mail)
  assertMatch(link, /\/auth\/v1\/verify\?token=[0-9a-f]{56}&type=recovery&redirect_to=http%3A%2F%2F127\.0\.0\.1%3A3000%2Fwelcome$/)

  // The link signs the traveller in (the session in the fragment), once.
  const fragment = await open(link)
  assertEquals(fragment.get('type'), 'recovery')
  assertEquals(fragment.get('token_type'), 'bearer')
  const session = await app.auth.setSession({
    access_token: fragment.get('access_token')!,
    refresh_token: fragment.get('refresh_token')!,
  })
  assertEquals(session.error, null)
  const updated = await app.auth.updateUser({ password: 'a-brand-new-password' })
  assertEquals(updated.error, null)
  const again = await open(link)
  assertEquals(again.get('error_code'), 'otp_expired')

  assertEquals((await client().auth.signInWithPassword({ email: user.email, password: user.password })).error?.code, 'invalid_credentials')
  assertEquals((await client().auth.signInWithPassword({ email: user.email, password: 'a-brand-new-password' })).error, null)

  // The code in the same kind of email works with verifyOtp.
  await new Promise((r) => setTimeout(r, 1100)) // max_frequency = "1s"
  assertEquals((await client().auth.resetPasswordForEmail(user.email)).error, null)
  const second = await lastMailTo(user.email, 2)
  const other = client()
  const wrong = await other.auth.verifyOtp({ email: user.email, token: '000000', type: 'recovery' })
  if (codeIn(second) !== '000000') assertEquals(wrong.error?.code, 'otp_expired')
  const verified = await other.auth.verifyOtp({ email: user.email, token: codeIn(second), type: 'recovery' })
  assertEquals(verified.error, null)
  assert(verified.data.session?.access_token)
  assertEquals((await other.auth.updateUser({ password: 'yet-another-password' })).error, null)

  // Too soon for another: 429. An unknown address: the same empty answer, and no email.
  const soon = await client().auth.resetPasswordForEmail(user.email)
  assertEquals(soon.error?.code, 'over_email_send_rate_limit')
  const nobody = uniqueEmail('nobody')
  assertEquals((await client().auth.resetPasswordForEmail(nobody)).error, null)
  assertEquals(catcher.messages({ to: nobody }).length, 0)
})

Deno.test('auth email: sign-up confirmation, by token hash and by the link, when enable_confirmations is on', async () => {
  const auth = authWith({ email: { confirmations: true } })
  try {
    const email = uniqueEmail('confirm')
    const app = auth.supabase()
    const signed = await app.auth.signUp({ email, password: 'correct-horse-battery', options: { emailRedirectTo: APP } })
    assertEquals(signed.error, null)
    assertEquals(signed.data.session, null, 'no session before the address is confirmed')
    assert(signed.data.user?.confirmation_sent_at)
    const refused = await auth.supabase().auth.signInWithPassword({ email, password: 'correct-horse-battery' })
    assertEquals(refused.error?.code, 'email_not_confirmed')

    const mail = await lastMailTo(email)
    assertEquals(mail.subject, 'Confirm your email address')
    const verified = await app.auth.verifyOtp({ token_hash: hashIn(mail), type: 'signup' })
    assertEquals(verified.error, null)
    assertEquals(verified.data.user?.email, email)
    assert(verified.data.user?.email_confirmed_at)
    assertEquals((await auth.supabase().auth.signInWithPassword({ email, password: 'correct-horse-battery' })).error, null)

    // Signing up again with a confirmed address looks like a new sign-up, and sends nothing.
    const repeat = await auth.supabase().auth.signUp({ email, password: 'correct-horse-battery' })
    assertEquals(repeat.error, null)
    assert(repeat.data.user?.id !== verified.data.user?.id)
    assertEquals(catcher.messages({ to: email }).length, 1)

    // The emailed link confirms too, and lands on the app signed in.
    const other = uniqueEmail('confirm')
    await auth.supabase().auth.signUp({ email: other, password: 'correct-horse-battery', options: { emailRedirectTo: APP } })
    const fragment = await open(linkIn(await lastMailTo(other)))
    assertEquals(fragment.get('type'), 'signup')
    assert(fragment.get('access_token'))
    const [row] = await adminSql`select email_confirmed_at from auth.users where email = ${other}`
    assert(row.email_confirmed_at)
  } finally {
    await auth.stop()
  }
})

Deno.test('auth email: an email change is confirmed from the new address and the old one', async () => {
  const auth = authWith({ email: { confirmations: true, secureEmailChange: true } })
  try {
    const user = await signUp() // confirmed, through the stack's own service
    const app = auth.supabase()
    assertEquals((await app.auth.signInWithPassword({ email: user.email, password: user.password })).error, null)
    const next = uniqueEmail('moved')
    const changed = await app.auth.updateUser({ email: next })
    assertEquals(changed.error, null)
    assertEquals(changed.data.user?.email, user.email, 'unchanged until confirmed')
    assertEquals(changed.data.user?.new_email, next)

    const toNew = await lastMailTo(next)
    const toOld = await lastMailTo(user.email)
    assertEquals(toNew.subject, 'Confirm your new email address')
    assertMatch(toOld.text, new RegExp(`confirm ${next.replace('.', '\\.')} as your new email address`))
    const first = await app.auth.verifyOtp({ token_hash: hashIn(toOld), type: 'email_change' })
    assertEquals(first.error, null)
    assertEquals(first.data.session, null, 'one of two confirmations: no session yet')
    const second = await app.auth.verifyOtp({ token_hash: hashIn(toNew), type: 'email_change' })
    assertEquals(second.error, null)
    assertEquals(second.data.user?.email, next)
    const [profile] = await adminSql`select email from pam.profiles where id = ${user.id}`
    assertEquals(profile.email, next, "PAM's profile follows the account")
    assertEquals((await auth.supabase().auth.signInWithPassword({ email: next, password: user.password })).error, null)

    // An address another account has is refused.
    const taken = await app.auth.updateUser({ email: (await signUp()).email })
    assertEquals(taken.error?.code, 'email_exists')
  } finally {
    await auth.stop()
  }
})

Deno.test('auth email: the stack\'s own service — email change by one link, and the magic link', async () => {
  const user = await signUp()
  const next = uniqueEmail('moved')
  const changed = await user.client.auth.updateUser({ email: next })
  assertEquals(changed.error, null)
  // Confirmations off (config.toml): either address's link completes the change.
  const fragment = await open(linkIn(await lastMailTo(next)))
  assertEquals(fragment.get('type'), 'email_change')
  const [row] = await adminSql`select email from auth.users where id = ${user.id}`
  assertEquals(row.email, next)

  const app = client()
  assertEquals((await app.auth.signInWithOtp({ email: next, options: { shouldCreateUser: false } })).error, null)
  const mail = await lastMailTo(next, 2)
  assertEquals(mail.subject, 'Your sign-in link')
  const signedIn = await app.auth.verifyOtp({ email: next, token: codeIn(mail), type: 'email' })
  assertEquals(signedIn.error, null)
  assertEquals(signedIn.data.user?.id, user.id)
  const unknown = await client().auth.signInWithOtp({ email: uniqueEmail('none'), options: { shouldCreateUser: false } })
  assertEquals(unknown.error?.code, 'otp_disabled')
})
