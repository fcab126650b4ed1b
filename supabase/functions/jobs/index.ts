// jobs: the scheduled work, one endpoint per job, called by QStash (the
// schedules: schedules.ts, `npm run schedules:sync`; locally the local
// stack's scheduler, or `npm run job <name>`). Every call is verified as
// QStash's (signature.ts) before anything runs. A scheduled call fans out
// into batches of users (fanout.ts); each batch runs once per period as
// service_role (runs.ts). Answers: 200 with what was done or skipped, 401 for
// a call QStash did not sign, 503 for a failure QStash should retry.
import { createApp, route, z } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'
import { errorOf, json } from '../_shared/resource.ts'
import { budgetAlerts } from './budget-alerts.ts'
import { cleanup } from './cleanup.ts'
import { eventReminders, slotOf } from './event-reminders.ts'
import { dailyAnalytics } from './daily-analytics.ts'
import { documentReminders } from './document-reminders.ts'
import { batchName, fanOut, qstashPublisher } from './fanout.ts'
import { maintenanceReminders } from './maintenance-reminders.ts'
import { productMetrics } from './product-metrics.ts'
import { emailDeliveries } from './email-deliveries.ts'
import { emailDigest } from './email-digest.ts'
import { mailerFor } from '../_shared/mail.ts'
import { log } from '../_shared/logger.ts'
import { asServiceRole, recordRun, runBatchOnce, serviceRoleDb, utcDay } from './runs.ts'
import type { BatchResult, UserRange } from './runs.ts'
import { JOB_NAMES, type JobName, SCHEDULES } from './schedules.ts'
import { qstashVerifier } from './signature.ts'

/** The jobs that go through users in batches; the others run whole. */
const PER_USER: Partial<Record<JobName, (tx: Tx, range: UserRange, at: Date) => Promise<BatchResult>>> = {
  'daily-analytics': dailyAnalytics,
  'maintenance-reminders': maintenanceReminders,
  'budget-alerts': budgetAlerts,
  'document-reminders': documentReminders,
  'event-reminders': eventReminders,
}

const Uuid = z.guid().openapi({ format: 'uuid' })

const JobBody = z.object({
  at: z.iso.datetime({ offset: true }).optional().openapi({
    description: 'the instant the job runs for (default: now); its UTC day is the period',
  }),
  batch: z.object({
    index: z.number().int().min(0).max(100_000),
    from: Uuid.nullable().openapi({ description: 'first user id of the batch (null: from the start)' }),
    to: Uuid.nullable().openapi({ description: 'user ids below this one (null: to the end)' }),
  }).strict().optional().openapi({ description: "one batch of users (the fan-out's messages); absent: the scheduled call" }),
}).strict().openapi('JobMessage')

const JobResult = z.object({
  job: z.string(),
  period: z.string(),
  batch: z.string().openapi({
    description: "'plan' for a scheduled call, the batch's index, or 'all'; event reminders: the 5-minute slot " +
      "('slot-HHMM') for a scheduled call, 'slot-HHMM.<index>' for a batch",
  }),
  status: z.enum(['done', 'skipped']).openapi({ description: 'skipped: this job, period and batch had already run' }),
  rows_written: z.number(),
  notifications: z.number(),
  batches: z.number().optional().openapi({ description: 'batches published (scheduled call of a batched job)' }),
  removed: z.record(z.string(), z.number()).optional().openapi({ description: 'cleanup: rows removed, by kind' }),
  emails: z.object({
    sent: z.number(),
    retrying: z.number(),
    failed: z.number(),
    suppressed: z.number(),
    deferred: z.number().openapi({ description: 'claimed but not started before the run\'s time was up: due again at once' }),
  }).optional()
    .openapi({ description: 'email-deliveries: what became of the emails it claimed' }),
}).openapi('JobResult')

