// SQL literals, for sending a whole read transaction in one message, and each
// statement of a write transaction in one message.
//
// The transaction pooler allows no prepared statements, and postgres.js then
// describes every parameterised statement before binding it: one extra round
// trip per statement. A read instead goes as one simple-protocol message
// (begin; claims and role; `execute` of the statement, which the server keeps
// prepared (db.ts); commit) with its values written as literals here, the
// way libpq's PQescapeLiteral and pgx's simple protocol do: strings in the E''
// form (backslashes and quotes doubled), which means the same whatever
// standard_conforming_strings says; numbers, dates, arrays and JSON as quoted
// text the server converts as it would a parameter of unknown type.
// Statements of write transactions go the same way, one message each
// (literalStatements in db.ts).
import { ApiError } from './errors.ts'

/** A string as a SQL literal. NUL cannot be stored in Postgres text. */
export function literal(text: string): string {
  if (text.includes('\0')) throw new ApiError(400, 'invalid_value', 'text cannot contain NUL characters')
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** An array as the text of a Postgres array literal: {"a","b",NULL,{"c"}}. */
function arrayText(values: unknown[]): string {
  return `{${
    values.map((v) => {
      if (v === null || v === undefined) return 'NULL'
      if (Array.isArray(v)) return arrayText(v)
      return `"${scalarText(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
    }).join(',')
  }}`
}

function scalarText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ApiError(400, 'invalid_value', 'a number is not finite')
    return String(value)
  }
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return value.toISOString()
  return JSON.stringify(value)
}

/** Any value as a SQL literal (NULL, true/false, or quoted text). */
export function literalOf(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value instanceof Uint8Array) {
    return `'\\x${Array.from(value, (b) => b.toString(16).padStart(2, '0')).join('')}'::bytea`
  }
  if (Array.isArray(value)) return literal(arrayText(value))
  return literal(scalarText(value))
}

/** `text` with its numbered parameters ($1, $2 and so on) replaced by the literals of `params`. Parameters
 * inside quoted strings, quoted identifiers, dollar quotes and comments are left alone. */
export function inlineParams(text: string, params: readonly unknown[]): string {
  if (!params.length) return text
  let out = ''
  let copied = 0 // text before this index is in `out`
  // Jump from one character that can start something to the next.
  const special = /['"$]|--|\/\*/g
  let m: RegExpExecArray | null
  while ((m = special.exec(text)) !== null) {
    const i = m.index
    const token = m[0]
    let end: number
    if (token === "'") {
      // A string; E'' strings may escape a quote with a backslash.
      const escapes = i > 0 && /[eE]/.test(text[i - 1]) && !/[A-Za-z0-9_]/.test(text[i - 2] ?? ' ')
      end = i + 1
      while (end < text.length) {
        if (escapes && text[end] === '\\') end += 2
        else if (text[end] === "'" && text[end + 1] === "'") end += 2
        else if (text[end] === "'") break
        else end++
      }
      end++
    } else if (token === '"') {
      end = closing(text, '"', i + 1)
    } else if (token === '--') {
      end = closing(text, '\n', i)
    } else if (token === '/*') {
      end = closing(text, '*/', i + 2)
    } else if (/[0-9]/.test(text[i + 1] ?? '')) {
      let j = i + 1
      while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++
      const index = Number(text.slice(i + 1, j))
      if (index < 1 || index > params.length) throw new Error(`no value for $${index}`)
      out += text.slice(copied, i) + literalOf(params[index - 1])
      copied = j
      special.lastIndex = j
      continue
    } else {
      const tag = /^\$[A-Za-z_][A-Za-z0-9_]*\$|^\$\$/.exec(text.slice(i, i + 64))?.[0]
      end = tag ? closing(text, tag, i + tag.length) : i + 1
    }
    special.lastIndex = end
  }
  return out + text.slice(copied)
}

/** Just past the first `token` at or after `from`, or the end of `text`. */
function closing(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from)
  return at < 0 ? text.length : at + token.length
}
