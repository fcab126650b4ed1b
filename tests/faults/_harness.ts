// What every fault test stands on: a stack of its own (an embedded Postgres in
// a temporary folder, a private redis-server, the gateway with every
// function), started in this process so the test can kill and freeze the
// servers under it. The functions read their configuration from the
// environment once per process, so each fault test file runs in a `deno test`
// process of its own (scripts/test-faults.ts) and sets the configuration here,
// before the first request.
import postgres from 'postgres'
import { ensureDatabase } from '../../scripts/local/database.ts'
import { type RunningPostgres, startEmbeddedPostgres } from '../../scripts/local/postgres.ts'
import { type PrivateRedis, RedisClient, startPrivateRedis } from '../../scripts/local/redis.ts'
import { type Stack, startStack } from '../../scripts/local/stack.ts'

/** The request path's timeouts in the fault tests: short, so "fast" is measurable quickly. */
export const LIMITS = {
  poolMax: 4,
  statementTimeoutMs: 1000,
  acquireTimeoutMs: 500,
  cacheTimeoutMs: 250,
  /** Requests per window on the bulk tier (the CSV export), checked while Redis is down. */
  bulkLimit: 3,
} as const

/** A transaction's client-side deadline (db.ts): the statement timeout plus 2 s. */
export const DEADLINE_MS = LIMITS.statementTimeoutMs + 2000
/** The longest pause during which an isolate answers 503 at once (db.ts). */
export const MAX_PAUSE_MS = 5000

export interface FaultStack {
  stack: Stack
  /** Base URL of the functions: `${stack.url}/functions/v1`. */
  functions: string
  /** Superuser connection to the stack's database (bypasses RLS; reconnects after a restart). */
  admin: postgres.Sql
  postgres: Server
  /** Null when no redis-server is installed (the stack then caches in-process). */
  redis: Server | null
  stop(): Promise<void>
}

/** A supervised server of the stack, and what its supervisor said, with when. */
export interface Server {
  lines: { at: number; line: string }[]
  lost: Promise<string>
  /** The server's current process id (it changes when the supervisor restarts it). */
  pid(): Promise<number>
}

export interface FaultStackOptions {
  /** Function configuration on top of LIMITS (PAM_* variables). */
  env?: Record<string, string>
  /** Restart delays of the supervisors (default: the supervisor's own, 0.5 s first). */
  postgresRestartDelaysMs?: number[]
  redisRestartDelaysMs?: number[]
  /** 'memory' runs without Redis (for tests that are about the database only). */
  cache?: 'redis' | 'memory'
}

/** Milliseconds since this process started, the clock every record here uses. */
export const now = () => performance.now()

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether the promise has settled (after the pending callbacks ran). */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  return await Promise.race([p.then(() => true, () => true), sleep(0).then(() => false)])
}

/** Whether the Redis fault tests can run: they start (and kill) a redis-server of their own. */
export const redisServerInstalled = await new Deno.Command('redis-server', { args: ['--version'], stdout: 'null', stderr: 'null' })
  .output().then((o) => o.success, () => false)

