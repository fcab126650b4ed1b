// The email side of notifications: which kinds reach the traveller by email
// (GET/PATCH /notifications/channels, stored in the profile), and the
// unsubscribe link every email carries, which works without signing in
// (GET: a page that asks; POST: one click, RFC 8058). The token in the link
// is the credential (_shared/unsubscribe.ts): signed, naming one traveller
// and what to stop, so its routes use the service role for that one row.
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Config } from '../_shared/config.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { body, errorOf, json } from '../_shared/resource.ts'
import { type Channel, channelOf, Channels, CHANNELS, DEFAULT_CHANNELS, type EmailPreferences } from '../_shared/email-channels.ts'
import { verifyUnsubscribe } from '../_shared/unsubscribe.ts'
import { escapeHtml } from '../_shared/email-content.ts'
import type { PostgresApi, Tx } from '../_shared/db.ts'
import { asServiceRole, serviceRoleDb } from '../jobs/runs.ts'

const tags = ['notifications: email']

const ChannelsAnswer = z.object({
  email: z.boolean().openapi({ description: 'false: no email at all (in-app only)' }),
  address: z.string().openapi({ description: 'where the emails go (the account email)' }),
  digest_hour: z.number().openapi({ description: 'local hour after which the daily digest is sent' }),
  channels: z.array(z.object({
    kind: z.string(),
    channel: z.enum(CHANNELS).openapi({ description: 'what applies now (off for every kind while email is false)' }),
    chosen: z.enum(CHANNELS).nullable().openapi({ description: 'what you chose; null: the default' }),
    default: z.enum(CHANNELS),
  })),
}).openapi('EmailChannels')

const getChannels = route({
  auth: 'user',
  method: 'get',
  path: '/channels',
  tags,
  summary: 'How each kind of notification reaches you by email (in-app is always on)',
  responses: { 200: { description: 'Your email channels', ...json(ChannelsAnswer) } },
})

const ChannelsPatch = z.object({
  email: z.boolean().optional().openapi({ description: 'false turns every email off; true turns them back on' }),
  channels: Channels.optional(),
}).strict().refine((v) => Object.keys(v).length > 0, 'nothing to update').openapi('EmailChannelsPatch')

const patchChannels = route({
  auth: 'user',
  method: 'patch',
  path: '/channels',
  tags,
  summary: 'Choose email per kind: email, digest (one a day) or off; kinds not named keep their choice',
  request: body(ChannelsPatch),
  responses: { 200: { description: 'Your email channels', ...json(ChannelsAnswer) } },
})

const TokenQuery = z.object({
  token: z.string().min(1).max(400).openapi({ description: 'the signed token from the email' }),
})
const Unsubscribed = z.object({
  scope: z.string().openapi({ description: 'a notification kind, digest, or all' }),
  unsubscribed: z.boolean().openapi({ description: 'GET: whether it is already off; POST: true' }),
}).openapi('Unsubscribe')

const tokenErrors = {
  400: errorOf('invalid_token: the link is damaged'),
  403: errorOf('invalid_token: the link was not made by PAM'),
  410: errorOf('token_expired: the link is over a year old; change email settings in the app'),
  503: errorOf('email_not_configured: PAM_EMAIL_SIGNING_SECRET is not set'),
}

const unsubscribePage = route({
  auth: 'none',
  method: 'get',
  path: '/unsubscribe',
  tags,
  summary: 'What an unsubscribe link stops (a page asking to confirm; JSON with Accept: application/json)',
  description: 'No sign-in: the signed token is the credential. Nothing changes on GET (mail scanners follow links).',
  request: { query: TokenQuery },
  responses: {
    200: {
      description: 'The confirmation page, or what the token stops',
      content: { 'text/html': { schema: z.string() }, 'application/json': { schema: Unsubscribed } },
    },
    ...tokenErrors,
  },
})

