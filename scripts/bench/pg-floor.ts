// The Postgres floor of `npm run bench:http` when pgbench is not installed:
// `clients` connections each running `statements` (one transaction, each
// statement awaited before the next, as pgbench does) for `seconds`.
//   deno run -A scripts/bench/pg-floor.ts <url> <clients> <seconds> '<json array of statements>'
// Writes {"tps":…} to BENCH_READY_FILE when done.
import postgres from 'postgres'

const [url, clients, seconds, statementsJson] = Deno.args
const statements = (JSON.parse(statementsJson) as string[]).map((s) => s.replace(/;\s*$/, ''))
const sql = postgres(url, { max: Number(clients), prepare: false, onnotice: () => {} })
const end = performance.now() + Number(seconds) * 1000
let done = 0
await Promise.all(Array.from({ length: Number(clients) }, async () => {
  const conn = await sql.reserve()
  while (performance.now() < end) {
    for (const s of statements) await conn.unsafe(s)
    done++
  }
  conn.release()
}))
await sql.end()
await Deno.writeTextFile(Deno.env.get('BENCH_READY_FILE')!, JSON.stringify({ tps: done / Number(seconds) }) + '\n')
