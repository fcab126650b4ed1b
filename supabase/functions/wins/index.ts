// wins: the money side — expenses (classified, with their budget impact,
// a receipt in storage that a vision model reads into a draft), income,
// budgets, summaries, savings goals, hustles, categories, and CSV
// export/import. Every route is the signed-in user's own data, through the
// RLS-scoped c.var.postgres. Money is a decimal string in JSON ("12.50").
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerBudgetRoutes } from './budgets.ts'
import { registerCategoryRoutes } from './categories.ts'
import type { WinsOptions } from './common.ts'
import { registerExpenseCsvRoutes } from './expense-csv.ts'
import { registerExpenseRoutes } from './expenses.ts'
import { registerGoalRoutes } from './goals.ts'
import { registerHustleRoutes } from './hustles.ts'
import { registerIncomeRoutes } from './income.ts'
import { registerReceiptRoutes } from './receipts.ts'
import { registerReportRoutes } from './reports.ts'
import { registerSummaryRoutes } from './summary.ts'

/** JSON bodies of the wins routes are small; only the CSV import gets the app-wide limit (1 MiB by default). */
export const MAX_JSON_BODY_BYTES = 64 * 1024

export function createWinsApp(config: Config = getConfig(), options: Partial<WinsOptions> = {}): App {
  const opts: WinsOptions = { now: () => new Date(), ...options }
  const app = createApp(
    'wins',
    config,
    'Money on the road: expenses, income, budgets, summaries, savings goals, hustles. Amounts are decimal strings.',
    // JSON bodies are small; a CSV import keeps PAM_MAX_BODY_BYTES.
    { maxBodyBytes: MAX_JSON_BODY_BYTES, largeBodyPaths: ['/wins/expenses/import'] },
  )

  registerCategoryRoutes(app)
  // Before the expense routes: /expenses/export.csv and /expenses/import are not ids.
  registerExpenseCsvRoutes(app, opts)
  registerExpenseRoutes(app, opts)
  registerReceiptRoutes(app, opts)
  registerIncomeRoutes(app, opts)
  registerBudgetRoutes(app, opts)
  registerSummaryRoutes(app, opts)
  registerGoalRoutes(app, opts)
  registerHustleRoutes(app, opts)
  registerReportRoutes(app)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createWinsApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
