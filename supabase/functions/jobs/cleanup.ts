// cleanup: what has outlived its use, in one transaction (pam.jobs_cleanup):
// ended sessions and refresh tokens revoked over a day ago, read
// notifications after 30 days and any after 180, the keys of notifications sent
// (which keep them from being sent again) after 400, PAM's expired memories, job
// runs after 90 days, daily reports after 400 days, and sync's answers and
// tombstones past their retention. Then files no row uses (through the Storage
// API, with the secret key): what deleted rows and accounts left queued, and
// uploads never attached to anything after a week (see _shared/storage.ts); a
// run removes at most STORAGE_BATCH of each, and what the Storage API refuses
// stays for the next run.
import type { Config } from '../_shared/config.ts'
import type { Tx } from '../_shared/db.ts'
import { sweepObjects, UNATTACHED_GRACE } from '../_shared/storage.ts'
import type { BatchResult } from './runs.ts'

export const STORAGE_BATCH = 1000

// Keys outlive every notification (and a yearly budget's period): see notification_keys.
export const RETENTION_DAYS = { readNotifications: 30, notifications: 180, jobRuns: 90, dailyReports: 400, notificationKeys: 400 }

export async function cleanup(tx: Tx, config: Config): Promise<BatchResult & { removed: Record<string, number> }> {
  const r = RETENTION_DAYS
  const [row] = await tx`
    select *, pam.notification_keys_cleanup(${r.notificationKeys}) as notification_keys
    from pam.jobs_cleanup(${r.readNotifications}, ${r.notifications}, ${r.jobRuns}, ${r.dailyReports})`
  const removed = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]))
  const files = await sweepObjects(tx, config, { userId: null, grace: UNATTACHED_GRACE, max: STORAGE_BATCH })
  removed.storage_objects = files.removed
  return { rows_written: Object.values(removed).reduce((a, b) => a + b, 0), notifications: 0, removed }
}
