// How a job runs: under the service role (RLS bypassed: a job reads and writes
// every user's rows), one transaction per batch, recorded in pam.job_runs so
// that a repeated delivery of the same job, period and batch does nothing.
import type { Config } from '../_shared/config.ts'
import { database, postgresAdminClient, type PostgresApi, type Tx } from '../_shared/db.ts'
import { ApiError } from '../_shared/errors.ts'
import { log } from '../_shared/logger.ts'
import type { JobName } from './schedules.ts'

/** A batch's users: lower <= id < upper (null: unbounded). */
export interface UserRange {
  from: string | null
  to: string | null
}

export interface BatchResult {
  rows_written: number
  notifications: number
}

/** Under a hosted function's wall-clock limit (150 s) with room to answer. */
const JOB_STATEMENT_TIMEOUT_MS = 120_000

/** The service-role client of the jobs: the admin connection, bypassing RLS. */
export function serviceRoleDb(config: Config): PostgresApi {
  return postgresAdminClient(database({
    url: config.databaseUrl,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    acquireTimeoutMs: config.dbAcquireTimeoutMs,
    ca: config.dbCaCert,
  }))
}

/** A transaction as service_role, with the jobs' statement timeout. */
export function asServiceRole<T>(db: PostgresApi, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.unsafe(`set local role service_role; set local statement_timeout = ${JOB_STATEMENT_TIMEOUT_MS}`)
    return await fn(tx)
  }, { deadlineMs: JOB_STATEMENT_TIMEOUT_MS + 5000 })
}

/** SQL conditions putting `column` in `range` (numbered parameters via `p`). */
export function inRange(column: string, range: UserRange, p: (v: unknown) => string): string {
  const parts = [
    ...(range.from ? [`${column} >= ${p(range.from)}::uuid`] : []),
    ...(range.to ? [`${column} < ${p(range.to)}::uuid`] : []),
  ]
  return parts.length ? parts.join(' and ') : 'true'
}

/**
 * Runs one batch of a job once per period: its work and its 'done' record
 * commit together. A delivery that finds the batch done does nothing
 * (`skipped`); a failure rolls the work back, is recorded as 'failed' and
 * answers 503, so that QStash retries it.
 */
export async function runBatchOnce(
  db: PostgresApi,
  run: { job: JobName; period: string; batch: string; range: UserRange },
  work: (tx: Tx) => Promise<BatchResult>,
): Promise<BatchResult & { status: 'done' | 'skipped' }> {
  const { job, period, batch, range } = run
  try {
    return await asServiceRole(db, async (tx) => {
      const [claimed] = await tx`
        insert into pam.job_runs (job, period, batch, status, lower_id, upper_id)
        values (${job}, ${period}::date, ${batch}, 'running', ${range.from}::uuid, ${range.to}::uuid)
        on conflict (job, period, batch) do update
          set status = 'running', attempts = pam.job_runs.attempts + 1, error = null, started_at = now()
          where pam.job_runs.status <> 'done'
        returning id`
      if (!claimed) return { status: 'skipped' as const, rows_written: 0, notifications: 0 }
      const result = await work(tx)
      await tx`
        update pam.job_runs set status = 'done', finished_at = clock_timestamp(),
          rows_written = ${result.rows_written}, notifications = ${result.notifications}
        where id = ${claimed.id}`
      return { status: 'done' as const, ...result }
    })
  } catch (err) {
    await recordFailure(db, run, err)
    throw jobFailed(job, err)
  }
}

/**
 * Runs work that is not once per period (its own rows say what is done, as the
 * email outbox's claims do) and records the run: a repeated delivery runs again
 * and adds to the record. A failure is recorded and answers 503.
 */
export async function recordRun<T extends BatchResult>(
  db: PostgresApi,
  run: { job: JobName; period: string; batch: string },
  work: () => Promise<T>,
): Promise<T> {
  let result: T
  try {
    result = await work()
  } catch (err) {
    await recordFailure(db, run, err)
    throw jobFailed(run.job, err)
  }
  await asServiceRole(db, (tx) =>
    tx`
      insert into pam.job_runs (job, period, batch, status, rows_written, notifications, finished_at)
      values (${run.job}, ${run.period}::date, ${run.batch}, 'done', ${result.rows_written}, ${result.notifications}, now())
      on conflict (job, period, batch) do update
        set status = 'done', attempts = pam.job_runs.attempts + 1, error = null, finished_at = now(),
            rows_written = pam.job_runs.rows_written + excluded.rows_written,
            notifications = pam.job_runs.notifications + excluded.notifications`
  ).catch((e) => log('error', 'job run not recorded', { job: run.job, error: String(e?.message ?? e) }))
  return result
}

/** Records a failed attempt (outside the rolled-back transaction); never throws. */
export async function recordFailure(
  db: PostgresApi,
  run: { job: JobName; period: string; batch: string; range?: UserRange },
  err: unknown,
): Promise<void> {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 2000)
  log('error', 'job failed', { job: run.job, period: run.period, batch: run.batch, error: message })
  await asServiceRole(db, (tx) =>
    tx`
      insert into pam.job_runs (job, period, batch, status, lower_id, upper_id, error, finished_at)
      values (${run.job}, ${run.period}::date, ${run.batch}, 'failed', ${run.range?.from ?? null}::uuid,
              ${run.range?.to ?? null}::uuid, ${message}, now())
      on conflict (job, period, batch) do update
        set status = 'failed', attempts = pam.job_runs.attempts + 1, error = excluded.error, finished_at = now()
        where pam.job_runs.status <> 'done'`
  ).catch((e) => log('error', 'job failure not recorded', { job: run.job, error: String(e?.message ?? e) }))
}

/** 503 for QStash to retry (the cause stays in the logs). */
export function jobFailed(job: JobName, err: unknown): ApiError {
  if (err instanceof ApiError && err.status === 503) return err
  return new ApiError(503, 'job_failed', `the ${job} job failed and will be retried`, undefined, { 'Retry-After': '60' })
}

/** The UTC calendar day of an instant: a job's period. */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10)
