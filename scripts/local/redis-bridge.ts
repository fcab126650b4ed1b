// The Upstash Redis REST protocol on top of a real Redis, so @upstash/redis
// and @upstash/ratelimit run unchanged locally: `POST /` with a JSON command,
// `POST /pipeline`, `POST /multi-exec`, `Authorization: Bearer <token>`, and
// base64 results when the client sends `Upstash-Encoding: base64` (the SDK's
// default). Redis errors are 400 (per entry in pipelines), bad auth 401,
// Redis unreachable 500 — as Upstash and its local stand-in SRH answer.
import { type Reply, RedisClient, RedisReplyError } from './redis.ts'

// Commands that would stop, reconfigure or stream from a shared server.
const REFUSED = new Set(['SHUTDOWN', 'DEBUG', 'CONFIG', 'MONITOR', 'SUBSCRIBE', 'PSUBSCRIBE', 'SYNC', 'PSYNC', 'REPLICAOF', 'SLAVEOF'])
const enc = new TextEncoder()
const dec = new TextDecoder()

type Arg = string | number | boolean
type Encoded = string | number | null | Encoded[]

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

async function tokenMatches(given: string, expected: string): Promise<boolean> {
  const key = crypto.getRandomValues(new Uint8Array(32))
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const [a, b] = await Promise.all([given, expected].map((s) => crypto.subtle.sign('HMAC', k, enc.encode(s))))
  const x = new Uint8Array(a), y = new Uint8Array(b)
  let diff = 0
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i]
  return diff === 0
}

function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

/** A Redis reply as Upstash answers it; errors are handled by the caller. */
function encodeReply(reply: Reply, base64: boolean): Encoded {
  if (reply === null || typeof reply === 'number') return reply
  if (Array.isArray(reply)) {
    return reply.map((r) => (r instanceof RedisReplyError ? r.message : encodeReply(r, base64)))
  }
  if (reply instanceof RedisReplyError) return reply.message
  if (typeof reply === 'string') return base64 && reply !== 'OK' ? toBase64(enc.encode(reply)) : reply
  return base64 ? toBase64(reply) : dec.decode(reply)
}

function parseCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error('a command is a non-empty JSON array')
  return value.map((a: Arg) => {
    if (!['string', 'number', 'boolean'].includes(typeof a)) throw new Error('command arguments must be strings or numbers')
    return String(a)
  })
}

function refused(cmd: string[]): string | undefined {
  const name = cmd[0].toUpperCase()
  return REFUSED.has(name) ? `ERR command ${name} is not allowed through the REST bridge` : undefined
}

// Upstash's Redis accepts `#!lua flags=allow-key-locking`, which
// @upstash/ratelimit puts on its scripts; open-source Redis refuses the flag.
// The bridge runs such scripts without their shebang line and maps the SHA
// the client knows to the SHA Redis knows, so EVALSHA keeps working.
async function sha1(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-1', enc.encode(text)))
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('')
}

function withoutUpstashShebang(script: string): string | undefined {
  return /^#!lua[^\n]*allow-key-locking/.test(script) ? script.slice(script.indexOf('\n') + 1) : undefined
}

class ScriptCompat {
  private readonly shas = new Map<string, string>()

  /** Rewrites a command for open-source Redis; `loaded` is the client's SHA for SCRIPT LOAD. */
  async rewrite(cmd: string[]): Promise<{ cmd: string[]; loaded?: string }> {
    const name = cmd[0].toUpperCase()
    const scriptAt = name === 'EVAL' || name === 'EVAL_RO' ? 1 : name === 'SCRIPT' && cmd[1]?.toUpperCase() === 'LOAD' ? 2 : -1
    if (scriptAt > 0 && cmd[scriptAt] !== undefined) {
      const compat = withoutUpstashShebang(cmd[scriptAt])
      if (compat === undefined) return { cmd }
      const original = await sha1(cmd[scriptAt])
      this.shas.set(original, await sha1(compat))
      const out = [...cmd]
      out[scriptAt] = compat
      return { cmd: out, loaded: scriptAt === 2 ? original : undefined }
    }
    if ((name === 'EVALSHA' || name === 'EVALSHA_RO') && cmd[1]) {
      const mapped = this.shas.get(cmd[1].toLowerCase())
      if (mapped) return { cmd: [cmd[0], mapped, ...cmd.slice(2)] }
    }
    return { cmd }
  }
}

