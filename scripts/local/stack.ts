// The whole local stack in one process: Postgres (embedded or given), the
// database prepared with the Supabase CLI, the auth service, and the gateway
// serving every edge function. Used by `npm start` and by the tests.
import postgres from 'postgres'
import { join } from 'node:path'
import { createAuthService } from './auth-service.ts'
import type { AuthSettingsOverrides } from './auth-settings.ts'
import { loadFunctions } from './functions.ts'
import { createGateway, internalEntrance } from './gateway.ts'
import type { WorkerStart } from './function-worker.ts'
import { type LocalKeys, loadOrCreateLocalKeys } from './keys.ts'
import { prepareDatabase } from './database.ts'
import { startPrivateRedis } from './redis.ts'
import { type RunningPostgres, startEmbeddedPostgres } from './postgres.ts'
import { closePools } from '../../supabase/functions/_shared/db.ts'
import { closeKeepAliveConnections } from '../../supabase/functions/_shared/keepalive-http.ts'
import { Client } from '@upstash/qstash'
import { createLocalQStash, type LocalQStash } from './qstash.ts'
import { loadOrCreateQStashKeys, type QStashKeys } from './qstash-keys.ts'
import { syncSchedules } from '../schedules-sync.ts'
import { createStorageService, projectFileSizeLimit } from './storage.ts'
import { log } from '../../supabase/functions/_shared/logger.ts'
import { type MailCatcher, startMailCatcher } from './mail-catcher.ts'
import { loadOrCreateEmailKeys } from './email-keys.ts'
import { mailerFor } from '../../supabase/functions/_shared/mail.ts'

export interface StackOptions {
  /** Keys and (without databaseUrl) the embedded Postgres data live here. */
  dataDir: string
  /** Use this database instead of an embedded Postgres. */
  databaseUrl?: string
  hostname?: string
  /** 0 picks a free port. */
  port?: number
  /** Port of the embedded Postgres; a free one when unset. */
  postgresPort?: number
  seed?: boolean
  /** Cache: 'auto' = Redis (REDIS_URL, else a private redis-server when one is
   * installed) behind the Upstash REST bridge, else in-process; 'memory' = in-process. */
  cache?: 'auto' | 'memory'
  redisUrl?: string
  /** On top of the [auth] settings of supabase/config.toml. */
  authSettings?: AuthSettingsOverrides
  log?: (line: string) => void
  /** Fire the jobs' schedule table on its cron (`npm start`; tests call the jobs themselves). */
  schedules?: boolean
  /** The local QStash's wait before retry n of a failed delivery. */
  qstashRetryDelayMs?: (attempt: number) => number
  /** Isolates serving the functions, each in a thread of its own on the gateway's port (as the
   * Edge Runtime runs several isolates of a function). More than one needs the shared cache:
   * with the in-process one it is one. Default 1. */
  workers?: number
  /** SMTP port of the mail catcher (default 54325, as Supabase's local Inbucket/Mailpit; 0: a free one). */
  mailPort?: number
}

export interface Stack {
  url: string
  databaseUrl: string
  keys: LocalKeys
  embeddedPostgres: boolean
  /** How the functions cache: through the Upstash REST bridge on Redis, or in-process. */
  cache: { backend: 'upstash' | 'memory'; redis?: string; restUrl?: string }
  functions: string[]
  /** The Storage stand-in's files (under /storage/v1; metadata in storage.objects). */
  storageDir: string
  /** The local QStash stand-in (under /qstash) and its keys. */
  qstash: { url: string; keys: QStashKeys; local: LocalQStash }
  /** Isolates serving the functions (the main thread's and its function workers'). */
  workers: number
  /** Requests each isolate has served so far, the main thread's first. */
  served(): Promise<number[]>
  /** The mail catcher: every email the stack sends, at `url` (and its SMTP port). */
  mail: { url: string; catcher: MailCatcher }
  /** Resolves with the reason if a server the stack started (Postgres, Redis) is gone for good. */
  lost: Promise<string>
  stop(): Promise<void>
}

