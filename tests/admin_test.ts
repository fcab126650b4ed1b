// /admin end to end through the gateway: every route refuses non-admins and
// admins revoked after their token was issued (driven by the OpenAPI
// document); a suspended traveller is locked out of sign-in, refresh and
// every function; moderation changes what other travellers see and tells the
// reporter; campsite edits, retirement and CSV imports reach the camping
// search; expense rules classify Wins' expenses; product health comes from
// the product-metrics job; every action is in the audit log, which nobody
// can change; `npm run admin:grant` and `admin:revoke`.
import { assert, assertEquals, type Json } from './_support/assert.ts'
import { adminSql, client, signUp, stack, type TestUser } from './_support/stack.ts'
import { type Answer, functionAs } from './_support/wins.ts'
import { fillPath, grantAdmin, loadApi, paramsFor, requestBodyFor } from './_support/fixtures.ts'
import { callFunction } from './_support/stack.ts'
import { callJob } from './_support/jobs.ts'
import { asUser } from './_support/rls.ts'
import { CACHE_POLICIES, cacheFor } from '../supabase/functions/_shared/cache.ts'
import { getConfig } from '../supabase/functions/_shared/config.ts'

const adminAs = functionAs('admin')
const socialAs = functionAs('social')
const wheelsAs = functionAs('wheels')
const winsAs = functionAs('wins')
const authAs = functionAs('auth')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body).slice(0, 400)}`

async function ok(res: Promise<Answer>, status = 200): Promise<Json> {
  const r = await res
  assertEquals(r.status, status, show(r))
  return r.body
}

async function newAdmin(): Promise<TestUser> {
  const user = await signUp({ full_name: 'Ada Admin' })
  await grantAdmin(user)
  return user
}

const auditOf = (targetId: string) =>
  adminSql`select action, admin_id, target_type, before, after, request_id from pam.admin_audit_log
           where target_id = ${targetId} order by id`

Deno.test('admin: every route of the document refuses a traveller, and an admin revoked after their token was issued', async () => {
  const api = await loadApi()
  const ops = api.operations.filter((op) => op.path.startsWith('/admin/'))
  assert(ops.length >= 15, `admin operations in the document: ${ops.length}`)
  const traveller = await signUp()
  const revoked = await newAdmin()
  // A valid request from a current admin, for each route, then the same from the others.
  const fixtureOwner = await signUp()
  const auditBefore = (await adminSql`select count(*)::int as n from pam.admin_audit_log`)[0].n
  await adminSql`select pam.admin_revoke(${revoked.email})`
  for (const op of ops) {
    const path = fillPath(op.path, await paramsFor(fixtureOwner, op.path)).slice(1)
    const body = requestBodyFor(api, op, fixtureOwner)
    for (const [who, user] of [['traveller', traveller], ['revoked admin', revoked]] as const) {
      const res = await callFunction(path, {
        method: op.method,
        token: user.accessToken,
        headers: body ? { 'content-type': body.type } : {},
        body: body?.text,
      })
      const text = await res.text()
      assertEquals(res.status, 403, `${op.method} ${op.path} as a ${who}: ${res.status} ${text.slice(0, 300)}`)
      assertEquals(JSON.parse(text).error.code, 'not_an_admin')
    }
    const noToken = await callFunction(path, { method: op.method })
    await noToken.body?.cancel()
    assertEquals(noToken.status, 401, `${op.method} ${op.path} without a token`)
  }
  // The revoked admin's token still says pam_admin: only the database refused them.
  const claims = JSON.parse(atob(revoked.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
  assertEquals(claims.app_metadata.pam_admin, true)
  // The fixtures' owner was made an admin to set them up; nothing refused was recorded.
  const ownActions = await adminSql`select count(*)::int as n from pam.admin_audit_log
    where admin_id in (${traveller.id}, ${revoked.id})`
  assertEquals(ownActions[0].n, 0)
  assert((await adminSql`select count(*)::int as n from pam.admin_audit_log`)[0].n >= auditBefore)
})

Deno.test('admin: a suspended traveller cannot sign in, refresh or call any function; unsuspended, they can again', async () => {
  const admin = await newAdmin()
  const user = await signUp({ full_name: 'Suspended Sam' })
  const other = client()
  const { data } = await other.auth.signInWithPassword({ email: user.email, password: user.password })
  const refreshToken = data.session!.refresh_token

  const suspended = await ok(adminAs(admin)(`users/${user.id}/suspend`, { method: 'POST', body: { reason: 'spam waves' } }))
  assert(suspended.user.suspended_until, 'suspended_until is set')
  assertEquals(suspended.user.activity.sessions, 0)

  // Every user GET the document lists that needs nothing but a token: refused, the session is gone.
  const api = await loadApi()
  const gets = api.operations.filter((op) =>
    op.method === 'GET' && op.security === 'user' && !op.path.includes('{') && !op.path.startsWith('/admin/') &&
    !op.parameters.some((p) => p.required)
  )
  assert(gets.length >= 20, `user GET routes: ${gets.length}`)
  for (const op of gets) {
    const res = await callFunction(op.path.slice(1), { token: user.accessToken })
    await res.body?.cancel()
    assertEquals(res.status, 401, `GET ${op.path} with a suspended traveller's token`)
  }
  const signIn = await client().auth.signInWithPassword({ email: user.email, password: user.password })
  assertEquals(signIn.error?.code, 'user_banned')
  const refresh = await client().auth.refreshSession({ refresh_token: refreshToken })
  assert(refresh.error, 'the refresh token is refused')

  await ok(adminAs(admin)(`users/${user.id}/unsuspend`, { method: 'POST', body: { reason: 'appeal upheld' } }))
  const again = await client().auth.signInWithPassword({ email: user.email, password: user.password })
  assertEquals(again.error, null)
  const me = await callFunction('wins/expenses', { token: again.data.session!.access_token })
  await me.body?.cancel()
  assertEquals(me.status, 200)

  const actions = (await auditOf(user.id)).map((a) => a.action)
  assertEquals(actions, ['user.suspend', 'user.unsuspend'])
  const [first] = await auditOf(user.id)
  assertEquals(first.admin_id, admin.id)
  assertEquals(first.after.reason, 'spam waves')
  assertEquals(first.before.suspended_until, null)
  assert(first.request_id, 'the request id is recorded')
})

