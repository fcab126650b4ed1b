// One more isolate serving the edge functions, in a thread of its own, on the
// gateway's port (SO_REUSEPORT: the kernel spreads connections over every
// listener). As on the Edge Runtime, several isolates run the same function
// code, each with its own module state (pools, verified tokens, limiter
// fallback), sharing only what they share in production: Postgres and the
// cache (Upstash). Everything that is not a function (auth, QStash, the API
// reference) is one service in the stack's main thread; requests for it are
// passed there. Started by stack.ts: it posts {ready} once serving, answers
// 'count' with {served}, and posts {stopped} after 'stop'.
/// <reference lib="deno.worker" />
import { loadFunctions } from './functions.ts'
import { createGateway, forwardTo } from './gateway.ts'
import { closePools } from '../../supabase/functions/_shared/db.ts'
import { closeKeepAliveConnections } from '../../supabase/functions/_shared/keepalive-http.ts'
import { batchLogLines, flushLog } from './log-writer.ts'

export interface WorkerStart {
  hostname: string
  port: number
  publicUrl: string
  /** The main thread's internal listener and the secret that proves a request came from here. */
  main: { url: string; secret: string }
}

batchLogLines()
let server: Deno.HttpServer | undefined
let served = 0

self.onmessage = async (e: MessageEvent<WorkerStart | 'stop' | 'count'>) => {
  if (e.data === 'count') return self.postMessage({ served })
  if (e.data === 'stop') {
    await server?.shutdown()
    await closePools()
    closeKeepAliveConnections()
    flushLog()
    self.postMessage({ stopped: true })
    self.close()
    return
  }
  const { hostname, port, publicUrl, main } = e.data
  try {
    const gateway = createGateway({ functions: await loadFunctions(), publicUrl, elsewhere: forwardTo(main.url, main.secret) })
    server = Deno.serve({ hostname, port, reusePort: true, onListen: () => {} }, (req, info) => {
      served++
      return gateway(req, info)
    })
    self.postMessage({ ready: true })
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.stack ?? err) })
  }
}
