// Storage through supabase-js itself, as an app calls it: the policies of the
// storage migration on every bucket and operation as the owner, another
// traveller, a friend or group member where the bucket says so, and anon;
// the buckets' size and MIME limits; signed URLs and their expiry; public
// URLs for avatars only; and the stand-in's protocol (errors, upserts,
// streaming, names that would leave the bucket's folder).
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, functionsUrl, signUp, stack, type TestUser } from './_support/stack.ts'
import { anonClient, filesOf, JPEG, objectRow, outcome, PDF, upload } from './_support/storage.ts'
import { socialAs } from './_support/social.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function vehicleOf(userId: string): Promise<string> {
  const [v] = await adminSql`insert into pam.vehicles (user_id, name) values (${userId}, 'Troopy') returning id`
  return v.id
}

async function befriend(a: string, b: string) {
  await adminSql`insert into pam.friendships (requester_id, addressee_id, status, responded_at) values (${a}, ${b}, 'accepted', now())`
}

/** What every actor may do with one object, per operation. */
interface Expected {
  download: boolean
  list: boolean
  sign: boolean
  info: boolean
  remove: boolean
  overwrite: boolean
}

async function matrix(bucket: string, name: string, who: TestUser | null, expected: Expected, label: string) {
  const c = who ? who.client : anonClient()
  const folder = name.split('/').slice(0, -1).join('/')
  const file = name.split('/').at(-1)!
  const s = c.storage.from(bucket)
  const dl = await outcome(s.download(name))
  assertEquals(dl.ok, expected.download, `${label}: download ${dl.statusCode}`)
  if (!dl.ok) assertEquals(dl.statusCode, '404', `${label}: an object one may not read is "not found"`)
  const listed = await s.list(folder)
  assertEquals(listed.error, null, `${label}: list answers`)
  assertEquals(listed.data!.some((o) => o.name === file), expected.list, `${label}: list shows it`)
  const signed = await outcome(s.createSignedUrl(name, 60))
  assertEquals(signed.ok, expected.sign, `${label}: sign ${signed.statusCode}`)
  const info = await outcome(s.info(name))
  assertEquals(info.ok, expected.info, `${label}: info`)
  const over = await outcome(upload(c, bucket, name, JPEG, { upsert: true }))
  assertEquals(over.ok, expected.overwrite, `${label}: overwrite ${over.statusCode}`)
  if (!over.ok) assertEquals(over.statusCode, '403', `${label}: a write the policies refuse is 403`)
  // Last: a removal that works takes the object away.
  const removed = await s.remove([name])
  assertEquals(removed.error, null)
  assertEquals(removed.data!.length === 1, expected.remove, `${label}: remove`)
  assertEquals(Boolean(await objectRow(bucket, name)), !expected.remove, `${label}: the row after remove`)
}

const nothing: Expected = { download: false, list: false, sign: false, info: false, remove: false, overwrite: false }
const everything: Expected = { download: true, list: true, sign: true, info: true, remove: true, overwrite: true }
const readOnly: Expected = { download: true, list: true, sign: true, info: true, remove: false, overwrite: false }

Deno.test('storage: receipts and documents are the owner\'s alone — every operation as owner, other traveller, friend and anon', async () => {
  const [owner, other, friend] = [await signUp(), await signUp(), await signUp()]
  await befriend(owner.id, friend.id)
  for (const [bucket, body, type] of [['receipts', JPEG, 'image/jpeg'], ['documents', PDF, 'application/pdf']] as const) {
    const name = `${owner.id}/2026/${bucket}-1.${type === 'image/jpeg' ? 'jpg' : 'pdf'}`
    const put = await upload(owner.client, bucket, name, body, { contentType: type })
    assertEquals(put.error, null)
    assertEquals(put.data!.fullPath, `${bucket}/${name}`)
    for (const [who, label] of [[other, 'other'], [friend, 'friend'], [null, 'anon']] as const) {
      await matrix(bucket, name, who, nothing, `${bucket}, ${label}`)
    }
    // Nobody writes into the owner's folder, nor outside their own.
    for (const who of [other, friend]) {
      const intoOwners = await outcome(upload(who.client, bucket, `${owner.id}/planted.jpg`, JPEG))
      assertEquals([intoOwners.ok, intoOwners.statusCode], [false, '403'])
      assertEquals(await objectRow(bucket, `${owner.id}/planted.jpg`), undefined)
    }
    const anonWrite = await outcome(upload(anonClient(), bucket, `${owner.id}/anon.jpg`, JPEG))
    assertEquals([anonWrite.ok, anonWrite.statusCode], [false, '403'])
    const noFolder = await outcome(upload(owner.client, bucket, `loose-${bucket}.jpg`, JPEG))
    assertEquals(noFolder.ok, false, 'a name not in one\'s own folder')
    await matrix(bucket, name, owner, everything, `${bucket}, owner`)
  }
})