Deno.test('admin: users are found by email or name, shown with counts only, and deleted with everything they own', async () => {
  const admin = await newAdmin()
  const user = await signUp({ full_name: `Findable ${crypto.randomUUID().slice(0, 8)}` })
  await ok(winsAs(user)('expenses', { method: 'POST', body: { amount: '123.45', category: 'fuel' } }), 201)

  const byEmail = await ok(adminAs(admin)(`users?q=${encodeURIComponent(user.email.slice(0, 14))}`))
  assertEquals(byEmail.users.map((u: Json) => u.id), [user.id])
  const [profile] = await adminSql`select full_name from pam.profiles where id = ${user.id}`
  const byName = await ok(adminAs(admin)(`users?q=${encodeURIComponent(profile.full_name.slice(9))}`))
  assertEquals(byName.users.map((u: Json) => u.id), [user.id])

  const view = await ok(adminAs(admin)(`users/${user.id}`))
  assertEquals(view.user.activity.expenses, 1)
  assertEquals(view.user.admin, false)
  assert(!JSON.stringify(view).includes('123.45'), 'no money amounts')

  const missing = await adminAs(admin)(`users/${crypto.randomUUID()}`)
  assertEquals(missing.status, 404)
  const self = await adminAs(admin)(`users/${admin.id}`, { method: 'DELETE' })
  assertEquals(self.status, 400, show(self))

  await ok(adminAs(admin)(`users/${user.id}`, { method: 'DELETE' }), 204)
  assertEquals((await adminSql`select count(*)::int as n from auth.users where id = ${user.id}`)[0].n, 0)
  assertEquals((await adminSql`select count(*)::int as n from pam.expenses where user_id = ${user.id}`)[0].n, 0)
  const [deleted] = await auditOf(user.id)
  assertEquals(deleted.action, 'user.delete')
  assertEquals(deleted.before.email, user.email)
})

