// Retries that never duplicate: Idempotency-Key on every user write, and
// client-generated ids on creates, through the real gateway.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { wheelsAs } from './_support/wheels.ts'
import { winsAs } from './_support/wins.ts'

const expenseCount = async (userId: string) =>
  (await adminSql`select count(*)::int as n from pam.expenses where user_id = ${userId}`)[0].n as number

Deno.test('idempotency: a lost answer retried with the same key creates one expense, once, and gets the same body', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const key = crypto.randomUUID()
  const body = { amount: '42.10', description: 'Shell Roma', date: '2026-03-01' }
  const first = await w('expenses', { method: 'POST', body, headers: { 'idempotency-key': key } })
  assertEquals(first.status, 201, JSON.stringify(first.body))
  assertEquals(first.headers.get('idempotent-replayed'), null)
  const retry = await w('expenses', { method: 'POST', body, headers: { 'idempotency-key': key } })
  assertEquals(retry.status, 201)
  assertEquals(retry.headers.get('idempotent-replayed'), 'true')
  assertEquals(retry.body, first.body)
  assertEquals(await expenseCount(user.id), 1)
  // Another key is another request.
  assertEquals((await w('expenses', { method: 'POST', body, headers: { 'idempotency-key': crypto.randomUUID() } })).status, 201)
  assertEquals(await expenseCount(user.id), 2)
})

Deno.test('idempotency: the same key with another request is 422 and changes nothing', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const key = crypto.randomUUID()
  assertEquals((await w('expenses', { method: 'POST', body: { amount: '5.00' }, headers: { 'idempotency-key': key } })).status, 201)
  const other = await w('expenses', { method: 'POST', body: { amount: '6.00' }, headers: { 'idempotency-key': key } })
  assertEquals([other.status, other.body.error.code], [422, 'idempotency_key_reused'])
  const elsewhere = await w('income', { method: 'POST', body: { amount: '5.00', source: 'x' }, headers: { 'idempotency-key': key } })
  assertEquals([elsewhere.status, elsewhere.body.error.code], [422, 'idempotency_key_reused'], 'another path')
  assertEquals(await expenseCount(user.id), 1)
})

Deno.test('idempotency: concurrent duplicates create one row; the others are 409 or the remembered answer', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const key = crypto.randomUUID()
  const body = { amount: '19.95', description: 'Camp fee' }
  const answers = await Promise.all(Array.from({ length: 8 }, () => w('expenses', { method: 'POST', body, headers: { 'idempotency-key': key } })))
  const statuses = answers.map((a) => a.status).sort()
  assert(statuses.every((s) => s === 201 || s === 409), statuses.join(','))
  const created = answers.filter((a) => a.status === 201)
  assert(created.length >= 1)
  for (const a of created) assertEquals(a.body.expense.id, created[0].body.expense.id)
  for (const a of answers.filter((a) => a.status === 409)) {
    assertEquals(a.body.error.code, 'idempotency_in_progress')
    assertEquals(a.headers.get('retry-after'), '1')
  }
  assertEquals(await expenseCount(user.id), 1)
})

Deno.test("idempotency: keys are per user; one user's key never answers another's request", async () => {
  const a = await signUp()
  const b = await signUp()
  const key = crypto.randomUUID()
  const body = { amount: '7.00', description: 'Bread' }
  const fromA = await winsAs(a)('expenses', { method: 'POST', body, headers: { 'idempotency-key': key } })
  const fromB = await winsAs(b)('expenses', { method: 'POST', body, headers: { 'idempotency-key': key } })
  assertEquals([fromA.status, fromB.status], [201, 201])
  assertEquals(fromB.headers.get('idempotent-replayed'), null)
  assert(fromA.body.expense.id !== fromB.body.expense.id)
  assertEquals([await expenseCount(a.id), await expenseCount(b.id)], [1, 1])
  // B cannot read A's remembered answers directly either (RLS).
  const rows = await adminSql`select user_id from pam.idempotency_keys where key = ${key}`
  assertEquals(rows.length, 2)
})

Deno.test('idempotency: failures are not remembered (they change nothing); a retry runs again', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const key = crypto.randomUUID()
  const bad = await w('expenses', { method: 'POST', body: { amount: '5.00', category: 'yachts' }, headers: { 'idempotency-key': key } })
  assertEquals(bad.status, 400)
  const again = await w('expenses', { method: 'POST', body: { amount: '5.00', category: 'yachts' }, headers: { 'idempotency-key': key } })
  assertEquals([again.status, again.headers.get('idempotent-replayed')], [400, null])
  assertEquals((await adminSql`select count(*)::int as n from pam.idempotency_keys where key = ${key}`)[0].n, 0)
  const badKey = await w('expenses', { method: 'POST', body: { amount: '5.00' }, headers: { 'idempotency-key': 'ä'.repeat(3) } })
  assertEquals([badKey.status, badKey.body.error.code], [400, 'invalid_idempotency_key'])
  assertEquals(await expenseCount(user.id), 0)
})

