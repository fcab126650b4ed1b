// Sync after days offline: pulls since a cursor (created, updated, deleted;
// never skipping a late commit; 410 past the tombstone horizon; only your
// rows), and pushes of offline batches through the domain code (all or
// nothing, per-record results, the server wins conflicts).
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { syncAs } from './_support/sync.ts'
import { wheelsAs } from './_support/wheels.ts'
import { type Answer, winsAs } from './_support/wins.ts'

type Changes = Record<string, { created: { id: string }[]; updated: { id: string }[]; deleted: string[] }>
const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort()

Deno.test('sync pull: a first pull has everything; later pulls what was created, updated and deleted since', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const s = syncAs(user)
  const a = (await w('expenses', { method: 'POST', body: { amount: '10.00', description: 'a' } })).body.expense
  const b = (await w('expenses', { method: 'POST', body: { amount: '11.00', description: 'b' } })).body.expense
  const first = await s('pull')
  assertEquals(first.status, 200, JSON.stringify(first.body))
  assertEquals(typeof first.body.timestamp, 'number')
  const c1 = first.body.changes as Changes
  assertEquals(ids(c1.expenses.created), [a.id, b.id].sort())
  assertEquals([c1.expenses.updated, c1.expenses.deleted], [[], []])
  assertEquals(c1.expenses.created.find((e) => e.id === a.id), a, 'rows have the API shape')
  assert('vehicles' in c1 && 'trips' in c1 && 'income' in c1)

  await w(`expenses/${a.id}`, { method: 'PATCH', body: { amount: '12.00' } })
  await w(`expenses/${b.id}`, { method: 'DELETE' })
  const c = (await w('expenses', { method: 'POST', body: { amount: '13.00' } })).body.expense
  const second = await s(`pull?since=${first.body.timestamp}&tables=expenses`)
  assertEquals(second.status, 200)
  const c2 = second.body.changes as Changes
  assertEquals(Object.keys(c2), ['expenses'])
  assertEquals(ids(c2.expenses.created), [c.id])
  assertEquals(ids(c2.expenses.updated), [a.id])
  assertEquals(c2.expenses.deleted, [b.id])
  assert(second.body.timestamp >= first.body.timestamp)

  // Nothing new: nothing (or only what a still-running transaction elsewhere might hold back, never new rows).
  const third = await s(`pull?since=${second.body.timestamp}&tables=expenses`)
  assertEquals(third.body.changes.expenses.deleted, [])
})

Deno.test('sync pull: a transaction that commits after a pull is in the next pull, though it started before', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const before = await s('pull?tables=expenses')
  let during: number | undefined
  // A long-running writer: it inserts, then (still open) the app pulls, then it commits.
  const late = await adminSql.begin(async (tx) => {
    const [row] = await tx`insert into pam.expenses (user_id, amount, currency, category, date)
                           values (${user.id}, 9.99, 'AUD', 'other', '2026-03-01') returning id`
    const mid = await s(`pull?since=${before.body.timestamp}&tables=expenses`)
    assertEquals(mid.body.changes.expenses.created, [], 'not committed yet')
    during = mid.body.timestamp
    return row.id as string
  })
  const after = await s(`pull?since=${during}&tables=expenses`)
  assertEquals(ids(after.body.changes.expenses.created), [late], 'the late commit is not skipped')
})

