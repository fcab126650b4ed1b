// A TCP proxy that puts a service a few milliseconds away, as hosted Postgres
// and Upstash are from the edge, and counts round trips. Timers wake late
// (Node's by about a millisecond, Deno's by two), so the last stretch of each
// delay is waited out on setImmediate: accurate to a few microseconds, at the
// cost of a busy proxy while a chunk is in flight. The benchmark starts it as
// its own process:
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

/** Forwards each chunk of `from` to `to` `delayMs` after it arrived, in order. */
function pipe(from, to, onChunk) {
  const queue = []
  let timer = null
  const flush = () => {
    timer = null
    const now = performance.now()
    while (queue.length && queue[0].due <= now) to.write(queue.shift().chunk)
    if (queue.length) schedule(queue[0].due - now)
  }
  const schedule = (wait) => {
    timer = wait > 1.5 ? setTimeout(flush, wait - 1.5) : setImmediate(flush)
  }
  from.on('data', (chunk) => {
    onChunk()
    queue.push({ chunk, due: performance.now() + delayMs })
    if (!timer) schedule(delayMs)
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
