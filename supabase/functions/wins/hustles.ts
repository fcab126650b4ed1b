// /wins/hustles: ways of earning on the road, and what each one returns —
// income, expenses, profit, ROI and hourly rate from the income and expenses
// linked to it (in the home currency), computed in SQL.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { notFound } from '../_shared/errors.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { body, errorOf, IdParams, isoSql, json, moneyContext, params, type WinsOptions, writeTransaction } from './common.ts'
import { divRound, fromCents, percentOf, toCents } from './money.ts'
import { decodeCursor, page, PageQuery } from './pagination.ts'
import { calendarDate } from './periods.ts'

export const HUSTLE_KINDS = ['freelance', 'remote_work', 'seasonal_work', 'gig', 'crafts', 'content', 'workamping', 'other'] as const
const HustleStatus = z.enum(['idea', 'active', 'paused', 'dropped'])

const Hours = z.number().min(0).max(100_000)
  .refine((h) => /^\d+(\.\d{1,2})?$/.test(String(h)), 'at most 2 decimals')
  .openapi({ example: 12.5 })

const fields = {
  title: singleLineText({ max: 200 }).openapi({ example: 'Mobile bike repairs' }),
  kind: z.enum(HUSTLE_KINDS).optional().openapi({ description: 'default other' }),
  status: HustleStatus.optional().openapi({ description: 'default idea' }),
  hours_invested: Hours.optional(),
  started_on: calendarDate().nullable().optional(),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
}
const HustleCreate = z.object(fields).strict().openapi('HustleCreate')
const HustlePatch = z.object(fields).partial().strict()
  .refine((v) => Object.keys(v).length > 0, 'nothing to update').openapi('HustlePatch')

