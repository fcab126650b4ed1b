// A client that goes away while its request waits for a database connection:
// the request gives up its place in the queue and does nothing afterwards.
// Observable through a write: the pool is held by writes waiting in Postgres
// (on a row lock), two more writes queue for a connection, the first one's
// client disconnects, the lock is let go: the second write is stored, the
// first never is.
import { assert, assertEquals } from '../_support/assert.ts'
import { lockHeldCategory, lockWaiters, signUp, sleep, startFaultStack } from './_harness.ts'
import { checkWrites, send } from './_load.ts'

Deno.test('a request whose client goes away while it waits for a connection never runs', async () => {
  const fs = await startFaultStack({
    cache: 'memory',
    // Long enough that a queued request would still get its connection once the lock is let go.
    env: { PAM_DB_POOL_MAX: '2', PAM_DB_ACQUIRE_TIMEOUT_MS: '10000', PAM_DB_STATEMENT_TIMEOUT_MS: '10000' },
  })
  try {
    const [holder, user] = await Promise.all([signUp(fs, 'holder'), signUp(fs, 'queued')])
    const lock = await lockHeldCategory(fs, holder)
    const holding = Promise.all([0, 1].map(() => send(fs, holder, 'write', { category: 'held' })))
    await lockWaiters(fs, 2)

    const leaving = new AbortController()
    const gone = send(fs, user, 'write', { signal: leaving.signal })
    await sleep(300)
    const staying = send(fs, user, 'write')
    await sleep(300) // both wait for a connection
    leaving.abort()
    await sleep(300) // the server has seen the connection close
    await lock.release()

    const outcomes = [...await holding, await gone, await staying]
    assertEquals(outcomes.map((o) => o.status), [201, 201, 0, 201], outcomes.map((o) => o.error ?? o.text).join('\n'))
    assert(/abort/i.test(outcomes[2].error ?? ''), outcomes[2].error)
    await sleep(500) // anything still running has had its chance
    // The write whose client left is not stored; the one queued behind it is.
    assertEquals(await checkWrites(fs, outcomes), { acknowledged: 3, failedButStored: 0, failedAndAbsent: 1 })
  } finally {
    await fs.stop()
  }
})
