// The account API end to end, as an app uses it: supabase-js against the
// gateway, the auth function, the auth service and Postgres, all real.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, callFunction, client, jsonOf, signUp, stack, uniqueEmail } from './_support/stack.ts'
import type { Json } from './_support/assert.ts'
import { authAppWith } from './_support/apps.ts'
import { shutdownSoon } from './_support/servers.ts'


Deno.test('auth: sign up through the function, sign in with supabase-js, read and update the profile', async () => {
  const email = uniqueEmail('signup')
  const res = await callFunction('auth/signup', {
    method: 'POST',
    body: JSON.stringify({ email, password: 'a-long-passphrase', full_name: 'Vanna Lyfe', region: 'AU-QLD' }),
  })
  assertEquals(res.status, 201)
  const created = await jsonOf(res) as Json
  assertEquals(created.profile.email, email)
  assertEquals(created.profile.full_name, 'Vanna Lyfe')
  assertEquals(created.profile.region, 'AU-QLD')
  assertEquals(created.user.id, created.profile.id)
  assert(created.session.access_token && created.session.refresh_token)

  const app = client()
  const { data: signin, error } = await app.auth.signInWithPassword({ email, password: 'a-long-passphrase' })
  assertEquals(error, null)
  assertEquals(signin.user!.id, created.user.id)

  const me = await app.functions.invoke('auth/me', { method: 'GET' })
  assertEquals(me.error, null)
  assertEquals(me.data.profile.id, created.user.id)
  assertEquals((await app.functions.invoke('auth/me', { method: 'GET' })).data, me.data, 'from the cache, the same answer')

  const patched = await app.functions.invoke('auth/me', {
    method: 'PATCH',
    body: { full_name: 'Vanna L.', preferences: { currency: 'AUD', units: 'metric', timezone: 'Australia/Perth' } },
  })
  assertEquals(patched.error, null)
  assertEquals(patched.data.profile.full_name, 'Vanna L.')
  assertEquals(patched.data.profile.region, 'AU-QLD')
  assertEquals(patched.data.profile.preferences, { currency: 'AUD', units: 'metric', timezone: 'Australia/Perth' })

  // Preferences merge key by key; region can be cleared with null.
  const again = await app.functions.invoke('auth/me', { method: 'PATCH', body: { preferences: { units: 'imperial' }, region: null } })
  assertEquals(again.data.profile.preferences, { currency: 'AUD', units: 'imperial', timezone: 'Australia/Perth' })
  assertEquals(again.data.profile.region, null)

  // Read back twice (the cache filled, then a hit answered from it): the profile as changed, not as first read.
  for (let i = 0; i < 2; i++) {
    const read = await app.functions.invoke('auth/me', { method: 'GET' })
    assertEquals(read.data, again.data)
    assertEquals(read.data.profile.full_name, 'Vanna L.')
  }
})

Deno.test('auth: a name given to Supabase Auth at sign-up reaches the profile as one line', async () => {
  const user = await signUp({ full_name: 'Eve\n\n\u2022 Bob liked your post\r\n\u2028 ', region: 'Top\tEnd\n' })
  const [row] = await adminSql`select full_name, region from pam.profiles where id = ${user.id}`
  assertEquals([row.full_name, row.region], ['Eve \u2022 Bob liked your post', 'Top End'])
  const blank = await signUp({ full_name: 'Sam', region: '\n\t' })
  assertEquals((await adminSql`select region from pam.profiles where id = ${blank.id}`)[0].region, null)
})

Deno.test('auth: an email changed in Supabase Auth shows in GET /me with the next token, cached or not', async () => {
  const user = await signUp()
  const me = async (token: string) => {
    const res = await callFunction('auth/me', { token })
    const body = await jsonOf(res)
    assertEquals(res.status, 200, JSON.stringify(body))
    return { cache: res.headers.get('x-cache'), email: (body.profile as Json).email }
  }
  assertEquals(await me(user.accessToken), { cache: 'miss', email: user.email })
  assertEquals(await me(user.accessToken), { cache: 'hit', email: user.email })
  // As Supabase Auth confirming an email change does (the profile follows by a trigger; the cache is not told).
  const changed = uniqueEmail()
  await adminSql`update auth.users set email = ${changed} where id = ${user.id}`
  const { data, error } = await client().auth.signInWithPassword({ email: changed, password: user.password })
  assert(!error && data.session, String(error))
  assertEquals(await me(data.session.access_token), { cache: 'miss', email: changed })
  assertEquals(await me(data.session.access_token), { cache: 'hit', email: changed })
})

