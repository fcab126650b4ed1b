// product-metrics: the product's figures for the UTC day before the job's
// instant, one row of pam.product_metrics (what the admin portal's health
// route reads): active users that day and over the 7 days ending it, new
// accounts, expenses and trips logged, messages to PAM, PAM's routing
// accuracy per intent from that day's feedback, the day's job runs and
// failures, and the notifications sent and read by kind. A user is active on
// a day they signed in or refreshed a session (each refresh counts on its own
// day: auth.refresh_tokens, not only the session's latest), or logged, wrote
// or asked anything. One statement (pam.jobs_product_metrics, last defined in
// migration 20261202012000: it reads auth). The job runs once per period (runs.ts): a repeated delivery
// for the same day is skipped; the function itself replaces the day's row
// when called again (by hand, to compute a day again).
import type { Tx } from '../_shared/db.ts'
import type { BatchResult } from './runs.ts'

export async function productMetrics(tx: Tx, at: Date): Promise<BatchResult> {
  const day = new Date(at.getTime() - 86_400_000).toISOString().slice(0, 10)
  const [r] = await tx`select pam.jobs_product_metrics(${day}::date) as written`
  return { rows_written: r.written, notifications: 0 }
}