Deno.test('admin: deleting an account drops what the cache holds of it, as self-deletion does', async () => {
  const admin = await newAdmin()
  const user = await signUp()
  await ok(authAs(user)('me'))
  const warm = await authAs(user)('me')
  assertEquals([warm.status, warm.headers.get('x-cache')], [200, 'hit'])
  const cache = cacheFor(getConfig()) // the stack's functions' cache
  const profile = CACHE_POLICIES.user_profiles.key(user.id)
  assertEquals((await cache.get(profile)).status, 'hit')

  await ok(adminAs(admin)(`users/${user.id}`, { method: 'DELETE' }), 204)
  assertEquals((await cache.get(profile)).status, 'miss')
  // Its token, still unexpired, gets no profile from the cache: the database refuses its session.
  const gone = await authAs(user)('me')
  assertEquals([gone.status, gone.body.error?.code], [401, 'session_not_found'], show(gone))
})

Deno.test('admin: an id in upper case is the same account: never yourself, and in the audit log under its id', async () => {
  const admin = await newAdmin()
  const user = await signUp()
  const ADMIN = admin.id.toUpperCase()
  const selfSuspend = await adminAs(admin)(`users/${ADMIN}/suspend`, { method: 'POST', body: { reason: 'me' } })
  assertEquals(selfSuspend.status, 400, show(selfSuspend))
  const selfDelete = await adminAs(admin)(`users/${ADMIN}`, { method: 'DELETE' })
  assertEquals(selfDelete.status, 400, show(selfDelete))
  const [still] = await adminSql`select count(*)::int as n, bool_or(banned_until is not null) as banned from auth.users where id = ${admin.id}`
  assertEquals([still.n, still.banned], [1, false])

  const suspended = await ok(adminAs(admin)(`users/${user.id.toUpperCase()}/suspend`, { method: 'POST', body: { reason: 'spam' } }))
  assertEquals(suspended.user.id, user.id)
  for (const asked of [user.id, user.id.toUpperCase()]) {
    const { records } = await ok(adminAs(admin)(`audit?target_id=${asked}`))
    assertEquals(records.map((r: Json) => [r.action, r.target_id]), [['user.suspend', user.id]], asked)
  }
  // A record made before ids were read in lower case is found by either case too.
  const other = crypto.randomUUID()
  await adminSql`insert into pam.admin_audit_log (admin_id, action, target_type, target_id, request_id)
    values (${admin.id}, 'user.suspend', 'user', ${other.toUpperCase()}, 'before')`
  for (const asked of [other, other.toUpperCase()]) {
    const { records } = await ok(adminAs(admin)(`audit?target_id=${asked}`))
    assertEquals(records.map((r: Json) => r.target_id), [other.toUpperCase()], asked)
  }
})

