// sync: offline-first apps. GET /sync/pull returns what changed in the
// caller's tables since a cursor (WatermelonDB's pull shape); POST /sync/push
// applies a batch of offline changes in one transaction through the same
// domain code as the routes. See cursor.ts for why the cursor never skips a
// late commit, and push.ts for the conflict rule.
import { createApp, route, z } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { ApiError } from '../_shared/errors.ts'
import { body, json, writeTransaction } from '../_shared/resource.ts'
import { invalidateSummaries, WINS_REFUSALS } from '../wins/common.ts'
import { removeLeftObjects } from '../_shared/storage.ts'
import { invalidateVehiclesAndTrips, WHEELS_REFUSALS } from '../wheels/common.ts'
import { EVENT_REFUSALS } from '../you/events.ts'
import { CursorQuery, RETENTION_DAYS } from './cursor.ts'
import { pullChanges } from './pull.ts'
import { applyBatch, type Batch, MAX_CHANGES, validateBatch } from './push.ts'
import { syncTables } from './tables.ts'

/** How long a push's transaction may take in all (each statement keeps the statement timeout). */
const PUSH_DEADLINE_MS = 30_000

export interface SyncOptions {
  now: () => Date
}

const Changes = z.object({
  created: z.array(z.record(z.string(), z.unknown())),
  updated: z.array(z.record(z.string(), z.unknown())),
  deleted: z.array(z.string()),
}).openapi('SyncTableChanges')

export function createSyncApp(config: Config = getConfig(), options: Partial<SyncOptions> = {}): App {
  const opts: SyncOptions = { now: () => new Date(), ...options }
  const tables = syncTables(opts.now)
  const names = tables.map((t) => t.name) as [string, ...string[]]
  const pushable = tables.filter((t) => t.push).map((t) => t.name) as [string, ...string[]]
  const app = createApp('sync', config, 'Offline sync: pull what changed since a cursor, push a batch of offline changes.')

  const pull = route({
    method: 'get',
    path: '/pull',
    auth: 'user',
    tags: ['sync'],
    summary: 'What changed in your tables since the previous pull (WatermelonDB shape); 410 when the cursor is too old',
    request: {
      query: z.object({
        since: CursorQuery.optional(),
        tables: z.string().max(1000).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
          .pipe(z.array(z.enum(names)).min(1)).optional()
          .openapi({ type: 'string', description: `comma-separated, default all: ${names.join(', ')}` }),
      }),
    },
    responses: {
      200: {
        description: 'Changes, and the cursor for the next pull',
        ...json(z.object({
          changes: z.record(z.string(), Changes),
          timestamp: z.number().openapi({ description: 'the cursor: pass it as `since` next time (WatermelonDB: lastPulledAt)' }),
        })),
      },
      410: { description: `cursor_expired: older than the ${RETENTION_DAYS} days deletions are kept; pull without one` },
    },
  })

  const push = route({
    method: 'post',
    path: '/push',
    auth: 'user',
    tags: ['sync'],
    summary: 'Apply offline changes in one transaction, all or nothing, with a result per record',
    request: body(z.object({
      changes: z.partialRecord(z.enum(pushable), Changes.partial()),
      last_pulled_at: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional()
        .openapi({ description: 'the cursor of your last pull: rows changed on the server since then keep the server version' }),
    }).strict().openapi('SyncPush')),
    responses: {
      200: {
        description: 'Applied',
        ...json(z.object({
          results: z.array(z.object({
            table: z.string(),
            id: z.string(),
            op: z.enum(['create', 'update', 'delete']),
            result: z.enum(['applied', 'unchanged', 'conflict']),
            server: z.record(z.string(), z.unknown()).nullable().optional(),
          })),
          conflicts: z.number(),
        })),
      },
    },
  })

  app.openapi(pull, async (c) => {
    const q = c.req.valid('query')
    const wanted = q.tables ? tables.filter((t) => q.tables!.includes(t.name)) : tables
    const { changes, cursor } = await pullChanges(c.var.postgres, wanted, q.since ?? null)
    return c.json({ changes, timestamp: cursor }, 200)
  })

  app.openapi(push, async (c) => {
    const input = c.req.valid('json')
    const batch: Batch = {}
    let count = 0
    for (const [name, ch] of Object.entries(input.changes)) {
      batch[name] = { created: ch?.created ?? [], updated: ch?.updated ?? [], deleted: ch?.deleted ?? [] }
      count += batch[name].created.length + batch[name].updated.length + batch[name].deleted.length
    }
    if (count > MAX_CHANGES) {
      throw new ApiError(413, 'too_many_changes', `at most ${MAX_CHANGES} changes in one push; send the rest in another`)
    }
    const { valid, problems } = validateBatch(batch, tables.filter((t) => t.push))
    if (problems.length) {
      throw new ApiError(400, 'invalid_changes', `${problems.length} of the changes are not valid; nothing was applied`, {
        error_count: problems.length,
        errors: problems.slice(0, 100),
      })
    }
    const results = await writeTransaction(
      c,
      (tx) => applyBatch(tx, valid, tables.filter((t) => t.push), input.last_pulled_at ?? null, opts.now(), {
        ...WINS_REFUSALS,
        ...WHEELS_REFUSALS,
        ...EVENT_REFUSALS,
      }),
      {},
      // Many quick statements: the whole batch may take longer than one statement's timeout.
      { deadlineMs: PUSH_DEADLINE_MS },
    )
    if (results.some((r) => r.result === 'applied')) await invalidateSummaries(c)
    // A rig or trip PAM chat knows of, as the wheels routes drop it.
    if (results.some((r) => r.result === 'applied' && (r.table === 'vehicles' || r.table === 'trips'))) {
      await invalidateVehiclesAndTrips(c)
    }
    // A deleted expense's receipt, or one an update (or a retried create, push.ts) replaced, goes from storage too.
    if (results.some((r) => r.result === 'applied' && r.table === 'expenses')) {
      await removeLeftObjects(c.var.config, c.var.userId!)
    }
    return c.json({ results, conflicts: results.filter((r) => r.result === 'conflict').length } as never, 200)
  })

  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) => (app ??= createSyncApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
