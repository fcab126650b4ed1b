// email-deliveries: every minute, the emails that are due go out: each
// notification whose email channel is `email`, and each day's digest that the
// email-digest job assembled. An outbox: a round claims up to
// PAM_EMAIL_BATCH due rows in one statement (`for update skip locked`, so
// overlapping runs never take the same row; the row moves to `sending` with a
// lease), sends them with a few at a time, each attempt with its deadline,
// outside any transaction, then records every outcome in one statement: sent,
// a retry later (PAM_EMAIL_RETRY_BASE_S, doubling, at most 6 hours), or given
// up (a permanent refusal, or PAM_EMAIL_MAX_ATTEMPTS attempts). Claiming and
// marking sent change the same row, so a repeated or concurrent delivery of
// the job sends each email once. A run keeps inside a hosted invocation's
// wall clock: it stops claiming after CLAIM_FOR_MS, starts no send that its
// deadline could carry past SEND_WITHIN_MS, and gives back what it claimed
// but did not start (due at once, the attempt not counted). Only a run that
// dies between sending and recording all the same (the database went away)
// leaves a claim to expire (the lease, LEASE_S) and be sent again; the HTTP
// API's idempotency key (and SMTP's Message-ID) are derived from the row's
// id, so a provider that deduplicates drops that copy.
//
// Nothing else waits on mail: a request or job that writes a notification
// only sets its state (a trigger); this job does the sending.
import type { Config } from '../_shared/config.ts'
import type { PostgresApi, Tx } from '../_shared/db.ts'
import { type Mail, type Mailer, MailError, domainOf } from '../_shared/mail.ts'
import { type NotificationRow, renderDigest, renderNotification } from '../_shared/email-content.ts'
import { channelOf, type EmailPreferences } from '../_shared/email-channels.ts'
import { signUnsubscribe } from '../_shared/unsubscribe.ts'
import { log } from '../_shared/logger.ts'
import { asServiceRole } from './runs.ts'

/** How long a claim holds a row: far longer than a round's sends, so only a dead run's claims expire. */
export const LEASE_S = 600
/** A run claims no more after this long. */
const CLAIM_FOR_MS = 60_000
/** Every send a run starts is over by this long after its start, its deadline (PAM_EMAIL_TIMEOUT_MS) included:
 * a hosted invocation may run 150 s, and a run killed mid-send would leave its claims to be sent again. */
const SEND_WITHIN_MS = 130_000
/** Emails in flight at once. */
const PARALLEL = 4
const MAX_BACKOFF_S = 6 * 3600
/** An email that would go out later than this after what it tells of is not sent: it is no longer news (a
 * reminder of an event gone by), and email switched on late, or back after a long outage, is no burst of old mail. */
export const MAX_EMAIL_AGE_MS = 2 * 86_400_000

export interface DeliveryResult {
  rows_written: number
  notifications: number
  sent: number
  retrying: number
  failed: number
  suppressed: number
  /** Claimed but not started before the run's time was up: due again at once, the attempt not counted. */
  deferred: number
}

/** How long a run may claim and send (tests shorten them). */
export interface RunLimits {
  claimForMs: number
  sendWithinMs: number
}

interface Claimed {
  id: string
  user_id: string
  attempts: number
  email: string | null
  full_name: string
  preferences: Record<string, unknown>
  confirmed: boolean
}

interface ClaimedNotification extends Claimed {
  kind: string
  title: string
  body: string
  data: Record<string, unknown>
  created_at: string
  extras: NotificationRow['extras']
}

interface ClaimedDigest extends Claimed {
  created_at: string
  items: NotificationRow[] | null
}

interface Outcome {
  id: string
  status: 'sent' | 'pending' | 'failed' | 'suppressed' | 'deferred'
  error: string | null
  delay: number | null
}

/** The wait before retry number `attempt` (1 = after the first failure). */
export const backoffSeconds = (base: number, attempt: number) => Math.min(base * 2 ** (attempt - 1), MAX_BACKOFF_S)

