// A small SMTP client (RFC 5321) on Deno's own sockets: implicit TLS (port
// 465), STARTTLS (RFC 3207) or none, AUTH PLAIN or LOGIN (RFC 4954), one
// message per connection. Not nodemailer's SMTP transport: on the Edge
// Runtime's Deno (2.1) its node:tls connection never sees the server's
// greeting and every send times out, while Deno.connectTls works on 2.1 and
// later. The message itself (MIME) is composed by nodemailer (mail.ts).
//
// Hosted Supabase Edge Functions cannot open connections to ports 25 and
// 587: use implicit TLS on 465, or an HTTP email API.

export interface SmtpOptions {
  host: string
  port: number
  tls: 'implicit' | 'starttls' | 'none'
  user?: string
  pass?: string
  /** PEM of a CA to trust besides the system's (a private relay, the tests). */
  ca?: string
  /** The name given in EHLO. */
  clientName: string
  signal: AbortSignal
}

/** A refusal or a failure, with the reply code when the server gave one. */
export class SmtpError extends Error {
  constructor(
    message: string,
    readonly stage: string,
    /** The server's reply code; undefined for a connection or TLS failure. */
    readonly replyCode?: number,
  ) {
    super(message)
    this.name = 'SmtpError'
  }

  /** Worth another attempt later: no reply (network, timeout, TLS), a 4xx reply, or a refusal of our
   * credentials, of the service or of our sender address (MAIL FROM: a domain not verified yet; a
   * configuration the operator can fix), not of this message or its recipient. */
  get retryable(): boolean {
    if (this.replyCode === undefined) return true
    if (this.replyCode >= 400 && this.replyCode < 500) return true
    return ['greeting', 'ehlo', 'starttls', 'auth', 'mail'].includes(this.stage)
  }
}

interface Reply {
  code: number
  lines: string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

class Connection {
  #buffer = ''
  constructor(public conn: Deno.Conn, private signal: AbortSignal) {}

  async reply(stage: string): Promise<Reply> {
    const lines: string[] = []
    while (true) {
      const line = await this.#line(stage)
      const m = /^(\d{3})([ -])(.*)$/.exec(line)
      if (!m) throw new SmtpError(`unreadable reply during ${stage}`, stage)
      lines.push(m[3])
      if (m[2] === ' ') return { code: Number(m[1]), lines }
      if (lines.length > 100) throw new SmtpError(`reply too long during ${stage}`, stage)
    }
  }

  async #line(stage: string): Promise<string> {
    while (true) {
      const end = this.#buffer.indexOf('\r\n')
      if (end >= 0) {
        const line = this.#buffer.slice(0, end)
        this.#buffer = this.#buffer.slice(end + 2)
        return line
      }
      if (this.#buffer.length > 64 * 1024) throw new SmtpError(`reply line too long during ${stage}`, stage)
      const chunk = new Uint8Array(16 * 1024)
      let n: number | null
      try {
        n = await this.conn.read(chunk)
      } catch (err) {
        throw this.#failure(stage, err)
      }
      if (n === null) throw new SmtpError(`the server closed the connection during ${stage}`, stage)
      this.#buffer += decoder.decode(chunk.subarray(0, n), { stream: true })
    }
  }

  /** The TLS handshake, before anything is written: on the Edge Runtime's Deno (2.1) close() does not end a
   * write waiting on a handshake the server never finishes, while it does end the handshake. */
  async handshake(stage: string): Promise<void> {
    try {
      await (this.conn as Deno.TlsConn).handshake()
    } catch (err) {
      throw this.#failure(stage, err)
    }
  }

  /** Nothing may be left unread before TLS starts (RFC 3207 §4.1). */
  get drained(): boolean {
    return this.#buffer.length === 0
  }

  async write(bytes: Uint8Array, stage: string): Promise<void> {
    try {
      let written = 0
      while (written < bytes.length) written += await this.conn.write(bytes.subarray(written))
    } catch (err) {
      throw this.#failure(stage, err)
    }
  }

  async command(text: string, stage: string, expect: number[]): Promise<Reply> {
    await this.write(encoder.encode(`${text}\r\n`), stage)
    const reply = await this.reply(stage)
    if (!expect.includes(reply.code)) {
      throw new SmtpError(`${stage} refused: ${reply.code} ${reply.lines.join(' ').slice(0, 300)}`, stage, reply.code)
    }
    return reply
  }

  #failure(stage: string, err: unknown): SmtpError {
    if (this.signal.aborted) return new SmtpError(`timed out during ${stage}`, stage)
    return new SmtpError(`${stage}: ${err instanceof Error ? err.message : String(err)}`, stage)
  }
}

