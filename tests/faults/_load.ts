// A bounded stream of requests (a few clients, each pacing its own requests)
// and the checks every fault test makes on what came back: every request
// answered in time, only the answers a fault allows, and every acknowledged
// write in the database, exactly once and whole.
import { assert, assertEquals, type Json } from '../_support/assert.ts'
import { call, type FaultStack, type FaultUser, now, sleep } from './_harness.ts'

export type Kind = 'list' | 'summary' | 'me' | 'write'

/** What the database alone can answer: no cache stands in for it. */
export const DATABASE_ONLY: readonly Kind[] = ['list', 'write']

export interface Outcome {
  kind: Kind
  client: number
  /** now() when the request was sent and when its answer was read. */
  started: number
  ended: number
  /** 0: no HTTP answer (see `error`). */
  status: number
  body: Json | null
  text: string
  headers: Headers
  /** Writes: the expense sent. */
  description?: string
  amount?: string
  category?: string
  error?: string
}

export const latency = (o: Outcome) => o.ended - o.started

const KINDS: Kind[] = ['list', 'write', 'summary', 'me']
/** A request with no answer after this long has hung (no bound in the tests is near it). */
const HANG_MS = 20_000

export interface Load {
  /** Stops sending and resolves once every request in flight has its answer. */
  stop(): Promise<Outcome[]>
}

/** `clients` concurrent clients, each sending its next request `intervalMs` after the previous one started
 * (or at once when that one took longer), cycling through the kinds; client i is users[i % users.length]. */
export function startLoad(
  fs: FaultStack,
  users: FaultUser[],
  opts: { clients?: number; intervalMs?: number } = {},
): Load {
  const { clients = 4, intervalMs = 80 } = opts
  const run = crypto.randomUUID().slice(0, 8)
  const outcomes: Outcome[] = []
  let stopping = false
  let sent = 0
  const client = async (i: number) => {
    const user = users[i % users.length]
    for (let n = 0; !stopping; n++) {
      const started = now()
      const kind = KINDS[(n + i) % KINDS.length]
      outcomes.push(await send(fs, user, kind, { client: i, description: `fault-${run}-${sent++}` }))
      await sleep(Math.max(0, intervalMs - (now() - started)))
    }
  }
  const running = Promise.all(Array.from({ length: clients }, (_, i) => client(i)))
  return {
    async stop() {
      stopping = true
      await running
      return outcomes.sort((a, b) => a.started - b.started)
    },
  }
}

/** One request of `kind`; a write sends an expense with a unique description (in `category`, default food).
 * `signal` ends it from the client's side. */
export async function send(
  fs: FaultStack,
  user: FaultUser,
  kind: Kind,
  opts: { client?: number; description?: string; category?: string; signal?: AbortSignal } = {},
): Promise<Outcome> {
  const { client = -1, description = `fault-${crypto.randomUUID()}`, category = 'food' } = opts
  const amount = `${1 + Math.floor(Math.random() * 500)}.${String(Math.floor(Math.random() * 100)).padStart(2, '0')}`
  const write = kind === 'write'
  const path = { list: 'wins/expenses?limit=5', summary: 'wins/summary', me: 'auth/me', write: 'wins/expenses' }[kind]
  const started = now()
  const outcome: Outcome = {
    kind,
    client,
    started,
    ended: started,
    status: 0,
    body: null,
    text: '',
    headers: new Headers(),
    ...(write ? { description, amount, category } : {}),
  }
  try {
    const res = await call(fs, user, path, {
      method: write ? 'POST' : 'GET',
      body: write ? { amount, description, category } : undefined,
      signal: opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(HANG_MS)]) : AbortSignal.timeout(HANG_MS),
    })
    outcome.text = await res.text()
    outcome.status = res.status
    outcome.headers = res.headers
    try {
      outcome.body = JSON.parse(outcome.text)
    } catch { /* not JSON: body stays null, and the checks on it fail */ }
  } catch (err) {
    outcome.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  }
  outcome.ended = now()
  return outcome
}

// ---------------------------------------------------------------- checks

const show = (o: Outcome) =>
  `${o.kind} by client ${o.client} at ${Math.round(o.started)} ms: ${o.status || o.error} in ${Math.round(latency(o))} ms ${
    o.text.slice(0, 300)
  }`

/** Every request got an HTTP answer within `boundMs`. */
export function assertAnsweredWithin(outcomes: Outcome[], boundMs: number) {
  const late = outcomes.filter((o) => o.status === 0 || latency(o) > boundMs)
  assert(late.length === 0, `${late.length} requests had no answer within ${boundMs} ms:\n${late.slice(0, 10).map(show).join('\n')}`)
}

