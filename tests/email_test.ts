// Email: notifications reach travellers by the channels they chose, through
// the mail adapter, caught by the local stack's mail catcher: the right
// subject, text, language and units, exactly once per notification however
// often (or concurrently) the delivery job runs; the daily digest; one-click
// unsubscribe without signing in (and tampered links refused); retries after
// an SMTP failure, visible in GET /notifications; the HTTP email API transport
// against a local stand-in.
import { assert, assertEquals, assertMatch, type Json } from './_support/assert.ts'
import { adminSql, callFunction, signUp, stack, type TestUser } from './_support/stack.ts'
import { functionAs, testConfig, winsAs } from './_support/wins.ts'
import { callJob } from './_support/jobs.ts'
import { socialAs } from './_support/social.ts'
import { shutdownSoon } from './_support/servers.ts'
import { mailerFor, MailError } from '../supabase/functions/_shared/mail.ts'
import { SmtpError, withinDeadline } from '../supabase/functions/_shared/smtp.ts'
import { channelOf } from '../supabase/functions/_shared/email-channels.ts'
import { renderNotification, Units } from '../supabase/functions/_shared/email-content.ts'
import { signUnsubscribe, verifyUnsubscribe } from '../supabase/functions/_shared/unsubscribe.ts'
import { backoffSeconds, emailDeliveries } from '../supabase/functions/jobs/email-deliveries.ts'
import { serviceRoleDb } from '../supabase/functions/jobs/runs.ts'
import type { Mail } from '../supabase/functions/_shared/mail.ts'
import type { CaughtMessage } from '../scripts/local/mail-catcher.ts'
import { testCertificates } from './_support/tls.ts'

const authAs = functionAs('auth')
const notificationsAs = functionAs('notifications')
const catcher = stack.mail.catcher

/** What the catcher holds for `to`, through its JSON API (as a developer's script would read it). */
async function mailTo(to: string): Promise<CaughtMessage[]> {
  const res = await fetch(`${stack.mail.url}/api/v1/messages?to=${encodeURIComponent(to)}`)
  assertEquals(res.status, 200)
  return ((await res.json()).messages as CaughtMessage[]).map((m) => ({ ...m, subject: plain(m.subject), text: plain(m.text) }))
}

/** Intl writes the spaces inside "85 %" and "85,00 €" as no-break spaces; the assertions use plain ones. */
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ')

/** Sends what is due now (everyone's: the suite shares one database). */
const deliver = (at?: string) => callJob('email-deliveries', at ? { at } : {})

async function notificationsOf(user: TestUser, kind?: string): Promise<Json[]> {
  const res = await callFunction(`notifications${kind ? `?kind=${kind}` : ''}`, { token: user.accessToken })
  const body = await res.json()
  assertEquals(res.status, 200, JSON.stringify(body))
  return body.notifications
}

/** A traveller whose fuel budget crosses 80% (one budget_threshold notification). */
async function budgetAlert(user: TestUser): Promise<Json> {
  const wins = winsAs(user)
  assertEquals((await wins('budgets/fuel', { method: 'PUT', body: { amount: '100' } })).status, 201)
  assertEquals((await wins('expenses', { method: 'POST', body: { amount: '85', category: 'fuel', description: 'Diesel' } })).status, 201)
  const [n] = await notificationsOf(user, 'budget_threshold')
  assert(n, 'a budget alert')
  return n
}

