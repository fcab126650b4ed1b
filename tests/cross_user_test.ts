// A cross-user pass over every route that takes a resource id, driven by the
// merged OpenAPI document, so a new area's routes are covered without a test
// written for them. User A owns one resource of each collection (made through
// the API: tests/_support/fixtures.ts). User B calls every operation on A's
// ids, with a valid body where one is needed, and must get what an id that
// exists nowhere gets: 404 not_found, the same answer, so B cannot even learn
// that the id exists (never 403, never 2xx). Nothing A owns may change.
// Callers with the publishable key and no token get 401 on the same routes.
//
// A resource id is a path parameter declared as a uuid, or named `id` or
// `*_id`. Routes named by the caller's own words (`/wins/budgets/{category}`,
// `/wins/categories/{slug}`) are not ids: B's `fuel` is B's own.
import { assert, assertEquals } from './_support/assert.ts'
import {
  type Api,
  collectionOf,
  fillPath,
  fixtures,
  loadApi,
  type Operation,
  ownedChanges,
  ownedRows,
  type PathParams,
  requestBodyFor,
  routesWithoutFixture,
} from './_support/fixtures.ts'
import { callFunction, signUp, type TestUser } from './_support/stack.ts'

const idParams = (api: Api, op: Operation) =>
  op.parameters.filter((p) =>
    p.in === 'path' && (api.resolve(p.schema).format === 'uuid' || /(^|_)id$/i.test(p.name))
  ).map((p) => p.name)

interface Answer {
  status: number
  code?: string
  message?: string
  text: string
}

/** `op` on the resource `params` names, as `user`; `anonymous`: the same request without the token. */
async function call(
  api: Api,
  op: Operation,
  params: PathParams,
  user: TestUser,
  anonymous = false,
): Promise<Answer> {
  const body = requestBodyFor(api, op, user)
  const res = await callFunction(fillPath(op.path, params).slice(1), {
    method: op.method,
    token: anonymous ? undefined : user.accessToken,
    headers: body ? { 'content-type': body.type } : {},
    body: body?.text,
  })
  const text = await res.text()
  let error: { code?: string; message?: string } | undefined
  try {
    error = JSON.parse(text)?.error
  } catch {
    error = undefined
  }
  return {
    status: res.status,
    code: error?.code,
    message: error?.message,
    text: text.slice(0, 300),
  }
}

Deno.test({
  name: "cross-user: another user's ids are 404 on every route that takes one, and change nothing",
  // The stack's servers and connections live for the whole run.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const api = await loadApi()
    const routes = api.operations.filter((op) => idParams(api, op).length)
    assert(routes.length > 0, 'the document has routes that take an id')
    assertEquals(
      routesWithoutFixture(routes),
      [],
      'these routes need a fixture in tests/_support/fixtures.ts',
    )
    assertEquals(
      routes.filter((op) => op.security !== 'user').map((op) => `${op.method} ${op.path}`),
      [],
      'a route that takes an id is for signed-in users: decide how this pass covers a public one',
    )

    const [a, b] = [await signUp(), await signUp()]
    const owned: Record<string, PathParams> = {}
    for (const collection of new Set(routes.map((op) => collectionOf(op.path)))) {
      owned[collection] = await fixtures[collection](a)
    }
    const paramsOf = (op: Operation) => owned[collectionOf(op.path)]
    const reads = routes.filter((op) => op.method === 'GET')

    // The ids are real: A reads them.
    for (const op of reads) {
      const res = await call(api, op, paramsOf(op), a)
      assertEquals(res.status, 200, `A reads ${op.method} ${op.path}: ${res.text}`)
    }

    const failures: string[] = []
    // Deletes last: if one wrongly worked, the other routes still had A's resource to try.
    const ordered = [
      ...routes.filter((op) => op.method !== 'DELETE'),
      ...routes.filter((op) => op.method === 'DELETE'),
    ]
    for (const op of ordered) {
      const route = `${op.method} ${op.path}`
      const params = paramsOf(op)
      const nowhere = {
        ...params,
        ...Object.fromEntries(idParams(api, op).map((n) => [n, crypto.randomUUID()])),
      }
      const before = await ownedRows(a.id)
      const asB = await call(api, op, params, b)
      const changed = ownedChanges(before, await ownedRows(a.id))
      const unknown = await call(api, op, nowhere, b)
      const anonymous = await call(api, op, params, b, true)

      if (asB.status !== 404 || asB.code !== 'not_found') {
        failures.push(
          `${route}: B on A's id got ${asB.status} ${asB.text} (expected 404 not_found)`,
        )
      }
      if (
        asB.status !== unknown.status || asB.code !== unknown.code ||
        asB.message !== unknown.message
      ) {
        failures.push(
          `${route}: B can tell A's id from an unknown one: ${asB.status} ${asB.text} / ${unknown.status} ${unknown.text}`,
        )
      }
      if (changed.length) {
        failures.push(`${route}: B's call changed what A owns: ${changed.join('; ')}`)
      }
      if (anonymous.status !== 401 || !anonymous.code) {
        failures.push(
          `${route}: without a token got ${anonymous.status} ${anonymous.text} (expected 401)`,
        )
      }
    }

    // And A still has everything.
    for (const op of reads) {
      const res = await call(api, op, paramsOf(op), a)
      if (res.status !== 200) {
        failures.push(`${op.method} ${op.path}: A can no longer read it: ${res.status} ${res.text}`)
      }
    }
    assertEquals(failures, [], `cross-user access on ${routes.length} routes`)
  },
})