const unsubscribeNow = route({
  auth: 'none',
  method: 'post',
  path: '/unsubscribe',
  tags,
  summary: "One-click unsubscribe (RFC 8058: the mail client's POST with List-Unsubscribe=One-Click, or the page's button)",
  description: 'Honoured at once: the channel becomes off (a kind, the digest, or every email for `all`), and emails ' +
    'of that scope not yet sent are suppressed. The body, if any, is ignored. No sign-in.',
  request: { query: TokenQuery },
  responses: {
    200: {
      description: 'Unsubscribed (again is the same)',
      content: { 'text/html': { schema: z.string() }, 'application/json': { schema: Unsubscribed } },
    },
    ...tokenErrors,
  },
})

export function registerEmailRoutes(app: App, config: Config): void {
  let admin: PostgresApi | undefined
  const db = () => (admin ??= serviceRoleDb(config))

  app.openapi(getChannels, async (c) => {
    const [row] = await c.var.postgres.query<{ email: string; preferences: Record<string, unknown> }>`
      select email, preferences from pam.profiles where id = (select auth.uid())`
    if (!row) throw notFound('profile')
    return c.json(channelsOf(row, config), 200)
  })

  app.openapi(patchChannels, async (c) => {
    const patch = c.req.valid('json')
    const [row] = await c.var.postgres.transaction((tx) =>
      tx`
        update pam.profiles p
           set preferences = jsonb_set(p.preferences, '{notifications}',
                 coalesce(p.preferences -> 'notifications', '{}'::jsonb)
                 || ${JSON.stringify(patch.email === undefined ? {} : { email: patch.email })}::text::jsonb
                 || jsonb_build_object('channels',
                      coalesce(p.preferences -> 'notifications' -> 'channels', '{}'::jsonb)
                      || ${JSON.stringify(patch.channels ?? {})}::text::jsonb))
         where p.id = (select auth.uid())
        returning p.email, p.preferences`
    )
    if (!row) throw notFound('profile')
    await forgetProfile(c, c.var.userId!)
    return c.json(channelsOf(row as never, config), 200)
  })

  app.openapi(unsubscribePage, async (c) => {
    const { token } = c.req.valid('query')
    const scope = await verified(config, token)
    const [row] = await asServiceRole(db(), (tx) =>
      tx`select preferences from pam.profiles where id = ${scope.userId}`
    )
    const prefs = (row?.preferences as Record<string, unknown> | undefined)?.notifications as EmailPreferences | undefined
    const off = !row || isOff(prefs, scope.scope)
    if (!wantsHtml(c)) return c.json({ scope: scope.scope, unsubscribed: off }, 200)
    return page(c, off ? `You no longer get ${what(scope.scope)} by email.` : `Stop ${what(scope.scope)} by email?`, !off)
  })

  app.openapi(unsubscribeNow, async (c) => {
    const { token } = c.req.valid('query')
    const scope = await verified(config, token)
    const found = await asServiceRole(db(), (tx) => unsubscribe(tx, scope.userId, scope.scope))
    if (found) await forgetProfile(c, scope.userId)
    if (!wantsHtml(c)) return c.json({ scope: scope.scope, unsubscribed: true }, 200)
    return page(c, `Done: you no longer get ${what(scope.scope)} by email. You can turn it back on in the PAM app.`, false)
  })
}

function channelsOf(row: { email: string; preferences: Record<string, unknown> }, config: Config) {
  const prefs = (row.preferences?.notifications ?? {}) as EmailPreferences
  const kinds = [...new Set([...Object.keys(DEFAULT_CHANNELS), ...Object.keys(prefs.channels ?? {})])].sort()
  return {
    email: prefs.email !== false,
    address: row.email,
    digest_hour: config.email.digestHour,
    channels: kinds.map((kind) => ({
      kind,
      channel: channelOf(prefs, kind),
      chosen: (prefs.channels?.[kind] ?? null) as Channel | null,
      default: channelOf({}, kind),
    })),
  }
}

async function forgetProfile(c: AppContext, user: string): Promise<void> {
  const p = CACHE_POLICIES
  await c.var.cache.invalidate(user, p.user_profiles.key(user), p.chat_context.key(user), p.dashboard.key(user))
}

