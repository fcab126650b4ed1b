// The Upstash Redis REST protocol on top of a real Redis, so the unchanged
// @upstash/redis client and @upstash/ratelimit run against it locally and in
// tests. What it serves (as Upstash and its local stand-in SRH do):
//
//   POST /             ["SET","k","v","EX","10"]       → {"result": …}
//   GET|POST /set/k/v  the path form (a POST body is appended as the last
//                      argument, query parameters after it); GET /ping → PONG
//   POST /pipeline     [[…],[…]] → [{"result": …} | {"error": "…"}, …]
//   POST /multi-exec   the same, inside MULTI/EXEC (atomic)
//
// `Authorization: Bearer <token>` is required (401 {"error":"Unauthorized"}).
// With `Upstash-Encoding: base64` (the SDK's default) every string in a result
// is base64 of its bytes, except a top-level "OK" status; numbers and null stay
// as they are, arrays are encoded element by element. Without it, strings are
// UTF-8 text. Redis errors are 400 {"error"} (per entry in a pipeline, with
// 200); Redis unreachable or not answering in time is 500.
//
// @upstash/ratelimit's Lua scripts start with `#!lua flags=allow-key-locking`,
// a flag only Upstash knows; open-source Redis refuses it. The bridge sends
// such scripts with that flag removed and answers to the SHA-1 the client
// computed, so EVALSHA / SCRIPT LOAD / SCRIPT EXISTS keep working.
import { Buffer } from 'node:buffer'
import { createHash, timingSafeEqual } from 'node:crypto'
import {
  type RedisArg,
  RedisClient,
  RedisConnectionError,
  type RedisReply,
  RedisReplyError,
} from './redis.ts'
import { sameText } from '../../supabase/functions/_shared/constant-time.ts'

export interface RedisBridgeOptions {
  redisUrl: string
  token: string
  log?: (e: Record<string, unknown>) => void
}

type Json = string | number | null | Json[]
type Entry = { result: Json } | { error: string }
type Kind = 'single' | 'pipeline' | 'multi-exec'

/** A command as sent to Redis, with what turns Redis's reply into the client's. */
interface Prepared {
  name: string
  args: RedisArg[]
  fixReply?: (reply: RedisReply) => RedisReply
}

/** An answer decided before Redis is asked (bad input, refused command, …). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

// ---------------------------------------------------------------- refused commands

const SHARED_CONNECTION = 'the bridge runs every request on one shared connection'
const REFUSED = new Map<string, string>([
  ...[
    'SHUTDOWN',
    'DEBUG',
    'CONFIG',
    'MONITOR',
    'SYNC',
    'PSYNC',
    'REPLICAOF',
    'SLAVEOF',
    'FAILOVER',
    'MODULE',
    'ACL',
  ]
    .map((c) => [c, 'it administers the server'] as const),
  ...['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE']
    .map((c) => [c, 'streaming replies are not supported over REST'] as const),
  ...[
    'BLPOP',
    'BRPOP',
    'BRPOPLPUSH',
    'BLMOVE',
    'BLMPOP',
    'BZPOPMIN',
    'BZPOPMAX',
    'BZMPOP',
    'WAIT',
    'WAITAOF',
  ]
    .map((c) => [c, `it blocks, and ${SHARED_CONNECTION}`] as const),
  ...[
    'MULTI',
    'EXEC',
    'DISCARD',
    'WATCH',
    'UNWATCH',
    'SELECT',
    'HELLO',
    'AUTH',
    'RESET',
    'QUIT',
    'CLIENT',
  ]
    .map((c) =>
      [
        c,
        `it changes connection state, and ${SHARED_CONNECTION} (use /multi-exec for transactions)`,
      ] as const
    ),
])

/** Why a command may not run through the bridge; undefined when it may. */
function refusal(name: string, args: RedisArg[]): string | undefined {
  let reason = REFUSED.get(name)
  if (!reason && (name === 'XREAD' || name === 'XREADGROUP')) {
    const options = args.slice(1, args.findIndex((a) => upper(a) === 'STREAMS'))
    if (options.some((a) => upper(a) === 'BLOCK')) reason = `it blocks, and ${SHARED_CONNECTION}`
  }
  return reason && `ERR ${name} is not allowed through the local Upstash REST bridge: ${reason}`
}

