// A small HTTP/1.1 client for one origin over kept-alive connections: the
// cache's and the rate limiter's calls to Upstash's REST API (cache.ts). A call
// is one write and, as a rule, one read on a connection already open.
//
// Why not fetch: on the function's thread, fetch costs a cached read about a
// fifth of its CPU (its Request, Response and Headers objects, the body streams,
// the abort signal); this client about a tenth of that (README, Performance).
//
// What it speaks: a request with a body and its Content-Length, asking for
// answers as they are (no compression); answers framed
// by Content-Length, chunked, or by the server closing the connection; interim
// 1xx answers are skipped. One request at a time on a connection (no
// pipelining). A connection is kept after a complete answer unless either side
// said `Connection: close`, and is not reused after IDLE_MS unused. A kept
// connection that the server has closed meanwhile fails before any byte of an
// answer arrives: the request is then sent once more, on a new connection (the
// server never read it). https uses the runtime's trusted roots (plus `caCerts`).

import { concatBytes } from './bytes.ts'
import { type Timeout, Timeouts } from './timeouts.ts'

export interface HttpAnswer {
  status: number
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Map<string, string>
  body: string
}

export interface KeepAliveOptions {
  /** More trusted CA certificates (PEM), for https. */
  caCerts?: string[]
  /** Idle connections kept per origin (default 4). */
  maxIdle?: number
  /** An answer larger than this fails the request (default 16 MiB). */
  maxAnswerBytes?: number
}

/** A kept connection unused for longer is closed rather than reused: servers and load
 * balancers drop idle connections (commonly after 60 s); well before that, a reuse is safe. */
const IDLE_MS = 20_000

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** What a request failed with: `timeout` past its deadline, else the connection or the answer. */
export class HttpCallError extends Error {
  constructor(message: string, readonly kind: 'timeout' | 'connection' | 'protocol') {
    super(message)
  }
}

/** Every client made by `keepAliveClient`, by origin: an isolate's functions share connections. */
const clients = new Map<string, KeepAliveClient>()

/** The client for an origin (one per isolate). */
export function keepAliveClient(origin: string): KeepAliveClient {
  let client = clients.get(origin)
  if (!client) clients.set(origin, client = new KeepAliveClient(origin))
  return client
}

/** Closes every idle connection of the clients above (a stack stopping; tests). */
export function closeKeepAliveConnections(): void {
  for (const client of clients.values()) client.closeIdle()
}

/** A connection and the buffers its calls reuse, the request's and the answer's: a typed array
 * per call costs more on Deno than its size suggests (to allocate, and in V8's accounting of
 * memory outside its heap, which can start full collections; README, Performance). */
interface Link {
  conn: Deno.Conn
  out: Uint8Array
  reader: AnswerReader
}

interface Idle {
  link: Link
  since: number
}

/** Request buffers up to this size are kept with their connection. */
const KEPT_OUT_BYTES = 256 * 1024

export class KeepAliveClient {
  private readonly idle: Idle[] = []
  /** The calls' deadlines: one timer per length, not one per call (timeouts.ts). */
  private readonly timeouts = new Timeouts()
  private readonly tls: boolean
  private readonly hostname: string
  private readonly port: number
  private readonly host: string
  private readonly basePath: string

