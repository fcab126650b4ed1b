// `npm start`: the whole local stack on embedded defaults. No Docker, no accounts.
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { assertPortFree, PortInUseError } from './local/postgres.ts'
import { type Stack, startStack } from './local/stack.ts'
import { batchLogLines, flushLog } from './local/log-writer.ts'
import { ensureViewer, viewerInstalled } from './local/viewer.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const env = (name: string) => Deno.env.get(name) || undefined

function fail(message: string, code: number): never {
  console.error(message)
  Deno.exit(code)
}

function portFrom(name: string, fallback: number, min: number): number {
  const port = Number(env(name) ?? fallback)
  if (!Number.isInteger(port) || port < min || port > 65535) {
    fail(`${name} must be a port number (${min}–65535), got "${env(name)}"`, 2)
  }
  return port
}

/** Ports the Supabase CLI keeps for its own (Docker) local stack: its 54320–54329 block and
 * every port set in supabase/config.toml. It takes a --db-url on its [db] port or shadow
 * port for that stack, and then looks for Docker. */
async function supabaseCliPorts(): Promise<Set<number>> {
  const ports = new Set(Array.from({ length: 10 }, (_, i) => 54320 + i))
  const config = await Deno.readTextFile(`${root}supabase/config.toml`)
  for (const [, port] of config.matchAll(/^\s*\w*port\s*=\s*(\d+)/gm)) ports.add(Number(port))
  return ports
}

const hostname = env('PAM_HOST') ?? '127.0.0.1'
const port = portFrom('PAM_PORT', 54321, 0)
const dbPort = portFrom('PAM_DB_PORT', 54332, 1)
const mailPort = portFrom('PAM_MAIL_PORT', 54325, 0)
const dataDir = resolve(root, env('PAM_DATA_DIR') ?? '.pam')
const databaseUrl = env('DATABASE_URL')
// Isolates serving the functions: one per core (at most 4) unless told otherwise.
const workers = env('PAM_LOCAL_WORKERS') === undefined
  ? Math.min(4, navigator.hardwareConcurrency || 1)
  : Number(env('PAM_LOCAL_WORKERS'))
if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
  fail(`PAM_LOCAL_WORKERS must be a whole number from 1 to 64, got "${env('PAM_LOCAL_WORKERS')}"`, 2)
}
if (!databaseUrl && (await supabaseCliPorts()).has(dbPort)) {
  fail(
    `PAM_DB_PORT=${dbPort} is kept for the Supabase CLI's own (Docker) local stack: ports ` +
      `54320–54329 and those set in supabase/config.toml. The CLI takes a database URL on its [db] ` +
      `port for that stack and then looks for Docker. Use another port (the default is 54332).`,
    2,
  )
}
if (!databaseUrl && dbPort === port) {
  fail(`PAM_DB_PORT and PAM_PORT must differ (both are ${port})`, 2)
}

/** The variable that moves each port the user chose (the private Redis takes a free one). */
function explain(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  if (!(err instanceof PortInUseError)) return message
  const variable = err.port === port
    ? 'PAM_PORT'
    : err.port === dbPort
    ? 'PAM_DB_PORT'
    : err.port === mailPort
    ? 'PAM_MAIL_PORT'
    : undefined
  return `${message}. Stop the program that uses it${
    variable ? `, or set ${variable} to another port` : ''
  }.`
}

let stack: Stack | undefined
let stopping = false
async function stop(code: number) {
  if (stopping) return
  stopping = true
  // Interrupted while starting: what is up so far stops as this process exits.
  if (!stack) fail('\nInterrupted before the local stack was up.', 130)
  flushLog()
  console.log('\nStopping…')
  await stack.stop()
  console.log('Stopped.')
  Deno.exit(code)
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  Deno.addSignalListener(signal, () => stop(0))
}

batchLogLines()
try {
  assertPortFree(port, 'the gateway', hostname)
  if (mailPort) assertPortFree(mailPort, 'the mail catcher (SMTP)', '127.0.0.1')
  console.log(
    databaseUrl ? 'Using DATABASE_URL…' : `Starting embedded Postgres (data in ${dataDir})…`,
  )
  stack = await startStack({
    dataDir,
    databaseUrl,
    port,
    postgresPort: dbPort,
    hostname,
    redisUrl: env('REDIS_URL'),
    cache: env('PAM_LOCAL_CACHE') === 'memory' ? 'memory' : 'auto',
    log: env('PAM_DEBUG') ? (line) => console.error(`[postgres] ${line}`) : undefined,
    schedules: true,
    workers,
    mailPort,
  })
} catch (err) {
  fail(`\nThe local stack did not start: ${explain(err)}`, 1)
}
// A server that cannot be kept up takes the stack down with it, rather than leaving it half-alive.
stack.lost.then((why) => {
  if (stopping) return
  console.error(`\n${why}.`)
  return stop(1)
})

/** A URL fit to print: its password masked. */
const masked = (url: string) => {
  const u = new URL(url)
  if (u.password) u.password = '****'
  return u.toString()
}
const db = masked(stack.databaseUrl)
console.log(`
PAM local stack is up.

  API gateway      ${stack.url}
  Functions        ${
  stack.functions.map((f) => `${stack!.url}/functions/v1/${f}`).join('\n                   ')
}
  Isolates         ${
  stack.workers > 1
    ? `${stack.workers} serving the functions, a thread each, on one port (PAM_LOCAL_WORKERS)`
    : 'one serving the functions' + (workers > 1 ? ' (the in-process cache cannot be shared by more)' : '')
}
  Auth             ${stack.url}/auth/v1
  Storage          ${stack.url}/storage/v1   (files in ${stack.storageDir})
  API reference    ${stack.url}/functions/v1/docs   (OpenAPI: ${stack.url}/functions/v1/openapi.json)
  Database         ${db}${stack.embeddedPostgres ? '  (embedded)' : ''}
  Cache            ${
  stack.cache.backend === 'upstash'
    ? `Redis ${masked(stack.cache.redis!)} via the Upstash REST bridge at ${stack.cache.restUrl}`
    : 'in-process (no REDIS_URL and no redis-server found; install Redis for the real thing)'
}

  Scheduler        the jobs' cron table (UTC), fired at ${stack.url}/functions/v1/jobs/…
                   through the local QStash at ${stack.qstash.url}   (npm run job <name>: one now)
  Mail             ${stack.mail.url}   every email the stack sends (SMTP catcher on 127.0.0.1:${stack.mail.catcher.port})

  Publishable key  ${stack.keys.publishableKey}
  Secret key       ${stack.keys.secretKey}   (local only; never ship it to an app)

  Demo account     demo@pam.local / pam-demo-password

  Try: curl ${stack.url}/functions/v1/health
Press Ctrl-C to stop.
`)
// The docs page's viewer is not needed to serve the API: installed once, in the background.
if (!(await viewerInstalled())) {
  console.log('Installing the API reference viewer in the background (once)…')
  ensureViewer({ quiet: true }).then(
    () => console.log(`The API reference is ready: ${stack!.url}/functions/v1/docs`),
    (err) => console.error(`The API reference viewer could not be installed (${err.message}); run \`npm run docs:install\`.`),
  )
}