Deno.test("sync pull: only the caller's rows and deletions; bad cursors are 400, forgotten ones 410", async () => {
  const a = await signUp()
  const b = await signUp()
  const start = (await syncAs(a)('pull?tables=expenses,vehicles')).body.timestamp
  const mine = (await winsAs(a)('expenses', { method: 'POST', body: { amount: '1.00' } })).body.expense
  const theirs = (await winsAs(b)('expenses', { method: 'POST', body: { amount: '2.00' } })).body.expense
  await winsAs(b)(`expenses/${theirs.id}`, { method: 'DELETE' })
  await wheelsAs(b)('vehicles', { method: 'POST', body: { name: 'Not yours' } })
  const pulled = await syncAs(a)(`pull?since=${start}&tables=expenses,vehicles`)
  assertEquals(ids(pulled.body.changes.expenses.created), [mine.id])
  assertEquals([pulled.body.changes.expenses.deleted, pulled.body.changes.vehicles.created], [[], []])
  const full = await syncAs(a)('pull')
  for (const rows of Object.values(full.body.changes as Changes)) {
    for (const r of [...rows.created, ...rows.updated] as Record<string, unknown>[]) {
      assert(r.id !== theirs.id && (r as { user_id?: string }).user_id === undefined, 'no other user, no user_id column')
    }
  }

  for (const bad of ['since=abc', 'since=-1', 'since=1e5', 'tables=nope', 'tables=']) {
    const res = await syncAs(a)(`pull?${bad}`)
    assertEquals(res.status, 400, bad)
  }

  // Tombstones older than the retention are removed and the horizon moves past them.
  const old = (await winsAs(a)('expenses', { method: 'POST', body: { amount: '3.00' } })).body.expense
  const cursor = (await syncAs(a)('pull?tables=expenses')).body.timestamp
  await winsAs(a)(`expenses/${old.id}`, { method: 'DELETE' })
  await adminSql`update pam.sync_tombstones set deleted_at = now() - interval '31 days' where row_id = ${old.id}`
  const [cleaned] = await adminSql`select * from pam.sync_cleanup()`
  assert(Number(cleaned.tombstones) >= 1)
  const gone = await syncAs(a)(`pull?since=${cursor}&tables=expenses`)
  const [h] = await adminSql`select xid::text from pam.sync_horizon`
  assertEquals([gone.status, gone.body.error?.code], [410, 'cursor_expired'], `cursor ${cursor}, horizon ${h.xid}`)
  assertEquals((await syncAs(a)('pull?tables=expenses')).status, 200, 'a full pull still works')
})

Deno.test('sync push: 200 changes queued over 10 days offline go in one batch and end as the server state', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const cursor = (await s('pull')).body.timestamp
  const vehicle = crypto.randomUUID()
  const trip = crypto.randomUUID()
  const day = (n: number) => `2026-04-${String(1 + (n % 10)).padStart(2, '0')}`
  const expenses = Array.from({ length: 125 }, (_, i) => ({
    id: crypto.randomUUID(),
    amount: `${10 + i}.50`,
    description: i % 3 ? 'Woolworths groceries' : 'Shell fuel',
    date: day(i),
    trip_id: trip,
    // Client bookkeeping and server fields are ignored.
    _status: 'created',
    _changed: '',
    created_at: 'whatever',
  }))
  const fills = Array.from({ length: 10 }, (_, i) => ({
    id: crypto.randomUUID(),
    amount: '90.00',
    category: 'fuel',
    date: day(i),
    vehicle_id: vehicle,
    fuel_volume: '45.00',
    odometer: 100_000 + i * 400,
  }))
  const maintenance = Array.from({ length: 20 }, (_, i) => ({
    id: crypto.randomUUID(),
    vehicle_id: vehicle,
    task: `Task ${i}`,
    date: '2026-03-20',
    interval_days: 90,
  }))
  const places = Array.from({ length: 30 }, (_, i) => ({ id: crypto.randomUUID(), name: `Spot ${i}`, latitude: -20 - i / 10, longitude: 130 }))
  const income = Array.from({ length: 10 }, (_, i) => ({ id: crypto.randomUUID(), amount: '100.00', source: `Gig ${i}` }))
  const updated = [{ id: expenses[0].id, amount: '99.00' }, { id: places[0].id, name: 'Renamed spot' }]
  const deleted = [expenses[1].id, places[1].id, places[2].id]
  const changes = {
    vehicles: { created: [{ id: vehicle, name: 'Troopy', current_odometer: 99_000 }] },
    trips: { created: [{ id: trip, name: 'Outback', vehicle_id: vehicle }] },
    expenses: { created: [...expenses, ...fills], updated: [updated[0]], deleted: [deleted[0]] },
    maintenance_records: { created: maintenance },
    saved_places: { created: places, updated: [updated[1]], deleted: deleted.slice(1) },
    income: { created: income },
  }
  const count = Object.values(changes).reduce((n, t) => n + Object.values(t).reduce((m, a) => m + (a as unknown[]).length, 0), 0)
  assert(count >= 200, `${count} changes`)
  const pushed = await s('push', { method: 'POST', body: { changes, last_pulled_at: cursor } })
  assertEquals(pushed.status, 200, JSON.stringify(pushed.body).slice(0, 2000))
  assertEquals(pushed.body.conflicts, 0)
  assert(pushed.body.results.every((r: { result: string }) => r.result === 'applied'))

  // The server's state is exactly the batch applied in order.
  const full = (await s('pull')).body.changes as Changes
  const has = (table: string) => new Set(ids(full[table].created))
  assertEquals(has("expenses").size, 125 + 10 - 1)
  assert(!has('expenses').has(deleted[0]))
  assertEquals(has('saved_places').size, 28)
  assertEquals(has('maintenance_records').size, 20)
  assertEquals(has('income').size, 10)
  const e0 = full.expenses.created.find((e) => e.id === expenses[0].id) as unknown as Record<string, unknown>
  assertEquals([e0.amount, e0.trip_id], ['99.00', trip])
  const shell = full.expenses.created.find((e) => e.id === expenses[3].id) as unknown as Record<string, unknown>
  assertEquals([shell.category, shell.category_source], ['fuel', 'rule'], 'classified as a route would')
  const v = full.vehicles.created[0] as unknown as Record<string, unknown>
  assertEquals(v.current_odometer, 103_600, 'the fill-ups advanced the odometer')
  assertEquals((full.saved_places.created.find((p) => p.id === places[0].id) as unknown as { name: string }).name, 'Renamed spot')

  // Pushing the same batch again changes nothing.
  const again = await s('push', { method: 'POST', body: { changes: { expenses: { created: expenses.slice(2, 5) } } } })
  assertEquals(again.body.results.map((r: { result: string }) => r.result), ['unchanged', 'unchanged', 'unchanged'])
})

