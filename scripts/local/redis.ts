// A minimal Redis client (RESP2 over TCP) for the local Upstash REST bridge,
// and a private redis-server for `npm start`, the tests and the benchmarks.
//
// One connection per client. Commands are pipelined on it in order; each batch
// has a deadline, and a connection that breaks or misses a deadline is dropped
// (its waiting commands fail) and reopened by the next command.
import {
  assertPortFree,
  freePort,
  supervise,
  type Supervised,
  type SupervisionOptions,
} from './postgres.ts'
import { Timeouts } from '../../supabase/functions/_shared/timeouts.ts'

/** A command argument: text (sent as UTF-8) or raw bytes. */
export type RedisArg = string | Uint8Array

/**
 * A reply: simple string → string, integer → number, bulk string → bytes
 * (null when absent), array → array (null when absent). Error replies are
 * RedisReplyError values: in place in `pipeline()` answers (and inside arrays,
 * e.g. EXEC), thrown by `command()`.
 */
export type RedisReply = string | number | Uint8Array | null | RedisReplyError | RedisReply[]

/** An error reply from Redis: a valid answer, the connection is fine. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError'
}

/** Redis could not be reached, broke the connection, or did not answer in time. */
export class RedisConnectionError extends Error {
  override name = 'RedisConnectionError'
}