/** Sends one message (CRLF line ends) to `to` from `from`; the server's final answer. */
export async function sendSmtp(
  opts: SmtpOptions,
  envelope: { from: string; to: string[] },
  message: Uint8Array,
): Promise<string> {
  const { signal } = opts
  if (signal.aborted) throw new SmtpError('timed out before connecting', 'connect')
  let conn: Deno.Conn
  try {
    const caCerts = opts.ca ? [opts.ca] : undefined
    conn = await withinDeadline<Deno.Conn>(
      opts.tls === 'implicit'
        ? Deno.connectTls({ hostname: opts.host, port: opts.port, caCerts })
        : Deno.connect({ hostname: opts.host, port: opts.port }),
      signal,
    )
  } catch (err) {
    if (signal.aborted) throw new SmtpError('timed out during connect', 'connect')
    throw new SmtpError(`connect: ${err instanceof Error ? err.message : String(err)}`, 'connect')
  }
  const c = new Connection(conn, signal)
  const abort = () => {
    try {
      c.conn.close()
    } catch { /* closed already */ }
  }
  signal.addEventListener('abort', abort, { once: true })
  try {
    if (opts.tls === 'implicit') await c.handshake('connect')
    const greeting = await c.reply('greeting')
    if (greeting.code !== 220) {
      throw new SmtpError(`greeting: ${greeting.code} ${greeting.lines.join(' ').slice(0, 300)}`, 'greeting', greeting.code)
    }
    let ehlo = await hello(c, opts.clientName)
    if (opts.tls === 'starttls') {
      if (!ehlo.has('STARTTLS')) throw new SmtpError('the server does not offer STARTTLS', 'starttls', 554)
      await c.command('STARTTLS', 'starttls', [220])
      if (!c.drained) throw new SmtpError('data sent before the TLS handshake', 'starttls', 554)
      try {
        c.conn = await withinDeadline(
          Deno.startTls(c.conn as Deno.TcpConn, { hostname: opts.host, caCerts: opts.ca ? [opts.ca] : undefined }),
          signal,
        )
      } catch (err) {
        if (signal.aborted) throw new SmtpError('timed out during starttls', 'starttls')
        throw new SmtpError(`starttls: ${err instanceof Error ? err.message : String(err)}`, 'starttls')
      }
      await c.handshake('starttls')
      ehlo = await hello(c, opts.clientName)
    }
    if (opts.user !== undefined && opts.pass !== undefined) await authenticate(c, ehlo, opts.user, opts.pass)
    await c.command(`MAIL FROM:<${envelope.from}>`, 'mail', [250])
    for (const to of envelope.to) await c.command(`RCPT TO:<${to}>`, 'rcpt', [250, 251])
    await c.command('DATA', 'data', [354])
    await c.write(dotStuffed(message), 'data')
    const done = await c.reply('data')
    if (done.code !== 250) {
      throw new SmtpError(`message refused: ${done.code} ${done.lines.join(' ').slice(0, 300)}`, 'message', done.code)
    }
    // The message is accepted; QUIT is a courtesy whose answer is awaited briefly, so the server
    // closes first rather than seeing its connection reset.
    await c.write(encoder.encode('QUIT\r\n'), 'quit').catch(() => {})
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([c.reply('quit').catch(() => {}), new Promise((r) => (timer = setTimeout(r, 500)))])
    clearTimeout(timer)
    return `${done.code} ${done.lines.join(' ')}`.slice(0, 300)
  } finally {
    signal.removeEventListener('abort', abort)
    abort()
  }
}

/** `connecting` (Deno.connect, connectTls, startTls), or the signal's reason once it aborts: not every Deno the
 * functions run on (the Edge Runtime's 2.1, current Deno) takes a signal for those calls, and a host that never
 * answers would hold them for the system's TCP timeout (minutes). A connection that comes after the deadline is
 * closed. */
export async function withinDeadline<T extends { close(): void }>(connecting: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([connecting, aborted])
  } catch (err) {
    if (signal.aborted) {
      connecting.then((late) => {
        try {
          late.close()
        } catch { /* closed already */ }
      }, () => {})
    }
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** EHLO (HELO for an old server); the extensions offered, upper case, by keyword. */
async function hello(c: Connection, name: string): Promise<Map<string, string>> {
  await c.write(encoder.encode(`EHLO ${name}\r\n`), 'ehlo')
  let reply = await c.reply('ehlo')
  if (reply.code >= 500) reply = await c.command(`HELO ${name}`, 'ehlo', [250])
  else if (reply.code !== 250) throw new SmtpError(`ehlo refused: ${reply.code}`, 'ehlo', reply.code)
  const extensions = new Map<string, string>()
  for (const line of reply.lines.slice(1)) {
    const [keyword, ...rest] = line.trim().split(/\s+/)
    if (keyword) extensions.set(keyword.toUpperCase(), rest.join(' ').toUpperCase())
  }
  return extensions
}

async function authenticate(c: Connection, ehlo: Map<string, string>, user: string, pass: string): Promise<void> {
  const methods = (ehlo.get('AUTH') ?? '').split(' ')
  const b64 = (s: string) => btoa(String.fromCharCode(...encoder.encode(s)))
  if (methods.includes('PLAIN') || !methods.includes('LOGIN')) {
    await c.command(`AUTH PLAIN ${b64(`\0${user}\0${pass}`)}`, 'auth', [235])
    return
  }
  await c.command('AUTH LOGIN', 'auth', [334])
  await c.command(b64(user), 'auth', [334])
  await c.command(b64(pass), 'auth', [235])
}

/** The DATA payload: a line starting with "." gets another (RFC 5321 §4.5.2), then CRLF.CRLF. */
export function dotStuffed(message: Uint8Array): Uint8Array {
  const text = decoder.decode(message).replace(/\r?\n/g, '\r\n')
  const body = text.replace(/(^|\r\n)\./g, '$1..')
  return encoder.encode(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`)
}
