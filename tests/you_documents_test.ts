// Documents (GET/POST/PATCH/DELETE /you/documents): registration, insurance
// and licences with a scan in the `documents` bucket, an expiry date and a
// vehicle; RLS on pam.documents; and their expiry reminders through the jobs
// function — 30 and 7 days before, once each, in the traveller's time zone.
import { assert, assertEquals } from './_support/assert.ts'
import { checkRls } from './_support/rls.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { PDF, upload } from './_support/storage.ts'
import { type Answer, functionAs } from './_support/wins.ts'
import { callJob, usersInOwnRange } from './_support/jobs.ts'

const youAs = functionAs('you')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

Deno.test('documents: create with a scan, read, list and filter, change, delete; bad input is a 4xx that changes nothing', async () => {
  const [user, other] = [await signUp(), await signUp()]
  const you = youAs(user)
  const scan = `${user.id}/rego-2026.pdf`
  await upload(user.client, 'documents', scan, PDF, { contentType: 'application/pdf' })
  const [vehicle] = await adminSql`insert into pam.vehicles (user_id, name) values (${user.id}, 'Troopy') returning id`
  const created = await you('documents', {
    method: 'POST',
    body: {
      kind: 'registration',
      title: '  Troopy registration  ',
      object_path: scan,
      reference: 'XQG-984',
      expires_on: '2026-12-31',
      vehicle_id: vehicle.id,
      notes: 'Renew online\nbefore the trip',
    },
  })
  assertEquals(created.status, 201, show(created))
  const d = created.body.document
  assertEquals({ ...d, id: undefined, created_at: undefined, updated_at: undefined }, {
    id: undefined,
    kind: 'registration',
    title: 'Troopy registration',
    object_path: scan,
    reference: 'XQG-984',
    expires_on: '2026-12-31',
    vehicle_id: vehicle.id,
    notes: 'Renew online\nbefore the trip',
    created_at: undefined,
    updated_at: undefined,
  })
  const licence = await you('documents', { method: 'POST', body: { kind: 'licence', title: 'Heavy rigid licence', expires_on: '2029-05-01' } })
  assertEquals([licence.status, licence.body.document.object_path], [201, null], 'a scan is optional')
  assertEquals((await you(`documents/${d.id}`)).body.document, d)
  assertEquals((await you('documents')).body.documents.map((x: { id: string }) => x.id), [licence.body.document.id, d.id])
  assertEquals((await you('documents?kind=registration')).body.documents.length, 1)
  assertEquals((await you('documents?expires_before=2027-01-01')).body.documents.map((x: { id: string }) => x.id), [d.id])
  assertEquals((await you(`documents?vehicle_id=${vehicle.id}`)).body.documents.length, 1)
  assertEquals((await youAs(other)(`documents/${d.id}`)).status, 404, "another traveller's is not found")

  const count = async () => (await adminSql`select count(*)::int as n from pam.documents where user_id = ${user.id}`)[0].n
  const before = await count()
  const othersScan = `${other.id}/theirs.pdf`
  await upload(other.client, 'documents', othersScan, PDF, { contentType: 'application/pdf' })
  const [othersVehicle] = await adminSql`insert into pam.vehicles (user_id, name) values (${other.id}, 'Theirs') returning id`
  for (const [body, code] of [
    [{ kind: 'insurance', title: 'x', object_path: othersScan }, 'unknown_file'],
    [{ kind: 'insurance', title: 'x', object_path: `${user.id}/missing.pdf` }, 'unknown_file'],
    [{ kind: 'insurance', title: 'x', vehicle_id: othersVehicle.id }, 'unknown_vehicle'],
    [{ kind: 'passport', title: 'x' }, 'validation_failed'],
    [{ kind: 'insurance', title: '' }, 'validation_failed'],
    [{ kind: 'insurance', title: 'x', expires_on: '2026-02-30' }, 'validation_failed'],
    [{ kind: 'insurance', title: 'x', reference: 'a\tb' }, 'validation_failed'],
    [{ kind: 'insurance', title: 'x', user_id: other.id }, 'validation_failed'],
  ] as const) {
    const res = await you('documents', { method: 'POST', body })
    assertEquals([res.status, res.body.error?.code], [400, code], `${JSON.stringify(body)}: ${show(res)}`)
  }
  assertEquals(await count(), before, 'nothing written')

  const scan2 = `${user.id}/rego-2027.pdf`
  await upload(user.client, 'documents', scan2, PDF, { contentType: 'application/pdf' })
  const patched = await you(`documents/${d.id}`, { method: 'PATCH', body: { object_path: scan2, expires_on: '2027-12-31' } })
  assertEquals(patched.status, 200, show(patched))
  assertEquals([patched.body.document.object_path, patched.body.document.expires_on], [scan2, '2027-12-31'])
  assertEquals((await user.client.storage.from('documents').download(scan)).error?.message, 'Object not found', 'the old scan is removed')
  assertEquals((await you(`documents/${d.id}`, { method: 'PATCH', body: { object_path: othersScan } })).body.error.code, 'unknown_file')
  assertEquals((await you(`documents/${d.id}`, { method: 'PATCH', body: {} })).status, 400)
  assertEquals((await youAs(other)(`documents/${d.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await you(`documents/${d.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await you(`documents/${d.id}`)).status, 404)
  assertEquals((await user.client.storage.from('documents').download(scan2)).error?.message, 'Object not found')
})

Deno.test('documents: at most 200 a traveller', async () => {
  const user = await signUp()
  await adminSql`insert into pam.documents (user_id, kind, title) select ${user.id}, 'other', 'Doc ' || g from generate_series(1, 200) g`
  const res = await youAs(user)('documents', { method: 'POST', body: { kind: 'other', title: 'One too many' } })
  assertEquals([res.status, res.body.error.code, res.body.error.details], [409, 'limit_reached', { limit: 'documents', max: 200 }])
})

Deno.test('documents RLS: owner-only, anon nothing', async () => {
  await checkRls({
    table: 'documents',
    createOwned: async (owner) =>
      (await adminSql`insert into pam.documents (user_id, kind, title) values (${owner}, 'insurance', 'Insurance') returning id`)[0].id,
    insertValues: (userId) => ({ user_id: userId, kind: 'licence', title: 'Licence' }),
    updateValues: { title: 'changed' },
    ownerMayDelete: true,
  })
})

/** Runs document-reminders for one batch (the test's own users) at `at`. */
async function remind(range: { from: string; to: string }, index: number, at: string) {
  const res = await callJob('document-reminders', { at, batch: { index, ...range } })
  assertEquals(res.status, 200, show(res))
  return res.body
}

const remindersOf = async (userId: string) =>
  (await adminSql`select title, data from pam.notifications where user_id = ${userId} and kind = 'document_expiring'
                  order by created_at, data ->> 'reminder_days' desc`)
    .map((n) => `${n.data.expires_on} ${n.data.reminder_days}d (${n.data.days_left} left): ${n.title}`)

Deno.test('document reminders: 30 and 7 days before, once each, on the traveller\'s own calendar day', async () => {
  // Kiritimati is UTC+14: at 12:00 UTC it is already the next day there.
  const { ids: [utc, kiri, off], range } = await usersInOwnRange(3)
  await adminSql`update pam.profiles set preferences = '{"timezone":"Pacific/Kiritimati"}' where id = ${kiri}`
  await adminSql`update pam.profiles set preferences = '{"notifications":{"document_reminders":false}}' where id = ${off}`
  for (const who of [utc, kiri, off]) {
    await adminSql`insert into pam.documents (user_id, kind, title, expires_on) values (${who}, 'insurance', 'Van insurance', '2031-06-30')`
  }
  const index = 70_000 + Math.floor(Math.random() * 20_000)
  // 31 days before in UTC: nothing; in Kiritimati it is the 30th day before.
  await remind(range, index, '2031-05-30T12:00:00Z')
  assertEquals(await remindersOf(utc), [])
  assertEquals(await remindersOf(kiri), ['2031-06-30 30d (30 left): Van insurance expires in 30 days'])
  await remind(range, index, '2031-05-31T12:00:00Z')
  assertEquals(await remindersOf(utc), ['2031-06-30 30d (30 left): Van insurance expires in 30 days'])
  assertEquals((await remindersOf(kiri)).length, 1, 'each reminder once')
  // Runs in between send nothing new, however often they come.
  await remind(range, index, '2031-06-10T12:00:00Z')
  await remind(range, index + 1, '2031-06-10T12:00:00Z')
  assertEquals((await remindersOf(utc)).length, 1)
  // 7 days before; then the last days send nothing more.
  await remind(range, index, '2031-06-23T12:00:00Z')
  assertEquals(await remindersOf(utc), [
    '2031-06-30 30d (30 left): Van insurance expires in 30 days',
    '2031-06-30 7d (7 left): Van insurance expires in 7 days',
  ])
  await remind(range, index, '2031-06-29T12:00:00Z')
  await remind(range, index, '2031-07-01T12:00:00Z')
  assertEquals((await remindersOf(utc)).length, 2, 'nothing after the 7-day one, nor once expired')
  assertEquals(await remindersOf(off), [], 'document_reminders off')
  // Renewed: a new expiry date starts the reminders over.
  await adminSql`update pam.documents set expires_on = '2032-06-30' where user_id = ${utc} and kind = 'insurance'`
  await remind(range, index, '2032-06-20T12:00:00Z')
  const renewed = (await remindersOf(utc)).filter((r) => r.startsWith('2032'))
  assertEquals(renewed, ['2032-06-30 30d (10 left): Van insurance expires in 10 days'])
  // The notification reaches the traveller's list like any other.
  const [n] = await adminSql`select kind, body from pam.notifications where user_id = ${utc} and kind = 'document_expiring' limit 1`
  assert(n.body.startsWith('Valid until 2031-06-30'))
})

Deno.test('document reminders: one added late gets the reminder whose window it is in, and only that one', async () => {
  const { ids: [who], range } = await usersInOwnRange(1)
  await adminSql`insert into pam.documents (user_id, kind, title, expires_on)
    values (${who}, 'licence', 'Licence', '2031-09-04'), (${who}, 'registration', 'Rego', '2031-09-21'),
           (${who}, 'other', 'Fuel card', '2031-09-01'), (${who}, 'other', 'Old permit', '2031-08-31')`
  const index = 95_000 + Math.floor(Math.random() * 4000)
  await remind(range, index, '2031-09-01T12:00:00Z')
  assertEquals((await remindersOf(who)).sort(), [
    '2031-09-01 7d (0 left): Fuel card expires today',
    '2031-09-04 7d (3 left): Licence expires in 3 days',
    '2031-09-21 30d (20 left): Rego expires in 20 days',
  ])
})