export interface RedisClientOptions {
  /** Default 2000. */
  connectTimeoutMs?: number
  /** Per batch of pipelined commands; default 2000. */
  commandTimeoutMs?: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()
const CR = 13
const NEED_MORE = Symbol('need more bytes')

// ---------------------------------------------------------------- encoding

function encodeCommands(commands: RedisArg[][]): Uint8Array {
  // Text only (nearly always): the whole pipeline as one string, encoded once.
  if (commands.every((args) => args.every((a) => typeof a === 'string'))) {
    let text = ''
    for (const args of commands) {
      text += `*${args.length}\r\n`
      for (const arg of args as string[]) text += `$${utf8Length(arg)}\r\n${arg}\r\n`
    }
    return enc.encode(text)
  }
  const parts: Uint8Array[] = []
  for (const args of commands) {
    parts.push(enc.encode(`*${args.length}\r\n`))
    for (const arg of args) {
      const bytes = typeof arg === 'string' ? enc.encode(arg) : arg
      parts.push(enc.encode(`$${bytes.length}\r\n`), bytes, enc.encode('\r\n'))
    }
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** The length of `s` in UTF-8, as TextEncoder writes it (a lone surrogate as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

// ---------------------------------------------------------------- parsing

/** Accumulates bytes from the socket and hands out complete replies. */
class ReplyParser {
  private buf = new Uint8Array(64 * 1024)
  private start = 0
  private end = 0

  push(chunk: Uint8Array): void {
    if (this.start === this.end) this.start = this.end = 0
    if (this.end + chunk.length > this.buf.length) {
      // Move the unread bytes to the front, into a bigger buffer if needed.
      const live = this.buf.subarray(this.start, this.end)
      const needed = live.length + chunk.length
      const target = needed <= this.buf.length
        ? this.buf
        : new Uint8Array(Math.max(needed, this.buf.length * 2))
      target.set(live, 0)
      this.buf = target
      this.start = 0
      this.end = live.length
    }
    this.buf.set(chunk, this.end)
    this.end += chunk.length
  }

  /** The next complete reply, or NEED_MORE. Throws on a protocol error. */
  next(): RedisReply | typeof NEED_MORE {
    const parsed = this.parse(this.start)
    if (parsed === NEED_MORE) return NEED_MORE
    this.start = parsed.next
    return parsed.reply
  }

  private line(pos: number): { text: string; next: number } | typeof NEED_MORE {
    const cr = this.buf.subarray(0, this.end).indexOf(CR, pos)
    if (cr < 0 || cr + 1 >= this.end) return NEED_MORE
    return { text: dec.decode(this.buf.subarray(pos + 1, cr)), next: cr + 2 }
  }

  private parse(pos: number): { reply: RedisReply; next: number } | typeof NEED_MORE {
    if (pos >= this.end) return NEED_MORE
    const line = this.line(pos)
    if (line === NEED_MORE) return NEED_MORE
    const { text, next } = line
    switch (this.buf[pos]) {
      case 0x2b: // + simple string
        return { reply: text, next }
      case 0x2d: // - error
        return { reply: new RedisReplyError(text), next }
      case 0x3a: // : integer
        return { reply: Number(text), next }
      case 0x24: { // $ bulk string
        const len = Number(text)
        if (len < 0) return { reply: null, next }
        if (next + len + 2 > this.end) return NEED_MORE
        return { reply: this.buf.slice(next, next + len), next: next + len + 2 }
      }
      case 0x2a: { // * array
        const count = Number(text)
        if (count < 0) return { reply: null, next }
        const items: RedisReply[] = []
        let at = next
        for (let i = 0; i < count; i++) {
          const item = this.parse(at)
          if (item === NEED_MORE) return NEED_MORE
          items.push(item.reply)
          at = item.next
        }
        return { reply: items, next: at }
      }
      default:
        throw new RedisConnectionError(`unexpected byte ${this.buf[pos]} in a redis reply`)
    }
  }
}

// ---------------------------------------------------------------- client

interface Pending {
  resolve(reply: RedisReply): void
  reject(err: Error): void
}

/** One open connection with the replies it still owes, in order. */
interface Link {
  conn: Deno.Conn
  pending: Pending[]
  writing: Promise<void>
  reading?: Promise<void>
  broken?: RedisConnectionError
}

export class RedisClient {
  private readonly target: URL
  private readonly connectTimeoutMs: number
  private readonly commandTimeoutMs: number
  /** The batches' deadlines: one timer, not one per batch (timeouts.ts). */
  private readonly timeouts = new Timeouts()
  private link?: Link
  private connecting?: Promise<Link>
  private closed = false

  /** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
  constructor(url: string, opts: RedisClientOptions = {}) {
    this.target = new URL(url)
    if (this.target.protocol !== 'redis:' && this.target.protocol !== 'rediss:') {
      throw new TypeError(`not a redis:// URL: ${this.target.protocol}`)
    }
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 2000
  }

  /** host:port, for messages. */
  get address(): string {
    return `${this.target.hostname || '127.0.0.1'}:${this.target.port || 6379}`
  }

  /** Sends the commands back to back; one reply each, in order (error replies in place). */
  async pipeline(commands: RedisArg[][]): Promise<RedisReply[]> {
    if (commands.length === 0) return []
    return await this.send(await this.connection(), commands)
  }

  /** One command; an error reply is thrown as RedisReplyError. */
  async command(...args: RedisArg[]): Promise<Exclude<RedisReply, RedisReplyError>> {
    const [reply] = await this.pipeline([args])
    if (reply instanceof RedisReplyError) throw reply
    return reply
  }

  /** Closes the connection; waiting and later commands fail. */
  async close(): Promise<void> {
    this.closed = true
    const link = this.link ?? await this.connecting?.catch(() => undefined)
    if (!link) return
    this.drop(link, new RedisConnectionError('the redis client was closed'))
    await link.reading
  }

  private async connection(): Promise<Link> {
    if (this.closed) throw new RedisConnectionError('the redis client was closed')
    if (this.link && !this.link.broken) return this.link
    this.connecting ??= this.open().finally(() => (this.connecting = undefined))
    return await this.connecting
  }

  private async open(): Promise<Link> {
    const conn = await this.dial()
    const link: Link = { conn, pending: [], writing: Promise.resolve() }
    link.reading = this.readLoop(link)
    const setup = this.setupCommands()
    if (setup.length) {
      const replies = await this.send(link, setup)
      const refused = replies.find((r) => r instanceof RedisReplyError)
      if (refused) {
        this.drop(
          link,
          new RedisConnectionError(`redis refused the connection setup: ${refused.message}`),
        )
        throw link.broken
      }
    }
    if (this.closed) {
      this.drop(link, new RedisConnectionError('the redis client was closed'))
      throw link.broken
    }
    this.link = link
    return link
  }

  /** TCP (or TLS) connection within the connect timeout. */
  private async dial(): Promise<Deno.Conn> {
    const hostname = this.target.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
    const port = Number(this.target.port || 6379)
    const dialing: Promise<Deno.Conn> = this.target.protocol === 'rediss:'
      ? Deno.connectTls({ hostname, port })
      : Deno.connect({ hostname, port })
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RedisConnectionError(
              `no connection to redis at ${this.address} within ${this.connectTimeoutMs} ms`,
            ),
          ),
        this.connectTimeoutMs,
      )
    })
    try {
      return await Promise.race([dialing, timeout])
    } catch (err) {
      dialing.then((late) => late.close(), () => {}) // a connection that arrives after the timeout
      if (err instanceof RedisConnectionError) throw err
      throw new RedisConnectionError(`redis at ${this.address} is unreachable: ${messageOf(err)}`)
    } finally {
      clearTimeout(timer)
    }
  }