Deno.test('sync push: all or nothing — a bad record or a refused one applies nothing and names the record', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const good = { id: crypto.randomUUID(), amount: '5.00' }
  const invalid = await s('push', {
    method: 'POST',
    body: { changes: { expenses: { created: [good, { id: crypto.randomUUID(), amount: '-3' }, { amount: '1.00' }] } } },
  })
  assertEquals([invalid.status, invalid.body.error.code, invalid.body.error.details.error_count], [400, 'invalid_changes', 2])
  const count = async () => (await adminSql`select count(*)::int as n from pam.expenses where user_id = ${user.id}`)[0].n
  assertEquals(await count(), 0)

  const vehicle = crypto.randomUUID()
  const refused = await s('push', {
    method: 'POST',
    body: {
      changes: {
        vehicles: { created: [{ id: vehicle, name: 'Van' }] },
        expenses: {
          created: [
            good,
            { id: crypto.randomUUID(), amount: '50.00', vehicle_id: vehicle, fuel_volume: '20.00', odometer: 5000, date: '2026-05-02' },
            { id: crypto.randomUUID(), amount: '50.00', vehicle_id: vehicle, fuel_volume: '20.00', odometer: 4000, date: '2026-05-03' },
          ],
        },
      },
    },
  })
  assertEquals([refused.status, refused.body.error.code], [409, 'odometer_out_of_order'], JSON.stringify(refused.body))
  assertEquals(refused.body.error.details.record.table, 'expenses')
  assertEquals(await count(), 0)
  assertEquals((await adminSql`select count(*)::int as n from pam.vehicles where user_id = ${user.id}`)[0].n, 0)

  const notPushable = await s('push', { method: 'POST', body: { changes: { notifications: { created: [] } } } })
  assertEquals(notPushable.status, 400)
})

Deno.test('sync push: the server wins a conflict, and says what it kept', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  const a = (await w('expenses', { method: 'POST', body: { amount: '10.00', description: 'phone' } })).body.expense
  const b = (await w('expenses', { method: 'POST', body: { amount: '20.00' } })).body.expense
  const cursor = (await s('pull')).body.timestamp
  // Meanwhile, on the web: a changes, and so does b.
  await w(`expenses/${a.id}`, { method: 'PATCH', body: { description: 'laptop' } })
  await w(`expenses/${b.id}`, { method: 'PATCH', body: { amount: '21.00' } })
  const untouched = (await w('expenses', { method: 'POST', body: { amount: '30.00' } })).body.expense
  const cursor2 = (await s('pull')).body.timestamp
  const res = await s('push', {
    method: 'POST',
    body: {
      last_pulled_at: cursor,
      changes: { expenses: { updated: [{ id: a.id, description: 'tablet' }], deleted: [b.id] } },
    },
  })
  assertEquals(res.status, 200)
  assertEquals(res.body.conflicts, 2)
  const [ra, rb] = res.body.results
  assertEquals([ra.result, ra.server.description], ['conflict', 'laptop'])
  assertEquals([rb.op, rb.result, rb.server.amount], ['delete', 'conflict', '21.00'])
  assertEquals((await w(`expenses/${b.id}`)).status, 200, 'not deleted')

  // With a cursor after those changes, the push applies.
  const ok = await s('push', {
    method: 'POST',
    body: { last_pulled_at: cursor2, changes: { expenses: { updated: [{ id: untouched.id, amount: '31.00' }] } } },
  })
  assertEquals(ok.body.results[0].result, 'applied')
  assertEquals((await w(`expenses/${untouched.id}`)).body.expense.amount, '31.00')
})

