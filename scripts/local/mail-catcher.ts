// The local stack's mail catcher, as Supabase's own local stack has Inbucket
// (now Mailpit): an SMTP server (the `smtp-server` package; every message is
// parsed with `mailparser`) that delivers nothing and keeps what it is sent,
// in memory (the newest MAX_MESSAGES), so a developer sees every email the
// stack sends: the functions' notifications and digests, and the local auth
// service's sign-up, recovery, magic link and email change messages.
//
// The gateway serves it (`handle`): `/mail` lists the messages, `/mail/<id>`
// shows one, and a JSON API shaped like Mailpit's answers under
// `/mail/api/v1/` (`messages`, `message/<id>`, `message/<id>/raw`, `DELETE
// messages`). Tests also make it refuse the next messages (`refuseNext`), to
// see retries.
import { SMTPServer } from 'smtp-server'
import { simpleParser } from 'mailparser'
import { escapeHtml } from '../../supabase/functions/_shared/email-content.ts'

export const MAX_MESSAGES = 500

export interface CaughtMessage {
  id: string
  message_id: string
  from: string
  /** The envelope's recipients (RCPT TO). */
  to: string[]
  subject: string
  date: string
  /** When the catcher took it. */
  received_at: string
  text: string
  html: string | null
  headers: Record<string, string>
  size: number
}

export interface MailCatcher {
  hostname: string
  port: number
  /** Newest first; `to` keeps those addressed to it. */
  messages(filter?: { to?: string }): CaughtMessage[]
  raw(id: string): string | undefined
  clear(): void
  /** The next `n` messages get `code` (a temporary 451 by default) instead of being kept. */
  refuseNext(n: number, code?: number): void
  /** Serves `/mail…` for the gateway. */
  handle(req: Request, path: string): Response
  stop(): Promise<void>
}

interface Stored extends CaughtMessage {
  raw: string
}

export async function startMailCatcher(opts: { hostname?: string; port?: number } = {}): Promise<MailCatcher> {
  const hostname = opts.hostname ?? '127.0.0.1'
  const stored: Stored[] = []
  let refusals: { left: number; code: number } = { left: 0, code: 451 }
  let seq = 0

  const server = new SMTPServer({
    // Anyone local may send, with or without credentials (as Mailpit takes them).
    authOptional: true,
    allowInsecureAuth: true,
    onAuth(_auth: unknown, _session: unknown, cb: (err: Error | null, res?: { user: string }) => void) {
      cb(null, { user: 'local' })
    },
    disabledCommands: ['STARTTLS'],
    banner: 'PAM local mail catcher',
    size: 10 * 1024 * 1024,
    logger: false,
    onData(
      stream: AsyncIterable<Uint8Array> & { on(e: string, f: () => void): void },
      session: { envelope: { mailFrom: { address: string } | false; rcptTo: { address: string }[] } },
      cb: (err?: Error | null) => void,
    ) {
      const chunks: Uint8Array[] = []
      ;(async () => {
        for await (const chunk of stream) chunks.push(chunk)
        if (refusals.left > 0) {
          refusals.left--
          const err = Object.assign(new Error('refused by the mail catcher (a test asked for it)'), {
            responseCode: refusals.code,
          })
          return cb(err)
        }
        const raw = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer())
        const parsed = await simpleParser(raw)
        const headers: Record<string, string> = {}
        for (const line of parsed.headerLines ?? []) {
          const value = line.line.slice(line.line.indexOf(':') + 1).replace(/\r?\n\s+/g, ' ').trim()
          headers[line.key] = headers[line.key] ? `${headers[line.key]}, ${value}` : value
        }
        stored.unshift({
          id: `${Date.now().toString(36)}-${(++seq).toString(36)}`,
          message_id: parsed.messageId ?? '',
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          subject: parsed.subject ?? '',
          date: parsed.date?.toISOString() ?? '',
          received_at: new Date().toISOString(),
          text: parsed.text ?? '',
          html: typeof parsed.html === 'string' ? parsed.html : null,
          headers,
          size: raw.length,
          raw,
        })
        stored.splice(MAX_MESSAGES)
        cb()
      })().catch((err) => cb(err instanceof Error ? err : new Error(String(err))))
    },
  } as never)
  // On the Edge Runtime's Deno (2.1), node:net can hand a reset connection's end to a piped
  // stream as a null chunk, which a Writable throws on, outside any handler: such a chunk
  // carries nothing, so it never reaches smtp-server.
  server.server.prependListener('connection', (socket: { emit: (event: string, ...args: unknown[]) => boolean }) => {
    const emit = socket.emit.bind(socket)
    socket.emit = (event, ...args) => (event === 'data' && args[0] == null ? false : emit(event, ...args))
  })
  // A session's own errors (a client that resets) are the session's end, not the stack's.
  server.on('error', () => {})
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, hostname, () => resolve((server.server.address() as { port: number }).port))
  })

  const list = (filter?: { to?: string }) =>
    stored.filter((m) => !filter?.to || m.to.includes(filter.to.toLowerCase())).map(({ raw: _raw, ...m }) => m)

  return {
    hostname,
    port,
    messages: list,
    raw: (id) => stored.find((m) => m.id === id)?.raw,
    clear: () => void stored.splice(0),
    refuseNext(n, code = 451) {
      refusals = { left: n, code }
    },
    handle: (req, path) =>
      serve(req, path, {
        list,
        find: (id) => stored.find((m) => m.id === id),
        clear: () => stored.splice(0).length,
      }),
    // smtp-server waits for its sessions to end; a client that lingers is not waited for long.
    async stop() {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        new Promise<void>((resolve) => server.close(() => resolve())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
      ])
      clearTimeout(timer)
    },
  }
}

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; " +
  "form-action 'self'; frame-ancestors 'self'; base-uri 'none'"

