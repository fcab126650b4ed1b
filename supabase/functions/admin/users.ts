// Accounts: search by email or name, one account's profile and activity
// counts (never amounts of money, nor what anyone wrote to PAM), suspend and
// unsuspend, and deletion with the cascade of self-deletion.
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { notFound } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { body, errorOf, IdParams, json, likePattern } from '../_shared/resource.ts'
import { singleLineText } from '../_shared/text.ts'
import { adminRoute, asAdmin, fieldError } from './gate.ts'
import { removeLeftObjects } from '../_shared/storage.ts'
import { invalidateUser } from '../_shared/cache.ts'

const TAGS = ['admin: users']

const AccountSummary = z.object({
  id: z.string(),
  email: z.string().nullable(),
  full_name: z.string().nullable(),
  created_at: z.string(),
  suspended_until: z.string().nullable(),
}).openapi('AdminAccountSummary')

const Account = z.object({
  id: z.string(),
  email: z.string().nullable(),
  full_name: z.string().nullable(),
  created_at: z.string(),
  last_sign_in_at: z.string().nullable(),
  suspended_until: z.string().nullable().openapi({ description: 'null: not suspended' }),
  admin: z.boolean(),
  activity: z.record(z.string(), z.number()).openapi({
    description: 'how many expenses, income, trips, vehicles, conversations, chat messages, posts, comments, ' +
      'reports made and against them, and open sessions (counts only)',
  }),
}).openapi('AdminAccount')

const SuspendBody = z.object({
  reason: singleLineText({ min: 1, max: 500 }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: 'when it ends (default: until lifted)' }),
}).strict().openapi('AdminSuspend')

const ReasonBody = z.object({ reason: singleLineText({ min: 1, max: 500 }) }).strict().openapi('AdminReason')

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString())

/** One account as the portal shows it; 404 when there is none. */
export async function accountOf(tx: Tx, id: string): Promise<z.infer<typeof Account>> {
  const [row] = await tx`select pam.admin_account(${id}::uuid) as account`
  if (!row?.account) throw notFound('account')
  const a = row.account as Record<string, unknown>
  return {
    ...a,
    created_at: iso(a.created_at)!,
    last_sign_in_at: iso(a.last_sign_in_at),
    suspended_until: iso(a.suspended_until),
  } as z.infer<typeof Account>
}

/** Bans `id` until `until` (ending their sessions) or lifts the ban (null); audited with the account before and after. */
export async function setSuspension(
  tx: Tx,
  audit: (e: { action: string; target_type: string; target_id: string; before: unknown; after: unknown }) => Promise<void>,
  id: string,
  until: string | null,
  reason: string,
) {
  const before = await accountOf(tx, id)
  await tx`select pam.admin_set_suspension(${id}::uuid, ${until}::timestamptz)`
  const after = await accountOf(tx, id)
  await audit({
    action: until ? 'user.suspend' : 'user.unsuspend',
    target_type: 'user',
    target_id: id,
    before: { suspended_until: before.suspended_until },
    after: { suspended_until: after.suspended_until, reason },
  })
  return after
}

/** Far enough to mean "until lifted" (Supabase Auth's ban is a point in time). */
export const INDEFINITELY = '9999-12-31T00:00:00Z'

export function registerUserRoutes(app: App) {
  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/users',
      tags: TAGS,
      summary: 'Search accounts by email or name (newest first)',
      request: {
        query: z.object({
          q: singleLineText({ min: 1, max: 200 }).optional().openapi({ description: 'part of the email or name' }),
          limit: z.string().regex(/^[0-9]{1,3}$/).transform(Number).pipe(z.number().min(1).max(100)).default(50)
            .openapi({ type: 'integer', minimum: 1, maximum: 100, default: 50 }),
        }),
      },
      responses: { 200: { description: 'Accounts', ...json(z.object({ users: z.array(AccountSummary) })) }, 403: errorOf('Not an admin') },
    }),
    async (c) => {
      const { q, limit } = c.req.valid('query')
      const users = await asAdmin(c, (tx) =>
        tx`select * from pam.admin_find_accounts(${q ? likePattern(q) : null}, ${limit})`)
      return c.json({
        users: users.map((u) => ({
          id: u.id,
          email: u.email,
          full_name: u.full_name,
          created_at: iso(u.created_at)!,
          suspended_until: iso(u.suspended_until),
        })),
      }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/users/{id}',
      tags: TAGS,
      summary: "An account's profile and activity counts",
      request: { params: IdParams },
      responses: {
        200: { description: 'The account', ...json(z.object({ user: Account })) },
        403: errorOf('Not an admin'),
        404: errorOf('No such account'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      return c.json({ user: await asAdmin(c, (tx) => accountOf(tx, id)) }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'post',
      path: '/users/{id}/suspend',
      tags: TAGS,
      summary: 'Suspend an account: no sign-in, every session ended, every function refused',
      request: { params: IdParams, ...body(SuspendBody) },
      responses: {
        200: { description: 'Suspended', ...json(z.object({ user: Account })) },
        400: errorOf('until is not in the future, or you named yourself'),
        403: errorOf('Not an admin'),
        404: errorOf('No such account'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const { reason, until = INDEFINITELY } = c.req.valid('json')
      if (Date.parse(until) <= Date.now()) {
        throw fieldError('until', 'until must be in the future')
      }
      const user = await asAdmin(c, (tx, admin) => {
        if (id === admin.id) throw fieldError('id', 'you cannot suspend yourself')
        return setSuspension(tx, admin.audit, id, new Date(until).toISOString(), reason)
      })
      return c.json({ user }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'post',
      path: '/users/{id}/unsuspend',
      tags: TAGS,
      summary: 'Lift a suspension (the traveller signs in again)',
      request: { params: IdParams, ...body(ReasonBody) },
      responses: {
        200: { description: 'No longer suspended', ...json(z.object({ user: Account })) },
        403: errorOf('Not an admin'),
        404: errorOf('No such account'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const { reason } = c.req.valid('json')
      const user = await asAdmin(c, (tx, admin) => setSuspension(tx, admin.audit, id, null, reason))
      return c.json({ user }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'delete',
      path: '/users/{id}',
      tags: TAGS,
      summary: 'Delete an account on request, with everything it owns (as self-deletion does)',
      request: { params: IdParams },
      responses: {
        204: { description: 'Deleted' },
        400: errorOf('You named yourself (delete your own account from the app)'),
        403: errorOf('Not an admin'),
        404: errorOf('No such account'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      await asAdmin(c, async (tx, admin) => {
        if (id === admin.id) throw fieldError('id', 'delete your own account from the app')
        const before = await accountOf(tx, id)
        await tx`select pam.admin_delete_account(${id}::uuid)`
        await admin.audit({ action: 'user.delete', target_type: 'user', target_id: id, before, after: null })
      })
      // The account's files go with it (queued by the deletion; the cleanup job retries), and what
      // the cache holds of it (the profile, summaries, PAM's context and history), as self-deletion does.
      await removeLeftObjects(c.var.config, id)
      await invalidateUser(c.var.cache, id)
      return c.body(null, 204)
    },
  )
}

