// /wins/income: money in. Create, list (filters, keyset pages newest first),
// read, update, delete. Every write drops the user's cached summaries.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { notFound } from '../_shared/errors.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import {
  body,
  Currency,
  errorOf,
  IdParams,
  invalidateSummaries,
  invalidReference,
  isoSql,
  json,
  likePattern,
  moneyContext,
  params,
  Uuid,
  type WinsOptions,
  writeTransaction,
} from './common.ts'
import { money } from './money.ts'
import { decodeCursor, page, PageQuery } from './pagination.ts'
import { calendarDate } from './periods.ts'
import type { Tx } from '../_shared/db.ts'

const fields = {
  amount: money(),
  currency: Currency.optional().openapi({ description: "default: the profile's currency, else AUD" }),
  source: singleLineText({ max: 200 }).openapi({ example: 'Harvest work, Mildura' }),
  description: multiLineText({ min: 0, max: 500 }).optional(),
  date: calendarDate().optional().openapi({ description: "the local calendar day; default: today in the profile's time zone" }),
  recurring: z.boolean().optional(),
  hustle_id: Uuid.nullable().optional(),
}

const IncomeCreate = z.object(fields).strict().openapi('IncomeCreate')
const IncomePatch = z.object(fields).partial().strict()
  .refine((v) => Object.keys(v).length > 0, 'nothing to update')
  .openapi('IncomePatch')

