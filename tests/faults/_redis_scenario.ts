// What the Redis fault tests share: Redis goes away under load (killed or
// frozen, by the caller). Every request still succeeds from the database,
// within the cache timeout's bound; rate limits still apply (the in-process
// limiter decides); once Redis is back the cache is used again; and what the
// users read afterwards includes every acknowledged write.
import { assert, assertEquals, assertMatch } from '../_support/assert.ts'
import { call, type FaultStack, LIMITS, now, signUp, sleep } from './_harness.ts'
import {
  assertAnsweredWithin,
  assertOnly,
  assertSummariesCurrent,
  checkWrites,
  describe,
  type Outcome,
  startLoad,
} from './_load.ts'

/** Each request makes at most two cache calls one after the other (the limiter
 * and a read, or the limiter and an invalidation); the rest is the database. */
export const CACHE_BOUND_MS = 2 * LIMITS.cacheTimeoutMs + 1000

const cached = (o: Outcome) => o.kind === 'summary' || o.kind === 'me'

/** Runs the scenario: `fault.start()` takes Redis away (it is away when that resolves),
 * `fault.end()` resolves with when it is back. */
export async function redisGoesAway(
  fs: FaultStack,
  name: string,
  fault: { start(): Promise<void>; end(): Promise<number> },
): Promise<void> {
  const users = await Promise.all([0, 1, 2, 3].map((i) => signUp(fs, `${name}${i}`)))
  const bulkUser = await signUp(fs, `${name}-bulk`)
  // One user's summary cached before Redis goes away; they add an expense while it is away.
  const reader = await signUp(fs, `${name}-reader`)
  const summary = async () => {
    const res = await call(fs, reader, 'wins/summary')
    return { count: (await res.json()).expense_count as number, cache: res.headers.get('x-cache') }
  }
  assertEquals([await summary(), await summary()], [{ count: 0, cache: 'miss' }, { count: 0, cache: 'hit' }])

  // The limiter's sliding window weighs the previous minute by what is left of the current one,
  // so counts taken across a minute's edge are off by one by design: the bulk requests below
  // (a few seconds from here) start well inside one minute (PAM_RATE_LIMIT_WINDOW_S, 60 s).
  const intoMinute = (Date.now() / 1000) % 60
  if (intoMinute > 40) await sleep((60 - intoMinute + 0.5) * 1000)

  const load = startLoad(fs, users)
  await sleep(2000)

  const faultAt = now()
  await fault.start()
  const back = fault.end()
  // While Redis is away: the bulk tier (the CSV export) still allows LIMITS.bulkLimit, then 429.
  const limited = []
  for (let i = 0; i <= LIMITS.bulkLimit; i++) {
    const res = await call(fs, bulkUser, 'wins/expenses/export.csv')
    limited.push({ status: res.status, headers: res.headers, body: await res.text(), ended: now() })
  }
  const added = await call(fs, reader, 'wins/expenses', { method: 'POST', body: { amount: '12.50', description: 'while away' } })
  assertEquals(added.status, 201, await added.text())
  const addedAt = now()
  const backAt = await back
  assert(addedAt < backAt, 'the expense was added while Redis was away')
  await sleep(1000)
  const afterwards = await summary()
  await sleep(3000)
  const outcomes = await load.stop()

  const during = outcomes.filter((o) => o.started >= faultAt && o.ended <= backAt - 200)
  const after = outcomes.filter((o) => o.started >= backAt && cached(o))
  const cachedAgain = after.find((o) => o.headers.get('x-cache') !== 'bypass')
  const writes = await checkWrites(fs, outcomes)
  console.log(
    `Redis away for ${Math.round(backAt - faultAt)} ms; ${outcomes.length} requests, ${during.length} meanwhile; ` +
      `cache used again ${cachedAgain ? Math.round(cachedAgain.started - backAt) : '(never)'} ms after it was back; ` +
      `writes ${JSON.stringify(writes)}\n${describe(outcomes)}\nwhile away:\n${describe(during)}`,
  )

  assertAnsweredWithin(outcomes, CACHE_BOUND_MS)
  assertOnly(outcomes, [200, 201])
  assert(during.length > 0)
  for (const o of during.filter(cached)) assertEquals(o.headers.get('x-cache'), 'bypass', `${o.kind} while Redis was away`)

  // The limiter never switched off.
  assertEquals(limited.map((r) => r.status), [...Array(LIMITS.bulkLimit).fill(200), 429], limited.map((r) => r.body).join('\n'))
  const refused = limited[LIMITS.bulkLimit]
  assert(refused.ended < backAt, 'the 429 came while Redis was away')
  assertEquals(JSON.parse(refused.body).error.code, 'rate_limited')
  assertMatch(refused.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/)
  assertEquals(refused.headers.get('x-ratelimit-limit'), String(LIMITS.bulkLimit))

  // Back: the cache answers again within a few seconds, and stays used.
  assert(cachedAgain && cachedAgain.started - backAt <= 3000, 'the cache is used again within 3 s')
  assert(after.filter((o) => o.started > cachedAgain.started + 1000).every((o) => o.headers.get('x-cache') !== 'bypass'))

  // Nothing lost, and nothing stale: each summary counts every expense acknowledged before it,
  // including the summary cached before Redis went away.
  assertEquals(afterwards.count, 1, `the summary after Redis came back (x-cache: ${afterwards.cache})`)
  assert(writes.acknowledged > 0)
  assertSummariesCurrent(outcomes)
  for (const user of users) {
    const res = await call(fs, user, 'wins/summary')
    const summary = await res.json()
    const [{ count }] = await fs.admin<{ count: number }[]>`
      select count(*)::int as count from pam.expenses
      where user_id = ${user.id} and date between ${summary.start} and ${summary.end} and currency = ${summary.currency}`
    assertEquals(summary.expense_count, count, `the summary of ${user.id} (x-cache: ${res.headers.get('x-cache')})`)
  }
}
