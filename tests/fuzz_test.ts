// What the fuzz pass over every operation found, pinned down.
import { assertEquals } from './_support/assert.ts'
import { ownedChanges, ownedRows } from './_support/fixtures.ts'
import { functionsUrl, signUp, stack, uniqueEmail } from './_support/stack.ts'

Deno.test('fuzz finding: a profile name or region Postgres cannot store is a 400 naming the field', async () => {
  const user = await signUp()
  const before = await ownedRows(user.id)
  const cases = [
    ['full_name', 'Van\u0000Life'],
    ['region', 'AU\u0000QLD'],
    ['full_name', 'x\ud800'],
    ['region', 'a\u0085b'],
  ]
  for (const [field, value] of cases) {
    const res = await fetch(`${functionsUrl}/auth/me`, {
      method: 'PATCH',
      headers: {
        apikey: stack.keys.publishableKey,
        authorization: `Bearer ${user.accessToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ [field]: value }),
    })
    const body = await res.json()
    assertEquals(res.status, 400, `${field} = ${JSON.stringify(value)}: ${JSON.stringify(body)}`)
    assertEquals(body.error.code, 'validation_failed')
    assertEquals(body.error.details[0].path, [field])
  }
  const signup = await fetch(`${functionsUrl}/auth/signup`, {
    method: 'POST',
    headers: { apikey: stack.keys.publishableKey, 'content-type': 'application/json' },
    body: JSON.stringify({
      email: uniqueEmail(),
      password: 'a-long-passphrase',
      full_name: 'Van\u0000Life',
    }),
  })
  assertEquals(signup.status, 400, JSON.stringify(await signup.json()))
  assertEquals(ownedChanges(before, await ownedRows(user.id)), [])
})