const upper = (a: RedisArg) => (typeof a === 'string' ? a.toUpperCase() : '')

// ---------------------------------------------------------------- requests

/** The commands a request asks for; throws HttpError for a malformed one. */
async function readRequest(req: Request): Promise<{ kind: Kind; commands: RedisArg[][] }> {
  const url = new URL(req.url)
  const path = url.pathname.replace(/\/+$/, '') || '/'
  if (path === '/' || path === '/pipeline' || path === '/multi-exec') {
    if (req.method !== 'POST') throw new HttpError(405, `ERR ${path} takes POST`, { allow: 'POST' })
    const body = await readJson(req)
    if (path === '/') return { kind: 'single', commands: [parseCommand(body, 'the body')] }
    if (!Array.isArray(body) || body.length === 0) {
      throw new HttpError(400, `ERR the body of ${path} must be a non-empty JSON array of commands`)
    }
    return {
      kind: path.slice(1) as Kind,
      commands: body.map((c, i) => parseCommand(c, `command ${i + 1}`)),
    }
  }
  if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'PUT') {
    throw new HttpError(405, `ERR method ${req.method} is not allowed`, { allow: 'GET, POST, PUT' })
  }
  return { kind: 'single', commands: [await pathCommand(url, req)] }
}

async function readJson(req: Request): Promise<unknown> {
  const text = await req.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'ERR the body is not valid JSON')
  }
}

/** A JSON command: a non-empty array of strings, numbers or booleans. */
function parseCommand(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(
      400,
      `ERR ${what} must be a non-empty JSON array, e.g. ["SET","key","value"]`,
    )
  }
  return value.map((arg, i) => {
    if (typeof arg === 'string') return arg
    if (typeof arg === 'number' || typeof arg === 'boolean') return String(arg)
    throw new HttpError(400, `ERR ${what}: argument ${i + 1} must be a string, number or boolean`)
  })
}

/** `/set/k/v?EX=10`: path segments, then a POST body (raw bytes), then query parameters. */
async function pathCommand(url: URL, req: Request): Promise<RedisArg[]> {
  let args: RedisArg[]
  try {
    args = url.pathname.slice(1).replace(/\/+$/, '').split('/').map(decodeURIComponent)
  } catch {
    throw new HttpError(400, 'ERR the path is not valid percent-encoding')
  }
  const body = req.method === 'GET' ? new Uint8Array() : new Uint8Array(await req.arrayBuffer())
  if (body.length) args.push(body)
  for (const [name, value] of url.searchParams) {
    args.push(...(value === '' ? [name] : [name, value]))
  }
  return args
}

// ---------------------------------------------------------------- scripts

/** Flags Upstash accepts in a script shebang that open-source Redis refuses. */
const UPSTASH_ONLY_FLAGS = new Set(['allow-key-locking'])

const sha1 = (text: string) => createHash('sha1').update(text, 'utf8').digest('hex')

/**
 * The script without Upstash-only shebang flags; undefined when it has none.
 * A shebang left without flags becomes a Lua comment, so line numbers in
 * error messages stay right (and Redis before 7, which has no shebangs, runs it).
 */
