// What the passes driven by the merged OpenAPI document (tests/fuzz_test.ts,
// tests/cross_user_test.ts) need to call any operation validly: the
// document's operations, a valid value for any of its schemas, and, for every
// collection that has routes below it (`/wins/expenses` for
// `/wins/expenses/{id}`), how to create a resource there through the API.
//
// A new area registers its collections in `fixtures`: both passes fail,
// naming the route, while a parameterised route has no fixture. A collection
// of shared reference data (the campsite directory) is also registered in
// `sharedCollections`: its ids are nobody's, so the cross-user pass skips it.
import type { Json } from './assert.ts'
import { adminSql, callFunction, functionsUrl, type TestUser, uniqueEmail } from './stack.ts'

// --- the document ---

/** The parts of an OpenAPI 3.0 schema the passes read. */
export interface Schema {
  $ref?: string
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array'
  format?: string
  enum?: unknown[]
  example?: unknown
  default?: unknown
  minimum?: number
  minLength?: number
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  maxItems?: number
}

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema: Schema
}

export interface Operation {
  method: string
  /** Templated, as in the document: `/wins/expenses/{id}`. */
  path: string
  parameters: Parameter[]
  /** Schema per accepted media type, in the document's order. */
  body?: Record<string, Schema>
  /** Who may call it: a user's token, the publishable key, anyone. */
  security: 'user' | 'apikey' | 'none'
}

interface Document {
  paths: Record<string, Record<string, RawOperation>>
  components?: { schemas?: Record<string, Schema> }
}

interface RawOperation {
  parameters?: Parameter[]
  requestBody?: { content?: Record<string, { schema: Schema }> }
  security?: Record<string, unknown>[]
}

export interface Api {
  operations: Operation[]
  /** Follows `$ref` to the schema it names. */
  resolve(schema: Schema): Schema
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

/** Every operation of the merged document the gateway serves. */
export async function loadApi(): Promise<Api> {
  const res = await fetch(`${functionsUrl}/openapi.json`)
  if (!res.ok) throw new Error(`the merged OpenAPI document: ${res.status}`)
  const doc = await res.json() as Document
  const schemas = doc.components?.schemas ?? {}
  const resolve = (schema: Schema): Schema => {
    let s = schema
    for (let hops = 0; s.$ref; hops++) {
      const name = s.$ref.replace('#/components/schemas/', '')
      if (!schemas[name] || hops > 10) throw new Error(`unresolvable $ref ${s.$ref}`)
      s = schemas[name]
    }
    return s
  }
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const content = op.requestBody?.content
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s))
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query'),
        body: content &&
          Object.fromEntries(Object.entries(content).map(([type, c]) => [type, c.schema])),
        security: schemes.includes('bearerAuth')
          ? 'user'
          : schemes.includes('apikey')
          ? 'apikey'
          : 'none',
      })
    }
  }
  return { operations, resolve }
}

/** `{name}` segments of a templated path. */
export const pathParamNames = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])

/** The collection a parameterised path belongs to: the path up to its first parameter. */
export const collectionOf = (path: string) => path.split('/{')[0]

/** The path with its parameters filled in (encoded), relative to /functions/v1. */
export const fillPath = (path: string, params: PathParams) =>
  path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (params[name] === undefined) throw new Error(`no value for {${name}} in ${path}`)
    return encodeURIComponent(params[name])
  })

/** A valid value for `schema`: its example, default or first enum value, else one
 * made from its type and format. Objects get their required properties only.
 * Email addresses are new on every call. */
export function validValue(api: Api, schema: Schema): unknown {
  const s = api.resolve(schema)
  if (s.format === 'email') return uniqueEmail('doc')
  if (s.example !== undefined) return s.example
  if (s.default !== undefined) return s.default
  const choice = s.enum?.find((v) => v !== null)
  if (choice !== undefined) return choice
  switch (s.type) {
    case 'boolean':
      return true
    case 'integer':
    case 'number':
      return s.minimum ?? 1
    case 'array':
      return []
    case 'object':
      return Object.fromEntries(
        (s.required ?? []).map((k) => [k, validValue(api, s.properties![k])]),
      )
  }
  if (s.format === 'date') return '2026-03-31'
  if (s.format === 'uuid') return crypto.randomUUID()
  if (s.format === 'uri') return 'https://example.com/doc'
  return 'doc'.padEnd(s.minLength ?? 0, 'x')
}

