// Fan-out: a scheduled call does no user's work itself. It splits the users
// into key ranges of at most `batchUsers` ids and publishes one QStash
// message per range back to the same job (deduplicated by job, period and
// batch), so each batch is its own invocation, retried on its own, well
// within a hosted function's time limits. The plan (the instant and the
// ranges) is stored first, so a retried scheduled call publishes the same batches.
// A job that runs more than once a day (event reminders, every 5 minutes) has
// a plan per run, named by its slot: the plan is the batch `<slot>` and its
// batches are `<slot>.<index>`.
import { Client } from '@upstash/qstash'
import type { Config } from '../_shared/config.ts'
import type { PostgresApi } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'
import { asServiceRole, recordFailure, type UserRange, utcDay } from './runs.ts'
import { destinationOf, type JobName } from './schedules.ts'

export interface Batch extends UserRange {
  index: number
}

export interface Plan {
  at: string
  batches: Batch[]
}

/** The body of a batch message (and of a scheduled call: no batch, perhaps an instant). */
export interface JobMessage {
  at?: string
  batch?: Batch
}

/** QStash takes at most 100 messages per batch request. */
const PUBLISH_CHUNK = 100
/** Batches of one job run at most this many at a time (QStash flow control), so that a
 * job leaves the database's connections to the travellers' requests. */
export const FAN_OUT_PARALLELISM = 2

export type Publish = (job: JobName, period: string, plan: Plan, slot?: string) => Promise<void>

/** The job_runs batch (and, with the job and period, the deduplication id) of a plan's batch. */
export const batchName = (index: number, slot?: string) => slot ? `${slot}.${index}` : String(index)

export function qstashPublisher(config: Config): Publish {
  const client = config.jobs.qstashToken
    ? new Client({ baseUrl: config.jobs.qstashUrl, token: config.jobs.qstashToken, devMode: false, enableTelemetry: false })
    : undefined
  return async (job, period, plan, slot) => {
    if (!client) throw new ApiError(503, 'jobs_not_configured', 'QSTASH_TOKEN is not set: the batches cannot be published')
    const url = destinationOf(config.jobs.functionsUrl, job)
    for (let i = 0; i < plan.batches.length; i += PUBLISH_CHUNK) {
      await client.batchJSON(plan.batches.slice(i, i + PUBLISH_CHUNK).map((batch) => ({
        url,
        body: { at: plan.at, batch } satisfies JobMessage,
        deduplicationId: `${job}.${period}.${batchName(batch.index, slot)}`,
        flowControl: { key: `pam-${job}`, parallelism: FAN_OUT_PARALLELISM },
      })))
    }
  }
}

/** Plans the batches of `job` for the period of `at` (and `slot`, for a job that runs more than
 * once a day) and publishes them once. */
export async function fanOut(
  db: PostgresApi,
  publish: Publish,
  job: JobName,
  at: Date,
  batchUsers: number,
  slot?: string,
): Promise<{ status: 'done' | 'skipped'; period: string; plan?: Plan }> {
  const period = utcDay(at)
  const batch = slot ?? 'plan'
  const planned = await asServiceRole(db, async (tx) => {
    const [row] = await tx`
      insert into pam.job_runs (job, period, batch, status)
      values (${job}, ${period}::date, ${batch}, 'running')
      on conflict (job, period, batch) do update
        set status = 'running', attempts = pam.job_runs.attempts + 1, error = null
        where pam.job_runs.status <> 'done'
      returning id, plan`
    if (!row) return undefined
    if (row.plan) return { id: row.id as number, plan: row.plan as Plan }
    // Every batchUsers-th id starts a range; the first and last are open, so users added later are covered.
    const starts = await tx`
      select id from (select id, row_number() over (order by id) - 1 as n from pam.profiles) s
      where n > 0 and n % ${batchUsers} = 0 order by id`
    const bounds = [null, ...starts.map((s) => s.id as string), null]
    const plan: Plan = {
      at: at.toISOString(),
      batches: bounds.slice(0, -1).map((from, index) => ({ index, from, to: bounds[index + 1] })),
    }
    await tx`update pam.job_runs set plan = ${tx.json(plan as never)} where id = ${row.id}`
    return { id: row.id as number, plan }
  })
  if (!planned) return { status: 'skipped', period }
  try {
    await publish(job, period, planned.plan, slot)
  } catch (err) {
    await recordFailure(db, { job, period, batch }, err)
    throw new ApiError(503, 'publish_failed', 'the batches could not be published; the call will be retried', undefined, {
      'Retry-After': '60',
    })
  }
  await asServiceRole(db, (tx) =>
    tx`update pam.job_runs set status = 'done', finished_at = now(), rows_written = ${planned.plan.batches.length}
       where id = ${planned.id}`
  )
  return { status: 'done', period, plan: planned.plan }
}