Deno.test('admin: moderation hides what was reported from everyone, dismisses, suspends authors, and tells the reporters', async () => {
  const admin = await newAdmin()
  const [author, reporter, second, reader] = await Promise.all([signUp(), signUp(), signUp(), signUp()])
  const { post } = await ok(socialAs(author)('posts', { method: 'POST', body: { body: 'Buy cheap diesel here!!' } }), 201)
  await ok(socialAs(reader)(`posts/${post.id}`))
  const { report } = await ok(socialAs(reporter)('reports', { method: 'POST', body: { post_id: post.id, reason: 'spam' } }), 201)
  await ok(socialAs(second)('reports', { method: 'POST', body: { post_id: post.id, reason: 'scam' } }), 201)

  const queue = await ok(adminAs(admin)('reports?status=open&limit=200'))
  const mine = queue.reports.filter((r: Json) => r.target.id === post.id)
  assertEquals(mine.length, 2)
  assert(mine[0].created_at >= mine[1].created_at, 'newest first')
  assertEquals(mine[0].target.author_id, author.id)

  const acted = await ok(adminAs(admin)(`reports/${report.id}/action`, { method: 'POST', body: { action: 'hide', note: 'ad spam' } }))
  assertEquals(acted.report.status, 'actioned')
  assertEquals(acted.report.target.hidden, true)
  assertEquals((await socialAs(reader)(`posts/${post.id}`)).status, 404)
  const feed = await ok(socialAs(reader)('feed?limit=100'))
  assert(!feed.posts.some((p: Json) => p.id === post.id), 'gone from the feed')
  // Both reports of the post are resolved, and both reporters told.
  const statuses = await adminSql`select status from pam.reports where post_id = ${post.id}`
  assertEquals(statuses.map((s) => s.status), ['actioned', 'actioned'])
  for (const who of [reporter, second]) {
    const [n] = await adminSql`select kind, data from pam.notifications where user_id = ${who.id} and dedupe_key like 'moderation:%'`
    assertEquals(n?.data?.outcome, 'hide')
  }
  assertEquals((await adminAs(admin)(`reports/${report.id}/action`, { method: 'POST', body: { action: 'dismiss' } })).status, 409)

  // A comment: dismissed leaves it, suspend_author hides it and suspends its author.
  const { post: open } = await ok(socialAs(reporter)('posts', { method: 'POST', body: { body: 'Where to camp near Roma?' } }), 201)
  const { comment } = await ok(socialAs(author)(`posts/${open.id}/comments`, { method: 'POST', body: { body: 'you idiot' } }), 201)
  const { report: r2 } = await ok(socialAs(reporter)('reports', { method: 'POST', body: { comment_id: comment.id, reason: 'harassment' } }), 201)
  await ok(adminAs(admin)(`reports/${r2.id}/action`, { method: 'POST', body: { action: 'dismiss' } }))
  const stillThere = await ok(socialAs(reader)(`posts/${open.id}/comments`))
  assert(stillThere.comments.some((c: Json) => c.id === comment.id), 'a dismissed report changes nothing')
  const { report: r3 } = await ok(socialAs(second)('reports', { method: 'POST', body: { comment_id: comment.id, reason: 'harassment' } }), 201)
  await ok(adminAs(admin)(`reports/${r3.id}/action`, { method: 'POST', body: { action: 'suspend_author' } }))
  const after = await ok(socialAs(reader)(`posts/${open.id}/comments`))
  assert(!after.comments.some((c: Json) => c.id === comment.id), 'hidden from readers')
  const [banned] = await adminSql`select banned_until > now() as banned from auth.users where id = ${author.id}`
  assertEquals(banned.banned, true)
  assertEquals((await socialAs(author)('feed')).status, 401)

  const actions = [...await auditOf(report.id), ...await auditOf(r2.id), ...await auditOf(r3.id)].map((a) => a.action)
  assertEquals(actions, ['report.hide', 'report.dismiss', 'report.suspend_author'])
  assertEquals((await auditOf(author.id)).map((a) => a.action), ['user.suspend'])
})

Deno.test('admin: two admins acting at once on two reports of one post: one acts, the other is told it was resolved', async () => {
  const [first, second] = [await newAdmin(), await newAdmin()]
  const [author, reporter, other] = await Promise.all([signUp(), signUp(), signUp()])
  const { post } = await ok(socialAs(author)('posts', { method: 'POST', body: { body: 'Cheap gas, DM me' } }), 201)
  const { report: r1 } = await ok(socialAs(reporter)('reports', { method: 'POST', body: { post_id: post.id, reason: 'spam' } }), 201)
  const { report: r2 } = await ok(socialAs(other)('reports', { method: 'POST', body: { post_id: post.id, reason: 'scam' } }), 201)

  // Both actions start while the reports are held here, so that each reads them before either writes.
  const locked = Promise.withResolvers<void>()
  const release = Promise.withResolvers<void>()
  const holding = adminSql.begin(async (tx) => {
    await tx`select 1 from pam.reports where id in (${r1.id}, ${r2.id}) for update`
    locked.resolve()
    await release.promise
  })
  await locked.promise
  const acting = [
    adminAs(first)(`reports/${r1.id}/action`, { method: 'POST', body: { action: 'dismiss' } }),
    adminAs(second)(`reports/${r2.id}/action`, { method: 'POST', body: { action: 'hide' } }),
  ]
  for (let waiting = 0; waiting < 2;) {
    await new Promise((r) => setTimeout(r, 20))
    ;[{ waiting }] = await adminSql`select count(*)::int as waiting from pg_stat_activity
      where wait_event_type = 'Lock' and query like '%pam.reports%'`
  }
  release.resolve()
  await holding
  const answers = await Promise.all(acting)
  assertEquals(answers.map((a) => a.status).sort(), [200, 409], answers.map(show).join(' / '))
  const done = answers.find((a) => a.status === 200)!.body.report
  const outcome = done.status === 'dismissed' ? 'dismiss' : 'hide'
  assertEquals(answers.find((a) => a.status === 409)!.body.error.code, 'report_resolved')

  // One outcome everywhere: both reports, the post, both reporters' notifications, one audit record.
  const statuses = await adminSql`select status from pam.reports where post_id = ${post.id}`
  assertEquals(statuses.map((s) => s.status), [done.status, done.status])
  const [{ hidden }] = await adminSql`select hidden from pam.posts where id = ${post.id}`
  assertEquals(hidden, outcome === 'hide')
  const told = await adminSql`select data ->> 'outcome' as outcome from pam.notifications
    where user_id in (${reporter.id}, ${other.id}) and dedupe_key like 'moderation:%'`
  assertEquals(told.map((n) => n.outcome), [outcome, outcome])
  assertEquals([...await auditOf(r1.id), ...await auditOf(r2.id)].map((a) => a.action), [`report.${outcome}`])
})