Deno.test('email: a budget alert is emailed once, in Spanish and euros, however often the job runs', async () => {
  const user = await signUp({ full_name: 'Lucía' })
  const prefs = { language: 'es-ES', currency: 'EUR', units: 'imperial' }
  assertEquals((await authAs(user)('me', { method: 'PATCH', body: { preferences: prefs } })).status, 200)
  const alert = await budgetAlert(user)
  assertEquals(alert.email.status, 'pending', 'the write only records that an email is due')

  // Delivered twice at once, then again: one email.
  const runs = await Promise.all([deliver(), deliver()])
  for (const r of runs) assertEquals(r.status, 200, JSON.stringify(r.body))
  assertEquals((await deliver()).status, 200)
  const mail = await mailTo(user.email)
  assertEquals(mail.length, 1, mail.map((m) => m.subject).join(' | '))
  const [m] = mail
  assertEquals(m.subject, 'Presupuesto de combustible al 85 %')
  assertMatch(m.text, /^Hola Lucía:/)
  assertMatch(m.text, /Has gastado 85,00 € de 100,00 € en combustible este mes/)
  assertEquals(m.headers['content-language'], 'es')
  assertEquals(m.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click')
  assertMatch(m.headers['list-unsubscribe'], /^<http:\/\/127\.0\.0\.1:\d+\/functions\/v1\/notifications\/unsubscribe\?token=[\w.-]+>$/)
  assertEquals(m.message_id, `<notification.${alert.id}@pam.local>`)
  assert(m.html?.includes('lang="es"'), 'an HTML part too')
  assert(m.text.includes('/notifications/unsubscribe?token='), 'the unsubscribe link is in the body')

  const [after] = await notificationsOf(user, 'budget_threshold')
  assertEquals(after.email.status, 'sent')
  assertEquals(after.email.attempts, 1)
  assert(after.email.sent_at)
})

Deno.test('email: an SMTP refusal is retried with backoff, and the state shows in GET /notifications', async () => {
  await deliver() // what the rest of the suite left due goes first
  const user = await signUp()
  const alert = await budgetAlert(user)
  catcher.refuseNext(1, 451)
  const at = new Date()
  assertEquals((await deliver(at.toISOString())).status, 200)
  let [n] = await notificationsOf(user, 'budget_threshold')
  assertEquals(n.id, alert.id)
  assertEquals(n.email.status, 'pending')
  assertEquals(n.email.attempts, 1)
  assertMatch(n.email.last_error, /451/)
  assertEquals(Date.parse(n.email.next_attempt_at) - Math.floor(at.getTime() / 1000) * 1000 >= 59_000, true)
  assertEquals((await mailTo(user.email)).length, 0)

  // Not yet due: nothing. Once due: sent.
  await deliver(new Date(at.getTime() + 30_000).toISOString())
  assertEquals((await mailTo(user.email)).length, 0)
  await deliver(new Date(at.getTime() + 61_000).toISOString())
  ;[n] = await notificationsOf(user, 'budget_threshold')
  assertEquals(n.email.status, 'sent')
  assertEquals(n.email.attempts, 2)
  assertEquals((await mailTo(user.email)).length, 1)

  // A permanent refusal (550) is not retried: failed, with the reason.
  const other = await signUp()
  await budgetAlert(other)
  catcher.refuseNext(1, 550)
  await deliver()
  ;[n] = await notificationsOf(other, 'budget_threshold')
  assertEquals(n.email.status, 'failed')
  assertMatch(n.email.last_error, /550/)
  // Refusals of our sender address (an operator's setting) are retried; of this message or its recipient, not.
  for (const [stage, code, retryable] of [['mail', 550, true], ['auth', 535, true], ['rcpt', 550, false], ['data', 554, false]] as const) {
    assertEquals(new SmtpError('refused', stage, code).retryable, retryable, `${stage} ${code}`)
  }
  assertEquals(backoffSeconds(60, 1), 60)
  assertEquals(backoffSeconds(60, 4), 480)
  assertEquals(backoffSeconds(60, 20), 6 * 3600)
})

Deno.test('email: one-click unsubscribe works without signing in; tampered and expired links are refused', async () => {
  await deliver()
  const user = await signUp()
  await budgetAlert(user)
  await deliver()
  const [m] = await mailTo(user.email)
  const link = /^<(.+)>$/.exec(m.headers['list-unsubscribe'])![1]
  const token = new URL(link).searchParams.get('token')!

  // The page asks and changes nothing; JSON says what it would stop.
  const page = await fetch(link, { headers: { accept: 'text/html' } })
  assertEquals(page.status, 200)
  assertMatch(page.headers.get('content-security-policy')!, /default-src 'none'/)
  assertMatch(await page.text(), /Stop budget alerts by email\?/)
  const info = await fetch(link, { headers: { accept: 'application/json' } })
  assertEquals(await info.json(), { scope: 'budget_threshold', unsubscribed: false })

  // Tampered: another user's id under this signature; a cut token; a token signed with another key.
  const [payload, mac] = token.split('.')
  const forged = btoa(atob(payload.replace(/-/g, '+').replace(/_/g, '/')).replace(user.id, crypto.randomUUID()))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  const post = (t: string) =>
    fetch(`${stack.url}/functions/v1/notifications/unsubscribe?token=${encodeURIComponent(t)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
  for (const [bad, status] of [[`${forged}.${mac}`, 403], [token.slice(0, -4), 400], ['x', 400]] as const) {
    const r = await post(bad)
    assertEquals(r.status, status, bad)
    assertEquals((await r.json()).error.code, 'invalid_token')
  }
  const foreign = await signUnsubscribe('another-secret-of-at-least-32-characters', {
    userId: user.id,
    scope: 'all',
    issuedAt: Math.floor(Date.now() / 1000),
  })
  assertEquals((await post(foreign)).status, 403)
  const secret = Deno.env.get('PAM_EMAIL_SIGNING_SECRET')!
  const old = await signUnsubscribe(secret, { userId: user.id, scope: 'all', issuedAt: Math.floor(Date.now() / 1000) - 400 * 86400 })
  const expired = await post(old)
  assertEquals(expired.status, 410)
  assertEquals((await expired.json()).error.code, 'token_expired')
  assertEquals((await verifyUnsubscribe(secret, token)).ok, true)

  // The mail client's one-click POST (no apikey, no token): honoured at once.
  const done = await post(token)
  assertEquals(done.status, 200)
  assertEquals(await done.json(), { scope: 'budget_threshold', unsubscribed: true })
  assertEquals((await post(token)).status, 200, 'again is the same')
  const channels = await notificationsAs(user)('channels')
  assertEquals(channels.body.channels.find((c: Json) => c.kind === 'budget_threshold').channel, 'off')
  assertEquals(channels.body.channels.find((c: Json) => c.kind === 'maintenance_due').channel, 'email')

  // The next alert stays in the app.
  const wins = winsAs(user)
  await wins('expenses', { method: 'POST', body: { amount: '20', category: 'fuel' } }) // 105%: the 100% alert
  const alerts = await notificationsOf(user, 'budget_threshold')
  assertEquals(alerts.length, 2)
  assertEquals(alerts[0].email.status, 'none')
  await deliver()
  assertEquals((await mailTo(user.email)).length, 1)
})

Deno.test('email: channels in the profile — defaults, per-kind choices merged, all email off, validated', async () => {
  const user = await signUp()
  const n = notificationsAs(user)
  const first = await n('channels')
  assertEquals(first.status, 200)
  const byKind = (b: Json) => Object.fromEntries(b.channels.map((c: Json) => [c.kind, c.channel]))
  assertEquals(byKind(first.body), {
    budget_threshold: 'email',
    document_expiring: 'email',
    event_reminder: 'email',
    maintenance_due: 'email',
    report_ready: 'off',
    social: 'digest',
  })
  assertEquals(first.body.email, true)
  assertEquals(first.body.address, user.email)

  assertEquals((await n('channels', { method: 'PATCH', body: { channels: { social: 'email' } } })).status, 200)
  const second = await n('channels', { method: 'PATCH', body: { channels: { report_ready: 'digest' } } })
  assertEquals(byKind(second.body).social, 'email', 'kinds not named keep their choice')
  assertEquals(byKind(second.body).report_ready, 'digest')

  for (const bad of [{ channels: { social: 'sms' } }, { channels: { 'Bad Kind': 'off' } }, { email: 'no' }, {}]) {
    const r = await n('channels', { method: 'PATCH', body: bad })
    assertEquals(r.status, 400, JSON.stringify(bad))
  }
  const off = await n('channels', { method: 'PATCH', body: { email: false } })
  assertEquals(Object.values(byKind(off.body)).every((c) => c === 'off'), true)
  // The profile holds it, as PATCH /auth/me shows.
  const me = await authAs(user)('me')
  assertEquals(me.body.profile.preferences.notifications.email, false)
  assertEquals(me.body.profile.preferences.notifications.channels.social, 'email')
  // A notification written now is not emailed.
  await adminSql`insert into pam.notifications (user_id, kind, title) values (${user.id}, 'maintenance_due', 'Oil')`
  const [row] = await adminSql`select email_status from pam.notifications where user_id = ${user.id}`
  assertEquals(row.email_status, 'none')
  // The profile's own route takes the same shape (the whole notifications object).
  const viaMe = await authAs(user)('me', {
    method: 'PATCH',
    body: { preferences: { notifications: { email: true, channels: { social: 'off' } } } },
  })
  assertEquals(viaMe.status, 200, JSON.stringify(viaMe.body))
  assertEquals(byKind((await n('channels')).body).social, 'off')
  const bad = await authAs(user)('me', { method: 'PATCH', body: { preferences: { notifications: { channels: { social: 'loud' } } } } })
  assertEquals(bad.status, 400)
})

Deno.test('email: a notification switch saved alone keeps the email choices and an unsubscribe', async () => {
  const user = await signUp()
  const n = notificationsAs(user)
  assertEquals((await n('channels', { method: 'PATCH', body: { email: false, channels: { social: 'off' } } })).status, 200)
  const me = authAs(user)
  // The app's settings screen saves one switch (PAM's tool and You's profile take the same path).
  const saved = await me('me', { method: 'PATCH', body: { preferences: { notifications: { budget_alerts: false } } } })
  assertEquals(saved.status, 200, JSON.stringify(saved.body))
  assertEquals(saved.body.profile.preferences.notifications, { email: false, budget_alerts: false, channels: { social: 'off' } })
  const more = await me('me', {
    method: 'PATCH',
    body: { preferences: { currency: 'NZD', notifications: { channels: { report_ready: 'digest' } } } },
  })
  assertEquals(more.body.profile.preferences.notifications, {
    email: false,
    budget_alerts: false,
    channels: { social: 'off', report_ready: 'digest' },
  })
  assertEquals(more.body.profile.preferences.currency, 'NZD')
  await adminSql`insert into pam.notifications (user_id, kind, title) values (${user.id}, 'maintenance_due', 'Oil')`
  const [row] = await adminSql`select email_status from pam.notifications where user_id = ${user.id}`
  assertEquals(row.email_status, 'none', 'still unsubscribed')
  // Only the kinds notifications have can be named, so the merged choices stay as few as the kinds.
  const unknown = await n('channels', { method: 'PATCH', body: { channels: { made_up_kind: 'off' } } })
  assertEquals(unknown.status, 400)
  const viaMe = await me('me', { method: 'PATCH', body: { preferences: { notifications: { channels: { made_up_kind: 'off' } } } } })
  assertEquals(viaMe.status, 400)
})

Deno.test('email: a notification more than two days old is not emailed (email switched on late, a long outage)', async () => {
  const user = await signUp()
  await adminSql`insert into pam.notifications (user_id, kind, title, created_at)
    values (${user.id}, 'maintenance_due', 'Oil change, long ago', now() - interval '49 hours')`
  await adminSql`insert into pam.notifications (user_id, kind, title) values (${user.id}, 'maintenance_due', 'Oil change, now')`
  assertEquals((await deliver()).status, 200)
  const mail = await mailTo(user.email)
  assertEquals(mail.length, 1)
  const rows = await adminSql`select title, email_status from pam.notifications where user_id = ${user.id} order by created_at`
  assertEquals(rows.map((r) => [r.title, r.email_status]), [['Oil change, long ago', 'suppressed'], ['Oil change, now', 'sent']])
})

Deno.test('email: a run out of time starts no send it could not finish, and gives back the rest, due at once', async () => {
  const user = await signUp()
  // Due in 2020, so that only this run (at 2020's clock) claims them: the suite's other runs take what is due now.
  const due = '2020-01-01T00:00:00Z'
  const at = new Date('2020-01-01T00:00:10Z')
  const ids: string[] = []
  for (let i = 0; i < 10; i++) {
    const [n] = await adminSql`insert into pam.notifications (user_id, kind, title, created_at)
      values (${user.id}, 'maintenance_due', ${`Service ${i}`}, ${due}) returning id`
    ids.push(n.id)
  }
  await adminSql`update pam.notifications set email_next_attempt_at = ${due} where id = any(${ids})`
  const started: string[] = []
  const mailer = {
    transport: 'http' as const,
    async send(mail: Mail) {
      started.push(mail.idempotencyKey.split('/')[1])
      await new Promise((r) => setTimeout(r, 1200))
      return { id: mail.idempotencyKey }
    },
  }
  // Each attempt may take 2 s and every send must be over by 3 s: the first four (4 at once) start at
  // once; by the time they end (1.2 s) a new one could run past 3 s, so none starts.
  const config = testConfig({ PAM_EMAIL_TRANSPORT: 'http', PAM_EMAIL_API_KEY: 'k', PAM_EMAIL_TIMEOUT_MS: '2000' })
  const result = await emailDeliveries(serviceRoleDb(config), mailer, config, at, { claimForMs: 60_000, sendWithinMs: 3000 })
  assertEquals([result.sent, result.deferred, result.rows_written], [4, 6, 10])
  const rows = await adminSql`select id, email_status, email_attempts, email_next_attempt_at from pam.notifications
    where id = any(${ids})`
  const sent = rows.filter((r) => r.email_status === 'sent')
  assertEquals(sent.map((r) => r.id).sort(), [...started].sort())
  assert(sent.every((r) => r.email_attempts === 1))
  const back = rows.filter((r) => r.email_status !== 'sent')
  assertEquals(back.length, 6)
  for (const r of back) {
    assertEquals([r.email_status, r.email_attempts, new Date(r.email_next_attempt_at).toISOString()], ['pending', 0, at.toISOString()])
  }
  // The next run sends them.
  const next = await emailDeliveries(serviceRoleDb(config), mailer, config, at)
  assertEquals([next.sent, next.deferred], [6, 0])
  assertEquals(started.length, 10)
  assertEquals(new Set(started).size, 10)
})

Deno.test('email: the database and the code agree on every channel', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{}, 'budget_threshold'],
    [{}, 'social'],
    [{}, 'report_ready'],
    [{}, 'document_expiry'],
    [{ notifications: { channels: { social: 'off' } } }, 'social'],
    [{ notifications: { channels: { budget_threshold: 'digest' } } }, 'budget_threshold'],
    [{ notifications: { email: false, channels: { social: 'email' } } }, 'social'],
    [{ notifications: { email: true } }, 'event_reminder'],
    [{ notifications: { channels: { social: 'bogus' } } }, 'social'],
  ]
  for (const [prefs, kind] of cases) {
    const [row] = await adminSql`select pam.email_channel(${adminSql.json(prefs as never)}, ${kind}) as channel`
    assertEquals(row.channel, channelOf((prefs.notifications ?? {}) as never, kind), JSON.stringify([prefs, kind]))
  }
})

Deno.test('email: the digest job at the local digest hour, then one delivery', async () => {
  const user = await signUp({ full_name: 'Marie' })
  await adminSql`update pam.profiles set preferences = ${adminSql.json({ language: 'fr-FR', timezone: 'UTC' } as never)} where id = ${user.id}`
  const actor = await signUp({ full_name: 'Jules' })
  // The run after 18:00 UTC today (the user's zone), and again the same day: one digest. The
  // notifications are from an hour before it, whatever the time the test runs (a digest takes
  // only what was there at its hour).
  const now = new Date()
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 23, 0, 0))
  for (const type of ['like', 'friend_request']) {
    await adminSql`insert into pam.notifications (user_id, kind, title, body, data, created_at)
      values (${user.id}, 'social', 'x', '', ${adminSql.json({ type, user_id: actor.id } as never)},
              ${new Date(at.getTime() - 3600_000).toISOString()}::timestamptz)`
  }
  for (let i = 0; i < 2; i++) {
    const r = await callJob('email-digest', { at: at.toISOString() })
    assertEquals(r.status, 200, JSON.stringify(r.body))
  }
  const digests = await adminSql`select id, day::text from pam.email_digests where user_id = ${user.id}`
  assertEquals(digests.length, 1)
  await deliver(at.toISOString())
  await deliver(at.toISOString())
  const mail = await mailTo(user.email)
  assertEquals(mail.length, 1)
  assertEquals(mail[0].subject, 'Votre résumé PAM : 2 nouveautés')
  assertMatch(mail[0].text, /Jules a aimé votre publication/)
  assertMatch(mail[0].text, /Jules souhaite devenir votre ami/)
  assertEquals(mail[0].message_id, `<digest.${digests[0].id}@pam.local>`)
  const social = await notificationsOf(user, 'social')
  assertEquals(social.map((n) => n.email.status), ['sent', 'sent'])

  // Unsubscribing from the digest turns the kinds it carried off.
  const link = /^<(.+)>$/.exec(mail[0].headers['list-unsubscribe'])![1]
  assertEquals((await fetch(link, { method: 'POST' })).status, 200)
  const channels = await notificationsAs(user)('channels')
  assertEquals(channels.body.channels.find((c: Json) => c.kind === 'social').channel, 'off')
})

Deno.test('email: a kind turned off in the app leaves the digest and the waiting emails, as the unsubscribe link does', async () => {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = ${adminSql.json({ timezone: 'UTC' } as never)} where id = ${user.id}`
  const channels = (body: Json) => notificationsAs(user)('channels', { method: 'PATCH', body: { channels: body } })
  assertEquals((await channels({ maintenance_due: 'digest', event_reminder: 'digest' })).status, 200)
  // Three kinds wait for the digest after 18:00 UTC today (written an hour before it, as in the digest test above).
  const now = new Date()
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 23, 0, 0))
  for (const kind of ['maintenance_due', 'social', 'event_reminder']) {
    await adminSql`insert into pam.notifications (user_id, kind, title, data, created_at)
      values (${user.id}, ${kind}, 'x', ${adminSql.json({ task: 'Oil change' } as never)},
              ${new Date(at.getTime() - 3600_000).toISOString()}::timestamptz)`
  }
  // Social turned off in the app's settings; calendar reminders through the profile's own route.
  assertEquals((await channels({ social: 'off' })).status, 200)
  const me = await authAs(user)('me', { method: 'PATCH', body: { preferences: { notifications: { channels: { event_reminder: 'off' } } } } })
  assertEquals(me.status, 200, JSON.stringify(me.body))
  assertEquals((await callJob('email-digest', { at: at.toISOString() })).status, 200)
  await deliver(at.toISOString())
  const mail = await mailTo(user.email)
  assertEquals(mail.map((m) => m.subject), ['Your PAM digest: 1 update'])
  assertMatch(mail[0].text, /Oil change is due soon/)
  const rows = await adminSql`select kind, email_status from pam.notifications where user_id = ${user.id} order by kind`
  assertEquals(rows.map((r) => [r.kind, r.email_status]), [
    ['event_reminder', 'suppressed'],
    ['maintenance_due', 'sent'],
    ['social', 'suppressed'],
  ])
})

