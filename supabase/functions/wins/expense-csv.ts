// GET /wins/expenses/export.csv and POST /wins/expenses/import: the user's
// expenses as RFC 4180 CSV, and back. An import validates every row and
// stores all of them or none (one transaction). Registered before
// /wins/expenses/{id} so these paths are never taken for an id.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError } from '../_shared/errors.ts'
import { log } from '../_shared/logger.ts'
import { BudgetImpact, budgetImpact } from './budget-status.ts'
import { errorOf, invalidateSummaries, json, moneyContext, params, type WinsOptions } from './common.ts'
import { CsvError, csvLine, guardFormula, parseCsv, unguardFormula } from './csv.ts'
import { type Expense, EXPENSE_COLUMNS, ExpenseCreate, insertExpenses, prepareExpenses } from './expense-model.ts'
import { expenseFilterFields, expenseWhere, fromBeforeTo } from './expenses.ts'

export const IMPORT_MAX_BYTES = 1024 * 1024
export const IMPORT_MAX_ROWS = 5000
/** Row errors listed in a failed import's answer (the count covers all). */
const MAX_REPORTED_ERRORS = 100
const EXPORT_CHUNK = 2000

/** Export columns, in order. An import takes the same header (any order, any subset with date and amount). */
export const CSV_COLUMNS = [
  'id', 'date', 'amount', 'currency', 'category', 'description', 'merchant', 'location', 'latitude', 'longitude',
  'payment_method', 'tags', 'receipt_url', 'vehicle_id', 'trip_id', 'hustle_id', 'fuel_type', 'fuel_volume',
  'fuel_price_per_unit', 'odometer', 'created_at',
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

const importCsv = route({
  method: 'post',
  path: '/expenses/import',
  auth: 'user',
  rateLimit: 'bulk',
  tags,
  summary: `Import expenses from CSV (text/csv, or JSON {csv}); all rows or none, at most ${IMPORT_MAX_ROWS} rows and 1 MiB`,
  request: {
    body: {
      required: false,
      content: {
        'text/csv': { schema: z.string().openapi({ example: 'date,amount,description\r\n2026-03-01,45.20,Shell Roma\r\n' }) },
        'application/json': { schema: z.object({ csv: z.string() }).strict() },
      },
    },
  },
  responses: {
    201: {
      description: 'Every row imported',
      ...json(z.object({ imported: z.number(), categories_inferred: z.number(), budgets: z.array(BudgetImpact) })),
    },
    400: errorOf('Nothing imported: invalid_csv, empty_csv, too_many_rows, or invalid_rows with details.errors[{line, column, message}]'),
    413: errorOf('Larger than 1 MiB'),
    415: errorOf('Not text/csv or application/json'),
  },
})

const cell = (column: string, v: unknown): string => {
  if (v === null || v === undefined) return ''
  const s = Array.isArray(v) ? v.join(';') : String(v)
  return GUARDED.has(column) ? guardFormula(s) : s
}

const NUMBER = /^-?\d+(\.\d+)?$/

/** One CSV record as the fields of an ExpenseCreate (empty cells are absent). */
function recordToInput(header: string[], fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  header.forEach((column, i) => {
    if (!IMPORTED.has(column)) return
    const raw = unguardFormula((fields[i] ?? '').trim())
    if (raw === '') return
    if (column === 'latitude' || column === 'longitude' || column === 'odometer') {
      out[column] = NUMBER.test(raw) ? Number(raw) : raw // a string fails validation with a clear message
    } else if (column === 'tags') {
      out[column] = raw.split(';').map((t) => t.trim()).filter(Boolean)
    } else {
      out[column] = raw
    }
  })
  return out
}

export function registerExpenseCsvRoutes(app: App, opts: WinsOptions) {
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
    const type = c.req.header('content-type') ?? ''
    let text: string
    if (/^application\/json/i.test(type)) {
      const parsed = c.req.valid('json') as { csv?: string }
      if (typeof parsed.csv !== 'string') throw new ApiError(400, 'validation_failed', 'send {"csv": "<text>"}')
      text = parsed.csv
    } else if (/^text\/csv/i.test(type)) {
      text = await c.req.text()
    } else {
      throw new ApiError(415, 'unsupported_media_type', 'send text/csv, or application/json {"csv": "..."}')
    }
    if (new TextEncoder().encode(text).length > IMPORT_MAX_BYTES) {
      throw new ApiError(413, 'payload_too_large', `the CSV is larger than ${IMPORT_MAX_BYTES} bytes`)
    }

    let records
    try {
      records = parseCsv(text, { maxRecords: IMPORT_MAX_ROWS + 1 })
    } catch (err) {
      if (err instanceof CsvError) {
        throw new ApiError(400, 'invalid_csv', `line ${err.line}: ${err.message}`, { line: err.line })
      }
      throw err
    }
    if (records.length === 0) throw new ApiError(400, 'empty_csv', 'the file has no header row')
    if (records.length - 1 > IMPORT_MAX_ROWS) {
      throw new ApiError(400, 'too_many_rows', `at most ${IMPORT_MAX_ROWS} rows per import`)
    }
    const [head, ...data] = records
    const header = head.fields.map((h) => h.trim().toLowerCase())
    const headerErrors: string[] = []
    header.forEach((h, i) => {
      if (!IMPORTED.has(h) && !IGNORED.has(h)) headerErrors.push(`unknown column "${head.fields[i]}"`)
      if (header.indexOf(h) !== i) headerErrors.push(`column "${h}" appears twice`)
    })
    for (const required of ['date', 'amount']) {
      if (!header.includes(required)) headerErrors.push(`a "${required}" column is required`)
    }
    if (headerErrors.length) {
      throw new ApiError(400, 'invalid_csv', `header: ${headerErrors.join('; ')}`, { line: 1, errors: headerErrors })
    }
    if (data.length === 0) throw new ApiError(400, 'empty_csv', 'the file has a header but no rows')

    // Every row is checked before anything is written; any problem means nothing is imported.
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

    const result = await c.var.postgres.transaction(async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const prepared = await prepareExpenses(tx, ctx, inputs)
      for (const e of prepared.errors) errors.push({ line: lineOf[e.index], column: e.field, message: e.message })
      if (errors.length) {
        errors.sort((a, b) => a.line - b.line)
        throw new ApiError(400, 'invalid_rows', `${errors.length} problem(s) in the file; nothing was imported`, {
          error_count: errors.length,
          errors: errors.slice(0, MAX_REPORTED_ERRORS),
        })
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
