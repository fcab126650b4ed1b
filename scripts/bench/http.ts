// `npm run bench:http`: the request path against its floors, in one run.
//
// Every server runs in a process of its own and the load comes from wrk, so
// no figure is produced by the server's own event loop. Figures are ratios to
// floors measured in the same run (the machines are shared and noisy):
//
// - Postgres floor: the message the list endpoint sends (begin read only;
//   claims, the keyset query for 20 rows (each as its JSON text) prepared on
//   the server connection unless it is already, role, statement timeout and
//   session check; the query executed; commit: one message, one round trip), by
//   16 clients straight at the database (pgbench, or a postgres.js driver in
//   its own process when pgbench is missing);
// - bare floor: `Deno.serve` answering a small JSON body.
//
// The machines are shared and their speed moves from one minute to the next,
// so each figure is measured in rounds (BENCH_ROUNDS, default 3), each between
// two measurements of its floor (floor, figure, floor, figure, …, floor): a
// round's ratio divides the figure by the mean of the floors just before and
// just after it, and the median round is reported with the range.
//
// Then, through the local gateway (JWT verification, rate limiting, RLS):
// the expense list, cached reads (GET /wins/summary, GET /auth/me) and GET
// /health, on one isolate with the in-process cache and limiter, and with
// Upstash through the local REST bridge over a real Redis: on one isolate and
// as `npm start` runs it with Redis installed (one isolate per core,
// BENCH_WORKERS); the list's page on bare Deno.serve (bare-list-server.ts: its
// message on a read connection and the page joined, nothing else), so that
// what the request path costs shows apart from Deno's own; and the production
// shape: Postgres and the Upstash endpoint each behind a delay proxy (1 ms
// each way), one request at a time, with the round trips each request costs
// and the bare round trip through each proxy, so that what the stack adds
// shows. Below the list's p99, its tail against the floor's (p99 over mean
// latency: at 16 connections the mean is 16 / throughput, so the p99 follows
// from both). With each figure, its CPU per request: the stack's process (all
// its threads) and, for the list, Postgres's; and the machine's task switches
// per request and idle share meanwhile.
//
// (The floor's pgbench script has no variables: the `:` of the columns' date
// formats would be read as pgbench variables.)
//
// Needs wrk (`apt-get install wrk`), ideally pgbench (`postgresql-client`) and
// redis-server. BENCH_DURATION_S (default 5, per measurement), BENCH_ROUNDS (3), BENCH_CONNECTIONS (16),
// BENCH_EXPENSES (100000 for the caller), BENCH_OTHER_USERS (10, as many each),
// BENCH_LOG_LEVEL (info, as deployed), BENCH_WORKERS (isolates of the Upstash stack; one per
// core, at most 4), BENCH_DATABASE_URL (a server to use
// instead of an embedded Postgres).
import postgres from 'postgres'
import { dropDatabase, ensureDatabase, prepareDatabase } from '../local/database.ts'
import { startEmbeddedPostgres, withDatabase } from '../local/postgres.ts'
import { EXPENSE_COLUMNS } from '../../supabase/functions/wins/expense-model.ts'
import { literal, literalOf } from '../../supabase/functions/_shared/sql-literal.ts'
import { preparedRead } from '../../supabase/functions/_shared/db.ts'
import { closeKeepAliveConnections, keepAliveClient } from '../../supabase/functions/_shared/keepalive-http.ts'
import { localPoolSize } from '../local/stack.ts'
import { printTable } from './_stack.ts'

const env = (name: string, fallback: string) => Deno.env.get(name) || fallback
const DURATION = Number(env('BENCH_DURATION_S', '5'))
const ROUNDS = Math.max(1, Number(env('BENCH_ROUNDS', '3')))
const CONNECTIONS = Number(env('BENCH_CONNECTIONS', '16'))
const EXPENSES = Number(env('BENCH_EXPENSES', '100000'))
const OTHER_USERS = Number(env('BENCH_OTHER_USERS', '10'))
const LOG_LEVEL = env('BENCH_LOG_LEVEL', 'info')
const DELAY_MS = 1
const WORKERS = Number(env('BENCH_WORKERS', String(Math.min(4, navigator.hardwareConcurrency || 1))))
const SEQUENTIAL = 300
/** The list's p99 target at CONNECTIONS connections (ms). */
const P99_MAX_MS = 15

const has = async (cmd: string) =>
  await new Deno.Command('sh', { args: ['-c', `command -v ${cmd}`], stdout: 'null', stderr: 'null' }).output()
    .then((o) => o.success)
if (!(await has('wrk'))) {
  console.error('bench:http needs wrk (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)')
  Deno.exit(2)
}
const pgbench = await has('pgbench')

const here = (file: string) => new URL(file, import.meta.url).pathname
const tmp = await Deno.makeTempDir({ prefix: 'pam-bench-http-' })
await Deno.chmod(tmp, 0o755) // embedded Postgres runs as `postgres` when we are root
const children: Deno.ChildProcess[] = []