Deno.test('auth: login, refresh (rotating, reuse as Supabase Auth), logout through the function', async () => {
  const user = await signUp()
  const login = await callFunction('auth/login', {
    method: 'POST',
    body: JSON.stringify({ email: user.email.toUpperCase(), password: user.password }),
  })
  assertEquals(login.status, 200)
  const { session } = await jsonOf(login) as Json

  const refreshed = await callFunction('auth/refresh', {
    method: 'POST',
    body: JSON.stringify({ refresh_token: session.refresh_token }),
  })
  assertEquals(refreshed.status, 200)
  const next = (await jsonOf(refreshed) as Json).session
  assert(next.refresh_token !== session.refresh_token, 'refresh token rotates')

  // Reused right after rotation (its answer was lost): Supabase Auth hands back the active token.
  const refresh = (token: string) =>
    callFunction('auth/refresh', { method: 'POST', body: JSON.stringify({ refresh_token: token }) })
  const again = await refresh(session.refresh_token)
  assertEquals(again.status, 200)
  assertEquals((await jsonOf(again) as Json).session.refresh_token, next.refresh_token)

  // Reused once it is neither the active token's parent nor within the 10 s reuse interval: a
  // leak, refused.
  const third = (await jsonOf(await refresh(next.refresh_token)) as Json).session
  await adminSql`update auth.refresh_tokens set updated_at = now() - interval '11 seconds'
    where token = ${session.refresh_token}`
  const reused = await refresh(session.refresh_token)
  assertEquals(reused.status, 401)
  assertEquals((await jsonOf(reused) as Json).error.code, 'invalid_refresh_token')

  const out = await callFunction('auth/logout', { method: 'POST', token: third.access_token })
  assertEquals(out.status, 204)
  const afterLogout = await refresh(third.refresh_token)
  assertEquals(afterLogout.status, 401, 'the session is gone after logout')
})

Deno.test('auth: supabase-js session lifecycle against the local auth service', async () => {
  const user = await signUp()
  const { data: refreshed, error } = await user.client.auth.refreshSession()
  assertEquals(error, null)
  assert(refreshed.session!.access_token)
  const me = await user.client.functions.invoke('auth/me', { method: 'GET' })
  assertEquals(me.data.profile.id, user.id)
  const { error: outError } = await user.client.auth.signOut()
  assertEquals(outError, null)
  const { data: gone } = await user.client.auth.getSession()
  assertEquals(gone.session, null)
})

Deno.test('auth: bad sign-ups are 400/409 and create nothing', async () => {
  const count = async () => (await adminSql`select count(*)::int as n from auth.users`)[0].n
  const before = await count()
  const post = (body: unknown) => callFunction('auth/signup', { method: 'POST', body: JSON.stringify(body) })

  const weak = await post({ email: uniqueEmail(), password: 'short', full_name: 'A' })
  assertEquals(weak.status, 400)
  const weakBody = await jsonOf(weak) as Json
  // Supabase Auth's minimum_password_length decides (config.toml).
  assertEquals(weakBody.error.code, 'weak_password')

  const badEmail = await post({ email: 'not-an-email', password: 'a-long-passphrase', full_name: 'A' })
  assertEquals(badEmail.status, 400)
  assertEquals((await jsonOf(badEmail) as Json).error.details[0].path, ['email'])

  const noName = await post({ email: uniqueEmail(), password: 'a-long-passphrase' })
  assertEquals(noName.status, 400)

  const extra = await post({ email: uniqueEmail(), password: 'a-long-passphrase', full_name: 'A', region: 'x'.repeat(101) })
  assertEquals(extra.status, 400)
  assertEquals(await count(), before)

  const user = await signUp()
  const dup = await post({ email: user.email, password: 'a-long-passphrase', full_name: 'Dup' })
  assertEquals(dup.status, 409)
  assertEquals((await jsonOf(dup) as Json).error.code, 'email_taken')
  assertEquals(await count(), before + 1)
})