Deno.test("admin: a group post PAM's moderators hid stays hidden; the group's owner cannot show it again", async () => {
  const admin = await newAdmin()
  const [owner, member, reporter] = await Promise.all([signUp(), signUp(), signUp()])
  const name = `Outback crew ${crypto.randomUUID().slice(0, 8)}`
  const { group } = await ok(socialAs(owner)('groups', { method: 'POST', body: { name, visibility: 'public' } }), 201)
  for (const who of [member, reporter]) await ok(socialAs(who)(`groups/${group.id}/join`, { method: 'POST' }), 201)
  const { post } = await ok(socialAs(owner)('posts', { method: 'POST', body: { body: 'Cheap diesel, DM me', visibility: 'group', group_id: group.id } }), 201)
  // The group's own hide and unhide still work as before.
  await ok(socialAs(owner)(`posts/${post.id}/hide`, { method: 'POST' }))
  await ok(socialAs(owner)(`posts/${post.id}/unhide`, { method: 'POST' }))
  const { report } = await ok(socialAs(reporter)('reports', { method: 'POST', body: { post_id: post.id, reason: 'scam' } }), 201)
  await ok(adminAs(admin)(`reports/${report.id}/action`, { method: 'POST', body: { action: 'hide' } }))

  const refused = await socialAs(owner)(`posts/${post.id}/unhide`, { method: 'POST' })
  assertEquals(refused.status, 409, show(refused))
  assertEquals(refused.body.error.code, 'hidden_by_admin')
  assertEquals((await socialAs(member)(`posts/${post.id}`)).status, 404, 'still hidden from the group')
  // Not through RLS either, and hiding it again changes nothing.
  const unhide = await asUser(owner.id).queryRaw('update pam.posts set hidden = false where id = $1 returning 1', [post.id])
    .then(() => 'none', (err) => err.status)
  assertEquals(unhide, 403)
  await ok(socialAs(owner)(`posts/${post.id}/hide`, { method: 'POST' }))
  const [row] = await adminSql`select hidden, admin_hidden_at is not null as stamped from pam.posts where id = ${post.id}`
  assertEquals(row, { hidden: true, stamped: true })
  // The service role may show it again, and that clears the stamp.
  await adminSql`update pam.posts set hidden = false where id = ${post.id}`
  assertEquals((await adminSql`select admin_hidden_at from pam.posts where id = ${post.id}`)[0].admin_hidden_at, null)
  await ok(socialAs(member)(`posts/${post.id}`))
})

