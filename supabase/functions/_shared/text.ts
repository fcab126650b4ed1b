// Text fields of request bodies, query strings and paths: declare them with
// these instead of `z.string()`, so text that Postgres cannot store (U+0000
// answers `invalid byte sequence for encoding "UTF8": 0x00`), that is not
// Unicode (an unpaired UTF-16 surrogate), or that hides control characters,
// is a 400 `validation_failed` naming the field, before any query runs.
//
//   singleLineText({ max: 200 })           a name, a title, a search term
//   singleLineText({ min: 0, max: 40 })    may be empty
//   multiLineText({ max: 2000 })           notes: tab, LF and CR allowed
//   multiLineText({ max: 500, trim: false })
//
// Options: `max` (required), `min` (default 1), `trim` (default true: leading
// and trailing whitespace is removed before the checks). Lengths count
// characters (Unicode code points), as Postgres's char_length does, so a
// column check `char_length(x) <= n` and `max: n` agree. Refused anywhere:
// U+0000 and every other control character (C0, DEL, C1), unpaired
// surrogates; single-line text also refuses tab, CR, LF and U+2028/U+2029.
// The result is a zod string schema: chain `.nullable()`, `.optional()`,
// `.regex()`, `.openapi()` as usual.
import { z } from './http.ts'

export interface TextOptions {
  /** Most characters (code points) allowed. */
  max: number
  /** Fewest characters; default 1 (0 allows an empty string). */
  min?: number
  /** Strip leading and trailing whitespace first; default true. */
  trim?: boolean
}

/** One line of text: no line breaks, tabs or other control characters. */
export const singleLineText = (opts: TextOptions) => text(opts, false)

/** Text that may span lines: tab, LF and CR allowed, other control characters not. */
export const multiLineText = (opts: TextOptions) => text(opts, true)

// Control characters (\p{Cc}: U+0000–U+001F, U+007F–U+009F) but tab, LF and
// CR; single-line text refuses those and the Unicode line and paragraph
// separators as well.
const MULTI_LINE_FORBIDDEN = /[^\P{Cc}\t\n\r]/u
const SINGLE_LINE_FORBIDDEN = /[\p{Cc}\u2028\u2029]/u

/** `s` as one line of at most `max` characters (code points, so a character outside the BMP, an
 * emoji, is never cut in two): each run of whitespace, line breaks included, one space, and trimmed.
 * For text taken from a message (multi-line) into a single-line field. */
export function oneLine(s: string, max = Infinity): string {
  return Array.from(s.replace(/\s+/g, ' ').trim()).slice(0, max).join('')
}

function codePoints(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

function text({ max, min = 1, trim = true }: TextOptions, multiline: boolean) {
  const forbidden = multiline ? MULTI_LINE_FORBIDDEN : SINGLE_LINE_FORBIDDEN
  const controlMessage = multiline
    ? 'must not contain control characters (tab and line breaks are allowed)'
    : 'must be a single line without control characters (no line breaks or tabs)'
  const base = trim ? z.string().trim() : z.string()
  return base
    .check((ctx) => {
      const s = ctx.value
      // A string has at least length/2 and at most length code points.
      if (s.length > max && (s.length > 2 * max || codePoints(s) > max)) {
        ctx.issues.push({ code: 'too_big', origin: 'string', maximum: max, inclusive: true, input: s })
      } else if (s.length < min || (s.length < 2 * min && codePoints(s) < min)) {
        ctx.issues.push({ code: 'too_small', origin: 'string', minimum: min, inclusive: true, input: s })
      }
      if (forbidden.test(s)) ctx.issues.push({ code: 'custom', message: controlMessage, input: s })
      if (!s.isWellFormed()) {
        ctx.issues.push({ code: 'custom', message: 'must be valid Unicode text (it has an unpaired surrogate)', input: s })
      }
    })
    .openapi({
      minLength: min,
      maxLength: max,
      description: multiline ? 'text (tab and line breaks allowed, no other control characters)' : 'one line of text (no control characters)',
    })
}