Deno.test("sync push: a whole record with _changed changes only those columns; updated_at decides conflicts exactly", async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  // Classified by a rule: a whole record sent back must not make its category "chosen by the user".
  const e = (await w('expenses', { method: 'POST', body: { amount: '40.00', description: 'Shell Roma' } })).body.expense
  assertEquals([e.category, e.category_source], ['fuel', 'rule'])
  const pulled = (await s('pull?tables=expenses')).body
  const local = pulled.changes.expenses.created[0]
  const res = await s('push', {
    method: 'POST',
    body: {
      last_pulled_at: pulled.timestamp,
      changes: { expenses: { updated: [{ ...local, amount: '41.00', description: 'edited offline', _status: 'updated', _changed: 'amount' }] } },
    },
  })
  assertEquals(res.body.results[0].result, 'applied', JSON.stringify(res.body))
  const now = (await w(`expenses/${e.id}`)).body.expense
  assertEquals([now.amount, now.description, now.category_source], ['41.00', 'Shell Roma', 'rule'])

  // The record as last pulled (its updated_at) is what the server has: no conflict, whatever the cursor.
  const again = await s('push', {
    method: 'POST',
    body: { last_pulled_at: 0, changes: { expenses: { updated: [{ ...now, amount: '42.00', _changed: 'amount' }] } } },
  })
  assertEquals(again.body.results[0].result, 'applied')
  // A stale updated_at is a conflict: the server keeps its version.
  const stale = await s('push', {
    method: 'POST',
    body: { changes: { expenses: { updated: [{ ...now, amount: '43.00', _changed: 'amount' }] } } },
  })
  assertEquals([stale.body.results[0].result, stale.body.results[0].server.amount], ['conflict', '42.00'])
})

Deno.test('sync push: a retried create carries what was edited since its lost answer, unless someone else changed the row', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  const rowOf = async (id: string) =>
    (await adminSql`select amount::text as amount, description, sync_xid::text as xid from pam.expenses where id = ${id}`)[0]
  // The first push committed; its answer was lost. The app then edited the record, still "created" on the device.
  const mine = { id: crypto.randomUUID(), amount: '12.00', description: 'Woolworths' }
  const place = { id: crypto.randomUUID(), name: 'Lake spot', latitude: -20.5, longitude: 130 }
  assertEquals((await s('push', { method: 'POST', body: { changes: { expenses: { created: [mine] }, saved_places: { created: [place] } } } })).status, 200)
  const edited = await s('push', {
    method: 'POST',
    body: {
      changes: {
        expenses: { created: [{ ...mine, amount: '14.50', _status: 'created', _changed: '' }] },
        saved_places: { created: [{ ...place, name: 'Lake spot (shade)' }] },
      },
    },
  })
  assertEquals(edited.status, 200, JSON.stringify(edited.body))
  assertEquals(edited.body.results.map((r: { result: string }) => r.result), ['applied', 'applied'])
  assertEquals([(await rowOf(mine.id)).amount, (await rowOf(mine.id)).description], ['14.50', 'Woolworths'])
  assertEquals((await adminSql`select name from pam.saved_places where id = ${place.id}`)[0].name, 'Lake spot (shade)')

  // Sent once more as it now is: nothing changes, not even the row's version.
  const before = await rowOf(mine.id)
  const same = await s('push', { method: 'POST', body: { changes: { expenses: { created: [{ ...mine, amount: '14.50' }] } } } })
  assertEquals(same.body.results[0].result, 'unchanged')
  assertEquals(await rowOf(mine.id), before)

  // Changed on the web since: a retry with other content is a conflict, and the server's version stays.
  await w(`expenses/${mine.id}`, { method: 'PATCH', body: { description: 'Woolworths Roma' } })
  const late = await s('push', { method: 'POST', body: { changes: { expenses: { created: [{ ...mine, amount: '15.00' }] } } } })
  assertEquals(late.body.conflicts, 1)
  assertEquals([late.body.results[0].result, late.body.results[0].server.description], ['conflict', 'Woolworths Roma'])
  assertEquals((await rowOf(mine.id)).amount, '14.50')
  const unchanged = await s('push', {
    method: 'POST',
    body: { changes: { expenses: { created: [{ ...mine, amount: '14.50', description: 'Woolworths Roma' }] } } },
  })
  assertEquals(unchanged.body.results[0].result, 'unchanged', 'the same content as the server has')

  // A vehicle whose fill-ups (in the first push) moved its odometer on: the stale reading is refused, the batch is not.
  const van = { id: crypto.randomUUID(), name: 'Troopy', current_odometer: 99_000 }
  // As a sync client sends a record: every column, null where nothing was given (the full-tank flag follows the volume).
  const fill = {
    id: crypto.randomUUID(), amount: '90.00', category: 'fuel', vehicle_id: van.id, fuel_volume: '45.00', odometer: 100_400,
    fuel_full_tank: null, trip_id: null, merchant: null,
  }
  const batch = { vehicles: { created: [van] }, expenses: { created: [fill] } }
  assertEquals((await s('push', { method: 'POST', body: { changes: batch } })).body.conflicts, 0)
  const retry = await s('push', { method: 'POST', body: { changes: { ...batch, vehicles: { created: [{ ...van, name: 'Troopy 2' }] } } } })
  assertEquals(retry.status, 200, JSON.stringify(retry.body))
  const [rv, rf] = retry.body.results
  assertEquals([rv.result, rv.server.current_odometer, rv.server.name], ['conflict', 100_400, 'Troopy'])
  assertEquals(rf.result, 'unchanged')
  assertEquals((await adminSql`select fuel_full_tank from pam.expenses where id = ${fill.id}`)[0].fuel_full_tank, true)
})

