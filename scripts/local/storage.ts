// The local stand-in for Supabase Storage: the part of its REST API that
// supabase-js (@supabase/storage-js) calls, served by the gateway under
// /storage/v1. Metadata lives in storage.objects and storage.buckets
// (bootstrap.sql: the schema hosted Storage has), file contents on disk
// (storage-files.ts). As in supabase/storage (storage-api), every question
// about what the caller may do is asked of storage.objects under the
// caller's role, with their claims set as PostgREST sets them, so the
// project's policies decide: an upload first inserts its row as the caller in
// a transaction that is rolled back (the policies' verdict), then streams the
// body to disk and writes the row as the server; a download, a signed URL, a
// list or a removal reads or deletes the rows the caller may. Public URLs and
// signed URLs are served by the server itself, as hosted Storage does.
//
// Errors have hosted Storage's shape and status: `{statusCode, code, error,
// message}`, the HTTP status 400 for any 4xx (the specific one is
// `statusCode`, which storage-js reports as `error.statusCode`), 500 for a
// failure of ours.
import type postgres from 'postgres'
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose'
import { parse } from 'smol-toml'
import type { LocalKeys } from './keys.ts'
import { BodyCutOff, BodyTooLarge, fileStore } from './storage-files.ts'
import { boundaryOf, readMultipart } from './storage-multipart.ts'
import { PROJECT_CONFIG } from './auth-settings.ts'
import { errorFields, log } from '../../supabase/functions/_shared/logger.ts'

export interface StorageServiceOptions {
  /** A superuser connection (the server's own; callers' questions run under their role). */
  sql: postgres.Sql
  keys: LocalKeys
  /** The `iss` of user access tokens. */
  issuer: string
  /** Files go under `<root>`. */
  root: string
  /** The project's upload limit in bytes (config.toml [storage] file_size_limit); buckets may set less. */
  fileSizeLimit?: number
  statementTimeoutMs?: number
}

export type StorageHandler = (req: Request, path: string) => Promise<Response>

/** Bytes a multipart body may carry beyond its file (boundaries, part headers, small fields). */
const MULTIPART_OVERHEAD = 64 * 1024
const MAX_KEY_BYTES = 1024
/** A segment of a name becomes a file or folder name on disk (255 bytes, less the version suffix). */
const MAX_SEGMENT_BYTES = 200
const MAX_OBJECTS_PER_REQUEST = 1000
const MAX_LIST_LIMIT = 1000
/** Signed upload URLs last two hours, as hosted Storage's do. */
const SIGNED_UPLOAD_EXPIRY_S = 7200
const MAX_SIGNED_EXPIRY_S = 10 * 365 * 86400

// What supabase/storage accepts in object keys and bucket names (src/storage/limits.ts).
const VALID_OBJECT_KEY = /^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$/
const VALID_BUCKET_NAME = /^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$/

// --- errors, as storage-api renders them ---

class StorageError extends Error {
  constructor(readonly statusCode: number, readonly code: string, readonly error: string, message: string) {
    super(message)
  }
}

const ERR = {
  noSuchBucket: () => new StorageError(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found'),
  noSuchKey: () => new StorageError(404, 'NoSuchKey', 'not_found', 'Object not found'),
  accessDenied: (message = 'Access denied') => new StorageError(403, 'AccessDenied', 'Unauthorized', message),
  keyExists: () => new StorageError(409, 'KeyAlreadyExists', 'Duplicate', 'The resource already exists'),
  resourceExists: () => new StorageError(409, 'ResourceAlreadyExists', 'Duplicate', 'The resource already exists'),
  tooLarge: () => new StorageError(413, 'EntityTooLarge', 'Payload too large', 'The object exceeded the maximum allowed size'),
  mimeType: (type: string) => new StorageError(415, 'InvalidMimeType', 'invalid_mime_type', `mime type ${type} is not supported`),
  invalidKey: (key: string) => new StorageError(400, 'InvalidKey', 'InvalidKey', `Invalid key: ${key}`),
  invalidBucketName: (name: string) =>
    new StorageError(400, 'InvalidBucketName', 'Invalid Input', `Bucket name invalid: ${name}`),
  invalidJwt: (message: string) => new StorageError(400, 'InvalidJWT', 'InvalidJWT', message),
  invalidSignature: (message = 'Invalid signature') => new StorageError(400, 'InvalidSignature', 'InvalidSignature', message),
  invalidRequest: (message: string) => new StorageError(400, 'InvalidRequest', 'Bad Request', message),
  noContent: () => new StorageError(400, 'InvalidRequest', 'InvalidRequest', 'No content provided'),
  bucketNotEmpty: () =>
    new StorageError(409, 'InvalidRequest', 'Bucket not empty', 'The bucket you tried to delete is not empty'),
  notFound: (method: string, path: string) =>
    new StorageError(404, 'not_found', 'Not Found', `Route ${method}:/storage/v1${path} not found`),
  timeout: () => new StorageError(544, 'DatabaseTimeout', 'DatabaseTimeout', 'The database timed out'),
  internal: () => new StorageError(500, 'InternalError', 'Internal', 'Internal Server Error'),
}

/** A Postgres error as storage-api maps it (src/storage/database/errors.ts). */
function fromPg(err: unknown): unknown {
  const e = err as { code?: string; message?: string }
  switch (e?.code) {
    case '42501':
      return ERR.accessDenied(
        e.message?.includes('row-level security') ? 'new row violates row-level security policy' : e.message,
      )
    case '23505':
      return ERR.resourceExists()
    case '57014':
      return ERR.timeout()
    case '22P02':
    case '22021':
      return ERR.invalidRequest('Invalid value format or type conversion failed')
  }
  return err
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'content-length, content-type, etag, last-modified, content-disposition, x-request-id',
}

function errorResponse(e: StorageError, headers: Record<string, string> = {}): Response {
  // storage-api: the status is 500 for its own failures, else 400 (the real one is in the body).
  const status = e.statusCode >= 500 ? 500 : e.statusCode === 404 && e.code === 'not_found' ? 404 : 400
  return Response.json(
    { statusCode: String(e.statusCode), code: e.code, error: e.error, message: e.message },
    { status, headers: { ...CORS, ...headers } },
  )
}

const json = (body: unknown, status = 200) => Response.json(body, { status, headers: CORS })

// --- callers ---

interface Caller {
  role: 'anon' | 'authenticated' | 'service_role'
  claims: Record<string, unknown>
  /** The bearer token as sent ('' for an API key). */
  jwt: string
  sub?: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The `project_id`-wide upload limit of config.toml's [storage] (Supabase's default: 50 MiB). */
export async function projectFileSizeLimit(configFile: URL = PROJECT_CONFIG): Promise<number> {
  const doc = parse(await Deno.readTextFile(configFile)) as { storage?: { file_size_limit?: unknown } }
  const value = doc.storage?.file_size_limit
  if (value === undefined) return 50 * 1024 * 1024
  const bytes = parseSize(value)
  if (bytes === null) throw new Error(`supabase/config.toml: [storage] file_size_limit "${value}" is not a size such as "50MiB"`)
  return bytes
}

/** "50MiB" (binary, as config.toml's sizes), "20MB" (decimal, as storage-api's bucket API takes them), "512KB",
 * "1048576" or a number, in bytes. */
function parseSize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string') return null
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$/i.exec(value)
  if (!m) return null
  const factor: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }
  return Math.floor(Number(m[1]) * factor[(m[2] ?? 'b').toLowerCase()])
}

