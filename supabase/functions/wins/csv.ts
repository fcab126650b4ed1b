// RFC 4180 CSV: a small strict parser (quoted fields with commas, quotes and
// line breaks inside; CRLF or LF line ends; a UTF-8 BOM is ignored) and the
// writer the export uses (CRLF, quoting only when needed).

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number
  fields: string[]
}

export class CsvError extends Error {
  constructor(readonly line: number, message: string) {
    super(message)
    this.name = 'CsvError'
  }
}

/** Parses CSV text into records. Blank lines are skipped. Throws CsvError on
 * an unterminated quoted field or a quote inside an unquoted field. */
export function parseCsv(text: string, opts: { maxRecords?: number } = {}): CsvRecord[] {
  const records: CsvRecord[] = []
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let line = 1
  const n = text.length
  while (i < n) {
    const startLine = line
    const fields: string[] = []
    let atRecordEnd = false
    while (!atRecordEnd) {
      let field = ''
      if (text[i] === '"') {
        const quoteLine = line
        i++
        for (;;) {
          if (i >= n) throw new CsvError(quoteLine, 'a quoted field is not closed')
          const ch = text[i]
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"'
              i += 2
              continue
            }
            i++
            break
          }
          if (ch === '\n') line++
          field += ch
          i++
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new CsvError(line, 'unexpected text after a closing quote')
        }
      } else {
        const start = i
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw new CsvError(line, 'a quote inside an unquoted field (quote the whole field and double the quote)')
          i++
        }
        field = text.slice(start, i)
      }
      fields.push(field)
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
      if (opts.maxRecords !== undefined && records.length > opts.maxRecords) return records
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