Deno.test('storage: vehicle photos — the owner writes into a vehicle of theirs; friends read while the vehicle exists', async () => {
  const [owner, other, friend] = [await signUp(), await signUp(), await signUp()]
  await befriend(friend.id, owner.id)
  const vehicle = await vehicleOf(owner.id)
  const othersVehicle = await vehicleOf(other.id)
  const name = `${owner.id}/${vehicle}/side.jpg`
  assertEquals((await upload(owner.client, 'vehicle-photos', name)).error, null)
  // Only into one's own vehicle's folder.
  for (const bad of [`${owner.id}/${crypto.randomUUID()}/x.jpg`, `${owner.id}/${othersVehicle}/x.jpg`, `${owner.id}/x.jpg`]) {
    const o = await outcome(upload(owner.client, 'vehicle-photos', bad))
    assertEquals([o.ok, o.statusCode], [false, '403'], bad)
  }
  assertEquals((await outcome(upload(other.client, 'vehicle-photos', `${owner.id}/${vehicle}/planted.jpg`))).statusCode, '403')
  assertEquals((await outcome(upload(friend.client, 'vehicle-photos', `${owner.id}/${vehicle}/planted.jpg`))).statusCode, '403')
  await matrix('vehicle-photos', name, other, nothing, 'vehicle-photos, other')
  await matrix('vehicle-photos', name, null, nothing, 'vehicle-photos, anon')
  await matrix('vehicle-photos', name, friend, readOnly, 'vehicle-photos, friend')
  // The vehicle gone, its photos are the owner's alone (the cleanup job removes them).
  await adminSql`delete from pam.vehicles where id = ${vehicle}`
  assertEquals((await outcome(friend.client.storage.from('vehicle-photos').download(name))).ok, false)
  assertEquals((await outcome(owner.client.storage.from('vehicle-photos').download(name))).ok, true)
  await matrix('vehicle-photos', name, owner, { ...everything, overwrite: false }, 'vehicle-photos, owner (vehicle deleted)')
})

