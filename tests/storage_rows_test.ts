// Files that belong to rows: an expense links its receipt by object path (the
// caller's own upload, checked wherever an expense is written), and a deleted
// expense, a replaced receipt, a deleted document or a deleted account takes
// its files with it — right after the write, through the Storage API, and
// otherwise by the cleanup job, which also removes uploads never attached.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, callFunction, signUp, stack, type TestUser } from './_support/stack.ts'
import { filesOf, JPEG, objectRow, PDF, upload } from './_support/storage.ts'
import { functionAs, winsAs } from './_support/wins.ts'
import { callJob } from './_support/jobs.ts'
import { socialAs } from './_support/social.ts'

const youAs = functionAs('you')
const syncAs = functionAs('sync')

async function receipt(user: TestUser, file = 'r.jpg'): Promise<string> {
  const name = `${user.id}/${crypto.randomUUID().slice(0, 8)}-${file}`
  const { error } = await upload(user.client, 'receipts', name)
  if (error) throw error
  return name
}

/** Whether an object is there: its row and its file. */
async function stored(bucket: string, name: string): Promise<boolean> {
  const row = Boolean(await objectRow(bucket, name))
  const files = (await filesOf(bucket, name)).length
  assertEquals(row, files === 1, `${bucket}/${name}: a row and its file go together`)
  return row
}

Deno.test('expenses: receipt_path is the caller\'s own receipt, checked on create, patch and sync push', async () => {
  const [user, other] = [await signUp(), await signUp()]
  const w = winsAs(user)
  const mine = await receipt(user)
  const theirs = await receipt(other)
  const created = await w('expenses', { method: 'POST', body: { amount: '45.50', category: 'fuel', receipt_path: mine } })
  assertEquals(created.status, 201, JSON.stringify(created.body))
  assertEquals(created.body.expense.receipt_path, mine)
  assertEquals((await w(`expenses/${created.body.expense.id}`)).body.expense.receipt_path, mine)
  assertEquals((await w('expenses?limit=5')).body.expenses[0].receipt_path, mine)
  const before = (await adminSql`select count(*)::int as n from pam.expenses where user_id = ${user.id}`)[0].n
  for (const [path, why] of [
    [theirs, "another traveller's receipt"],
    [`${user.id}/never-uploaded.jpg`, 'not uploaded'],
    [`${user.id}/../${other.id}/x.jpg`, 'a ".." segment'],
    ['not-a-folder.jpg', 'not in a folder'],
    [`${user.id}/a\nb.jpg`, 'a line break'],
  ]) {
    const res = await w('expenses', { method: 'POST', body: { amount: '1.00', receipt_path: path } })
    assertEquals(res.status, 400, `${why}: ${JSON.stringify(res.body)}`)
    assert(['unknown_receipt', 'validation_failed'].includes(res.body.error.code), why)
  }
  const patched = await w(`expenses/${created.body.expense.id}`, { method: 'PATCH', body: { receipt_path: theirs } })
  assertEquals([patched.status, patched.body.error.code], [400, 'unknown_receipt'])
  const pushed = await syncAs(user)('push', {
    method: 'POST',
    body: { changes: { expenses: { created: [{ id: crypto.randomUUID(), amount: '3.00', receipt_path: theirs }], updated: [], deleted: [] } } },
  })
  assertEquals(pushed.status, 400, JSON.stringify(pushed.body))
  assertEquals(pushed.body.error.details.errors?.[0]?.code ?? pushed.body.error.code, 'unknown_receipt')
  assertEquals((await adminSql`select count(*)::int as n from pam.expenses where user_id = ${user.id}`)[0].n, before, 'nothing written')
  assert(await stored('receipts', theirs), 'and the other traveller\'s receipt is untouched')
})