export async function emailDeliveries(
  db: PostgresApi,
  mailer: Mailer,
  config: Config,
  at: Date,
  limits: RunLimits = { claimForMs: CLAIM_FOR_MS, sendWithinMs: SEND_WITHIN_MS },
): Promise<DeliveryResult> {
  const total: DeliveryResult = { rows_written: 0, notifications: 0, sent: 0, retrying: 0, failed: 0, suppressed: 0, deferred: 0 }
  const started = Date.now()
  const sendBy = started + limits.sendWithinMs
  const batch = config.email.batch
  while (Date.now() - started < limits.claimForMs) {
    const notifications = await asServiceRole(db, (tx) => claimNotifications(tx, at, batch))
    const digests = await asServiceRole(db, (tx) => claimDigests(tx, at, batch))
    if (!notifications.length && !digests.length) break
    const outcomes = {
      notifications: await sendAll(notifications, (n) => notificationMail(config, n, at), mailer, config, sendBy),
      digests: await sendAll(digests, (d) => digestMail(config, d, at), mailer, config, sendBy),
    }
    await asServiceRole(db, (tx) => record(tx, at, outcomes.notifications, outcomes.digests))
    for (const o of [...outcomes.notifications, ...outcomes.digests]) {
      total.rows_written++
      if (o.status === 'sent') total.sent++
      else if (o.status === 'pending') total.retrying++
      else if (o.status === 'failed') total.failed++
      else if (o.status === 'deferred') total.deferred++
      else total.suppressed++
    }
    total.notifications = total.sent
    if (total.deferred || (notifications.length < batch && digests.length < batch)) break
  }
  if (total.deferred) log('warn', 'email run out of time: the rest is due again', { deferred: total.deferred })
  return total
}

const CLAIMED_COLUMNS = `p.email, p.full_name, p.preferences, pam.email_address_confirmed(c.user_id) as confirmed`

async function claimNotifications(tx: Tx, at: Date, limit: number): Promise<ClaimedNotification[]> {
  const rows = await tx.unsafe(
    `with due as (
       select n.id from pam.notifications n
       where n.email_status in ('pending', 'sending') and n.email_next_attempt_at <= $1::timestamptz
       order by n.email_next_attempt_at
       limit $2
       for update skip locked
     ),
     c as (
       update pam.notifications n
          set email_status = 'sending', email_attempts = n.email_attempts + 1,
              email_next_attempt_at = $1::timestamptz + make_interval(secs => $3)
         from due where n.id = due.id
       returning n.id, n.user_id, n.kind, n.title, n.body, n.data, n.created_at, n.email_attempts
     )
     select c.id, c.user_id, c.kind, c.title, c.body, c.data, c.created_at, c.email_attempts as attempts,
            ${CLAIMED_COLUMNS}, ${extras('c')}
     from c join pam.profiles p on p.id = c.user_id`,
    [at.toISOString(), limit, LEASE_S],
  )
  return rows as unknown as ClaimedNotification[]
}

/** What the email says beyond the notification row: names and figures, read as the email goes out. */
const extras = (c: string) => `jsonb_build_object(
  'actor', case when ${c}.data ->> 'user_id' ~ '^[0-9a-f-]{36}$' then
             (select nullif(btrim(a.full_name), '') from pam.profiles a where a.id = (${c}.data ->> 'user_id')::uuid) end,
  'group', case when ${c}.data ->> 'group_id' ~ '^[0-9a-f-]{36}$' then
             (select g.name from pam.groups g where g.id = (${c}.data ->> 'group_id')::uuid) end,
  'vehicle', case when ${c}.data ->> 'vehicle_id' ~ '^[0-9a-f-]{36}$' then
             (select v.name from pam.vehicles v where v.id = (${c}.data ->> 'vehicle_id')::uuid) end,
  'category_label', case when ${c}.kind = 'budget_threshold' then
             (select ec.label from pam.expense_categories ec
               where ec.user_id = ${c}.user_id and ec.slug = ${c}.data ->> 'category') end,
  'report', case when ${c}.kind = 'report_ready' and ${c}.data ->> 'report_id' ~ '^[0-9a-f-]{36}$' then
             (select jsonb_build_object('total_spent', r.total_spent::text, 'currency', r.currency,
                     'expense_count', r.expense_count, 'distance_km', r.distance_km::text)
              from pam.daily_reports r where r.id = (${c}.data ->> 'report_id')::uuid) end
) as extras`

