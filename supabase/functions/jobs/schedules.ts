// The one schedule table: which job runs when (cron, in UTC as QStash's are)
// and on which QStash queue. `npm run schedules:sync` makes the QStash
// schedules match it; the local stack fires the same table.
export const JOB_NAMES = ['daily-analytics', 'maintenance-reminders', 'budget-alerts', 'cleanup', 'event-reminders', 'product-metrics', 'document-reminders', 'email-deliveries', 'email-digest'] as const
export type JobName = typeof JOB_NAMES[number]

export interface Schedule {
  job: JobName
  /** Five-field cron expression, UTC. */
  cron: string
  /** QStash queue the deliveries go through (one at a time per queue). */
  queue: string
  description: string
}

export const SCHEDULES: Schedule[] = [
  { job: 'daily-analytics', cron: '0 2 * * *', queue: 'pam-jobs', description: "each traveller's report of their last full local day" },
  { job: 'maintenance-reminders', cron: '0 8 * * *', queue: 'pam-jobs', description: 'maintenance due within 30 days or 1,000 km' },
  { job: 'budget-alerts', cron: '0 20 * * *', queue: 'pam-jobs', description: 'budgets at 80% and 100% of their period' },
  { job: 'cleanup', cron: '30 3 * * *', queue: 'pam-jobs', description: 'expired sessions and tokens, old notifications, expired memories, run history' },
  { job: 'product-metrics', cron: '15 0 * * *', queue: 'pam-jobs', description: "the product's figures for the UTC day before (the admin portal's health)" },
  { job: 'document-reminders', cron: '10 8 * * *', queue: 'pam-jobs', description: "documents expiring in 30 and in 7 days (the traveller's time zone)" },
  { job: 'event-reminders', cron: '*/5 * * * *', queue: 'pam-reminders', description: "calendar events' reminders that came due (and any missed in the last 6 hours)" },
  { job: 'email-deliveries', cron: '* * * * *', queue: 'pam-email', description: 'the emails that are due: notifications and digests, retries with backoff' },
  { job: 'email-digest', cron: '0 * * * *', queue: 'pam-email', description: "each traveller's daily digest once their local time reaches PAM_EMAIL_DIGEST_HOUR" },
]

/** The QStash schedule id of a job: stable, so a sync updates rather than duplicates. */
export const scheduleIdOf = (job: JobName) => `pam-${job}`
export const SCHEDULE_ID_PREFIX = 'pam-'

/** Where QStash delivers a job's calls. */
export const destinationOf = (functionsUrl: string, job: JobName) => `${functionsUrl.replace(/\/+$/, '')}/jobs/${job}`
