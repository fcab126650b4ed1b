// Postgres frozen (SIGSTOP on the postmaster and every process it forked):
// the server accepts connections and answers nothing. Requests in flight get
// 503 at the transaction deadline and what they sent is never committed once
// the server runs again (their clients were told to retry); database
// requests get 503 at once during the pause that follows; once it runs again
// (SIGCONT), requests succeed within a few seconds, with every acknowledged
// write stored.
import { assert, assertEquals } from '../_support/assert.ts'
import {
  DEADLINE_MS,
  freeze,
  LIMITS,
  lockHeldCategory,
  lockWaiters,
  MAX_PAUSE_MS,
  now,
  signUp,
  sleep,
  startFaultStack,
} from './_harness.ts'
import {
  assertAnsweredWithin,
  assertOnly,
  checkWrites,
  DATABASE_ONLY,
  describe,
  latency,
  recoveredAt,
  send,
  startLoad,
} from './_load.ts'

Deno.test('Postgres frozen under load: 503 by the deadline and nothing committed after it, fast 503s, recovery, no acknowledged write lost', async () => {
  const fs = await startFaultStack()
  try {
    const users = await Promise.all([0, 1, 2, 3].map((i) => signUp(fs, `frozen${i}`)))

    // First with nothing else running, one write per connection.
    // Every connection is opened: one write each waits in Postgres at once (on a row lock), then goes through.
    const lock = await lockHeldCategory(fs, users[0])
    const opening = Promise.all(users.map(() => send(fs, users[0], 'write', { category: 'held' })))
    await lockWaiters(fs, LIMITS.poolMax)
    await lock.release()
    assertEquals((await opening).map((o) => o.status), Array(LIMITS.poolMax).fill(201))
    // Writes sent to the frozen server answer 503 at the deadline; once it runs
    // again it has what they sent, and none of it may be committed.
    let thaw = await freeze(await fs.postgres.pid())
    const stuck = await Promise.all(users.map((user) => send(fs, user, 'write')))
    thaw()
    await sleep(1000)
    assertEquals(stuck.map((o) => o.status), Array(LIMITS.poolMax).fill(503), describe(stuck))
    for (const o of stuck) assert(Math.abs(latency(o) - DEADLINE_MS) < 500, `answered after ${latency(o)} ms, not at the deadline`)
    assertEquals(await checkWrites(fs, stuck), { acknowledged: 0, failedButStored: 0, failedAndAbsent: LIMITS.poolMax })
    while ((await send(fs, users[0], 'list')).status !== 200) await sleep(100)

    // Then under load.
    const load = startLoad(fs, users)
    await sleep(2000)
    thaw = await freeze(await fs.postgres.pid())
    const frozenAt = now() // every process stopped
    await sleep(DEADLINE_MS + 3000)
    thaw()
    const thawedAt = now()
    await sleep(MAX_PAUSE_MS + 3000)
    const outcomes = await load.stop()

    const during = outcomes.filter((o) => o.started >= frozenAt && o.ended <= thawedAt)
    const down = during.filter((o) => DATABASE_ONLY.includes(o.kind))
    // After the first answers (requests on connections the server had stopped answering), the pause.
    const firstAnswer = Math.min(...down.filter((o) => o.status === 503).map((o) => o.ended))
    const afterFirst = down.filter((o) => o.started >= firstAnswer)
    const atOnce = afterFirst.filter((o) => latency(o) <= 50)
    const recovery = recoveredAt(outcomes, thawedAt) - thawedAt
    const writes = await checkWrites(fs, outcomes)
    console.log(
      `Postgres frozen for ${Math.round(thawedAt - frozenAt)} ms; ${outcomes.length} requests, ${during.length} while frozen; ` +
        `${atOnce.length} of ${afterFirst.length} database requests after the first 503 answered within 50 ms; ` +
        `recovered ${Math.round(recovery)} ms after SIGCONT; writes ${JSON.stringify(writes)}\n` +
        `${describe(outcomes)}\nwhile frozen:\n${describe(during)}\n` +
        `latencies of database requests while frozen: ${down.map((o) => Math.round(latency(o))).join(' ')}`,
    )

    assertAnsweredWithin(outcomes, LIMITS.acquireTimeoutMs + DEADLINE_MS + 1000)
    assertOnly(outcomes, [200, 201, 503])
    assert(down.length > 0 && down.every((o) => o.status === 503), describe(during))
    // Most answer at once; the others are the pause's probes (a connection attempt, or a wait for one).
    assert(atOnce.length >= afterFirst.length / 2, `${atOnce.length} of ${afterFirst.length} answered at once`)
    assert(recovery <= MAX_PAUSE_MS + 1000, `recovered ${Math.round(recovery)} ms after SIGCONT`)
    assert(writes.acknowledged > 0)
  } finally {
    await fs.stop()
  }
})
