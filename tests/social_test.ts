// /social end to end through the gateway as real users: groups (public and
// private, joining, invitations, roles), posts and the feed (ordering, cursor
// pages while posts arrive, filters by friends, group, tag and distance),
// likes and comments (idempotent, counted, notified), friends, moderation,
// reports, validation, and the posting rate limit.
import { assert, assertEquals, assertMatch, type Json } from './_support/assert.ts'
import { adminSql, signUp, type TestUser } from './_support/stack.ts'
import type { Answer, Call } from './_support/wins.ts'
import { socialApp, socialAs } from './_support/social.ts'
import { awayFromWindowEdge } from './_support/apps.ts'
import { chatAs } from './_support/chat.ts'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

interface Traveller extends TestUser {
  call: Call
  name: string
}
let serial = 0
async function traveller(): Promise<Traveller> {
  const name = `Traveller ${++serial}`
  const user = await signUp({ full_name: name })
  return { ...user, call: socialAs(user), name }
}

async function ok(call: Call, path: string, init: { method?: string; body?: unknown } = {}, status = 200): Promise<Json> {
  const res = await call(path, init)
  assertEquals(res.status, status, `${init.method ?? 'GET'} ${path}: ${show(res)}`)
  return res.body
}
const postAs = async (t: Traveller, body: Json) => (await ok(t.call, 'posts', { method: 'POST', body }, 201)).post
const makeGroup = async (t: Traveller, body: Json) => (await ok(t.call, 'groups', { method: 'POST', body }, 201)).group
const feedIds = async (t: Traveller, query = '') => (await ok(t.call, `feed?${query}`)).posts.map((p: Json) => p.id)
const postCount = async (authorId: string) =>
  (await adminSql`select count(*)::int as n from pam.posts where author_id = ${authorId}`)[0].n as number
const notificationsOf = (userId: string) =>
  adminSql`select kind, title, body, data from pam.notifications where user_id = ${userId} order by created_at`

Deno.test('social: a post is created with its exact shape, read back, edited by its author and deleted', async () => {
  const author = await traveller()
  const other = await traveller()
  const post = await postAs(author, {
    body: '  Sunrise at Cape Le Grand.  ',
    tags: ['beach', 'wa'],
    location_name: 'Lucky Bay',
    latitude: -33.9946,
    longitude: 122.2284,
    image_urls: ['https://example.com/a.jpg'],
  })
  const { id, created_at, ...rest } = post
  assertMatch(created_at, ISO)
  assertEquals(rest, {
    author: { id: author.id, name: author.name },
    body: 'Sunrise at Cape Le Grand.',
    visibility: 'public',
    group: null,
    tags: ['beach', 'wa'],
    location_name: 'Lucky Bay',
    latitude: -33.9946,
    longitude: 122.2284,
    image_urls: ['https://example.com/a.jpg'],
    image_paths: [],
    hidden: false,
    like_count: 0,
    comment_count: 0,
    liked_by_me: false,
    mine: true,
    edited_at: null,
  })
  const seen = (await ok(other.call, `posts/${id}`)).post
  assertEquals([seen.mine, seen.body], [false, 'Sunrise at Cape Le Grand.'])

  const edit = await other.call(`posts/${id}`, { method: 'PATCH', body: { body: 'mine now' } })
  assertEquals([edit.status, edit.body.error?.code], [403, 'not_the_author'], 'a visible post that is not yours: 403')
  const edited = (await ok(author.call, `posts/${id}`, { method: 'PATCH', body: { body: 'Sunrise, then roos.' } })).post
  assertEquals(edited.body, 'Sunrise, then roos.')
  assertMatch(edited.edited_at, ISO)

  const del = await other.call(`posts/${id}`, { method: 'DELETE' })
  assertEquals(del.status, 403)
  await ok(author.call, `posts/${id}`, { method: 'DELETE' }, 204)
  assertEquals((await other.call(`posts/${id}`)).status, 404)
})