// ---- processes -------------------------------------------------------------

/** Spawns a Deno script; resolves once it has written its readiness (one JSON line) to the
 * file it is given, with that line parsed. Its output goes nowhere: as deployed, logs leave
 * the process, and nothing here should pay for reading them. */
async function spawn(script: string, args: string[], extraEnv: Record<string, string> = {}) {
  const readyFile = `${tmp}/ready-${crypto.randomUUID()}.json`
  const child = new Deno.Command(Deno.execPath(), {
    args: ['run', '-A', '--unstable-no-legacy-abort', here(script), ...args],
    env: { ...extraEnv, BENCH_READY_FILE: readyFile },
    stdout: 'null',
    stderr: 'inherit',
  }).spawn()
  children.push(child)
  let exited = false
  child.status.then(() => (exited = true))
  for (;;) {
    const text = await Deno.readTextFile(readyFile).catch(() => '')
    if (text.endsWith('\n')) return { child, ready: JSON.parse(text) }
    if (exited) throw new Error(`${script} exited before it was ready`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: 'piped', stderr: 'piped' }).output()
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)
  if (!out.success) throw new Error(`${cmd} failed:\n${text}`)
  return text
}

// ---- CPU -------------------------------------------------------------------
// What a figure costs in CPU per request, from /proc (Linux; elsewhere the columns stay
// empty): the stack's process, every thread of it (the functions, the local Upstash bridge,
// the garbage collector's helpers), and Postgres (the postmaster, its backends, and those
// that ended meanwhile, as pgbench's do).

const CLOCK_TICKS = Number((await run('getconf', ['CLK_TCK']).catch(() => '')).trim()) || 100
let postmaster: number | undefined

/** A process's CPU clock ticks from /proc: its own (utime, stime) and, with `reaped`, those of
 * the children it has waited for (cutime, cstime). NaN once it is gone. */
async function ticksOf(pid: number | string, reaped = false): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => '')
  if (!stat) return NaN
  // Fields after the command's closing parenthesis, from the third (state): utime is the 14th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return f[11] + f[12] + (reaped ? f[13] + f[14] : 0)
}

/** CPU seconds of a process; with `children`, also of its live children and those it reaped. */
async function cpuSeconds(pid: number, children = false): Promise<number> {
  let ticks = await ticksOf(pid, children)
  if (children) {
    const kids = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => '')
    for (const kid of kids.split(' ').filter(Boolean)) ticks += (await ticksOf(kid)) || 0 // one that just ended: 0
  }
  return ticks / CLOCK_TICKS
}

const postgresCpu = () => (postmaster ? cpuSeconds(postmaster, true) : Promise.resolve(NaN))

/** The whole machine's task switches so far and its CPU ticks, idle and in all (/proc/stat; NaN
 * elsewhere): how often a figure's processes sleep and wake each other, and the cores it leaves unused. */
async function machineCounters(): Promise<{ switches: number; idle: number; total: number }> {
  const stat = await Deno.readTextFile('/proc/stat').catch(() => '')
  const cpu = /^cpu\s+(.*)$/m.exec(stat)?.[1].trim().split(/\s+/).map(Number) ?? []
  return {
    switches: Number(/^ctxt (\d+)$/m.exec(stat)?.[1] ?? NaN),
    idle: cpu.length ? cpu[3] + cpu[4] : NaN, // idle and iowait
    total: cpu.length ? cpu.slice(0, 8).reduce((a, b) => a + b, 0) : NaN,
  }
}
const machineDelta = (a: Awaited<ReturnType<typeof machineCounters>>, b: typeof a, count: number) => ({
  switches: (b.switches - a.switches) / count,
  idle: (100 * (b.idle - a.idle)) / (b.total - a.total),
})

// ---- wrk -------------------------------------------------------------------

interface Load {
  rps: number
  p50: number
  p99: number
  /** Mean latency (ms): in a closed loop of CONNECTIONS, CONNECTIONS / rps. */
  mean: number
  errors: number
  /** CPU µs per request: the stack's process, and Postgres (NaN when unknown). */
  stackUs: number
  postgresUs: number
  /** The machine's task switches per request, and its idle share (%) meanwhile. */
  switches: number
  idle: number
}

/** A figure: ROUNDS of itself, each between two measurements of its floor, back to back; a
 * round's ratio is to the mean of the two, so that the machine speeding up or slowing down
 * during a round moves both sides alike. The median round by ratio gives req/s and p50; p99,
 * the CPU and task switches per request and the idle share are the medians of the rounds';
 * errors add up. */
