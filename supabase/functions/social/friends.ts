// Friends: a request (by user id or email, with a message), answered by the
// person asked. One row per pair, whoever asked: asking someone who has asked
// you accepts their request; a declined request stays on record, so it
// cannot be sent again by the same person (the one who declined can still
// ask). Friends see each other's `friends` posts.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import { body, errorOf, IdParams, isoSql, json, params, writeTransaction } from '../_shared/resource.ts'
import { multiLineText } from '../_shared/text.ts'
import { Person, personSql, SOCIAL_REFUSALS } from './common.ts'
import { findUser, oneUser, userRefFields } from './users.ts'

const STATUSES = ['pending', 'accepted', 'declined'] as const
const FriendRequest = z.object({
  id: z.string(),
  from: Person,
  to: Person,
  status: z.enum(STATUSES),
  message: z.string(),
  created_at: z.string(),
  responded_at: z.string().nullable(),
}).openapi('FriendRequest')
type FriendRequest = z.infer<typeof FriendRequest>

const REQUEST_SELECT = `f.id, ${personSql('f.requester_id')} as "from", ${personSql('f.addressee_id')} as "to", f.status,
  f.message, ${isoSql('f.created_at')} as created_at, ${isoSql('f.responded_at')} as responded_at`

const Friend = z.object({ user: Person, since: z.string() }).openapi('Friend')

const tags = ['social: friends']

const ask = route({
  method: 'post',
  path: '/friends/requests',
  auth: 'user',
  rateLimit: 'social',
  tags,
  summary: 'Ask someone to be your friend (by user id or email)',
  request: {
    ...body(
      z.object({ ...userRefFields, message: multiLineText({ min: 0, max: 500 }).optional() }).strict().refine(...oneUser)
        .openapi('FriendRequestCreate'),
    ),
  },
  responses: {
    201: { description: 'Asked', ...json(z.object({ request: FriendRequest })) },
    200: {
      description: 'Asked already (the pending request), or they had asked you (now accepted)',
      ...json(z.object({ request: FriendRequest })),
    },
    404: errorOf('user_not_found'),
    409: errorOf('already_friends, or request_declined (they declined your request)'),
  },
})

const listRequests = route({
  method: 'get',
  path: '/friends/requests',
  auth: 'user',
  tags,
  summary: 'Friend requests: incoming (waiting for your answer) or outgoing (yours, pending or declined)',
  request: {
    query: z.object({ direction: z.enum(['incoming', 'outgoing']).default('incoming'), ...PageQuery }),
  },
  responses: {
    200: { description: 'A page, newest first', ...json(z.object({ requests: z.array(FriendRequest), next_cursor: z.string().nullable() })) },
  },
})

const answer = (action: 'accept' | 'decline') =>
  route({
    method: 'post',
    path: `/friends/requests/{id}/${action}`,
    auth: 'user',
    tags,
    summary: action === 'accept' ? 'Accept a friend request sent to you' : 'Decline a friend request sent to you',
    request: { params: IdParams },
    responses: {
      200: { description: 'The request, answered', ...json(z.object({ request: FriendRequest })) },
      404: errorOf('No such request to you'),
      409: errorOf('already_friends (decline: remove the friend instead)'),
    },
  })

const listFriends = route({
  method: 'get',
  path: '/friends',
  auth: 'user',
  tags,
  summary: 'Your friends, newest friendship first',
  request: { query: z.object(PageQuery) },
  responses: {
    200: { description: 'A page', ...json(z.object({ friends: z.array(Friend), next_cursor: z.string().nullable() })) },
  },
})

const unfriend = route({
  method: 'delete',
  path: '/friends/{id}',
  auth: 'user',
  tags,
  summary: 'Remove a friend, or withdraw your pending request, by their user id',
  request: { params: IdParams },
  responses: {
    204: { description: 'Removed' },
    404: errorOf('Not your friend, and no request between you'),
    409: errorOf('request_declined: a declined request stays on record'),
  },
})

/** The friendship row between the caller and `other`, if any. */
async function between(tx: Tx, other: string) {
  const [row] = await tx`select id, requester_id = (select auth.uid()) as asked_by_me, status from pam.friendships
    where least(requester_id, addressee_id) = least(${other}::uuid, (select auth.uid()))
      and greatest(requester_id, addressee_id) = greatest(${other}::uuid, (select auth.uid()))`
  return row as { id: string; asked_by_me: boolean; status: string } | undefined
}

const selectRequest = async (tx: Tx, id: string) =>
  (await tx.unsafe(`select ${REQUEST_SELECT} from pam.friendships f where f.id = $1::uuid`, [id]))[0] as unknown as FriendRequest