Deno.test("email: the digest's unsubscribe link stops the digest made, whatever its items' kinds go to now", async () => {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = ${adminSql.json({ timezone: 'UTC' } as never)} where id = ${user.id}`
  const now = new Date()
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 23, 0, 0))
  await adminSql`insert into pam.notifications (user_id, kind, title, created_at)
    values (${user.id}, 'social', 'Jules liked your post', ${new Date(at.getTime() - 3600_000).toISOString()}::timestamptz)`
  assertEquals((await callJob('email-digest', { at: at.toISOString() })).status, 200)
  // Social goes by email from now on: the digest already made still holds the item, and is the link's to stop.
  const moved = await notificationsAs(user)('channels', { method: 'PATCH', body: { channels: { social: 'email' } } })
  assertEquals(moved.status, 200)
  const token = await signUnsubscribe(Deno.env.get('PAM_EMAIL_SIGNING_SECRET')!, {
    userId: user.id,
    scope: 'digest',
    issuedAt: Math.floor(Date.now() / 1000),
  })
  const res = await fetch(`${stack.url}/functions/v1/notifications/unsubscribe?token=${encodeURIComponent(token)}`, { method: 'POST' })
  assertEquals(res.status, 200, await res.text())
  await deliver(at.toISOString())
  assertEquals((await mailTo(user.email)).length, 0, 'no digest')
  const [row] = await adminSql`select email_status from pam.notifications where user_id = ${user.id}`
  assertEquals(row.email_status, 'suppressed')
})

Deno.test('email: a comment deleted or hidden, or a friend request withdrawn, leaves the app and is never emailed', async () => {
  await deliver() // what the rest of the suite left due goes first
  const [author, reader, fan, asker, leaver] = await Promise.all(['Ana', 'Dee', 'Ben', 'Cal', 'Gus'].map((n) => signUp({ full_name: n })))
  // Ana reads Social by email (each within a minute); Dee by the digest (the default), at 20:00 in her zone at `at`.
  assertEquals((await notificationsAs(author)('channels', { method: 'PATCH', body: { channels: { social: 'email' } } })).status, 200)
  const at = new Date(Date.now() + 60_000)
  const offset = ((20 - at.getUTCHours() + 36) % 24) - 12
  const zone = offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`
  await adminSql`update pam.profiles set preferences = ${adminSql.json({ timezone: zone } as never)} where id = ${reader.id}`
  const post = async (user: TestUser) => (await socialAs(user)('posts', { method: 'POST', body: { body: 'Karijini gorges' } })).body.post
  const comment = async (user: TestUser, postId: string, body: string) => {
    const res = await socialAs(user)(`posts/${postId}/comments`, { method: 'POST', body: { body } })
    assertEquals(res.status, 201, JSON.stringify(res.body))
    return res.body.comment
  }
  const shown = async (user: TestUser) => (await notificationsOf(user, 'social')).map((n) => n.body).sort()

  // Ana: a comment deleted by its writer and a request withdrawn, before the delivery run.
  const anas = await post(author)
  await comment(fan, anas.id, 'See you at Dales')
  const deleted = await comment(fan, anas.id, 'My number is 0400 111 222')
  const ask = await socialAs(asker)('friends/requests', { method: 'POST', body: { user_id: author.id, message: 'We met at Fortescue' } })
  assertEquals(ask.status, 201)
  assertEquals(await shown(author), ['My number is 0400 111 222', 'See you at Dales', 'We met at Fortescue'])
  assertEquals((await socialAs(fan)(`comments/${deleted.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await socialAs(asker)(`friends/${author.id}`, { method: 'DELETE' })).status, 204)
  assertEquals(await shown(author), ['See you at Dales'])

  // Dee: her digest made, then a comment hidden by PAM's moderators and one whose writer deleted their account.
  const dees = await post(reader)
  await comment(fan, dees.id, 'Handrail Pool was cold')
  const hidden = await comment(fan, dees.id, 'Buy cheap followers')
  await comment(leaver, dees.id, 'Gus was here')
  assertEquals((await callJob('email-digest', { at: at.toISOString() })).status, 200)
  await adminSql`update pam.comments set hidden = true where id = ${hidden.id}` // as the admin portal hides one
  await adminSql`delete from auth.users where id = ${leaver.id}`
  assertEquals(await shown(reader), ['Handrail Pool was cold'])

  await deliver(at.toISOString())
  const [toAna, toDee] = [await mailTo(author.email), await mailTo(reader.email)]
  assertEquals(toAna.map((m) => m.text.includes('See you at Dales')), [true], 'the comment still there, once')
  assertEquals(toDee.length, 1, 'the digest')
  assertMatch(toDee[0].text, /Handrail Pool was cold/)
  for (const gone of [/0400 111 222/, /Fortescue/, /followers/, /Gus was here/]) {
    assert(![...toAna, ...toDee].some((m) => gone.test(m.text)), `${gone} is not emailed`)
  }
})

Deno.test('email: content in the traveller\'s units and language', () => {
  const report = {
    id: crypto.randomUUID(),
    kind: 'report_ready',
    title: 'Your day on 2026-03-14',
    body: '',
    data: { date: '2026-03-14' },
    created_at: new Date().toISOString(),
    extras: { report: { total_spent: '123.40', currency: 'USD', expense_count: 3, distance_km: '160.9' } },
  }
  const en = renderNotification(report, { name: 'Sam', preferences: { units: 'imperial', language: 'en-US', currency: 'USD' } }, 'https://x/u')
  assertEquals(plain(en.subject), 'Your day on March 14, 2026')
  assertMatch(plain(en.text), /You spent \$123\.40 in 3 expenses and drove 100 mi\./)
  const de = renderNotification(report, { name: 'Sam', preferences: { language: 'de', distance_unit: 'km' } }, 'https://x/u')
  assertMatch(plain(de.text), /Sie haben 123,40 \$ in 3 Ausgaben ausgegeben und 161 km zurückgelegt\./)
  const unknown = renderNotification({ ...report, kind: 'document_expiry', title: 'Rego expires soon', body: 'On 1 May' }, {
    name: 'Sam',
    preferences: { language: 'pt-BR' },
  }, 'https://x/u')
  assertEquals(unknown.language, 'en')
  assertEquals(unknown.subject, 'Rego expires soon')
  const maintenance = renderNotification({
    ...report,
    kind: 'maintenance_due',
    data: { task: 'Oil change', status: 'due', due_date: '2026-04-01', days_left: 12, due_odometer: 190000, odometer_unit: 'km', distance_left: 1609.344 },
    extras: { vehicle: 'The Troopy' },
  }, { name: 'Sam', preferences: { units: 'imperial' } }, 'https://x/u')
  assertEquals(maintenance.subject, 'Oil change is due soon on The Troopy')
  assertMatch(plain(maintenance.text), /Due at 190,000 km on the odometer \(1,000 mi to go\)\./)
  assertEquals(new Units({ units: 'imperial' }).distance, 'mi')
})

Deno.test('email: the HTTP email API transport (Resend\'s POST /emails) against a local stand-in', async () => {
  const received: { headers: Headers; body: Json }[] = []
  let answer = { status: 200, body: { id: 'em_123' } as Json }
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    received.push({ headers: req.headers, body: await req.json() })
    return Response.json(answer.body, { status: answer.status })
  })
  try {
    const config = testConfig({
      PAM_EMAIL_TRANSPORT: 'http',
      PAM_EMAIL_API_URL: `http://127.0.0.1:${server.addr.port}`,
      PAM_EMAIL_API_KEY: 're_test_key',
    })
    const mailer = mailerFor(config.email)
    const mail = {
      to: 'a@example.com',
      subject: 'Hi',
      text: 'plain',
      html: '<p>plain</p>',
      headers: { 'List-Unsubscribe': '<https://x/u>' },
      messageId: '<notification.1@pam.local>',
      idempotencyKey: 'pam-notification/1',
    }
    assertEquals(await mailer.send(mail), { id: 'em_123' })
    const [first] = received
    assertEquals(first.headers.get('authorization'), 'Bearer re_test_key')
    assertEquals(first.headers.get('idempotency-key'), 'pam-notification/1')
    assertEquals(first.body.to, ['a@example.com'])
    assertEquals(first.body.text, 'plain')
    assertEquals(first.body.headers['List-Unsubscribe'], '<https://x/u>')
    assertEquals(first.body.headers['Message-ID'], '<notification.1@pam.local>')
    for (const [status, retryable] of [[429, true], [500, true], [422, false], [400, false], [401, true]] as const) {
      answer = { status, body: { statusCode: status, name: 'x', message: 'no' } }
      try {
        await mailer.send(mail)
        throw new Error('expected a failure')
      } catch (err) {
        assert(err instanceof MailError, String(err))
        assertEquals(err.retryable, retryable, String(status))
      }
    }
    // A server that takes the connection and never answers: a retryable timeout.
    const silent = Deno.listen({ hostname: '127.0.0.1', port: 0 })
    const held: Deno.Conn[] = []
    ;(async () => {
      for await (const conn of silent) held.push(conn)
    })().catch(() => {})
    try {
      const slow = mailerFor({ ...config.email, timeoutMs: 200, api: { url: `http://127.0.0.1:${silent.addr.port}`, key: 'k' } })
      await slow.send(mail).then(() => assert(false, 'sent?'), (err) => assert(err instanceof MailError && err.retryable, String(err)))
    } finally {
      silent.close()
      for (const c of held) c.close()
    }
  } finally {
    await shutdownSoon(server)
  }
})

