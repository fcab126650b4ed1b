// Moderation: the reports queue from Social (newest first, by status) and
// acting on a report. Hiding takes the post or comment out of everyone's
// sight (the social policies show a hidden row to its author and, for a
// group post, the group's moderators only); suspending the author also hides
// it. Every open report of the same post or comment is resolved with the
// same outcome, and each reporter is told (a 'social' notification).
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { body, errorOf, IdParams, isoSql, json } from '../_shared/resource.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import { multiLineText } from '../_shared/text.ts'
import { adminRoute, asAdmin } from './gate.ts'
import { INDEFINITELY, setSuspension } from './users.ts'

const TAGS = ['admin: moderation']
const STATUSES = ['open', 'actioned', 'dismissed'] as const
const ACTIONS = ['hide', 'dismiss', 'suspend_author'] as const

const AdminReport = z.object({
  id: z.string(),
  reporter_id: z.string(),
  reason: z.string(),
  details: z.string(),
  status: z.enum(STATUSES),
  created_at: z.string(),
  resolved_at: z.string().nullable(),
  target: z.object({
    type: z.enum(['post', 'comment']),
    id: z.string(),
    author_id: z.string(),
    body: z.string(),
    hidden: z.boolean(),
  }),
}).openapi('AdminReport')

const SELECT = `r.id, r.reporter_id, r.reason, r.details, r.status, ${isoSql('r.created_at')} as created_at,
  ${isoSql('r.resolved_at')} as resolved_at,
  json_build_object('type', case when r.post_id is null then 'comment' else 'post' end,
    'id', coalesce(r.post_id, r.comment_id), 'author_id', coalesce(p.author_id, cm.author_id),
    'body', coalesce(p.body, cm.body), 'hidden', coalesce(p.hidden, cm.hidden)) as target`
const FROM = `pam.reports r left join pam.posts p on p.id = r.post_id left join pam.comments cm on cm.id = r.comment_id`

const ActBody = z.object({
  action: z.enum(ACTIONS).openapi({
    description: 'hide: the post or comment is hidden from everyone; dismiss: nothing wrong; ' +
      'suspend_author: hidden, and its author suspended until lifted',
  }),
  note: multiLineText({ min: 0, max: 1000 }).optional().openapi({ description: 'why (kept in the audit log)' }),
}).strict().openapi('AdminReportAction')

type Report = z.infer<typeof AdminReport>

async function reportOf(tx: Tx, id: string): Promise<Report> {
  const [row] = await tx.unsafe(`select ${SELECT} from ${FROM} where r.id = $1::uuid`, [id])
  if (!row) throw notFound('report')
  return row as unknown as Report
}

const OUTCOME = {
  hide: 'The post or comment you reported was removed.',
  suspend_author: 'The post or comment you reported was removed, and its author suspended.',
  dismiss: 'We looked at what you reported and found it within the community rules.',
} as const

export function registerModerationRoutes(app: App) {
  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/reports',
      tags: TAGS,
      summary: 'The reports queue, newest first (by status)',
      request: { query: z.object({ status: z.enum(STATUSES).optional(), ...PageQuery }) },
      responses: {
        200: { description: 'A page of reports', ...json(z.object({ reports: z.array(AdminReport), next_cursor: z.string().nullable() })) },
        403: errorOf('Not an admin'),
      },
    }),
    async (c) => {
      const { status, limit, cursor } = c.req.valid('query')
      const after = cursor ? decodeCursor(cursor, ['timestamp', 'uuid']) : null
      const rows = await asAdmin(c, (tx) =>
        tx.unsafe(
          `select ${SELECT} from ${FROM}
           where ($1::text is null or r.status = $1)
             and ($2::text is null or (r.created_at, r.id) < ($2::text::timestamptz, $3::uuid))
           order by r.created_at desc, r.id desc limit $4`,
          [status ?? null, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
        ))
      const { items, next_cursor } = page(rows as unknown as Report[], limit, (r) => [r.created_at, r.id])
      return c.json({ reports: items, next_cursor }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'post',
      path: '/reports/{id}/action',
      tags: TAGS,
      summary: 'Act on a report: hide what was reported, dismiss it, or suspend its author',
      description: 'Resolves every open report of the same post or comment with the same outcome and notifies ' +
        'each reporter. A report already resolved is a 409.',
      request: { params: IdParams, ...body(ActBody) },
      responses: {
        200: { description: 'The report, resolved', ...json(z.object({ report: AdminReport })) },
        403: errorOf('Not an admin'),
        404: errorOf('No such report'),
        409: errorOf('report_resolved: the report was resolved already'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const { action, note = '' } = c.req.valid('json')
      const report = await asAdmin(c, async (tx, admin) => {
        // Every report of the same post or comment is resolved together: locked first, so that an
        // action on another of them at the same time waits for this one, then finds it resolved (409).
        await tx.unsafe(
          `select 1 from pam.reports r join pam.reports me on me.id = $1::uuid
            where r.post_id = me.post_id or r.comment_id = me.comment_id order by r.id for update of r`,
          [id],
        )
        const before = await reportOf(tx, id)
        if (before.status !== 'open') throw new ApiError(409, 'report_resolved', `this report was ${before.status} already`)
        const { type, id: targetId, author_id: author } = before.target
        // A post hidden here is stamped: its group's moderators cannot show it again (comments
        // are hidden by no user at all).
        if (action !== 'dismiss') {
          await tx.unsafe(
            type === 'post'
              ? 'update pam.posts set hidden = true, admin_hidden_at = coalesce(admin_hidden_at, now()) where id = $1::uuid'
              : 'update pam.comments set hidden = true where id = $1::uuid',
            [targetId],
          )
        }
        const resolved = await tx.unsafe(
          `update pam.reports set status = $1, resolved_at = now()
           where ${type}_id = $2::uuid and (status = 'open' or id = $3::uuid) returning id, reporter_id`,
          [action === 'dismiss' ? 'dismissed' : 'actioned', targetId, id],
        )
        await tx`
          insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
          select x.reporter_id, 'social', 'Your report was reviewed', ${OUTCOME[action]},
                 jsonb_build_object('report_id', x.id, 'outcome', ${action}::text), 'moderation:' || x.id
          from jsonb_to_recordset(${tx.json(resolved as never)}) as x (id uuid, reporter_id uuid)
          on conflict (user_id, dedupe_key) do nothing`
        if (action === 'suspend_author' && author !== admin.id) {
          await setSuspension(tx, admin.audit, author, INDEFINITELY, `report ${id}: ${before.reason}`)
        }
        const after = await reportOf(tx, id)
        await admin.audit({
          action: `report.${action}`,
          target_type: 'report',
          target_id: id,
          before,
          after: { ...after, note, resolved_reports: resolved.map((r) => r.id) },
        })
        return after
      })
      return c.json({ report }, 200)
    },
  )
}
