// Product health and the audit log: what the product-metrics job wrote per
// UTC day (never computed from raw rows here), and every admin action.
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { errorOf, isoSql, json } from '../_shared/resource.ts'
import { calendarDate } from '../_shared/dates.ts'
import { singleLineText } from '../_shared/text.ts'
import { adminRoute, asAdmin, fieldError } from './gate.ts'

const Day = z.object({
  date: z.string(),
  active_users: z.number(),
  weekly_active_users: z.number().openapi({ description: 'active in the 7 days ending that day' }),
  new_users: z.number(),
  expenses_logged: z.number(),
  trips_logged: z.number(),
  chat_messages: z.number(),
  intent_accuracy: z.array(z.object({
    intent: z.string(),
    rated: z.number(),
    routed_correctly: z.number(),
    accuracy: z.number().nullable(),
    average_rating: z.number().nullable(),
  })),
  job_runs: z.array(z.object({ job: z.string(), runs: z.number(), done: z.number(), failed: z.number(), attempts: z.number() })),
  notifications: z.array(z.object({ kind: z.string(), sent: z.number(), read: z.number() })),
  computed_at: z.string(),
}).openapi('ProductDay')

const AuditRecord = z.object({
  id: z.string(),
  admin_id: z.string(),
  admin_email: z.string().nullable(),
  action: z.string(),
  target_type: z.string(),
  target_id: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  request_id: z.string(),
  created_at: z.string(),
}).openapi('AdminAuditRecord')

const MAX_DAYS = 366

export function registerHealthRoutes(app: App) {
  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/health',
      tags: ['admin: product health'],
      summary: 'The product day by day, latest first: active users, what was logged, PAM per intent, jobs, notifications',
      description: 'From pam.product_metrics, written by the product-metrics job each night for the UTC day before.',
      request: {
        query: z.object({
          from: calendarDate().optional().openapi({ description: 'first day (default: 29 days before to, 30 days in all)' }),
          to: calendarDate().optional().openapi({ description: 'last day (default: yesterday, UTC)' }),
        }),
      },
      responses: {
        200: { description: 'Days', ...json(z.object({ days: z.array(Day) })) },
        400: errorOf(`from after to, or more than ${MAX_DAYS} days`),
        403: errorOf('Not an admin'),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const to = q.to ?? new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
      // Both days count: 30 days end 29 days after the first.
      const from = q.from ?? new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10)
      if (from > to) throw fieldError('from', 'from is after to')
      if (Date.parse(to) - Date.parse(from) >= MAX_DAYS * 86_400_000) throw fieldError('from', `at most ${MAX_DAYS} days`)
      const days = await asAdmin(c, (tx) =>
        tx`
          select m.date::text as date, m.active_users, m.weekly_active_users, m.new_users, m.expenses_logged,
                 m.trips_logged, m.chat_messages, m.intent_accuracy, m.job_runs, m.notifications,
                 to_char(m.computed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as computed_at
          from pam.product_metrics m where m.date between ${from}::date and ${to}::date order by m.date desc`)
      return c.json({ days: days as unknown as z.infer<typeof Day>[] }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/audit',
      tags: ['admin: audit'],
      summary: 'Every admin action, newest first: who, what, on which record, before and after, when, which request',
      request: {
        query: z.object({
          admin_id: z.guid().optional(),
          action: singleLineText({ min: 1, max: 60 }).optional().openapi({ example: 'user.suspend' }),
          target_type: singleLineText({ min: 1, max: 40 }).optional().openapi({ example: 'user' }),
          // Looked up without case: ids are recorded in lower case now, in the case given before.
          target_id: singleLineText({ min: 1, max: 100 }).optional(),
          limit: z.string().regex(/^[0-9]{1,3}$/).transform(Number).pipe(z.number().min(1).max(200)).default(50)
            .openapi({ type: 'integer', minimum: 1, maximum: 200, default: 50 }),
          cursor: z.string().regex(/^[0-9]{1,18}$/, 'next_cursor of the previous page').optional()
            .openapi({ description: 'next_cursor of the previous page' }),
        }),
      },
      responses: {
        200: { description: 'A page of records', ...json(z.object({ records: z.array(AuditRecord), next_cursor: z.string().nullable() })) },
        403: errorOf('Not an admin'),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const rows = await asAdmin(c, (tx) =>
        tx.unsafe(
          `select a.id::text as id, a.admin_id, a.admin_email, a.action, a.target_type, a.target_id, a.before, a.after,
                  a.request_id, ${isoSql('a.created_at')} as created_at
           from pam.admin_audit_log a
           where ($1::uuid is null or a.admin_id = $1) and ($2::text is null or a.action = $2)
             and ($3::text is null or a.target_type = $3) and ($4::text is null or lower(a.target_id) = lower($4))
             and ($5::bigint is null or a.id < $5)
           order by a.id desc limit $6`,
          [q.admin_id ?? null, q.action ?? null, q.target_type ?? null, q.target_id ?? null, q.cursor ?? null, q.limit + 1],
        ))
      const records = rows.slice(0, q.limit) as unknown as z.infer<typeof AuditRecord>[]
      return c.json({ records, next_cursor: rows.length > q.limit ? records[records.length - 1].id : null }, 200)
    },
  )
}
