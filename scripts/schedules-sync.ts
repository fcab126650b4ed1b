// `npm run schedules:sync [-- --dry-run]`: makes the QStash schedules match the
// schedule table (supabase/functions/jobs/schedules.ts) with @upstash/qstash's
// Client: each job's schedule (stable id pam-<job>, destination
// $PAM_FUNCTIONS_URL/jobs/<job>, its cron in UTC and queue) is created or
// replaced when it differs, schedules of ours (id pam-…) no longer in the
// table are deleted, and every change is printed. --dry-run only reads the
// current schedules (none without QSTASH_TOKEN) and prints what it would do.
// The local stack runs the same function against its QStash stand-in.
import { Client } from '@upstash/qstash'
import {
  destinationOf,
  SCHEDULE_ID_PREFIX,
  scheduleIdOf,
  SCHEDULES,
} from '../supabase/functions/jobs/schedules.ts'

export interface Change {
  action: 'create' | 'update' | 'delete' | 'unchanged'
  scheduleId: string
  cron?: string
  destination?: string
}

type Schedules = Pick<Client['schedules'], 'list' | 'create' | 'delete'>

export async function syncSchedules(
  schedules: Schedules | undefined,
  functionsUrl: string,
  opts: { dryRun?: boolean } = {},
): Promise<Change[]> {
  const existing = schedules ? await schedules.list() : []
  const byId = new Map(existing.map((s) => [s.scheduleId, s]))
  const changes: Change[] = []
  for (const { job, cron, queue } of SCHEDULES) {
    const scheduleId = scheduleIdOf(job)
    const destination = destinationOf(functionsUrl, job)
    const now = byId.get(scheduleId)
    const same = now && now.cron === cron && now.destination === destination && (now.queueName ?? '') === queue
    changes.push({ action: same ? 'unchanged' : now ? 'update' : 'create', scheduleId, cron, destination })
    if (!same && !opts.dryRun) {
      // Creating with an existing id replaces that schedule.
      await schedules!.create({ scheduleId, destination, cron, queueName: queue, retries: 3 })
    }
  }
  const wanted = new Set(SCHEDULES.map((s) => scheduleIdOf(s.job)))
  for (const s of existing) {
    if (!s.scheduleId.startsWith(SCHEDULE_ID_PREFIX) || wanted.has(s.scheduleId)) continue
    changes.push({ action: 'delete', scheduleId: s.scheduleId, cron: s.cron, destination: s.destination })
    if (!opts.dryRun) await schedules!.delete(s.scheduleId)
  }
  return changes
}

export const describe = (c: Change) =>
  `${c.action.padEnd(9)} ${c.scheduleId.padEnd(28)} ${(c.cron ?? '').padEnd(12)} ${c.destination ?? ''}`

if (import.meta.main) {
  const env = (name: string) => Deno.env.get(name) || undefined
  const dryRun = Deno.args.includes('--dry-run')
  const unknown = Deno.args.filter((a) => a !== '--dry-run')
  const supabaseUrl = env('SUPABASE_URL')
  const functionsUrl = env('PAM_FUNCTIONS_URL') ?? (supabaseUrl && `${supabaseUrl.replace(/\/+$/, '')}/functions/v1`)
  const token = env('QSTASH_TOKEN')
  const problems = [
    ...(unknown.length ? [`unknown arguments: ${unknown.join(' ')} (only --dry-run)`] : []),
    ...(functionsUrl ? [] : ['set PAM_FUNCTIONS_URL (https://<project>.supabase.co/functions/v1) or SUPABASE_URL']),
    ...(token || dryRun ? [] : ['set QSTASH_TOKEN (and QSTASH_URL for a region other than the default)']),
  ]
  if (problems.length) {
    console.error(problems.join('\n'))
    Deno.exit(2)
  }
  const client = token
    ? new Client({ token, baseUrl: env('QSTASH_URL') ?? 'https://qstash.upstash.io', devMode: false, enableTelemetry: false })
    : undefined
  try {
    const changes = await syncSchedules(client?.schedules, functionsUrl!, { dryRun })
    console.log(dryRun ? 'Dry run: nothing changed.' : 'QStash schedules:')
    for (const c of changes) console.log(`  ${describe(c)}`)
  } catch (err) {
    console.error(`schedules:sync failed: ${err instanceof Error ? err.message : err}`)
    Deno.exit(1)
  }
}