Deno.test('sync push: a row the pull saw is no conflict, though a long transaction held the cursor back', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  const e = (await w('expenses', { method: 'POST', body: { amount: '10.00', description: 'camp fee' } })).body.expense
  const other = await signUp()
  await adminSql.begin(async (long) => {
    // A transaction elsewhere that started first and is still running (a job's batch, a big push).
    await long`insert into pam.expenses (user_id, amount, currency, category, date) values (${other.id}, 1, 'AUD', 'other', '2026-03-01')`
    // The app's own earlier push (or anyone's write) commits, then the app pulls and sees it.
    const first = await s('push', { method: 'POST', body: { changes: { expenses: { updated: [{ id: e.id, amount: '11.00' }] } } } })
    assertEquals(first.body.results[0].result, 'applied')
    const pulled = await s('pull?tables=expenses')
    assertEquals(pulled.body.changes.expenses.created.find((r: { id: string }) => r.id === e.id).amount, '11.00')
    const [held] = await adminSql`select sync_xid::text as xid from pam.expenses where id = ${e.id}`
    assert(BigInt(held.xid) >= BigInt(pulled.body.timestamp), 'the cursor is held back below that write')

    // Edited on the device after that pull: applied, not a conflict.
    const edit = await s('push', {
      method: 'POST',
      body: { last_pulled_at: pulled.body.timestamp, changes: { expenses: { updated: [{ id: e.id, description: 'camp fee, 2 nights' }] } } },
    })
    assertEquals([edit.body.results[0].result, edit.body.conflicts], ['applied', 0], JSON.stringify(edit.body))

    // A change the pull did not see still is one.
    await w(`expenses/${e.id}`, { method: 'PATCH', body: { amount: '12.00' } })
    const stale = await s('push', {
      method: 'POST',
      body: { last_pulled_at: pulled.body.timestamp, changes: { expenses: { updated: [{ id: e.id, amount: '13.00' }] } } },
    })
    assertEquals([stale.body.results[0].result, stale.body.results[0].server.amount], ['conflict', '12.00'])

    // A cursor whose snapshot is not kept counts every row written since it, as before.
    await adminSql`delete from pam.sync_pulls where user_id = ${user.id}`
    const unknown = await s('push', {
      method: 'POST',
      body: { last_pulled_at: pulled.body.timestamp, changes: { expenses: { updated: [{ id: e.id, description: 'x' }] } } },
    })
    assertEquals(unknown.body.results[0].result, 'conflict')
  })
  assertEquals((await w(`expenses/${e.id}`)).body.expense.description, 'camp fee, 2 nights')
})