async function claimDigests(tx: Tx, at: Date, limit: number): Promise<ClaimedDigest[]> {
  const rows = await tx.unsafe(
    `with due as (
       select d.id from pam.email_digests d
       where d.status in ('pending', 'sending') and d.next_attempt_at <= $1::timestamptz
       order by d.next_attempt_at
       limit $2
       for update skip locked
     ),
     c as (
       update pam.email_digests d
          set status = 'sending', attempts = d.attempts + 1,
              next_attempt_at = $1::timestamptz + make_interval(secs => $3)
         from due where d.id = due.id
       returning d.id, d.user_id, d.attempts, d.created_at
     )
     select c.id, c.user_id, c.attempts, c.created_at, ${CLAIMED_COLUMNS},
            (select jsonb_agg(jsonb_build_object('id', x.id, 'kind', x.kind, 'title', x.title, 'body', x.body,
                                                 'data', x.data, 'created_at', x.created_at, 'extras', x.extras)
                              order by x.created_at, x.id)
               from (select i.*, ${extras('i')}
                       from pam.notifications i
                      where i.email_digest_id = c.id and i.email_status = 'digest') x) as items
     from c join pam.profiles p on p.id = c.user_id`,
    [at.toISOString(), limit, LEASE_S],
  )
  return rows as unknown as ClaimedDigest[]
}

/** Why a claimed email is not sent at all; null when it goes. `madeAt`: when what it tells of happened (the
 * newest of a digest's). */
function suppression(row: Claimed, kinds: string[], madeAt: string | Date, at: Date): string | null {
  if (at.getTime() - new Date(madeAt).getTime() > MAX_EMAIL_AGE_MS) return 'more than two days old: no longer news'
  if (!row.email || !row.confirmed) return 'the account has no confirmed email address'
  const prefs = (row.preferences?.notifications ?? {}) as EmailPreferences
  if (prefs.email === false) return 'email is turned off in the profile'
  if (kinds.length && kinds.every((k) => channelOf(prefs, k) === 'off')) return 'unsubscribed from these emails'
  return null
}

async function notificationMail(config: Config, n: ClaimedNotification, at: Date): Promise<Mail | string> {
  const why = suppression(n, [n.kind], n.created_at, at)
  if (why) return why
  const url = await unsubscribeLink(config, n.user_id, n.kind, n.created_at)
  const rendered = renderNotification(n, recipient(n), url.page)
  return {
    to: n.email!,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    language: rendered.language,
    headers: url.headers,
    messageId: `<notification.${n.id}@${domainOf(config.email.from)}>`,
    idempotencyKey: `pam-notification/${n.id}`,
  }
}

async function digestMail(config: Config, d: ClaimedDigest, at: Date): Promise<Mail | string> {
  const items = d.items ?? []
  const why = items.length ? suppression(d, items.map((i) => i.kind), items.at(-1)!.created_at, at) : 'nothing left to send'
  if (why) return why
  const url = await unsubscribeLink(config, d.user_id, 'digest', d.created_at)
  const rendered = renderDigest(items, recipient(d), url.page)
  return {
    to: d.email!,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    language: rendered.language,
    headers: url.headers,
    messageId: `<digest.${d.id}@${domainOf(config.email.from)}>`,
    idempotencyKey: `pam-digest/${d.id}`,
  }
}

const recipient = (row: Claimed) => ({
  name: row.full_name?.trim() || row.email!.split('@')[0],
  preferences: row.preferences ?? {},
})

/** The one-click link (RFC 8058: List-Unsubscribe and List-Unsubscribe-Post) and the body's link. The token is
 * issued at the row's `createdAt`, not at the attempt: every attempt of an email is the same request, as the HTTP
 * API's Idempotency-Key needs (another body under the key is refused), and the link stays good a year from
 * then, which is at most two days before the email goes (MAX_EMAIL_AGE_MS). */
