// The router every app uses (router.ts): Hono's matches, the same on every
// call, with those of paths without parameters kept.
import { Hono } from 'hono'
import { assertEquals } from './_support/assert.ts'
import { KeptMatchRouter } from '../supabase/functions/_shared/router.ts'

/** An app shaped like wins: a static path beside a parameter (TrieRouter's), and middleware. */
function app(routes: 'overlapping' | 'plain') {
  const router = new KeptMatchRouter<never>() // Hono's handler type is its own
  const hono = new Hono({ router }).basePath('/wins')
  hono.use('*', async (c, next) => {
    await next()
    c.res.headers.set('x-route', c.req.routePath)
  })
  hono.get('/expenses', (c) => c.json({ list: true }))
  if (routes === 'overlapping') hono.get('/expenses/export.csv', (c) => c.text('csv'))
  hono.get('/expenses/:id', (c) => c.json({ id: c.req.param('id') }))
  hono.post('/expenses', (c) => c.json({ created: true }, 201))
  return { router, hono }
}

async function call(hono: Hono, method: string, path: string) {
  const res = await hono.request(path, { method })
  return { status: res.status, route: res.headers.get('x-route'), body: await res.text() }
}

Deno.test('router: the same answers on every call, kept only for paths without parameters', async () => {
  const { router, hono } = app('overlapping')
  for (let round = 0; round < 3; round++) {
    assertEquals(await call(hono, 'GET', '/wins/expenses'), { status: 200, route: '/wins/expenses', body: '{"list":true}' })
    assertEquals(await call(hono, 'GET', '/wins/expenses/export.csv'), { status: 200, route: '/wins/expenses/export.csv', body: 'csv' })
    // Each id its own: a parameter's match is never reused for another value.
    for (const id of ['a', 'b', `c${round}`]) {
      assertEquals(await call(hono, 'GET', `/wins/expenses/${id}`), { status: 200, route: '/wins/expenses/:id', body: `{"id":"${id}"}` })
    }
    assertEquals((await call(hono, 'POST', '/wins/expenses')).status, 201)
    assertEquals((await call(hono, 'DELETE', '/wins/expenses')).status, 404)
    assertEquals((await call(hono, 'GET', '/wins/nothing')).status, 404)
  }
  // TrieRouter routes these. Kept: GET and POST /wins/expenses and the two 404s; not
  // export.csv, whose match also holds /expenses/:id with its parameter (Hono takes the first).
  assertEquals(router.state, { active: 'TrieRouter', kept: 4 })
})

Deno.test('router: with RegExpRouter, which maps static paths itself, nothing is kept', async () => {
  const { router, hono } = app('plain')
  assertEquals(await call(hono, 'GET', '/wins/expenses'), { status: 200, route: '/wins/expenses', body: '{"list":true}' })
  assertEquals(await call(hono, 'GET', '/wins/expenses/7'), { status: 200, route: '/wins/expenses/:id', body: '{"id":"7"}' })
  assertEquals(router.state, { active: 'RegExpRouter', kept: 0 })
})

Deno.test('router: paths clients make up cannot grow what is kept', async () => {
  const { router, hono } = app('overlapping')
  for (let i = 0; i < 1200; i++) assertEquals((await call(hono, 'GET', `/wins/made-up-${i}/x`)).status, 404)
  assertEquals(router.state.kept <= 500, true, `${router.state.kept} kept`)
  assertEquals(await call(hono, 'GET', '/wins/expenses'), { status: 200, route: '/wins/expenses', body: '{"list":true}' })
})