Deno.test('email: a retry after a lost answer is the same request; a key the HTTP API took with another body is sent', async () => {
  // A stand-in for Resend's idempotency: a key that comes again with the same body answers as the first time
  // and sends nothing; with another body, 409 invalid_idempotent_request. `lose` answers come after the
  // client's deadline: the email is taken, and the answer lost.
  const taken = new Map<string, { body: string; id: string }>()
  const bodies = new Map<string, string[]>()
  let lose = 0
  let busy = false
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    const key = req.headers.get('idempotency-key')!
    const body = await req.text()
    bodies.set(key, [...bodies.get(key) ?? [], body])
    if (busy) return Response.json({ name: 'concurrent_idempotent_requests', message: 'in progress' }, { status: 409 })
    const earlier = taken.get(key)
    if (earlier && earlier.body !== body) {
      return Response.json({ name: 'invalid_idempotent_request', message: 'another payload' }, { status: 409 })
    }
    const id = earlier?.id ?? `em_${taken.size + 1}`
    taken.set(key, { body, id })
    if (lose > 0) {
      lose--
      await new Promise((r) => setTimeout(r, 400))
    }
    return Response.json({ id })
  })
  try {
    const config = testConfig({
      PAM_EMAIL_TRANSPORT: 'http',
      PAM_EMAIL_API_URL: `http://127.0.0.1:${server.addr.port}`,
      PAM_EMAIL_API_KEY: 'k',
      PAM_EMAIL_TIMEOUT_MS: '200',
    })
    const mailer = mailerFor(config.email)
    // Two travellers' notifications, due in 2020 so that only these runs (at 2020's clock) claim them.
    const [same, renamed] = await Promise.all([signUp({ full_name: 'Noor' }), signUp({ full_name: 'Olek' })])
    const due = '2020-01-01T00:00:00Z'
    const ids: string[] = []
    for (const user of [same, renamed]) {
      const [n] = await adminSql`insert into pam.notifications (user_id, kind, title, created_at)
        values (${user.id}, 'maintenance_due', 'Oil change', ${due}) returning id`
      ids.push(n.id)
    }
    await adminSql`update pam.notifications set email_next_attempt_at = ${due} where id = any(${ids})`
    const at = new Date('2020-01-01T00:00:10Z')
    lose = 2
    assertEquals((await emailDeliveries(serviceRoleDb(config), mailer, config, at)).retrying, 2)
    // Olek's name changes before the retry, which comes a second later or more, as every retry does.
    await adminSql`update pam.profiles set full_name = 'Oleksandr' where id = ${renamed.id}`
    await new Promise((r) => setTimeout(r, 1100))
    const retry = await emailDeliveries(serviceRoleDb(config), mailer, config, new Date(at.getTime() + 61_000))
    assertEquals([retry.sent, retry.retrying, retry.failed], [2, 0, 0])
    const rows = await adminSql`select id, email_status, email_attempts, email_last_error from pam.notifications
      where id = any(${ids})`
    for (const r of rows) assertEquals([r.email_status, r.email_attempts, r.email_last_error], ['sent', 2, null])
    const [first, again] = bodies.get(`pam-notification/${ids[0]}`)!
    assertEquals(again, first, 'the retry is the same bytes: its link was issued when the notification was written')
    const [before, after] = bodies.get(`pam-notification/${ids[1]}`)!
    assert(!before.includes('Oleksandr') && after.includes('Oleksandr'), 'the renamed traveller\'s retry had another body')
    assertEquals(taken.size, 2, 'one email each')

    // Another attempt under the key still running: retried later.
    busy = true
    const mail = { to: 'a@example.com', subject: 'Hi', text: 'x', messageId: '<n.1@pam.local>', idempotencyKey: 'pam-notification/1' }
    await mailer.send(mail).then(() => assert(false, 'sent?'), (err) => assert(err instanceof MailError && err.retryable, String(err)))
  } finally {
    await shutdownSoon(server)
  }
})

