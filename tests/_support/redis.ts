// A real Redis behind the local Upstash REST bridge, for tests of the Upstash
// code paths. A private redis-server on a free port (or REDIS_URL). Without
// either, tests that need it are skipped locally and fail in CI.
import './shared-resources.ts'
import { shutdownSoon } from './servers.ts'
import { startPrivateRedis } from '../../scripts/local/redis.ts'
import { createRedisBridge } from '../../scripts/local/redis-bridge.ts'

export interface UpstashBridge {
  url: string
  token: string
  /** Stops the Redis server behind the bridge (the bridge keeps answering, with errors). */
  stopRedis(): Promise<void>
  close(): Promise<void>
}

export async function startUpstashBridge(): Promise<UpstashBridge | null> {
  const given = Deno.env.get('REDIS_URL')
  const redis = given ? { url: given, stop: () => Promise.resolve() } : await startPrivateRedis()
  if (!redis) {
    if (Deno.env.get('CI')) throw new Error('redis-server is not installed: CI must install it (apt-get install redis-server)')
    return null
  }
  const token = crypto.randomUUID()
  const bridge = createRedisBridge({ redisUrl: redis.url, token })
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, bridge.handler)
  let redisStopped = false
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    async stopRedis() {
      if (!redisStopped) await redis.stop()
      redisStopped = true
    },
    async close() {
      await shutdownSoon(server)
      await bridge.close()
      if (!redisStopped) await redis.stop()
    },
  }
}

/** A proxy in front of an Upstash endpoint that records what reaches it: each call's path and
 * body, how many calls, and the most out at once. `delayMs` holds each call first, so that calls
 * overlap. */
export function countingProxy(upstashUrl: string, delayMs = 0) {
  const seen = { calls: [] as { path: string; body: string }[], out: 0, most: 0 }
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    seen.most = Math.max(seen.most, ++seen.out)
    try {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs))
      const path = new URL(req.url).pathname
      const body = await req.text()
      seen.calls.push({ path, body })
      const res = await fetch(`${upstashUrl}${path}`, { method: req.method, headers: req.headers, body })
      return new Response(await res.text(), { status: res.status, headers: res.headers })
    } finally {
      seen.out--
    }
  })
  return {
    seen,
    url: `http://127.0.0.1:${server.addr.port}`,
    reset: () => Object.assign(seen, { calls: [], most: 0 }),
    close: () => shutdownSoon(server),
  }
}

/** Whether redis-backed tests can run here (decided once, at load). */
export const redisAvailable = Deno.env.get('REDIS_URL') !== undefined || Deno.env.get('CI') !== undefined ||
  (await new Deno.Command('redis-server', { args: ['--version'], stdout: 'null', stderr: 'null' }).output()
    .then((o) => o.success).catch(() => false))
