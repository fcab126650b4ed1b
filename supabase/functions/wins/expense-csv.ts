// GET /wins/expenses/export.csv and POST /wins/expenses/import: the user's
// expenses as RFC 4180 CSV, and back. An import validates every row and
// stores all of them or none (one transaction). Registered before
// /wins/expenses/{id} so these paths are never taken for an id.
//
// An import costs little whatever it is sent: at most 1 MiB is read, it must
// be UTF-8, the parser is linear, a file has at most 64 columns and 5,000
// rows, and an answer lists a bounded number of errors (with their count).
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError } from '../_shared/errors.ts'
import { concatBytes } from '../_shared/bytes.ts'
import { log } from '../_shared/logger.ts'
import { BudgetImpact, budgetImpact } from './budget-status.ts'
import { errorOf, invalidateSummaries, json, moneyContext, params, type WinsOptions, writeTransaction } from './common.ts'
import { CsvError, csvLine, guardFormula, parseCsv, unguardFormula } from './csv.ts'
import { type Expense, EXPENSE_COLUMNS, ExpenseCreate, insertExpenses, prepareExpenses } from './expense-model.ts'
import { expenseFilterFields, expenseWhere, fromBeforeTo } from './expenses.ts'

export const IMPORT_MAX_BYTES = 1024 * 1024
export const IMPORT_MAX_ROWS = 5000
/** Columns an imported file may have (an export has 21). */
export const IMPORT_MAX_COLUMNS = 64
/** Header and row errors listed in a failed import's answer (error_count covers all). */
const MAX_HEADER_ERRORS = 20
const MAX_ROW_ERRORS = 100
/** Media types an import is read from; text/plain is what supabase.functions.invoke sends for a string. */
const IMPORT_TYPES = ['text/csv', 'text/plain', 'application/json']
const EXPORT_CHUNK = 2000

/** Export columns, in order. An import takes the same header (any order, any subset with date and amount). */
export const CSV_COLUMNS = [
  'id', 'date', 'amount', 'currency', 'category', 'description', 'merchant', 'location', 'latitude', 'longitude',
  'payment_method', 'tags', 'receipt_url', 'vehicle_id', 'trip_id', 'hustle_id', 'fuel_type', 'fuel_volume',
  'fuel_price_per_unit', 'odometer', 'fuel_full_tank', 'created_at',
] as const
/** Columns an import reads; the others of an export (id, created_at) are ignored. */
const IMPORTED = new Set<string>(CSV_COLUMNS.filter((c) => c !== 'id' && c !== 'created_at'))
const IGNORED = new Set(['id', 'created_at', 'updated_at', 'category_source'])
const GUARDED = new Set(['description', 'merchant', 'location', 'tags'])

const tags = ['wins: expenses']

const exportCsv = route({
  method: 'get',
  path: '/expenses/export.csv',
  auth: 'user',
  rateLimit: 'bulk',
  tags,
  summary: 'All your expenses (or the filtered ones) as CSV, oldest first',
  request: { query: z.object(expenseFilterFields).refine(...fromBeforeTo) },
  responses: { 200: { description: 'RFC 4180 CSV with a header row', content: { 'text/csv': { schema: z.string() } } } },
})

const ImportError = z.object({
  line: z.number().openapi({ description: 'line of the file where the record starts (the header is line 1)' }),
  column: z.string().nullable(),
  message: z.string(),
})

/** The JSON form of an import. Validated by the handler, which reads the body itself (below). */
const ImportJson = z.object({ csv: z.string().openapi({ description: 'the CSV text' }) }).strict().openapi('ExpenseImportJson')

const CsvText = z.string().openapi({ example: 'date,amount,description\r\n2026-03-01,45.20,Shell Roma\r\n' })