Deno.test('admin: campsites created, edited, retired and imported are what the camping search finds', async () => {
  const admin = await newAdmin()
  const traveller = await signUp()
  // A spot of its own, far from the seeded directory and the other tests' sites.
  const lat = Number((-40 - Math.random() * 2).toFixed(4))
  const lng = Number((100 + Math.random() * 2).toFixed(4))
  const near = `camping?lat=${lat}&lng=${lng}&radius_km=5`
  const found = async () => (await ok(wheelsAs(traveller)(near))).campsites.map((c: Json) => c.name).sort()

  const { campsite } = await ok(adminAs(admin)('campsites', {
    method: 'POST',
    body: { name: 'Admin Creek', type: 'free_camping', latitude: lat, longitude: lng, amenities: ['toilets'] },
  }), 201)
  assertEquals(await found(), ['Admin Creek'])
  await ok(adminAs(admin)(`campsites/${campsite.id}`, { method: 'PATCH', body: { name: 'Admin Creek North', price_per_night: 12.5 } }))
  const seen = await ok(wheelsAs(traveller)(`camping/${campsite.id}`))
  assertEquals([seen.campsite.name, seen.campsite.price_per_night], ['Admin Creek North', '12.50'])

  const retired = await ok(adminAs(admin)(`campsites/${campsite.id}`, { method: 'PATCH', body: { retired: true } }))
  assert(retired.campsite.retired_at, 'retired_at is set')
  assertEquals(await found(), [])
  assertEquals((await wheelsAs(traveller)(`camping/${campsite.id}`)).status, 404)

  // All or nothing: one bad row imports nothing.
  const header = 'name,type,latitude,longitude,amenities,rv_friendly\r\n'
  const good = `"Import One, East",rest_area,${lat},${lng + 0.001},toilets;drinking_water,true\r\nImport Two,showground,${lat},${lng - 0.001},,\r\n`
  const csv = (text: string) => ({ method: 'POST', body: text, headers: { 'content-type': 'text/csv' } })
  const bad = await adminAs(admin)('campsites/import', csv(header + good + `Import Three,hotel,${lat},${lng},,maybe\r\n`))
  assertEquals(bad.status, 400, show(bad))
  assertEquals(bad.body.error.code, 'invalid_rows')
  assertEquals(bad.body.error.details.errors.map((e: Json) => [e.line, e.column]), [[4, 'type'], [4, 'rv_friendly']])
  assertEquals(await found(), [])
  const imported = await ok(adminAs(admin)('campsites/import', csv(header + good)), 201)
  assertEquals(imported.imported, 2)
  assertEquals(await found(), ['Import One, East', 'Import Two'])

  const listed = await ok(adminAs(admin)(`campsites?q=${encodeURIComponent('Admin Creek North')}&retired=true`))
  assertEquals(listed.campsites.map((c: Json) => c.id), [campsite.id])
  assertEquals((await auditOf(campsite.id)).map((a) => a.action), ['campsite.create', 'campsite.update', 'campsite.retire'])
  const [imports] = await adminSql`select after from pam.admin_audit_log where action = 'campsite.import' and after -> 'ids' ? ${imported.ids[0]}`
  assertEquals(imports.after.imported, 2)
})

Deno.test('admin: merchant and keyword rules classify the expenses Wins is sent without a category', async () => {
  const admin = await newAdmin()
  const traveller = await signUp()
  const word = `zq${crypto.randomUUID().slice(0, 8)}`
  const { rule } = await ok(adminAs(admin)('expense-rules', {
    method: 'POST',
    body: { kind: 'merchant', pattern: `  ${word.toUpperCase()} Roasters `, category: 'food' },
  }), 201)
  assertEquals(rule.pattern, `${word} roasters`)
  const dup = await adminAs(admin)('expense-rules', { method: 'POST', body: { kind: 'merchant', pattern: `${word} roasters`, category: 'dining' } })
  assertEquals(dup.status, 409, show(dup))

  const spend = async () =>
    (await ok(winsAs(traveller)('expenses', { method: 'POST', body: { amount: '9.00', merchant: `${word} Roasters Longreach` } }), 201))
      .expense
  const first = await spend()
  assertEquals([first.category, first.category_source], ['food', 'rule'])
  await ok(adminAs(admin)(`expense-rules/${rule.id}`, { method: 'PATCH', body: { category: 'dining' } }))
  const other = await signUp()
  const second = (await ok(winsAs(other)('expenses', { method: 'POST', body: { amount: '9.00', description: `beans from ${word} roasters` } }), 201))
    .expense
  assertEquals(second.category, 'dining')
  await ok(adminAs(admin)(`expense-rules/${rule.id}`, { method: 'DELETE' }), 204)
  const third = (await ok(winsAs(other)('expenses', { method: 'POST', body: { amount: '9.00', merchant: `${word} Roasters` } }), 201)).expense
  assertEquals([third.category, third.category_source], ['other', 'default'])
  assertEquals((await auditOf(rule.id)).map((a) => a.action), ['expense_rule.create', 'expense_rule.update', 'expense_rule.delete'])
})