  constructor(origin: string, private readonly opts: KeepAliveOptions = {}) {
    const url = new URL(origin)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`not an http(s) URL: ${origin}`)
    }
    this.tls = url.protocol === 'https:'
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.port = Number(url.port || (this.tls ? 443 : 80))
    this.host = url.host
    this.basePath = url.pathname.replace(/\/+$/, '')
  }

  /** POSTs `body` to the origin's path + `path`; rejects with an HttpCallError past `timeoutMs`
   * (connecting included) or when the connection or the answer fails. Any status resolves. */
  post(
    path: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<HttpAnswer> {
    let head = `POST ${this.basePath}${path} HTTP/1.1\r\nhost: ${this.host}\r\n` +
      'accept-encoding: identity\r\n' // without it a server may compress the answer
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`

    const call = { conn: undefined as Deno.Conn | undefined, timedOut: false }
    let timeout: Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timeout = this.timeouts.start(timeoutMs, () => {
        call.timedOut = true
        closeQuietly(call.conn)
        reject(new HttpCallError(`no answer within ${timeoutMs} ms`, 'timeout'))
      })
    })
    const exchange = this.exchange(head, body, call)
    exchange.catch(() => {}) // after a timeout, its failure is the timeout's
    return Promise.race([exchange, deadline]).finally(() => timeout!.cancel())
  }

  /** Closes the idle connections (those in use close when their answer is read). */
  closeIdle(): void {
    for (const { link } of this.idle.splice(0)) closeQuietly(link.conn)
  }

  private async exchange(
    head: string,
    body: string,
    call: { conn?: Deno.Conn; timedOut: boolean },
  ): Promise<HttpAnswer> {
    for (let attempt = 0;; attempt++) {
      const kept = this.takeIdle()
      const link = kept ?? await this.connect()
      const conn = link.conn
      if (call.timedOut) {
        closeQuietly(conn)
        throw new HttpCallError('timed out', 'timeout')
      }
      call.conn = conn
      const reader = link.reader
      reader.reset()
      try {
        await writeAll(conn, requestBytes(link, head, body))
        const { answer, keepAlive } = await reader.answer()
        if (keepAlive && !call.timedOut) this.keep(link)
        else closeQuietly(conn)
        return answer
      } catch (err) {
        closeQuietly(conn)
        // A kept connection the server had closed: the request was never read. Once more, anew.
        if (
          kept && attempt === 0 && !call.timedOut && reader.received === 0 && isConnectionLoss(err)
        ) continue
        if (err instanceof HttpCallError) throw err
        throw new HttpCallError(
          `the connection failed: ${(err as Error)?.message ?? err}`,
          'connection',
        )
      }
    }
  }

  private takeIdle(): Link | undefined {
    const now = Date.now()
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      if (now - entry.since < IDLE_MS) return entry.link
      closeQuietly(entry.link.conn)
    }
    return undefined
  }

  private keep(link: Link) {
    if (this.idle.length >= (this.opts.maxIdle ?? 4)) return closeQuietly(link.conn)
    this.idle.push({ link, since: Date.now() })
  }

  private async connect(): Promise<Link> {
    const conn = await this.open()
    const reader = new AnswerReader(conn, this.opts.maxAnswerBytes ?? 16 * 1024 * 1024)
    return { conn, out: new Uint8Array(4 * 1024), reader }
  }

  private async open(): Promise<Deno.Conn> {
    try {
      const conn = this.tls
        ? await Deno.connectTls({
          hostname: this.hostname,
          port: this.port,
          caCerts: this.opts.caCerts,
        })
        : await Deno.connect({ hostname: this.hostname, port: this.port })
      if (!this.tls) (conn as Deno.TcpConn).setNoDelay(true)
      return conn
    } catch (err) {
      throw new HttpCallError(
        `cannot connect to ${this.host}: ${(err as Error)?.message ?? err}`,
        'connection',
      )
    }
  }
}

function closeQuietly(conn: Deno.Conn | undefined) {
  try {
    conn?.close()
  } catch { /* closed already */ }
}

/** The request's bytes, in the link's buffer: the body encoded first, then the head (ASCII,
 * with the body's length) written just before it. */
function requestBytes(link: Link, head: string, body: string): Uint8Array {
  const room = head.length + 64 // the Content-Length line and the blank line fit in 64
  const need = room + body.length * 3 // UTF-8 takes at most 3 bytes per UTF-16 unit
  const out = need <= link.out.length ? link.out : new Uint8Array(Math.max(need, link.out.length * 2))
  if (out !== link.out && out.length <= KEPT_OUT_BYTES) link.out = out
  const { written } = encoder.encodeInto(body, out.subarray(room))
  const fullHead = `${head}content-length: ${written}\r\n\r\n`
  const start = room - fullHead.length
  const { read } = encoder.encodeInto(fullHead, out.subarray(start, room))
  if (read !== fullHead.length) throw new HttpCallError('a request head that is not ASCII', 'protocol')
  return out.subarray(start, room + written)
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at))
}

const isConnectionLoss = (err: unknown) =>
  (err instanceof HttpCallError && err.kind === 'connection') ||
  err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
  err instanceof Deno.errors.ConnectionAborted || err instanceof Deno.errors.UnexpectedEof

/** Reads the answers of a connection, one at a time, into one buffer that grows as needed
 * (and is made small again after a large answer). */
class AnswerReader {
  private buf = new Uint8Array(16 * 1024)
  private start = 0
  private end = 0
  /** Bytes of the current answer read so far. */
  received = 0

  constructor(private readonly conn: Deno.Conn, private readonly max: number) {}

  /** Before each request (a connection is kept only when its last answer left no bytes behind). */
  reset() {
    this.start = this.end = this.received = 0
    if (this.buf.length > 256 * 1024) this.buf = new Uint8Array(16 * 1024)
  }

  async answer(): Promise<{ answer: HttpAnswer; keepAlive: boolean }> {
    for (;;) {
      const head = await this.line(true)
      const status = /^HTTP\/1\.([01]) (\d{3})/.exec(head)
      if (!status) {
        throw new HttpCallError(`not an HTTP/1.x answer: ${head.slice(0, 60)}`, 'protocol')
      }
      const headers = new Map<string, string>()
      for (let line = await this.line(); line !== ''; line = await this.line()) {
        const colon = line.indexOf(':')
        if (colon > 0) {
          headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
        }
      }
      const code = Number(status[2])
      if (code >= 100 && code < 200) continue // 100 Continue, 103 Early Hints: the answer follows
      const coding = headers.get('content-encoding')?.toLowerCase()
      if (coding && coding !== 'identity') {
        throw new HttpCallError(`an answer encoded as ${coding}, though identity was asked for`, 'protocol')
      }
      const connection = headers.get('connection')?.toLowerCase() ?? ''
      let keepAlive = status[1] === '1'
        ? !connection.includes('close')
        : connection.includes('keep-alive')
      let body: Uint8Array
      if (code === 204 || code === 304) body = new Uint8Array(0)
      else if (headers.get('transfer-encoding')?.toLowerCase().includes('chunked')) {
        body = await this.chunked()
      } else if (headers.has('content-length')) {
        const length = Number(headers.get('content-length'))
        if (!Number.isSafeInteger(length) || length < 0) {
          throw new HttpCallError('a bad Content-Length', 'protocol')
        }
        body = await this.bytes(length)
      } else {
        body = await this.rest() // ended by the server closing the connection
        keepAlive = false
      }
      if (this.end > this.start) keepAlive = false // bytes nobody asked for: not a connection to reuse
      return { answer: { status: code, headers, body: decoder.decode(body) }, keepAlive }
    }
  }

  /** Reads more; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    if (this.end === this.buf.length) {
      const kept = this.end - this.start
      if (kept > this.max + 64 * 1024) {
        throw new HttpCallError(`the answer is larger than ${this.max} bytes`, 'protocol')
      }
      if (kept * 2 > this.buf.length) {
        const bigger = new Uint8Array(this.buf.length * 2)
        bigger.set(this.buf.subarray(this.start, this.end))
        this.buf = bigger
      } else this.buf.copyWithin(0, this.start, this.end)
      this.start = 0
      this.end = kept
    }
    const n = await this.conn.read(this.buf.subarray(this.end))
    if (n === null) return false
    this.end += n
    this.received += n
    return true
  }

  private async needMore(what: string) {
    if (!(await this.fill())) {
      throw new HttpCallError(
        `the connection closed before the ${what} ended`,
        this.received ? 'protocol' : 'connection',
      )
    }
  }

  /** One line without its CRLF (the head's lines, chunk sizes). */
  private async line(first = false): Promise<string> {
    for (let scanned = 1;;) {
      for (let i = this.start + scanned; i < this.end; i++) {
        if (this.buf[i] === 0x0a && this.buf[i - 1] === 0x0d) {
          const text = decoder.decode(this.buf.subarray(this.start, i - 1))
          this.start = i + 1
          return text
        }
      }
      scanned = Math.max(1, this.end - this.start) // what is read next is scanned next
      if (scanned > 64 * 1024) {
        throw new HttpCallError('a header line longer than 64 KiB', 'protocol')
      }
      await this.needMore(first ? 'answer' : 'head')
    }
  }

  /** The next n bytes, as a view of the buffer (valid until the next read). */
  private async bytes(n: number): Promise<Uint8Array> {
    if (n > this.max) {
      throw new HttpCallError(`the answer is larger than ${this.max} bytes`, 'protocol')
    }
    while (this.end - this.start < n) await this.needMore('body')
    const out = this.buf.subarray(this.start, this.start + n)
    this.start += n
    return out
  }

  private async chunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = []
    let total = 0
    for (;;) {
      const size = parseInt((await this.line()).split(';')[0].trim(), 16)
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new HttpCallError('a bad chunk size', 'protocol')
      }
      if (size === 0) break
      total += size
      if (total > this.max) {
        throw new HttpCallError(`the answer is larger than ${this.max} bytes`, 'protocol')
      }
      parts.push((await this.bytes(size)).slice())
      if ((await this.line()) !== '') {
        throw new HttpCallError('a chunk without its CRLF', 'protocol')
      }
    }
    while ((await this.line()) !== ''); // trailers
    return concatBytes(parts)
  }

  private async rest(): Promise<Uint8Array> {
    while (await this.fill()) {
      if (this.end - this.start > this.max) {
        throw new HttpCallError(`the answer is larger than ${this.max} bytes`, 'protocol')
      }
    }
    const out = this.buf.subarray(this.start, this.end)
    this.start = this.end
    return out
  }
}