Deno.test('storage: post images — read by whoever may see a post showing them, as the posts policy decides', async () => {
  const [author, stranger, friend, member] = [await signUp(), await signUp(), await signUp(), await signUp()]
  await befriend(author.id, friend.id)
  const social = socialAs(author)
  const img = (n: string) => `${author.id}/${n}.jpg`
  for (const n of ['public', 'friends', 'group', 'unposted']) assertEquals((await upload(author.client, 'post-images', img(n))).error, null)
  const reads = async (who: TestUser | null, name: string) =>
    (await outcome((who ? who.client : anonClient()).storage.from('post-images').download(name))).ok

  // Not in a post yet: the author's only.
  assertEquals([await reads(stranger, img('public')), await reads(friend, img('public')), await reads(author, img('public'))], [false, false, true])

  const pub = await social('posts', { method: 'POST', body: { body: 'Lucky Bay at dawn', image_paths: [img('public')] } })
  assertEquals(pub.status, 201, JSON.stringify(pub.body))
  assertEquals(pub.body.post.image_paths, [img('public')])
  const fr = await social('posts', { method: 'POST', body: { body: 'Our camp', visibility: 'friends', image_paths: [img('friends')] } })
  assertEquals(fr.status, 201)
  const [group] = await adminSql`insert into pam.groups (owner_id, name, visibility) values (${author.id}, 'Nullarbor crossers', 'private') returning id`
  await adminSql`insert into pam.group_members (group_id, user_id) values (${group.id}, ${member.id})`
  const gp = await social('posts', { method: 'POST', body: { body: 'Road open past Eucla', group_id: group.id, image_paths: [img('group')] } })
  assertEquals(gp.status, 201, JSON.stringify(gp.body))

  assertEquals(await Promise.all([stranger, friend, member, null].map((w) => reads(w, img('public')))), [true, true, true, false])
  assertEquals(await Promise.all([stranger, friend, member, null].map((w) => reads(w, img('friends')))), [false, true, false, false])
  assertEquals(await Promise.all([stranger, friend, member, null].map((w) => reads(w, img('group')))), [false, false, true, false])
  assertEquals(await Promise.all([stranger, friend, member].map((w) => reads(w, img('unposted')))), [false, false, false])
  // Readers cannot write or remove.
  assertEquals((await outcome(upload(stranger.client, 'post-images', img('public'), JPEG, { upsert: true }))).statusCode, '403')
  assertEquals((await stranger.client.storage.from('post-images').remove([img('public')])).data, [])

  // A post may show only its author's own uploads.
  const foreign = await socialAs(stranger)('posts', { method: 'POST', body: { body: 'Look', image_paths: [img('unposted')] } })
  assertEquals([foreign.status, foreign.body.error.code], [400, 'unknown_image'])
  const missing = await social('posts', { method: 'POST', body: { body: 'Look', image_paths: [img('never-uploaded')] } })
  assertEquals([missing.status, missing.body.error.code], [400, 'unknown_image'])
  const tooMany = await social('posts', {
    method: 'POST',
    body: { body: 'Look', image_paths: [img('public')], image_urls: Array.from({ length: 10 }, (_, i) => `https://example.com/${i}.jpg`) },
  })
  assertEquals(tooMany.status, 400)

  // Hidden by a moderator (the author is the group's owner here: hide as the superuser), then deleted.
  await adminSql`update pam.posts set hidden = true where id = ${gp.body.post.id}`
  assertEquals(await reads(member, img('group')), false, 'a hidden post shows its images to nobody else')
  assertEquals((await social(`posts/${pub.body.post.id}`, { method: 'DELETE' })).status, 204)
  assertEquals(await reads(stranger, img('public')), false, 'a deleted post shows nothing')
  assertEquals(await reads(author, img('public')), true, 'the author keeps the upload (the cleanup job removes it)')
})

Deno.test('storage: avatars are public by URL; listing and writing are the owner\'s', async () => {
  const [owner, other] = [await signUp(), await signUp()]
  const name = `${owner.id}/avatar.png`
  assertEquals((await upload(owner.client, 'avatars', name, JPEG, { contentType: 'image/png' })).error, null)
  const url = anonClient().storage.from('avatars').getPublicUrl(name).data.publicUrl
  assertEquals(url, `${stack.url}/storage/v1/object/public/avatars/${name}`)
  const res = await fetch(url)
  assertEquals(res.status, 200)
  assertEquals(res.headers.get('content-type'), 'image/png')
  assertEquals(new Uint8Array(await res.arrayBuffer()), JPEG)
  const head = await fetch(url, { method: 'HEAD' })
  assertEquals([head.status, head.headers.get('content-length')], [200, String(JPEG.length)])
  await head.body?.cancel()
  await matrix('avatars', name, other, nothing, 'avatars, other')
  await matrix('avatars', name, null, nothing, 'avatars, anon')
  assertEquals((await outcome(upload(other.client, 'avatars', name, JPEG, { contentType: 'image/png', upsert: true }))).statusCode, '403')
  await matrix('avatars', name, owner, everything, 'avatars, owner')
  assertEquals((await fetch(url).then(async (r) => [r.status, await r.json()]))[0], 400, 'gone with the object')
})