function portableScript(script: string): string | undefined {
  const eol = script.indexOf('\n')
  const line = eol < 0 ? script : script.slice(0, eol)
  if (!line.startsWith('#!lua')) return undefined
  let changed = false
  const tokens = line.slice(5).trim().split(/\s+/).filter(Boolean).map((token) => {
    if (!token.startsWith('flags=')) return token
    const flags = token.slice(6).split(',').filter(Boolean)
    const kept = flags.filter((f) => !UPSTASH_ONLY_FLAGS.has(f))
    changed ||= kept.length !== flags.length
    return kept.length ? `flags=${kept.join(',')}` : ''
  }).filter(Boolean)
  if (!changed) return undefined
  const head = tokens.length ? `#!lua ${tokens.join(' ')}` : `-- ${line.trim()}`
  return head + (eol < 0 ? '' : script.slice(eol))
}

/** Rewrites script commands for open-source Redis and remembers client SHA → Redis SHA. */
class ScriptCompat {
  private readonly shas = new Map<string, string>()

  prepare(args: RedisArg[]): Prepared {
    const name = upper(args[0])
    const sub = upper(args[1] ?? '')
    if (name === 'EVAL' || name === 'EVAL_RO') return this.withScriptAt(name, args, 1)
    if (name === 'SCRIPT' && sub === 'LOAD') return this.withScriptAt(name, args, 2)
    if (name === 'EVALSHA' || name === 'EVALSHA_RO') return { name, args: this.mapShas(args, 1, 2) }
    if (name === 'SCRIPT' && sub === 'EXISTS') {
      return { name, args: this.mapShas(args, 2, args.length) }
    }
    return { name, args }
  }

  private withScriptAt(name: string, args: RedisArg[], at: number): Prepared {
    const script = args[at]
    const portable = typeof script === 'string' ? portableScript(script) : undefined
    if (typeof script !== 'string' || portable === undefined) return { name, args }
    const clientSha = sha1(script)
    this.remember(clientSha, sha1(portable))
    const sent = args.with(at, portable)
    // SCRIPT LOAD answers the SHA: give the client the one it computed.
    const fixReply = name === 'SCRIPT'
      ? (reply: RedisReply) => (reply instanceof RedisReplyError ? reply : clientSha)
      : undefined
    return { name, args: sent, fixReply }
  }

  private mapShas(args: RedisArg[], from: number, to: number): RedisArg[] {
    return args.map((
      a,
      i,
    ) => (i >= from && i < to && typeof a === 'string' ? this.shas.get(a.toLowerCase()) ?? a : a))
  }

  private remember(clientSha: string, redisSha: string) {
    this.shas.delete(clientSha)
    this.shas.set(clientSha, redisSha)
    if (this.shas.size > 1000) this.shas.delete(this.shas.keys().next().value!)
  }
}

// ---------------------------------------------------------------- replies

const utf8 = new TextDecoder()
const encoder = new TextEncoder()
const toBase64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')

/** A Redis reply in Upstash's JSON; `top` is false inside arrays, where "OK" is encoded too. */
function encodeResult(reply: RedisReply, base64: boolean, top = true): Json {
  if (reply === null || typeof reply === 'number') return reply
  if (Array.isArray(reply)) return reply.map((r) => encodeResult(r, base64, false))
  if (reply instanceof RedisReplyError) return encodeResult(reply.message, base64, false)
  if (typeof reply === 'string') {
    return !base64 || (top && reply === 'OK') ? reply : toBase64(encoder.encode(reply))
  }
  return base64 ? toBase64(reply) : utf8.decode(reply)
}

function toEntry(reply: RedisReply, base64: boolean): Entry {
  return reply instanceof RedisReplyError
    ? { error: reply.message }
    : { result: encodeResult(reply, base64) }
}

const jsonResponse = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers })

// ---------------------------------------------------------------- the bridge