/** A body that reaches the handler: the required properties, or, when none are
 * required (a PATCH), the first property with an example, so it is not empty. */
export function validBody(api: Api, schema: Schema): unknown {
  const s = api.resolve(schema)
  if (s.type !== 'object' || !s.properties) return validValue(api, s)
  const body = validValue(api, s) as Record<string, unknown>
  if (Object.keys(body).length === 0) {
    const [name, prop] = Object.entries(s.properties).find(([, p]) =>
      api.resolve(p).example !== undefined
    ) ?? []
    if (name) body[name] = validValue(api, prop!)
  }
  return body
}

/** Numbers slugs so that each is new. */
let serial = 0

/** Bodies the document's examples cannot give, by "METHOD /path". */
export const validBodies: Record<string, (user: TestUser) => unknown> = {
  // A slug nobody has yet: the example, "fuel", is a fixed category.
  'POST /wins/categories': () => ({ slug: `doc-${++serial}`, label: 'Doc category' }),
  // The credentials of an account that exists.
  'POST /auth/login': (user) => ({ email: user.email, password: user.password }),
  // One of the caller's vehicles (see prerequisites), and a price: the examples give neither.
  'POST /wheels/fuel': (user) => ({
    vehicle_id: vehicleOf(user),
    litres: '62.40',
    price_per_litre: '2.199',
  }),
  'POST /wheels/maintenance': (user) => ({
    vehicle_id: vehicleOf(user),
    task: 'Engine oil and filter',
    date: '2026-03-31',
  }),
  // Someone who exists (see prerequisites), and a post the reporter can see.
  'POST /social/friends/requests': (user) => ({ user_id: otherOf(user), message: 'Met at the dump point' }),
  'POST /social/groups/{id}/invitations': (user) => ({ user_id: otherOf(user) }),
  'POST /social/reports': (user) => ({ post_id: reportable.get(user.id), reason: 'spam' }),
  // Every field is optional, and at least one is needed.
  'PATCH /you/profile': () => ({ max_daily_km: 400, pets: true }),
  // A pattern no rule has yet (the example is one pattern for every call).
  'POST /admin/expense-rules': () => ({ kind: 'keyword', pattern: `doc rule ${crypto.randomUUID()}`, category: 'other' }),
  'PATCH /admin/expense-rules/{id}': () => ({ category: 'food' }),
  'PATCH /admin/campsites/{id}': () => ({ name: 'Fixture Renamed Site' }),
  // A receipt the caller uploaded (see prerequisites).
  'POST /wins/receipts/read': (user) => ({ receipt_path: receiptOf(user) }),
}

/** The JSON body `op` is called with as `user`: registered above, else built from its schema. */
export const jsonBodyFor = (api: Api, op: Operation, user: TestUser): unknown =>
  validBodies[`${op.method} ${op.path}`]?.(user) ?? validBody(api, op.body!['application/json'])

/** The body `op` is called with as `user`, in its first media type (none without a body). */
export function requestBodyFor(
  api: Api,
  op: Operation,
  user: TestUser,
): { type: string; text: string } | undefined {
  const [type, schema] = Object.entries(op.body ?? {})[0] ?? []
  if (!type) return undefined
  return {
    type,
    text: type === 'application/json'
      ? JSON.stringify(jsonBodyFor(api, op, user))
      : String(validValue(api, schema!)),
  }
}

// --- resources ---

/** Values of the path parameters that name one resource: `{ id }`, `{ category }`. */
export type PathParams = Record<string, string>