  /** AUTH and SELECT from the URL. */
  private setupCommands(): RedisArg[][] {
    const setup: RedisArg[][] = []
    const password = decodeURIComponent(this.target.password)
    const user = decodeURIComponent(this.target.username)
    if (password) setup.push(user ? ['AUTH', user, password] : ['AUTH', password])
    const db = this.target.pathname.replace(/^\//, '')
    if (db && db !== '0') setup.push(['SELECT', db])
    return setup
  }

  private send(link: Link, commands: RedisArg[][]): Promise<RedisReply[]> {
    if (link.broken) return Promise.reject(link.broken)
    // Replies arrive in write order: queue the expected replies and the write
    // together, with no await in between.
    const replies = commands.map(() =>
      new Promise<RedisReply>((resolve, reject) => link.pending.push({ resolve, reject }))
    )
    const bytes = encodeCommands(commands)
    link.writing = link.writing
      .then(() => writeAll(link.conn, bytes))
      .catch((err) =>
        this.drop(link, asConnectionError(err, `writing to redis at ${this.address} failed`))
      )
    const timeout = this.timeouts.start(this.commandTimeoutMs, () =>
      this.drop(
        link,
        new RedisConnectionError(`redis at ${this.address} did not answer within ${this.commandTimeoutMs} ms`),
      ))
    return Promise.all(replies).finally(() => timeout.cancel())
  }

  private async readLoop(link: Link): Promise<void> {
    const parser = new ReplyParser()
    const chunk = new Uint8Array(64 * 1024)
    try {
      for (;;) {
        const n = await link.conn.read(chunk)
        if (n === null) {
          throw new RedisConnectionError(`redis at ${this.address} closed the connection`)
        }
        parser.push(chunk.subarray(0, n))
        for (let reply = parser.next(); reply !== NEED_MORE; reply = parser.next()) {
          const waiting = link.pending.shift()
          if (!waiting) throw new RedisConnectionError('redis sent a reply nobody asked for')
          waiting.resolve(reply)
        }
      }
    } catch (err) {
      this.drop(link, asConnectionError(err, `reading from redis at ${this.address} failed`))
    }
  }

  /** Closes a connection for good; every command still waiting on it fails. */
  private drop(link: Link, err: RedisConnectionError): void {
    if (this.link === link) this.link = undefined
    if (link.broken) return
    link.broken = err
    try {
      link.conn.close()
    } catch { /* already closed */ }
    for (const waiting of link.pending.splice(0)) waiting.reject(err)
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0
  while (written < data.length) written += await conn.write(data.subarray(written))
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function asConnectionError(err: unknown, context: string): RedisConnectionError {
  return err instanceof RedisConnectionError
    ? err
    : new RedisConnectionError(`${context}: ${messageOf(err)}`)
}

// ---------------------------------------------------------------- private redis-server

export interface PrivateRedis {
  /** `redis://:<password>@127.0.0.1:<port>` */
  url: string
  /** Resolves with the reason if the server is gone for good without stop() (see supervise()). */
  lost: Promise<string>
  /** Stops the server and removes its folder; safe to call twice. */
  stop(): Promise<void>
}

const SERVICE = 'the private redis-server'

/**
 * A private redis-server on 127.0.0.1 (a free port unless given), with no
 * persistence and a temporary folder; resolves once it answers PING. Null
 * when no `redis-server` is on the PATH. Supervised: a crashed server is
 * restarted on the same port (empty: it is a cache).
 */
export async function startPrivateRedis(
  opts: { port?: number; password?: string; supervision?: SupervisionOptions } = {},
): Promise<PrivateRedis | null> {
  const dir = await Deno.makeTempDir({ prefix: 'pam-redis-' })
  // A password, as Upstash has one: another local user or process cannot read the cache.
  const password = opts.password ?? crypto.randomUUID().replaceAll('-', '')
  try {
    for (let attempt = 1;; attempt++) {
      const port = opts.port ?? await freePort()
      let child
      try {
        child = await startRedisServer(port, dir, password)
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          await Deno.remove(dir, { recursive: true })
          return null
        }
        // Another process may have taken the port between freePort() and the start.
        if (opts.port !== undefined || attempt >= 3) throw err
        continue
      }
      const server = supervise(child, {
        name: 'redis-server',
        restart: () => startRedisServer(port, dir, password),
        stopSignal: 'SIGTERM', // no persistence configured: exits at once, nothing saved
        ...opts.supervision,
      })
      return privateRedisHandle(`redis://:${password}@127.0.0.1:${port}`, server, dir)
    }
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {})
    throw err
  }
}

/** redis-server on `port`, once it answers PING; throws Deno.errors.NotFound when not installed. */
async function startRedisServer(port: number, dir: string, password: string): Promise<Deno.ChildProcess> {
  assertPortFree(port, SERVICE)
  // In a file only we can read, not on the command line where `ps` shows it.
  const config = `${dir}/redis.conf`
  await Deno.writeTextFile(config, `requirepass ${password}\n`, { mode: 0o600 })
  const args = [
    config,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    `${dir}/redis.log`,
    '--loglevel',
    'warning',
    '--daemonize',
    'no',
  ]
  const child = new Deno.Command('redis-server', {
    args,
    stdin: 'null',
    stdout: 'null',
    stderr: 'null',
  })
    .spawn()
  const failure = await waitForPing(`redis://:${password}@127.0.0.1:${port}`, child)
  if (failure) {
    throw new Error(
      `redis-server did not start on port ${port}: ${failure}\n${await logTail(dir)}`.trim(),
    )
  }
  return child
}

/** Undefined once the server answers PING; else why not (it exited, or 10 s passed). */
async function waitForPing(url: string, child: Deno.ChildProcess): Promise<string | undefined> {
  let exit: Deno.CommandStatus | undefined
  child.status.then((s) => (exit = s))
  const probe = new RedisClient(url, { connectTimeoutMs: 500, commandTimeoutMs: 500 })
  const deadline = Date.now() + 10_000
  let lastError = ''
  try {
    while (Date.now() < deadline) {
      try {
        if ((await probe.command('PING')) === 'PONG') return undefined
      } catch (err) {
        lastError = messageOf(err)
      }
      if (exit) return `it exited with code ${exit.code}`
      await new Promise((r) => setTimeout(r, 25))
    }
  } finally {
    await probe.close()
  }
  try {
    child.kill('SIGKILL')
  } catch { /* already exited */ }
  await child.status
  return `no answer to PING within 10 s (${lastError})`
}

function privateRedisHandle(url: string, server: Supervised, dir: string): PrivateRedis {
  // If the process ends without stop() (an uncaught error), do not leave the folder behind
  // (the supervisor stops the server).
  const onUnload = () => {
    try {
      Deno.removeSync(dir, { recursive: true })
    } catch { /* best effort */ }
  }
  globalThis.addEventListener('unload', onUnload)
  let stopping: Promise<void> | undefined
  const stop = async () => {
    globalThis.removeEventListener('unload', onUnload)
    await server.stop()
    await Deno.remove(dir, { recursive: true }).catch(() => {})
  }
  return { url, lost: server.lost, stop: () => (stopping ??= stop()) }
}

async function logTail(dir: string): Promise<string> {
  const log = await Deno.readTextFile(`${dir}/redis.log`).catch(() => '')
  return log.trim().split('\n').slice(-5).join('\n')
}