Deno.test('admin: product health is what the product-metrics job wrote for the day', async () => {
  const admin = await newAdmin()
  const day = '2031-05-01'
  const [u] = await adminSql`insert into auth.users (email, raw_app_meta_data, created_at)
    values (${`metrics-${crypto.randomUUID()}@example.com`}, '{"provider":"email"}', ${`${day}T09:00:00Z`}) returning id`
  await adminSql`insert into pam.posts (author_id, body, created_at) values (${u.id}, 'Metrics day', ${`${day}T10:00:00Z`})`
  // A traveller whose only activity was the app refreshing a session: on the day at 23:30, and
  // again after midnight (00:05), before the job ran. The session keeps only the latest refresh.
  const [v] = await adminSql`insert into auth.users (email, raw_app_meta_data, created_at)
    values (${`metrics-${crypto.randomUUID()}@example.com`}, '{"provider":"email"}', '2031-04-20T09:00:00Z') returning id`
  const [s] = await adminSql`insert into auth.sessions (id, user_id, created_at, updated_at)
    values (${crypto.randomUUID()}, ${v.id}, '2031-04-28T10:00:00Z', '2031-05-02T00:05:00Z') returning id`
  const refreshes = [['2031-04-28T10:00:00Z', '2031-05-01T23:30:00Z'], ['2031-05-01T23:30:00Z', '2031-05-02T00:05:00Z']]
  for (const [created, revoked] of [...refreshes, ['2031-05-02T00:05:00Z', null]]) {
    await adminSql`insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, session_id)
      values (${crypto.randomUUID()}, ${v.id}, ${revoked !== null}, ${created}, ${revoked ?? created}, ${s.id})`
  }
  await adminSql`insert into pam.job_runs (job, period, batch, status, attempts, error)
    values ('budget-alerts', ${day}, '0', 'failed', 3, 'boom')`
  await adminSql`insert into pam.notifications (user_id, kind, title, created_at, read_at)
    values (${u.id}, 'social', 'one', ${`${day}T11:00:00Z`}, ${`${day}T12:00:00Z`}),
           (${u.id}, 'social', 'two', ${`${day}T11:00:00Z`}, null)`

  const before = await ok(adminAs(admin)(`health?from=${day}&to=${day}`))
  assertEquals(before.days, [])
  const run = await callJob('product-metrics', { at: '2031-05-02T00:15:00Z' })
  assertEquals(run.status, 200, show(run))
  assertEquals([run.body.status, run.body.rows_written], ['done', 1])

  const { days } = await ok(adminAs(admin)(`health?from=${day}&to=${day}`))
  assertEquals(days.length, 1)
  const d = days[0]
  assertEquals([d.date, d.new_users, d.active_users, d.weekly_active_users], [day, 1, 2, 2])
  assertEquals(d.job_runs, [{ job: 'budget-alerts', runs: 1, done: 0, failed: 1, attempts: 3 }])
  assertEquals(d.notifications, [{ kind: 'social', sent: 2, read: 1 }])
  const wide = await adminAs(admin)('health?from=2020-01-01&to=2031-05-01')
  assertEquals(wide.status, 400)

  // The job runs once per day, as every job: a repeated delivery is skipped and leaves the row as it was.
  const again = await callJob('product-metrics', { at: '2031-05-02T03:00:00Z' })
  assertEquals([again.status, again.body.status, again.body.rows_written], [200, 'skipped', 0], show(again))
  assertEquals((await ok(adminAs(admin)(`health?from=${day}&to=${day}`))).days, [d])

  // Without from: the 30 days ending at to, both counted.
  const edges = ['2031-06-30', '2031-06-01', '2031-05-31']
  for (const date of edges) await adminSql`insert into pam.product_metrics (date) values (${date}) on conflict (date) do nothing`
  const month = await ok(adminAs(admin)('health?to=2031-06-30'))
  assertEquals(month.days.map((m: Json) => m.date).filter((date: string) => edges.includes(date)), ['2031-06-30', '2031-06-01'])
})

