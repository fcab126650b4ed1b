// Helpers for the storage tests: supabase-js storage calls as an app makes
// them, and what the Storage stand-in keeps (rows of storage.objects, files
// on disk).
import type { SupabaseClient } from '@supabase/supabase-js'
import { adminSql, client, stack } from './stack.ts'

/** The smallest JPEG-looking bytes (start and end markers), and a PDF's signature. */
export const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0xff, 0xd9])
export const PDF = new TextEncoder().encode('%PDF-1.4\n%%EOF\n')

/** An anonymous supabase-js client: the publishable key and no session. */
export const anonClient = (): SupabaseClient => client()

export interface Outcome {
  ok: boolean
  /** storage-api's own status (`statusCode` of its error body), or '200'. */
  statusCode: string
  data: unknown
}

/** A storage-js result as the outcome the matrix compares. */
export async function outcome(p: Promise<{ data: unknown; error: unknown }>): Promise<Outcome> {
  const { data, error } = await p
  if (!error) return { ok: true, statusCode: '200', data }
  return { ok: false, statusCode: String((error as { statusCode?: string }).statusCode ?? '?'), data: null }
}

export const upload = (
  c: SupabaseClient,
  bucket: string,
  name: string,
  body: Uint8Array | Blob = JPEG,
  opts: { contentType?: string; upsert?: boolean } = {},
) => c.storage.from(bucket).upload(name, body, { contentType: opts.contentType ?? 'image/jpeg', upsert: opts.upsert ?? false })

/** The row of an object, read as the superuser. */
export async function objectRow(bucket: string, name: string) {
  const [row] = await adminSql`select id, name, owner_id, version, metadata from storage.objects
    where bucket_id = ${bucket} and name = ${name}`
  return row as { id: string; name: string; owner_id: string | null; version: string; metadata: Record<string, unknown> } | undefined
}

/** The files on disk of an object's versions (`<bucket>/<name>#<version>`). */
export async function filesOf(bucket: string, name: string): Promise<string[]> {
  const dir = `${stack.storageDir}/${bucket}/${name.split('/').slice(0, -1).join('/')}`
  const base = name.split('/').at(-1)!
  const out: string[] = []
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.startsWith(`${base}#`)) out.push(e.name)
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
  }
  return out
}