interface Figure extends Load {
  ratio: number
  ratios: number[]
  /** p99 over mean latency, the median of the rounds'. */
  tail: number
}
/** The middle value (the upper of the two middle ones for an even count). */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const floorsSeen = {
  postgres: [] as number[],
  postgresP99: [] as number[],
  /** Each floor run's p99 over its mean latency: the machine's own tail at this concurrency. */
  postgresTail: [] as number[],
  postgresUs: [] as number[],
  postgresSwitches: [] as number[],
  postgresIdle: [] as number[],
  bare: [] as number[],
}
async function paired(load: () => Promise<Load>, floor: () => Promise<number>): Promise<Figure> {
  const rounds: { load: Load; ratio: number }[] = []
  let before = await floor()
  for (let i = 0; i < ROUNDS; i++) {
    const l = await load()
    const after = await floor()
    rounds.push({ load: l, ratio: l.rps / ((before + after) / 2) })
    before = after
  }
  const middle = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]
  const of = (value: (l: Load) => number) => median(rounds.map((r) => value(r.load)))
  return {
    ...middle.load,
    p99: of((l) => l.p99),
    tail: of((l) => l.p99 / l.mean),
    stackUs: of((l) => l.stackUs),
    postgresUs: of((l) => l.postgresUs),
    switches: of((l) => l.switches),
    idle: of((l) => l.idle),
    errors: rounds.reduce((n, r) => n + r.load.errors, 0),
    ratio: middle.ratio,
    ratios: rounds.map((r) => r.ratio).sort((a, b) => a - b),
  }
}

const toMs = (v: string) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim())!
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1)
}

const warmed = new Set<string>()
/** wrk at `url`; `stack`: the pid of the process serving it, for its CPU per request. */
async function wrk(url: string, headers: Record<string, string> = {}, stack?: number): Promise<Load> {
  const lua = `${tmp}/wrk-${crypto.randomUUID()}.lua`
  await Deno.writeTextFile(lua, Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n') + '\n')
  if (!warmed.has(url)) await run('wrk', ['-t2', `-c${CONNECTIONS}`, '-d2s', '-s', lua, url]) // warm-up: JIT, pools, caches
  warmed.add(url)
  const before = await Promise.all([stack ? cpuSeconds(stack) : NaN, postgresCpu()])
  const machineBefore = await machineCounters()
  const out = await run('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', '-s', lua, url])
  const machineAfter = await machineCounters()
  const after = await Promise.all([stack ? cpuSeconds(stack) : NaN, postgresCpu()])
  const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)![1])
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1]
  const errors = non2xx + (socketErrors ? socketErrors.match(/\d+/g)!.map(Number).reduce((a, b) => a + b, 0) : 0)
  const requests = Number(/(\d+) requests in/.exec(out)![1])
  const us = (i: number) => ((after[i] - before[i]) * 1e6) / requests
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]),
    p50: pct('50'),
    p99: pct('99'),
    mean: toMs(/^\s+Latency\s+(\S+)/m.exec(out)![1]),
    errors,
    stackUs: us(0),
    postgresUs: us(1),
    ...machineDelta(machineBefore, machineAfter, requests),
  }
}

// ---- the run ---------------------------------------------------------------

const given = Deno.env.get('BENCH_DATABASE_URL')
console.log(given ? 'Postgres: BENCH_DATABASE_URL' : 'Starting embedded Postgres…')
const pg = given ? undefined : await startEmbeddedPostgres(`${tmp}/postgres`)
if (pg) postmaster = Number((await Deno.readTextFile(`${tmp}/postgres/postmaster.pid`)).split('\n')[0])
const serverUrl = given ? withDatabase(given, 'postgres') : pg!.serverUrl
const dbName = `pam_bench_http_${crypto.randomUUID().slice(0, 8)}`
const databaseUrl = await ensureDatabase(serverUrl, dbName)
const admin = postgres(databaseUrl, { max: 2, onnotice: () => {} })

