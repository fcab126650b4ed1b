// /wins/hustles: ways of earning on the road, and what each one returns —
// income, expenses, profit, ROI and hourly rate from the income and expenses
// linked to it (in the home currency), computed in SQL.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { notFound } from '../_shared/errors.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import {
  errorOf,
  IdParams,
  isoSql,
  json,
  moneyContext,
  WINS_REFUSALS,
  type WinsOptions,
} from './common.ts'
import { createOf, newestFirst, patchOf, registerResource, type ResourceSpec } from '../_shared/resource.ts'
import { divRound, fromCents, percentOf, toCents } from './money.ts'
import { calendarDate } from './periods.ts'

export const HUSTLE_KINDS = [
  'freelance',
  'remote_work',
  'seasonal_work',
  'gig',
  'crafts',
  'content',
  'workamping',
  'other',
] as const
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

const Roi = z.object({
  hustle_id: z.string(),
  title: z.string(),
  status: HustleStatus,
  currency: z.string(),
  income: z.string(),
  expenses: z.string(),
  profit: z.string(),
  roi_percent: z.number().nullable().openapi({
    description: 'profit ÷ expenses × 100; null without expenses',
  }),
  hours_invested: z.number(),
  hourly_rate: z.string().nullable().openapi({ description: 'profit ÷ hours; null without hours' }),
  verdict: z.enum(['profitable', 'break_even', 'losing_money', 'no_data']),
}).openapi('HustleRoi')
type Roi = z.infer<typeof Roi>

const COLUMNS: Record<string, string> = {
  title: 'text',
  kind: 'text',
  status: 'text',
  hours_invested: 'numeric',
  started_on: 'date',
  notes: 'text',
}

const tags = ['wins: hustles']

const allRoi = route({
  method: 'get',
  path: '/hustles/roi',
  auth: 'user',
  tags,
  summary: 'ROI of every hustle, best (highest profit) first',
  responses: { 200: { description: 'Every hustle', ...json(z.object({ hustles: z.array(Roi) })) } },
})

const oneRoi = route({
  method: 'get',
  path: '/hustles/{id}/roi',
  auth: 'user',
  tags,
  summary: "A hustle's income, expenses, profit, ROI and hourly rate",
  request: { params: IdParams },
  responses: {
    200: { description: 'ROI', ...json(z.object({ roi: Roi })) },
    404: errorOf('No such hustle'),
  },
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

/** The resource's declaration (also used by sync). */
export const hustleResource: ResourceSpec = {
  one: 'hustle',
  many: 'hustles',
  noun: 'hustle',
  path: '/hustles',
  table: 'pam.hustles',
  alias: 'h',
  tags,
  schema: Hustle,
  select: `h.id, h.title, h.kind, h.status, h.hours_invested::float8 as hours_invested,
    h.started_on::text as started_on, h.notes, ${isoSql('h.created_at')} as created_at, ${
    isoSql('h.updated_at')
  } as updated_at`,
  order: newestFirst('h'),
  listSummary: 'Hustles, newest first',
  filters: {
    fields: { status: HustleStatus.optional() },
    where: (f, p) => (f.status ? [`h.status = ${p(f.status)}`] : []),
  },
  create: {
    schema: createOf(fields).openapi('HustleCreate'),
    columns: COLUMNS,
    summary: 'Add a hustle',
  },
  patch: {
    schema: patchOf(fields).openapi('HustlePatch'),
    columns: COLUMNS,
    summary: 'Change a hustle',
  },
  refusals: WINS_REFUSALS,
}

export function registerHustleRoutes(app: App, opts: WinsOptions) {
  // Before the resource's /hustles/{id}: "roi" is not an id.
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

  app.openapi(oneRoi, async (c) => {
    const { id } = c.req.valid('param')
    const [roi] = await c.var.postgres.transaction(async (tx) =>
      roiRows(tx, (await moneyContext(tx, opts.now())).currency, id)
    )
    if (!roi) throw notFound('hustle')
    return c.json({ roi }, 200)
  })

  registerResource(app, hustleResource)
}
