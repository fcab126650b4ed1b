// A throwaway local stack for benchmarks: embedded Postgres in a temporary
// folder (or the server of BENCH_DATABASE_URL), a fresh database, the stack.
import { dropDatabase, ensureDatabase } from '../local/database.ts'
import { startEmbeddedPostgres, withDatabase } from '../local/postgres.ts'
import { type Stack, startStack } from '../local/stack.ts'
import type { PostgresApi } from '../../supabase/functions/_shared/db.ts'

export async function startBenchStack(): Promise<{ stack: Stack; stop(): Promise<void> }> {
  Deno.env.set('PAM_LOG_LEVEL', 'error')
  for (const tier of ['AUTH', 'CHAT', 'STANDARD', 'BULK', 'SOCIAL']) Deno.env.set(`PAM_RATE_LIMIT_${tier}`, '100000000')
  const tmp = await Deno.makeTempDir({ prefix: 'pam-bench-' })
  await Deno.chmod(tmp, 0o755) // embedded Postgres runs as `postgres` when we are root
  const given = Deno.env.get('BENCH_DATABASE_URL')
  const pg = given ? undefined : await startEmbeddedPostgres(`${tmp}/postgres`)
  const serverUrl = given ? withDatabase(given, 'postgres') : pg!.serverUrl
  const database = `pam_bench_${crypto.randomUUID().slice(0, 8)}`
  const stack = await startStack({
    dataDir: `${tmp}/keys`,
    databaseUrl: await ensureDatabase(serverUrl, database),
    port: 0,
    seed: false,
    // Benchmarks pick their cache per scenario.
    cache: 'memory',
    // They sign up and in many users from one address; the functions' own limits are raised above.
    authSettings: { rateLimit: { signInSignUps: 1e9, tokenRefresh: 1e9 } },
  })
  return {
    stack,
    async stop() {
      await stack.stop()
      await dropDatabase(serverUrl, database).catch(() => {})
      await pg?.stop()
      await Deno.remove(tmp, { recursive: true }).catch(() => {})
    },
  }
}

/** Runs `total` calls of `fn` with `concurrency` in flight; returns latencies in ms and the wall time. */
export async function measure(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++
      const t0 = performance.now()
      await fn(i)
      latencies.push(performance.now() - t0)
    }
  }))
  return { latencies, seconds: (performance.now() - started) / 1000 }
}

/** EXPLAIN (`options`) of a statement as the user under RLS, its values written as literals as a
 * read writes them; one line of the plan per element. In a transaction: a read prepares its
 * statement on the server connection (pam.prepare_read), and EXPLAIN cannot be prepared. */
export async function explainAsUser(asUser: PostgresApi, options: string, text: string, params: unknown[] = []): Promise<string[]> {
  const rows = await asUser.transaction((tx) => tx.unsafe(`explain (${options}) ${text}`, params as never[]))
  return rows.map((r) => r['QUERY PLAN'] as string)
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

export function printTable(rows: Record<string, string | number>[]): void {
  const cols = Object.keys(rows[0])
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => String(r[c]).length))
  const line = (r: Record<string, string | number>) => cols.map((c) => String(r[c]).padStart(width(c))).join('  ')
  console.log(line(Object.fromEntries(cols.map((c) => [c, c]))))
  for (const r of rows) console.log(line(r))
}
