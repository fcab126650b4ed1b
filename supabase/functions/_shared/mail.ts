// The one way to send an email. A message (plain text always, HTML if given,
// headers such as List-Unsubscribe) goes out through the transport the
// environment chose (config.ts, PAM_EMAIL_TRANSPORT):
//
//   http  an HTTP email API shaped like Resend's: POST <PAM_EMAIL_API_URL>/emails
//         with `Authorization: Bearer <PAM_EMAIL_API_KEY>` and an
//         Idempotency-Key, so a retried request never sends twice (24 hours);
//   smtp  SMTP (smtp.ts) with implicit TLS on 465 by default (hosted Edge
//         Functions cannot reach ports 25 and 587), STARTTLS, or none (the
//         local mail catcher);
//   none  nothing is sent.
//
// Every attempt has a deadline (PAM_EMAIL_TIMEOUT_MS); a failure says whether
// another attempt later could succeed (MailError.retryable). The Message-ID
// and the idempotency key are the caller's, derived from what the email is
// about, so a retried delivery is recognisably the same message.
import MailComposer from 'nodemailer/lib/mail-composer'
import type { EmailConfig } from './config.ts'
import { SmtpError, sendSmtp } from './smtp.ts'

export interface Mail {
  to: string
  subject: string
  text: string
  html?: string
  /** Extra headers (List-Unsubscribe, List-Unsubscribe-Post, …). */
  headers?: Record<string, string>
  /** `<local@domain>`: the Message-ID, stable across retries. */
  messageId: string
  /** The HTTP API's Idempotency-Key (1–256 characters), stable across retries. */
  idempotencyKey: string
  /** Content-Language (e.g. `es`). */
  language?: string
}

export interface Sent {
  /** The provider's id (HTTP API; its refusal's name when an earlier attempt had been accepted) or the server's
   * final answer (SMTP). */
  id: string
}

export class MailError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly code: string) {
    super(message)
    this.name = 'MailError'
  }
}

export interface Mailer {
  readonly transport: EmailConfig['transport']
  send(mail: Mail): Promise<Sent>
}

/** The mailer the configuration names. `fetchImpl` is for the HTTP transport (tests). */
export function mailerFor(config: EmailConfig, fetchImpl: typeof fetch = fetch): Mailer {
  if (config.transport === 'http') return httpMailer(config, fetchImpl)
  if (config.transport === 'smtp') return smtpMailer(config)
  return {
    transport: 'none',
    send: () => Promise.reject(new MailError('no email transport is configured (PAM_EMAIL_TRANSPORT)', true, 'not_configured')),
  }
}

/** The bare address of `Name <address>` or `address`. */
export function addressOf(mailbox: string): string {
  return (/<([^<>]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox).trim()
}

/** The domain of the sender, for Message-IDs. */
export const domainOf = (mailbox: string) => addressOf(mailbox).split('@').pop() || 'pam.local'

/** The message as MIME (RFC 5322, CRLF): nodemailer's composer (encoded words, quoted-printable, folding). */
export function composeMime(config: Pick<EmailConfig, 'from' | 'replyTo'>, mail: Mail): Promise<Uint8Array> {
  const composer = new MailComposer({
    from: config.from,
    to: mail.to,
    replyTo: config.replyTo,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    messageId: mail.messageId,
    headers: {
      ...mail.headers,
      'Auto-Submitted': 'auto-generated',
      ...(mail.language ? { 'Content-Language': mail.language } : {}),
    },
    newline: '\r\n',
    // Our own content only: no files or URLs are ever read while composing.
    disableFileAccess: true,
    disableUrlAccess: true,
  } as never)
  return new Promise((resolve, reject) =>
    composer.compile().build((err, message) => err ? reject(err) : resolve(message as unknown as Uint8Array))
  )
}

function smtpMailer(config: EmailConfig): Mailer {
  const { smtp } = config
  return {
    transport: 'smtp',
    async send(mail) {
      const message = await composeMime(config, mail)
      const signal = AbortSignal.timeout(config.timeoutMs)
      try {
        const answer = await sendSmtp(
          {
            host: smtp.host!,
            port: smtp.port,
            tls: smtp.tls,
            user: smtp.user,
            pass: smtp.pass,
            ca: smtp.ca,
            clientName: domainOf(config.from),
            signal,
          },
          { from: addressOf(config.from), to: [mail.to] },
          message,
        )
        return { id: answer }
      } catch (err) {
        if (err instanceof SmtpError) {
          throw new MailError(err.message, err.retryable, err.replyCode ? `smtp_${err.replyCode}` : `smtp_${err.stage}`)
        }
        throw new MailError(err instanceof Error ? err.message : String(err), true, 'smtp')
      }
    },
  }
}

/** Resend's `POST /emails` (and any API that copies it). */
function httpMailer(config: EmailConfig, fetchImpl: typeof fetch): Mailer {
  return {
    transport: 'http',
    async send(mail) {
      let res: Response
      const signal = AbortSignal.timeout(config.timeoutMs)
      try {
        res = await fetchImpl(`${config.api.url}/emails`, {
          method: 'POST',
          signal,
          headers: {
            authorization: `Bearer ${config.api.key}`,
            'content-type': 'application/json',
            'idempotency-key': mail.idempotencyKey,
          },
          body: JSON.stringify({
            from: config.from,
            to: [mail.to],
            subject: mail.subject,
            text: mail.text,
            ...(mail.html ? { html: mail.html } : {}),
            ...(config.replyTo ? { reply_to: config.replyTo } : {}),
            headers: {
              ...mail.headers,
              'Message-ID': mail.messageId,
              'Auto-Submitted': 'auto-generated',
              ...(mail.language ? { 'Content-Language': mail.language } : {}),
            },
          }),
        })
      } catch (err) {
        const why = signal.aborted ? 'timed out' : err instanceof Error ? err.message : String(err)
        throw new MailError(`email API: ${why}`, true, signal.aborted ? 'timeout' : 'network')
      }
      const text = await res.text().catch(() => '')
      if (res.ok) {
        let id = ''
        try {
          id = String((JSON.parse(text) as { id?: unknown }).id ?? '')
        } catch { /* an answer without a body still means accepted */ }
        return { id: id || `http_${res.status}` }
      }
      let name = ''
      let message = text.slice(0, 200)
      try {
        const body = JSON.parse(text) as { name?: unknown; message?: unknown }
        name = typeof body.name === 'string' ? body.name : ''
        if (typeof body.message === 'string') message = body.message.slice(0, 200)
      } catch { /* not JSON */ }
      // 409 invalid_idempotent_request: the key came within 24 hours with another body (a name in the
      // email changed between attempts). Resend holds a key against an email it took, so an earlier
      // attempt was accepted and only its answer was lost: this email is sent.
      if (res.status === 409 && name === 'invalid_idempotent_request') return { id: `${name}: accepted earlier` }
      // The message or its recipient is wrong (400, 422): no retry will help. Anything about
      // us (401, 403: the key), the service (5xx) or the pace (408, 409 concurrent_idempotent_requests:
      // an attempt under the same key still running, 429) may pass later.
      const retryable = res.status >= 500 || [401, 403, 408, 409, 429].includes(res.status)
      throw new MailError(`email API answered ${res.status}${name ? ` ${name}` : ''}: ${message}`, retryable, `http_${res.status}`)
    },
  }
}