const Hustle = z.object({
  id: z.string(),
  title: z.string(),
  kind: z.enum(HUSTLE_KINDS),
  status: HustleStatus,
  hours_invested: z.number(),
  started_on: z.string().nullable(),
  notes: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Hustle')
type Hustle = z.infer<typeof Hustle>

const Roi = z.object({
  hustle_id: z.string(),
  title: z.string(),
  status: HustleStatus,
  currency: z.string(),
  income: z.string(),
  expenses: z.string(),
  profit: z.string(),
  roi_percent: z.number().nullable().openapi({ description: 'profit ÷ expenses × 100; null without expenses' }),
  hours_invested: z.number(),
  hourly_rate: z.string().nullable().openapi({ description: 'profit ÷ hours; null without hours' }),
  verdict: z.enum(['profitable', 'break_even', 'losing_money', 'no_data']),
}).openapi('HustleRoi')
type Roi = z.infer<typeof Roi>

const HUSTLE_COLUMNS = `h.id, h.title, h.kind, h.status, h.hours_invested::float8 as hours_invested,
  h.started_on::text as started_on, h.notes, ${isoSql('h.created_at')} as created_at, ${isoSql('h.updated_at')} as updated_at`

const COLUMN_TYPES: Record<string, string> = {
  title: 'text', kind: 'text', status: 'text', hours_invested: 'numeric', started_on: 'date', notes: 'text',
}

const tags = ['wins: hustles']

const createHustle = route({
  method: 'post',
  path: '/hustles',
  auth: 'user',
  tags,
  summary: 'Add a hustle',
  request: body(HustleCreate),
  responses: { 201: { description: 'Created', ...json(z.object({ hustle: Hustle })) } },
})

const listHustles = route({
  method: 'get',
  path: '/hustles',
  auth: 'user',
  tags,
  summary: 'Hustles, newest first',
  request: { query: z.object({ status: HustleStatus.optional(), ...PageQuery }) },
  responses: { 200: { description: 'A page', ...json(z.object({ hustles: z.array(Hustle), next_cursor: z.string().nullable() })) } },
})

const allRoi = route({
  method: 'get',
  path: '/hustles/roi',
  auth: 'user',
  tags,
  summary: 'ROI of every hustle, best (highest profit) first',
  responses: { 200: { description: 'Every hustle', ...json(z.object({ hustles: z.array(Roi) })) } },
})

const getHustle = route({
  method: 'get',
  path: '/hustles/{id}',
  auth: 'user',
  tags,
  summary: 'One hustle',
  request: { params: IdParams },
  responses: { 200: { description: 'The hustle', ...json(z.object({ hustle: Hustle })) }, 404: errorOf('No such hustle') },
})

const oneRoi = route({
  method: 'get',
  path: '/hustles/{id}/roi',
  auth: 'user',
  tags,
  summary: "A hustle's income, expenses, profit, ROI and hourly rate",
  request: { params: IdParams },
  responses: { 200: { description: 'ROI', ...json(z.object({ roi: Roi })) }, 404: errorOf('No such hustle') },
})

const patchHustle = route({
  method: 'patch',
  path: '/hustles/{id}',
  auth: 'user',
  tags,
  summary: 'Change a hustle',
  request: { params: IdParams, ...body(HustlePatch) },
  responses: { 200: { description: 'Updated', ...json(z.object({ hustle: Hustle })) }, 404: errorOf('No such hustle') },
})

const deleteHustle = route({
  method: 'delete',
  path: '/hustles/{id}',
  auth: 'user',
  tags,
  summary: 'Delete a hustle (its income and expenses stay, unlinked)',
  request: { params: IdParams },
  responses: { 204: { description: 'Deleted' }, 404: errorOf('No such hustle') },
})

interface RoiRow {
  id: string
  title: string
  status: Roi['status']
  hours: string
  income: string
  expenses: string
}

async function roiRows(tx: Tx, currency: string, id?: string): Promise<Roi[]> {
  const rows = await tx.unsafe<RoiRow[]>(
    `select h.id, h.title, h.status, h.hours_invested::text as hours,
            coalesce((select sum(i.amount) from pam.income i
                      where i.user_id = h.user_id and i.hustle_id = h.id and i.currency = $1), 0)::text as income,
            coalesce((select sum(e.amount) from pam.expenses e
                      where e.user_id = h.user_id and e.hustle_id = h.id and e.currency = $1), 0)::text as expenses
     from pam.hustles h
     where h.user_id = (select auth.uid()) ${id ? 'and h.id = $2::uuid' : ''}`,
    (id ? [currency, id] : [currency]) as never[],
  )
  return rows.map((r) => {
    const income = toCents(r.income)
    const expenses = toCents(r.expenses)
    const profit = income - expenses
    // Hours have two decimals: as hundredths they are an integer like cents.
    const hundredths = toCents(r.hours)
    return {
      hustle_id: r.id,
      title: r.title,
      status: r.status,
      currency,
      income: fromCents(income),
      expenses: fromCents(expenses),
      profit: fromCents(profit),
      roi_percent: percentOf(profit, expenses),
      hours_invested: Number(r.hours),
      hourly_rate: hundredths > 0n ? fromCents(divRound(profit * 100n, hundredths)) : null,
      verdict: income === 0n && expenses === 0n
        ? 'no_data'
        : profit > 0n
        ? 'profitable'
        : profit < 0n
        ? 'losing_money'
        : 'break_even',
    }
  })
}

export function registerHustleRoutes(app: App, opts: WinsOptions) {
  app.openapi(createHustle, async (c) => {
    const input = c.req.valid('json')
    const [hustle] = await writeTransaction(c, (tx) =>
      tx.unsafe<Hustle[]>(
        `insert into pam.hustles as h (title, kind, status, hours_invested, started_on, notes)
         values ($1, $2, $3, $4::numeric, $5::date, $6) returning ${HUSTLE_COLUMNS}`,
        [
          input.title,
          input.kind ?? 'other',
          input.status ?? 'idea',
          input.hours_invested ?? 0,
          input.started_on ?? null,
          input.notes ?? '',
        ] as never[],
      )
    )
    return c.json({ hustle }, 201)
  })

  app.openapi(listHustles, async (c) => {
    const { status, limit, cursor } = c.req.valid('query')
    const { values, p } = params()
    const where = ['h.user_id = (select auth.uid())']
    if (status) where.push(`h.status = ${p(status)}`)
    if (cursor) {
      const [t, id] = decodeCursor(cursor, ['timestamp', 'uuid'])
      where.push(`(h.created_at, h.id) < (${p(t)}::text::timestamptz, ${p(id)}::uuid)`)
    }
    const rows = await c.var.postgres.queryRaw<Hustle>(
      `select ${HUSTLE_COLUMNS} from pam.hustles h where ${where.join(' and ')}
       order by h.created_at desc, h.id desc limit ${p(limit + 1)}`,
      values,
    )
    const { items, next_cursor } = page(rows, limit, (h) => [h.created_at, h.id])
    return c.json({ hustles: items, next_cursor }, 200)
  })

  // Before /hustles/{id}: "roi" is not an id.
  app.openapi(allRoi, async (c) => {
    const hustles = await c.var.postgres.transaction(async (tx) =>
      roiRows(tx, (await moneyContext(tx, opts.now())).currency)
    )
    hustles.sort((a, b) => {
      const d = toCents(b.profit) - toCents(a.profit)
      return d !== 0n ? (d > 0n ? 1 : -1) : a.title.localeCompare(b.title)
    })
    return c.json({ hustles }, 200)
  })

  app.openapi(getHustle, async (c) => {
    const { id } = c.req.valid('param')
    const [hustle] = await c.var.postgres.queryRaw<Hustle>(`select ${HUSTLE_COLUMNS} from pam.hustles h where h.id = $1`, [id])
    if (!hustle) throw notFound('hustle')
    return c.json({ hustle }, 200)
  })

  app.openapi(oneRoi, async (c) => {
    const { id } = c.req.valid('param')
    const [roi] = await c.var.postgres.transaction(async (tx) =>
      roiRows(tx, (await moneyContext(tx, opts.now())).currency, id)
    )
    if (!roi) throw notFound('hustle')
    return c.json({ roi }, 200)
  })

  app.openapi(patchHustle, async (c) => {
    const { id } = c.req.valid('param')
    const patch = c.req.valid('json')
    const { values, p } = params()
    const sets = Object.entries(patch).map(([k, v]) => `${k} = ${p(v)}::${COLUMN_TYPES[k]}`)
    const [hustle] = await writeTransaction(c, (tx) =>
      tx.unsafe<Hustle[]>(
        `update pam.hustles h set ${sets.join(', ')} where h.id = ${p(id)}::uuid returning ${HUSTLE_COLUMNS}`,
        values as never[],
      )
    )
    if (!hustle) throw notFound('hustle')
    return c.json({ hustle }, 200)
  })

  app.openapi(deleteHustle, async (c) => {
    const { id } = c.req.valid('param')
    const rows = await c.var.postgres.transaction((tx) => tx`delete from pam.hustles where id = ${id} returning id`)
    if (!rows.length) throw notFound('hustle')
    return c.body(null, 204)
  })
}