Deno.test('admin: the audit log lists every action and cannot be changed, not even by the database owner', async () => {
  const admin = await newAdmin()
  const { rule } = await ok(adminAs(admin)('expense-rules', {
    method: 'POST',
    headers: { 'x-request-id': 'audit-test-request-1' },
    body: { kind: 'keyword', pattern: `audit ${crypto.randomUUID()}`, category: 'other' },
  }), 201)
  const { records } = await ok(adminAs(admin)(`audit?target_id=${rule.id}`))
  assertEquals(records.length, 1)
  const r = records[0]
  assertEquals([r.admin_id, r.admin_email, r.action, r.target_type, r.request_id], [
    admin.id,
    admin.email,
    'expense_rule.create',
    'expense_rule',
    'audit-test-request-1',
  ])
  assertEquals([r.before, r.after.pattern], [null, rule.pattern])
  const page = await ok(adminAs(admin)(`audit?admin_id=${admin.id}&limit=1`))
  assertEquals(page.records.length, 1)

  const attempts: (() => Promise<unknown>)[] = [
    () => adminSql`update pam.admin_audit_log set action = 'nothing' where id = ${r.id}`,
    () => adminSql`delete from pam.admin_audit_log where id = ${r.id}`,
    () => adminSql`truncate pam.admin_audit_log`,
    () =>
      adminSql.begin(async (tx) => {
        await tx`set local role service_role`
        await tx`delete from pam.admin_audit_log where id = ${r.id}`
      }),
  ]
  for (const attempt of attempts) {
    const err = await attempt().then(() => null, (e) => e)
    assert(err, 'refused')
  }
  assertEquals((await auditOf(rule.id)).length, 1)
})

Deno.test('admin: RLS: travellers cannot read or write the admin tables, and see no retired campsite', async () => {
  const user = await signUp()
  const db = asUser(user.id)
  for (const sql of [
    'select * from pam.admin_audit_log',
    'select * from pam.admins',
    'select * from pam.product_metrics',
    `insert into pam.admins (user_id) values ('${user.id}')`,
    `insert into pam.admin_audit_log (admin_id, action, target_type, request_id) values ('${user.id}', 'x', 'x', 'x')`,
    `insert into pam.expense_rules (kind, pattern, category) values ('keyword', 'sneaky', 'fuel')`,
    `update pam.campsites set name = 'mine'`,
    `select pam.admin_grant('${user.email}')`,
    `select pam.admin_set_suspension('${user.id}', null)`,
  ]) {
    const err = await db.queryRaw(sql).then(() => null, (e) => e)
    assert(err, `refused: ${sql}`)
  }
  assert((await db.queryRaw('select 1 from pam.expense_rules limit 1').then(() => true)), 'rules are readable (Wins classifies as the user)')
  const [site] = await adminSql`insert into pam.campsites (name, type, latitude, longitude, retired_at)
    values ('Retired RLS', 'rest_area', 10, 10, now()) returning id`
  assertEquals((await db.queryRaw('select 1 from pam.campsites where id = $1', [site.id])).length, 0)
  const anon = await callFunction('admin/users', { token: undefined })
  await anon.body?.cancel()
  assertEquals(anon.status, 401)
})

Deno.test('admin: npm run admin:grant and admin:revoke make and unmake an admin', async () => {
  const user = await signUp()
  const run = async (mode: string, email: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ['run', '-A', new URL('../scripts/admin-grant.ts', import.meta.url).pathname, mode, email],
      env: { PAM_DB_URL: Deno.env.get('PAM_TEST_DATABASE_URL')! },
      stdout: 'piped',
      stderr: 'piped',
    }).output()
    return { code: out.code, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) }
  }
  const granted = await run('grant', user.email.toUpperCase())
  assertEquals(granted.code, 0, granted.text)
  const [row] = await adminSql`select raw_app_meta_data ->> 'pam_admin' as flag, exists (select 1 from pam.admins where user_id = ${user.id}) as listed
    from auth.users where id = ${user.id}`
  assertEquals([row.flag, row.listed], ['true', true])
  const { data } = await client().auth.signInWithPassword({ email: user.email, password: user.password })
  const res = await callFunction('admin/users?limit=1', { token: data.session!.access_token })
  await res.body?.cancel()
  assertEquals(res.status, 200)

  const revoked = await run('revoke', user.email)
  assertEquals(revoked.code, 0, revoked.text)
  const after = await callFunction('admin/users?limit=1', { token: data.session!.access_token })
  await after.body?.cancel()
  assertEquals(after.status, 403)
  const unknown = await run('grant', 'nobody-at-all@example.com')
  assertEquals(unknown.code, 1)
  assert(stack.url, 'the stack is up')
})
