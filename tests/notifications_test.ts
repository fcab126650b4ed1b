// /notifications: newest first in pages, the unread filter, marking read one
// or all, deleting; another traveller's notification is a 404 like an unknown
// one, and nobody reads without a token.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, callFunction, signUp, type TestUser } from './_support/stack.ts'
import { answer, type Call, encode } from './_support/wins.ts'

/** Calls /functions/v1/<path> as `user` (the function's routes start at /notifications). */
const as = (user: TestUser): Call => async (path, init = {}) =>
  answer(
    await callFunction(path, {
      method: init.method ?? 'GET',
      token: user.accessToken,
      body: init.body === undefined ? undefined : encode(init.body),
    }),
  )

async function seed(userId: string, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const [row] = await adminSql`insert into pam.notifications (user_id, kind, title, data, created_at)
      values (${userId}, ${['maintenance_due', 'budget_threshold', 'report_ready', 'social'][i % 4]}, ${`note ${i}`},
              ${adminSql.json({ i })}, now() - ${`${n - i} minutes`}::interval)
      returning id`
    ids.push(row.id)
  }
  return ids.reverse() // newest first
}

Deno.test('notifications: newest first, paginated, unread filter, kinds', async () => {
  const user = await signUp()
  const ids = await seed(user.id, 5)
  const n = as(user)
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page = await n(`notifications?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    assertEquals(page.status, 200, JSON.stringify(page.body))
    seen.push(...page.body.notifications.map((x: { id: string }) => x.id))
    cursor = page.body.next_cursor
  } while (cursor)
  assertEquals(seen, ids)
  const first = (await n('notifications?limit=1')).body.notifications[0]
  assertEquals(Object.keys(first).sort(), ['body', 'created_at', 'data', 'email', 'id', 'kind', 'read_at', 'title'])
  assertEquals([first.title, first.read_at, first.data], ['note 4', null, { i: 4 }])
  assertEquals((await n('notifications?kind=social')).body.notifications.map((x: { title: string }) => x.title), ['note 3'])
  assertEquals((await n('notifications?unread=maybe')).status, 400)
  assertEquals((await n('notifications?cursor=nonsense')).body.error.code, 'invalid_cursor')
})

Deno.test('notifications: mark one read, then all; delete', async () => {
  const user = await signUp()
  const ids = await seed(user.id, 3)
  const n = as(user)
  const read = await n(`notifications/${ids[1]}/read`, { method: 'POST' })
  assertEquals(read.status, 200, JSON.stringify(read.body))
  assert(read.body.notification.read_at, 'read_at set')
  const again = await n(`notifications/${ids[1]}/read`, { method: 'POST' })
  assertEquals(again.body.notification.read_at, read.body.notification.read_at, 'already read: unchanged')
  const unread = await n('notifications?unread=true')
  assertEquals(unread.body.notifications.map((x: { id: string }) => x.id), [ids[0], ids[2]])
  assertEquals((await n('notifications?unread=false')).body.notifications.map((x: { id: string }) => x.id), [ids[1]])

  const all = await n('notifications/read-all', { method: 'POST' })
  assertEquals([all.status, all.body.updated], [200, 2])
  assertEquals((await n('notifications?unread=true')).body.notifications, [])
  assertEquals((await n('notifications/read-all', { method: 'POST' })).body.updated, 0)

  assertEquals((await n(`notifications/${ids[0]}`, { method: 'DELETE' })).status, 204)
  assertEquals((await n(`notifications/${ids[0]}`, { method: 'DELETE' })).status, 404)
  assertEquals((await n('notifications')).body.notifications.length, 2)
})

Deno.test("notifications: another traveller's are a 404; no token is a 401", async () => {
  const owner = await signUp()
  const other = await signUp()
  const [id] = await seed(owner.id, 1)
  const o = as(other)
  assertEquals((await o(`notifications/${id}`)).status, 404)
  assertEquals((await o(`notifications/${id}/read`, { method: 'POST' })).status, 404)
  assertEquals((await o(`notifications/${id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await o('notifications/read-all', { method: 'POST' })).body.updated, 0)
  assertEquals((await o('notifications')).body.notifications, [])
  const [row] = await adminSql`select read_at from pam.notifications where id = ${id}`
  assertEquals(row.read_at, null, "the owner's notification is untouched")
  const anon = await callFunction('notifications')
  assertEquals(anon.status, 401)
  await anon.body?.cancel()
})
