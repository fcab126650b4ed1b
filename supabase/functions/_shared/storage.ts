// Supabase Storage from the functions: the buckets PAM keeps files in, object
// names and their checks, a user's object read with their own token (the
// storage policies decide), and the removal of objects whose row is gone
// with the project's secret key (the service role). Rows of storage.objects
// are never deleted with SQL: the Storage API removes the row and the file
// together (hosted Storage refuses a direct DELETE).
//
// What to remove is queued by the database in the transaction that deleted or
// replaced the row that used an object (pam.storage_removals, see the storage
// migration). `removeLeftObjects` removes a user's queue right after such a
// write has committed; the cleanup job removes whatever is left, and objects
// that never had a row (an upload never attached) after a week.
import { resolveEnv } from '@supabase/server/core'
import type { Config } from './config.ts'
import { database, postgresAdminClient, type Tx } from './db.ts'
import { ApiError } from './errors.ts'
import { concatBytes } from './bytes.ts'
import { z } from './http.ts'
import { errorFields, log } from './logger.ts'

export const BUCKETS = ['receipts', 'documents', 'vehicle-photos', 'post-images', 'avatars'] as const
export type Bucket = typeof BUCKETS[number]

/** What the cleanup job leaves alone: an upload not attached to anything yet. */
export const UNATTACHED_GRACE = '7 days'

// storage-api's key characters (src/storage/limits.ts); a name starts with its owner's id.
const OBJECT_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/[A-Za-z0-9_/!.*'() &$=@;:+,?-]+$/

/** An object name in `bucket`: `<your user id>/…`, as uploaded with supabase-js. */
export const ObjectPath = (bucket: Bucket, example: string) =>
  z.string().max(1024).regex(OBJECT_NAME, `an object name in the ${bucket} bucket: "<your user id>/<file>"`)
    .refine((s) => s.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), 'no empty, "." or ".." segments')
    .openapi({
      example,
      description: `the object's name in the \`${bucket}\` bucket, as uploaded with ` +
        `\`supabase.storage.from('${bucket}').upload(name, file)\`; it starts with your user id`,
    })

/** The names among `names` that are the caller's own objects in `bucket`, asked under their RLS. Each stays
 * locked against the sweep until `tx` ends, so an object the write attaches is not removed under it
 * (supabase/migrations/20261202002000_storage_turns.sql). */
export async function ownObjects(tx: Tx, bucket: Bucket, names: (string | null | undefined)[]): Promise<Set<string>> {
  const wanted = [...new Set(names.filter((n): n is string => !!n))]
  if (!wanted.length) return new Set()
  const rows = await tx.unsafe(`select pam.storage_own_objects($1, $2::text[]) as name`, [bucket, wanted] as never[])
  return new Set(rows.map((r) => r.name as string))
}

const storageUrl = (config: Config) => `${config.supabaseUrl.replace(/\/+$/, '')}/storage/v1`
const encodeName = (name: string) => name.split('/').map(encodeURIComponent).join('/')

function projectKey(kind: 'secret' | 'publishable'): string | undefined {
  const { data } = resolveEnv()
  const keys = kind === 'secret' ? data?.secretKeys : data?.publishableKeys
  return keys?.default ?? Object.values(keys ?? {})[0]
}

const storageUnavailable = () =>
  new ApiError(503, 'storage_unavailable', 'file storage is unavailable, try again shortly', undefined, { 'Retry-After': '5' })

/** Removes objects with the secret key; the names the Storage API removed (or found gone) are returned. */
export async function removeObjects(config: Config, bucket: string, names: string[]): Promise<string[]> {
  const key = projectKey('secret')
  if (!key) throw new Error('no secret key: objects cannot be removed')
  const removed: string[] = []
  for (let i = 0; i < names.length; i += 1000) {
    const res = await fetch(`${storageUrl(config)}/object/${encodeURIComponent(bucket)}`, {
      method: 'DELETE',
      headers: { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prefixes: names.slice(i, i + 1000) }),
      signal: AbortSignal.timeout(10_000),
    })
    const body = await res.json().catch(() => null)
    if (!res.ok || !Array.isArray(body)) {
      throw new Error(`the Storage API answered ${res.status} removing objects from ${bucket}`)
    }
    removed.push(...body.map((o: { name: string }) => o.name))
  }
  return removed
}