Deno.test('expenses: a deleted expense, a replaced or cleared receipt, and a sync delete remove the file at once', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const make = async (path: string) =>
    (await w('expenses', { method: 'POST', body: { amount: '12.00', category: 'food', receipt_path: path } })).body.expense.id
  const first = await receipt(user)
  const id = await make(first)
  assertEquals((await w(`expenses/${id}`, { method: 'DELETE' })).status, 204)
  assertEquals(await stored('receipts', first), false, 'deleted with its expense')
  assertEquals((await user.client.storage.from('receipts').download(first)).error?.message, 'Object not found')

  const a = await receipt(user)
  const b = await receipt(user)
  const id2 = await make(a)
  assertEquals((await w(`expenses/${id2}`, { method: 'PATCH', body: { receipt_path: b } })).status, 200)
  assertEquals([await stored('receipts', a), await stored('receipts', b)], [false, true], 'replaced')
  assertEquals((await w(`expenses/${id2}`, { method: 'PATCH', body: { amount: '13.00' } })).status, 200)
  assert(await stored('receipts', b), 'an edit of something else keeps it')
  assertEquals((await w(`expenses/${id2}`, { method: 'PATCH', body: { receipt_path: null } })).status, 200)
  assertEquals(await stored('receipts', b), false, 'cleared')

  // A receipt two expenses share (one bill, two categories) stays while either uses it.
  const shared = await receipt(user)
  const [x, y] = [await make(shared), await make(shared)]
  await w(`expenses/${x}`, { method: 'DELETE' })
  assert(await stored('receipts', shared), 'still on the other expense')
  await w(`expenses/${y}`, { method: 'DELETE' })
  assertEquals(await stored('receipts', shared), false)

  // Offline: the app pushes the deletion.
  const synced = await receipt(user)
  const id3 = await make(synced)
  const push = await syncAs(user)('push', { method: 'POST', body: { changes: { expenses: { created: [], updated: [], deleted: [id3] } } } })
  assertEquals(push.status, 200, JSON.stringify(push.body))
  assertEquals(await stored('receipts', synced), false, 'pushed deletion')
  assertEquals((await adminSql`select count(*)::int as n from pam.storage_removals where user_id = ${user.id}`)[0].n, 0, 'nothing left queued')
})

Deno.test('documents and accounts: a deleted document takes its scan; a deleted account takes every file in every bucket', async () => {
  const user = await signUp()
  const scan = `${user.id}/insurance.pdf`
  await upload(user.client, 'documents', scan, PDF, { contentType: 'application/pdf' })
  const doc = await youAs(user)('documents', { method: 'POST', body: { kind: 'insurance', title: 'Insurance', object_path: scan } })
  assertEquals(doc.status, 201, JSON.stringify(doc.body))
  assertEquals((await youAs(user)(`documents/${doc.body.document.id}`, { method: 'DELETE' })).status, 204)
  assertEquals(await stored('documents', scan), false)

  const [vehicle] = await adminSql`insert into pam.vehicles (user_id, name) values (${user.id}, 'Coaster') returning id`
  const names: [string, string, string][] = [
    ['receipts', `${user.id}/kept.jpg`, 'image/jpeg'],
    ['documents', `${user.id}/licence.pdf`, 'application/pdf'],
    ['vehicle-photos', `${user.id}/${vehicle.id}/front.jpg`, 'image/jpeg'],
    ['post-images', `${user.id}/sunset.jpg`, 'image/jpeg'],
    ['avatars', `${user.id}/me.jpg`, 'image/jpeg'],
  ]
  for (const [bucket, name, type] of names) {
    assertEquals((await upload(user.client, bucket, name, type === 'application/pdf' ? PDF : JPEG, { contentType: type })).error, null)
  }
  const exp = await winsAs(user)('expenses', { method: 'POST', body: { amount: '9.00', receipt_path: names[0][1] } })
  assertEquals(exp.status, 201)
  const post = await socialAs(user)('posts', { method: 'POST', body: { body: 'Sunset', image_paths: [names[3][1]] } })
  assertEquals(post.status, 201)
  const other = await signUp()
  const bystander = await receipt(other)

  const res = await callFunction('auth/me', { method: 'DELETE', token: user.accessToken })
  assertEquals(res.status, 204)
  for (const [bucket, name] of names) assertEquals(await stored(bucket, name), false, `${bucket}: gone with the account`)
  assert(await stored('receipts', bystander), 'another traveller\'s files stay')
  assertEquals((await adminSql`select count(*)::int as n from pam.storage_removals where user_id = ${user.id}`)[0].n, 0)
})

