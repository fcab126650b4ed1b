// The Postgres floor of `npm run bench:http` when pgbench is not installed:
// `clients` connections each sending `statements` (one transaction) as one
// message, as the list endpoint does, for `seconds`.
//   deno run -A scripts/bench/pg-floor.ts <url> <clients> <seconds> '<json array of statements>'
// Writes {"tps":…} to BENCH_READY_FILE when done.
import postgres from 'postgres'

const [url, clients, seconds, statementsJson] = Deno.args
const message = (JSON.parse(statementsJson) as string[]).map((s) => s.replace(/;\s*$/, '')).join(';\n')
const sql = postgres(url, { max: Number(clients), prepare: false, onnotice: () => {} })
const end = performance.now() + Number(seconds) * 1000
let done = 0
await Promise.all(Array.from({ length: Number(clients) }, async () => {
  const conn = await sql.reserve()
  while (performance.now() < end) {
    await conn.unsafe(message)
    done++
  }
  conn.release()
}))
await sql.end()
await Deno.writeTextFile(Deno.env.get('BENCH_READY_FILE')!, JSON.stringify({ tps: done / Number(seconds) }) + '\n')