export async function startFaultStack(opts: FaultStackOptions = {}): Promise<FaultStack> {
  const env: Record<string, string> = {
    PAM_DB_POOL_MAX: String(LIMITS.poolMax),
    PAM_DB_STATEMENT_TIMEOUT_MS: String(LIMITS.statementTimeoutMs),
    PAM_DB_ACQUIRE_TIMEOUT_MS: String(LIMITS.acquireTimeoutMs),
    PAM_CACHE_TIMEOUT_MS: String(LIMITS.cacheTimeoutMs),
    // The load is a few users making many requests: only the bulk tier limits them.
    PAM_RATE_LIMIT_STANDARD: '1000000',
    PAM_RATE_LIMIT_BULK: String(LIMITS.bulkLimit),
    PAM_LOG_LEVEL: Deno.env.get('PAM_TEST_LOGS') ? 'info' : 'error',
    ...opts.env,
  }
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v)

  const tmp = await Deno.makeTempDir({ prefix: 'pam-fault-' })
  await Deno.chmod(tmp, 0o755) // embedded Postgres runs as `postgres` when we are root
  const pgDir = `${tmp}/postgres`
  const pgLines: Server['lines'] = []
  const redisLines: Server['lines'] = []
  const report = (lines: Server['lines']) => (line: string) => lines.push({ at: now(), line })

  let pg: RunningPostgres | undefined
  let redis: PrivateRedis | null = null
  let stack: Stack | undefined
  let admin: postgres.Sql | undefined
  const stop = async () => {
    await admin?.end({ timeout: 1 })
    await stack?.stop()
    await redis?.stop()
    await pg?.stop()
    await Deno.remove(tmp, { recursive: true }).catch(() => {})
  }
  try {
    pg = await startEmbeddedPostgres(pgDir, {
      supervision: { report: report(pgLines), restartDelaysMs: opts.postgresRestartDelaysMs },
    })
    if (opts.cache !== 'memory') {
      redis = await startPrivateRedis({
        supervision: { report: report(redisLines), restartDelaysMs: opts.redisRestartDelaysMs },
      })
    }
    stack = await startStack({
      dataDir: `${tmp}/keys`,
      databaseUrl: await ensureDatabase(pg.serverUrl, 'pam'),
      redisUrl: redis?.url,
      cache: redis ? 'auto' : 'memory',
      port: 0,
      seed: false,
      authSettings: { rateLimit: { signInSignUps: 1e6, tokenRefresh: 1e6 } },
    })
    admin = postgres(stack.databaseUrl, { max: 2, onnotice: () => {}, connect_timeout: 2 })
    const redisUrl = redis?.url
    return {
      stack,
      functions: `${stack.url}/functions/v1`,
      admin,
      postgres: {
        lines: pgLines,
        lost: pg.lost,
        pid: async () => Number((await Deno.readTextFile(`${pgDir}/postmaster.pid`)).split('\n')[0]),
      },
      redis: redisUrl
        ? { lines: redisLines, lost: redis!.lost, pid: () => redisPid(redisUrl) }
        : null,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

async function redisPid(url: string): Promise<number> {
  const client = new RedisClient(url, { connectTimeoutMs: 1000, commandTimeoutMs: 1000 })
  try {
    const info = new TextDecoder().decode(await client.command('INFO', 'server') as Uint8Array)
    return Number(info.match(/process_id:(\d+)/)![1])
  } finally {
    await client.close()
  }
}

// ---------------------------------------------------------------- faults

/** The process and its children (a postmaster's backends and workers), parent first. */
async function withChildren(pid: number): Promise<number[]> {
  const out = await new Deno.Command('pgrep', { args: ['-P', String(pid)], stdout: 'piped', stderr: 'null' })
    .output()
  const children = new TextDecoder().decode(out.stdout).split('\n').filter(Boolean).map(Number)
  return [pid, ...children]
}

/** Stops a server and everything it forked with SIGSTOP; the returned function resumes them (SIGCONT). */
export async function freeze(pid: number): Promise<() => void> {
  Deno.kill(pid, 'SIGSTOP') // first, so it forks nothing while its children are being stopped
  const all = await withChildren(pid)
  for (const p of all.slice(1)) signal(p, 'SIGSTOP')
  return () => {
    for (const p of all.slice(1)) signal(p, 'SIGCONT')
    signal(pid, 'SIGCONT')
  }
}

function signal(pid: number, sig: Deno.Signal) {
  try {
    Deno.kill(pid, sig)
  } catch { /* it exited meanwhile */ }
}

/** Waits until the supervisor has said `pattern` (after `since`); returns when it said it. */
export async function supervisorSaid(server: Server, pattern: RegExp, since: number, timeoutMs = 30_000) {
  const deadline = now() + timeoutMs
  for (;;) {
    const found = server.lines.find((l) => l.at >= since && pattern.test(l.line))
    if (found) return found
    if (now() > deadline) {
      throw new Error(`the supervisor did not say ${pattern} within ${timeoutMs} ms: ${JSON.stringify(server.lines)}`)
    }
    await sleep(50)
  }
}

// ---------------------------------------------------------------- locks

/** Runs `lockSql` in a transaction of a session of its own and holds it: the
 * function's statements that need that lock wait in Postgres (for up to the
 * statement timeout) until `release()`. */
export async function holdLock(fs: FaultStack, lockSql: string): Promise<{ release(): Promise<void> }> {
  // One connection, used for nothing else, and not written to again once it has closed.
  let closed = false
  const locker = postgres(fs.stack.databaseUrl, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 2,
    onclose: () => (closed = true),
  })
  await locker.unsafe('begin')
  await locker.unsafe(lockSql)
  return {
    release: async () => {
      if (!closed) await locker.unsafe('rollback')
      await locker.end({ timeout: 0 })
    },
  }
}

/** `user`'s own category `held`, and a session of the test's holding its row locked: a write
 * naming that category waits in Postgres until `release()`; other writes do not. */
export async function lockHeldCategory(fs: FaultStack, user: FaultUser): Promise<{ release(): Promise<void> }> {
  const made = await call(fs, user, 'wins/categories', { method: 'POST', body: { slug: 'held', label: 'Held' } })
  await made.body?.cancel()
  if (made.status !== 201 && made.status !== 409) throw new Error(`could not make the category: ${made.status}`)
  return await holdLock(fs, `select 1 from pam.expense_categories where user_id = '${user.id}' and slug = 'held' for update`)
}

/** Waits until `n` of the functions' sessions wait for a lock. */
export async function lockWaiters(fs: FaultStack, n: number, timeoutMs = 5000): Promise<void> {
  const deadline = now() + timeoutMs
  for (;;) {
    const [{ count }] = await fs.admin<{ count: number }[]>`
      select count(*)::int as count from pg_stat_activity
      where application_name = 'pam' and wait_event_type = 'Lock' and datname = current_database()`
    if (count >= n) return
    if (now() > deadline) throw new Error(`${count} of the functions' sessions wait for a lock, not ${n}`)
    await sleep(20)
  }
}

// ---------------------------------------------------------------- users

export interface FaultUser {
  id: string
  token: string
}

/** A fresh account through the stack's auth service (Supabase Auth's /signup). */
export async function signUp(fs: FaultStack, tag: string): Promise<FaultUser> {
  const res = await fetch(`${fs.stack.url}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey: fs.stack.keys.publishableKey, 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `${tag}-${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: 'correct-horse-battery',
      data: { full_name: `Fault ${tag}` },
    }),
  })
  const body = await res.json()
  if (res.status !== 200 || !body.access_token) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(body)}`)
  return { id: body.user.id, token: body.access_token }
}

/** A call to /functions/v1/<path> as `user`. */
export function call(
  fs: FaultStack,
  user: FaultUser,
  path: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    apikey: fs.stack.keys.publishableKey,
    authorization: `Bearer ${user.token}`,
  }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  return fetch(`${fs.functions}/${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  })
}