const importCsv = route({
  method: 'post',
  path: '/expenses/import',
  auth: 'user',
  rateLimit: 'bulk',
  tags,
  summary: `Import expenses from CSV; all rows or none, at most ${IMPORT_MAX_ROWS} rows, ${IMPORT_MAX_COLUMNS} columns and 1 MiB of UTF-8`,
  request: {
    body: {
      required: true,
      description: 'UTF-8 CSV as text/csv or text/plain (what supabase.functions.invoke sends for a string), or JSON {"csv": "..."}',
      // The JSON schema is referenced, not given as zod: a zod JSON body would make the
      // router answer other media types with a bare 415 before this route can name the
      // ones it takes, and the handler needs the raw bytes to insist on UTF-8 anyway.
      content: {
        'text/csv': { schema: CsvText },
        'text/plain': { schema: CsvText },
        'application/json': { schema: { $ref: '#/components/schemas/ExpenseImportJson' } },
      },
    },
  },
  responses: {
    201: {
      description: 'Every row imported',
      ...json(z.object({ imported: z.number(), categories_inferred: z.number(), budgets: z.array(BudgetImpact) })),
    },
    400: errorOf(
      'Nothing imported: invalid_encoding (not UTF-8), invalid_body (not JSON), invalid_csv (with details.line; a bad header also has ' +
        `details.error_count and the first ${MAX_HEADER_ERRORS} details.errors), too_many_columns, empty_csv, too_many_rows, or ` +
        `invalid_rows with details.error_count and the first ${MAX_ROW_ERRORS} details.errors[{line, column, message}]`,
    ),
    401: errorOf('account_not_found: the account was deleted'),
    413: errorOf('Larger than 1 MiB'),
    415: errorOf(`unsupported_media_type: not ${IMPORT_TYPES.join(', ')}`),
  },
})

const cell = (column: string, v: unknown): string => {
  if (v === null || v === undefined) return ''
  const s = Array.isArray(v) ? v.join(';') : String(v)
  return GUARDED.has(column) ? guardFormula(s) : s
}

const NUMBER = /^-?\d+(\.\d+)?$/

/** At most the first 40 characters of a name quoted back in an error. */
const shorten = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s)

/** An error list as answered: how many, and the first `max`. */
const listed = <T>(errors: T[], max: number) => ({ error_count: errors.length, errors: errors.slice(0, max) })

/** What is wrong with a header (one pass, whatever its size). */
function headerProblems(names: string[]): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  for (const name of names) {
    const column = name.trim().toLowerCase()
    if (!IMPORTED.has(column) && !IGNORED.has(column)) problems.push(`unknown column "${shorten(name)}"`)
    else if (seen.has(column)) problems.push(`column "${column}" appears twice`)
    seen.add(column)
  }
  for (const required of ['date', 'amount']) {
    if (!seen.has(required)) problems.push(`a "${required}" column is required`)
  }
  return problems
}

/** The body's bytes, refused with a 413 as soon as they pass `max`. */
async function readBody(c: AppContext, max: number): Promise<Uint8Array> {
  const req = c.req.raw
  const tooLarge = () => new ApiError(413, 'payload_too_large', `the file is larger than ${max} bytes`)
  if (Number(req.headers.get('content-length')) > max) throw tooLarge()
  // An Idempotency-Key has the body read already (its fingerprint), and Hono keeps it.
  if (req.bodyUsed) {
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    if (bytes.byteLength > max) throw tooLarge()
    return bytes
  }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of req.body ?? []) {
    size += chunk.byteLength
    if (size > max) throw tooLarge()
    chunks.push(chunk)
  }
  return concatBytes(chunks)
}

/** The CSV text of an import request, from strict UTF-8 bytes; 415, 413 or 400 otherwise. */
async function importText(c: AppContext): Promise<string> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase()
  if (!IMPORT_TYPES.includes(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'send the CSV as text/csv or text/plain, or as application/json {"csv": "..."}', {
      accepted: IMPORT_TYPES,
    })
  }
  const bytes = await readBody(c, IMPORT_MAX_BYTES)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new ApiError(400, 'invalid_encoding', 'the file must be UTF-8 text (from a spreadsheet: save as "CSV UTF-8")')
  }
  if (type !== 'application/json') return text
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new ApiError(400, 'invalid_body', 'the body is not valid JSON')
  }
  const parsed = ImportJson.safeParse(body)
  if (!parsed.success) throw new ApiError(400, 'validation_failed', 'the request is not valid', parsed.error.issues)
  return parsed.data.csv
}

/** One CSV record as the fields of an ExpenseCreate (empty cells are absent). */
function recordToInput(header: string[], fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  header.forEach((column, i) => {
    if (!IMPORTED.has(column)) return
    const raw = unguardFormula((fields[i] ?? '').trim())
    if (raw === '') return
    if (column === 'latitude' || column === 'longitude' || column === 'odometer') {
      out[column] = NUMBER.test(raw) ? Number(raw) : raw // a string fails validation with a clear message
    } else if (column === 'fuel_full_tank') {
      out[column] = raw === 'true' ? true : raw === 'false' ? false : raw
    } else if (column === 'tags') {
      out[column] = raw.split(';').map((t) => t.trim()).filter(Boolean)
    } else {
      out[column] = raw
    }
  })
  return out
}