async function create(user: TestUser, method: string, path: string, body: unknown): Promise<Json> {
  const res = await callFunction(path, {
    method,
    token: user.accessToken,
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`fixture ${method} ${path}: ${res.status} ${text.slice(0, 300)}`)
  return JSON.parse(text)
}

/** For each collection with parameterised routes: creates a resource as `user`
 * through the API and returns the path parameters that name it. `path`, when
 * given, is the route the resource is for (some routes need it in a state of
 * their own: a group `user` can leave is not one they own). */
export const fixtures: Record<string, (user: TestUser, path?: string) => Promise<PathParams>> = {
  '/wins/expenses': async (user) => {
    const { expense } = await create(user, 'POST', 'wins/expenses', {
      amount: '64.20',
      category: 'fuel',
      description: 'Fixture diesel',
      merchant: 'Fixture Roadhouse',
      tags: ['fixture'],
    })
    return { id: expense.id }
  },
  '/wins/income': async (user) => {
    const { income } = await create(user, 'POST', 'wins/income', {
      amount: '250.00',
      source: 'Fixture harvest work',
    })
    return { id: income.id }
  },
  '/wins/goals': async (user) => {
    const { goal } = await create(user, 'POST', 'wins/goals', {
      name: 'Fixture solar panels',
      target_amount: '900.00',
    })
    await create(user, 'POST', `wins/goals/${goal.id}/contributions`, {
      amount: '100.00',
      note: 'fixture deposit',
    })
    return { id: goal.id }
  },
  '/wins/hustles': async (user) => {
    const { hustle } = await create(user, 'POST', 'wins/hustles', {
      title: 'Fixture bike repairs',
      hours_invested: 3,
    })
    return { id: hustle.id }
  },
  '/wins/budgets': async (user) => {
    await create(user, 'PUT', 'wins/budgets/camping', { amount: '300.00' })
    return { category: 'camping' }
  },
  '/wins/categories': async (user) => {
    const { category } = await create(user, 'POST', 'wins/categories', {
      slug: `fixture-${++serial}`,
      label: 'Fixture',
    })
    return { slug: category.slug }
  },
  '/wheels/vehicles': async (user) => ({ id: await fixtureVehicle(user) }),
  '/wheels/maintenance': async (user) => {
    const { record } = await create(user, 'POST', 'wheels/maintenance', {
      vehicle_id: await fixtureVehicle(user),
      task: 'Fixture oil and filter',
      date: '2026-01-15',
      odometer: 121_000,
      cost: '189.00',
      interval_days: 180,
      interval_distance: 10_000,
    })
    return { id: record.id }
  },
  '/wheels/fuel': async (user) => {
    const { fuel_log } = await create(user, 'POST', 'wheels/fuel', {
      vehicle_id: await fixtureVehicle(user),
      odometer: 121_400,
      litres: '62.40',
      price_per_litre: '2.199',
      merchant: 'Fixture Roadhouse',
      latitude: -23.698,
      longitude: 133.8807,
    })
    return { id: fuel_log.id }
  },
  '/wheels/trips': async (user) => {
    // With both ends, so POST /wheels/trips/{id}/route can route it (through the stack's Mapbox stub).
    const { trip } = await create(user, 'POST', 'wheels/trips', {
      name: 'Fixture Red Centre run',
      vehicle_id: await fixtureVehicle(user),
      origin: { name: 'Alice Springs', lat: -23.698, lng: 133.8807 },
      destination: { name: 'Yulara', lat: -25.2406, lng: 130.9889 },
      stops: [{ name: 'Erldunda', lat: -25.2053, lng: 133.2014 }],
      start_date: '2026-06-01',
      end_date: '2026-06-05',
    })
    return { id: trip.id }
  },
  '/wheels/places': async (user) => {
    const { place } = await create(user, 'POST', 'wheels/places', {
      name: 'Fixture water tap',
      kind: 'water',
      latitude: -23.7,
      longitude: 133.87,
    })
    return { id: place.id }
  },
  // The answer of PAM to a message (its id is what feedback names).
  '/chat/messages': async (user) => {
    const { message } = await create(user, 'POST', 'chat/messages', { message: 'spent 12 bucks on coffee' })
    return { id: message.id }
  },
  '/chat/conversations': async (user) => {
    const { conversation_id } = await create(user, 'POST', 'chat/messages', { message: 'hello PAM' })
    return { id: conversation_id }
  },
  '/chat/memories': async (user) => {
    const { message } = await create(user, 'POST', 'chat/messages', { message: 'remember that we avoid toll roads' })
    return { id: message.metadata.actions[0].result.memory.id }
  },
  // Shared reference data (see sharedCollections): a seeded campsite, which
  // `user` reviews so that DELETE …/reviews/mine has a review to delete.
  '/wheels/camping': async (user) => {
    await create(user, 'PUT', `wheels/camping/${FIXTURE_CAMPSITE}/reviews/mine`, {
      rating: 4,
      review: 'Fixture review: level sites, clean showers.',
    })
    return { id: FIXTURE_CAMPSITE }
  },
  // A public group `user` owns, with a member and a pending invitee (for the
  // routes on {user_id}); for /leave, a group of someone else's `user` is in.
  '/social/groups': async (user, path): Promise<PathParams> => {
    if (path?.endsWith('/leave')) {
      const owner = await helperUser()
      const [g] = await adminSql`insert into pam.groups (owner_id, name) values (${owner}, 'Fixture crew') returning id`
      await adminSql`insert into pam.group_members (group_id, user_id) values (${g.id}, ${user.id})`
      return { id: g.id }
    }
    const { group } = await create(user, 'POST', 'social/groups', { name: 'Fixture convoy', description: 'Fixture group' })
    const [member, invitee] = [await helperUser(), await helperUser()]
    await adminSql`insert into pam.group_members (group_id, user_id) values (${group.id}, ${member})`
    await adminSql`insert into pam.group_invitations (group_id, user_id, invited_by) values (${group.id}, ${invitee}, ${user.id})`
    return { id: group.id, user_id: path?.includes('/invitations/') ? invitee : member }
  },
  // A post in a group `user` owns: they may edit, hide, like and comment on it.
  '/social/posts': async (user) => {
    const { group } = await create(user, 'POST', 'social/groups', { name: 'Fixture moderated' })
    const { post } = await create(user, 'POST', 'social/posts', { body: 'Fixture post', group_id: group.id, tags: ['fixture'] })
    return { id: post.id }
  },
  '/social/comments': async (user) => {
    const { post } = await create(user, 'POST', 'social/posts', { body: 'Fixture public post' })
    const { comment } = await create(user, 'POST', `social/posts/${post.id}/comments`, { body: 'Fixture comment' })
    return { id: comment.id }
  },
  '/social/users': (user) => Promise.resolve({ id: user.id }),
  // A friend of `user`'s, by their user id.
  '/social/friends': async (user) => {
    const friend = await helperUser()
    await adminSql`insert into pam.friendships (requester_id, addressee_id, status, responded_at)
      values (${friend}, ${user.id}, 'accepted', now())`
    return { id: friend }
  },
  // A request to `user`, waiting for their answer.
  '/social/friends/requests': async (user) => {
    const [request] = await adminSql`insert into pam.friendships (requester_id, addressee_id, message)
      values (${await helperUser()}, ${user.id}, 'Fixture request') returning id`
    return { id: request.id }
  },
  '/social/reports': async (user) => {
    const { post } = await create(user, 'POST', 'social/posts', { body: 'Fixture reported post' })
    const { report } = await create(user, 'POST', 'social/reports', { post_id: post.id, reason: 'spam' })
    return { id: report.id }
  },
  '/you/events': async (user) => {
    const { event } = await create(user, 'POST', 'you/events', {
      title: 'Fixture wheel bearings',
      start: '2026-06-02T09:00',
      time_zone: 'Australia/Darwin',
      reminders: [1440],
      recurrence: 'FREQ=MONTHLY;COUNT=3',
    })
    return { id: event.id }
  },
  '/you/documents': async (user) => {
    const { document } = await create(user, 'POST', 'you/documents', {
      kind: 'insurance',
      title: 'Fixture insurance',
      expires_on: '2027-01-31',
    })
    return { id: document.id }
  },
  // The admin function's collections name other travellers' records, made in the database.
  '/admin/users': async () => ({ id: await helperUser() }),
  '/admin/reports': async () => {
    const [post] = await adminSql`insert into pam.posts (author_id, body) values (${await helperUser()}, 'Fixture reported post')
      returning id`
    const [report] = await adminSql`insert into pam.reports (reporter_id, post_id, reason)
      values (${await helperUser()}, ${post.id}, 'spam') returning id`
    return { id: report.id }
  },
  '/admin/campsites': async () => {
    const [site] = await adminSql`insert into pam.campsites (name, type, latitude, longitude)
      values ('Fixture Admin Site', 'rest_area', -26.5, 147.5) returning id`
    return { id: site.id }
  },
  '/admin/expense-rules': async () => {
    const [rule] = await adminSql`insert into pam.expense_rules (kind, pattern, category)
      values ('keyword', ${`fixture rule ${crypto.randomUUID()}`}, 'other') returning id`
    return { id: rule.id }
  },
  // Written by the jobs and wins, never through the API: one straight into the table.
  '/notifications': async (user) => {
    const [n] = await adminSql`
      insert into pam.notifications (user_id, kind, title) values (${user.id}, 'social', 'Fixture reply') returning id`
    return { id: n.id }
  },
}

/** Makes `user` an admin (as `npm run admin:grant` does) and signs them in again, so that
 * their token carries the grant. */
export async function grantAdmin(user: TestUser): Promise<void> {
  await adminSql`select pam.admin_grant(${user.email})`
  const { data, error } = await user.client.auth.signInWithPassword({ email: user.email, password: user.password })
  if (error || !data.session) throw new Error(`sign-in after the admin grant failed: ${error?.message}`)
  user.accessToken = data.session.access_token
}

/** Another traveller, made in the database (for requests and memberships a fixture sets up). */
async function helperUser(): Promise<string> {
  const [u] = await adminSql`insert into auth.users (email, raw_app_meta_data, raw_user_meta_data)
    values (${uniqueEmail('helper')}, '{"provider":"email"}', '{"full_name":"Fixture Helper"}') returning id`
  return u.id
}

/** Someone each user's valid bodies name (a friend request's addressee, an invitee), by user id. */
const others = new Map<string, string>()
const otherOf = (user: TestUser) => others.get(user.id) ?? (() => {
  throw new Error('no helper user for this user: call paramsFor first (see prerequisites)')
})()
/** A post each user's report bodies name, by user id. */
const reportable = new Map<string, string>()
/** A receipt each user uploaded, by user id. */
const receipts = new Map<string, string>()
const receiptOf = (user: TestUser) => receipts.get(user.id) ?? (() => {
  throw new Error('no receipt for this user: call paramsFor first (see prerequisites)')
})()

/** A campsite of the demo directory every local database is seeded with
 * (supabase/seed-campsites.sql: ids …0001 to …0127). */
export const FIXTURE_CAMPSITE = '10000000-0000-4000-8000-000000000090'

/** The latest fixture vehicle of each user, by user id. */
const vehicles = new Map<string, string>()

/** The latest vehicle fixtureVehicle made for `user`. */
function vehicleOf(user: TestUser): string {
  const id = vehicles.get(user.id)
  if (!id) {
    throw new Error('no fixture vehicle for this user: call paramsFor first (see prerequisites)')
  }
  return id
}

/** A vehicle of `user`'s, with the dimensions Mapbox gets as routing limits. */
async function fixtureVehicle(user: TestUser): Promise<string> {
  const { vehicle } = await create(user, 'POST', 'wheels/vehicles', {
    name: 'Fixture Troopy',
    type: 'campervan',
    fuel_type: 'diesel',
    tank_capacity: 180,
    current_odometer: 120_000,
    height_m: 2.6,
    width_m: 2.0,
    length_m: 5.4,
    weight_t: 3.3,
  })
  vehicles.set(user.id, vehicle.id)
  return vehicle.id
}

/** Collections of shared reference data: every signed-in user reads the same
 * rows, and what a user writes below one (`/wheels/camping/{id}/reviews/mine`)
 * is that user's own. Their ids name nobody's resource, so another user's
 * calls on them are not cross-user access: tests/cross_user_test.ts leaves
 * them out (tests/wheels_routes_test.ts checks that reviews stay their
 * author's). A fixture still gives each an id, for tests/fuzz_test.ts. */
export const sharedCollections: Record<string, string> = {
  '/wheels/camping': 'the campsite directory (supabase/seed-campsites.sql)',
  // Social rows are shared by design: who sees them is decided by RLS's
  // visibility rules, each tested on its own (tests/social_rls_test.ts,
  // tests/social_test.ts). Friend requests and reports stay in the pass.
  '/social/groups': 'public groups are everyone’s to see and join',
  '/social/posts': 'public posts are everyone’s to read, like and comment on',
  '/social/comments': 'comments are as visible as their post',
  '/social/users': 'travellers are named to each other',
  // Admin routes act on everyone's records by design; who may call them is
  // tested in tests/admin_test.ts (every one refuses non-admins).
  '/admin/users': 'admins act on every account',
  '/admin/reports': 'the moderation queue is every report',
  '/admin/campsites': 'the campsite directory',
  '/admin/expense-rules': 'classification rules are everyone’s',
}

/** Whether `op` names a resource some user owns (not shared reference data). */
export const namesOwnedResource = (op: Operation) => !sharedCollections[collectionOf(op.path)]

/** The parameterised routes whose collection has no fixture, as "METHOD /path". */
export const routesWithoutFixture = (operations: Operation[]) =>
  operations.filter((op) => op.path.includes('{') && !fixtures[collectionOf(op.path)])
    .map((op) => `${op.method} ${op.path} (collection ${collectionOf(op.path)})`)

/** What the valid bodies of the operations on a path (validBodies) refer to,
 * by path: created as `user` by paramsFor, which every pass calls before it
 * builds a body (bodies are built synchronously). */
export const prerequisites: Record<string, (user: TestUser) => Promise<void>> = {
  '/wheels/fuel': async (user) => void await fixtureVehicle(user),
  '/wheels/maintenance': async (user) => void await fixtureVehicle(user),
  '/social/friends/requests': async (user) => void others.set(user.id, await helperUser()),
  '/social/groups/{id}/invitations': async (user) => void others.set(user.id, await helperUser()),
  '/social/reports': async (user) => {
    const { post } = await create(user, 'POST', 'social/posts', { body: 'Fixture post to report' })
    reportable.set(user.id, post.id)
  },
  // A receipt photo in the user's folder of the receipts bucket, uploaded as an app does.
  '/wins/receipts/read': async (user) => {
    const name = `${user.id}/fixture-receipt.jpg`
    const { error } = await user.client.storage.from('receipts')
      .upload(name, new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), { contentType: 'image/jpeg', upsert: true })
    if (error) throw new Error(`fixture receipt upload: ${error.message}`)
    receipts.set(user.id, name)
  },
  // The latest daily report (GET /wins/reports): written by the daily-analytics job, here straight into the table.
  '/wins/reports': async (user) =>
    void await adminSql`insert into pam.daily_reports (user_id, date, currency) values (${user.id}, '2026-03-30', 'AUD')
                        on conflict do nothing`,
}