export function createStorageService(opts: StorageServiceOptions): StorageHandler {
  const { sql, keys } = opts
  const files = fileStore(opts.root)
  const globalLimit = opts.fileSizeLimit ?? 50 * 1024 * 1024
  const timeout = String(opts.statementTimeoutMs ?? 10_000)
  const jwks = createLocalJWKSet(keys.jwks)
  const swept = files.sweepTmp()
  // Signed URLs are HS256 tokens under a key of the stand-in's own, derived from the local signing key.
  const urlKey = crypto.subtle.digest('SHA-256', new TextEncoder().encode(`pam-local-storage-urls\n${keys.privateJwk.d}`))
    .then((d) => new Uint8Array(d))

  async function callerOf(req: Request): Promise<Caller> {
    const apikey = req.headers.get('apikey') ?? undefined
    const bearer = /^bearer\s+(\S+)\s*$/i.exec(req.headers.get('authorization') ?? '')?.[1]
    const keyRole = (key: string | undefined) =>
      key === keys.secretKey ? 'service_role' as const : key === keys.publishableKey ? 'anon' as const : undefined
    if (bearer && !bearer.startsWith('sb_')) {
      let payload: Record<string, unknown>
      try {
        payload = (await jwtVerify(bearer, jwks, { algorithms: ['ES256', 'RS256'], issuer: opts.issuer })).payload
      } catch (err) {
        throw ERR.accessDenied(err instanceof Error ? err.message : 'invalid JWT')
      }
      const role = payload.role
      if (role !== 'authenticated' && role !== 'anon' && role !== 'service_role') throw ERR.accessDenied('Access denied: Invalid role')
      const sub = typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined
      return { role, claims: payload, jwt: bearer, sub }
    }
    // An API key as the bearer (supabase-js without a session) or in apikey alone: its role.
    const role = keyRole(bearer) ?? (bearer ? undefined : keyRole(apikey))
    if (!role) throw ERR.accessDenied(bearer || apikey ? 'Invalid API key' : 'Missing authorization: sign in or send the project\'s API key')
    return { role, claims: { role }, jwt: '', sub: undefined }
  }

  // --- the database, as the caller or as the server ---

  type Tx = postgres.TransactionSql

  const scope = (tx: Tx, c: Caller | null, req: Request, path: string, operation: string) =>
    c
      ? tx`select set_config('role', ${c.role}, true), set_config('request.jwt.claim.role', ${c.role}, true),
          set_config('request.jwt', ${c.jwt}, true), set_config('request.jwt.claim.sub', ${c.sub ?? ''}, true),
          set_config('request.jwt.claims', ${JSON.stringify(c.claims)}, true), set_config('request.method', ${req.method}, true),
          set_config('request.path', ${path}, true), set_config('storage.operation', ${operation}, true),
          set_config('storage.allow_delete_query', 'true', true), set_config('statement_timeout', ${timeout}, true)`
      : tx`select set_config('storage.operation', ${operation}, true), set_config('storage.allow_delete_query', 'true', true),
          set_config('statement_timeout', ${timeout}, true)`

  /** `fn` in a transaction as the caller (null: as the server, RLS bypassed). */
  async function db<T>(c: Caller | null, ctx: Ctx, fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return await sql.begin(async (tx) => {
        await scope(tx, c, ctx.req, ctx.path, ctx.operation)
        return await fn(tx)
      }) as T
    } catch (err) {
      throw fromPg(err)
    }
  }

  const rolledBack = new Error('permission test')
  /** What the caller's policies say of `fn`'s writes, which are then undone. */
  async function permits(c: Caller, ctx: Ctx, fn: (tx: Tx) => Promise<unknown>): Promise<void> {
    try {
      await db(c, ctx, async (tx) => {
        await fn(tx)
        throw rolledBack
      })
    } catch (err) {
      if (err !== rolledBack) throw err
    }
  }

  async function bucketOf(ctx: Ctx, id: string) {
    const [bucket] = await db(null, ctx, (tx) =>
      tx`select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = ${id}`)
    if (!bucket) throw ERR.noSuchBucket()
    return bucket as { id: string; public: boolean; file_size_limit: number | null; allowed_mime_types: string[] | null }
  }

  // --- uploads ---

  interface Incoming {
    body: ReadableStream<Uint8Array> | null
    mimetype: string
    cacheControl: string
    userMetadata: Record<string, unknown>
    declaredLength?: number
  }

  /** The file of a request: a raw body, or the first file of a multipart form (as storage-js sends a Blob). */
  async function incoming(req: Request, limit: number): Promise<Incoming> {
    const type = req.headers.get('content-type') ?? ''
    const declared = req.headers.has('content-length') ? Number(req.headers.get('content-length')) : undefined
    if (type.toLowerCase().startsWith('multipart/form-data')) {
      if (declared !== undefined && declared > limit + MULTIPART_OVERHEAD) throw ERR.tooLarge()
      const boundary = boundaryOf(type)
      if (!boundary || !req.body) throw ERR.noContent()
      let form
      try {
        form = await readMultipart(capped(req.body, limit + MULTIPART_OVERHEAD)!, boundary)
      } catch (err) {
        if (err instanceof BodyTooLarge) throw ERR.tooLarge()
        throw ERR.noContent()
      }
      if (!form.file) throw ERR.noContent()
      const cacheTime = form.fields.get('cacheControl')
      const meta = form.fields.get('metadata') ?? form.fields.get('userMetadata')
      return {
        body: form.file.stream,
        mimetype: form.fields.get('contentType') || form.file.contentType,
        cacheControl: cacheTime ? `max-age=${cacheTime}` : 'no-cache',
        userMetadata: meta ? objectOr(meta) : {},
        declaredLength: declared,
      }
    }
    if (declared !== undefined && declared > limit) throw ERR.tooLarge()
    const meta = req.headers.get('x-metadata')
    let userMetadata: Record<string, unknown> = {}
    if (meta) {
      try {
        userMetadata = objectOr(new TextDecoder().decode(Uint8Array.from(atob(meta), (ch) => ch.charCodeAt(0))))
      } catch { /* as storage-api: unreadable metadata is none */ }
    }
    return {
      body: req.body,
      mimetype: type || 'application/octet-stream',
      cacheControl: req.headers.get('cache-control') ?? 'no-cache',
      userMetadata,
      declaredLength: declared,
    }
  }

  interface UploadOptions {
    bucketId: string
    name: string
    upsert: boolean
    /** Whose object it is: the caller's subject, or a signed upload's owner. */
    owner?: string
    /** The caller whose policies decide; null when a signature decided already. */
    caller: Caller | null
  }

  async function upload(ctx: Ctx, o: UploadOptions): Promise<{ Id: string; Key: string }> {
    mustBeValidKey(o.name)
    const bucket = await bucketOf(ctx, o.bucketId)
    const limit = Math.min(bucket.file_size_limit ?? Infinity, globalLimit)
    const file = await incoming(ctx.req, limit)
    if (bucket.allowed_mime_types?.length) validateMimeType(file.mimetype, bucket.allowed_mime_types)
    const owner = o.owner && UUID.test(o.owner) ? o.owner : null
    const row = {
      bucket_id: o.bucketId,
      name: o.name,
      owner,
      owner_id: o.owner ?? null,
      metadata: { mimetype: file.mimetype, contentLength: file.declaredLength },
      user_metadata: file.userMetadata,
    }
    if (o.caller) {
      await permits(o.caller, ctx, (tx) =>
        o.upsert
          ? tx`insert into storage.objects ${tx(row as never)} on conflict (bucket_id, name) do update set
                 metadata = excluded.metadata, user_metadata = excluded.user_metadata, owner = excluded.owner,
                 owner_id = excluded.owner_id returning *`
          : tx`insert into storage.objects ${tx(row as never)}`).catch((err) => {
        throw err instanceof StorageError && err.code === 'ResourceAlreadyExists' ? ERR.keyExists() : err
      })
    }
    await swept
    let received
    try {
      received = await files.receive(file.body, limit)
    } catch (err) {
      if (err instanceof BodyTooLarge) throw ERR.tooLarge()
      if (err instanceof BodyCutOff) throw ERR.invalidRequest('The body ended before the object was complete')
      throw err
    }
    const version = crypto.randomUUID()
    try {
      await files.place(received.tmp, o.bucketId, o.name, version)
    } catch (err) {
      await files.discardTmp(received.tmp)
      throw err
    }
    const metadata = {
      eTag: received.eTag,
      size: received.size,
      mimetype: file.mimetype,
      cacheControl: file.cacheControl,
      lastModified: new Date().toISOString(),
      contentLength: received.size,
      httpStatusCode: 200,
    }
    let previous: string | null = null
    let written: { id: string }
    try {
      written = await db(null, ctx, async (tx) => {
        const [current] = await tx`select version from storage.objects
          where bucket_id = ${o.bucketId} and name = ${o.name} for update`
        if (current && !o.upsert) throw ERR.keyExists()
        previous = current?.version ?? null
        const [saved] = await tx`insert into storage.objects ${tx({ ...row, metadata, version } as never)}
          on conflict (bucket_id, name) do update set metadata = excluded.metadata, user_metadata = excluded.user_metadata,
            version = excluded.version, owner = excluded.owner, owner_id = excluded.owner_id
          returning id`
        return saved as { id: string }
      })
    } catch (err) {
      await files.discard({ bucket: o.bucketId, name: o.name, version })
      throw err
    }
    await files.discard({ bucket: o.bucketId, name: o.name, version: previous })
    return { Id: written.id, Key: `${o.bucketId}/${o.name}` }
  }

  // --- reads ---

  type ObjectRow = {
    id: string
    bucket_id: string
    name: string
    version: string | null
    metadata: Record<string, unknown> | null
    user_metadata: Record<string, unknown> | null
    created_at: Date
    updated_at: Date
  }

  async function findObject(c: Caller | null, ctx: Ctx, bucketId: string, name: string): Promise<ObjectRow> {
    mustBeValidKey(name)
    const [obj] = await db(c, ctx, (tx) =>
      tx`select id, bucket_id, name, version, metadata, user_metadata, created_at, updated_at
         from storage.objects where bucket_id = ${bucketId} and name = ${name} limit 1`)
    if (!obj) throw ERR.noSuchKey()
    return obj as ObjectRow
  }

  /** The object's bytes and headers, as storage-api's asset renderer sends them. */
  async function render(ctx: Ctx, obj: ObjectRow, extra: { expires?: string } = {}): Promise<Response> {
    const meta = obj.metadata ?? {}
    const eTag = typeof meta.eTag === 'string' ? meta.eTag : undefined
    const headers: Record<string, string> = {
      ...CORS,
      'content-type': typeof meta.mimetype === 'string' ? meta.mimetype : 'application/octet-stream',
      'x-robots-tag': 'none',
      ...(eTag ? { etag: eTag } : {}),
      'last-modified': new Date(obj.updated_at).toUTCString(),
      ...(extra.expires ? { expires: extra.expires } : meta.cacheControl ? { 'cache-control': String(meta.cacheControl) } : {}),
    }
    const download = ctx.url.searchParams.get('download')
    if (download !== null) {
      const encoded = encodeURIComponent(download)
      headers['content-disposition'] = download === '' ? 'attachment;' : `attachment; filename=${encoded}; filename*=UTF-8''${encoded}`
    }
    if (eTag && ctx.req.headers.get('if-none-match') === eTag) return new Response(null, { status: 304, headers })
    const file = obj.version ? await files.open(obj.bucket_id, obj.name, obj.version) : null
    if (!file) {
      return errorResponse(new StorageError(404, 'NoSuchKey', 'Not found', 'The resource was not found'), { 'cache-control': 'no-store' })
    }
    const { size } = await file.stat()
    headers['content-length'] = String(size)
    if (ctx.req.method === 'HEAD') {
      file.close()
      return new Response(null, { status: 200, headers })
    }
    return new Response(file.readable, { status: 200, headers })
  }

  function info(obj: ObjectRow) {
    const meta = obj.metadata ?? {}
    return json({
      id: obj.id,
      name: obj.name,
      version: obj.version,
      bucket_id: obj.bucket_id,
      size: meta.size ?? null,
      content_type: meta.mimetype ?? null,
      cache_control: meta.cacheControl ?? null,
      etag: meta.eTag ?? null,
      metadata: obj.user_metadata,
      last_modified: obj.updated_at,
      created_at: obj.created_at,
    })
  }

  async function list(c: Caller, ctx: Ctx, bucketId: string) {
    const body = await jsonBody(ctx.req)
    const prefixIn = body.prefix
    if (typeof prefixIn !== 'string') throw ERR.invalidRequest("body must have required property 'prefix'")
    const limit = optionalInt(body.limit, 'limit', 1) ?? 100
    const offset = optionalInt(body.offset, 'offset', 0) ?? 0
    const search = body.search === undefined ? '' : body.search
    if (typeof search !== 'string') throw ERR.invalidRequest('body/search must be string')
    const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown }
    if (typeof sortBy !== 'object' || sortBy === null) throw ERR.invalidRequest('body/sortBy must be object')
    const column = sortBy.column ?? 'name'
    if (!['name', 'updated_at', 'created_at', 'last_accessed_at'].includes(String(column))) {
      throw ERR.invalidRequest('body/sortBy/column must be equal to one of the allowed values')
    }
    const order = String(sortBy.order ?? 'asc').toLowerCase() === 'desc' ? 'desc' : 'asc'
    const prefix = prefixIn.length > 0 && !prefixIn.endsWith('/') ? `${prefixIn}/` : prefixIn
    const like = (s: string) => s.replace(/[\\%_]/g, '\\$&')
    const sort = column === 'name'
      ? `lower(name) collate "C" ${order}, name collate "C" ${order}`
      : `folder desc, case when folder then name end collate "C" ${order}, ${column} ${order} nulls last, name collate "C"`
    return await db(c, ctx, (tx) =>
      tx.unsafe(
        `with matched as (
           select o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata, substr(o.name, $3 + 1) as rest
           from storage.objects o
           where o.bucket_id = $1 and o.name like $2 escape '\\' and lower(substr(o.name, $3 + 1)) like $4 escape '\\'
         ),
         entries as (
           select split_part(rest, '/', 1) as name, null::uuid as id, null::timestamptz as updated_at,
                  null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata, true as folder
           from matched where strpos(rest, '/') > 0 group by 1
           union all
           select rest, id, updated_at, created_at, last_accessed_at, metadata, false from matched where strpos(rest, '/') = 0
         )
         select name, id, updated_at, created_at, last_accessed_at, metadata from entries
         order by ${sort} limit $5 offset $6`,
        [bucketId, `${like(prefix)}%`, prefix.length, `${like(search.toLowerCase())}%`, Math.min(limit, MAX_LIST_LIMIT), offset],
      ))
  }

  /** list-v2: one level under a prefix (with_delimiter) or every name under it, in pages. The cursor
   * is the page's offset in that order (a local simplification: hosted Storage seeks by key). */
  async function listV2(c: Caller, ctx: Ctx, bucketId: string) {
    const body = await jsonBody(ctx.req)
    const prefix = body.prefix === undefined ? '' : body.prefix
    if (typeof prefix !== 'string') throw ERR.invalidRequest('body/prefix must be string')
    const limit = Math.min(optionalInt(body.limit, 'limit', 1) ?? 1000, 1000)
    const delimited = body.with_delimiter === true
    const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown }
    const column = String(sortBy.column ?? 'name')
    if (!['name', 'updated_at', 'created_at'].includes(column)) {
      throw ERR.invalidRequest('body/sortBy/column must be equal to one of the allowed values')
    }
    const order = String(sortBy.order ?? 'asc').toLowerCase() === 'desc' ? 'desc' : 'asc'
    let offset = 0
    if (body.cursor !== undefined) {
      const m = typeof body.cursor === 'string' ? /^o:(\d{1,9})$/.exec(atobSafe(body.cursor)) : null
      if (!m) throw ERR.invalidRequest('Invalid Parameter continuation token')
      offset = Number(m[1])
    }
    const like = prefix.replace(/[\\%_]/g, '\\$&')
    const sort = column === 'name'
      ? `name collate "C" ${order}`
      : `folder desc, case when folder then name end collate "C" ${order}, ${column} ${order}, name collate "C" ${order}`
    const rows = await db(c, ctx, (tx) =>
      tx.unsafe(
        `with matched as (
           select o.id, o.name, o.updated_at, o.created_at, o.last_accessed_at, o.metadata, substr(o.name, $3 + 1) as rest
           from storage.objects o where o.bucket_id = $1 and o.name like $2 escape '\\'
         ),
         entries as (
           select $4 || split_part(rest, '/', 1) || '/' as name, null::uuid as id, null::timestamptz as updated_at,
                  null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata, true as folder
           from matched where $5 and strpos(rest, '/') > 0 group by 1
           union all
           select name, id, updated_at, created_at, last_accessed_at, metadata, false
           from matched where not $5 or strpos(rest, '/') = 0
         )
         select * from entries order by ${sort} limit $6 offset $7`,
        [bucketId, `${like}%`, prefix.length, prefix, delimited, limit + 1, offset],
      ))
    const page = rows.slice(0, limit)
    const hasNext = rows.length > limit
    return {
      hasNext,
      ...(hasNext ? { nextCursor: btoa(`o:${offset + limit}`), nextCursorKey: page.at(-1)!.name } : {}),
      folders: page.filter((r) => r.folder).map((r) => ({ key: (r.name as string).slice(0, -1), name: r.name })),
      objects: page.filter((r) => !r.folder).map(({ folder: _, ...r }) => ({ ...r, key: r.name })),
    }
  }

  // --- signed URLs ---

  async function sign(payload: Record<string, unknown>, expiresIn: number): Promise<string> {
    return await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn).sign(await urlKey)
  }

  async function verifySigned(token: string | null, bucketId: string, name: string, scope: 'download' | 'upload') {
    if (!token) throw ERR.invalidRequest("querystring must have required property 'token'")
    let payload: Record<string, unknown>
    try {
      payload = (await jwtVerify(token, await urlKey, { algorithms: ['HS256'] })).payload
    } catch (err) {
      throw ERR.invalidJwt((err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'jwt expired' : 'invalid signature')
    }
    if (payload.scope !== scope) throw ERR.invalidSignature(`Token is not scoped for ${scope}`)
    if (payload.url !== `${bucketId}/${name}`) throw ERR.invalidSignature()
    return payload
  }

  const expiresInOf = (value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw ERR.invalidRequest('body/expiresIn must be an integer >= 1')
    }
    if (value > MAX_SIGNED_EXPIRY_S) throw ERR.invalidRequest(`expiresIn must be at most ${MAX_SIGNED_EXPIRY_S}`)
    return value
  }

  // --- removals ---

  async function remove(c: Caller, ctx: Ctx, bucketId: string, names: string[]) {
    const rows = await db(c, ctx, (tx) =>
      tx`delete from storage.objects where bucket_id = ${bucketId} and name = any(${names}::text[]) returning *`)
    await files.discard(...rows.map((r) => ({ bucket: bucketId, name: r.name as string, version: r.version as string | null })))
      .catch((err) => log('warn', 'storage: a removed object\'s file stayed behind', errorFields(err)))
    return rows
  }

  // --- routes ---

  interface Ctx {
    req: Request
    url: URL
    path: string
    operation: string
  }

  async function route(req: Request, path: string): Promise<Response> {
    const url = new URL(req.url)
    const ctx: Ctx = { req, url, path, operation: '' }
    const parts = path.split('/').slice(1)
    const method = req.method === 'HEAD' ? 'HEAD' : req.method
    const op = (name: string) => (ctx.operation = `storage.${name}`)
    const caller = () => callerOf(req)
    const [area, second] = parts
    /** The bucket and object name from `parts[from]` on. */
    const target = (from: number) => {
      const bucketId = decode(parts[from] ?? '')
      if (!bucketId) throw ERR.notFound(req.method, path)
      return { bucketId, name: decode(parts.slice(from + 1).join('/')) }
    }

    if (area === 'object') {
      if (second === 'list-v2' && method === 'POST' && parts.length === 3) {
        op('object.list_v2')
        return json(await listV2(await caller(), ctx, decode(parts[2])))
      }
      if (second === 'list' && method === 'POST' && parts.length === 3) {
        op('object.list')
        return json(await list(await caller(), ctx, decode(parts[2])))
      }
      if ((second === 'move' || second === 'copy') && method === 'POST' && parts.length === 2) {
        op(`object.${second}`)
        return json(await (second === 'move' ? move : copy)(await caller(), ctx))
      }
      if (second === 'sign' && parts.length === 3 && method === 'POST') {
        op('object.sign_many')
        return json(await signMany(await caller(), ctx, decode(parts[2])))
      }
      if (second === 'sign' && parts.length > 3) {
        const { bucketId, name } = target(2)
        if (method === 'POST') {
          op('object.sign')
          const c = await caller()
          const { expiresIn } = await jsonBody(req)
          const seconds = expiresInOf(expiresIn)
          await findObject(c, ctx, bucketId, name)
          const token = await sign({ url: `${bucketId}/${name}`, scope: 'download' }, seconds)
          return json({ signedURL: `/object/sign/${bucketId}/${name}?token=${token}` })
        }
        if (method === 'GET' || method === 'HEAD') {
          op('object.get_signed')
          const payload = await verifySigned(url.searchParams.get('token'), bucketId, name, 'download')
          const obj = await findObject(null, ctx, bucketId, name)
          return await render(ctx, obj, { expires: new Date(Number(payload.exp) * 1000).toUTCString() })
        }
      }
      if (second === 'upload' && parts[2] === 'sign' && parts.length > 4) {
        const { bucketId, name } = target(3)
        if (method === 'POST') {
          op('object.sign_upload_url')
          const c = await caller()
          mustBeValidKey(name)
          await bucketOf(ctx, bucketId)
          const upsert = req.headers.get('x-upsert') === 'true'
          const row = { bucket_id: bucketId, name, owner: c.sub && UUID.test(c.sub) ? c.sub : null, owner_id: c.sub ?? null }
          await permits(c, ctx, (tx) =>
            upsert
              ? tx`insert into storage.objects ${tx(row as never)} on conflict (bucket_id, name) do update set
                     owner = excluded.owner returning *`
              : tx`insert into storage.objects ${tx(row as never)}`).catch((err) => {
            throw err instanceof StorageError && err.code === 'ResourceAlreadyExists' ? ERR.keyExists() : err
          })
          const token = await sign({ owner: c.sub, url: `${bucketId}/${name}`, upsert, scope: 'upload' }, SIGNED_UPLOAD_EXPIRY_S)
          return json({ url: `/object/upload/sign/${bucketId}/${name}?token=${token}`, token })
        }
        if (method === 'PUT') {
          op('object.upload_signed')
          const payload = await verifySigned(url.searchParams.get('token'), bucketId, name, 'upload')
          const owner = typeof payload.owner === 'string' ? payload.owner : undefined
          const done = await upload(ctx, { bucketId, name, upsert: payload.upsert === true, owner, caller: null })
          return json({ Id: done.Id, Key: done.Key })
        }
      }
      if (second === 'public' && parts.length > 3 && (method === 'GET' || method === 'HEAD')) {
        op('object.get_public')
        const { bucketId, name } = target(2)
        const bucket = await bucketOf(ctx, bucketId).catch(() => null)
        if (!bucket?.public) throw ERR.noSuchBucket()
        return await render(ctx, await findObject(null, ctx, bucketId, name))
      }
      if (second === 'info' && parts.length > 3 && method === 'GET') {
        if (parts[2] === 'public' && parts.length > 4) {
          op('object.info_public')
          const { bucketId, name } = target(3)
          const bucket = await bucketOf(ctx, bucketId).catch(() => null)
          if (!bucket?.public) throw ERR.noSuchBucket()
          return info(await findObject(null, ctx, bucketId, name))
        }
        op('object.info_authenticated')
        const { bucketId, name } = target(parts[2] === 'authenticated' ? 3 : 2)
        return info(await findObject(await caller(), ctx, bucketId, name))
      }
      if (second === 'authenticated' && parts.length > 3 && (method === 'GET' || method === 'HEAD')) {
        op('object.get_authenticated')
        const { bucketId, name } = target(2)
        return await render(ctx, await findObject(await caller(), ctx, bucketId, name))
      }
      if (parts.length === 2 && method === 'DELETE') {
        op('object.delete_many')
        const c = await caller()
        const { prefixes } = await jsonBody(req)
        if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== 'string')) {
          throw ERR.invalidRequest("body must have required property 'prefixes'")
        }
        if (prefixes.length < 1) throw ERR.invalidRequest('body/prefixes must NOT have fewer than 1 items')
        if (prefixes.length > MAX_OBJECTS_PER_REQUEST) {
          throw ERR.invalidRequest(`Bulk object requests are limited to ${MAX_OBJECTS_PER_REQUEST} objects per request.`)
        }
        return json(await remove(c, ctx, decode(second), prefixes as string[]))
      }
      if (parts.length > 2) {
        const { bucketId, name } = target(1)
        if (method === 'GET' || method === 'HEAD') {
          op('object.get_authenticated')
          return await render(ctx, await findObject(await caller(), ctx, bucketId, name))
        }
        if (method === 'POST' || method === 'PUT') {
          op(method === 'POST' ? 'object.upload' : 'object.upload_update')
          const c = await caller()
          const upsert = method === 'PUT' || req.headers.get('x-upsert') === 'true'
          return json(await upload(ctx, { bucketId, name, upsert, owner: c.sub, caller: c }))
        }
        if (method === 'DELETE') {
          op('object.delete')
          const c = await caller()
          await findObject(null, ctx, bucketId, name)
          const rows = await remove(c, ctx, bucketId, [name])
          if (!rows.length) throw ERR.accessDenied('Access denied')
          return json({ message: 'Successfully deleted' })
        }
      }
    }
    if (area === 'bucket') return await buckets(ctx, parts, caller, op)
    throw ERR.notFound(req.method, path)
  }

  async function signMany(c: Caller, ctx: Ctx, bucketId: string) {
    const { expiresIn, paths } = await jsonBody(ctx.req)
    const seconds = expiresInOf(expiresIn)
    if (!Array.isArray(paths) || paths.length < 1 || paths.some((p) => typeof p !== 'string')) {
      throw ERR.invalidRequest("body must have required property 'paths'")
    }
    if (paths.length > MAX_OBJECTS_PER_REQUEST) throw ERR.invalidRequest(`at most ${MAX_OBJECTS_PER_REQUEST} paths`)
    const rows = await db(c, ctx, (tx) =>
      tx`select name from storage.objects where bucket_id = ${bucketId} and name = any(${paths}::text[])`)
    const found = new Set(rows.map((r) => r.name as string))
    return await Promise.all((paths as string[]).map(async (path) =>
      found.has(path)
        ? { error: null, path, signedURL: `/object/sign/${bucketId}/${path}?token=${await sign({ url: `${bucketId}/${path}`, scope: 'download' }, seconds)}` }
        : { error: 'Either the object does not exist or you do not have access to it', path, signedURL: null }
    ))
  }

  async function moveOrCopyBody(ctx: Ctx) {
    const body = await jsonBody(ctx.req)
    for (const k of ['bucketId', 'sourceKey', 'destinationKey']) {
      if (typeof body[k] !== 'string') throw ERR.invalidRequest(`body must have required property '${k}'`)
    }
    const from = { bucket: body.bucketId as string, name: body.sourceKey as string }
    const to = { bucket: typeof body.destinationBucket === 'string' ? body.destinationBucket : from.bucket, name: body.destinationKey as string }
    mustBeValidKey(from.name)
    mustBeValidKey(to.name)
    return { from, to, body }
  }

  async function move(c: Caller, ctx: Ctx) {
    const { from, to } = await moveOrCopyBody(ctx)
    const version = crypto.randomUUID()
    const owner = c.sub && UUID.test(c.sub) ? c.sub : null
    // The caller must see the source and may change it into the destination.
    await permits(c, ctx, async (tx) => {
      const [found] = await tx`select id from storage.objects where bucket_id = ${from.bucket} and name = ${from.name}`
      if (!found) throw ERR.noSuchKey()
      await tx`update storage.objects set name = ${to.name}, bucket_id = ${to.bucket}, version = ${version},
        owner = ${owner}, owner_id = ${c.sub ?? null} where bucket_id = ${from.bucket} and name = ${from.name} returning id`
    })
    if (from.bucket !== to.bucket) await bucketOf(ctx, to.bucket)
    const source = await findObject(null, ctx, from.bucket, from.name)
    if (from.bucket === to.bucket && from.name === to.name) return { message: 'Successfully moved' }
    const old = { bucket: from.bucket, name: from.name, version: source.version ?? '' }
    await files.duplicate(old, { bucket: to.bucket, name: to.name, version })
    try {
      await db(null, ctx, (tx) =>
        tx`update storage.objects set name = ${to.name}, bucket_id = ${to.bucket}, version = ${version},
             owner = ${owner}, owner_id = ${c.sub ?? null}
           where bucket_id = ${from.bucket} and name = ${from.name}`)
    } catch (err) {
      await files.discard({ bucket: to.bucket, name: to.name, version })
      throw err
    }
    await files.discard(old)
    return { message: 'Successfully moved' }
  }

  async function copy(c: Caller, ctx: Ctx) {
    const { from, to, body } = await moveOrCopyBody(ctx)
    const upsert = ctx.req.headers.get('x-upsert') === 'true'
    const source = await findObject(c, ctx, from.bucket, from.name)
    await bucketOf(ctx, to.bucket)
    const owner = c.sub && UUID.test(c.sub) ? c.sub : null
    const copyMetadata = body.copyMetadata !== false
    const metadata = { ...(source.metadata ?? {}) }
    const userMetadata = copyMetadata ? source.user_metadata : objectOr(JSON.stringify(body.metadata ?? {}))
    const row = { bucket_id: to.bucket, name: to.name, owner, owner_id: c.sub ?? null, metadata, user_metadata: userMetadata }
    await permits(c, ctx, (tx) =>
      upsert
        ? tx`insert into storage.objects ${tx(row as never)} on conflict (bucket_id, name) do update set
               metadata = excluded.metadata returning *`
        : tx`insert into storage.objects ${tx(row as never)}`).catch((err) => {
      throw err instanceof StorageError && err.code === 'ResourceAlreadyExists' ? ERR.keyExists() : err
    })
    const version = crypto.randomUUID()
    await files.duplicate({ bucket: from.bucket, name: from.name, version: source.version ?? '' }, { bucket: to.bucket, name: to.name, version })
    let previous: string | null = null
    let saved: { id: string }
    try {
      saved = await db(null, ctx, async (tx) => {
        const [current] = await tx`select version from storage.objects where bucket_id = ${to.bucket} and name = ${to.name} for update`
        if (current && !upsert) throw ERR.keyExists()
        previous = current?.version ?? null
        const [r] = await tx`insert into storage.objects ${tx({ ...row, metadata: { ...metadata, lastModified: new Date().toISOString() }, version } as never)}
          on conflict (bucket_id, name) do update set metadata = excluded.metadata, user_metadata = excluded.user_metadata,
            version = excluded.version, owner = excluded.owner, owner_id = excluded.owner_id
          returning id`
        return r as { id: string }
      })
    } catch (err) {
      await files.discard({ bucket: to.bucket, name: to.name, version })
      throw err
    }
    await files.discard({ bucket: to.bucket, name: to.name, version: previous })
    return { Id: saved.id, Key: `${to.bucket}/${to.name}` }
  }

  // The bucket API, as the caller: the project's policies on storage.buckets decide (none: only the service role).
  async function buckets(ctx: Ctx, parts: string[], caller: () => Promise<Caller>, op: (n: string) => string) {
    const method = ctx.req.method
    const columns = `id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at`
    const shape = (b: Record<string, unknown>) => ({
      ...b,
      file_size_limit: b.file_size_limit === null ? null : Number(b.file_size_limit),
    })
    if (parts.length === 1 || (parts.length === 2 && parts[1] === '')) {
      if (method === 'GET') {
        op('bucket.list')
        const rows = await db(await caller(), ctx, (tx) => tx.unsafe(`select ${columns} from storage.buckets order by name`))
        return json(rows.map(shape))
      }
      if (method === 'POST') {
        op('bucket.create')
        const c = await caller()
        const body = await jsonBody(ctx.req)
        const name = body.name ?? body.id
        if (typeof name !== 'string' || !VALID_BUCKET_NAME.test(name) || name.length < 1 || name.length > 100 || name === '.' || name === '..') {
          throw ERR.invalidBucketName(String(name))
        }
        const row = { id: typeof body.id === 'string' ? body.id : name, name, public: body.public === true, ...bucketLimits(body),
          owner: c.sub && UUID.test(c.sub) ? c.sub : null, owner_id: c.sub ?? null }
        await db(c, ctx, (tx) => tx`insert into storage.buckets ${tx(row as never)}`).catch((err) => {
          throw err instanceof StorageError && err.code === 'ResourceAlreadyExists'
            ? new StorageError(409, 'BucketAlreadyExists', 'Duplicate', 'The resource already exists')
            : err
        })
        return json({ name: row.id })
      }
    }
    const id = decode(parts[1] ?? '')
    if (parts.length === 2) {
      if (method === 'GET') {
        op('bucket.get')
        const [row] = await db(await caller(), ctx, (tx) => tx.unsafe(`select ${columns} from storage.buckets where id = $1`, [id]))
        if (!row) throw ERR.noSuchBucket()
        return json(shape(row))
      }
      if (method === 'PUT') {
        op('bucket.update')
        const body = await jsonBody(ctx.req)
        const changes = { ...(typeof body.public === 'boolean' ? { public: body.public } : {}), ...bucketLimits(body) }
        const rows = await db(await caller(), ctx, (tx) =>
          Object.keys(changes).length
            ? tx`update storage.buckets set ${tx(changes as never)}, updated_at = now() where id = ${id} returning id`
            : tx`select id from storage.buckets where id = ${id}`)
        if (!rows.length) throw ERR.noSuchBucket()
        return json({ message: 'Successfully updated' })
      }
      if (method === 'DELETE') {
        op('bucket.delete')
        const c = await caller()
        const [inUse] = await db(null, ctx, (tx) => tx`select 1 from storage.objects where bucket_id = ${id} limit 1`)
        if (inUse) throw ERR.bucketNotEmpty()
        const rows = await db(c, ctx, (tx) => tx`delete from storage.buckets where id = ${id} returning id`)
        if (!rows.length) throw ERR.noSuchBucket()
        return json({ message: 'Successfully deleted' })
      }
    }
    if (parts.length === 3 && parts[2] === 'empty' && method === 'POST') {
      op('bucket.empty')
      const c = await caller()
      await bucketOf(ctx, id)
      const names = await db(c, ctx, (tx) => tx`select name from storage.objects where bucket_id = ${id}`)
      for (let i = 0; i < names.length; i += MAX_OBJECTS_PER_REQUEST) {
        await remove(c, ctx, id, names.slice(i, i + MAX_OBJECTS_PER_REQUEST).map((r) => r.name as string))
      }
      // Hosted Storage empties a bucket in the background and says so; here it is done already.
      return json({ message: 'Empty bucket has been queued. Completion may take up to an hour.' })
    }
    throw ERR.notFound(method, ctx.path)
  }

  return async (req, path) => {
    const started = performance.now()
    let res: Response
    if (req.method === 'OPTIONS') {
      res = new Response(null, {
        status: 204,
        headers: {
          ...CORS,
          'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
          'access-control-allow-headers': req.headers.get('access-control-request-headers') ??
            'authorization, x-client-info, apikey, content-type, x-upsert, cache-control, x-metadata, content-encoding',
          'access-control-max-age': '600',
        },
      })
    } else {
      try {
        res = await route(req, path)
      } catch (err) {
        if (err instanceof StorageError) res = errorResponse(err)
        else {
          log('error', 'storage: unhandled error', { path, ...errorFields(err) })
          res = errorResponse(ERR.internal())
        }
      }
    }
    log(res.status >= 500 ? 'error' : 'info', 'storage request', {
      method: req.method,
      path: `/storage/v1${path.replace(/(\/object\/(?:sign|upload\/sign)\/.*?)\?.*/, '$1')}`,
      status: res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    })
    return res
  }
}

