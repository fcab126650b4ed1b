// Helpers for the jobs tests: calls to the jobs function signed as QStash signs
// (the project's one signing implementation), and travellers made in a key
// range of their own, so that a test runs a job batch over its own users only
// while the rest of the suite writes to the same database.
import { importJWK, SignJWT } from 'jose'
import { signQStash } from '../../scripts/local/qstash-signing.ts'
import type { JobName } from '../../supabase/functions/jobs/schedules.ts'
import { type Answer, answer, type Call, encode } from './wins.ts'
import { adminSql, callFunction, functionsUrl, stack } from './stack.ts'

export const jobUrl = (job: JobName) => `${functionsUrl}/jobs/${job}`

export interface SignedCall {
  /** The signing key (default the stack's current one); null sends no signature. */
  key?: string | null
  /** The URL the signature names (default the job's). */
  url?: string
  /** The body the signature covers, when it differs from the one sent. */
  signedBody?: string
  now?: number
  ttlSeconds?: number
}

/** POSTs `body` to /jobs/<job>, signed as QStash would sign it (or as told). */
export async function callJob(job: JobName, body: unknown = {}, how: SignedCall = {}): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  const key = how.key === undefined ? stack.qstash.keys.currentSigningKey : how.key
  if (key !== null) {
    headers['upstash-signature'] = await signQStash({
      key,
      url: how.url ?? jobUrl(job),
      body: how.signedBody ?? text,
      now: how.now,
      ttlSeconds: how.ttlSeconds,
    })
  }
  return answer(await fetch(jobUrl(job), { method: 'POST', headers, body: text }))
}

export interface RangeUsers {
  /** The batch covering exactly these users. */
  range: { from: string; to: string }
  ids: string[]
}

/** `n` travellers (auth users with their profile) whose ids share a random prefix no other user has. */
export async function usersInOwnRange(n: number, preferences: Record<string, unknown> = {}): Promise<RangeUsers> {
  const prefix = crypto.randomUUID().slice(0, 8)
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-0000-4000-8000-${String(i + 1).padStart(12, '0')}`)
  for (const id of ids) {
    await adminSql`insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data)
      values (${id}, ${`jobs-${id}@example.com`}, '{"provider":"email"}', '{"full_name":"Jobs"}')`
  }
  if (Object.keys(preferences).length) {
    await adminSql`update pam.profiles set preferences = ${adminSql.json(preferences as never)} where id = any(${ids}::uuid[])`
  }
  return { range: { from: `${prefix}-0000-0000-0000-000000000000`, to: `${prefix}-0001-0000-0000-000000000000` }, ids }
}

/** A batch message for the users of `r` at instant `at`. A batch runs once per job, period and
 * index: each test's batch gets an index of its own (the suite's tests share periods). */
export const batchOf = (r: RangeUsers, at: string, index = 1 + Math.floor(Math.random() * 99_999)) =>
  ({ at, batch: { index, ...r.range } })

/** Calls a function as user `id` with a token the local auth service's key signs (no session). */
export async function functionAsId(fn: string, id: string): Promise<Call> {
  const token = await new SignJWT({ role: 'authenticated', aud: 'authenticated', iss: `${stack.url}/auth/v1` })
    .setSubject(id)
    .setProtectedHeader({ alg: 'ES256', kid: stack.keys.kid })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(await importJWK(stack.keys.privateJwk, 'ES256'))
  return async (path, init = {}) =>
    answer(
      await callFunction(`${fn}/${path}`, {
        method: init.method ?? 'GET',
        token,
        headers: init.headers,
        body: init.body === undefined ? undefined : encode(init.body),
      }),
    )
}

/** The job_runs rows of a job and period. */
export const runsOf = (job: JobName, period: string) =>
  adminSql`select batch, status, rows_written, notifications, attempts, error, lower_id, upper_id, plan
           from pam.job_runs where job = ${job} and period = ${period}::date order by batch`