/** Creates the resources `path`'s parameters name, and what valid bodies on it
 * refer to, as `user`. */
export async function paramsFor(user: TestUser, path: string): Promise<PathParams> {
  if (path.startsWith('/admin/')) await grantAdmin(user)
  await prerequisites[path]?.(user)
  return pathParamNames(path).length ? await fixtures[collectionOf(path)](user, path) : {}
}

// --- what a user owns ---

/** The row count and a hash of the content of each table a user owns rows in. */
export type Owned = Record<string, { rows: number; hash: string }>

let ownership: Promise<{ table: string; column: string }[]> | undefined

/** Every pam table with a column referencing auth.users, found in the catalogue
 * (so a new area's tables are included without a list to keep up to date), but
 * pam.sync_pulls: the server's note of what a pull read, which every pull (a GET)
 * writes by design, not anything of the user's. */
const ownedTables = () =>
  ownership ??= adminSql<{ table: string; column: string }[]>`
    select c.conrelid::regclass::text as table, a.attname as column
    from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    where c.contype = 'f' and c.confrelid = 'auth.users'::regclass
      and cardinality(c.conkey) = 1 and c.connamespace = 'pam'::regnamespace
      and c.conrelid <> 'pam.sync_pulls'::regclass
    order by 1`.then((rows) => [...rows])

/** What `userId` owns now, table by table. */
export async function ownedRows(userId: string): Promise<Owned> {
  const tables = await ownedTables()
  const rows = await adminSql.unsafe(
    tables.map(({ table, column }) =>
      `select '${table}' as table, count(*)::int as rows, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as hash
       from ${table} t where t.${column} = $1`
    ).join(' union all '),
    [userId],
  )
  return Object.fromEntries(rows.map((r) => [r.table, { rows: r.rows, hash: r.hash }]))
}

/** The tables whose rows differ between two snapshots, for a failure message. */
export const ownedChanges = (before: Owned, after: Owned) =>
  Object.keys({ ...before, ...after })
    .filter((t) => before[t]?.hash !== after[t]?.hash)
    .map((t) =>
      `${t}: ${before[t]?.rows ?? 0} rows → ${after[t]?.rows ?? 0} rows${
        before[t]?.rows === after[t]?.rows ? ' (content changed)' : ''
      }`
    )