Deno.test('storage: only a public bucket has public URLs; anon sees no private object anyhow', async () => {
  const owner = await signUp()
  for (const bucket of ['receipts', 'documents', 'post-images']) {
    const name = `${owner.id}/secret.jpg`
    assertEquals((await upload(owner.client, bucket, name)).error, null)
    const url = owner.client.storage.from(bucket).getPublicUrl(name).data.publicUrl
    const res = await fetch(url)
    const body = await res.json()
    assertEquals([res.status, body.statusCode, body.error], [400, '404', 'Bucket not found'], bucket)
    const info = await fetch(`${stack.url}/storage/v1/object/info/public/${bucket}/${name}`)
    assertEquals(info.status, 400)
    await info.body?.cancel()
    // Anon: no rows listed, none downloaded, none signed.
    const anon = anonClient().storage.from(bucket)
    assertEquals((await anon.list(owner.id)).data, [])
    assertEquals((await outcome(anon.download(name))).ok, false)
    assertEquals((await outcome(anon.createSignedUrl(name, 60))).ok, false)
  }
  // No credentials at all.
  const bare = await fetch(`${stack.url}/storage/v1/object/list/receipts`, { method: 'POST', body: '{"prefix":""}' })
  assertEquals([bare.status, (await bare.json()).statusCode], [400, '403'])
})