export function createRedisBridge(opts: {
  redisUrl: string
  token: string
  log?: (e: Record<string, unknown>) => void
}): { handler: (req: Request) => Promise<Response>; close(): Promise<void> } {
  const redis = new RedisClient(opts.redisUrl)
  const scripts = new ScriptCompat()

  /** Runs commands (rewritten for open-source Redis) and gives the client's view of the replies. */
  async function run(cmds: string[][], wrap?: 'multi'): Promise<Reply[]> {
    const rewritten = await Promise.all(cmds.map((c) => scripts.rewrite(c)))
    const sent = rewritten.map((r) => r.cmd)
    const replies = wrap ? await redis.pipeline([['MULTI'], ...sent, ['EXEC']]) : await redis.pipeline(sent)
    const fix = (rs: Reply[]) => rs.map((r, i) => (rewritten[i].loaded && !(r instanceof RedisReplyError) ? rewritten[i].loaded! : r))
    if (!wrap) return fix(replies)
    const exec = replies[replies.length - 1]
    return [...replies.slice(0, -1), Array.isArray(exec) ? fix(exec) : exec]
  }

  const handler = async (req: Request): Promise<Response> => {
    const auth = req.headers.get('authorization') ?? ''
    if (!auth.startsWith('Bearer ') || !(await tokenMatches(auth.slice(7), opts.token))) {
      return json({ error: 'Unauthorized' }, 401)
    }
    const path = new URL(req.url).pathname.replace(/\/+$/, '') || '/'
    const base64 = req.headers.get('upstash-encoding')?.toLowerCase() === 'base64'
    try {
      if (req.method === 'GET' && path === '/ping') return json({ result: encodeReply(await redis.command('PING'), base64) })
      if (req.method !== 'POST') return json({ error: 'Method not allowed' }, 405)
      let body: unknown
      try {
        body = await req.json()
      } catch {
        return json({ error: 'ERR the body is not valid JSON' }, 400)
      }
      if (path === '/') return await single(body, base64)
      if (path === '/pipeline') return await pipeline(body, base64)
      if (path === '/multi-exec') return await multiExec(body, base64)
      return json({ error: `ERR unknown path ${path}` }, 404)
    } catch (err) {
      opts.log?.({ level: 'warn', msg: 'redis unreachable', error: String(err) })
      return json({ error: `ERR redis is unreachable: ${err instanceof Error ? err.message : err}` }, 500)
    }
  }

  async function single(body: unknown, base64: boolean) {
    let cmd: string[]
    try {
      cmd = parseCommand(body)
    } catch (err) {
      return json({ error: `ERR ${(err as Error).message}` }, 400)
    }
    const no = refused(cmd)
    if (no) return json({ error: no }, 400)
    const [reply] = await run([cmd])
    if (reply instanceof RedisReplyError) return json({ error: reply.message }, 400)
    return json({ result: encodeReply(reply, base64) })
  }

  /** A pipeline or transaction body: its commands, or the 400 to answer. */
  function commandsOf(body: unknown): string[][] | Response {
    try {
      if (!Array.isArray(body) || !body.length) throw new Error('expected a non-empty array of commands')
      const cmds = body.map(parseCommand)
      const no = cmds.map(refused).find(Boolean)
      return no ? json({ error: no }, 400) : cmds
    } catch (err) {
      return json({ error: `ERR ${(err as Error).message}` }, 400)
    }
  }

  const entries = (replies: Reply[], base64: boolean) =>
    json(replies.map((r) => r instanceof RedisReplyError ? { error: r.message } : { result: encodeReply(r, base64) }))

  async function pipeline(body: unknown, base64: boolean) {
    const cmds = commandsOf(body)
    return cmds instanceof Response ? cmds : entries(await run(cmds), base64)
  }

  async function multiExec(body: unknown, base64: boolean) {
    const cmds = commandsOf(body)
    if (cmds instanceof Response) return cmds
    const replies = await run(cmds, 'multi')
    const queued = replies.slice(1, -1).find((r) => r instanceof RedisReplyError) as RedisReplyError | undefined
    const exec = replies[replies.length - 1]
    if (queued || exec instanceof RedisReplyError || !Array.isArray(exec)) {
      return json({ error: (queued ?? (exec as RedisReplyError))?.message ?? 'ERR transaction aborted' }, 400)
    }
    return entries(exec, base64)
  }

  return {
    handler,
    close: () => {
      redis.close()
      return Promise.resolve()
    },
  }
}
