// `npm start`: the whole local stack on embedded defaults. No Docker, no accounts.
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { startStack } from './local/stack.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const env = (name: string) => Deno.env.get(name) || undefined

const port = Number(env('PAM_PORT') ?? 54321)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PAM_PORT must be a port number, got "${env('PAM_PORT')}"`)
  Deno.exit(2)
}
const dataDir = resolve(root, env('PAM_DATA_DIR') ?? '.pam')
const dbPort = Number(env('PAM_DB_PORT') ?? 54322)
const databaseUrl = env('DATABASE_URL')

console.log(databaseUrl ? 'Using DATABASE_URL…' : `Starting embedded Postgres (data in ${dataDir})…`)
let stack
try {
  stack = await startStack({
    dataDir,
    databaseUrl,
    port,
    postgresPort: dbPort,
    hostname: env('PAM_HOST') ?? '127.0.0.1',
    redisUrl: env('REDIS_URL'),
    cache: env('PAM_LOCAL_CACHE') === 'memory' ? 'memory' : 'auto',
    log: env('PAM_DEBUG') ? (line) => console.error(`[postgres] ${line}`) : undefined,
  })
} catch (err) {
  console.error(`\nThe local stack did not start: ${err instanceof Error ? err.message : err}`)
  Deno.exit(1)
}

const db = new URL(stack.databaseUrl)
db.password = db.password ? '****' : ''
console.log(`
PAM local stack is up.

  API gateway      ${stack.url}
  Functions        ${stack.functions.map((f) => `${stack.url}/functions/v1/${f}`).join('\n                   ')}
  Auth             ${stack.url}/auth/v1
  API reference    ${stack.url}/functions/v1/docs   (OpenAPI: ${stack.url}/functions/v1/openapi.json)
  Database         ${db}${stack.embeddedPostgres ? '  (embedded)' : ''}
  Cache            ${
  stack.cache.backend === 'upstash'
    ? `Redis ${stack.cache.redis} via the Upstash REST bridge at ${stack.cache.restUrl}`
    : 'in-process (no REDIS_URL and no redis-server found; install Redis for the real thing)'
}

  Publishable key  ${stack.keys.publishableKey}
  Secret key       ${stack.keys.secretKey}   (local only; never ship it to an app)

  Demo account     demo@pam.local / pam-demo-password

  Try: curl ${stack.url}/functions/v1/health
Press Ctrl-C to stop.
`)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  console.log('\nStopping…')
  await stack.stop()
  console.log('Stopped.')
  Deno.exit(0)
}
Deno.addSignalListener('SIGINT', stop)
Deno.addSignalListener('SIGTERM', stop)