Deno.test('sync push: ids in upper case (as Swift writes a UUID) are the same records: conflicts found, answered and pulled in lower case', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  const e = (await w('expenses', { method: 'POST', body: { amount: '10.00' } })).body.expense
  const local = (await s('pull?tables=expenses')).body.changes.expenses.created[0]
  await w(`expenses/${e.id}`, { method: 'PATCH', body: { amount: '11.00' } })
  const stale = await s('push', {
    method: 'POST',
    body: { changes: { expenses: { updated: [{ ...local, id: e.id.toUpperCase(), amount: '12.00', _changed: 'amount' }] } } },
  })
  const [r] = stale.body.results
  assertEquals([r.id, r.result, r.server?.amount], [e.id, 'conflict', '11.00'])

  const made = crypto.randomUUID().toUpperCase()
  const created = await s('push', { method: 'POST', body: { changes: { expenses: { created: [{ id: made, amount: '8.00' }] } } } })
  const outcome = (res: Answer) => res.body.results.map((x: { id: string; result: string }) => [x.id, x.result])
  assertEquals(outcome(created), [[made.toLowerCase(), 'applied']])
  assert(ids((await s('pull?tables=expenses')).body.changes.expenses.created).includes(made.toLowerCase()))
  const gone = await s('push', { method: 'POST', body: { changes: { expenses: { deleted: [made] } } } })
  assertEquals(outcome(gone), [[made.toLowerCase(), 'applied']])
})

/** The backend that waits on a lock `pid` holds (polled, so a race runs the same way every time). */
async function waitingOn(pid: number): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const [row] = await adminSql`select pid from pg_stat_activity where ${pid}::int = any(pg_blocking_pids(pid))`
    if (row) return row.pid
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`nothing waits on backend ${pid}`)
}

Deno.test('sync push: two pushes of one row at once — one is applied, the other a conflict; neither overwrites the other', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const [e1, e2, m] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()]
  const vehicle = crypto.randomUUID()
  const made = await s('push', {
    method: 'POST',
    body: {
      changes: {
        vehicles: { created: [{ id: vehicle, name: 'Van' }] },
        expenses: { created: [{ id: e1, amount: '10.00' }, { id: e2, amount: '10.00' }] },
        maintenance_records: { created: [{ id: m, vehicle_id: vehicle, task: 'Oil', date: '2026-03-01' }] },
      },
    },
  })
  assertEquals(made.body.conflicts, 0, JSON.stringify(made.body))
  const pulled = (await s('pull?tables=expenses')).body
  const local1 = pulled.changes.expenses.created.find((r: { id: string }) => r.id === e1)
  const amountOf = async (id: string) => (await adminSql`select amount::text as amount from pam.expenses where id = ${id}`)[0]?.amount

  // `first` is held mid-transaction (it has written its expense, and waits on the service record the admin
  // connection holds locked); `second` is sent then, and waits on `first`; then both finish.
  const race = async (first: unknown, second: unknown): Promise<Answer[]> => {
    let answers: Promise<Answer>[] = []
    await adminSql.begin(async (tx) => {
      const [{ pid }] = await tx`select pg_backend_pid() as pid from pam.maintenance_records where id = ${m} for update`
      const a = s('push', { method: 'POST', body: first })
      const firstPid = await waitingOn(pid)
      const b = s('push', { method: 'POST', body: second })
      await waitingOn(firstPid)
      answers = [a, b]
    })
    return await Promise.all(answers)
  }
  const first = (id: string, amount: string) => ({
    changes: { expenses: { updated: [{ id, amount }] }, maintenance_records: { updated: [{ id: m, task: `Oil ${amount}` }] } },
  })

  // Both edit e1 from the same version (its updated_at as pulled).
  const [a, b] = await race(first(e1, '20.00'), {
    changes: { expenses: { updated: [{ ...local1, amount: '30.00', _changed: 'amount' }] } },
  })
  assertEquals(a.body.results.map((r: { result: string }) => r.result), ['applied', 'applied'], JSON.stringify(a.body))
  assertEquals([b.body.results[0].result, b.body.results[0].server?.amount], ['conflict', '20.00'], JSON.stringify(b.body))
  assertEquals(await amountOf(e1), '20.00')

  // One edits e2, the other (by its last pull) deletes it.
  const [c, d] = await race(first(e2, '21.00'), { last_pulled_at: pulled.timestamp, changes: { expenses: { deleted: [e2] } } })
  assertEquals(c.body.conflicts, 0, JSON.stringify(c.body))
  assertEquals([d.body.results[0].result, d.body.results[0].server?.amount], ['conflict', '21.00'], JSON.stringify(d.body))
  assertEquals(await amountOf(e2), '21.00')
})