interface Store {
  list(filter?: { to?: string }): CaughtMessage[]
  find(id: string): Stored | undefined
  clear(): number
}

function serve(req: Request, path: string, { list, find, clear }: Store): Response {
  const url = new URL(req.url)
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } })
  const api = /^\/mail\/api\/v1\/(messages|message\/([^/]+)(\/raw)?)$/.exec(path)
  if (api) {
    if (api[1] === 'messages') {
      if (req.method === 'DELETE') return json({ deleted: clear() })
      const messages = list({ to: url.searchParams.get('to') ?? undefined })
      return json({ total: messages.length, messages })
    }
    const m = find(decodeURIComponent(api[2]))
    if (!m) return json({ error: { code: 'not_found', message: 'no such message' } }, 404)
    if (api[3]) return new Response(m.raw, { headers: { 'content-type': 'text/plain; charset=utf-8' } })
    const { raw: _raw, ...message } = m
    return json(message)
  }
  const html = (body: string) =>
    new Response(body, {
      headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store' },
    })
  if (path === '/mail' || path === '/mail/') return html(listPage(list()))
  const one = /^\/mail\/([^/]+)$/.exec(path)
  const m = one && find(decodeURIComponent(one[1]))
  if (m) return html(messagePage(m))
  return json({ error: { code: 'not_found', message: `no route for ${path}` } }, 404)
}

const STYLE = `<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
pre{white-space:pre-wrap;background:#f5f7fa;padding:1rem}iframe{width:100%;height:30rem;border:1px solid #e4e7eb}
.muted{color:#616e7c}</style>`

function listPage(messages: CaughtMessage[]): string {
  const rows = messages.map((m) =>
    `<tr><td class="muted">${escapeHtml(m.received_at.replace('T', ' ').slice(0, 19))}</td><td>${escapeHtml(m.to.join(', '))}</td>` +
    `<td><a href="/mail/${encodeURIComponent(m.id)}">${escapeHtml(m.subject || '(no subject)')}</a></td></tr>`
  ).join('\n')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>PAM local mail</title>${STYLE}</head><body>
<h1>Mail caught by the local stack</h1>
<p class="muted">Every email the functions and the local auth service send lands here; nothing leaves this machine.
Newest first, the last ${MAX_MESSAGES} kept in memory until the stack stops. JSON: <a href="/mail/api/v1/messages">/mail/api/v1/messages</a>.</p>
<table><thead><tr><th>Received (UTC)</th><th>To</th><th>Subject</th></tr></thead><tbody>
${rows || '<tr><td colspan="3" class="muted">No mail yet.</td></tr>'}
</tbody></table></body></html>`
}

function messagePage(m: Stored): string {
  const headers = Object.entries(m.headers).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')
  // The HTML part in a sandboxed frame: no script, no forms, nothing it links loads (the page's CSP).
  const htmlPart = m.html ? `<h2>HTML part</h2><iframe sandbox srcdoc="${escapeHtml(m.html)}"></iframe>` : ''
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(m.subject)}</title>${STYLE}</head><body>
<p><a href="/mail">← all mail</a> · <a href="/mail/api/v1/message/${encodeURIComponent(m.id)}/raw">raw</a></p>
<h1>${escapeHtml(m.subject || '(no subject)')}</h1>
<table><tr><th>From</th><td>${escapeHtml(m.from)}</td></tr><tr><th>To</th><td>${escapeHtml(m.to.join(', '))}</td></tr></table>
<h2>Plain text</h2><pre>${escapeHtml(m.text)}</pre>
${htmlPart}
<details><summary>Headers</summary><table>${headers}</table></details>
</body></html>`
}
