// Postgres killed (SIGKILL of the postmaster) under load: every request answers
// in time, database requests get a fast 503 while it is down, its supervisor
// restarts it, requests succeed again within a few seconds, and every
// acknowledged write survives the crash.
import { assert, assertEquals } from '../_support/assert.ts'
import {
  DEADLINE_MS,
  LIMITS,
  lockHeldCategory,
  lockWaiters,
  MAX_PAUSE_MS,
  now,
  settled,
  signUp,
  sleep,
  startFaultStack,
  supervisorSaid,
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

Deno.test('Postgres killed under load: fast 503s, restarted by its supervisor, recovery, no acknowledged write lost', async () => {
  const fs = await startFaultStack()
  try {
    const users = await Promise.all([0, 1, 2, 3].map((i) => signUp(fs, `killed${i}`)))
    const load = startLoad(fs, users)
    await sleep(2000)

    // Requests sure to be in Postgres when it dies, one per connection: writes
    // waiting there for a row lock that another session holds (the load's
    // writes do not need it).
    const lock = await lockHeldCategory(fs, users[0])
    const waiting = Promise.all(Array.from({ length: LIMITS.poolMax }, () => send(fs, users[0], 'write', { category: 'held' })))
    await lockWaiters(fs, LIMITS.poolMax)

    const pid = await fs.postgres.pid()
    const killedAt = now()
    Deno.kill(pid, 'SIGKILL')
    const back = await supervisorSaid(fs.postgres, /^Postgres is running again/, killedAt)
    await lock.release()
    await sleep(MAX_PAUSE_MS + 3000)
    const outcomes = [...await load.stop(), ...await waiting].sort((a, b) => a.started - b.started)

    const downFor = back.at - killedAt
    // Down: from when the backends have seen the postmaster die (at once; 100 ms to be sure) to the restart.
    const during = outcomes.filter((o) => o.started >= killedAt + 100 && o.ended <= back.at)
    const recovery = recoveredAt(outcomes, back.at) - back.at
    const writes = await checkWrites(fs, outcomes)
    console.log(
      `Postgres down for ${Math.round(downFor)} ms; ${outcomes.length} requests, ${during.length} while down; ` +
        `recovered ${Math.round(recovery)} ms after the restart; writes ${JSON.stringify(writes)}\n` +
        `${describe(outcomes)}\nwhile down:\n${describe(during)}`,
    )

    assertEquals(fs.postgres.lines[0].line, `Postgres (pid ${pid}) was killed by SIGKILL; restarting it in 0.5 s`)
    assertEquals(await settled(fs.postgres.lost), false, 'its supervisor did not give up')
    assertAnsweredWithin(outcomes, LIMITS.acquireTimeoutMs + DEADLINE_MS + 1000)
    assertOnly(outcomes, [200, 201, 503])
    assertEquals((await waiting).map((o) => o.status), Array(LIMITS.poolMax).fill(503), 'the writes in flight when it died')
    // Down means down: nothing waited for it.
    const down = during.filter((o) => DATABASE_ONLY.includes(o.kind))
    assert(down.length > 0 && down.every((o) => o.status === 503), describe(during))
    const slow = down.filter((o) => latency(o) > LIMITS.acquireTimeoutMs)
    assert(slow.length === 0, `503s slower than ${LIMITS.acquireTimeoutMs} ms while down: ${slow.length}`)
    // The pause grows with the outage (0.5 s, 1 s, 2 s…), not with the requests
    // that were in flight when it began: once Postgres is back, requests wait at
    // most about as long as it was down.
    assert(recovery <= downFor + 1000, `recovered ${Math.round(recovery)} ms after a restart ${Math.round(downFor)} ms after the kill`)
    assert(writes.acknowledged > 0)
  } finally {
    await fs.stop()
  }
})