async function verified(config: Config, token: string) {
  const secret = config.email.signingSecret
  if (!secret) throw new ApiError(503, 'email_not_configured', 'email is not configured here', undefined, { 'Retry-After': '3600' })
  const result = await verifyUnsubscribe(secret, token)
  if (result.ok) return result.value
  if (result.reason === 'expired') {
    throw new ApiError(410, 'token_expired', 'this link has expired: change which emails you get in the PAM app')
  }
  if (result.reason === 'signature') throw new ApiError(403, 'invalid_token', 'this link was not made by PAM')
  throw new ApiError(400, 'invalid_token', 'this link is damaged: copy the whole link from the email')
}

/** Whether `scope` is off already under these preferences. */
function isOff(prefs: EmailPreferences | undefined, scope: string): boolean {
  if (prefs?.email === false) return true
  if (scope === 'all') return false
  if (scope === 'digest') return digestKinds(prefs).length === 0
  return channelOf(prefs, scope) === 'off'
}

/** The kinds that currently go to the digest. */
function digestKinds(prefs: EmailPreferences | undefined): string[] {
  const kinds = new Set([...Object.keys(DEFAULT_CHANNELS), ...Object.keys(prefs?.channels ?? {})])
  return [...kinds].filter((k) => channelOf(prefs, k) === 'digest')
}

/** Turns the scope off in the profile; false when the account is gone. Its emails not sent yet are suppressed by
 * the profile's trigger (pam.profiles_email_turned_off), as for every change that turns a kind off; and for the
 * digest (or all), what waits for it too, whatever its kind's channel has become since. */
async function unsubscribe(tx: Tx, userId: string, scope: string): Promise<boolean> {
  const [row] = await tx`select preferences from pam.profiles where id = ${userId} for update`
  if (!row) return false
  const prefs = (row.preferences as Record<string, unknown>) ?? {}
  const notifications = { ...((prefs.notifications ?? {}) as EmailPreferences & Record<string, unknown>) }
  let kinds: string[] = []
  if (scope === 'all') notifications.email = false
  else {
    kinds = scope === 'digest' ? digestKinds(notifications) : [scope]
    notifications.channels = { ...notifications.channels, ...Object.fromEntries(kinds.map((k) => [k, 'off' as const])) }
  }
  await tx`
    update pam.profiles set preferences = jsonb_set(preferences, '{notifications}', ${JSON.stringify(notifications)}::text::jsonb)
    where id = ${userId}`
  if (scope === 'all' || scope === 'digest') {
    await tx`update pam.notifications set email_status = 'suppressed', email_last_error = 'unsubscribed'
             where user_id = ${userId} and email_status = 'digest'`
    await tx`update pam.email_digests set status = 'suppressed', last_error = 'unsubscribed'
             where user_id = ${userId} and status = 'pending'`
  }
  return true
}

const KIND_WORDS: Record<string, string> = {
  all: 'any PAM email',
  digest: 'the daily digest',
  budget_threshold: 'budget alerts',
  maintenance_due: 'maintenance reminders',
  report_ready: 'daily reports',
  social: 'community activity',
  event_reminder: 'calendar reminders',
}
const what = (scope: string) => KIND_WORDS[scope] ?? `${scope.replace(/_/g, ' ')} notifications`

const wantsHtml = (c: AppContext) => /text\/html/.test(c.req.header('accept') ?? '')

/** A small page (no script, nothing from elsewhere): the question with its button, or the answer. */
function page(c: AppContext, message: string, ask: boolean): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>PAM email settings</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1f2933}
button{font:inherit;padding:.5rem 1rem}</style></head>
<body><h1>PAM email</h1><p>${escapeHtml(message)}</p>
${ask ? '<form method="post"><button type="submit">Unsubscribe</button></form>' : ''}
</body></html>
`
  return c.body(html, 200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'referrer-policy': 'no-referrer',
  })
}