Deno.test('idempotency: PATCH and the wheels writes take keys too; a key reserved by a dead request is taken over', async () => {
  const user = await signUp()
  const wh = wheelsAs(user)
  const key = crypto.randomUUID()
  const body = { name: 'Troopy' }
  const first = await wh('vehicles', { method: 'POST', body, headers: { 'idempotency-key': key } })
  const retry = await wh('vehicles', { method: 'POST', body, headers: { 'idempotency-key': key } })
  assertEquals([first.status, retry.status, retry.headers.get('idempotent-replayed')], [201, 201, 'true'])
  const patchKey = crypto.randomUUID()
  const p1 = await wh(`vehicles/${first.body.vehicle.id}`, { method: 'PATCH', body: { current_odometer: 5 }, headers: { 'idempotency-key': patchKey } })
  const p2 = await wh(`vehicles/${first.body.vehicle.id}`, { method: 'PATCH', body: { current_odometer: 5 }, headers: { 'idempotency-key': patchKey } })
  assertEquals([p1.status, p2.status, p2.headers.get('idempotent-replayed')], [200, 200, 'true'])

  // A reservation whose request never finished (its isolate died) blocks retries for a minute, then not.
  const stale = crypto.randomUUID()
  await adminSql`insert into pam.idempotency_keys (user_id, key, fingerprint, created_at)
                 values (${user.id}, ${stale}, ${'0'.repeat(64)}, now())`
  const blocked = await wh('places', { method: 'POST', body: { name: 'X', latitude: 1, longitude: 2 }, headers: { 'idempotency-key': stale } })
  assertEquals(blocked.status, 422, 'another fingerprint')
  await adminSql`update pam.idempotency_keys set created_at = now() - interval '25 hours' where key = ${stale}`
  const expired = await wh('places', { method: 'POST', body: { name: 'X', latitude: 1, longitude: 2 }, headers: { 'idempotency-key': stale } })
  assertEquals(expired.status, 201, 'a key older than 24 h is a new key')
})

Deno.test('client ids: a create with an id made on the device is the same record when sent again', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const wh = wheelsAs(user)
  const trip = crypto.randomUUID()
  const made = await wh('trips', { method: 'POST', body: { id: trip, name: 'Offline trip' } })
  assertEquals([made.status, made.body.trip.id], [201, trip])
  const again = await wh('trips', { method: 'POST', body: { id: trip, name: 'Renamed offline' } })
  assertEquals([again.status, again.body.trip.name], [200, 'Offline trip'], 'the existing record, unchanged')

  // An expense linked to the trip made offline, sent twice.
  const id = crypto.randomUUID()
  const e1 = await w('expenses', { method: 'POST', body: { id, amount: '12.00', trip_id: trip } })
  const e2 = await w('expenses', { method: 'POST', body: { id, amount: '12.00', trip_id: trip } })
  assertEquals([e1.status, e2.status, e2.body.expense.id, e2.body.expense.trip_id], [201, 200, id, trip])
  assertEquals(await expenseCount(user.id), 1)

  // Someone else's id is not yours to take.
  const other = await signUp()
  const taken = await winsAs(other)('expenses', { method: 'POST', body: { id, amount: '1.00' } })
  assertEquals([taken.status, taken.body.error.code], [409, 'id_taken'])
  assertEquals(await expenseCount(other.id), 0)
})

Deno.test('client ids: goals and their contributions are created once, whatever the retries', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const goal = crypto.randomUUID()
  const g1 = await w('goals', { method: 'POST', body: { id: goal, name: 'Solar', target_amount: '900.00' } })
  const g2 = await w('goals', { method: 'POST', body: { id: goal, name: 'Solar', target_amount: '900.00' } })
  assertEquals([g1.status, g2.status, g2.body.goal.id], [201, 200, goal])
  const deposit = crypto.randomUUID()
  const d1 = await w(`goals/${goal}/contributions`, { method: 'POST', body: { id: deposit, amount: '100.00' } })
  const d2 = await w(`goals/${goal}/contributions`, { method: 'POST', body: { id: deposit, amount: '100.00' } })
  assertEquals([d1.status, d2.status, d2.body.contribution.id], [201, 200, deposit])
  assertEquals(d2.body.goal.saved_amount, '100.00', 'saved once')
  const other = await signUp()
  const taken = await winsAs(other)('goals', { method: 'POST', body: { id: goal, name: 'Mine', target_amount: '1.00' } })
  assertEquals([taken.status, taken.body.error.code], [409, 'id_taken'])
})
