// RFC 4180 CSV: a small strict parser (quoted fields with commas, quotes and
// line breaks inside; CRLF or LF line ends; a UTF-8 BOM is ignored) and the
// writer the export uses (CRLF, quoting only when needed). The parser is
// linear in the size of its input, whatever the input: it jumps from one
// delimiter to the next with indexOf and sticky regexes, builds fields from
// slices, and stops at maxRecords records or at a record of more than
// maxFields fields.

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number
  fields: string[]
}

export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
    readonly code: 'invalid_csv' | 'too_many_columns' = 'invalid_csv',
  ) {
    super(message)
    this.name = 'CsvError'
  }
}

// An unquoted field: everything up to a comma, a line end or a (misplaced) quote.
const UNQUOTED = /[^,\r\n"]*/y

/** Line feeds in text[from, to), looking at nothing past `to`. */
function lineFeeds(text: string, from: number, to: number): number {
  let n = 0
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++
  return n
}

/** Parses CSV text into records. Blank lines are skipped. Throws CsvError on
 * an unterminated quoted field, a quote inside an unquoted field, or a record
 * of more than `maxFields` fields (code too_many_columns). */
export function parseCsv(text: string, opts: { maxRecords?: number; maxFields?: number } = {}): CsvRecord[] {
  const { maxRecords = Infinity, maxFields = Infinity } = opts
  const records: CsvRecord[] = []
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let line = 1
  const n = text.length
  while (i < n) {
    const startLine = line
    const fields: string[] = []
    let atRecordEnd = false
    while (!atRecordEnd) {
      let field: string
      if (text[i] === '"') {
        // The closing quote is the first one not followed by another ("" is a quote inside).
        let close = text.indexOf('"', i + 1)
        while (close !== -1 && text[close + 1] === '"') close = text.indexOf('"', close + 2)
        if (close === -1) throw new CsvError(line, 'a quoted field is not closed')
        const raw = text.slice(i + 1, close)
        field = raw.includes('"') ? raw.replaceAll('""', '"') : raw
        line += lineFeeds(text, i + 1, close)
        i = close + 1
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new CsvError(line, 'unexpected text after a closing quote')
        }
      } else {
        UNQUOTED.lastIndex = i
        UNQUOTED.test(text)
        const end = UNQUOTED.lastIndex
        if (text[end] === '"') throw new CsvError(line, 'a quote inside an unquoted field (quote the whole field and double the quote)')
        field = text.slice(i, end)
        i = end
      }
      fields.push(field)
      if (fields.length > maxFields) throw new CsvError(startLine, `more than ${maxFields} fields`, 'too_many_columns')
      if (i >= n) {
        atRecordEnd = true
      } else if (text[i] === ',') {
        i++
        if (i >= n) fields.push('') // "a," ends with an empty field
        atRecordEnd = i >= n
      } else {
        // \r\n, \n or a lone \r
        if (text[i] === '\r' && text[i + 1] === '\n') i++
        i++
        line++
        atRecordEnd = true
      }
    }
    const blank = fields.length === 1 && fields[0] === ''
    if (!blank) {
      records.push({ line: startLine, fields })
      if (records.length > maxRecords) return records
    }
  }
  return records
}

const needsQuotes = /[",\r\n]/

/** One CSV field: quoted (quotes doubled) when it holds a comma, quote or line break. */
export function csvField(value: string): string {
  return needsQuotes.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value
}

/** One record with its CRLF. */
export const csvLine = (values: string[]) => values.map(csvField).join(',') + '\r\n'

// Spreadsheets run cells starting with these as formulas (CSV injection). The
// export prefixes such text with an apostrophe; the import removes it again.
const FORMULA_START = /^[=+\-@\t\r]/

export const guardFormula = (s: string) => (FORMULA_START.test(s) ? `'${s}` : s)
export const unguardFormula = (s: string) => (s.startsWith("'") && FORMULA_START.test(s.slice(1)) ? s.slice(1) : s)