// --- input ---

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw ERR.invalidRequest('the path is not valid percent-encoding')
  }
}

/** storage-api's key rule, and what keeps a name a path under the bucket's folder on disk. */
function mustBeValidKey(key: string): void {
  const bytes = new TextEncoder().encode(key).byteLength
  const segments = key.split('/')
  if (
    !key || !VALID_OBJECT_KEY.test(key) || bytes > MAX_KEY_BYTES ||
    segments.some((s) => s === '' || s === '.' || s === '..' || s.length > MAX_SEGMENT_BYTES)
  ) {
    throw ERR.invalidKey(key)
  }
}

/** storage-api's rule: `type/subtype` equal to an allowed one, or `type/*`. */
function validateMimeType(mimeType: string, allowed: string[]): void {
  const [type, sub] = mimeType.split('/')
  if (sub === undefined) throw ERR.mimeType(mimeType)
  for (const a of allowed) {
    const [aType, aSub] = a.split('/')
    if (aType === type && (aSub === '*' || aSub === sub)) return
  }
  throw ERR.mimeType(mimeType)
}

/** A stream that fails once more than `limit` bytes went through. */
function capped(body: ReadableStream<Uint8Array> | null, limit: number): ReadableStream<Uint8Array> | null {
  if (!body) return null
  let seen = 0
  return body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        seen += chunk.byteLength
        if (seen > limit) controller.error(new BodyTooLarge(`more than ${limit} bytes`))
        else controller.enqueue(chunk)
      },
    }),
  )
}