export function registerExpenseCsvRoutes(app: App, opts: WinsOptions) {
  app.openAPIRegistry.register('ExpenseImportJson', ImportJson)

  app.openapi(exportCsv, async (c) => {
    const filters = c.req.valid('query')
    const chunk = async (after: string[] | null) => {
      const { values, p } = params()
      let where = expenseWhere(filters, p)
      if (after) {
        where += ` and (e.date, e.created_at, e.id) > (${p(after[0])}::date, ${p(after[1])}::text::timestamptz, ${p(after[2])}::uuid)`
      }
      return await c.var.postgres.queryRaw<Expense>(
        `select ${EXPENSE_COLUMNS} from pam.expenses e where ${where}
         order by e.date, e.created_at, e.id limit ${EXPORT_CHUNK}`,
        values,
      )
    }
    const encoder = new TextEncoder()
    const lines = (rows: Expense[]) => rows.map((r) => csvLine(CSV_COLUMNS.map((col) => cell(col, r[col])))).join('')
    const lastKey = (rows: Expense[]) => {
      const r = rows[rows.length - 1]
      return [r.date, r.created_at, r.id]
    }
    // The first chunk is read before answering, so a failing database is an error status, not a cut-off file.
    let rows = await chunk(null)
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(csvLine([...CSV_COLUMNS]) + lines(rows)))
        if (rows.length < EXPORT_CHUNK) controller.close()
      },
      async pull(controller) {
        try {
          rows = await chunk(lastKey(rows))
          if (rows.length) controller.enqueue(encoder.encode(lines(rows)))
          if (rows.length < EXPORT_CHUNK) controller.close()
        } catch (err) {
          log('error', 'expense export failed mid-stream', { request_id: c.var.requestId, error: String(err) })
          controller.error(err)
        }
      },
    })
    const filename = `pam-expenses-${new Date().toISOString().slice(0, 10)}.csv`
    return c.body(stream, 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename}"`,
      'cache-control': 'no-store',
    })
  })

  app.openapi(importCsv, async (c) => {
    const text = await importText(c)
    let records
    try {
      records = parseCsv(text, { maxRecords: IMPORT_MAX_ROWS + 1, maxFields: IMPORT_MAX_COLUMNS })
    } catch (err) {
      if (err instanceof CsvError) throw new ApiError(400, err.code, `line ${err.line}: ${err.message}`, { line: err.line })
      throw err
    }
    if (records.length === 0) throw new ApiError(400, 'empty_csv', 'the file has no header row')
    if (records.length - 1 > IMPORT_MAX_ROWS) {
      throw new ApiError(400, 'too_many_rows', `at most ${IMPORT_MAX_ROWS} rows per import`)
    }
    const [head, ...data] = records
    const problems = headerProblems(head.fields)
    if (problems.length) {
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
      throw new ApiError(400, 'invalid_csv', `header: ${problems[0]}${more}`, { line: 1, ...listed(problems, MAX_HEADER_ERRORS) })
    }
    const header = head.fields.map((h) => h.trim().toLowerCase())
    if (data.length === 0) throw new ApiError(400, 'empty_csv', 'the file has a header but no rows')

    // Every row is checked (by the schema of POST /wins/expenses) before anything is written; any problem means nothing is imported.
    const errors: z.infer<typeof ImportError>[] = []
    const inputs: ExpenseCreate[] = []
    const lineOf: number[] = []
    for (const rec of data) {
      if (rec.fields.length !== header.length) {
        errors.push({ line: rec.line, column: null, message: `${rec.fields.length} fields, the header has ${header.length}` })
        continue
      }
      const parsed = ExpenseCreate.safeParse(recordToInput(header, rec.fields))
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          errors.push({ line: rec.line, column: issue.path.length ? String(issue.path[0]) : null, message: issue.message })
        }
        continue
      }
      inputs.push(parsed.data)
      lineOf.push(rec.line)
    }

    const result = await writeTransaction(c, async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const prepared = await prepareExpenses(tx, ctx, inputs)
      for (const e of prepared.errors) errors.push({ line: lineOf[e.index], column: e.field, message: e.message })
      if (errors.length) {
        errors.sort((a, b) => a.line - b.line)
        throw new ApiError(400, 'invalid_rows', `${errors.length} problem(s) in the file; nothing was imported`, listed(errors, MAX_ROW_ERRORS))
      }
      const inserted = await insertExpenses(tx, prepared.rows)
      return {
        imported: inserted.length,
        categories_inferred: prepared.classifications.filter(Boolean).length,
        budgets: await budgetImpact(tx, ctx, inserted),
      }
    })
    await invalidateSummaries(c)
    return c.json(result, 201)
  })
}
