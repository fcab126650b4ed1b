// Keyset pagination. A cursor is opaque to clients: base64url of the sort key
// of the last row returned ([date, created_at, id] for expenses and income,
// [created_at, id] elsewhere). created_at travels as an ISO string with
// microseconds, formatted by Postgres, so nothing is lost on the way. Queries
// bind it as text and cast in SQL (`$n::text::timestamptz`): a parameter typed
// timestamptz goes through a JavaScript Date in postgres.js and loses the
// microseconds, which would repeat rows at page boundaries. A cursor is
// checked here in full (real calendar days between 1970 and 2100, real times
// of day, uuids) before it reaches SQL, which would take "24:00:00" or a 60th
// second as a later time and refuse "2024-02-30" with an error of its own.
import { ApiError } from './errors.ts'
import { z } from './http.ts'
import { isCalendarDate, MAX_DATE, MIN_DATE } from './dates.ts'
import type { JsonRows } from './pg-wire.ts'

const utf8 = new TextEncoder()

export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 200

export const PageQuery = {
  // Digits only: Number() would also take "1e2", "0x10" and " 10".
  limit: z.string().regex(/^[0-9]{1,10}$/, `a whole number from 1 to ${MAX_LIMIT}`)
    .transform(Number).pipe(z.number().min(1).max(MAX_LIMIT))
    .default(DEFAULT_LIMIT)
    .openapi({
      type: 'integer',
      minimum: 1,
      maximum: MAX_LIMIT,
      default: DEFAULT_LIMIT,
      description: `page size, 1–${MAX_LIMIT} (default ${DEFAULT_LIMIT})`,
    }),
  cursor: z.string().max(300).optional().openapi({ description: 'next_cursor of the previous page' }),
}

const URL_SAFE: Record<string, string> = { '+': '-', '/': '_', '=': '' }
// A key is printable ASCII as a rule (dates, times, uuids): btoa takes it as it is.
const b64url = (s: string) =>
  btoa(/^[ -~]*$/.test(s) ? s : String.fromCharCode(...utf8.encode(s))).replace(/[+/=]/g, (c) => URL_SAFE[c])

export function encodeCursor(key: string[]): string {
  return b64url(JSON.stringify(key))
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/
const inRange = (day: string) => isCalendarDate(day) && day >= MIN_DATE && day <= MAX_DATE
export type KeyKind = 'date' | 'timestamp' | 'uuid'

const valid: Record<KeyKind, (s: string) => boolean> = {
  date: inRange,
  timestamp: (s: string) => inRange(TIMESTAMP.exec(s)?.[1] ?? ''),
  uuid: (s: string) => UUID.test(s),
}

/** Decodes a cursor made by encodeCursor with the given shape; 400 invalid_cursor otherwise. */
export function decodeCursor(cursor: string, shape: KeyKind[]): string[] {
  const bad = () => new ApiError(400, 'invalid_cursor', 'the cursor is not one this API gave out')
  let key: unknown
  try {
    const bin = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'))
    key = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))))
  } catch {
    throw bad()
  }
  if (!Array.isArray(key) || key.length !== shape.length) throw bad()
  shape.forEach((kind, i) => {
    if (typeof key[i] !== 'string' || !valid[kind](key[i] as string)) throw bad()
  })
  return key as string[]
}

/** A page's JSON body from rows already in JSON text, as Postgres wrote them (row_to_json),
 * trimmed and with its cursor as page() gives them: `{"<name>": [...], "next_cursor": …}`.
 * Only the last row returned is parsed, for its sort key. Text, not bytes: on Deno a string
 * body is cheaper to make and to send than a typed array (README, Performance). */
export function pageOfJson(
  name: string,
  rows: JsonRows,
  limit: number,
  keyOf: (row: Record<string, unknown>) => string[],
): string {
  const more = rows.length > limit
  const next = more ? encodeCursor(keyOf(JSON.parse(rows.row(limit - 1)))) : null
  return `{${JSON.stringify(name)}:[${rows.joined(limit)}],"next_cursor":${JSON.stringify(next)}}`
}

/** Trims the extra row fetched to know whether there is a next page, and makes the cursor. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => string[]): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit)
  const next_cursor = rows.length > limit ? encodeCursor(keyOf(items[items.length - 1])) : null
  return { items, next_cursor }
}