Deno.test('email: the catcher\'s page lists the mail, with a strict CSP', async () => {
  const res = await fetch(stack.mail.url)
  assertEquals(res.status, 200)
  assertMatch(res.headers.get('content-security-policy')!, /default-src 'none'/)
  assertMatch(await res.text(), /Mail caught by the local stack/)
  const [any] = catcher.messages()
  if (any) {
    const one = await fetch(`${stack.mail.url}/${any.id}`)
    assertEquals(one.status, 200)
    assertMatch(await one.text(), /Plain text/)
    assertEquals((await fetch(`${stack.mail.url}/api/v1/message/${any.id}/raw`)).status, 200)
  }
  assertEquals((await fetch(`${stack.mail.url}/api/v1/message/nope`)).status, 404)
  // The one-click POST works without the apikey every other call carries.
  assertEquals((await callFunction('notifications/unsubscribe?token=x', { method: 'POST', apikey: null })).status, 400)
})

Deno.test('email: SMTP with implicit TLS (port 465 in production) and AUTH, through the adapter', async () => {
  const certs = await testCertificates('the SMTP-over-TLS test')
  if (!certs) return
  // TLS in front of the catcher, as a provider's port 465 is.
  const listener = Deno.listenTls({ hostname: '127.0.0.1', port: 0, cert: certs.cert, key: certs.key })
  const open: Deno.Conn[] = []
  ;(async () => {
    for await (const tls of listener) {
      const plain = await Deno.connect({ hostname: catcher.hostname, port: catcher.port })
      open.push(tls, plain)
      tls.readable.pipeTo(plain.writable).catch(() => {})
      plain.readable.pipeTo(tls.writable).catch(() => {})
    }
  })().catch(() => {})
  try {
    const config = testConfig({
      PAM_EMAIL_TRANSPORT: 'smtp',
      PAM_SMTP_HOST: '127.0.0.1',
      PAM_SMTP_PORT: String(listener.addr.port),
      PAM_SMTP_TLS: 'implicit',
      PAM_SMTP_USER: 'pam',
      PAM_SMTP_PASS: 'secret',
      PAM_SMTP_CA_CERT: certs.ca,
    })
    const to = `tls-${crypto.randomUUID().slice(0, 8)}@example.com`
    await mailerFor(config.email).send({
      to,
      subject: 'Über TLS ✓',
      text: 'a line\n.a line that starts with a dot\n',
      messageId: '<tls.1@pam.local>',
      idempotencyKey: 'tls-1',
    })
    const [m] = await mailTo(to)
    assertEquals(m.subject, 'Über TLS ✓')
    assertEquals(m.text.trim(), 'a line\n.a line that starts with a dot')
    // Without the CA the certificate is refused: a retryable failure, nothing sent.
    const untrusted = mailerFor({ ...config.email, smtp: { ...config.email.smtp, ca: undefined } })
    await untrusted.send({ to, subject: 'x', text: 'x', messageId: '<tls.2@pam.local>', idempotencyKey: 'tls-2' })
      .then(() => assert(false, 'sent?'), (err) => assert(err instanceof MailError && err.retryable, String(err)))
    assertEquals((await mailTo(to)).length, 1)
  } finally {
    listener.close()
    for (const c of open) {
      try {
        c.close()
      } catch { /* closed */ }
    }
  }
})

