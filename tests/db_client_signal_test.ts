// A request's abort signal reaches the pool as a function (RequestSignal in db.ts): reading a
// served request's signal has a cost, so only a query that has waited 50 ms for a connection
// reads it. Such a query gives up its place as soon as its client has gone; one that finds a
// connection free never reads it.
import { assert, assertEquals } from './_support/assert.ts'
import { newAuthUser } from './_support/rls.ts'
import { database, postgresClient, type RequestSignal } from '../supabase/functions/_shared/db.ts'

// One slot: a query holding it makes every other one wait.
const db = database({
  url: Deno.env.get('PAM_TEST_DATABASE_URL')!,
  poolMax: 1,
  statementTimeoutMs: 5000,
  acquireTimeoutMs: 5000,
})
const as = async () => ({ sub: await newAuthUser(), role: 'authenticated', aud: 'authenticated' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A RequestSignal that counts how often it is read. */
function counted(signal: AbortSignal): RequestSignal & { reads: number } {
  const read = Object.assign(() => {
    read.reads++
    return signal
  }, { reads: 0 })
  return read
}

Deno.test('db: a query that finds a connection free never reads its request signal', async () => {
  const signal = counted(new AbortController().signal)
  const user = postgresClient(db, await as(), signal)
  assertEquals(await user.queryRaw('select 1 as one'), [{ one: 1 }])
  assertEquals([...await user.transaction((tx) => tx`select 2 as two`)], [{ two: 2 }])
  assertEquals(signal.reads, 0)
})

Deno.test('db: a query waiting for a connection watches its client after 50 ms and gives up when it goes', async () => {
  const claims = await as()
  let held = true
  const holding = postgresClient(db, claims).queryRaw('select pg_sleep(0.8)').finally(() => (held = false))
  await sleep(20) // the slot is taken

  // Gone before the watch starts: refused once it starts, long before the slot is free.
  const left = new AbortController()
  left.abort()
  const early = counted(left.signal)
  const refused = await postgresClient(db, claims, early).queryRaw('select 1').then(() => null, (e) => e)
  assertEquals(refused?.code, 'client_closed_request')
  assert(held, 'refused while the slot was still taken, not when it came free')
  assertEquals(early.reads, 1)

  // Gone while it waits: refused when it goes; the one queued behind it gets the slot.
  const leaving = new AbortController()
  const gone = postgresClient(db, claims, counted(leaving.signal)).queryRaw('select 1').then(() => null, (e) => e)
  const stays = counted(new AbortController().signal)
  const served = postgresClient(db, claims, stays).queryRaw('select 3 as three')
  await sleep(150)
  leaving.abort()
  assertEquals((await gone)?.code, 'client_closed_request')
  assertEquals(await served, [{ three: 3 }])
  assertEquals(stays.reads, 1, 'read once, when its wait passed 50 ms')
  await holding
})
