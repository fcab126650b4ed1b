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
//
// Ids also travel in queries and bodies (`hustle_id`): each uuid field named
// `<thing>_id` whose collection has a fixture (`/wins/<thing>s`) gets A's id
// from B, and must be answered exactly as an unknown id, never accepted by a
// write, and change nothing A owns.
import { assert, assertEquals } from './_support/assert.ts'
import {
  type Api,
  collectionOf,
  fillPath,
  fixtures,
  jsonBodyFor,
  loadApi,
  namesOwnedResource,
  type Operation,
  ownedChanges,
  ownedRows,
  paramsFor,
  type PathParams,
  requestBodyFor,
  routesWithoutFixture,
  sharedCollections,
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

interface Call {
  params: PathParams
  user: TestUser
  /** The same request without the token. */
  anonymous?: boolean
  query?: string
  /** A JSON body instead of the operation's usual one. */
  body?: unknown
}

/** `op` on the resource `params` names, as `user`. */
async function call(api: Api, op: Operation, c: Call): Promise<Answer> {
  const body = c.body === undefined
    ? requestBodyFor(api, op, c.user)
    : { type: 'application/json', text: JSON.stringify(c.body) }
  const res = await callFunction(
    fillPath(op.path, c.params).slice(1) + (c.query ? `?${c.query}` : ''),
    {
      method: op.method,
      token: c.anonymous ? undefined : c.user.accessToken,
      headers: body ? { 'content-type': body.type } : {},
      body: body?.text,
    },
  )
  const text = await res.text()
  let error: { code?: string; message?: string } | undefined
  try {
    error = JSON.parse(text)?.error
  } catch {
    error = undefined
  }
  return { status: res.status, code: error?.code, message: error?.message, text }
}

const shown = (a: Answer) => `${a.status} ${a.text.slice(0, 300)}`

/** Whether two answers tell the caller the same thing. */
const sameAnswer = (x: Answer, y: Answer, method: string) =>
  x.status === y.status && x.code === y.code && x.message === y.message &&
  (method !== 'GET' || x.status >= 300 || x.text === y.text)

Deno.test({
  name: "cross-user: another user's ids are 404 on every route that takes one, and change nothing",
  // The stack's servers and connections live for the whole run.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const api = await loadApi()
    const routes = api.operations.filter((op) => idParams(api, op).length && namesOwnedResource(op))
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
      const res = await call(api, op, { params: paramsOf(op), user: a })
      assertEquals(res.status, 200, `A reads ${op.method} ${op.path}: ${shown(res)}`)
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
      const asB = await call(api, op, { params, user: b })
      const changed = ownedChanges(before, await ownedRows(a.id))
      const unknown = await call(api, op, { params: nowhere, user: b })
      const anonymous = await call(api, op, { params, user: b, anonymous: true })

      if (asB.status !== 404 || asB.code !== 'not_found') {
        failures.push(
          `${route}: B on A's id got ${shown(asB)} (expected 404 not_found)`,
        )
      }
      if (!sameAnswer(asB, unknown, op.method)) {
        failures.push(
          `${route}: B can tell A's id from an unknown one: ${shown(asB)} / ${shown(unknown)}`,
        )
      }
      if (changed.length) {
        failures.push(`${route}: B's call changed what A owns: ${changed.join('; ')}`)
      }
      if (anonymous.status !== 401 || !anonymous.code) {
        failures.push(
          `${route}: without a token got ${shown(anonymous)} (expected 401)`,
        )
      }
    }

    // And A still has everything.
    for (const op of reads) {
      const res = await call(api, op, { params: paramsOf(op), user: a })
      if (res.status !== 200) {
        failures.push(`${op.method} ${op.path}: A can no longer read it: ${shown(res)}`)
      }
    }
    assertEquals(failures, [], `cross-user access on ${routes.length} routes`)
  },
})

/** The collection a field such as `hustle_id` refers to (`/wins/hustles`), when one has a fixture
 * and is not shared (another's group_id or post_id is visible by design: see sharedCollections). */
const referredCollection = (field: string) => {
  const name = /^(.+)_id$/.exec(field)?.[1]
  return name &&
    Object.keys(fixtures).find((c) => !sharedCollections[c] && (c.endsWith(`/${name}s`) || c.endsWith(`/${name}`)))
}

Deno.test({
  name:
    "cross-user: another user's id in a query or a body is answered as an unknown id, and changes nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const api = await loadApi()
    const cases: { op: Operation; in: 'query' | 'body'; field: string; collection: string }[] = []
    for (const op of api.operations) {
      const body = op.body?.['application/json']
      const fields = [
        ...op.parameters.filter((p) => p.in === 'query').map((p) => ({
          in: 'query' as const,
          name: p.name,
          schema: p.schema,
        })),
        ...Object.entries(body ? api.resolve(body).properties ?? {} : {})
          .map(([name, schema]) => ({ in: 'body' as const, name, schema })),
      ]
      for (const f of fields) {
        const collection = referredCollection(f.name)
        if (collection && api.resolve(f.schema).format === 'uuid') {
          cases.push({ op, in: f.in, field: f.name, collection })
        }
      }
    }
    assert(cases.length > 0, 'the document has fields that refer to a resource by id')

    const [a, b] = [await signUp(), await signUp()]
    const theirs: Record<string, string> = {}
    for (const c of new Set(cases.map((c) => c.collection))) theirs[c] = (await fixtures[c](a)).id
    const failures: string[] = []
    for (const { op, in: where, field, collection } of cases) {
      const what = `${op.method} ${op.path} with ${where} ${field}`
      // Where the path names a resource, it is B's own.
      const params = await paramsFor(b, op.path)
      const send = (id: string) =>
        call(
          api,
          op,
          where === 'query'
            ? { params, user: b, query: `${field}=${id}` }
            : { params, user: b, body: { ...(jsonBodyFor(api, op, b) as object), [field]: id } },
        )
      const before = await ownedRows(a.id)
      const withTheirs = await send(theirs[collection])
      const changed = ownedChanges(before, await ownedRows(a.id))
      const unknown = await send(crypto.randomUUID())
      if (!sameAnswer(withTheirs, unknown, op.method)) {
        failures.push(
          `${what}: A's id is answered unlike an unknown one: ${shown(withTheirs)} / ${
            shown(unknown)
          }`,
        )
      }
      if (op.method !== 'GET' && withTheirs.status < 300) {
        failures.push(`${what}: accepted A's id: ${shown(withTheirs)}`)
      }
      if (changed.length) failures.push(`${what}: changed what A owns: ${changed.join('; ')}`)
    }
    assertEquals(failures, [], `another user's ids in ${cases.length} fields`)
  },
})