const Income = z.object({
  id: z.string(),
  amount: z.string().openapi({ example: '820.00' }),
  currency: z.string(),
  source: z.string(),
  description: z.string(),
  date: z.string(),
  recurring: z.boolean(),
  hustle_id: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Income')
type Income = z.infer<typeof Income>

const INCOME_COLUMNS = `i.id, i.amount::text as amount, i.currency::text as currency, i.source, i.description,
  i.date::text as date, i.recurring, i.hustle_id, ${isoSql('i.created_at')} as created_at,
  ${isoSql('i.updated_at')} as updated_at`

const COLUMN_TYPES: Record<string, string> = {
  amount: 'numeric', currency: 'text', source: 'text', description: 'text', date: 'date', recurring: 'boolean',
  hustle_id: 'uuid',
}

const filterFields = {
  from: calendarDate().optional().openapi({ description: 'first day (inclusive)' }),
  to: calendarDate().optional().openapi({ description: 'last day (inclusive)' }),
  hustle_id: Uuid.optional(),
  recurring: z.enum(['true', 'false']).optional(),
  q: singleLineText({ max: 100 }).optional().openapi({ description: 'text in the source or description' }),
}

const tags = ['wins: income']

const createIncome = route({
  method: 'post',
  path: '/income',
  auth: 'user',
  tags,
  summary: 'Record income',
  request: body(IncomeCreate),
  responses: { 201: { description: 'Recorded', ...json(z.object({ income: Income })) } },
})

const listIncome = route({
  method: 'get',
  path: '/income',
  auth: 'user',
  tags,
  summary: 'Income, newest first, filtered, one page at a time',
  request: {
    query: z.object({ ...filterFields, ...PageQuery })
      .refine((f) => !f.from || !f.to || f.from <= f.to, { message: 'from is after to', path: ['from'] }),
  },
  responses: { 200: { description: 'A page', ...json(z.object({ income: z.array(Income), next_cursor: z.string().nullable() })) } },
})

const getIncome = route({
  method: 'get',
  path: '/income/{id}',
  auth: 'user',
  tags,
  summary: 'One income entry',
  request: { params: IdParams },
  responses: { 200: { description: 'The entry', ...json(z.object({ income: Income })) }, 404: errorOf('No such income') },
})

const patchIncome = route({
  method: 'patch',
  path: '/income/{id}',
  auth: 'user',
  tags,
  summary: 'Change an income entry (hustle_id null unlinks)',
  request: { params: IdParams, ...body(IncomePatch) },
  responses: { 200: { description: 'Updated', ...json(z.object({ income: Income })) }, 404: errorOf('No such income') },
})

const deleteIncome = route({
  method: 'delete',
  path: '/income/{id}',
  auth: 'user',
  tags,
  summary: 'Delete an income entry',
  request: { params: IdParams },
  responses: { 204: { description: 'Deleted' }, 404: errorOf('No such income') },
})

async function checkHustle(tx: Tx, hustleId: string | null | undefined) {
  if (!hustleId) return
  const [h] = await tx`select 1 from pam.hustles where id = ${hustleId}`
  if (!h) throw invalidReference('hustle_id', 'not one of your hustles')
}

export function registerIncomeRoutes(app: App, opts: WinsOptions) {
  app.openapi(createIncome, async (c) => {
    const input = c.req.valid('json')
    const income = await writeTransaction(c, async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      await checkHustle(tx, input.hustle_id)
      const [row] = await tx.unsafe<Income[]>(
        `insert into pam.income as i (amount, currency, source, description, date, recurring, hustle_id)
         values ($1::numeric, $2, $3, $4, $5::date, $6::boolean, $7::uuid) returning ${INCOME_COLUMNS}`,
        [
          input.amount,
          input.currency ?? ctx.currency,
          input.source,
          input.description ?? '',
          input.date ?? ctx.today,
          input.recurring ?? false,
          input.hustle_id ?? null,
        ] as never[],
      )
      return row
    })
    await invalidateSummaries(c)
    return c.json({ income }, 201)
  })

  app.openapi(listIncome, async (c) => {
    const { limit, cursor, ...f } = c.req.valid('query')
    const { values, p } = params()
    const where = ['i.user_id = (select auth.uid())']
    if (f.from) where.push(`i.date >= ${p(f.from)}::date`)
    if (f.to) where.push(`i.date <= ${p(f.to)}::date`)
    if (f.hustle_id) where.push(`i.hustle_id = ${p(f.hustle_id)}::uuid`)
    if (f.recurring) where.push(`i.recurring = ${p(f.recurring === 'true')}::boolean`)
    if (f.q) {
      const q = p(likePattern(f.q))
      where.push(`(i.source ilike ${q} or i.description ilike ${q})`)
    }
    if (cursor) {
      const [d, t, id] = decodeCursor(cursor, ['date', 'timestamp', 'uuid'])
      where.push(`(i.date, i.created_at, i.id) < (${p(d)}::date, ${p(t)}::text::timestamptz, ${p(id)}::uuid)`)
    }
    const rows = await c.var.postgres.queryRaw<Income>(
      `select ${INCOME_COLUMNS} from pam.income i where ${where.join(' and ')}
       order by i.date desc, i.created_at desc, i.id desc limit ${p(limit + 1)}`,
      values,
    )
    const { items, next_cursor } = page(rows, limit, (i) => [i.date, i.created_at, i.id])
    return c.json({ income: items, next_cursor }, 200)
  })

  app.openapi(getIncome, async (c) => {
    const { id } = c.req.valid('param')
    const [income] = await c.var.postgres.queryRaw<Income>(`select ${INCOME_COLUMNS} from pam.income i where i.id = $1`, [id])
    if (!income) throw notFound('income')
    return c.json({ income }, 200)
  })

  app.openapi(patchIncome, async (c) => {
    const { id } = c.req.valid('param')
    const patch = c.req.valid('json')
    const income = await writeTransaction(c, async (tx) => {
      await checkHustle(tx, patch.hustle_id)
      const { values, p } = params()
      const sets = Object.entries(patch).map(([k, v]) => `${k} = ${p(v)}::${COLUMN_TYPES[k]}`)
      const [row] = await tx.unsafe<Income[]>(
        `update pam.income i set ${sets.join(', ')} where i.id = ${p(id)}::uuid returning ${INCOME_COLUMNS}`,
        values as never[],
      )
      if (!row) throw notFound('income')
      return row
    })
    await invalidateSummaries(c)
    return c.json({ income }, 200)
  })

  app.openapi(deleteIncome, async (c) => {
    const { id } = c.req.valid('param')
    const rows = await c.var.postgres.transaction((tx) => tx`delete from pam.income where id = ${id} returning id`)
    if (!rows.length) throw notFound('income')
    await invalidateSummaries(c)
    return c.body(null, 204)
  })
}