try {
  await prepareDatabase(databaseUrl, { seed: false })
  const stackEnv = (extra: Record<string, string>) => ({
    BENCH_DATABASE_URL: databaseUrl,
    BENCH_DATA_DIR: `${tmp}/keys`,
    PAM_LOG_LEVEL: LOG_LEVEL,
    // Counted on every request, never reached.
    PAM_RATE_LIMIT_STANDARD: '1000000000',
    ...extra,
  })
  console.log('Starting the stacks (in-process cache; Upstash over Redis; the production shape)…')
  const memory = await spawn('serve-stack.ts', [], stackEnv({ BENCH_CACHE: 'memory' }))
  const withRedis = await has('redis-server')
  // Upstash through the local bridge: one isolate, and one per core (as `npm start` runs).
  const isolateCounts = [...new Set([1, WORKERS])]
  const upstashStacks = withRedis
    ? await Promise.all(isolateCounts.map(async (n) => ({
      isolates: n,
      stack: await spawn('serve-stack.ts', [], stackEnv({ BENCH_CACHE: 'upstash', BENCH_WORKERS: String(n) })),
    })))
    : []
  const remote = await spawn('serve-stack.ts', [], stackEnv({
    BENCH_CACHE: withRedis ? 'upstash' : 'memory',
    BENCH_DELAY_MS: String(DELAY_MS),
  }))

  // The caller and the other users, signed up through the auth service.
  const password = 'bench-password-1'
  const signUp = async (email: string) => {
    const res = await fetch(`${memory.ready.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { apikey: memory.ready.publishableKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, data: { full_name: email } }),
    })
    if (!res.ok) throw new Error(`sign-up: ${res.status} ${await res.text()}`)
    return (await res.json()).user.id as string
  }
  const callerEmail = `caller-${crypto.randomUUID().slice(0, 6)}@bench.local`
  const users = [await signUp(callerEmail)]
  for (let i = 0; i < OTHER_USERS; i++) users.push(await signUp(`other-${i}-${crypto.randomUUID().slice(0, 6)}@bench.local`))
  await admin`update pam.profiles set preferences = '{"currency":"AUD","timezone":"Australia/Brisbane"}'`

  console.log(`Seeding ${(EXPENSES * users.length).toLocaleString('en')} expenses (${EXPENSES.toLocaleString('en')} each for ${users.length} users)…`)
  await admin.begin(async (tx) => {
    // Straight into the table: the rows are valid by construction.
    await tx`set local session_replication_role = replica`
    await tx`
      insert into pam.expenses (user_id, amount, currency, category, category_source, description, merchant, date, created_at)
      select u.id, ((g % 9000) + 100)::numeric / 100, 'AUD',
             (array['fuel','camping','food','dining','maintenance'])[1 + g % 5], 'user', 'Expense ' || g,
             (array['Shell Roma','BP Longreach','Woolworths','Coles','Big4 Cairns'])[1 + g % 5],
             current_date - (g % 730), now() - make_interval(secs => g)
      from unnest(${users}::uuid[]) as u(id), generate_series(1, ${EXPENSES}) as g`
    await tx`
      insert into pam.income (user_id, amount, currency, source, date)
      select u.id, 250, 'AUD', 'Work', current_date - (g % 730)
      from unnest(${users}::uuid[]) as u(id), generate_series(1, 1000) as g`
  })
  await admin`vacuum analyze pam.expenses`
  await admin`vacuum analyze pam.income`
  // The seeding's pages written out now: otherwise the next timed checkpoint writes them (spread
  // over minutes) while the figures are measured, and makes Postgres slower for some of them.
  await admin`checkpoint`

  /** A user access token from the given stack's auth service (each stack has its own issuer URL). */
  const tokenFrom = async (stack: { url: string; publishableKey: string }) => {
    const res = await fetch(`${stack.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: stack.publishableKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email: callerEmail, password }),
    })
    if (!res.ok) throw new Error(`sign-in: ${res.status} ${await res.text()}`)
    return (await res.json()).access_token as string
  }
  const headersFor = async (stack: { url: string; publishableKey: string }) => ({
    authorization: `Bearer ${await tokenFrom(stack)}`,
    apikey: stack.publishableKey,
  })
  const memoryHeaders = await headersFor(memory.ready)
  const fn = (stack: { url: string }, path: string) => `${stack.url}/functions/v1/${path}`
  /** One call, checked: the figure is only worth something if the answer is right. */
  const expect = async (url: string, headers: Record<string, string>, cache?: string) => {
    const res = await fetch(url, { headers })
    const body = await res.text()
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`)
    if (cache && res.headers.get('x-cache') !== cache) throw new Error(`${url}: x-cache ${res.headers.get('x-cache')}`)
    return body
  }
  const LIST = 'wins/expenses?limit=20'
  const listed = JSON.parse(await expect(fn(memory.ready, LIST), memoryHeaders))
  if (listed.expenses.length !== 20) throw new Error('the list did not return 20 rows')

  // ---- floors --------------------------------------------------------------
  const bare = await spawn('bare-server.ts', [])
  const bareFloor = async () => {
    const { rps } = await wrk(`http://127.0.0.1:${bare.ready.port}/`)
    floorsSeen.bare.push(rps)
    return rps
  }

  // The floor's transaction is the list's own message (the endpoint sends it in one piece):
  // begin read only; claims, the keyset query prepared unless it is already (pam.prepare_read,
  // called only while the connection has no mark for it),
  // role, statement timeout and session check; the query executed, each row as its JSON text;
  // commit. Checked against what the endpoint last sent (its
  // connection's last statement: Postgres keeps its first kB, the preamble and the query's start).
  // The claims are the caller's access token's, as the function writes them.
  const b64 = memoryHeaders.authorization.slice('Bearer '.length).split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  const claimsOf = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))))
  const sessionId = claimsOf.session_id as string
  const listQuery = `select row_to_json(r)::text as row from (select ${EXPENSE_COLUMNS} from pam.expenses e` +
    ` where e.user_id = (select auth.uid()) order by e.date desc, e.created_at desc, e.id desc limit $1) r`
  const prepared = preparedRead(listQuery)
  const transaction = [
    'begin read only',
    `select set_config('request.jwt.claims', ${literal(JSON.stringify(claimsOf))}, true),` +
    ` ${prepared.prepare}, set_config('role', 'authenticated', true),` +
    ` set_config('statement_timeout', '5000', true), pam.require_session('${sessionId}', '${users[0]}'),` +
    ` set_config('plan_cache_mode', 'force_generic_plan', true)`,
    `execute ${prepared.name}(${literalOf(21)})`,
    'commit',
  ]
  const [sent] = await admin`
    select query from pg_stat_activity
    where datname = current_database() and application_name = 'pam' and query like 'begin read only;%'
    limit 1`
  // The same message but for the statement's name, a hash of its text: the endpoint's text
  // has its own line breaks and indents.
  const normal = (q: string) => q.replace(/\s+/g, ' ').replace(/pam_r_[0-9a-f]{32}/g, 'pam_r_…').trim()
  const given = normal(sent?.query ?? '').slice(0, 900)
  if (!given || !normal(transaction.join(';\n')).startsWith(given)) {
    throw new Error(`the floor's transaction is not the list's: the endpoint sent\n${sent?.query}`)
  }
  const script = `${tmp}/list.sql`
  await Deno.writeTextFile(script, `${transaction.join(' \\;\n')}\n`) // pgbench sends statements joined by a backslash-semicolon as one message
  const pgbenchArgs = (seconds: number) =>
    ['-n', '-M', 'simple', '-c', String(CONNECTIONS), '-j', '2', '-f', script, '-T', String(seconds), databaseUrl]
  if (pgbench) await run('pgbench', pgbenchArgs(2)) // warm-up
  const floorTool = pgbench ? 'pgbench' : 'postgres.js driver'
  // The same page on bare Deno.serve (bare-list-server.ts): the list's message on a read
  // connection, the page joined as the endpoint joins it, and nothing else. Its body must be the
  // endpoint's.
  const messageFile = `${tmp}/list-message.sql`
  await Deno.writeTextFile(messageFile, transaction.join(';\n'))
  const bareList = await spawn('bare-list-server.ts', [
    databaseUrl,
    messageFile,
    String(localPoolSize(navigator.hardwareConcurrency || 1, 1)),
    '20',
  ])
  const bareListUrl = `http://127.0.0.1:${bareList.ready.port}/`
  if (await expect(bareListUrl, {}) !== await expect(fn(memory.ready, LIST), memoryHeaders)) {
    throw new Error("the bare list's page is not the endpoint's")
  }
  const postgresFloor = async () => {
    let tps: number
    if (pgbench) {
      // With each transaction's latency logged, for the floor's own p99.
      const prefix = `${tmp}/pgbench-${crypto.randomUUID().slice(0, 8)}`
      const args = pgbenchArgs(DURATION)
      const before = await postgresCpu()
      const machineBefore = await machineCounters()
      const out = await run('pgbench', ['-l', `--log-prefix=${prefix}`, ...args])
      const machineAfter = await machineCounters()
      // pgbench's backends end as it does: counted once the postmaster has reaped them.
      await new Promise((r) => setTimeout(r, 300))
      const after = await postgresCpu()
      tps = Number(/tps = ([\d.]+)/.exec(out)![1])
      const done = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1])
      floorsSeen.postgresUs.push(((after - before) * 1e6) / done)
      const machine = machineDelta(machineBefore, machineAfter, done)
      floorsSeen.postgresSwitches.push(machine.switches)
      floorsSeen.postgresIdle.push(machine.idle)
      const latencies: number[] = []
      for await (const f of Deno.readDir(tmp)) {
        if (!`${tmp}/${f.name}`.startsWith(prefix)) continue
        for (const line of (await Deno.readTextFile(`${tmp}/${f.name}`)).split('\n')) {
          const us = Number(line.split(' ')[2])
          if (line && Number.isFinite(us)) latencies.push(us / 1000)
        }
        await Deno.remove(`${tmp}/${f.name}`)
      }
      latencies.sort((a, b) => a - b)
      floorsSeen.postgresP99.push(latencies[Math.floor(latencies.length * 0.99)])
      floorsSeen.postgresTail.push(latencies[Math.floor(latencies.length * 0.99)] / (latencies.reduce((a, b) => a + b, 0) / latencies.length))
    } else {
      tps = (await spawn('pg-floor.ts', [databaseUrl, String(CONNECTIONS), String(DURATION), JSON.stringify(transaction)])).ready.tps
    }
    floorsSeen.postgres.push(tps)
    return tps
  }

  // ---- through the gateway -------------------------------------------------
  console.log(`Measuring the request path (${ROUNDS} rounds per figure, each between two of its floor, ${DURATION} s each)…`)
  const list = await paired(() => wrk(fn(memory.ready, LIST), memoryHeaders, memory.child.pid), postgresFloor)
  const listBare = await paired(() => wrk(bareListUrl, {}, bareList.child.pid), postgresFloor)
  bareList.child.kill()
  await expect(fn(memory.ready, 'wins/summary'), memoryHeaders)
  await expect(fn(memory.ready, 'wins/summary'), memoryHeaders, 'hit')
  const summaryMemory = await paired(() => wrk(fn(memory.ready, 'wins/summary'), memoryHeaders, memory.child.pid), bareFloor)
  await expect(fn(memory.ready, 'auth/me'), memoryHeaders)
  await expect(fn(memory.ready, 'auth/me'), memoryHeaders, 'hit')
  const meMemory = await paired(() => wrk(fn(memory.ready, 'auth/me'), memoryHeaders, memory.child.pid), bareFloor)
  const health = await paired(() => wrk(fn(memory.ready, 'health'), {}, memory.child.pid), bareFloor)
  const upstash: { isolates: number; list: Figure; summary: Figure; me: Figure; health: Figure }[] = []
  for (const { isolates, stack } of upstashStacks) {
    const h = await headersFor(stack.ready)
    const listLoad = await paired(() => wrk(fn(stack.ready, LIST), h, stack.child.pid), postgresFloor)
    const healthLoad = await paired(() => wrk(fn(stack.ready, 'health'), {}, stack.child.pid), bareFloor)
    await expect(fn(stack.ready, 'wins/summary'), h)
    await expect(fn(stack.ready, 'wins/summary'), h, 'hit')
    const summaryLoad = await paired(() => wrk(fn(stack.ready, 'wins/summary'), h, stack.child.pid), bareFloor)
    await expect(fn(stack.ready, 'auth/me'), h)
    await expect(fn(stack.ready, 'auth/me'), h, 'hit')
    const meLoad = await paired(() => wrk(fn(stack.ready, 'auth/me'), h, stack.child.pid), bareFloor)
    upstash.push({ isolates, list: listLoad, summary: summaryLoad, me: meLoad, health: healthLoad })
  }
  bare.child.kill()

  // ---- the production shape ------------------------------------------------
  console.log(`Measuring the production shape (Postgres and Upstash ${2 * DELAY_MS} ms round trip away)…`)
  const remoteHeaders = await headersFor(remote.ready)
  const proxies = remote.ready.proxies as Record<string, { stats: number }>
  const statsOf = async (name: string, reset = false) =>
    proxies[name]
      ? (await (await fetch(`http://127.0.0.1:${proxies[name].stats}/`, { method: reset ? 'POST' : 'GET' })).json())
        .round_trips as number
      : NaN
  /** `once` one call at a time: 20 to warm up (pools, caches), then `beforeTimed`, then SEQUENTIAL
   * timed; their p50 (ms). */
  const p50Of = async (once: () => Promise<unknown>, beforeTimed?: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await once()
    await beforeTimed?.()
    const times: number[] = []
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t0 = performance.now()
      await once()
      times.push(performance.now() - t0)
    }
    return median(times)
  }
  const sequential = async (path: string, cache?: string) => {
    const url = fn(remote.ready, path)
    await expect(url, remoteHeaders) // the first may fill the cache
    const p50 = await p50Of(() => expect(url, remoteHeaders, cache), () => Promise.all([statsOf('db', true), statsOf('upstash', true)]))
    return { p50, db: (await statsOf('db')) / SEQUENTIAL, upstash: (await statsOf('upstash')) / SEQUENTIAL }
  }
  // The bare round trip through each proxy, one at a time, from this process (p50Of): what a p50
  // above owes to the distance and the service itself, whatever the stack does.
  const ports = remote.ready.proxies as Record<string, { port: number }>
  const viaProxy = new URL(databaseUrl)
  viaProxy.port = String(ports.db.port)
  const pgViaProxy = postgres(viaProxy.toString(), { max: 1, onnotice: () => {} })
  const upstashViaProxy = ports.upstash && keepAliveClient(`http://127.0.0.1:${ports.upstash.port}`)
  const upstashPing = async () => {
    const res = await upstashViaProxy.post('/pipeline', { authorization: `Bearer ${remote.ready.upstashToken}` }, '[["PING"]]', 5000)
    if (res.status !== 200) throw new Error(`PING through the Upstash proxy: ${res.status} ${res.body}`)
  }
  // ROUNDS rounds, each of every measurement in turn, and the median round's: one request at a
  // time is at the mercy of the machine's minute as much as the loads above are.
  type Sequential = Awaited<ReturnType<typeof sequential>>
  const sequentialRounds: { list: Sequential; summary: Sequential; me: Sequential; db: number; upstash: number }[] = []
  for (let r = 0; r < ROUNDS; r++) {
    sequentialRounds.push({
      list: await sequential(LIST),
      summary: await sequential('wins/summary', 'hit'),
      me: await sequential('auth/me', 'hit'),
      db: await p50Of(() => pgViaProxy`select 1`),
      upstash: upstashViaProxy ? await p50Of(upstashPing) : NaN,
    })
  }
  await pgViaProxy.end()
  closeKeepAliveConnections()
  const sequentialOf = (name: 'list' | 'summary' | 'me') => ({
    p50: median(sequentialRounds.map((r) => r[name].p50)),
    db: median(sequentialRounds.map((r) => r[name].db)),
    upstash: median(sequentialRounds.map((r) => r[name].upstash)),
  })
  const remoteList = sequentialOf('list')
  const remoteSummary = sequentialOf('summary')
  const remoteMe = sequentialOf('me')
  const dbRoundTrip = median(sequentialRounds.map((r) => r.db))
  const upstashRoundTrip = median(sequentialRounds.map((r) => r.upstash))

  // ---- report --------------------------------------------------------------
  const verdict = (ok: boolean) => (ok ? 'yes' : 'NO')
  const span = (xs: number[]) => {
    const r = (n: number) => Math.round(n).toLocaleString('en')
    return `${r(median(xs))} (${r(Math.min(...xs))}–${r(Math.max(...xs))})`
  }
  console.log(
    `\nFloors, median (range) of every measurement: Postgres ${span(floorsSeen.postgres)} tx/s (${floorTool}, ${CONNECTIONS} clients, ` +
      `the list's transaction${
        floorsSeen.postgresUs.some(Number.isFinite) ? `, ${span(floorsSeen.postgresUs)} µs of Postgres's CPU each` : ''
      }${
        floorsSeen.postgresSwitches.some(Number.isFinite)
          ? `, ${median(floorsSeen.postgresSwitches).toFixed(1)} task switches each, the machine ${Math.round(median(floorsSeen.postgresIdle))}% idle`
          : ''
      }); bare Deno.serve ${span(floorsSeen.bare)} req/s (wrk, ${CONNECTIONS} connections).`,
  )
  console.log(
    `${(EXPENSES * users.length).toLocaleString('en')} expenses; the caller has ${EXPENSES.toLocaleString('en')}. Log level ${LOG_LEVEL}. ` +
      `${ROUNDS} rounds of ${DURATION} s per figure, each to the mean of its floor just before and just after; the median round, with the rounds' range of ratios.\n`,
  )
  const cpu = (us: number) => (Number.isFinite(us) ? Math.round(us).toLocaleString('en') : '-')
  /** Two decimals, rounded down: a ratio just short of its target does not print as the target. */
  const down = (r: number) => (Math.floor(r * 100) / 100).toFixed(2)
  /** A row of the table; `p99Max` (ms): the figure also needs its p99 within it to be met. */
  const row = (name: string, l: Figure | undefined, target: number | undefined, floorName: string, p99Max?: number) => {
    const wanted = `>= ${target}${p99Max === undefined ? '' : `, p99 <= ${p99Max}`}`
    return l
      ? {
        request: name,
        'req/s': Math.round(l.rps),
        'p50 ms': l.p50.toFixed(2),
        'p99 ms': l.p99.toFixed(2),
        errors: l.errors,
        'stack µs/req': cpu(l.stackUs),
        'Postgres µs/req': floorName === 'Postgres' ? cpu(l.postgresUs) : '-',
        'switches/req': Number.isFinite(l.switches) ? l.switches.toFixed(1) : '-',
        'idle %': Number.isFinite(l.idle) ? Math.round(l.idle) : '-',
        ratio: `${down(l.ratio)} of ${floorName} (${down(l.ratios[0])}–${down(l.ratios[l.ratios.length - 1])})`,
        target: target === undefined ? '-' : wanted,
        met: target === undefined ? '-' : verdict(l.ratio >= target && l.errors === 0 && (p99Max === undefined || l.p99 <= p99Max)),
      }
      : {
        request: name,
        'req/s': '-',
        'p50 ms': '-',
        'p99 ms': '-',
        errors: '-',
        'stack µs/req': '-',
        'Postgres µs/req': '-',
        'switches/req': '-',
        'idle %': '-',
        ratio: 'no redis-server',
        target: wanted,
        met: '-',
      }
  }
  const isolates = (n: number) => `${n} isolate${n > 1 ? 's' : ''}, Upstash`
  const none = withRedis ? [] : [undefined]
  const each = <T>(f: (u: typeof upstash[number] | undefined) => T) => [...upstash, ...none].map(f)
  printTable([
    row('GET /wins/expenses?limit=20 (1 isolate, in-process)', list, 0.6, 'Postgres', P99_MAX_MS),
    row("the list's page on bare Deno.serve (no request path)", listBare, undefined, 'Postgres'),
    ...each((u) => row(`GET /wins/expenses?limit=20 (${u ? isolates(u.isolates) : 'Upstash'})`, u?.list, 0.6, 'Postgres', P99_MAX_MS)),
    row('GET /wins/summary (cached, 1 isolate, in-process)', summaryMemory, 0.2, 'bare'),
    row('GET /auth/me (cached, 1 isolate, in-process)', meMemory, 0.2, 'bare'),
    ...each((u) => row(`GET /wins/summary (cached, ${u ? isolates(u.isolates) : 'Upstash'})`, u?.summary, 0.1, 'bare')),
    ...each((u) => row(`GET /auth/me (cached, ${u ? isolates(u.isolates) : 'Upstash'})`, u?.me, 0.1, 'bare')),
    row('GET /health (1 isolate, in-process)', health, 0.5, 'bare'),
    ...upstash.map((u) => row(`GET /health (${isolates(u.isolates)})`, u.health, 0.5, 'bare')),
  ])
  console.log(
    `\nThe request path's share of the list (1 isolate, in-process, against the same page on bare Deno.serve: the ` +
      `message on a read connection and the page joined, with no gateway, Hono, token, limit, validation or log line): ` +
      `${(list.ratio / listBare.ratio).toFixed(2)} of its throughput (ratio to ratio), ${cpu(list.stackUs)} against ` +
      `${cpu(listBare.stackUs)} µs of CPU per request (${cpu(list.stackUs - listBare.stackUs)} µs the request path's). The bare ` +
      `page reaches ${down(listBare.ratio)} of the Postgres floor: the rest is Deno's HTTP server and sockets, and wrk, on the same cores.`,
  )
  // Each stack's list is judged on its own p99 (in the table's `met`): the best of them would
  // say nothing about the others.
  const p99Of = (p99: number, stack: string) => `${p99.toFixed(2)} ms with ${stack} (${verdict(p99 <= P99_MAX_MS)})`
  console.log(`\np99 of the list at ${CONNECTIONS} connections (median of the rounds; target <= ${P99_MAX_MS} ms): ` +
    [p99Of(list.p99, '1 isolate, in-process'), ...upstash.map((u) => p99Of(u.list.p99, isolates(u.isolates)))].join('; ') +
    (floorsSeen.postgresP99.length
      ? `. The floor's own p99 (pgbench's ${CONNECTIONS} clients, median of its runs): ${
        median(floorsSeen.postgresP99).toFixed(2)
      } ms`
      : ''))
  if (floorsSeen.postgresTail.length) {
    // Little's law: with CONNECTIONS requests always in flight, the mean latency is CONNECTIONS /
    // throughput, so a p99 follows from the throughput and the shape of the tail.
    const floorTail = median(floorsSeen.postgresTail)
    const needed = (CONNECTIONS * floorTail * 1000) / P99_MAX_MS
    console.log(
      `At ${CONNECTIONS} connections a closed loop's mean latency is ${CONNECTIONS} / throughput (the list's, 1 isolate in-process: ` +
        `${list.mean.toFixed(2)} ms), and its p99 a multiple of that: the list's ${list.tail.toFixed(2)}×, the floor's own ` +
        `${floorTail.toFixed(2)}×. With the floor's tail, a p99 of ${P99_MAX_MS} ms takes ${Math.round(needed).toLocaleString('en')} req/s, ` +
        `${(needed / median(floorsSeen.postgres)).toFixed(2)} of the floor's median.`,
    )
  }
  console.log(`\nProduction shape: Postgres and Upstash each ${2 * DELAY_MS} ms round trip away, one request at a time (${SEQUENTIAL} each, the median of ${ROUNDS} rounds):`)
  const rt = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(2))
  /** p50 less the longest bare round trip of the services it waited on (the list's two overlap). */
  const beyond = (p50: number, waits: number[]) => (p50 - Math.max(0, ...waits)).toFixed(2)
  console.log(
    `Bare round trips through the same proxies, one at a time (p50): Postgres ${rt(dbRoundTrip)} ms (select 1), ` +
      `Upstash ${rt(upstashRoundTrip)} ms (a PING through the local REST bridge). "Beyond" is a p50 less the ` +
      `longest of those its request waited on: the stack's own time, and for the list the query's in Postgres.`,
  )
  printTable([
    { request: 'GET /wins/expenses?limit=20', 'p50 ms': remoteList.p50.toFixed(2), 'db round trips': rt(remoteList.db), 'upstash round trips': rt(remoteList.upstash), 'beyond the round trips ms': beyond(remoteList.p50, [dbRoundTrip, upstashRoundTrip].filter(Number.isFinite)), target: 'p50 <= 10', met: verdict(remoteList.p50 <= 10) },
    { request: 'GET /wins/summary (cached)', 'p50 ms': remoteSummary.p50.toFixed(2), 'db round trips': rt(remoteSummary.db), 'upstash round trips': rt(remoteSummary.upstash), 'beyond the round trips ms': beyond(remoteSummary.p50, [upstashRoundTrip].filter(Number.isFinite)), target: 'p50 <= 5', met: verdict(remoteSummary.p50 <= 5) },
    { request: 'GET /auth/me (cached)', 'p50 ms': remoteMe.p50.toFixed(2), 'db round trips': rt(remoteMe.db), 'upstash round trips': rt(remoteMe.upstash), 'beyond the round trips ms': beyond(remoteMe.p50, [upstashRoundTrip].filter(Number.isFinite)), target: 'p50 <= 5', met: verdict(remoteMe.p50 <= 5) },
  ])
} finally {
  for (const c of children) {
    try {
      c.kill('SIGTERM')
    } catch { /* gone */ }
  }
  await Promise.all(children.map((c) => c.status.catch(() => {})))
  await admin.end({ timeout: 1 })
  await dropDatabase(serverUrl, dbName).catch(() => {})
  await pg?.stop()
  await Deno.remove(tmp, { recursive: true }).catch(() => {})
}
