// /social/groups: groups of travellers. Public groups are listed to everyone
// and anyone joins; private groups are seen only by their members and the
// people invited, and joined by invitation (a moderator invites, the invitee
// joins). The owner edits and deletes the group and sets members' roles;
// moderators invite, hide posts and remove plain members.
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import {
  body,
  createOf,
  errorOf,
  isoSql,
  json,
  likePattern,
  newestFirst,
  params,
  patchOf,
  registerResource,
  type ResourceSpec,
  Uuid,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { forbidden, Person, personSql, refuseUnlessVisible, SOCIAL_REFUSALS } from './common.ts'
import { findUser, UserRef } from './users.ts'

const ROLES = ['owner', 'moderator', 'member'] as const

const fields = {
  name: singleLineText({ max: 100 }).openapi({ example: 'Kimberley wet-season crew' }),
  description: multiLineText({ min: 0, max: 2000 }).optional(),
  visibility: z.enum(['public', 'private']).optional().openapi({
    description: 'public (default): listed to everyone, anyone joins; private: seen by members only, joined by invitation',
  }),
}
const COLUMNS = { name: 'text', description: 'text', visibility: 'text' }

const Group = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  visibility: z.enum(['public', 'private']),
  owner: Person,
  member_count: z.number(),
  my_role: z.enum(ROLES).nullable().openapi({ description: 'your role, null when you are not a member' }),
  invited: z.boolean().openapi({ description: 'you have a pending invitation to this group' }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Group')

const MY_ROLE = `(select m.role from pam.group_members m where m.group_id = g.id and m.user_id = (select auth.uid()))`

const groupResource: ResourceSpec = {
  one: 'group',
  many: 'groups',
  noun: 'group',
  path: '/groups',
  table: 'pam.groups',
  alias: 'g',
  owner: 'owner_id',
  tags: ['social: groups'],
  schema: Group,
  select: `g.id, g.name, g.description, g.visibility, ${personSql('g.owner_id')} as owner, g.member_count,
    ${MY_ROLE} as my_role,
    exists (select 1 from pam.group_invitations i where i.group_id = g.id and i.user_id = (select auth.uid())) as invited,
    ${isoSql('g.created_at')} as created_at, ${isoSql('g.updated_at')} as updated_at`,
  // Every group the caller can see: the public ones, theirs, and the ones they are invited to.
  listScope: 'true',
  order: newestFirst('g'),
  listSummary: 'Groups: public ones and yours, newest first',
  filters: {
    fields: {
      membership: z.enum(['all', 'mine', 'invited']).default('all').openapi({
        description: 'all (default): every group you can see; mine: groups you are in; invited: pending invitations',
      }),
      q: singleLineText({ max: 100 }).optional().openapi({ description: 'words in the name' }),
    },
    where: (f, p) => [
      ...(f.membership === 'mine' ? [`${MY_ROLE} is not null`] : []),
      ...(f.membership === 'invited'
        ? ['exists (select 1 from pam.group_invitations i where i.group_id = g.id and i.user_id = (select auth.uid()))']
        : []),
      ...(f.q ? [`g.name ilike ${p(likePattern(f.q as string))}`] : []),
    ],
  },
  create: {
    schema: createOf(fields).openapi('GroupCreate'),
    columns: COLUMNS,
    summary: 'Create a group (you are its owner)',
    rateLimit: 'social',
    reread: true,
  },
  patch: { schema: patchOf(fields).openapi('GroupPatch'), columns: COLUMNS, summary: 'Change a group (owner only)' },
  refusals: SOCIAL_REFUSALS,
  refuse: refuseUnlessVisible('pam.groups', 'not_group_owner', 'only the group’s owner changes or deletes it'),
}

const tags = ['social: groups']
const GroupParams = z.object({ id: Uuid })
const MemberParams = z.object({ id: Uuid, user_id: Uuid })

const Member = z.object({
  user: Person,
  role: z.enum(ROLES),
  joined_at: z.string(),
}).openapi('GroupMember')
const Membership = z.object({ group_id: z.string(), role: z.enum(ROLES), joined_at: z.string() }).openapi('Membership')
const Invitation = z.object({
  group: z.object({ id: z.string(), name: z.string(), visibility: z.enum(['public', 'private']) }),
  user: Person,
  invited_by: Person,
  created_at: z.string(),
}).openapi('GroupInvitation')
const INVITATION_SELECT = `json_build_object('id', g.id, 'name', g.name, 'visibility', g.visibility) as "group",
  ${personSql('i.user_id')} as "user", ${personSql('i.invited_by')} as invited_by, ${isoSql('i.created_at')} as created_at`

const join = route({
  method: 'post',
  path: '/groups/{id}/join',
  auth: 'user',
  tags,
  summary: 'Join a group: a public one at once, a private one with an invitation',
  request: { params: GroupParams },
  responses: {
    201: { description: 'Joined', ...json(z.object({ membership: Membership })) },
    200: { description: 'Already a member', ...json(z.object({ membership: Membership })) },
    404: errorOf('No such group (a private group you are not invited to is not shown)'),
  },
})

const leave = route({
  method: 'post',
  path: '/groups/{id}/leave',
  auth: 'user',
  tags,
  summary: 'Leave a group (the owner cannot: delete the group instead)',
  request: { params: GroupParams },
  responses: {
    204: { description: 'Left' },
    404: errorOf('not_a_member'),
    409: errorOf('owner_cannot_leave'),
  },
})

const members = route({
  method: 'get',
  path: '/groups/{id}/members',
  auth: 'user',
  tags,
  summary: "A group's members, earliest first (a private group's only to its members)",
  request: { params: GroupParams, query: z.object(PageQuery) },
  responses: {
    200: { description: 'A page', ...json(z.object({ members: z.array(Member), next_cursor: z.string().nullable() })) },
    403: errorOf('members_only: a private group lists its members to members'),
    404: errorOf('No such group'),
  },
})

const setRole = route({
  method: 'patch',
  path: '/groups/{id}/members/{user_id}',
  auth: 'user',
  tags,
  summary: "Change a member's role (owner only)",
  request: { params: MemberParams, ...body(z.object({ role: z.enum(['moderator', 'member']) }).strict().openapi('MemberRole')) },
  responses: {
    200: { description: 'The member', ...json(z.object({ member: Member })) },
    403: errorOf('not_group_owner'),
    404: errorOf('No such group or member'),
  },
})

const removeMember = route({
  method: 'delete',
  path: '/groups/{id}/members/{user_id}',
  auth: 'user',
  tags,
  summary: 'Remove a member: the owner removes anyone else, moderators remove plain members',
  request: { params: MemberParams },
  responses: { 204: { description: 'Removed' }, 403: errorOf('not_allowed'), 404: errorOf('No such group or member') },
})

const invite = route({
  method: 'post',
  path: '/groups/{id}/invitations',
  auth: 'user',
  rateLimit: 'social',
  tags,
  summary: 'Invite someone, by user id or email (owner and moderators)',
  request: { params: GroupParams, ...body(UserRef.openapi('GroupInvite')) },
  responses: {
    201: { description: 'Invited', ...json(z.object({ invitation: Invitation })) },
    200: { description: 'Invited already', ...json(z.object({ invitation: Invitation })) },
    403: errorOf('not_a_moderator'),
    404: errorOf('No such group, or no such user'),
    409: errorOf('already_member'),
  },
})

const listInvitations = route({
  method: 'get',
  path: '/groups/{id}/invitations',
  auth: 'user',
  tags,
  summary: "A group's pending invitations (owner and moderators)",
  request: { params: GroupParams },
  responses: {
    200: { description: 'Newest first (at most 200)', ...json(z.object({ invitations: z.array(Invitation) })) },
    403: errorOf('not_a_moderator'),
    404: errorOf('No such group'),
  },
})

const dropInvitation = route({
  method: 'delete',
  path: '/groups/{id}/invitations/{user_id}',
  auth: 'user',
  tags,
  summary: 'Decline an invitation (your own user id) or withdraw one (owner and moderators)',
  request: { params: MemberParams },
  responses: { 204: { description: 'Gone' }, 404: errorOf('No such invitation') },
})

/** The caller's role in group `id` and whether they can see it: undefined when they cannot. */
async function roleIn(c: AppContext, id: string): Promise<{ role: string | null; visibility: string } | undefined> {
  const [g] = await c.var.postgres.queryRaw<{ role: string | null; visibility: string }>(
    `select ${MY_ROLE} as role, g.visibility from pam.groups g where g.id = $1::uuid`,
    [id],
  )
  return g
}

const MEMBER_SELECT = `${personSql('m.user_id')} as "user", m.role, ${isoSql('m.joined_at')} as joined_at`

export function registerGroupRoutes(app: App) {
  registerResource(app, groupResource)

  app.openapi(join, async (c) => {
    const { id } = c.req.valid('param')
    const { membership, created } = await writeTransaction(c, async (tx) => {
      const [g] = await tx.unsafe(`select ${MY_ROLE} as role from pam.groups g where g.id = $1::uuid`, [id])
      if (!g) throw notFound('group')
      const [mine] = await tx.unsafe(
        `insert into pam.group_members as m (group_id) select $1::uuid
          where exists (select 1 from pam.groups g where g.id = $1::uuid and g.visibility = 'public')
             or exists (select 1 from pam.group_invitations i where i.group_id = $1::uuid and i.user_id = (select auth.uid()))
         on conflict (group_id, user_id) do nothing
         returning m.group_id, m.role, ${isoSql('m.joined_at')} as joined_at`,
        [id],
      )
      if (mine) return { membership: mine, created: true }
      const [existing] = await tx.unsafe(
        `select m.group_id, m.role, ${isoSql('m.joined_at')} as joined_at from pam.group_members m
          where m.group_id = $1::uuid and m.user_id = (select auth.uid())`,
        [id],
      )
      // Seen but neither public nor invited: a private group whose invitation was withdrawn meanwhile.
      if (!existing) throw notFound('group')
      return { membership: existing, created: false }
    }, SOCIAL_REFUSALS)
    return c.json({ membership } as never, created ? 201 : 200)
  })

  app.openapi(leave, async (c) => {
    const { id } = c.req.valid('param')
    await writeTransaction(c, async (tx) => {
      const [m] = await tx`select role from pam.group_members where group_id = ${id} and user_id = (select auth.uid())`
      if (!m) throw new ApiError(404, 'not_a_member', 'you are not a member of this group')
      if (m.role === 'owner') {
        throw new ApiError(409, 'owner_cannot_leave', 'the owner cannot leave: delete the group, or stay')
      }
      await tx`delete from pam.group_members where group_id = ${id} and user_id = (select auth.uid())`
    })
    return c.body(null, 204)
  })

  app.openapi(members, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    const g = await roleIn(c, id)
    if (!g) throw notFound('group')
    if (g.visibility === 'private' && !g.role) throw forbidden('members_only', 'a private group lists its members to members')
    const { values, p } = params()
    const where = [`m.group_id = ${p(id)}::uuid`]
    if (cursor) {
      const [t, uid] = decodeCursor(cursor, ['timestamp', 'uuid'])
      where.push(`(m.joined_at, m.user_id) > (${p(t)}::text::timestamptz, ${p(uid)}::uuid)`)
    }
    const rows = await c.var.postgres.queryRaw<z.infer<typeof Member>>(
      `select ${MEMBER_SELECT} from pam.group_members m where ${where.join(' and ')}
       order by m.joined_at, m.user_id limit ${p(limit + 1)}`,
      values,
    )
    const result = page(rows, limit, (m) => [m.joined_at, m.user.id])
    return c.json({ members: result.items, next_cursor: result.next_cursor }, 200)
  })

  app.openapi(setRole, async (c) => {
    const { id, user_id } = c.req.valid('param')
    const { role } = c.req.valid('json')
    const member = await writeTransaction(c, async (tx) => {
      const [g] = await tx.unsafe(`select g.owner_id = (select auth.uid()) as owner from pam.groups g where g.id = $1::uuid`, [id])
      if (!g) throw notFound('group')
      if (!g.owner) throw forbidden('not_group_owner', 'only the group’s owner sets roles')
      if (user_id === c.var.userId) throw forbidden('not_allowed', 'the owner’s own role does not change')
      const [m] = await tx.unsafe(
        `update pam.group_members m set role = $3 where m.group_id = $1::uuid and m.user_id = $2::uuid returning ${MEMBER_SELECT}`,
        [id, user_id, role],
      )
      if (!m) throw notFound('member')
      return m
    }, SOCIAL_REFUSALS)
    return c.json({ member } as never, 200)
  })

  app.openapi(removeMember, async (c) => {
    const { id, user_id } = c.req.valid('param')
    await writeTransaction(c, async (tx) => {
      const [g] = await tx.unsafe(`select ${MY_ROLE} as role from pam.groups g where g.id = $1::uuid`, [id])
      if (!g) throw notFound('group')
      const [m] = await tx`select role from pam.group_members where group_id = ${id} and user_id = ${user_id}`
      if (!m) throw notFound('member')
      const mayRemove = user_id !== c.var.userId &&
        (g.role === 'owner' || (g.role === 'moderator' && m.role === 'member'))
      if (!mayRemove) {
        throw forbidden('not_allowed', 'the owner removes members and moderators, moderators remove members; leave to remove yourself')
      }
      await tx`delete from pam.group_members where group_id = ${id} and user_id = ${user_id}`
    })
    return c.body(null, 204)
  })

  app.openapi(invite, async (c) => {
    const { id } = c.req.valid('param')
    const ref = c.req.valid('json')
    const { invitation, created } = await writeTransaction(c, async (tx) => {
      const [g] = await tx.unsafe(`select ${MY_ROLE} as role from pam.groups g where g.id = $1::uuid`, [id])
      if (!g) throw notFound('group')
      if (g.role !== 'owner' && g.role !== 'moderator') {
        throw forbidden('not_a_moderator', 'only the group’s owner and moderators invite')
      }
      const invitee = await findUser(tx, ref)
      const [member] = await tx`select 1 from pam.group_members where group_id = ${id} and user_id = ${invitee}`
      if (member) throw new ApiError(409, 'already_member', 'they are a member already')
      const [made] = await tx`insert into pam.group_invitations (group_id, user_id) values (${id}, ${invitee})
        on conflict do nothing returning 1`
      const [row] = await tx.unsafe(
        `select ${INVITATION_SELECT} from pam.group_invitations i join pam.groups g on g.id = i.group_id
          where i.group_id = $1::uuid and i.user_id = $2::uuid`,
        [id, invitee],
      )
      return { invitation: row, created: !!made }
    }, SOCIAL_REFUSALS)
    return c.json({ invitation } as never, created ? 201 : 200)
  })

  app.openapi(listInvitations, async (c) => {
    const { id } = c.req.valid('param')
    const g = await roleIn(c, id)
    if (!g) throw notFound('group')
    if (g.role !== 'owner' && g.role !== 'moderator') throw forbidden('not_a_moderator', 'only the group’s owner and moderators see its invitations')
    const invitations = await c.var.postgres.queryRaw(
      `select ${INVITATION_SELECT} from pam.group_invitations i join pam.groups g on g.id = i.group_id
        where i.group_id = $1::uuid order by i.created_at desc, i.user_id limit 200`,
      [id],
    )
    return c.json({ invitations } as never, 200)
  })

  app.openapi(dropInvitation, async (c) => {
    const { id, user_id } = c.req.valid('param')
    const rows = await writeTransaction(
      c,
      (tx) => tx`delete from pam.group_invitations where group_id = ${id} and user_id = ${user_id} returning 1`,
    )
    if (!rows.length) throw notFound('invitation')
    return c.body(null, 204)
  })
}