export function createJobsApp(config: Config = getConfig()): App {
  const verify = qstashVerifier(config)
  const publish = qstashPublisher(config)
  const db = serviceRoleDb(config)
  const mailer = mailerFor(config.email)
  const app = createApp('jobs', config, 'Scheduled work, called by QStash (signed calls only).')

  // The signature covers the raw body and this job's public URL.
  app.use('/:job', async (c, next) => {
    const job = c.req.param('job') as JobName
    if (c.req.method !== 'POST' || !JOB_NAMES.includes(job)) return await next()
    await verify(c.req.header('upstash-signature'), await c.req.text(), `${config.jobs.functionsUrl}/jobs/${job}`)
    await next()
  })

  for (const { job, cron, description } of SCHEDULES) {
    const r = route({
      auth: 'none',
      rateLimit: 'none',
      method: 'post',
      path: `/${job}`,
      tags: ['jobs'],
      summary: `${description} (QStash, cron "${cron}" UTC)`,
      description: 'Needs a valid Upstash-Signature header (QStash signs every delivery). The body (JSON, optional): ' +
        '`at`, the instant the job runs for (default now; its UTC day is the period), and `batch` ' +
        '(`{index, from, to}`: one key range of users, as the scheduled call publishes them).',
      responses: {
        200: { description: 'Done, or skipped because it had already run', ...json(JobResult) },
        400: errorOf('invalid_body or validation_failed: the message is not one this job takes'),
      },
    })
    app.openapi(r, async (c) => {
      const message = parseMessage(await c.req.text())
      const at = message.at ? new Date(message.at) : new Date()
      const period = utcDay(at)
      const work = PER_USER[job]
      if (job === 'email-deliveries') {
        // Not once per period: each run sends what is due (claims make a repeated run harmless).
        const batch = `min-${at.toISOString().slice(11, 16).replace(':', '')}`
        if (config.email.transport === 'none') {
          log('warn', 'email is not configured (PAM_EMAIL_TRANSPORT): nothing sent', { job })
          return c.json({ job, period, batch, status: 'skipped' as const, rows_written: 0, notifications: 0 }, 200)
        }
        const result = await recordRun(db, { job, period, batch }, () => emailDeliveries(db, mailer, config, at))
        const { sent, retrying, failed, suppressed, deferred } = result
        return c.json({
          job,
          period,
          batch,
          status: 'done' as const,
          rows_written: result.rows_written,
          notifications: result.notifications,
          emails: { sent, retrying, failed, suppressed, deferred },
        }, 200)
      }
      if (job === 'email-digest') {
        // Idempotent by itself (one digest per traveller and local day): a repeated run assembles what is new.
        const batch = `hour-${at.toISOString().slice(11, 13)}`
        const result = await recordRun(db, { job, period, batch }, () => asServiceRole(db, (tx) =>
          emailDigest(tx, at, config.email.digestHour)))
        return c.json({ job, period, batch, status: 'done' as const, ...result }, 200)
      }
      if (job === 'product-metrics') {
        const result = await runBatchOnce(db, { job, period, batch: 'all', range: { from: null, to: null } }, (tx) => productMetrics(tx, at))
        return c.json({ job, period, batch: 'all', ...result }, 200)
      }
      if (!work) {
        let removed: Record<string, number> = {}
        const result = await runBatchOnce(db, { job, period, batch: 'all', range: { from: null, to: null } }, async (tx) => {
          const r = await cleanup(tx, config)
          removed = r.removed
          return r
        })
        return c.json({ job, period, batch: 'all', ...result, ...(result.status === 'done' ? { removed } : {}) }, 200)
      }
      // Event reminders run every 5 minutes: a plan per slot of the day, each sending what came due (deduplicated).
      const slot = job === 'event-reminders' ? slotOf(at) : undefined
      if (!message.batch) {
        const planned = await fanOut(db, publish, job, at, config.jobs.batchUsers, slot)
        return c.json({
          job,
          period,
          batch: slot ?? 'plan',
          status: planned.status,
          rows_written: 0,
          notifications: 0,
          ...(planned.plan ? { batches: planned.plan.batches.length } : {}),
        }, 200)
      }
      const { index, from, to } = message.batch
      const batch = batchName(index, slot)
      const result = await runBatchOnce(db, { job, period, batch, range: { from, to } }, (tx) => work(tx, { from, to }, at))
      return c.json({ job, period, batch, ...result }, 200)
    })
  }
  return app
}

/** The message as QStash delivers it: empty for a scheduled call, or a JobMessage. */
function parseMessage(text: string): z.infer<typeof JobBody> {
  let value: unknown = {}
  if (text.trim()) {
    try {
      value = JSON.parse(text)
    } catch {
      throw new ApiError(400, 'invalid_body', 'the request body is not valid JSON')
    }
  }
  const parsed = JobBody.safeParse(value)
  if (!parsed.success) throw new ApiError(400, 'validation_failed', 'the request is not valid', parsed.error.issues)
  return parsed.data
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createJobsApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
