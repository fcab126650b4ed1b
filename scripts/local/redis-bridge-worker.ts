// The Upstash REST bridge in a thread of its own. Upstash is a remote service
// in production; here its stand-in runs beside the functions, and on their
// event loop it would take the time of every cache call from them. Started by
// stack.ts: it posts {port} once serving and {stopped} after a 'stop' message.
/// <reference lib="deno.worker" />
import { createRedisBridge } from './redis-bridge.ts'

self.onmessage = async (e: MessageEvent<{ redisUrl: string; token: string } | 'stop'>) => {
  if (e.data === 'stop') {
    await server?.shutdown()
    await bridge?.close()
    self.postMessage({ stopped: true })
    self.close()
    return
  }
  bridge = createRedisBridge(e.data)
  server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, bridge.handler)
  self.postMessage({ port: (server.addr as Deno.NetAddr).port })
}

let bridge: ReturnType<typeof createRedisBridge> | undefined
let server: Deno.HttpServer | undefined
