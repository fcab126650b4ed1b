// Social's visibility rules, each its own test, against the database through
// RLS as real users (owner, moderator, member, non-member, friend, anon) with
// the functions' own RLS-scoped client: not through the API. Rows are set up
// with the admin connection, so each test states exactly the situation it
// checks.
import { assert, assertEquals } from './_support/assert.ts'
import { asAnon, asUser, newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'
import type { PostgresApi } from '../supabase/functions/_shared/db.ts'

const SOCIAL_TABLES = ['groups', 'group_members', 'group_invitations', 'friendships', 'posts', 'comments', 'post_likes', 'reports']

async function group(owner: string, visibility: 'public' | 'private'): Promise<string> {
  const [g] = await adminSql`insert into pam.groups (owner_id, name, visibility) values (${owner}, 'Crew', ${visibility}) returning id`
  return g.id // the trigger made `owner` its owner member
}
const member = (g: string, user: string, role = 'member') =>
  adminSql`insert into pam.group_members (group_id, user_id, role) values (${g}, ${user}, ${role})`
const befriend = (a: string, b: string, status = 'accepted') =>
  adminSql`insert into pam.friendships (requester_id, addressee_id, status) values (${a}, ${b}, ${status}) returning id`
async function post(author: string, opts: { visibility?: string; group?: string; hidden?: boolean } = {}): Promise<string> {
  const visibility = opts.group ? 'group' : opts.visibility ?? 'public'
  const [p] = await adminSql`insert into pam.posts (author_id, body, visibility, group_id, hidden)
    values (${author}, 'Corrugations past the gorge', ${visibility}, ${opts.group ?? null}, ${opts.hidden ?? false}) returning id`
  return p.id
}
async function comment(postId: string, author: string): Promise<string> {
  const [c] = await adminSql`insert into pam.comments (post_id, author_id, body) values (${postId}, ${author}, 'Thanks!') returning id`
  return c.id
}

const sees = async (db: PostgresApi, table: string, where: string, params: unknown[]) =>
  (await db.queryRaw(`select 1 from pam.${table} where ${where}`, params)).length > 0
const seesPost = (user: string, id: string) => sees(asUser(user), 'posts', 'id = $1', [id])

/** The database's refusal as the functions see it: the status of the ApiError it maps to. */
async function refusal(p: Promise<unknown>): Promise<number | 'none'> {
  try {
    await p
    return 'none'
  } catch (err) {
    if (err instanceof ApiError) return err.status
    throw err
  }
}

const users = async (n: number) => await Promise.all(Array.from({ length: n }, () => newAuthUser()))

Deno.test('social RLS: a public post is readable by every signed-in user, and by no anon caller', async () => {
  const [author, anyone] = await users(2)
  const id = await post(author)
  assert(await seesPost(author, id))
  assert(await seesPost(anyone, id), 'another signed-in user reads a public post')
  assert(!(await sees(asAnon(), 'posts', 'id = $1', [id]).catch(() => false)), 'anon reads nothing')
})

Deno.test('social RLS: a friends post is readable by accepted friends only', async () => {
  const [author, friend, pending, stranger] = await users(4)
  await befriend(author, friend)
  await befriend(pending, author, 'pending')
  const id = await post(author, { visibility: 'friends' })
  assert(await seesPost(author, id))
  assert(await seesPost(friend, id), 'an accepted friend reads it (whoever asked)')
  assert(!(await seesPost(pending, id)), 'a pending request is not a friendship')
  assert(!(await seesPost(stranger, id)), 'a stranger does not read it')
  await adminSql`delete from pam.friendships where ${friend} in (requester_id, addressee_id)`
  assert(!(await seesPost(friend, id)), 'after unfriending, the post is gone for them')
})

Deno.test("social RLS: a group post is readable by the group's members only", async () => {
  const [owner, memberId, outsider] = await users(3)
  for (const visibility of ['public', 'private'] as const) {
    const g = await group(owner, visibility)
    await member(g, memberId)
    const id = await post(memberId, { group: g })
    assert(await seesPost(owner, id), `${visibility}: the owner reads it`)
    assert(await seesPost(memberId, id), `${visibility}: a member reads it`)
    assert(!(await seesPost(outsider, id)), `${visibility} group: a non-member does not read it`)
    await adminSql`delete from pam.group_members where group_id = ${g} and user_id = ${memberId}`
    assert(await seesPost(memberId, id), 'an author who left still reads their own post')
  }
})

Deno.test("social RLS: a private group's existence and member list are its members' (and an invitee sees the group)", async () => {
  const [owner, memberId, invitee, outsider] = await users(4)
  const g = await group(owner, 'private')
  await member(g, memberId)
  await adminSql`insert into pam.group_invitations (group_id, user_id, invited_by) values (${g}, ${invitee}, ${owner})`
  for (const who of [owner, memberId]) {
    assert(await sees(asUser(who), 'groups', 'id = $1', [g]), 'a member sees the group')
    assertEquals((await asUser(who).queryRaw('select user_id from pam.group_members where group_id = $1', [g])).length, 2)
  }
  assert(!(await sees(asUser(outsider), 'groups', 'id = $1', [g])), 'a non-member does not see a private group')
  assert(!(await sees(asUser(outsider), 'group_members', 'group_id = $1', [g])), 'nor its members')
  assert(await sees(asUser(invitee), 'groups', 'id = $1', [g]), 'an invitee sees the group they are invited to')
  assert(!(await sees(asUser(invitee), 'group_members', 'group_id = $1', [g])), 'but not its members')
  // A public group and its members are everyone's to see.
  const pub = await group(owner, 'public')
  assert(await sees(asUser(outsider), 'groups', 'id = $1', [pub]))
  assert(await sees(asUser(outsider), 'group_members', 'group_id = $1', [pub]))
})

Deno.test('social RLS: joining is yourself, as a member, of a public group or one you are invited to', async () => {
  const [owner, joiner, other] = await users(3)
  const pub = await group(owner, 'public')
  const priv = await group(owner, 'private')
  const join = (who: string, g: string, user = who, role?: string) =>
    role
      ? asUser(who).queryRaw('insert into pam.group_members (group_id, user_id, role) values ($1, $2, $3)', [g, user, role])
      : asUser(who).queryRaw('insert into pam.group_members (group_id, user_id) values ($1, $2)', [g, user])
  assertEquals(await refusal(join(joiner, priv)), 403, 'no invitation, no way into a private group')
  assertEquals(await refusal(join(joiner, pub, joiner, 'moderator')), 403, 'nobody makes themselves a moderator')
  assertEquals(await refusal(join(joiner, pub, other)), 403, 'nobody adds someone else')
  assertEquals(await refusal(join(joiner, pub)), 'none', 'anyone joins a public group')
  await adminSql`insert into pam.group_invitations (group_id, user_id, invited_by) values (${priv}, ${joiner}, ${owner})`
  assertEquals(await refusal(join(joiner, priv)), 'none', 'an invitation lets them in')
  const [{ n }] = await adminSql`select count(*)::int as n from pam.group_invitations where group_id = ${priv}`
  assertEquals(n, 0, 'joining uses the invitation up')
  const [{ member_count }] = await adminSql`select member_count from pam.groups where id = ${priv}`
  assertEquals(member_count, 2, 'member_count follows the members')
})

Deno.test('social RLS: only the owner changes roles, edits or deletes a group; nobody changes the owner row', async () => {
  const [owner, mod, plain] = await users(3)
  const g = await group(owner, 'public')
  await member(g, mod, 'moderator')
  await member(g, plain)
  const setRole = (who: string, user: string, role: string) =>
    asUser(who).queryRaw('update pam.group_members set role = $3 where group_id = $1 and user_id = $2 returning 1', [g, user, role])
  assertEquals((await setRole(mod, plain, 'moderator')).length, 0, 'a moderator does not set roles')
  assertEquals((await setRole(owner, plain, 'moderator')).length, 1, 'the owner does')
  assertEquals(await refusal(setRole(owner, plain, 'owner')), 403, 'there is one owner')
  assertEquals(await refusal(setRole(owner, owner, 'member')), 403, 'the owner row does not change')
  const rename = (who: string) => asUser(who).queryRaw(`update pam.groups set name = 'Mine now' where id = $1 returning 1`, [g])
  assertEquals((await rename(mod)).length, 0)
  assertEquals((await rename(owner)).length, 1)
  const drop = (who: string) => asUser(who).queryRaw('delete from pam.groups where id = $1 returning 1', [g])
  assertEquals((await drop(plain)).length, 0)
  assertEquals((await drop(mod)).length, 0)
  assertEquals((await drop(owner)).length, 1)
})

Deno.test('social RLS: only authors edit or delete their posts and comments', async () => {
  const [author, owner, other] = await users(3)
  const g = await group(owner, 'public')
  await member(g, author)
  for (const [id, inGroup] of [[await post(author), false], [await post(author, { group: g }), true]] as const) {
    const edit = (who: string) => asUser(who).queryRaw(`update pam.posts set body = 'edited' where id = $1 returning 1`, [id])
    assertEquals((await edit(other)).length, 0, 'another user edits nothing')
    // The group's owner may update the row (to hide it), and the guard refuses the edit.
    assertEquals(await refusal(edit(owner).then((rows) => rows.length)), inGroup ? 403 : 'none')
    assertEquals((await edit(author)).length, 1, 'the author edits')
    const [{ edited_at }] = await adminSql`select edited_at from pam.posts where id = ${id}`
    assert(edited_at, 'an edit is stamped')
    const del = (who: string) => asUser(who).queryRaw('delete from pam.posts where id = $1 returning 1', [id])
    const c = await comment(id, owner)
    const editComment = (who: string) =>
      asUser(who).queryRaw(`update pam.comments set body = 'edited' where id = $1 returning 1`, [c])
    assertEquals((await editComment(author)).length, 0, "the post's author does not edit others' comments")
    assertEquals((await editComment(owner)).length, 1, 'the comment’s author does')
    assertEquals((await asUser(author).queryRaw('delete from pam.comments where id = $1 returning 1', [c])).length, 0)
    assertEquals((await asUser(owner).queryRaw('delete from pam.comments where id = $1 returning 1', [c])).length, 1)
    assertEquals((await del(other)).length, 0)
    assertEquals((await del(owner)).length, 0, 'a group owner hides, but does not delete, posts')
    assertEquals((await del(author)).length, 1)
  }
})

Deno.test("social RLS: the group's moderators and owner hide posts; nobody else, not even the author, hides or unhides", async () => {
  const [owner, mod, author, plain, outsider] = await users(5)
  const g = await group(owner, 'public')
  await member(g, mod, 'moderator')
  await member(g, author)
  await member(g, plain)
  const id = await post(author, { group: g })
  const hide = (who: string, hidden: boolean) =>
    asUser(who).queryRaw('update pam.posts set hidden = $2 where id = $1 returning 1', [id, hidden])
  assertEquals(await refusal(hide(author, true)), 403, 'the author does not hide')
  assertEquals((await hide(plain, true)).length, 0, 'a plain member does not')
  assertEquals((await hide(outsider, true)).length, 0, 'a non-member does not')
  assertEquals((await hide(mod, true)).length, 1, 'a moderator does')
  assertEquals(await refusal(hide(author, false)), 403, 'the author does not unhide')
  assertEquals(await refusal(asUser(mod).queryRaw(`update pam.posts set body = 'moderated' where id = $1`, [id])), 403, 'a moderator does not edit')
  assertEquals((await hide(owner, false)).length, 1, 'the owner unhides')
  // A public post has no group: only the service role (the admin portal) hides it.
  const pub = await post(author)
  assertEquals((await asUser(owner).queryRaw('update pam.posts set hidden = true where id = $1 returning 1', [pub])).length, 0)
})

Deno.test("social RLS: a hidden post is visible only to its author and the group's moderators, and so are its comments", async () => {
  const [owner, mod, author, plain, outsider] = await users(5)
  const g = await group(owner, 'public')
  await member(g, mod, 'moderator')
  await member(g, author)
  await member(g, plain)
  const id = await post(author, { group: g, hidden: true })
  const c = await comment(id, author)
  for (const who of [author, mod, owner]) {
    assert(await seesPost(who, id), 'author and moderators see a hidden post')
    assert(await sees(asUser(who), 'comments', 'id = $1', [c]), 'and its comments')
  }
  for (const who of [plain, outsider]) {
    assert(!(await seesPost(who, id)), 'a member or outsider does not')
    assert(!(await sees(asUser(who), 'comments', 'id = $1', [c])), 'nor its comments')
  }
  // A hidden public post (hidden by the admin portal): its author alone.
  const pub = await post(author, { hidden: true })
  assert(await seesPost(author, pub))
  assert(!(await seesPost(mod, pub)))
})

Deno.test('social RLS: comments are as visible as their post; nobody comments on a post they cannot see', async () => {
  const [author, friend, stranger] = await users(3)
  await befriend(author, friend)
  const id = await post(author, { visibility: 'friends' })
  const c = await comment(id, friend)
  assert(await sees(asUser(friend), 'comments', 'id = $1', [c]))
  assert(!(await sees(asUser(stranger), 'comments', 'id = $1', [c])))
  const add = (who: string) => asUser(who).queryRaw(`insert into pam.comments (post_id, body) values ($1, 'hi') returning id`, [id])
  assertEquals(await refusal(add(stranger)), 403, 'a stranger cannot comment')
  assertEquals((await add(friend)).length, 1)
  assertEquals(
    await refusal(asUser(friend).queryRaw(`insert into pam.comments (post_id, author_id, body) values ($1, $2, 'as you')`, [id, author])),
    403,
    'nobody comments in another’s name',
  )
})

Deno.test("social RLS: an author out of a post's group reads and deletes the post, and nothing more", async () => {
  const [owner, author, other] = await users(3)
  const g = await group(owner, 'private')
  await member(g, author)
  await member(g, other)
  const id = await post(author, { group: g })
  const c = await comment(id, other)
  await adminSql`delete from pam.group_members where group_id = ${g} and user_id = ${author}`
  const db = asUser(author)
  assert(await seesPost(author, id), 'the author still reads their post')
  assert(!(await sees(db, 'comments', 'post_id = $1', [id])), 'not its comments')
  assertEquals(await refusal(db.queryRaw(`insert into pam.comments (post_id, body) values ($1, 'hi')`, [id])), 403)
  assertEquals(await refusal(db.queryRaw('insert into pam.post_likes (post_id) values ($1)', [id])), 403)
  assertEquals((await db.queryRaw(`update pam.posts set body = 'edited' where id = $1 returning 1`, [id])).length, 0)
  assert(await sees(asUser(other), 'comments', 'id = $1', [c]), 'the members still read the comments')
  assertEquals((await db.queryRaw('delete from pam.posts where id = $1 returning 1', [id])).length, 1)
})

Deno.test('social RLS: one like per user per post, only on posts they can see; likes are private; counts follow', async () => {
  const [author, fan, stranger] = await users(3)
  const pub = await post(author)
  const friendsOnly = await post(author, { visibility: 'friends' })
  const like = (who: string, id: string) => asUser(who).queryRaw('insert into pam.post_likes (post_id) values ($1)', [id])
  assertEquals(await refusal(like(fan, pub)), 'none')
  assertEquals(await refusal(like(fan, pub)), 409, 'nobody likes twice')
  assertEquals(await refusal(like(stranger, friendsOnly)), 403, 'nobody likes a post they cannot see')
  assertEquals(
    await refusal(asUser(fan).queryRaw('insert into pam.post_likes (post_id, user_id) values ($1, $2)', [pub, stranger])),
    403,
    'nobody likes in another’s name',
  )
  assert(!(await sees(asUser(author), 'post_likes', 'post_id = $1', [pub])), 'who liked is the liker’s own')
  const [{ like_count }] = await adminSql`select like_count from pam.posts where id = ${pub}`
  assertEquals(like_count, 1)
  assertEquals((await asUser(stranger).queryRaw('delete from pam.post_likes where post_id = $1 returning 1', [pub])).length, 0)
  assertEquals((await asUser(fan).queryRaw('delete from pam.post_likes where post_id = $1 returning 1', [pub])).length, 1)
  assertEquals((await adminSql`select like_count from pam.posts where id = ${pub}`)[0].like_count, 0)
  assertEquals(
    await refusal(asUser(author).queryRaw('update pam.posts set like_count = 1000 where id = $1', [pub])),
    403,
    'counters are not writable',
  )
})

Deno.test("social RLS: friend requests are their two people's; only the addressee accepts", async () => {
  const [a, b, c] = await users(3)
  const [{ id }] = await asUser(a).queryRaw<{ id: string }>('insert into pam.friendships (addressee_id) values ($1) returning id', [b])
  assert(await sees(asUser(b), 'friendships', 'id = $1', [id]))
  assert(!(await sees(asUser(c), 'friendships', 'id = $1', [id])), 'a third person sees nothing')
  const accept = (who: string) => asUser(who).queryRaw(`update pam.friendships set status = 'accepted' where id = $1 returning 1`, [id])
  assertEquals((await accept(a)).length, 0, 'the requester cannot accept for them')
  assertEquals((await accept(c)).length, 0)
  assertEquals(
    await refusal(asUser(a).queryRaw(`insert into pam.friendships (addressee_id, status) values ($1, 'accepted')`, [c])),
    403,
    'nobody inserts a friendship already accepted',
  )
  assertEquals(
    await refusal(asUser(c).queryRaw('insert into pam.friendships (requester_id, addressee_id) values ($1, $2)', [a, b])),
    403,
    'nobody asks in another’s name',
  )
  assertEquals((await accept(b)).length, 1)
  assertEquals((await asUser(c).queryRaw('delete from pam.friendships where id = $1 returning 1', [id])).length, 0)
  assertEquals((await asUser(a).queryRaw('delete from pam.friendships where id = $1 returning 1', [id])).length, 1)
})

Deno.test('social RLS: a friend request stays between its two people; its addressee only answers it or asks back', async () => {
  const [a, b, c] = await users(3)
  const [{ id }] = await asUser(a).queryRaw<{ id: string }>(`insert into pam.friendships (addressee_id, message) values ($1, 'hi') returning id`, [b])
  const update = (who: string, set: string, params: unknown[] = []) =>
    refusal(asUser(who).queryRaw(`update pam.friendships set ${set} where id = $1`, [id, ...params]))
  assertEquals(await update(b, `requester_id = $2, status = 'accepted'`, [c]), 403, 'the addressee does not befriend a third person')
  assertEquals(await update(b, `requester_id = $2, addressee_id = $3, status = 'pending'`, [b, c]), 403, 'nor turns it into a request to them')
  assertEquals(await update(b, `requester_id = $2, addressee_id = $3, status = 'pending'`, [b, a]), 403, 'a pending request is answered, not asked back')
  assertEquals(await update(b, `status = 'declined'`), 'none')
  assertEquals(await update(b, `message = 'rewritten'`), 403, 'the message is the requester’s')
  assertEquals(await update(b, `requester_id = $2, addressee_id = $3, status = 'pending'`, [b, a]), 'none', 'a declined request is asked back')
  assertEquals(await update(a, `status = 'accepted'`), 'none')
  assertEquals(await update(a, `status = 'declined'`), 403, 'a friendship is removed, not declined')
  const [row] = await adminSql`select requester_id, addressee_id, status, message from pam.friendships where id = ${id}`
  assertEquals(row, { requester_id: b, addressee_id: a, status: 'accepted', message: 'hi' })
  assertEquals((await adminSql`select count(*)::int as n from pam.friendships where ${c} in (requester_id, addressee_id)`)[0].n, 0)
})

Deno.test('social RLS: invitations are made by moderators and seen by the invitee and the moderators', async () => {
  const [owner, plain, invitee, outsider] = await users(4)
  const g = await group(owner, 'private')
  await member(g, plain)
  const invite = (who: string, user: string) =>
    asUser(who).queryRaw('insert into pam.group_invitations (group_id, user_id) values ($1, $2)', [g, user])
  assertEquals(await refusal(invite(plain, invitee)), 403, 'a plain member does not invite')
  assertEquals(await refusal(invite(outsider, outsider)), 403, 'nobody invites themselves')
  assertEquals(await refusal(invite(owner, invitee)), 'none')
  assert(await sees(asUser(invitee), 'group_invitations', 'group_id = $1', [g]))
  assert(await sees(asUser(owner), 'group_invitations', 'group_id = $1', [g]))
  assert(!(await sees(asUser(plain), 'group_invitations', 'group_id = $1', [g])))
  assert(!(await sees(asUser(outsider), 'group_invitations', 'group_id = $1', [g])))
})

Deno.test('social RLS: reports are of visible things, and their reporter’s own', async () => {
  const [author, reporter, other] = await users(3)
  const pub = await post(author)
  const hiddenFromReporter = await post(author, { visibility: 'friends' })
  const report = (who: string, id: string) =>
    asUser(who).queryRaw(`insert into pam.reports (post_id, reason) values ($1, 'spam') returning id`, [id])
  const [{ id }] = await report(reporter, pub) as { id: string }[]
  assertEquals(await refusal(report(reporter, hiddenFromReporter)), 403, 'nobody reports what they cannot see')
  assertEquals(await refusal(report(reporter, pub)), 409, 'one report per person and post')
  assert(await sees(asUser(reporter), 'reports', 'id = $1', [id]))
  assert(!(await sees(asUser(author), 'reports', 'id = $1', [id])), 'the author does not see who reported them')
  assert(!(await sees(asUser(other), 'reports', 'id = $1', [id])))
  assertEquals(
    await refusal(asUser(reporter).queryRaw(`update pam.reports set status = 'dismissed' where id = $1`, [id])),
    403,
    'reports are resolved by moderators, not by reporters',
  )
})

Deno.test('social RLS: anon reads and writes nothing on any social table', async () => {
  const [author] = await users(1)
  const id = await post(author)
  await group(author, 'public')
  for (const table of SOCIAL_TABLES) {
    const r = await refusal(asAnon().queryRaw(`select 1 from pam.${table} limit 1`))
    assertEquals(r, 403, `anon reads pam.${table}`)
  }
  assertEquals(await refusal(asAnon().queryRaw(`insert into pam.post_likes (post_id, user_id) values ($1, $2)`, [id, author])), 403)
  assertEquals(await refusal(asAnon().queryRaw(`select * from pam.social_profiles limit 1`)), 403, 'nor the display names')
})

Deno.test("social: a group outlives its owner's account (a moderator, else the earliest member, takes it over)", async () => {
  const [owner, early, mod, alone] = await users(4)
  const g = await group(owner, 'private')
  await member(g, early)
  await member(g, mod, 'moderator')
  const solo = await group(owner, 'public')
  const keep = await post(early, { group: g })
  await adminSql`delete from auth.users where id = ${owner}`
  const [after] = await adminSql`select owner_id, member_count from pam.groups where id = ${g}`
  assertEquals([after.owner_id, after.member_count], [mod, 2], 'the moderator owns it now')
  const roles = await adminSql`select user_id, role from pam.group_members where group_id = ${g} order by role`
  assertEquals(roles.map((r) => [r.user_id, r.role]), [[early, 'member'], [mod, 'owner']])
  assert(await seesPost(early, keep), 'the members keep their posts')
  assertEquals((await adminSql`select 1 from pam.groups where id = ${solo}`).length, 0, 'a group of one goes with its owner')
  const g2 = await group(alone, 'public')
  await member(g2, early)
  await adminSql`delete from auth.users where id = ${alone}`
  assertEquals((await adminSql`select owner_id from pam.groups where id = ${g2}`)[0].owner_id, early, 'else the earliest member')
})
