// The local stack as a process of its own, for `npm run bench:http`: the
// load generator (wrk) and the server never share an event loop. Settings
// come from the environment the benchmark gives it:
//
//   BENCH_DATABASE_URL  the prepared database
//   BENCH_DATA_DIR      where the local keys are (shared by every stack of a run)
//   BENCH_CACHE         memory | upstash (a private redis-server behind the REST bridge)
//   BENCH_WORKERS       isolates serving the functions (default 1)
//   BENCH_DELAY_MS      when set, Postgres and the Upstash endpoint are put behind
//                       delay proxies (that many ms each way) for the functions
//
// Once it serves, writes {url, publishableKey, proxies?: {db, upstash}, upstashToken?} as one
// JSON line to BENCH_READY_FILE (stdout keeps only the request log, which the
// benchmark sends to /dev/null, as the platform would take it away).
import { startStack } from '../local/stack.ts'
import { batchLogLines, flushLog } from '../local/log-writer.ts'

const env = (name: string) => Deno.env.get(name) || undefined
const databaseUrl = env('BENCH_DATABASE_URL')!
const delayMs = env('BENCH_DELAY_MS')

batchLogLines() // as `npm start` writes the request log
const stack = await startStack({
  dataDir: env('BENCH_DATA_DIR')!,
  databaseUrl,
  port: 0,
  seed: false,
  cache: env('BENCH_CACHE') === 'upstash' ? 'auto' : 'memory',
  // The benchmark signs in from one address; the functions' own limits still count every request.
  authSettings: { rateLimit: { signInSignUps: 1e9, tokenRefresh: 1e9 } },
  workers: Number(env('BENCH_WORKERS') ?? 1),
})
if (env('BENCH_CACHE') === 'upstash' && stack.cache.backend !== 'upstash') {
  throw new Error('BENCH_CACHE=upstash needs redis-server (apt-get install redis-server)')
}

const proxies: Record<string, { port: number; stats: number; child: Deno.ChildProcess }> = {}
async function delayProxy(target: string) {
  const child = new Deno.Command('node', {
    args: [new URL('./delay-proxy.mjs', import.meta.url).pathname, target, delayMs!],
    stdout: 'piped',
    stderr: 'inherit',
  }).spawn()
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader()
  const { value } = await reader.read()
  reader.releaseLock()
  return { ...JSON.parse(value!.split('\n')[0]), child }
}

if (delayMs) {
  // The functions read their configuration on their first request: point them at the proxies.
  const db = new URL(databaseUrl)
  proxies.db = await delayProxy(`${db.hostname}:${db.port}`)
  db.port = String(proxies.db.port)
  Deno.env.set('SUPABASE_DB_URL', db.toString())
  if (stack.cache.restUrl) {
    const rest = new URL(stack.cache.restUrl)
    proxies.upstash = await delayProxy(`${rest.hostname}:${rest.port}`)
    rest.port = String(proxies.upstash.port)
    Deno.env.set('UPSTASH_REDIS_REST_URL', rest.toString().replace(/\/$/, ''))
  }
}

await Deno.writeTextFile(env('BENCH_READY_FILE')!, JSON.stringify({
  url: stack.url,
  publishableKey: stack.keys.publishableKey,
  proxies: Object.fromEntries(Object.entries(proxies).map(([k, p]) => [k, { port: p.port, stats: p.stats }])),
  // For the benchmark's bare round trip through the Upstash proxy (a PING, as the functions call).
  upstashToken: delayMs ? Deno.env.get('UPSTASH_REDIS_REST_TOKEN') : undefined,
}) + '\n')

const stop = async () => {
  for (const p of Object.values(proxies)) p.child.kill()
  await stack.stop()
  flushLog()
  Deno.exit(0)
}
Deno.addSignalListener('SIGTERM', stop)
Deno.addSignalListener('SIGINT', stop)