Deno.test('auth: wrong password is 401 invalid_credentials', async () => {
  const user = await signUp()
  const res = await callFunction('auth/login', {
    method: 'POST',
    body: JSON.stringify({ email: user.email, password: 'not-the-password' }),
  })
  assertEquals(res.status, 401)
  assertEquals((await jsonOf(res) as Json).error.code, 'invalid_credentials')
})

Deno.test('auth: sign-up and login need the publishable key', async () => {
  const res = await callFunction('auth/login', {
    method: 'POST',
    apikey: null,
    body: JSON.stringify({ email: 'a@example.com', password: 'whatever-it-is' }),
  })
  assertEquals(res.status, 401)
  const wrong = await callFunction('auth/login', {
    method: 'POST',
    apikey: 'sb_publishable_not-the-key',
    body: JSON.stringify({ email: 'a@example.com', password: 'whatever-it-is' }),
  })
  assertEquals(wrong.status, 401)
})

Deno.test('auth: PATCH /me rejects unknown fields and bad preferences, and changes nothing', async () => {
  const user = await signUp()
  const patch = (body: unknown) => callFunction('auth/me', { method: 'PATCH', token: user.accessToken, body: JSON.stringify(body) })
  for (const bad of [{}, { email: 'x@example.com' }, { preferences: { currency: 'dollars' } }, { preferences: { timezone: 'Mars/Olympus' } }, { preferences: { colour: 'red' } }, { full_name: '' }]) {
    const res = await patch(bad)
    assertEquals(res.status, 400, JSON.stringify(bad))
  }
  const [row] = await adminSql`select full_name, preferences from pam.profiles where id = ${user.id}`
  assertEquals(row.full_name, 'Test Traveller')
  assertEquals(row.preferences, {})
})

Deno.test('auth: DELETE /me removes the account and everything it owns', async () => {
  const user = await signUp()
  const other = await signUp()
  const res = await callFunction('auth/me', { method: 'DELETE', token: user.accessToken })
  assertEquals(res.status, 204)
  assertEquals((await adminSql`select count(*)::int as n from auth.users where id = ${user.id}`)[0].n, 0)
  assertEquals((await adminSql`select count(*)::int as n from pam.profiles where id = ${user.id}`)[0].n, 0)
  assertEquals((await adminSql`select count(*)::int as n from pam.profiles where id = ${other.id}`)[0].n, 1)
  // The access token is still cryptographically valid until it expires, but its session is gone.
  const me = await callFunction('auth/me', { token: user.accessToken })
  assertEquals(me.status, 401)
  assertEquals((await jsonOf(me) as Json).error.code, 'session_not_found')
  const again = await callFunction('auth/me', { method: 'DELETE', token: user.accessToken })
  assertEquals(again.status, 401)
  await again.body?.cancel()
  const login = await callFunction('auth/login', { method: 'POST', body: JSON.stringify({ email: user.email, password: user.password }) })
  assertEquals(login.status, 401)
})

Deno.test('auth: the demo account from seed.sql signs in', async () => {
  const { data, error } = await client().auth.signInWithPassword({ email: 'demo@pam.local', password: 'pam-demo-password' })
  assertEquals(error, null)
  assertEquals(data.user!.id, '00000000-0000-4000-8000-000000000001')
  assert(stack.url.startsWith('http://127.0.0.1:'))
})

Deno.test('auth: Supabase Auth is told the end user\'s address (Sb-Forwarded-For, with the secret key)', async () => {
  // Supabase Auth at the HTTP boundary: a stub that records what the function sends.
  const seen: Headers[] = []
  const stub = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (req) => {
    seen.push(req.headers)
    return Response.json({ code: 'user_already_exists', message: 'User already registered' }, {
      status: 422,
      headers: { 'x-sb-error-code': 'user_already_exists' },
    })
  })
  try {
    const call = authAppWith({ SUPABASE_URL: `http://127.0.0.1:${stub.addr.port}` })
    const res = await call('/signup', {
      method: 'POST',
      ip: '203.0.113.99',
      body: JSON.stringify({ email: uniqueEmail(), password: 'a-long-passphrase', full_name: 'A' }),
    })
    assertEquals(res.status, 409)
    await res.body?.cancel()
    assertEquals(seen.length, 1)
    assertEquals(seen[0].get('sb-forwarded-for'), '203.0.113.99')
    assertEquals(seen[0].get('apikey'), stack.keys.secretKey)
  } finally {
    await shutdownSoon(stub)
  }
})
