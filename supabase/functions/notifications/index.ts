// notifications: the signed-in traveller's messages (budget thresholds,
// maintenance due, documents expiring, daily reports, and Social's replies and likes), newest
// first, with read state. Owner only: every query runs as the caller under
// RLS. The jobs and the wins function write them; here they are read,
// marked read and deleted.
import { createApp, route, z } from '../_shared/http.ts'
import type { App, AppContext } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { notFound } from '../_shared/errors.ts'
import { errorOf, IdParams, isoSql, json, newestFirst, registerResource, type ResourceSpec } from '../_shared/resource.ts'
import { registerEmailRoutes } from './email.ts'

export const KINDS = ['maintenance_due', 'budget_threshold', 'report_ready', 'social', 'event_reminder', 'document_expiring'] as const

const Notification = z.object({
  id: z.string(),
  kind: z.enum(KINDS),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()).openapi({ description: 'what the notification is about (ids, amounts, dates), by kind' }),
  read_at: z.string().nullable(),
  created_at: z.string(),
  email: z.object({
    status: z.enum(['none', 'pending', 'sending', 'sent', 'failed', 'suppressed', 'digest']).openapi({
      description: 'none: not emailed (channel off); pending: to be sent (or retried at next_attempt_at); sending; sent; ' +
        'failed: given up (last_error says why); suppressed: not sent after all (unsubscribed, no confirmed address); ' +
        "digest: waiting for the day's digest",
    }),
    attempts: z.number(),
    next_attempt_at: z.string().nullable(),
    last_error: z.string().nullable(),
    sent_at: z.string().nullable(),
  }).openapi({ description: "this notification's email: its delivery state" }),
}).openapi('Notification')

const SELECT = `n.id, n.kind, n.title, n.body, n.data, ${isoSql('n.read_at')} as read_at, ${isoSql('n.created_at')} as created_at,
  jsonb_build_object('status', n.email_status, 'attempts', n.email_attempts,
    'next_attempt_at', case when n.email_status in ('pending', 'sending') then ${isoSql('n.email_next_attempt_at')} end,
    'last_error', n.email_last_error, 'sent_at', ${isoSql('n.email_sent_at')}) as email`

const notificationResource: ResourceSpec = {
  one: 'notification',
  many: 'notifications',
  noun: 'notification',
  path: '',
  table: 'pam.notifications',
  alias: 'n',
  tags: ['notifications'],
  schema: Notification,
  select: SELECT,
  order: newestFirst('n'),
  listSummary: 'Your notifications, newest first (unread=true: only unread ones)',
  filters: {
    fields: {
      unread: z.enum(['true', 'false']).optional().openapi({ description: 'true: unread only; false: read only' }),
      kind: z.enum(KINDS).optional(),
    },
    where: (f, p) => [
      ...(f.unread === 'true' ? ['n.read_at is null'] : f.unread === 'false' ? ['n.read_at is not null'] : []),
      ...(f.kind ? [`n.kind = ${p(f.kind)}`] : []),
    ],
  },
}

const readRoute = route({
  auth: 'user',
  method: 'post',
  path: '/{id}/read',
  tags: ['notifications'],
  summary: 'Mark a notification read (already read: unchanged)',
  request: { params: IdParams },
  responses: {
    200: { description: 'The notification', ...json(z.object({ notification: Notification })) },
    404: errorOf('No such notification'),
  },
})

const readAllRoute = route({
  auth: 'user',
  method: 'post',
  path: '/read-all',
  tags: ['notifications'],
  summary: 'Mark every unread notification read',
  responses: {
    200: { description: 'How many were marked', ...json(z.object({ updated: z.number() })) },
  },
})

export function createNotificationsApp(config: Config = getConfig()): App {
  const app = createApp('notifications', config, "The traveller's notifications: reminders, alerts, reports, Social.")
  // Before the resource's /{id} routes: "channels" and "unsubscribe" are not ids.
  registerEmailRoutes(app, config)
  // Before the resource's /{id} routes: "read-all" is not an id.
  app.openapi(readAllRoute, async (c: AppContext) => {
    const [row] = await c.var.postgres.transaction((tx) =>
      tx`with marked as (
           update pam.notifications set read_at = now()
           where user_id = (select auth.uid()) and read_at is null returning 1)
         select count(*)::int as updated from marked`
    )
    return c.json({ updated: row.updated as number }, 200)
  })
  app.openapi(readRoute, async (c) => {
    const { id } = c.req.valid('param')
    const [row] = await c.var.postgres.transaction((tx) =>
      tx.unsafe(
        `update pam.notifications n set read_at = coalesce(n.read_at, now()) where n.id = $1::uuid returning ${SELECT}`,
        [id],
      )
    )
    if (!row) throw notFound('notification')
    return c.json({ notification: row as unknown as z.infer<typeof Notification> }, 200)
  })
  registerResource(app, notificationResource)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createNotificationsApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