Deno.test('cleanup: what was left queued, and uploads never attached for a week, go; attached and recent ones stay', async () => {
  const user = await signUp()
  const w = winsAs(user)
  // A deletion whose removal did not happen (here: made in SQL, as if the Storage API had been down).
  const queued = await receipt(user)
  const e = await w('expenses', { method: 'POST', body: { amount: '5.00', receipt_path: queued } })
  await adminSql`delete from pam.expenses where id = ${e.body.expense.id}`
  assertEquals((await adminSql`select user_id from pam.storage_removals where name = ${queued}`).length, 1, 'queued by the deletion')
  // Uploads: old and attached, old and never attached, recent and never attached.
  const [oldAttached, oldLoose, recentLoose] = [await receipt(user), await receipt(user), await receipt(user)]
  await w('expenses', { method: 'POST', body: { amount: '6.00', receipt_path: oldAttached } })
  await adminSql`update storage.objects set created_at = now() - interval '8 days'
                 where bucket_id = 'receipts' and name = any(${[oldAttached, oldLoose]}::text[])`
  // A photo of a vehicle since sold (deleted), and the photos of a deleted post, past the grace.
  const [vehicle] = await adminSql`insert into pam.vehicles (user_id, name) values (${user.id}, 'Sold') returning id`
  const photo = `${user.id}/${vehicle.id}/side.jpg`
  await upload(user.client, 'vehicle-photos', photo)
  await adminSql`delete from pam.vehicles where id = ${vehicle.id}`
  await adminSql`update storage.objects set created_at = now() - interval '8 days' where bucket_id = 'vehicle-photos' and name = ${photo}`

  const res = await callJob('cleanup', { at: '2034-02-03T03:30:00Z' })
  assertEquals(res.status, 200, JSON.stringify(res.body))
  assert(res.body.removed.storage_objects >= 3, JSON.stringify(res.body))
  assertEquals(await stored('receipts', queued), false, 'the queued one')
  assertEquals(await stored('receipts', oldLoose), false, 'never attached for a week')
  assertEquals(await stored('vehicle-photos', photo), false, 'its vehicle is gone')
  assertEquals([await stored('receipts', oldAttached), await stored('receipts', recentLoose)], [true, true])
  assertEquals((await adminSql`select count(*)::int as n from pam.storage_removals where name = ${queued}`)[0].n, 0)
})

Deno.test('storage: a sweep and a write attaching the same file take turns; no row is left pointing at a removed file', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const expense = (await w('expenses', { method: 'POST', body: { amount: '8.00', category: 'food' } })).body.expense.id
  /** A receipt queued for removal and used by nothing (its expense deleted in SQL: no removal followed). */
  const queuedReceipt = async () => {
    const name = await receipt(user)
    const e = await w('expenses', { method: 'POST', body: { amount: '5.00', receipt_path: name } })
    await adminSql`delete from pam.expenses where id = ${e.body.expense.id}`
    return name
  }
  const receiptOf = async () => (await adminSql`select receipt_path from pam.expenses where id = ${expense}`)[0].receipt_path

  // Attached after the sweep found it unused, before it claimed it: the sweep keeps it.
  const late = await queuedReceipt()
  const found = await adminSql`select name from pam.storage_removable(${user.id}::uuid, null, 100)`
  assert(found.some((r) => r.name === late), 'found unused')
  assertEquals((await w(`expenses/${expense}`, { method: 'PATCH', body: { receipt_path: late } })).status, 200)
  assertEquals((await adminSql`select pam.storage_claim_unused('receipts', ${[late]}::text[]) as names`)[0].names, [])
  assert(await stored('receipts', late))

  // Claimed by a sweep: a write attaching it waits until the sweep has removed it, then is refused.
  const claimed = await queuedReceipt()
  const { createClient } = await import('@supabase/supabase-js')
  const service = createClient(stack.url, stack.keys.secretKey, { auth: { persistSession: false, autoRefreshToken: false } })
  let attach: Promise<{ status: number; body: { error?: { code: string } } }> | undefined
  let settled = false
  await adminSql.begin(async (tx) => {
    assertEquals((await tx`select pam.storage_claim_unused('receipts', ${[claimed]}::text[]) as names`)[0].names, [claimed])
    attach = w(`expenses/${expense}`, { method: 'PATCH', body: { receipt_path: claimed } })
    attach.finally(() => (settled = true))
    await new Promise((r) => setTimeout(r, 700))
    assertEquals(settled, false, 'the write waits for the sweep')
    assertEquals((await service.storage.from('receipts').remove([claimed])).data!.length, 1)
  })
  const refused = await attach!
  assertEquals([refused.status, refused.body.error?.code], [400, 'unknown_receipt'], JSON.stringify(refused.body))
  assertEquals(await receiptOf(), late, 'the expense keeps the receipt it had')
  assertEquals(await stored('receipts', claimed), false)

  // Held by a write that is attaching it: the sweep does not wait, and leaves it for its next run.
  const held = await queuedReceipt()
  await adminSql.begin(async (write) => {
    await write`select pg_advisory_xact_lock_shared(pam.storage_name_key('receipts', ${held}))`
    assertEquals((await adminSql`select pam.storage_claim_unused('receipts', ${[held]}::text[]) as names`)[0].names, [])
  })
  assertEquals((await adminSql`select pam.storage_claim_unused('receipts', ${[held]}::text[]) as names`)[0].names, [held])
})
