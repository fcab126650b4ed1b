// /wins/income: money in. Create, list (filters, keyset pages newest first),
// read, update, delete — declared as a resource. Every write drops the
// user's cached summaries.
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import {
  createOf,
  latestDayFirst,
  patchOf,
  registerResource,
  type ResourceSpec,
  withDateRange,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import {
  Currency,
  invalidateSummaries,
  isoSql,
  likePattern,
  moneyContext,
  Uuid,
  WINS_REFUSALS,
  type WinsOptions,
} from './common.ts'
import { money } from './money.ts'
import { calendarDate } from './periods.ts'

const fields = {
  amount: money(),
  currency: Currency.optional().openapi({
    description: "default: the profile's currency, else AUD",
  }),
  source: singleLineText({ max: 200 }).openapi({ example: 'Harvest work, Mildura' }),
  description: multiLineText({ min: 0, max: 500 }).optional(),
  date: calendarDate().optional().openapi({
    description: "the local calendar day; default: today in the profile's time zone",
  }),
  recurring: z.boolean().optional(),
  hustle_id: Uuid.nullable().optional(),
}

const COLUMNS: Record<string, string> = {
  amount: 'numeric',
  currency: 'text',
  source: 'text',
  description: 'text',
  date: 'date',
  recurring: 'boolean',
  hustle_id: 'uuid',
}

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

/** The resource's declaration (also used by sync). */
export const incomeResource = (opts: WinsOptions): ResourceSpec => ({
  one: 'income',
  many: 'income',
  noun: 'income',
  path: '/income',
  table: 'pam.income',
  alias: 'i',
  tags: ['wins: income'],
  schema: Income,
  select: `i.id, i.amount::text as amount, i.currency::text as currency, i.source, i.description,
    i.date::text as date, i.recurring, i.hustle_id, ${isoSql('i.created_at')} as created_at,
    ${isoSql('i.updated_at')} as updated_at`,
  order: latestDayFirst('i'),
  listSummary: 'Income, newest first, filtered, one page at a time',
  filters: withDateRange('i.date', {
    fields: {
      hustle_id: Uuid.optional(),
      recurring: z.enum(['true', 'false']).optional(),
      q: singleLineText({ max: 100 }).optional().openapi({
        description: 'text in the source or description',
      }),
    },
    where: (f, p) => {
      const where: string[] = []
      if (f.hustle_id) where.push(`i.hustle_id = ${p(f.hustle_id)}::uuid`)
      if (f.recurring) where.push(`i.recurring = ${p(f.recurring === 'true')}::boolean`)
      if (f.q) {
        const q = p(likePattern(f.q as string))
        where.push(`(i.source ilike ${q} or i.description ilike ${q})`)
      }
      return where
    },
  }),
  create: {
    schema: createOf(fields).openapi('IncomeCreate'),
    columns: COLUMNS,
    summary: 'Record income',
    prepare: async (tx, input) =>
      input.date ? input : { ...input, date: (await moneyContext(tx, opts.now())).today },
  },
  patch: {
    schema: patchOf(fields).openapi('IncomePatch'),
    columns: COLUMNS,
    summary: 'Change an income entry (hustle_id null unlinks)',
  },
  refusals: WINS_REFUSALS,
  afterWrite: invalidateSummaries,
})

export function registerIncomeRoutes(app: App, opts: WinsOptions) {
  registerResource(app, incomeResource(opts))
}
