// A small Redis client (RESP2 over TCP) for the local Upstash REST bridge,
// and a private redis-server for `npm start`, tests and benchmarks.
import { freePort } from './postgres.ts'

export type Reply = string | number | Uint8Array | null | RedisReplyError | Reply[]

/** An error reply from Redis (a valid answer, not a broken connection). */
export class RedisReplyError {
  constructor(readonly message: string) {}
}

const CRLF = new Uint8Array([13, 10])
const enc = new TextEncoder()
const dec = new TextDecoder()

function encodeCommand(args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [enc.encode(`*${args.length}\r\n`)]
  for (const a of args) {
    const bytes = typeof a === 'string' ? enc.encode(a) : a
    parts.push(enc.encode(`$${bytes.length}\r\n`), bytes, CRLF)
  }
  return concat(parts)
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Parses one reply from buf at pos; undefined when more bytes are needed. */
function parseReply(buf: Uint8Array, pos: number): { reply: Reply; next: number } | undefined {
  const lineEnd = buf.indexOf(13, pos)
  if (lineEnd < 0 || lineEnd + 1 >= buf.length) return undefined
  const line = dec.decode(buf.subarray(pos + 1, lineEnd))
  const after = lineEnd + 2
  switch (buf[pos]) {
    case 43: // +
      return { reply: line, next: after }
    case 45: // -
      return { reply: new RedisReplyError(line), next: after }
    case 58: // :
      return { reply: Number(line), next: after }
    case 36: { // $
      const len = Number(line)
      if (len < 0) return { reply: null, next: after }
      if (buf.length < after + len + 2) return undefined
      return { reply: buf.slice(after, after + len), next: after + len + 2 }
    }
    case 42: { // *
      const count = Number(line)
      if (count < 0) return { reply: null, next: after }
      const items: Reply[] = []
      let p = after
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, p)
        if (!r) return undefined
        items.push(r.reply)
        p = r.next
      }
      return { reply: items, next: p }
    }
    default:
      throw new Error(`unexpected reply type ${String.fromCharCode(buf[pos])}`)
  }
}

interface Pending {
  resolve(r: Reply): void
  reject(e: Error): void
}

/** One connection, commands pipelined in order. Reconnects after a failure. */
export class RedisClient {
  private conn?: Deno.TcpConn
  private connecting?: Promise<Deno.TcpConn>
  private pending: Pending[] = []
  private buf = new Uint8Array(0)
  private writing: Promise<void> = Promise.resolve()

  constructor(
    readonly url: string,
    private readonly timeoutMs = 2000,
  ) {}

  /** Sends several commands back to back; answers in order. */
  async pipeline(commands: (string | Uint8Array)[][]): Promise<Reply[]> {
    const conn = await this.connection()
    // Replies come back in the order commands were written: queue the
    // expected replies and the write together, with no await in between.
    const replies = commands.map(() =>
      new Promise<Reply>((resolve, reject) => this.pending.push({ resolve, reject }))
    )
    const bytes = concat(commands.map(encodeCommand))
    const written = this.writing.then(() => writeAll(conn, bytes))
    this.writing = written.catch(() => {})
    const timer = setTimeout(() => this.fail(new Error(`redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs)
    try {
      await written
      return await Promise.all(replies)
    } catch (err) {
      this.fail(err as Error)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  async command(...args: (string | Uint8Array)[]): Promise<Reply> {
    return (await this.pipeline([args]))[0]
  }

  close(): void {
    this.fail(new Error('connection closed'))
  }

  private async connection(): Promise<Deno.TcpConn> {
    if (this.conn) return this.conn
    this.connecting ??= this.open().finally(() => (this.connecting = undefined))
    return await this.connecting
  }

  private async open(): Promise<Deno.TcpConn> {
    const u = new URL(this.url)
    const connect = Deno.connect({ hostname: u.hostname || '127.0.0.1', port: Number(u.port || 6379) })
    let timer: ReturnType<typeof setTimeout> | undefined
    const conn = await Promise.race([
      connect,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`could not connect to redis within ${this.timeoutMs} ms`)), this.timeoutMs)
      }),
    ]).finally(() => clearTimeout(timer))
    this.conn = conn
    this.buf = new Uint8Array(0)
    this.read(conn)
    const password = decodeURIComponent(u.password)
    if (password) {
      const user = decodeURIComponent(u.username)
      const r = await this.command('AUTH', ...(user ? [user, password] : [password]))
      if (r instanceof RedisReplyError) throw new Error(`redis AUTH failed: ${r.message}`)
    }
    const db = u.pathname.replace('/', '')
    if (db) await this.command('SELECT', db)
    return conn
  }

  private async read(conn: Deno.TcpConn) {
    const chunk = new Uint8Array(64 * 1024)
    try {
      while (true) {
        const n = await conn.read(chunk)
        if (n === null) throw new Error('redis closed the connection')
        const merged = new Uint8Array(this.buf.length + n)
        merged.set(this.buf)
        merged.set(chunk.subarray(0, n), this.buf.length)
        let pos = 0
        while (pos < merged.length) {
          const r = parseReply(merged, pos)
          if (!r) break
          pos = r.next
          this.pending.shift()?.resolve(r.reply)
        }
        this.buf = merged.slice(pos)
      }
    } catch (err) {
      if (this.conn === conn) this.fail(err as Error)
    }
  }

  /** Drops the connection; every waiting command fails. */
  private fail(err: Error) {
    const conn = this.conn
    this.conn = undefined
    try {
      conn?.close()
    } catch { /* already closed */ }
    for (const p of this.pending.splice(0)) p.reject(err)
  }
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array) {
  let written = 0
  while (written < data.length) written += await conn.write(data.subarray(written))
}

/** A private redis-server on a free port with no persistence; null when none is installed. */
export async function startPrivateRedis(opts: { port?: number } = {}): Promise<{ url: string; stop(): Promise<void> } | null> {
  const port = opts.port ?? await freePort()
  const dir = await Deno.makeTempDir({ prefix: 'pam-redis-' })
  let child: Deno.ChildProcess
  try {
    child = new Deno.Command('redis-server', {
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
      stdout: 'null',
      stderr: 'null',
      stdin: 'null',
    }).spawn()
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {})
    if (err instanceof Deno.errors.NotFound) return null
    throw err
  }
  const url = `redis://127.0.0.1:${port}`
  const client = new RedisClient(url, 500)
  const deadline = Date.now() + 5000
  for (;;) {
    try {
      if ((await client.command('PING')) === 'PONG') break
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`redis-server did not start on port ${port}: ${err}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  client.close()
  let stopped = false
  return {
    url,
    async stop() {
      if (stopped) return
      stopped = true
      try {
        child.kill('SIGTERM')
      } catch { /* already gone */ }
      await child.status
      await Deno.remove(dir, { recursive: true }).catch(() => {})
    },
  }
}
