// /wins/goals: savings goals and their contributions. The saved amount is the
// sum of the goal's contributions, kept by a trigger in the same statement as
// each contribution; answers carry progress and the monthly amount needed to
// reach the target date.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { Tx } from '../_shared/db.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { body, errorOf, IdParams, isoSql, json, type MoneyContext, moneyContext, params, type WinsOptions, writeTransaction } from './common.ts'
import { fromCents, MAX_TARGET, money, percentOf, toCents } from './money.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import { ClientId, createOf, idTaken } from '../_shared/resource.ts'
import { calendarDate, daysBetween } from './periods.ts'

const GoalStatus = z.enum(['active', 'paused', 'achieved', 'abandoned'])

const fields = {
  name: singleLineText({ max: 200 }).openapi({ example: 'New solar panels' }),
  target_amount: money(MAX_TARGET),
  target_date: calendarDate().nullable().optional(),
  status: GoalStatus.optional().openapi({ description: 'default active; an active goal becomes achieved when saved reaches the target' }),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
}
const GoalCreate = createOf(fields).openapi('GoalCreate')
const GoalPatch = z.object(fields).partial().strict()
  .refine((v) => Object.keys(v).length > 0, 'nothing to update').openapi('GoalPatch')

const Goal = z.object({
  id: z.string(),
  name: z.string(),
  target_amount: z.string(),
  saved_amount: z.string(),
  remaining: z.string(),
  progress_percent: z.number(),
  target_date: z.string().nullable(),
  months_left: z.number().nullable().openapi({ description: 'until target_date (days ÷ 30.44, rounded up); 0 when it has passed' }),
  monthly_needed: z.string().nullable()
    .openapi({ description: 'remaining ÷ months_left, rounded up to the cent; all of it when the date has passed; null without a target date' }),
  status: GoalStatus,
  notes: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Goal')
type Goal = z.infer<typeof Goal>

const ContributionCreate = z.object({
  id: ClientId,
  amount: money(),
  kind: z.enum(['deposit', 'withdrawal']).default('deposit'),
  date: calendarDate().optional().openapi({ description: "default: today in the profile's time zone" }),
  note: multiLineText({ min: 0, max: 500 }).optional(),
}).strict().openapi('ContributionCreate')

const Contribution = z.object({
  id: z.string(),
  goal_id: z.string(),
  amount: z.string(),
  kind: z.enum(['deposit', 'withdrawal']),
  date: z.string(),
  note: z.string(),
  created_at: z.string(),
}).openapi('Contribution')
type Contribution = z.infer<typeof Contribution>

type GoalRow = Omit<Goal, 'remaining' | 'progress_percent' | 'months_left' | 'monthly_needed'>

export const GOAL_COLUMNS = `g.id, g.name, g.target_amount::text as target_amount, g.saved_amount::text as saved_amount,
  g.target_date::text as target_date, g.status, g.notes, ${isoSql('g.created_at')} as created_at,
  ${isoSql('g.updated_at')} as updated_at`
export const CONTRIBUTION_COLUMNS = `k.id, k.goal_id, k.amount::text as amount, k.kind, k.date::text as date, k.note,
  ${isoSql('k.created_at')} as created_at`

/** Adds a deposit or withdrawal to goal `id` (the route's and PAM's): the contribution and the goal's progress.
 * A client-generated id sent again answers the same contribution (`created: false`). */
export async function contribute(
  tx: Tx,
  ctx: MoneyContext,
  id: string,
  input: { id?: string; amount: string; kind: 'deposit' | 'withdrawal'; date?: string; note?: string },
) {
  // Lock the goal: concurrent contributions apply one after the other.
  const [locked] = await tx`select saved_amount::text as saved from pam.savings_goals where id = ${id} for update`
  if (!locked) throw notFound('goal')
  if (input.id) {
    // Sent before (a retry, or an offline app syncing): the same contribution, not a second one.
    const [seen] = await tx.unsafe<Contribution[]>(
      `select ${CONTRIBUTION_COLUMNS} from pam.goal_contributions k where k.id = $1::uuid and k.goal_id = $2::uuid`,
      [input.id, id],
    )
    if (seen) return { created: false, body: { contribution: seen, goal: withProgress((await readGoal(tx, id))!, ctx.today) } }
  }
  if (input.kind === 'withdrawal' && toCents(input.amount) > toCents(locked.saved)) {
    throw new ApiError(409, 'insufficient_savings', `only ${locked.saved} is saved towards this goal`)
  }
  const [contribution] = await tx.unsafe<Contribution[]>(
    `insert into pam.goal_contributions as k (id, goal_id, amount, kind, date, note)
     values (coalesce($6::uuid, gen_random_uuid()), $1::uuid, $2::numeric, $3, $4::date, $5)
     on conflict (id) do nothing returning ${CONTRIBUTION_COLUMNS}`,
    [id, input.amount, input.kind, input.date ?? ctx.today, input.note ?? '', input.id ?? null] as never[],
  )
  if (!contribution) throw idTaken()
  return { created: true, body: { contribution, goal: withProgress((await readGoal(tx, id))!, ctx.today) } }
}

/** Progress and the monthly amount needed, as of `today`. */
export function withProgress(g: GoalRow, today: string): Goal {
  const target = toCents(g.target_amount)
  const saved = toCents(g.saved_amount)
  const remaining = target > saved ? target - saved : 0n
  let months_left: number | null = null
  let monthly_needed: string | null = null
  if (g.target_date) {
    const days = daysBetween(today, g.target_date)
    // An average month is 1461/48 days (365.25 / 12).
    months_left = days > 0 ? Math.ceil((days * 48) / 1461) : 0
    const perMonth = months_left > 0 ? (remaining + BigInt(months_left) - 1n) / BigInt(months_left) : remaining
    monthly_needed = fromCents(perMonth)
  }
  return {
    ...g,
    remaining: fromCents(remaining),
    progress_percent: percentOf(saved, target) ?? 0,
    months_left,
    monthly_needed,
  }
}

const tags = ['wins: goals']

const createGoal = route({
  method: 'post',
  path: '/goals',
  auth: 'user',
  tags,
  summary: 'Create a savings goal',
  request: body(GoalCreate),
  responses: {
    201: { description: 'Created', ...json(z.object({ goal: Goal })) },
    200: { description: 'Already created with this client-generated id: the existing goal', ...json(z.object({ goal: Goal })) },
    409: errorOf('id_taken: the client-generated id is already used'),
  },
})

const listGoals = route({
  method: 'get',
  path: '/goals',
  auth: 'user',
  tags,
  summary: 'Savings goals, newest first',
  request: { query: z.object({ status: GoalStatus.optional(), ...PageQuery }) },
  responses: { 200: { description: 'A page', ...json(z.object({ goals: z.array(Goal), next_cursor: z.string().nullable() })) } },
})

const getGoal = route({
  method: 'get',
  path: '/goals/{id}',
  auth: 'user',
  tags,
  summary: 'One savings goal with its progress',
  request: { params: IdParams },
  responses: { 200: { description: 'The goal', ...json(z.object({ goal: Goal })) }, 404: errorOf('No such goal') },
})

const patchGoal = route({
  method: 'patch',
  path: '/goals/{id}',
  auth: 'user',
  tags,
  summary: 'Change a goal (target_date null clears it; the saved amount changes only through contributions)',
  request: { params: IdParams, ...body(GoalPatch) },
  responses: { 200: { description: 'Updated', ...json(z.object({ goal: Goal })) }, 404: errorOf('No such goal') },
})

const deleteGoal = route({
  method: 'delete',
  path: '/goals/{id}',
  auth: 'user',
  tags,
  summary: 'Delete a goal and its contributions',
  request: { params: IdParams },
  responses: { 204: { description: 'Deleted' }, 404: errorOf('No such goal') },
})

const addContribution = route({
  method: 'post',
  path: '/goals/{id}/contributions',
  auth: 'user',
  tags,
  summary: 'Deposit into or withdraw from a goal; the saved amount changes atomically',
  request: { params: IdParams, ...body(ContributionCreate) },
  responses: {
    201: { description: 'Recorded', ...json(z.object({ contribution: Contribution, goal: Goal })) },
    200: {
      description: 'Already recorded with this client-generated id: the existing contribution',
      ...json(z.object({ contribution: Contribution, goal: Goal })),
    },
    404: errorOf('No such goal'),
    409: errorOf('insufficient_savings: a withdrawal larger than the saved amount; id_taken'),
  },
})

const listContributions = route({
  method: 'get',
  path: '/goals/{id}/contributions',
  auth: 'user',
  tags,
  summary: "A goal's contributions, newest first",
  request: { params: IdParams, query: z.object(PageQuery) },
  responses: {
    200: { description: 'A page', ...json(z.object({ contributions: z.array(Contribution), next_cursor: z.string().nullable() })) },
    404: errorOf('No such goal'),
  },
})

async function readGoal(tx: Tx, id: string): Promise<GoalRow | undefined> {
  const [g] = await tx.unsafe<GoalRow[]>(`select ${GOAL_COLUMNS} from pam.savings_goals g where g.id = $1`, [id])
  return g
}

const COLUMN_TYPES: Record<string, string> = {
  name: 'text', target_amount: 'numeric', target_date: 'date', status: 'text', notes: 'text',
}

export function registerGoalRoutes(app: App, opts: WinsOptions) {
  app.openapi(createGoal, async (c) => {
    const input = c.req.valid('json')
    const { goal, created } = await writeTransaction(c, async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const [row] = await tx.unsafe<GoalRow[]>(
        `insert into pam.savings_goals as g (id, name, target_amount, target_date, status, notes)
         values (coalesce($6::uuid, gen_random_uuid()), $1, $2::numeric, $3::date, $4, $5)
         on conflict (id) do nothing returning ${GOAL_COLUMNS}`,
        [input.name, input.target_amount, input.target_date ?? null, input.status ?? 'active', input.notes ?? '', input.id ?? null] as never[],
      )
      const goal = row ?? await readGoal(tx, input.id!)
      if (!goal) throw idTaken()
      return { goal: withProgress(goal, ctx.today), created: !!row }
    })
    return c.json({ goal }, created ? 201 : 200)
  })


  app.openapi(listGoals, async (c) => {
    const { status, limit, cursor } = c.req.valid('query')
    const result = await c.var.postgres.transaction(async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const { values, p } = params()
      const where = ['g.user_id = (select auth.uid())']
      if (status) where.push(`g.status = ${p(status)}`)
      if (cursor) {
        const [t, id] = decodeCursor(cursor, ['timestamp', 'uuid'])
        where.push(`(g.created_at, g.id) < (${p(t)}::text::timestamptz, ${p(id)}::uuid)`)
      }
      const rows = await tx.unsafe<GoalRow[]>(
        `select ${GOAL_COLUMNS} from pam.savings_goals g where ${where.join(' and ')}
         order by g.created_at desc, g.id desc limit ${p(limit + 1)}`,
        values as never[],
      )
      const { items, next_cursor } = page(rows, limit, (g) => [g.created_at, g.id])
      return { goals: items.map((g) => withProgress(g, ctx.today)), next_cursor }
    })
    return c.json(result, 200)
  })

  app.openapi(getGoal, async (c) => {
    const { id } = c.req.valid('param')
    const goal = await c.var.postgres.transaction(async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const row = await readGoal(tx, id)
      if (!row) throw notFound('goal')
      return withProgress(row, ctx.today)
    })
    return c.json({ goal }, 200)
  })

  app.openapi(patchGoal, async (c) => {
    const { id } = c.req.valid('param')
    const patch = c.req.valid('json')
    const goal = await c.var.postgres.transaction(async (tx) => {
      const ctx = await moneyContext(tx, opts.now())
      const { values, p } = params()
      const sets = Object.entries(patch).map(([k, v]) => `${k} = ${p(v)}::${COLUMN_TYPES[k]}`)
      const [row] = await tx.unsafe<GoalRow[]>(
        `update pam.savings_goals g set ${sets.join(', ')} where g.id = ${p(id)}::uuid returning ${GOAL_COLUMNS}`,
        values as never[],
      )
      if (!row) throw notFound('goal')
      return withProgress(row, ctx.today)
    })
    return c.json({ goal }, 200)
  })

  app.openapi(deleteGoal, async (c) => {
    const { id } = c.req.valid('param')
    const rows = await c.var.postgres.transaction((tx) => tx`delete from pam.savings_goals where id = ${id} returning id`)
    if (!rows.length) throw notFound('goal')
    return c.body(null, 204)
  })

  app.openapi(addContribution, async (c) => {
    const { id } = c.req.valid('param')
    const input = c.req.valid('json')
    const result = await writeTransaction(c, async (tx) => contribute(tx, await moneyContext(tx, opts.now()), id, input))
    return c.json(result.body, result.created ? 201 : 200)
  })


  app.openapi(listContributions, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    const result = await c.var.postgres.transaction(async (tx) => {
      if (!(await readGoal(tx, id))) throw notFound('goal')
      const { values, p } = params()
      const where = ['k.user_id = (select auth.uid())', `k.goal_id = ${p(id)}::uuid`]
      if (cursor) {
        const [t, cid] = decodeCursor(cursor, ['timestamp', 'uuid'])
        where.push(`(k.created_at, k.id) < (${p(t)}::text::timestamptz, ${p(cid)}::uuid)`)
      }
      const rows = await tx.unsafe<Contribution[]>(
        `select ${CONTRIBUTION_COLUMNS} from pam.goal_contributions k where ${where.join(' and ')}
         order by k.created_at desc, k.id desc limit ${p(limit + 1)}`,
        values as never[],
      )
      const { items, next_cursor } = page(rows, limit, (k) => [k.created_at, k.id])
      return { contributions: items, next_cursor }
    })
    return c.json(result, 200)
  })
}