/** Every answer is one of `statuses`; every 503 is `database_unavailable`, shaped as the API promises. */
export function assertOnly(outcomes: Outcome[], statuses: number[]) {
  const other = outcomes.filter((o) => !statuses.includes(o.status))
  assert(other.length === 0, `answers other than ${statuses}:\n${other.slice(0, 10).map(show).join('\n')}`)
  for (const o of outcomes.filter((o) => o.status === 503)) assertDatabaseUnavailable(o)
}

/** 503 database_unavailable with Retry-After, in the error envelope and nothing else (no internals). */
export function assertDatabaseUnavailable(o: Outcome) {
  assertEquals(
    o.body,
    { error: { code: 'database_unavailable', message: 'the database is unavailable, try again shortly' } },
    show(o),
  )
  const retryAfter = o.headers.get('retry-after') ?? ''
  assert(/^[1-9][0-9]*$/.test(retryAfter), `Retry-After "${retryAfter}": ${show(o)}`)
  assert(o.headers.get('content-type')?.startsWith('application/json'), show(o))
  assert(o.headers.get('x-request-id'), show(o))
}

/** When, after `from`, requests succeeded again for good: the start of the first request
 * after which every request got a 2xx (Infinity when the last one failed). */
export function recoveredAt(outcomes: Outcome[], from: number): number {
  const after = outcomes.filter((o) => o.started >= from)
  const lastFailure = after.findLastIndex((o) => o.status < 200 || o.status > 299)
  if (lastFailure === after.length - 1) return Infinity
  return lastFailure < 0 ? from : after[lastFailure + 1].started
}

export interface WriteCheck {
  acknowledged: number
  /** 5xx answers whose expense is in the database anyway (committed, then the answer was lost). */
  failedButStored: number
  failedAndAbsent: number
}

/** Every 201 write is in the database under the id it was given, whole; no write is there twice
 * and none that failed is there half-written. */
export async function checkWrites(fs: FaultStack, outcomes: Outcome[]): Promise<WriteCheck> {
  const writes = outcomes.filter((o) => o.kind === 'write')
  const rows = await fs.admin<{ id: string; description: string; amount: string; category: string }[]>`
    select id, description, amount::text as amount, category from pam.expenses
    where description = any(${writes.map((w) => w.description!)})`
  const stored = Map.groupBy(rows, (r) => r.description)
  const result: WriteCheck = { acknowledged: 0, failedButStored: 0, failedAndAbsent: 0 }
  for (const w of writes) {
    const found = stored.get(w.description!) ?? []
    assert(found.length <= 1, `stored ${found.length} times: ${show(w)}`)
    const row = found[0]
    if (row) {
      assertEquals({ amount: row.amount, category: row.category }, { amount: w.amount, category: w.category }, show(w))
    }
    if (w.status === 201) {
      result.acknowledged++
      assert(row, `acknowledged but not in the database: ${show(w)}`)
      assertEquals(row.id, w.body?.expense?.id, show(w))
    } else if (row) {
      result.failedButStored++
    } else {
      result.failedAndAbsent++
    }
  }
  return result
}

/** Read your writes: every summary a client got counts at least the expenses it had been told were
 * stored before it asked (each client is one user, one request at a time; all are dated today). */
export function assertSummariesCurrent(outcomes: Outcome[]) {
  for (const summary of outcomes.filter((o) => o.kind === 'summary' && o.status === 200)) {
    const acknowledged = outcomes.filter((w) =>
      w.kind === 'write' && w.client === summary.client && w.status === 201 && w.ended < summary.started
    ).length
    assert(
      summary.body!.expense_count >= acknowledged,
      `stale summary: ${summary.body!.expense_count} expenses after ${acknowledged} acknowledged writes (x-cache: ${
        summary.headers.get('x-cache')
      }): ${show(summary)}`,
    )
  }
}

/** One line per kind: statuses and latencies, for the test's output. */
export function describe(outcomes: Outcome[]): string {
  const lines = []
  for (const kind of KINDS) {
    const of = outcomes.filter((o) => o.kind === kind)
    const statuses = Object.entries(Object.groupBy(of, (o) => String(o.status || 'none')))
      .map(([s, list]) => `${s}×${list!.length}`).join(' ')
    const sorted = of.map(latency).sort((a, b) => a - b)
    const p = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0)
    lines.push(`  ${kind.padEnd(7)} ${statuses.padEnd(28)} p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`)
  }
  return lines.join('\n')
}