export function registerFriendRoutes(app: App) {
  app.openapi(ask, async (c) => {
    const input = c.req.valid('json')
    const message = input.message ?? ''
    const { request, created } = await writeTransaction(c, async (tx) => {
      const other = await findUser(tx, input)
      if (other === c.var.userId) throw new ApiError(400, 'cannot_befriend_yourself', 'you cannot send yourself a friend request')
      const row = await between(tx, other)
      if (!row) {
        const [made] = await tx`insert into pam.friendships (addressee_id, message) values (${other}, ${message})
          on conflict do nothing returning id`
        // A request between you and them that arrived meanwhile: answered as below, on the next try.
        if (!made) throw new ApiError(409, 'conflict', 'a request between you arrived at the same moment: try again')
        return { request: await selectRequest(tx, made.id), created: true }
      }
      if (row.status === 'accepted') throw new ApiError(409, 'already_friends', 'you are friends already')
      if (row.asked_by_me) {
        if (row.status === 'declined') throw new ApiError(409, 'request_declined', 'they declined your request')
        return { request: await selectRequest(tx, row.id), created: false }
      }
      if (row.status === 'pending') {
        await tx`update pam.friendships set status = 'accepted', responded_at = now() where id = ${row.id}`
        return { request: await selectRequest(tx, row.id), created: false }
      }
      // They asked, you declined, and now you ask: the request becomes yours.
      await tx`update pam.friendships set requester_id = (select auth.uid()), addressee_id = ${other}, status = 'pending',
        message = ${message}, created_at = now(), responded_at = null where id = ${row.id}`
      return { request: await selectRequest(tx, row.id), created: true }
    }, SOCIAL_REFUSALS)
    return c.json({ request } as never, created ? 201 : 200)
  })

  app.openapi(listRequests, async (c) => {
    const { direction, limit, cursor } = c.req.valid('query')
    const { values, p } = params()
    const where = direction === 'incoming'
      ? [`f.addressee_id = (select auth.uid())`, `f.status = 'pending'`]
      : [`f.requester_id = (select auth.uid())`, `f.status in ('pending', 'declined')`]
    if (cursor) {
      const [t, id] = decodeCursor(cursor, ['timestamp', 'uuid'])
      where.push(`(f.created_at, f.id) < (${p(t)}::text::timestamptz, ${p(id)}::uuid)`)
    }
    const rows = await c.var.postgres.queryRaw<FriendRequest>(
      `select ${REQUEST_SELECT} from pam.friendships f where ${where.join(' and ')}
       order by f.created_at desc, f.id desc limit ${p(limit + 1)}`,
      values,
    )
    const result = page(rows, limit, (r) => [r.created_at, r.id])
    return c.json({ requests: result.items, next_cursor: result.next_cursor }, 200)
  })

  for (const action of ['accept', 'decline'] as const) {
    app.openapi(answer(action), async (c) => {
      const { id } = c.req.valid('param')
      const request = await writeTransaction(c, async (tx) => {
        const [row] = await tx`select status from pam.friendships where id = ${id} and addressee_id = (select auth.uid())`
        if (!row) throw notFound('friend request')
        if (row.status === 'accepted' && action === 'decline') {
          throw new ApiError(409, 'already_friends', 'you are friends: remove the friend instead')
        }
        if (row.status !== (action === 'accept' ? 'accepted' : 'declined')) {
          await tx`update pam.friendships set status = ${action === 'accept' ? 'accepted' : 'declined'}, responded_at = now()
            where id = ${id}`
        }
        return await selectRequest(tx, id)
      })
      return c.json({ request } as never, 200)
    })
  }

  app.openapi(listFriends, async (c) => {
    const { limit, cursor } = c.req.valid('query')
    const { values, p } = params()
    const where = [`f.status = 'accepted'`, `(select auth.uid()) in (f.requester_id, f.addressee_id)`]
    if (cursor) {
      const [t, id] = decodeCursor(cursor, ['timestamp', 'uuid'])
      where.push(`(f.responded_at, f.id) < (${p(t)}::text::timestamptz, ${p(id)}::uuid)`)
    }
    const rows = await c.var.postgres.queryRaw<z.infer<typeof Friend> & { key: string }>(
      `select f.id as key, ${
        personSql('case when f.requester_id = (select auth.uid()) then f.addressee_id else f.requester_id end')
      } as "user", ${isoSql('f.responded_at')} as since
       from pam.friendships f where ${where.join(' and ')}
       order by f.responded_at desc, f.id desc limit ${p(limit + 1)}`,
      values,
    )
    const result = page(rows, limit, (r) => [r.since, r.key])
    return c.json({ friends: result.items.map(({ key: _, ...f }) => f), next_cursor: result.next_cursor }, 200)
  })

  app.openapi(unfriend, async (c) => {
    const { id } = c.req.valid('param')
    await writeTransaction(c, async (tx) => {
      const row = await between(tx, id)
      if (!row || (row.status === 'declined' && !row.asked_by_me)) throw notFound('friend')
      if (row.status === 'declined') throw new ApiError(409, 'request_declined', 'a declined request stays on record')
      await tx`delete from pam.friendships where id = ${row.id}`
    })
    return c.body(null, 204)
  })
}