const never = new Promise<string>(() => {})

/** The PAM_DB_POOL_MAX a stack of this process set (below), told apart from one given to it. */
let poolSetHere: string | undefined

/** Database requests in flight per isolate when PAM_DB_POOL_MAX is not given and Postgres runs on
 * this machine: about one busy connection per core and two more, shared by the isolates, 2 to 4
 * each. Postgres shares the cores with the functions: with fewer, Postgres waits while the
 * function thread reads answers and writes messages; with more, the transactions take turns on
 * the cores (two cores, one isolate, alternated: 4 against 3 gave 4–25% more lists a second in
 * every pair at about the same p99, 5 no more than 4 and a higher p99; on a machine with a
 * slower Postgres, 3 had beaten 4 by ~10%; two isolates: 2 each against 3 or 4, p99
 * 18–20 against 45–96 ms). */
export function localPoolSize(cores: number, isolates: number): number {
  return Math.min(4, Math.max(2, Math.ceil((cores + 2) / isolates)))
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

export async function startStack(opts: StackOptions): Promise<Stack> {
  const hostname = opts.hostname ?? '127.0.0.1'
  let pg: RunningPostgres | undefined
  let mail: MailCatcher | undefined
  let listening: Deno.HttpServer | undefined // to close if the start fails
  let databaseUrl = opts.databaseUrl
  if (!databaseUrl) {
    pg = await startEmbeddedPostgres(join(opts.dataDir, 'postgres'), { port: opts.postgresPort, log: opts.log })
    databaseUrl = pg.serverUrl
  }
  try {
    await prepareDatabase(databaseUrl, { seed: opts.seed })
    const keys = await loadOrCreateLocalKeys(opts.dataDir)
    const adminSql = postgres(databaseUrl, { max: 5, onnotice: () => {}, prepare: false })

    const cache = opts.cache === 'memory' ? null : await startCache(opts.redisUrl)
    const workerCount = cache ? Math.max(1, Math.floor(opts.workers ?? 1)) : 1
    // Listening first: with port 0 the kernel picks the port as it binds, so nothing started
    // below (the mail catcher, connections) can take it between choosing and listening.
    // Requests wait for the gateway, made once the services it routes to are up.
    const made: { gateway?: (req: Request, info: Deno.ServeHandlerInfo) => Promise<Response> } = {}
    const gatewayMade = Promise.withResolvers<void>()
    let servedHere = 0
    const server = Deno.serve(
      { hostname, port: opts.port ?? 54321, reusePort: workerCount > 1, onListen: () => {} },
      async (req, info) => {
        servedHere++
        if (!made.gateway) await gatewayMade.promise
        return await made.gateway!(req, info)
      },
    )
    listening = server
    const port = server.addr.port
    const publicUrl = `http://${hostname}:${port}`
    // Every email the stack sends goes to the catcher: the functions' (below) and the auth service's.
    mail = await startMailCatcher({ hostname: '127.0.0.1', port: opts.mailPort ?? (opts.port === 0 ? 0 : 54325) })
    const emailKeys = await loadOrCreateEmailKeys(opts.dataDir)
    Deno.env.set('PAM_EMAIL_TRANSPORT', 'smtp')
    Deno.env.set('PAM_SMTP_HOST', mail.hostname)
    Deno.env.set('PAM_SMTP_PORT', String(mail.port))
    Deno.env.set('PAM_SMTP_TLS', 'none')
    Deno.env.set('PAM_EMAIL_FROM', 'PAM <no-reply@pam.local>')
    Deno.env.set('PAM_EMAIL_SIGNING_SECRET', emailKeys.signingSecret)
    const auth = createAuthService({
      mailer: mailerFor({
        transport: 'smtp',
        from: 'PAM <no-reply@pam.local>',
        api: { url: '' },
        smtp: { host: mail.hostname, port: mail.port, tls: 'none' },
        timeoutMs: 10_000,
        maxAttempts: 1,
        retryBaseSeconds: 60,
        batch: 1,
        digestHour: 18,
      }),
      sql: adminSql,
      keys,
      issuer: `${publicUrl}/auth/v1`,
      // The auth function forwards the end user's address with the secret key,
      // as hosted projects with IP address forwarding turned on (see README).
      settings: { sbForwardedFor: true, ...opts.authSettings },
      log: ({ level, msg, ...fields }) =>
        log(level === 'error' ? 'error' : 'info', String(msg ?? 'auth request'), fields),
    })
    const functions = await loadFunctions()
    const qstashKeys = await loadOrCreateQStashKeys(opts.dataDir)
    const qstash = createLocalQStash({ keys: qstashKeys, retryDelayMs: opts.qstashRetryDelayMs })
    const qstashUrl = `${publicUrl}/qstash`
    // Its own connections: an upload's permission check and row write are short transactions apart.
    const storageSql = postgres(databaseUrl, { max: 5, onnotice: () => {}, prepare: false })
    const storage = createStorageService({
      sql: storageSql,
      keys,
      issuer: `${publicUrl}/auth/v1`,
      root: join(opts.dataDir, 'storage'),
      fileSizeLimit: await projectFileSizeLimit(),
    })
    const gatewayHere = createGateway({ functions, auth, publicUrl, qstash: qstash.handler, storage, mail: mail.handle })
    made.gateway = gatewayHere
    gatewayMade.resolve()

    // What hosted Supabase injects into every edge function.
    Deno.env.set('PAM_LOCAL_STACK', 'true')
    Deno.env.set('SUPABASE_URL', publicUrl)
    Deno.env.set('SUPABASE_DB_URL', databaseUrl)
    const pool = Deno.env.get('PAM_DB_POOL_MAX')
    if ((pool === undefined || pool === poolSetHere) && LOOPBACK.has(new URL(databaseUrl).hostname)) {
      poolSetHere = String(localPoolSize(navigator.hardwareConcurrency || 1, workerCount))
      Deno.env.set('PAM_DB_POOL_MAX', poolSetHere)
    }
    Deno.env.set('SUPABASE_JWKS', JSON.stringify(keys.jwks))
    Deno.env.set('SUPABASE_PUBLISHABLE_KEYS', JSON.stringify({ default: keys.publishableKey }))
    Deno.env.set('SUPABASE_SECRET_KEYS', JSON.stringify({ default: keys.secretKey }))
    if (cache) {
      Deno.env.set('UPSTASH_REDIS_REST_URL', cache.restUrl)
      Deno.env.set('UPSTASH_REDIS_REST_TOKEN', cache.token)
    }
    // What a project connected to QStash sets for the jobs function.
    Deno.env.set('QSTASH_URL', qstashUrl)
    Deno.env.set('QSTASH_TOKEN', qstashKeys.token)
    Deno.env.set('QSTASH_CURRENT_SIGNING_KEY', qstashKeys.currentSigningKey)
    Deno.env.set('QSTASH_NEXT_SIGNING_KEY', qstashKeys.nextSigningKey)
    const workers = workerCount > 1
      ? await startFunctionWorkers(workerCount - 1, { hostname, port, publicUrl, gateway: gatewayHere }).catch(async (err) => {
        await server.shutdown()
        throw err
      })
      : undefined
    if (opts.schedules) {
      // The same sync as `npm run schedules:sync`, against the stand-in.
      const client = new Client({ baseUrl: qstashUrl, token: qstashKeys.token, devMode: false, enableTelemetry: false })
      await syncSchedules(client.schedules, `${publicUrl}/functions/v1`)
    }

    return {
      url: publicUrl,
      databaseUrl,
      keys,
      embeddedPostgres: Boolean(pg),
      cache: cache
        ? { backend: 'upstash', redis: cache.redisUrl, restUrl: cache.restUrl }
        : { backend: 'memory' },
      functions: [...functions.keys()],
      workers: workerCount,
      served: async () => [servedHere, ...(await workers?.served() ?? [])],
      storageDir: join(opts.dataDir, 'storage'),
      qstash: { url: qstashUrl, keys: qstashKeys, local: qstash },
      mail: { url: `${publicUrl}/mail`, catcher: mail },
      lost: Promise.race([pg?.lost ?? never, cache?.lost ?? never]),
      async stop() {
        await qstash.stop()
        await workers?.stop()
        await server.shutdown()
        closeKeepAliveConnections() // the functions' kept connections to the Upstash bridge
        await cache?.stop()
        await closePools()
        await storageSql.end({ timeout: 1 })
        await adminSql.end({ timeout: 1 })
        await pg?.stop()
        // Last: the supervised servers above must be stopped on purpose before a Ctrl-C reaches them.
        await mail?.stop()
      },
    }
  } catch (err) {
    await listening?.shutdown()
    await mail?.stop()
    await pg?.stop()
    throw err
  }
}

/** `count` function workers on the gateway's port, and the main thread's internal listener
 * that serves them what is not a function (auth, QStash, the API reference). */
async function startFunctionWorkers(
  count: number,
  o: { hostname: string; port: number; publicUrl: string; gateway: (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> },
) {
  const secret = crypto.randomUUID()
  const internal = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, internalEntrance(o.gateway, secret))
  const main = { url: `http://127.0.0.1:${(internal.addr as Deno.NetAddr).port}`, secret }
  const workers: Worker[] = []
  const ask = <T>(w: Worker, message: unknown, timeoutMs = 60_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a function worker did not answer')), timeoutMs)
      w.onmessage = (e) => {
        clearTimeout(timer)
        if (e.data?.error) reject(new Error(`a function worker did not start: ${e.data.error}`))
        else resolve(e.data)
      }
      w.onerror = (e) => {
        clearTimeout(timer)
        e.preventDefault()
        reject(new Error(`a function worker failed: ${e.message}`))
      }
      w.postMessage(message)
    })
  const stop = async () => {
    await Promise.all(workers.map(async (w) => {
      // A graceful shutdown may wait on idle keep-alive connections: not for long.
      await ask(w, 'stop', 2000).catch(() => {})
      w.terminate()
    }))
    await internal.shutdown()
  }
  try {
    for (let i = 0; i < count; i++) {
      const w = new Worker(new URL('./function-worker.ts', import.meta.url), { type: 'module' })
      workers.push(w)
      await ask(w, { hostname: o.hostname, port: o.port, publicUrl: o.publicUrl, main } satisfies WorkerStart)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    stop,
    served: () => Promise.all(workers.map(async (w) => (await ask<{ served: number }>(w, 'count')).served)),
  }
}

/** Redis behind the Upstash REST bridge, on its own port; null when there is no Redis. */
async function startCache(redisUrl?: string) {
  const redis = redisUrl ? { url: redisUrl, lost: never, stop: () => Promise.resolve() } : await startPrivateRedis()
  if (!redis) return null
  const token = crypto.randomUUID()
  // In a worker thread, as Upstash is off the functions' event loop in production.
  const worker = new Worker(new URL('./redis-bridge-worker.ts', import.meta.url), { type: 'module' })
  const reply = <T>() => new Promise<T>((resolve) => (worker.onmessage = (e) => resolve(e.data)))
  const started = reply<{ port: number }>()
  worker.postMessage({ redisUrl: redis.url, token })
  const { port } = await started
  return {
    redisUrl: redis.url,
    restUrl: `http://127.0.0.1:${port}`,
    token,
    lost: redis.lost,
    async stop() {
      const stopped = reply()
      worker.postMessage('stop')
      // A graceful shutdown may wait on idle keep-alive connections: not for long.
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 1000))])
      worker.terminate()
      await redis.stop()
    },
  }
}