Deno.test("sync push: one traveller's pushes take turns, so two devices' pushes never deadlock over a vehicle and a fill-up", async () => {
  const user = await signUp()
  const s = syncAs(user)
  const vehicle = async (name: string) =>
    (await wheelsAs(user)('vehicles', { method: 'POST', body: { name, current_odometer: 100_000 } })).body.vehicle.id as string
  const [v, v2] = [await vehicle('Troopy'), await vehicle('Hilux')]
  const e1 = (await winsAs(user)('expenses', { method: 'POST', body: { amount: '10.00' } })).body.expense.id as string
  const pulled = (await s('pull?tables=vehicles,expenses')).body.changes
  const seen = (rows: { id: string }[], id: string) => rows.find((r) => r.id === id)!
  const fill = (vehicle_id: string) =>
    ({ id: crypto.randomUUID(), amount: '90.00', vehicle_id, fuel_volume: '45.00', odometer: 100_400, date: '2026-03-01' })
  let answers: Promise<Answer>[] = []
  await adminSql.begin(async (tx) => {
    // The phone's push locks e1 (its conflict check), then waits at its first fill-up's vehicle, held here…
    const [{ pid }] = await tx`select pg_backend_pid() as pid from pam.vehicles where id = ${v2} for update`
    const phone = s('push', {
      method: 'POST',
      body: {
        changes: {
          expenses: { updated: [{ ...seen(pulled.expenses.created, e1), amount: '20.00', _changed: 'amount' }], created: [fill(v2), fill(v)] },
        },
      },
    })
    const phonePid = await waitingOn(pid)
    // …the tablet's, checking the vehicle and e1 as it pulled them, is sent meanwhile and waits for the phone's.
    const tablet = s('push', {
      method: 'POST',
      body: {
        changes: {
          vehicles: { updated: [{ ...seen(pulled.vehicles.created, v), notes: 'new tyres', _changed: 'notes' }] },
          expenses: { updated: [{ ...seen(pulled.expenses.created, e1), amount: '30.00', _changed: 'amount' }] },
        },
      },
    })
    await waitingOn(phonePid)
    answers = [phone, tablet]
  })
  const [phone, tablet] = await Promise.all(answers)
  assertEquals([phone.status, phone.body.conflicts], [200, 0], JSON.stringify(phone.body))
  // The tablet's comes after: both rows changed since it pulled them (the fill-up moved the vehicle on).
  assertEquals(tablet.status, 200, JSON.stringify(tablet.body))
  assertEquals(tablet.body.results.map((r: { result: string }) => r.result), ['conflict', 'conflict'], JSON.stringify(tablet.body))
  const [row] = await adminSql`select amount::text as amount from pam.expenses where id = ${e1}`
  assertEquals(row.amount, '20.00')
})

Deno.test("sync push: the batch's own writes are no conflict (a fill-up moves the vehicle edited with it on); another's still is", async () => {
  const user = await signUp()
  const s = syncAs(user)
  const v = (await wheelsAs(user)('vehicles', { method: 'POST', body: { name: 'Troopy', current_odometer: 100_000 } })).body.vehicle
  const local = (await s('pull?tables=vehicles')).body.changes.vehicles.created[0]
  const fill = (odometer: number, date: string) =>
    ({ id: crypto.randomUUID(), amount: '90.00', vehicle_id: v.id, fuel_volume: '45.00', odometer, date })
  const res = await s('push', {
    method: 'POST',
    body: {
      changes: {
        vehicles: { updated: [{ ...local, notes: 'new tyres', _changed: 'notes' }] },
        expenses: { created: [fill(100_400, '2026-03-01')] },
        maintenance_records: { created: [{ id: crypto.randomUUID(), vehicle_id: v.id, task: 'Tyres', date: '2026-03-02', odometer: 100_500 }] },
      },
    },
  })
  assertEquals(res.body.conflicts, 0, JSON.stringify(res.body))
  const [now] = await adminSql`select notes, current_odometer from pam.vehicles where id = ${v.id}`
  assertEquals([now.notes, now.current_odometer], ['new tyres', 100_500])

  // Changed on the web since that pull: still a conflict, though this batch's fill-up writes the row too.
  await wheelsAs(user)(`vehicles/${v.id}`, { method: 'PATCH', body: { name: 'Troopy 78' } })
  const stale = await s('push', {
    method: 'POST',
    body: {
      changes: {
        vehicles: { updated: [{ ...local, notes: 'old tyres', _changed: 'notes' }] },
        expenses: { created: [fill(100_900, '2026-03-03')] },
      },
    },
  })
  const [rf, rv] = stale.body.results
  assertEquals([rv.table, rv.result, rv.server?.notes, rv.server?.current_odometer], ['vehicles', 'conflict', 'new tyres', 100_900])
  assertEquals(rf.result, 'applied')
})