export interface StoredObject {
  bytes: Uint8Array
  contentType: string
  eTag: string | null
}

/** The caller's object, read with their own token: null when it does not exist or is not theirs to read. */
export async function readObject(
  config: Config,
  authorization: string,
  bucket: Bucket,
  name: string,
  maxBytes: number,
): Promise<StoredObject | null> {
  let res: Response
  try {
    res = await fetch(`${storageUrl(config)}/object/authenticated/${bucket}/${encodeName(name)}`, {
      headers: { authorization, apikey: projectKey('publishable') ?? '' },
      signal: AbortSignal.timeout(15_000),
    })
  } catch (err) {
    log('warn', 'storage unreachable', { bucket, ...errorFields(err) })
    throw storageUnavailable()
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null) as { statusCode?: string } | null
    if (res.status < 500 && (body?.statusCode === '404' || body?.statusCode === '403')) return null
    log('warn', 'storage refused a read', { bucket, status: res.status, status_code: body?.statusCode })
    throw storageUnavailable()
  }
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel()
    throw tooLarge(maxBytes)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body!) {
    size += chunk.byteLength
    if (size > maxBytes) throw tooLarge(maxBytes)
    chunks.push(chunk)
  }
  return { bytes: concatBytes(chunks), contentType: res.headers.get('content-type') ?? 'application/octet-stream', eTag: res.headers.get('etag') }
}

const tooLarge = (max: number) => new ApiError(413, 'payload_too_large', `the file is larger than ${max} bytes`)

/**
 * Removes objects no row uses any more: `userId`'s queue (right after a write of theirs), or, for
 * the cleanup job (`userId` null), every queue and every object in PAM's buckets older than the
 * grace that no row uses. Runs as service_role in `tx`; the Storage API call is the secret key's.
 * A bucket the Storage API fails on stays queued for the next run.
 */
export async function sweepObjects(
  tx: Tx,
  config: Config,
  opts: { userId: string | null; grace?: string; max?: number },
): Promise<{ removed: number; failed: number }> {
  const rows = await tx`
    select bucket_id, name, queued from pam.storage_removable(${opts.userId}::uuid, ${opts.grace ?? null}::interval, ${opts.max ?? 1000})`
  const byBucket = new Map<string, string[]>()
  for (const r of rows) byBucket.set(r.bucket_id, [...(byBucket.get(r.bucket_id) ?? []), r.name])
  let removed = 0
  let failed = 0
  for (const [bucket, found] of byBucket) {
    // Checked again under the objects' locks: a write may have attached one since (storage_turns.sql).
    const [{ names }] = await tx`select pam.storage_claim_unused(${bucket}, ${found}::text[]) as names`
    if (!names.length) continue
    try {
      const gone = await removeObjects(config, bucket, names)
      removed += gone.length
      // Queued names the Storage API did not find are gone already: the queue forgets them too.
      await tx`select pam.storage_removed(${bucket}, ${names}::text[])`
    } catch (err) {
      failed += names.length
      log('warn', 'objects not removed (the cleanup job retries)', { bucket, count: names.length, ...errorFields(err) })
    }
  }
  return { removed, failed }
}

/** After a write of `userId` that may have left objects behind (a deleted expense, a deleted account):
 * removes them now. Never fails the request: what is not removed stays queued for the cleanup job. */
export async function removeLeftObjects(config: Config, userId: string): Promise<void> {
  try {
    // The service role: the queue is not the user's to read, and a deleted account has no session left.
    await postgresAdminClient(database({
      url: config.databaseUrl,
      poolMax: config.dbPoolMax,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      acquireTimeoutMs: config.dbAcquireTimeoutMs,
      ca: config.dbCaCert,
    })).transaction(async (tx) => {
      await tx.unsafe('set local role service_role')
      const [queued] = await tx`select exists (select 1 from pam.storage_removals where user_id = ${userId}) as any`
      if (queued.any) await sweepObjects(tx, config, { userId })
    }, { deadlineMs: 30_000 })
  } catch (err) {
    log('warn', 'objects left behind are queued for the cleanup job', { user_id: userId, ...errorFields(err) })
  }
}