Deno.test('social: post validation names the field and stores nothing', async () => {
  const author = await traveller()
  const bad: [Json, string][] = [
    [{ body: '' }, 'body'],
    [{ body: 'x'.repeat(5001) }, 'body'],
    [{ body: 'hi', visibility: 'group' }, 'group_id'],
    [{ body: 'hi', latitude: -33.9 }, 'latitude'],
    [{ body: 'hi', latitude: 91, longitude: 0 }, 'latitude'],
    [{ body: 'hi', tags: ['Not A Tag'] }, 'tags'],
    [{ body: 'hi', tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 'tags'],
    [{ body: 'hi', image_urls: ['http://example.com/a.jpg'] }, 'image_urls'],
    [{ body: 'hi', image_urls: ['javascript:alert(1)'] }, 'image_urls'],
    [{ body: 'hi', author_id: crypto.randomUUID() }, ''],
    [{ body: 'hi', hidden: true }, ''],
    [{ body: 'hi', like_count: 99 }, ''],
    [{ body: 'hi\u0000' }, 'body'],
  ]
  for (const [body, field] of bad) {
    const res = await author.call('posts', { method: 'POST', body })
    assertEquals(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${show(res)}`)
    if (field) assert(JSON.stringify(res.body.error.details).includes(field), `names ${field}: ${show(res)}`)
  }
  assertEquals(await postCount(author.id), 0)
  const res = await author.call('posts', { method: 'POST', body: { body: 'in a group', group_id: crypto.randomUUID() } })
  assertEquals([res.status, res.body.error.code], [404, 'unknown_group'])
  assertEquals(await postCount(author.id), 0)
})

Deno.test('social: groups — public ones are open to all, private ones by invitation, and roles are the owner’s', async () => {
  const [owner, joiner, invitee, outsider] = [await traveller(), await traveller(), await traveller(), await traveller()]
  const pub = await makeGroup(owner, { name: 'Nullarbor crossers', description: 'Fuel, water, wind.' })
  assertEquals(
    [pub.visibility, pub.owner, pub.member_count, pub.my_role, pub.invited],
    ['public', { id: owner.id, name: owner.name }, 1, 'owner', false],
  )
  const priv = await makeGroup(owner, { name: 'Secret hot springs', visibility: 'private' })

  // Listing: the public group to everyone, the private one to its members.
  const listed = async (t: Traveller, q = '') => (await ok(t.call, `groups?${q}`)).groups.map((g: Json) => g.id)
  assert((await listed(outsider)).includes(pub.id))
  assert(!(await listed(outsider)).includes(priv.id), 'a private group is not listed to others')
  assertEquals((await outsider.call(`groups/${priv.id}`)).status, 404)
  assertEquals((await outsider.call(`groups/${priv.id}/members`)).status, 404)
  assert((await listed(owner, 'membership=mine')).includes(priv.id))
  assert((await listed(outsider, `q=${encodeURIComponent('nullarbor')}`)).includes(pub.id))

  // Joining a public group: at once, and once.
  const joined = await ok(joiner.call, `groups/${pub.id}/join`, { method: 'POST' }, 201)
  assertEquals(joined.membership.role, 'member')
  await ok(joiner.call, `groups/${pub.id}/join`, { method: 'POST' }, 200)
  assertEquals((await ok(joiner.call, `groups/${pub.id}`)).group.member_count, 2)
  const members = (await ok(outsider.call, `groups/${pub.id}/members`)).members
  assertEquals(members.map((m: Json) => [m.user.id, m.role]), [[owner.id, 'owner'], [joiner.id, 'member']])

  // A private group: no invitation, no entry; an invitation by email lets them in.
  assertEquals((await joiner.call(`groups/${priv.id}/join`, { method: 'POST' })).status, 404)
  const byMember = await joiner.call(`groups/${pub.id}/invitations`, { method: 'POST', body: { user_id: invitee.id } })
  assertEquals([byMember.status, byMember.body.error?.code], [403, 'not_a_moderator'])
  const inv = await ok(owner.call, `groups/${priv.id}/invitations`, { method: 'POST', body: { email: invitee.email.toUpperCase() } }, 201)
  assertEquals([inv.invitation.user.id, inv.invitation.group.id], [invitee.id, priv.id])
  await ok(owner.call, `groups/${priv.id}/invitations`, { method: 'POST', body: { user_id: invitee.id } }, 200)
  assertEquals((await listed(invitee, 'membership=invited')), [priv.id])
  const seenByInvitee = (await ok(invitee.call, `groups/${priv.id}`)).group
  assertEquals([seenByInvitee.invited, seenByInvitee.my_role], [true, null])
  const membersHidden = await invitee.call(`groups/${priv.id}/members`)
  assertEquals([membersHidden.status, membersHidden.body.error?.code], [403, 'members_only'])
  await ok(invitee.call, `groups/${priv.id}/join`, { method: 'POST' }, 201)
  assertEquals((await listed(invitee, 'membership=invited')), [])
  const again = await owner.call(`groups/${priv.id}/invitations`, { method: 'POST', body: { user_id: invitee.id } })
  assertEquals([again.status, again.body.error?.code], [409, 'already_member'])
  const nobody = await owner.call(`groups/${priv.id}/invitations`, { method: 'POST', body: { email: 'nobody-here@example.com' } })
  assertEquals([nobody.status, nobody.body.error?.code], [404, 'user_not_found'])
  assert(
    (await notificationsOf(invitee.id)).some((n) => n.data.type === 'group_invitation' && n.data.group_id === priv.id),
    'the invitee is notified',
  )

  // Roles and removal.
  const notOwner = await joiner.call(`groups/${pub.id}`, { method: 'PATCH', body: { name: 'Taken over' } })
  assertEquals([notOwner.status, notOwner.body.error?.code], [403, 'not_group_owner'])
  assertEquals((await ok(owner.call, `groups/${pub.id}`, { method: 'PATCH', body: { name: 'Nullarbor crew' } })).group.name, 'Nullarbor crew')
  const promoted = await ok(owner.call, `groups/${pub.id}/members/${joiner.id}`, { method: 'PATCH', body: { role: 'moderator' } })
  assertEquals(promoted.member.role, 'moderator')
  const ownerRole = await owner.call(`groups/${pub.id}/members/${owner.id}`, { method: 'PATCH', body: { role: 'member' } })
  assertEquals(ownerRole.status, 403)
  const byMod = await joiner.call(`groups/${pub.id}/members/${invitee.id}`, { method: 'PATCH', body: { role: 'moderator' } })
  assertEquals(byMod.status, 403)
  await ok(outsider.call, `groups/${pub.id}/join`, { method: 'POST' }, 201)
  await ok(joiner.call, `groups/${pub.id}/members/${outsider.id}`, { method: 'DELETE' }, 204)
  const modRemovesOwner = await joiner.call(`groups/${pub.id}/members/${owner.id}`, { method: 'DELETE' })
  assertEquals(modRemovesOwner.status, 403)

  // Leaving: members leave; the owner cannot.
  await ok(joiner.call, `groups/${pub.id}/leave`, { method: 'POST' }, 204)
  assertEquals((await joiner.call(`groups/${pub.id}/leave`, { method: 'POST' })).body.error.code, 'not_a_member')
  const ownerLeaves = await owner.call(`groups/${pub.id}/leave`, { method: 'POST' })
  assertEquals([ownerLeaves.status, ownerLeaves.body.error?.code], [409, 'owner_cannot_leave'])
  assertEquals((await ok(owner.call, `groups/${pub.id}`)).group.member_count, 1)

  // Deleting: the owner only; the group's posts go with it.
  await postAs(owner, { body: 'Welcome', group_id: priv.id })
  assertEquals((await invitee.call(`groups/${priv.id}`, { method: 'DELETE' })).status, 403)
  await ok(owner.call, `groups/${priv.id}`, { method: 'DELETE' }, 204)
  assertEquals((await adminSql`select count(*)::int as n from pam.posts where group_id = ${priv.id}`)[0].n, 0)
})

Deno.test('social: group posts are for members; the feed shows public, friends’, group and own posts, newest first', async () => {
  const [a, b, friend, stranger] = [await traveller(), await traveller(), await traveller(), await traveller()]
  const g = await makeGroup(a, { name: 'Cape York convoy' })
  const notMember = await b.call('posts', { method: 'POST', body: { body: 'hi', group_id: g.id } })
  assertEquals([notMember.status, notMember.body.error?.code], [403, 'not_a_member'])
  const wrongVisibility = await a.call('posts', { method: 'POST', body: { body: 'hi', group_id: g.id, visibility: 'public' } })
  assertEquals(wrongVisibility.status, 400)
  await ok(friend.call, 'friends/requests', { method: 'POST', body: { user_id: a.id } }, 201)
  const [request] = (await ok(a.call, 'friends/requests')).requests
  await ok(a.call, `friends/requests/${request.id}/accept`, { method: 'POST' })

  const pub = await postAs(a, { body: 'public' })
  const forFriends = await postAs(a, { body: 'friends only', visibility: 'friends' })
  const inGroup = await postAs(a, { body: 'group only', group_id: g.id })
  assertEquals([inGroup.visibility, inGroup.group], ['group', { id: g.id, name: 'Cape York convoy' }])
  const byStranger = await postAs(stranger, { body: 'stranger public' })

  const mine = await feedIds(a, 'filter=mine')
  assertEquals(mine, [inGroup.id, forFriends.id, pub.id], 'newest first')
  const friendFeed = await feedIds(friend)
  assert(friendFeed.includes(forFriends.id) && friendFeed.includes(pub.id) && !friendFeed.includes(inGroup.id))
  assertEquals(await feedIds(friend, 'filter=friends'), [forFriends.id, pub.id])
  const strangerFeed = await feedIds(stranger)
  assert(strangerFeed.includes(pub.id) && strangerFeed.includes(byStranger.id))
  assert(!strangerFeed.includes(forFriends.id) && !strangerFeed.includes(inGroup.id))
  assertEquals((await stranger.call(`posts/${forFriends.id}`)).status, 404)
  assertEquals((await stranger.call(`posts/${inGroup.id}`)).status, 404)
  assertEquals(await feedIds(a, `group_id=${g.id}`), [inGroup.id])
  await ok(b.call, `groups/${g.id}/join`, { method: 'POST' }, 201)
  assertEquals(await feedIds(b, 'filter=groups'), [inGroup.id])
  const theirs = await ok(stranger.call, `users/${a.id}/posts`)
  assertEquals([theirs.user, theirs.posts.map((p: Json) => p.id)], [{ id: a.id, name: a.name }, [pub.id]])
  assertEquals((await stranger.call(`users/${crypto.randomUUID()}/posts`)).body.error.code, 'user_not_found')
})

Deno.test('social: feed pages by cursor stay exact while new posts arrive', async () => {
  const [author, reader] = [await traveller(), await traveller()]
  const g = await makeGroup(author, { name: `Paging ${crypto.randomUUID()}` })
  await ok(reader.call, `groups/${g.id}/join`, { method: 'POST' }, 201)
  const first: string[] = []
  for (let i = 0; i < 7; i++) first.push((await postAs(author, { body: `old ${i}`, group_id: g.id })).id)
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: Json = await ok(reader.call, `feed?group_id=${g.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
    seen.push(...page.posts.map((p: Json) => p.id))
    cursor = page.next_cursor
    // Posts written while the reader scrolls: newer than the cursor, so not on later pages.
    if (pages++ === 0) await Promise.all([1, 2, 3].map((i) => postAs(author, { body: `new ${i}`, group_id: g.id })))
  } while (cursor)
  assertEquals(seen, [...first].reverse(), 'every earlier post once, in order, none of the new ones')
  assertEquals((await feedIds(reader, `group_id=${g.id}&limit=3`)).length, 3)
  assertEquals((await reader.call('feed?cursor=not-a-cursor')).body.error.code, 'invalid_cursor')
})

Deno.test('social: the feed filters by tag and by distance', async () => {
  const author = await traveller()
  const tag = `t${crypto.randomUUID().slice(0, 8)}`
  const sydney = await postAs(author, { body: 'Harbour', tags: [tag], location_name: 'Sydney', latitude: -33.8688, longitude: 151.2093 })
  const wollongong = await postAs(author, { body: 'Coast', tags: [tag], latitude: -34.4278, longitude: 150.8931 })
  const perth = await postAs(author, { body: 'West', tags: [tag], latitude: -31.9523, longitude: 115.8613 })
  await postAs(author, { body: 'untagged', latitude: -33.87, longitude: 151.21 })
  assertEquals(await feedIds(author, `tag=${tag}`), [perth.id, wollongong.id, sydney.id])
  assertEquals(await feedIds(author, `tag=${tag}&near=-33.8688,151.2093&radius_km=100`), [wollongong.id, sydney.id])
  assertEquals(await feedIds(author, `tag=${tag}&near=-33.8688,151.2093&radius_km=10`), [sydney.id])
  for (const q of ['near=91,0', 'near=-33.8', 'near=-33.8,151.2&radius_km=501', 'tag=Bad Tag', 'filter=everyone']) {
    assertEquals((await author.call(`feed?${q}`)).status, 400, q)
  }
})

Deno.test('social: likes are idempotent and counted, comments are counted and paged, and authors are notified once', async () => {
  const [author, fan, stranger] = [await traveller(), await traveller(), await traveller()]
  const post = await postAs(author, { body: 'Who has crossed the Gibb in a van?' })
  for (let i = 0; i < 2; i++) {
    assertEquals(await ok(fan.call, `posts/${post.id}/like`, { method: 'POST' }), { liked: true, like_count: 1 })
  }
  const seen = (await ok(fan.call, `posts/${post.id}`)).post
  assertEquals([seen.like_count, seen.liked_by_me], [1, true])
  assertEquals((await ok(author.call, `posts/${post.id}`)).post.liked_by_me, false)
  assertEquals(await ok(fan.call, `posts/${post.id}/like`, { method: 'DELETE' }), { liked: false, like_count: 0 })
  assertEquals(await ok(fan.call, `posts/${post.id}/like`, { method: 'DELETE' }), { liked: false, like_count: 0 })
  await ok(fan.call, `posts/${post.id}/like`, { method: 'POST' })
  await ok(author.call, `posts/${post.id}/like`, { method: 'POST' })
  assertEquals((await ok(stranger.call, `posts/${post.id}`)).post.like_count, 2)

  const comments: string[] = []
  for (const [who, body] of [[fan, 'We did, in the dry.'], [stranger, 'Corrugations!'], [author, 'Thanks both']] as const) {
    comments.push((await ok(who.call, `posts/${post.id}/comments`, { method: 'POST', body: { body } }, 201)).comment.id)
  }
  assertEquals((await ok(fan.call, `posts/${post.id}`)).post.comment_count, 3)
  const page1 = await ok(stranger.call, `posts/${post.id}/comments?limit=2`)
  const page2 = await ok(stranger.call, `posts/${post.id}/comments?limit=2&cursor=${page1.next_cursor}`)
  assertEquals([...page1.comments, ...page2.comments].map((c: Json) => c.id), comments, 'oldest first, paged')
  assertEquals(page2.next_cursor, null)
  assertEquals(page1.comments[0].author, { id: fan.id, name: fan.name })

  const notes = await notificationsOf(author.id)
  assertEquals(notes.filter((n) => n.data.type === 'like').length, 1, 'a like, unliked and liked again, notifies once; your own none')
  assertEquals(notes.filter((n) => n.data.type === 'comment').map((n) => n.body), ['We did, in the dry.', 'Corrugations!'])
  assertEquals(notes.every((n) => n.kind === 'social'), true)
  assertEquals(notes.find((n) => n.data.type === 'like')!.title, `${fan.name} liked your post`)

  // Editing and deleting comments: authors only; counts follow.
  const edit = await author.call(`comments/${comments[0]}`, { method: 'PATCH', body: { body: 'edited by the post author' } })
  assertEquals([edit.status, edit.body.error?.code], [403, 'not_the_author'])
  const edited = (await ok(fan.call, `comments/${comments[0]}`, { method: 'PATCH', body: { body: 'In the dry, slowly.' } })).comment
  assertMatch(edited.edited_at, ISO)
  await ok(stranger.call, `comments/${comments[1]}`, { method: 'DELETE' }, 204)
  assertEquals((await ok(fan.call, `posts/${post.id}`)).post.comment_count, 2)

  // Posts one cannot see: 404 for likes and comments, nothing stored.
  const hiddenFromStranger = await postAs(author, { body: 'friends', visibility: 'friends' })
  assertEquals((await stranger.call(`posts/${hiddenFromStranger.id}/like`, { method: 'POST' })).status, 404)
  assertEquals((await stranger.call(`posts/${hiddenFromStranger.id}/comments`, { method: 'POST', body: { body: 'hi' } })).status, 404)
  assertEquals((await stranger.call(`posts/${hiddenFromStranger.id}/comments`)).status, 404)
  const [{ likes, comments: n }] = await adminSql`select like_count as likes, comment_count as comments from pam.posts where id = ${hiddenFromStranger.id}`
  assertEquals([likes, n], [0, 0])
  assertEquals((await fan.call(`posts/${post.id}/comments`, { method: 'POST', body: { body: '' } })).status, 400)
})

Deno.test('social: who leaves a group, or is removed, takes no part in it through their own posts there', async () => {
  const [owner, a, b, c] = [await traveller(), await traveller(), await traveller(), await traveller()]
  const g = await makeGroup(owner, { name: 'Secret hot springs', visibility: 'private' })
  for (const t of [a, b, c]) {
    await ok(owner.call, `groups/${g.id}/invitations`, { method: 'POST', body: { user_id: t.id } }, 201)
    await ok(t.call, `groups/${g.id}/join`, { method: 'POST' }, 201)
  }
  const post = await postAs(a, { body: 'The track in', group_id: g.id })
  const mine = (await ok(a.call, `posts/${post.id}/comments`, { method: 'POST', body: { body: 'Gate was open' } }, 201)).comment
  await ok(b.call, `posts/${post.id}/comments`, { method: 'POST', body: { body: 'Thanks!' } }, 201)
  await ok(owner.call, `groups/${g.id}/members/${a.id}`, { method: 'DELETE' }, 204)
  const later = (await ok(b.call, `posts/${post.id}/comments`, { method: 'POST', body: { body: 'Gate code 4711' } }, 201)).comment
  await ok(b.call, `posts/${post.id}/like`, { method: 'POST' })

  // As for a post they cannot see: its comments, commenting, liking and editing are 404.
  const refused: [string, { method?: string; body?: Json }][] = [
    [`posts/${post.id}/comments`, {}],
    [`comments/${later.id}`, {}],
    [`posts/${post.id}/comments`, { method: 'POST', body: { body: 'Still here' } }],
    [`posts/${post.id}/like`, { method: 'POST' }],
    [`posts/${post.id}`, { method: 'PATCH', body: { body: 'Edited after' } }],
    [`comments/${mine.id}`, { method: 'PATCH', body: { body: 'Edited after' } }],
  ]
  for (const [path, init] of refused) {
    const res = await a.call(path, init)
    assertEquals(res.status, 404, `${init.method ?? 'GET'} ${path}: ${show(res)}`)
  }
  const [row] = await adminSql`select body, like_count, comment_count from pam.posts where id = ${post.id}`
  assertEquals([row.body, row.like_count, row.comment_count], ['The track in', 1, 3], 'nothing written')
  const told = (await notificationsOf(a.id)).filter((n) => ['comment', 'like'].includes(n.data.type))
  assertEquals(told.map((n) => n.body), ['Thanks!'], 'not notified of comments and likes once out of the group')
  assertEquals((await ok(b.call, `posts/${post.id}/comments`)).comments.length, 3, 'the members still are in it')
  // What they wrote there is still theirs to take back.
  assertEquals((await ok(a.call, `comments/${mine.id}`)).comment.body, 'Gate was open')
  await ok(a.call, `comments/${mine.id}`, { method: 'DELETE' }, 204)
  assertEquals((await ok(b.call, `posts/${post.id}/comments`)).comments.map((x: Json) => x.body), ['Thanks!', 'Gate code 4711'])

  // Leaving is the same; the author still reads their post, and deletes it.
  const own = await postAs(c, { body: 'Leaving soon', group_id: g.id })
  await ok(c.call, `groups/${g.id}/leave`, { method: 'POST' }, 204)
  assertEquals((await c.call(`posts/${own.id}/comments`, { method: 'POST', body: { body: 'bye' } })).status, 404)
  assertEquals((await ok(a.call, `posts/${post.id}`)).post.body, 'The track in')
  await ok(a.call, `posts/${post.id}`, { method: 'DELETE' }, 204)
  assertEquals((await b.call(`posts/${post.id}`)).status, 404)
})

Deno.test('social: a client-made id that is someone else’s post, comment or group is 409 id_taken, never their record', async () => {
  const [a, b] = [await traveller(), await traveller()]
  const post = await postAs(b, { body: 'Theirs' })
  const comment = (await ok(b.call, `posts/${post.id}/comments`, { method: 'POST', body: { body: 'Theirs too' } }, 201)).comment
  const group = await makeGroup(b, { name: 'Their group' })
  const creates: [string, Json][] = [
    ['posts', { id: post.id, body: 'x' }],
    [`posts/${post.id}/comments`, { id: comment.id, body: 'x' }],
    ['groups', { id: group.id, name: 'x' }],
  ]
  const answers: unknown[][] = []
  for (const [path, body] of creates) {
    const res = await a.call(path, { method: 'POST', body })
    answers.push([path, res.status, res.body.error?.code ?? res.body])
  }
  assertEquals(answers, creates.map(([path]) => [path, 409, 'id_taken']))
  // One's own id again: the record, unchanged.
  for (const [path, body] of creates) {
    const id = crypto.randomUUID()
    const made = await ok(a.call, path, { method: 'POST', body: { ...body, id } }, 201)
    const again = await ok(a.call, path, { method: 'POST', body: { ...body, id, [path === 'groups' ? 'name' : 'body']: 'y' } })
    assertEquals(again, made)
  }
  assertEquals((await ok(b.call, `posts/${post.id}`)).post.body, 'Theirs')
})

Deno.test('social: concurrent likes and comments keep exact counts', async () => {
  const author = await traveller()
  const fans = await Promise.all(Array.from({ length: 6 }, () => traveller()))
  const post = await postAs(author, { body: 'Count me' })
  await Promise.all(fans.flatMap((f) => [
    f.call(`posts/${post.id}/like`, { method: 'POST' }),
    f.call(`posts/${post.id}/like`, { method: 'POST' }),
    f.call(`posts/${post.id}/comments`, { method: 'POST', body: { body: 'me too' } }),
  ]))
  const seen = (await ok(author.call, `posts/${post.id}`)).post
  assertEquals([seen.like_count, seen.comment_count], [6, 6])
})

Deno.test('social: friends — ask by email or id, accept, decline, ask back, and unfriend', async () => {
  const [a, b, c] = [await traveller(), await traveller(), await traveller()]
  const asked = await ok(a.call, 'friends/requests', { method: 'POST', body: { email: b.email, message: 'Met at Karijini' } }, 201)
  assertEquals(
    [asked.request.from, asked.request.to, asked.request.status, asked.request.message],
    [{ id: a.id, name: a.name }, { id: b.id, name: b.name }, 'pending', 'Met at Karijini'],
  )
  await ok(a.call, 'friends/requests', { method: 'POST', body: { user_id: b.id } }, 200)
  assertEquals((await ok(a.call, 'friends/requests?direction=outgoing')).requests.length, 1)
  assertEquals((await ok(b.call, 'friends/requests')).requests.map((r: Json) => r.id), [asked.request.id])
  assert((await notificationsOf(b.id)).some((n) => n.data.type === 'friend_request' && n.body === 'Met at Karijini'))
  assertEquals((await a.call(`friends/requests/${asked.request.id}/accept`, { method: 'POST' })).status, 404, 'not the asker’s to accept')
  const accepted = await ok(b.call, `friends/requests/${asked.request.id}/accept`, { method: 'POST' })
  assertEquals(accepted.request.status, 'accepted')
  assertMatch(accepted.request.responded_at, ISO)
  assertEquals((await ok(a.call, 'friends')).friends.map((f: Json) => f.user), [{ id: b.id, name: b.name }])
  assertEquals((await ok(b.call, 'friends')).friends.map((f: Json) => f.user.id), [a.id])
  assert((await notificationsOf(a.id)).some((n) => n.data.type === 'friend_accepted'))
  const twice = await a.call('friends/requests', { method: 'POST', body: { user_id: b.id } })
  assertEquals([twice.status, twice.body.error?.code], [409, 'already_friends'])

  // Asking someone who asked you accepts their request.
  await ok(c.call, 'friends/requests', { method: 'POST', body: { user_id: a.id } }, 201)
  const mutual = await ok(a.call, 'friends/requests', { method: 'POST', body: { user_id: c.id } }, 200)
  assertEquals(mutual.request.status, 'accepted')

  // Unfriending; then a declined request stays declined for the asker, and the decliner may ask.
  await ok(a.call, `friends/${c.id}`, { method: 'DELETE' }, 204)
  assertEquals((await ok(c.call, 'friends')).friends, [])
  const second = await ok(c.call, 'friends/requests', { method: 'POST', body: { user_id: a.id } }, 201)
  const declined = await ok(a.call, `friends/requests/${second.request.id}/decline`, { method: 'POST' })
  assertEquals(declined.request.status, 'declined')
  const retry = await c.call('friends/requests', { method: 'POST', body: { user_id: a.id } })
  assertEquals([retry.status, retry.body.error?.code], [409, 'request_declined'])
  assertEquals((await c.call(`friends/${a.id}`, { method: 'DELETE' })).body.error.code, 'request_declined')
  const askBack = await ok(a.call, 'friends/requests', { method: 'POST', body: { user_id: c.id } }, 201)
  assertEquals([askBack.request.from.id, askBack.request.status], [a.id, 'pending'])

  // Refusals.
  assertEquals((await a.call('friends/requests', { method: 'POST', body: { user_id: a.id } })).body.error.code, 'cannot_befriend_yourself')
  assertEquals((await a.call('friends/requests', { method: 'POST', body: { email: 'no-one@example.com' } })).status, 404)
  assertEquals((await a.call('friends/requests', { method: 'POST', body: { user_id: b.id, email: b.email } })).status, 400)
  assertEquals((await a.call('friends/requests', { method: 'POST', body: {} })).status, 400)
  assertEquals((await a.call(`friends/${crypto.randomUUID()}`, { method: 'DELETE' })).status, 404)
})

Deno.test('social: moderators hide and unhide posts in their group; hidden posts leave the feed', async () => {
  const [owner, mod, author, member] = [await traveller(), await traveller(), await traveller(), await traveller()]
  const g = await makeGroup(owner, { name: 'Moderated' })
  for (const t of [mod, author, member]) await ok(t.call, `groups/${g.id}/join`, { method: 'POST' }, 201)
  await ok(owner.call, `groups/${g.id}/members/${mod.id}`, { method: 'PATCH', body: { role: 'moderator' } })
  const post = await postAs(author, { body: 'Buy my followers', group_id: g.id })
  for (const t of [author, member]) {
    const res = await t.call(`posts/${post.id}/hide`, { method: 'POST' })
    assertEquals([res.status, res.body.error?.code], [403, 'not_a_moderator'])
  }
  const hidden = (await ok(mod.call, `posts/${post.id}/hide`, { method: 'POST' })).post
  assertEquals(hidden.hidden, true)
  assertEquals((await member.call(`posts/${post.id}`)).status, 404, 'members no longer see it')
  assert(!(await feedIds(member, `group_id=${g.id}`)).includes(post.id))
  assertEquals((await ok(author.call, `posts/${post.id}`)).post.hidden, true, 'its author still does, marked hidden')
  assertEquals((await ok(author.call, `users/${author.id}/posts`)).posts[0].id, post.id)
  assertEquals((await ok(owner.call, `posts/${post.id}`)).post.hidden, true)
  const unhide = await author.call(`posts/${post.id}/unhide`, { method: 'POST' })
  assertEquals(unhide.status, 403, 'the author cannot unhide')
  await ok(owner.call, `posts/${post.id}/unhide`, { method: 'POST' })
  assertEquals((await ok(member.call, `posts/${post.id}`)).post.hidden, false)
  const pub = await postAs(author, { body: 'public' })
  assertEquals((await owner.call(`posts/${pub.id}/hide`, { method: 'POST' })).status, 403, 'a public post is not a group’s to hide')
  assertEquals((await owner.call(`posts/${crypto.randomUUID()}/hide`, { method: 'POST' })).status, 404)
})

Deno.test('social: reports are made once per person and target, of things they can see', async () => {
  const [author, reporter] = [await traveller(), await traveller()]
  const post = await postAs(author, { body: 'Cheap diesel, DM me' })
  const comment = (await ok(author.call, `posts/${post.id}/comments`, { method: 'POST', body: { body: 'seriously' } }, 201)).comment
  const made = (await ok(reporter.call, 'reports', { method: 'POST', body: { post_id: post.id, reason: 'scam', details: 'asks for bank details' } }, 201)).report
  assertEquals([made.post_id, made.comment_id, made.reason, made.status], [post.id, null, 'scam', 'open'])
  const again = await reporter.call('reports', { method: 'POST', body: { post_id: post.id, reason: 'spam' } })
  assertEquals([again.status, again.body.error?.code], [409, 'already_reported'])
  await ok(reporter.call, 'reports', { method: 'POST', body: { comment_id: comment.id, reason: 'spam' } }, 201)
  assertEquals((await ok(reporter.call, 'reports')).reports.length, 2)
  assertEquals((await ok(author.call, 'reports')).reports.length, 0)
  const unseen = await postAs(author, { body: 'friends', visibility: 'friends' })
  assertEquals((await reporter.call('reports', { method: 'POST', body: { post_id: unseen.id, reason: 'spam' } })).status, 404)
  assertEquals((await reporter.call('reports', { method: 'POST', body: { post_id: post.id, comment_id: comment.id, reason: 'spam' } })).status, 400)
  assertEquals((await reporter.call('reports', { method: 'POST', body: { post_id: post.id, reason: 'boring' } })).status, 400)
})

Deno.test('social: posting is rate limited per user (PAM_RATE_LIMIT_SOCIAL)', async () => {
  await awayFromWindowEdge()
  const user = await signUp()
  const call = socialApp({ PAM_RATE_LIMIT_SOCIAL: '3', PAM_RATE_LIMIT_STANDARD: '1000' })(user)
  for (let i = 0; i < 3; i++) assertEquals((await call('posts', { method: 'POST', body: { body: `post ${i}` } })).status, 201)
  const limited = await call('posts', { method: 'POST', body: { body: 'one too many' } })
  assertEquals(limited.status, 429)
  assert(limited.headers.get('retry-after'))
  assertEquals((await call('feed')).status, 200, 'reading is not limited by the posting tier')
  assertEquals(await postCount(user.id), 3)
})

Deno.test('social: PAM posts for the traveller (in a group by name, to everyone) and reads them the feed', async () => {
  const [me, other] = [await traveller(), await traveller()]
  const pam = chatAs(me)
  const say = async (message: string) => (await ok(pam, 'messages', { method: 'POST', body: { message } }, 201)).message
  const g = await makeGroup(me, { name: 'Nullarbor crossers' })

  const inGroup = await say('tell the Nullarbor crossers group: road open past Eucla, fuel at Border Village')
  assertEquals(inGroup.metadata.intent, 'social_post', JSON.stringify(inGroup.metadata))
  const [posted] = (await ok(me.call, `feed?group_id=${g.id}`)).posts
  assertEquals([posted.body, posted.group.name], ['road open past Eucla, fuel at Border Village', 'Nullarbor crossers'])
  assertMatch(inGroup.content, /^Posted in Nullarbor crossers: "road open past Eucla/)

  await say('let everyone know the Savannah Way is flooded at the Roper')
  const [pub] = (await ok(other.call, `users/${me.id}/posts`)).posts
  assertEquals([pub.body, pub.visibility], ['the Savannah Way is flooded at the Roper', 'public'])

  const before = await postCount(me.id)
  const stranger = await say('post to the Jayco owners group: anyone got a spare awning arm?')
  assertMatch(stranger.content, /not in a group called "Jayco owners"/)
  assertEquals(await postCount(me.id), before, 'nothing posted where they are not a member')

  await postAs(other, { body: 'Dust storm near Coober Pedy, take care' })
  await postAs(other, { body: 'friends only: not for strangers', visibility: 'friends' })
  const feed = await say("what's new in the feed")
  assertEquals(feed.metadata.intent, 'social_feed')
  assertMatch(feed.content, new RegExp(`${other.name}: "Dust storm near Coober Pedy`))
  assert(!feed.content.includes('not for strangers'), 'PAM reads only what the traveller may see')
})
