// GET /wins/reports: the daily report the daily-analytics job wrote for a
// day (jobs/daily-analytics.ts), or the latest one. Read as the caller under
// RLS: only their own.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { notFound } from '../_shared/errors.ts'
import { errorOf, isoSql, json } from '../_shared/resource.ts'
import { calendarDate } from './periods.ts'

const DailyReport = z.object({
  id: z.string(),
  date: z.string(),
  currency: z.string(),
  total_spent: z.string().openapi({ description: 'spent that day in the home currency' }),
  expense_count: z.number(),
  spend_by_category: z.array(z.object({ category: z.string(), currency: z.string(), amount: z.string(), count: z.number() })),
  budgets: z.array(z.object({
    budget_id: z.string(),
    category: z.string(),
    period: z.string(),
    period_start: z.string(),
    period_end: z.string(),
    spent: z.string().openapi({ description: "the period's spending through that day" }),
    available: z.string(),
    percent: z.number().nullable(),
    status: z.enum(['ok', 'warning', 'over']),
  })),
  distance_km: z.string().nullable().openapi({ description: 'odometer distance that day over all vehicles, in km' }),
  fill_ups: z.number(),
  fuel_volume: z.string().openapi({ description: 'litres or gallons, as entered' }),
  fuel_cost: z.string(),
  created_at: z.string(),
}).openapi('DailyReport')

const reportRoute = route({
  auth: 'user',
  method: 'get',
  path: '/reports',
  tags: ['wins: reports'],
  summary: 'Your daily report for a day (written each night by the daily-analytics job), or the latest',
  request: {
    query: z.object({ date: calendarDate().optional().openapi({ description: 'the day (default: the latest report)' }) }),
  },
  responses: {
    200: { description: 'The report', ...json(z.object({ report: DailyReport })) },
    404: errorOf('No report for that day (nothing was recorded, or the job has not run yet)'),
  },
})

export function registerReportRoutes(app: App) {
  app.openapi(reportRoute, async (c) => {
    const { date } = c.req.valid('query')
    const [row] = await c.var.postgres.queryRaw(
      `select r.id, r.date::text as date, r.currency::text as currency, r.total_spent::text as total_spent,
              r.expense_count, r.spend_by_category, r.budgets, r.distance_km::text as distance_km, r.fill_ups,
              r.fuel_volume::text as fuel_volume, r.fuel_cost::text as fuel_cost, ${isoSql('r.created_at')} as created_at
       from pam.daily_reports r
       where r.user_id = (select auth.uid()) ${date ? 'and r.date = $1::date' : ''}
       order by r.date desc limit 1`,
      date ? [date] : [],
    )
    if (!row) throw notFound('report')
    return c.json({ report: row as unknown as z.infer<typeof DailyReport> }, 200)
  })
}