export function createRedisBridge(opts: RedisBridgeOptions): {
  handler: (req: Request) => Promise<Response>
  close(): Promise<void>
} {
  const redis = new RedisClient(opts.redisUrl)
  const scripts = new ScriptCompat()
  const tokenDigest = digest(opts.token)
  const expected = `Bearer ${opts.token}`

  /** The token, compared in constant time: the header as clients send it without hashing
   * anything (a SHA-256 per call was ~4% of the bridge's time), else any spelling, hashed. */
  function authorized(header: string | null): boolean {
    if (header !== null && sameText(header, expected)) return true
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
    return match !== null && timingSafeEqual(digest(match[1]), tokenDigest)
  }

  /** Sends the commands (one batch, in order) and applies each command's reply fix. */
  async function run(prepared: Prepared[]): Promise<RedisReply[]> {
    const replies = await redis.pipeline(prepared.map((p) => p.args))
    return replies.map((r, i) => prepared[i].fixReply?.(r) ?? r)
  }

  async function single(command: Prepared, base64: boolean): Promise<Response> {
    const [reply] = await run([command])
    if (reply instanceof RedisReplyError) return jsonResponse({ error: reply.message }, 400)
    return jsonResponse({ result: encodeResult(reply, base64) })
  }

  async function pipeline(commands: Prepared[], base64: boolean): Promise<Response> {
    const replies = await run(commands)
    return jsonResponse(replies.map((r) => toEntry(r, base64)))
  }

  /**
   * MULTI, the commands, EXEC — written as one batch on the one connection, so
   * nothing else interleaves. A command Redis refuses while queueing aborts the
   * whole transaction (400); errors while executing are per entry.
   */
  async function multiExec(commands: Prepared[], base64: boolean): Promise<Response> {
    const replies = await run([{ name: 'MULTI', args: ['MULTI'] }, ...commands, {
      name: 'EXEC',
      args: ['EXEC'],
    }])
    const queued = replies.slice(1, -1)
    const failed = queued.findIndex((r) => r instanceof RedisReplyError)
    if (failed >= 0) {
      const why = (queued[failed] as RedisReplyError).message
      return jsonResponse({
        error: `EXECABORT Transaction discarded because of previous errors: command ${
          failed + 1
        } (${commands[failed].name}): ${why}`,
      }, 400)
    }
    const exec = replies[replies.length - 1]
    if (exec instanceof RedisReplyError) return jsonResponse({ error: exec.message }, 400)
    if (!Array.isArray(exec)) return jsonResponse({ error: 'EXECABORT Transaction aborted' }, 400)
    const fixed = exec.map((r, i) => commands[i].fixReply?.(r) ?? r)
    return jsonResponse(fixed.map((r) => toEntry(r, base64)))
  }

  async function handle(req: Request): Promise<Response> {
    if (!authorized(req.headers.get('authorization'))) {
      return jsonResponse({ error: 'Unauthorized' }, 401)
    }
    const base64 = req.headers.get('upstash-encoding')?.trim().toLowerCase() === 'base64'
    const { kind, commands } = await readRequest(req)
    const prepared = commands.map((c) => scripts.prepare(c))
    const refused = prepared.map((p) => refusal(p.name, p.args)).find((r) => r !== undefined)
    if (refused) throw new HttpError(400, refused)
    if (kind === 'pipeline') return await pipeline(prepared, base64)
    if (kind === 'multi-exec') return await multiExec(prepared, base64)
    return await single(prepared[0], base64)
  }

  async function handler(req: Request): Promise<Response> {
    try {
      return await handle(req)
    } catch (err) {
      if (err instanceof HttpError) {
        return jsonResponse({ error: err.message }, err.status, err.headers)
      }
      if (err instanceof RedisConnectionError) {
        opts.log?.({
          level: 'warn',
          msg: 'redis_unreachable',
          redis: redis.address,
          error: err.message,
        })
        return jsonResponse({
          error: `ERR the local Upstash REST bridge cannot reach Redis: ${err.message}`,
        }, 500)
      }
      opts.log?.({ level: 'error', msg: 'redis_bridge_failed', error: String(err) })
      return jsonResponse({ error: 'ERR internal error in the local Upstash REST bridge' }, 500)
    }
  }

  return { handler, close: () => redis.close() }
}

function digest(text: string): Uint8Array {
  return createHash('sha256').update(text, 'utf8').digest()
}