Deno.test('storage: size and MIME limits of each bucket, raw, multipart and streamed bodies; nothing stays behind', async () => {
  const owner = await signUp()
  const s = owner.client.storage
  const avatarMax = 2 * 1024 * 1024
  const exact = new Uint8Array(avatarMax)
  assertEquals((await upload(owner.client, 'avatars', `${owner.id}/exact.jpg`, exact)).error, null, 'exactly the limit is fine')
  const over = new Uint8Array(avatarMax + 1)
  const raw = await outcome(upload(owner.client, 'avatars', `${owner.id}/big.jpg`, over))
  assertEquals([raw.ok, raw.statusCode], [false, '413'])
  const form = await outcome(upload(owner.client, 'avatars', `${owner.id}/big-form.jpg`, new Blob([over], { type: 'image/jpeg' })))
  assertEquals([form.ok, form.statusCode], [false, '413'], 'a Blob goes as multipart')
  // A body with no Content-Length is counted as it streams.
  const streamed = await fetch(`${stack.url}/storage/v1/object/avatars/${owner.id}/big-stream.jpg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/jpeg' },
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < 3; i++) c.enqueue(new Uint8Array(1024 * 1024))
        c.close()
      },
    }),
    // @ts-ignore: a streamed request body needs half duplex
    duplex: 'half',
  })
  assertEquals([streamed.status, (await streamed.json()).statusCode], [400, '413'])
  for (const n of ['big.jpg', 'big-form.jpg', 'big-stream.jpg']) {
    assertEquals(await objectRow('avatars', `${owner.id}/${n}`), undefined, n)
    assertEquals(await filesOf('avatars', `${owner.id}/${n}`), [], `${n}: no file left`)
  }
  // MIME types: each bucket's own list.
  const types: [string, string, boolean][] = [
    ['receipts', 'image/jpeg', true], ['receipts', 'application/pdf', true], ['receipts', 'text/plain', false],
    ['receipts', 'image/heic', false], ['documents', 'image/heic', true], ['documents', 'application/zip', false],
    ['avatars', 'image/gif', false], ['vehicle-photos', 'application/pdf', false], ['post-images', 'image/webp', true],
  ]
  const vehicle = await vehicleOf(owner.id)
  for (const [bucket, type, allowed] of types) {
    const folder = bucket === 'vehicle-photos' ? `${owner.id}/${vehicle}` : owner.id
    const o = await outcome(upload(owner.client, bucket, `${folder}/t-${type.replace('/', '-')}`, JPEG, { contentType: type }))
    assertEquals(o.ok, allowed, `${bucket} ${type}`)
    if (!allowed) assertEquals(o.statusCode, '415', `${bucket} ${type}`)
  }
  const blobType = await outcome(upload(owner.client, 'receipts', `${owner.id}/blob.txt`, new Blob(['x'], { type: 'text/plain' })))
  assertEquals(blobType.statusCode, '415', 'a Blob\'s own type counts')
  // A receipt just under 10 MiB goes in; one over does not.
  assertEquals((await upload(owner.client, 'receipts', `${owner.id}/ten.jpg`, new Uint8Array(10 * 1024 * 1024))).error, null)
  assertEquals((await outcome(upload(owner.client, 'receipts', `${owner.id}/eleven.jpg`, new Uint8Array(10 * 1024 * 1024 + 1)))).statusCode, '413')
  assertEquals((await s.from('receipts').list(owner.id)).data!.map((o) => o.name).sort().includes('eleven.jpg'), false)
})

Deno.test('storage: signed URLs — read without a session until they expire, for their object only', async () => {
  const owner = await signUp()
  const name = `${owner.id}/signed.jpg`
  await upload(owner.client, 'receipts', name)
  const { data, error } = await owner.client.storage.from('receipts').createSignedUrl(name, 2)
  assertEquals(error, null)
  assert(data!.signedUrl.startsWith(`${stack.url}/storage/v1/object/sign/receipts/${name}?token=`))
  const first = await fetch(data!.signedUrl)
  assertEquals(first.status, 200)
  assertEquals(new Uint8Array(await first.arrayBuffer()), JPEG)
  assert(first.headers.get('expires'), 'an Expires header at the token\'s end')
  const download = await fetch(`${data!.signedUrl}&download=my%20receipt.jpg`)
  assertEquals(download.headers.get('content-disposition'), "attachment; filename=my%20receipt.jpg; filename*=UTF-8''my%20receipt.jpg")
  await download.body?.cancel()
  // The token names its object: not another one of the owner's.
  await upload(owner.client, 'receipts', `${owner.id}/other.jpg`)
  const token = new URL(data!.signedUrl).searchParams.get('token')!
  const elsewhere = await fetch(`${stack.url}/storage/v1/object/sign/receipts/${owner.id}/other.jpg?token=${token}`)
  assertEquals([elsewhere.status, (await elsewhere.json()).code], [400, 'InvalidSignature'])
  const forged = await fetch(`${stack.url}/storage/v1/object/sign/receipts/${name}?token=${token.slice(0, -3)}abc`)
  assertEquals([forged.status, (await forged.json()).code], [400, 'InvalidJWT'])
  // A user access token is not a signed URL token.
  const userToken = await fetch(`${stack.url}/storage/v1/object/sign/receipts/${name}?token=${owner.accessToken}`)
  assertEquals(userToken.status, 400)
  await userToken.body?.cancel()
  await sleep(3100)
  const late = await fetch(data!.signedUrl)
  const body = await late.json()
  assertEquals([late.status, body.code, body.message], [400, 'InvalidJWT', 'jwt expired'])
  // Several at once: what the caller may read is signed, the rest says so.
  const many = await owner.client.storage.from('receipts').createSignedUrls([name, `${owner.id}/nope.jpg`], 60)
  assertEquals(many.data!.map((d) => [d.path, d.error === null]), [[name, true], [`${owner.id}/nope.jpg`, false]])
  const bad = await outcome(owner.client.storage.from('receipts').createSignedUrl(name, 0))
  assertEquals([bad.ok, bad.statusCode], [false, '400'])
})

Deno.test('storage: uploads, upserts, updates, moves and copies keep one file per object; info and list read the rows', async () => {
  const owner = await signUp()
  const other = await signUp()
  const s = owner.client.storage.from('documents')
  const name = `${owner.id}/licence.pdf`
  assertEquals((await upload(owner.client, 'documents', name, PDF, { contentType: 'application/pdf' })).error, null)
  const first = await objectRow('documents', name)
  assertEquals([first!.owner_id, first!.metadata.size, first!.metadata.mimetype], [owner.id, PDF.length, 'application/pdf'])
  assertEquals((await filesOf('documents', name)).length, 1)
  const dup = await outcome(upload(owner.client, 'documents', name, PDF, { contentType: 'application/pdf' }))
  assertEquals([dup.ok, dup.statusCode], [false, '409'])
  const v2 = new TextEncoder().encode('%PDF-1.4 second edition')
  assertEquals((await s.update(name, v2, { contentType: 'application/pdf' })).error, null)
  assertEquals(await (await s.download(name)).data!.text(), '%PDF-1.4 second edition')
  assertEquals((await filesOf('documents', name)).length, 1, 'the previous version\'s file is gone')
  assertEquals((await objectRow('documents', name))!.id, first!.id, 'the same object')
  const info = (await s.info(name)).data!
  assertEquals([info.size, info.contentType, info.bucketId], [v2.length, 'application/pdf', 'documents'])
  assertEquals((await s.exists(name)).data, true)
  assertEquals((await s.exists(`${owner.id}/nope.pdf`)).data, false)

  const moved = `${owner.id}/kept/licence.pdf`
  assertEquals((await s.move(name, moved)).error, null)
  assertEquals([await objectRow('documents', name), (await filesOf('documents', name)).length], [undefined, 0])
  assertEquals(await (await s.download(moved)).data!.text(), '%PDF-1.4 second edition')
  const intoOthers = await outcome(s.move(moved, `${other.id}/stolen.pdf`))
  assertEquals([intoOthers.ok, intoOthers.statusCode], [false, '403'])
  assertEquals((await s.copy(moved, `${owner.id}/copy.pdf`)).error, null)
  assertEquals(await (await s.download(`${owner.id}/copy.pdf`)).data!.text(), '%PDF-1.4 second edition')
  const othersCopy = await outcome(other.client.storage.from('documents').copy(moved, `${other.id}/copy.pdf`))
  assertEquals(othersCopy.statusCode, '404', 'a source one may not read')

  const list = await s.list(owner.id, { sortBy: { column: 'name', order: 'desc' } })
  assertEquals(list.data!.map((o) => [o.name, o.id === null]), [['kept', true], ['copy.pdf', false]])
  const searched = await s.list(owner.id, { search: 'CO' })
  assertEquals(searched.data!.map((o) => o.name), ['copy.pdf'])
  const paged = await s.list(owner.id, { limit: 1, offset: 1 })
  assertEquals(paged.data!.map((o) => o.name), ['kept'])
  const pageOne = await s.listV2({ prefix: `${owner.id}/`, with_delimiter: true, limit: 1 })
  assertEquals([pageOne.data!.objects.map((o) => o.name), pageOne.data!.folders, pageOne.data!.hasNext], [[`${owner.id}/copy.pdf`], [], true])
  const next = await s.listV2({ prefix: `${owner.id}/`, with_delimiter: true, limit: 1, cursor: pageOne.data!.nextCursor })
  assertEquals([next.data!.folders.map((f) => f.name), next.data!.hasNext], [[`${owner.id}/kept/`], false])
  assertEquals((await other.client.storage.from('documents').listV2({ prefix: `${owner.id}/` })).data!.objects, [])

  // A signed upload URL: the owner's policies checked when it is made, the upload then needs no session.
  const signed = await s.createSignedUploadUrl(`${owner.id}/scan.pdf`)
  assertEquals(signed.error, null)
  const up = await anonClient().storage.from('documents').uploadToSignedUrl(`${owner.id}/scan.pdf`, signed.data!.token, PDF, {
    contentType: 'application/pdf',
  })
  assertEquals(up.error, null)
  assertEquals((await objectRow('documents', `${owner.id}/scan.pdf`))!.owner_id, owner.id)
  const again = await outcome(anonClient().storage.from('documents').uploadToSignedUrl(`${owner.id}/scan.pdf`, signed.data!.token, PDF, {
    contentType: 'application/pdf',
  }))
  assertEquals(again.statusCode, '409', 'a signed upload URL uploads once')
  const notMine = await outcome(other.client.storage.from('documents').createSignedUploadUrl(`${owner.id}/planted.pdf`))
  assertEquals(notMine.statusCode, '403')
})

Deno.test('storage: names that would leave their folder, bad bodies and unknown routes are refused with storage errors', async () => {
  const owner = await signUp()
  const base = `${stack.url}/storage/v1`
  const headers = { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/jpeg' }
  // (URLs resolve ".." and "." segments, encoded or not, before they leave the client: these hide theirs in an
  // encoded slash.)
  for (const name of [`${owner.id}/%2E%2E%2Fx.jpg`, `${owner.id}/a%2F..%2F..%2F..%2Fx.jpg`, `${owner.id}//x.jpg`, `${owner.id}/.%2Fx.jpg`,
    `${owner.id}/caf%C3%A9.jpg`, `${owner.id}/a%23b.jpg`, `${owner.id}/a%00b.jpg`, `${owner.id}/${'a'.repeat(201)}.jpg`]) {
    const res = await fetch(`${base}/object/receipts/${name}`, { method: 'POST', headers, body: JPEG })
    const body = await res.json()
    assertEquals([res.status, body.statusCode, body.code], [400, '400', 'InvalidKey'], name)
  }
  // A form whose file part never ends: refused, and nothing stays behind.
  const cut = await fetch(`${base}/object/receipts/${owner.id}/cut.jpg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'multipart/form-data; boundary=xyz' },
    body: '--xyz\r\nContent-Disposition: form-data; name=""; filename="cut.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8 and then nothing',
  })
  assertEquals([cut.status, (await cut.json()).statusCode], [400, '400'])
  assertEquals([await objectRow('receipts', `${owner.id}/cut.jpg`), await filesOf('receipts', `${owner.id}/cut.jpg`)], [undefined, []])
  const unknownBucket = await outcome(upload(owner.client, 'no-such-bucket', `${owner.id}/x.jpg`))
  assertEquals(unknownBucket.statusCode, '404')
  const list = await fetch(`${base}/object/list/receipts`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"limit":5}' })
  assertEquals([list.status, (await list.json()).statusCode], [400, '400'])
  const notJson = await fetch(`${base}/object/receipts`, { method: 'DELETE', headers, body: 'prefixes please' })
  assertEquals(notJson.status, 400)
  await notJson.body?.cancel()
  const route = await fetch(`${base}/render/image/authenticated/receipts/x.jpg`, { headers })
  assertEquals([route.status, (await route.json()).statusCode], [404, '404'])
  const expired = await fetch(`${base}/object/list/receipts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.accessToken.slice(0, -4)}AAAA`, 'content-type': 'application/json' },
    body: '{"prefix":""}',
  })
  assertEquals([expired.status, (await expired.json()).statusCode], [400, '403'], 'a token that does not verify')
  // The buckets are the service role's to manage (no policies on storage.buckets).
  assertEquals((await owner.client.storage.listBuckets()).data, [])
  assertEquals((await outcome(owner.client.storage.createBucket('mine'))).statusCode, '403')
  // The gateway's index names the Storage URL.
  assertEquals((await (await fetch(`${stack.url}/`)).json()).storage, `${stack.url}/storage/v1`)
  // Functions are not Storage.
  assertEquals((await fetch(`${functionsUrl}/storage`)).status, 404)
})

Deno.test('storage: the service role (secret key) bypasses the policies, as hosted', async () => {
  const owner = await signUp()
  const name = `${owner.id}/admin.jpg`
  await upload(owner.client, 'receipts', name)
  const { createClient } = await import('@supabase/supabase-js')
  const service = createClient(stack.url, stack.keys.secretKey, { auth: { persistSession: false, autoRefreshToken: false } })
  assertEquals(await (await service.storage.from('receipts').download(name)).data!.arrayBuffer().then((b) => b.byteLength), JPEG.length)
  assertEquals((await service.storage.listBuckets()).data!.map((b) => b.id).sort(),
    ['avatars', 'documents', 'post-images', 'receipts', 'vehicle-photos'])
  const bucket = (await service.storage.getBucket('receipts')).data!
  assertEquals([bucket.public, bucket.file_size_limit, bucket.allowed_mime_types],
    [false, 10 * 1024 * 1024, ['image/jpeg', 'image/png', 'image/webp', 'application/pdf']])
  assertEquals((await service.storage.from('receipts').remove([name])).data!.length, 1)
  assertEquals(await filesOf('receipts', name), [])
  // Rows are never deleted with SQL: hosted Storage refuses it, and so does the local schema.
  await upload(owner.client, 'receipts', name)
  const err = await adminSql`delete from storage.objects where name = ${name}`.catch((e) => e)
  assert(String(err?.message).includes('Use the Storage API'), String(err))
})
