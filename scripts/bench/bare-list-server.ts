// The list's page on Deno with none of the request path around it, for `npm run bench:http`:
// Deno.serve answering every request with the expense list's page, made as the endpoint makes
// it (the list's one message on a read connection, pg-wire.ts, over node:net as db.ts opens
// it; the rows joined by pageOfJson) from a pool as large as the stack's. No gateway, Hono,
// token, rate limit, query validation, admission, deadline or log line. What the stack does
// beyond this is what the request path costs; what this does beyond the Postgres floor is
// Deno's HTTP server and sockets.
//
//   deno run -A scripts/bench/bare-list-server.ts <database url> <message file> <pool size> <limit>
// Writes {"port":…} to BENCH_READY_FILE once listening.
import net from 'node:net'
import { type JsonRows, WireConnection } from '../../supabase/functions/_shared/pg-wire.ts'
import { pageOfJson } from '../../supabase/functions/_shared/pagination.ts'

const [url, messageFile, poolSize, limitText] = Deno.args
const message = await Deno.readTextFile(messageFile)
const limit = Number(limitText)
const db = new URL(url)

async function open(): Promise<WireConnection> {
  const socket = net.connect(Number(db.port || 5432), db.hostname)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return await WireConnection.open(socket, {
    user: decodeURIComponent(db.username),
    password: decodeURIComponent(db.password),
    database: decodeURIComponent(db.pathname.slice(1)),
    applicationName: 'pam-bench-bare-list',
  }, new Map())
}

const free = await Promise.all(Array.from({ length: Number(poolSize) }, open))
const waiting: ((conn: WireConnection) => void)[] = []
const acquire = () => free.pop() ?? new Promise<WireConnection>((resolve) => waiting.push(resolve))
const release = (conn: WireConnection) => {
  const next = waiting.shift()
  if (next) next(conn)
  else free.push(conn)
}
const keyOf = (row: Record<string, unknown>) => [row.date, row.created_at, row.id] as string[]

const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async () => {
  const conn = await acquire()
  try {
    const results = await conn.query(message, true)
    const rows = results[results.length - 1].rows as JsonRows
    return new Response(pageOfJson('expenses', rows, limit, keyOf), { headers: { 'content-type': 'application/json' } })
  } finally {
    release(conn)
  }
})
await Deno.writeTextFile(Deno.env.get('BENCH_READY_FILE')!, JSON.stringify({ port: server.addr.port }) + '\n')
