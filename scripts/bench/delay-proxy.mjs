// A TCP proxy that puts a service a few milliseconds away, as hosted Postgres
// and Upstash are from the edge, and counts round trips. Timers wake late
// (Node's by about a millisecond, Deno's by two), so the last stretch of each
// delay is waited out in short naps between turns of the event loop (see
// flush). It used to spin on setImmediate instead: as accurate, but a core
// busy while a chunk was in flight, two while a list's Postgres and Upstash
// calls both were, on the machine whose latency it measures. The benchmark
// starts it as its own process:
//
//   node scripts/bench/delay-proxy.mjs <target host:port> <one-way delay ms>
//
// It prints {"port":…,"stats":…} once listening. Every chunk is forwarded
// after the delay, in order, in both directions. A round trip is counted each
// time the client sends after having received (or sends first on a new
// connection): a pipelined batch of statements is one round trip, statements
// that each await their answer are one each.
// GET http://127.0.0.1:<stats>/ answers {"round_trips":n,"connections":n}; POST resets them.
import net from 'node:net'
import http from 'node:http'

const [target, delayArg] = process.argv.slice(2)
if (!target) throw new Error('usage: delay-proxy.mjs <host:port> <one-way delay ms>')
const [host, port] = target.split(':')
const delayMs = Number(delayArg ?? 1)
let roundTrips = 0
let connections = 0

// Every chunk in flight, both directions of every connection, in the order they arrived: with
// one delay for all, that is the order they are due in.
const inFlight = []
let pending = null
const nap = new Int32Array(new SharedArrayBuffer(4))

/** Writes what is due, then waits for the next: a timer while it is over 1.5 ms away, then naps
 * of at most 0.1 ms (Atomics.wait: a futex wait, no CPU spent) between turns of the event loop,
 * so that chunks arriving meanwhile are stamped within 0.1 ms; the last ~0.1 ms on setImmediate,
 * as a nap can overshoot by the kernel's timer slack (50 µs). Measured through it to an echo
 * server, 1 ms each way: p50 2.31–2.33 ms and ~25% of a core, against 2.34–2.41 ms and ~75%. */
function flush() {
  pending = null
  let now = performance.now()
  const left = inFlight.length ? inFlight[0].due - now : 0
  if (left > 0.12 && left <= 1.5) {
    Atomics.wait(nap, 0, 0, Math.min(left - 0.07, 0.1))
    now = performance.now()
  }
  while (inFlight.length && inFlight[0].due <= now) {
    const { to, chunk } = inFlight.shift()
    if (!to.destroyed) to.write(chunk)
  }
  if (inFlight.length) schedule(inFlight[0].due - now)
}
function schedule(wait) {
  pending = wait > 1.5 ? setTimeout(flush, wait - 1.5) : setImmediate(flush)
}

/** Forwards each chunk of `from` to `to` `delayMs` after it arrived, in order. */
function pipe(from, to, onChunk) {
  from.on('data', (chunk) => {
    onChunk()
    inFlight.push({ to, chunk, due: performance.now() + delayMs })
    if (!pending) schedule(delayMs)
  })
  from.on('end', () => setTimeout(() => to.end(), delayMs + 1))
  from.on('error', () => to.destroy())
}

const server = net.createServer((client) => {
  connections++
  const upstream = net.connect({ host, port: Number(port) })
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  let answered = true // the client speaks first: one round trip
  pipe(client, upstream, () => {
    if (answered) roundTrips++
    answered = false
  })
  pipe(upstream, client, () => (answered = true))
})
const stats = http.createServer((req, res) => {
  if (req.method === 'POST') roundTrips = connections = 0
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ round_trips: roundTrips, connections }))
})
server.listen(0, '127.0.0.1', () =>
  stats.listen(0, '127.0.0.1', () =>
    console.log(JSON.stringify({ port: server.address().port, stats: stats.address().port }))
  )
)