async function unsubscribeLink(config: Config, userId: string, scope: string, createdAt: string | Date) {
  const token = await signUnsubscribe(config.email.signingSecret!, {
    userId,
    scope,
    issuedAt: Math.floor(new Date(createdAt).getTime() / 1000),
  })
  const oneClick = `${config.jobs.functionsUrl}/notifications/unsubscribe?token=${token}`
  const page = config.email.unsubscribeUrl
    ? `${config.email.unsubscribeUrl}${config.email.unsubscribeUrl.includes('?') ? '&' : '?'}token=${token}`
    : oneClick
  return {
    page,
    headers: { 'List-Unsubscribe': `<${oneClick}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  }
}

/** Sends `rows` a few at a time; one whose attempt could still be running at `sendBy` is not started. */
async function sendAll<T extends Claimed>(
  rows: T[],
  build: (row: T) => Promise<Mail | string>,
  mailer: Mailer,
  config: Config,
  sendBy: number,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  let next = 0
  const worker = async () => {
    while (next < rows.length) {
      const row = rows[next++]
      outcomes.push(
        Date.now() + config.email.timeoutMs > sendBy
          ? { id: row.id, status: 'deferred', error: null, delay: null }
          : await deliver(row, build, mailer, config),
      )
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, rows.length) }, worker))
  return outcomes
}

async function deliver<T extends Claimed>(
  row: T,
  build: (row: T) => Promise<Mail | string>,
  mailer: Mailer,
  config: Config,
): Promise<Outcome> {
  try {
    const mail = await build(row)
    if (typeof mail === 'string') return { id: row.id, status: 'suppressed', error: mail, delay: null }
    await mailer.send(mail)
    return { id: row.id, status: 'sent', error: null, delay: null }
  } catch (err) {
    const retryable = err instanceof MailError ? err.retryable : true
    const error = (err instanceof Error ? err.message : String(err)).slice(0, 500)
    const again = retryable && row.attempts < config.email.maxAttempts
    log('warn', 'email not sent', { id: row.id, attempt: row.attempts, retryable, again, error })
    return again
      ? { id: row.id, status: 'pending', error, delay: backoffSeconds(config.email.retryBaseSeconds, row.attempts) }
      : { id: row.id, status: 'failed', error, delay: null }
  }
}

/** Every outcome of a round in one statement per table; a digest's notifications follow it. A deferred
 * email is pending again, due at once, its claim's attempt taken back (its last error kept). */
async function record(tx: Tx, at: Date, notifications: Outcome[], digests: Outcome[]): Promise<void> {
  const when = at.toISOString()
  if (notifications.length) {
    await tx`
      update pam.notifications n
         set email_status = case when o.status = 'deferred' then 'pending' else o.status end,
             email_last_error = case when o.status = 'deferred' then n.email_last_error else o.error end,
             email_attempts = n.email_attempts - (o.status = 'deferred')::int,
             email_sent_at = case when o.status = 'sent' then now() end,
             email_next_attempt_at = case when o.status = 'pending'
               then ${when}::timestamptz + make_interval(secs => o.delay)
               when o.status = 'deferred' then ${when}::timestamptz end
        from jsonb_to_recordset(${JSON.stringify(notifications)}::text::jsonb) as o(id uuid, status text, error text, delay int)
       where n.id = o.id and n.email_status = 'sending'`
  }
  if (digests.length) {
    await tx`
      with o as (
        select * from jsonb_to_recordset(${JSON.stringify(digests)}::text::jsonb) as o(id uuid, status text, error text, delay int)
      ),
      d as (
        update pam.email_digests d
           set status = case when o.status = 'deferred' then 'pending' else o.status end,
               last_error = case when o.status = 'deferred' then d.last_error else o.error end,
               attempts = d.attempts - (o.status = 'deferred')::int,
               sent_at = case when o.status = 'sent' then now() end,
               next_attempt_at = case when o.status = 'pending'
                 then ${when}::timestamptz + make_interval(secs => o.delay)
                 when o.status = 'deferred' then ${when}::timestamptz else d.next_attempt_at end
          from o where d.id = o.id and d.status = 'sending'
        returning d.id, d.status, d.last_error
      )
      update pam.notifications n
         set email_status = d.status, email_last_error = d.last_error,
             email_sent_at = case when d.status = 'sent' then now() end
        from d
       where n.email_digest_id = d.id and n.email_status = 'digest' and d.status in ('sent', 'failed', 'suppressed')`
  }
}