const MAX_JSON_BODY = 1024 * 1024

async function jsonBody(req: Request): Promise<Record<string, unknown>> {
  let text: string
  try {
    const bytes = await new Response(capped(req.body, MAX_JSON_BODY)).arrayBuffer()
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw ERR.invalidRequest('the body is not valid UTF-8 JSON of at most 1 MiB')
  }
  let value: unknown
  try {
    value = JSON.parse(text || '{}')
  } catch {
    throw ERR.invalidRequest('Body is not valid JSON')
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw ERR.invalidRequest('body must be object')
  return value as Record<string, unknown>
}

function atobSafe(s: string): string {
  try {
    return atob(s)
  } catch {
    return ''
  }
}

function optionalInt(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw ERR.invalidRequest(`body/${name} must be an integer >= ${min}`)
  }
  return value
}

function objectOr(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text)
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {}
  } catch {
    return {}
  }
}

function bucketLimits(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if ('file_size_limit' in body) {
    if (body.file_size_limit === null) out.file_size_limit = null
    else {
      const size = parseSize(body.file_size_limit)
      if (size === null) throw ERR.invalidRequest('file_size_limit is not a size such as "5MB" or a number of bytes')
      out.file_size_limit = size
    }
  }
  if ('allowed_mime_types' in body) {
    const types = body.allowed_mime_types
    if (types !== null && (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || !/^[\w.+-]+\/[\w.+*-]+$/.test(t)))) {
      throw ERR.invalidRequest('allowed_mime_types must be a list of types such as "image/png" or "image/*"')
    }
    out.allowed_mime_types = types
  }
  return out
}