Deno.test('sync: a retried create of a record deleted elsewhere since is a conflict, not brought back; a pull never lists an id as both there and deleted', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  const cursor = (await s('pull?tables=expenses,saved_places')).body.timestamp
  const e = { id: crypto.randomUUID(), amount: '12.00' }
  const place = { id: crypto.randomUUID(), name: 'Lake spot', latitude: -20.5, longitude: 130 }
  const batch = { expenses: { created: [e] }, saved_places: { created: [place] } }
  assertEquals((await s('push', { method: 'POST', body: { changes: batch } })).body.conflicts, 0)
  // The answer was lost; meanwhile both are deleted on the web, and the app sends the batch again.
  assertEquals((await w(`expenses/${e.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await wheelsAs(user)(`places/${place.id}`, { method: 'DELETE' })).status, 204)
  const retry = await s('push', { method: 'POST', body: { changes: batch } })
  const results = retry.body.results.map((r: { id: string; result: string; server: unknown }) => [r.id, r.result, r.server])
  assertEquals(results, [[place.id, 'conflict', null], [e.id, 'conflict', null]], JSON.stringify(retry.body))
  assertEquals((await w(`expenses/${e.id}`)).status, 404, 'not brought back')
  assertEquals((await wheelsAs(user)(`places/${place.id}`)).status, 404, 'not brought back')
  const pulled = (await s(`pull?since=${cursor}&tables=expenses`)).body.changes.expenses
  assertEquals([ids(pulled.created), pulled.deleted], [[], [e.id]])

  // Created anew with that id through the route (an explicit create, which may): the row is there, and the pull
  // gives the row, not also its deletion.
  const again = await w('expenses', { method: 'POST', body: e, headers: { 'Idempotency-Key': crypto.randomUUID() } })
  assertEquals([again.status, again.body.expense.id], [201, e.id])
  const after = (await s(`pull?since=${cursor}&tables=expenses`)).body.changes.expenses
  assertEquals([ids(after.created), after.deleted], [[e.id], []])
})

Deno.test("sync push: an update's updated_at is the instant it was pulled at, in any ISO form; '' or a number is not read; anything else is 400", async () => {
  const user = await signUp()
  const s = syncAs(user)
  const w = winsAs(user)
  const e = (await w('expenses', { method: 'POST', body: { amount: '10.00' } })).body.expense
  const local = (await s('pull?tables=expenses')).body.changes.expenses.created[0]
  const push = (record: Record<string, unknown>) =>
    s('push', { method: 'POST', body: { changes: { expenses: { updated: [{ id: e.id, ...record }] } } } })

  for (const bad of ['garbage', '2026-13-45T00:00:00Z', '0000-01-01T00:00:00Z']) {
    const res = await push({ amount: '11.00', updated_at: bad })
    assertEquals([res.status, res.body.error?.code], [400, 'invalid_changes'], bad)
    assertEquals(res.body.error.details.errors[0].details[0].path, ['updated_at'])
  }
  // WatermelonDB stamps its own clock there: a number, or '' in a text column. Not a version the server gave.
  for (const stamp of ['', Date.now()]) assertEquals((await push({ amount: '11.00', updated_at: stamp })).body.results[0].result, 'applied')
  const now = (await w(`expenses/${e.id}`)).body.expense
  // The same instant written another way (an offset for Z): no conflict; the pulled one, now stale, is.
  const same = await push({ amount: '12.00', updated_at: now.updated_at.replace('Z', '+00:00') })
  assertEquals(same.body.results[0].result, 'applied', JSON.stringify(same.body))
  const stale = await push({ amount: '13.00', updated_at: local.updated_at.replace('Z', '+00:00') })
  assertEquals([stale.body.results[0].result, stale.body.results[0].server?.amount], ['conflict', '12.00'])
})
