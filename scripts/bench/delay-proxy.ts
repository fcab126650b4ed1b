// A TCP proxy that puts a service a few milliseconds away, as hosted Postgres
// and Upstash are from the edge, and counts round trips. Run as its own
// process (the benchmark starts it):
//
//   deno run -A scripts/bench/delay-proxy.ts <target host:port> <one-way delay ms>
//
// It prints `{"port":…,"stats":…}` once listening. Every chunk is forwarded
// after the delay, in order, in both directions. A round trip is counted each
// time the client sends after having received (or sends first on a new
// connection): a pipelined batch of statements is one round trip, a request
// awaiting each answer before the next is one per statement.
// GET http://127.0.0.1:<stats>/ answers {"round_trips":n,"connections":n};
// POST resets them.
const [target, delayArg] = Deno.args
if (!target) throw new Error('usage: delay-proxy.ts <host:port> <one-way delay ms>')
const [hostname, portText] = target.split(':')
const delayMs = Number(delayArg ?? 1)

let roundTrips = 0
let connections = 0

/** Copies `from` to `to`, each chunk `delayMs` after it arrived, in order. */
async function pipe(from: Deno.Conn, to: Deno.Conn, onChunk: () => void) {
  let last = Promise.resolve()
  try {
    for await (const chunk of from.readable) {
      onChunk()
      const due = performance.now() + delayMs
      last = last.then(async () => {
        const wait = due - performance.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        let written = 0
        while (written < chunk.length) written += await to.write(chunk.subarray(written))
      })
    }
    await last
  } catch {
    // either side went away
  } finally {
    try {
      to.closeWrite()
    } catch { /* already closed */ }
  }
}

const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
const stats = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (req) => {
  if (req.method === 'POST') roundTrips = connections = 0
  return Response.json({ round_trips: roundTrips, connections })
})
console.log(JSON.stringify({ port: (listener.addr as Deno.NetAddr).port, stats: stats.addr.port }))

for await (const client of listener as Deno.Listener<Deno.TcpConn, Deno.NetAddr>) {
  connections++
  ;(async () => {
    let upstream: Deno.TcpConn
    try {
      upstream = await Deno.connect({ hostname, port: Number(portText) })
    } catch {
      client.close()
      return
    }
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    let answered = true // the client speaks first: one round trip
    await Promise.all([
      pipe(client, upstream, () => {
        if (answered) roundTrips++
        answered = false
      }),
      pipe(upstream, client, () => (answered = true)),
    ])
    for (const c of [client, upstream]) {
      try {
        c.close()
      } catch { /* closed */ }
    }
  })()
}