Deno.test('email: an SMTP attempt ends at its deadline: a connection never made, no greeting, STARTTLS never finished', async () => {
  // A host that never answers the TCP handshake cannot be made here (this machine's network answers every
  // address): the connect is a promise that never settles.
  const started = Date.now()
  await withinDeadline(new Promise<Deno.Conn>(() => {}), AbortSignal.timeout(100))
    .then(() => assert(false, 'connected?'), (err) => assertEquals(err.name, 'TimeoutError'))
  assert(Date.now() - started < 1000, `${Date.now() - started} ms`)
  // A connection that comes after the deadline is closed.
  let arrive!: (conn: { close(): void }) => void
  const late = new Promise<{ close(): void }>((r) => (arrive = r))
  const deadline = new AbortController()
  const waiting = withinDeadline(late, deadline.signal)
  deadline.abort(new Error('deadline'))
  await waiting.then(() => assert(false, 'connected?'), (err) => assertEquals(err.message, 'deadline'))
  let closed = false
  arrive({ close: () => (closed = true) })
  await late
  assert(closed, 'the late connection is closed')

  // Servers that take the connection and stall: before the greeting; once STARTTLS is agreed, with no TLS after it
  // (on the Edge Runtime's Deno, a write waiting on that handshake outlived the connection's close).
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const held: Deno.Conn[] = []
  let greet = false
  ;(async () => {
    for await (const conn of listener) {
      held.push(conn)
      if (!greet) continue
      ;(async () => {
        const say = (s: string) => conn.write(new TextEncoder().encode(s))
        const line = new Uint8Array(1024)
        await say('220 pam.test\r\n')
        await conn.read(line) // EHLO
        await say('250-pam.test\r\n250 STARTTLS\r\n')
        await conn.read(line) // STARTTLS
        await say('220 go ahead\r\n')
      })().catch(() => {})
    }
  })().catch(() => {})
  try {
    for (const [tls, stage] of [['none', 'greeting'], ['starttls', 'starttls']] as const) {
      greet = tls === 'starttls'
      const config = testConfig({
        PAM_EMAIL_TRANSPORT: 'smtp',
        PAM_SMTP_HOST: '127.0.0.1',
        PAM_SMTP_PORT: String(listener.addr.port),
        PAM_SMTP_TLS: tls,
        PAM_EMAIL_TIMEOUT_MS: '200',
      })
      const sending = mailerFor(config.email).send({ to: 'a@example.com', subject: 'x', text: 'x', messageId: '<s.1@pam.local>', idempotencyKey: 's-1' })
      let timer: ReturnType<typeof setTimeout> | undefined
      const outcome = await Promise.race([
        sending.then(() => 'sent', (err) => err),
        new Promise((r) => (timer = setTimeout(() => r('still waiting after 3 s'), 3000))),
      ])
      clearTimeout(timer)
      assert(outcome instanceof MailError && outcome.retryable, `${tls}: ${outcome}`)
      assertMatch(outcome.message, new RegExp(`timed out during ${stage}`))
    }
  } finally {
    listener.close()
    for (const c of held) {
      try {
        c.close()
      } catch { /* closed */ }
    }
  }
})
