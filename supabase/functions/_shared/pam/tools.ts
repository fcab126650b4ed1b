// What PAM can do: typed tools over the same domain code the HTTP routes
// call (one implementation of "add an expense", with its classification,
// budget impact and alerts; one of "log a fill-up", with the odometer rules).
// Grouped in nodes (Wins, Wheels, Social, You, Context) on one interface; each tool has a
// zod schema for its arguments (the model's tool calls are checked against it)
// and runs as the caller, inside their RLS transaction: PAM cannot touch
// another user's rows whatever a message says.
import { z } from '../http.ts'
import type { AppContext } from '../http.ts'
import type { Tx } from '../db.ts'
import { ApiError } from '../errors.ts'
import { calendarDate } from '../dates.ts'
import { insertRow, likePattern, params, updateRow, writeTransaction } from '../resource.ts'
import { multiLineText, oneLine, singleLineText } from '../text.ts'
import { weatherFor } from '../integrations/weather.ts'
import { mapboxFor } from '../integrations/mapbox.ts'
import { Preferences, updateProfile } from '../profile.ts'
import { budgetImpact, budgetStatuses } from '../../wins/budget-status.ts'
import { dropHomeScreen, setBudget } from '../../wins/budgets.ts'
import { CategorySlug } from '../../wins/categories.ts'
import { contribute, GOAL_COLUMNS, withProgress } from '../../wins/goals.ts'
import { money as moneyAmount, MAX_TARGET } from '../../wins/money.ts'
import { invalidateSummaries, invalidReference, moneyContext, WINS_REFUSALS } from '../../wins/common.ts'
import { ReceiptPath, readReceiptOf } from '../../wins/receipts.ts'
import { insertExpenses, prepareExpenses } from '../../wins/expense-model.ts'
import { incomeResource } from '../../wins/income.ts'
import { money } from '../../wins/money.ts'
import { periodOf, previousPeriodOf } from '../../wins/periods.ts'
import { type Aggregates, loadAggregates } from '../../wins/summary.ts'
import { searchCampsites } from '../../wheels/camping.ts'
import { invalidateMaintenance, WHEELS_REFUSALS } from '../../wheels/common.ts'
import { Litres, PricePerLitre, recordFillUp, TotalCost } from '../../wheels/fuel.ts'
import { maintenanceDue, maintenanceResource } from '../../wheels/maintenance.ts'
import { planTrip, tripResource } from '../../wheels/trips.ts'
import { createPost, type FeedFilters, feedWhere, MAX_POST_CHARS, postPage } from '../../social/posts.ts'
import { SOCIAL_REFUSALS, Tag } from '../../social/common.ts'
import { calendarOf, changeEvent, EVENT_REFUSALS, eventResource } from '../../you/events.ts'
import { CACHE_POLICIES } from '../cache.ts'
import { addDays } from '../dates.ts'
import { forget, type Memory, remember } from './memory.ts'
import type { PamContext } from './context.ts'
import { insightsFor } from './insights.ts'

export interface ToolRun {
  c: AppContext
  ctx: PamContext
  now: Date
  /** The user message being answered (memories point at it). */
  messageId: string | null
}

export interface Tool<S extends z.ZodType = z.ZodType> {
  name: string
  node: 'wins' | 'wheels' | 'social' | 'you' | 'context'
  /** It changes the traveller's data (or what PAM keeps of them). */
  writes?: true
  /** Its result holds what other people wrote (community posts): after it, a model's turn may only read. */
  quotesOthers?: true
  description: string
  schema: S
  run(run: ToolRun, args: z.infer<S>): Promise<Record<string, unknown>>
}

const tool = <S extends z.ZodType>(t: Tool<S>): Tool => t as unknown as Tool

const REFUSALS = { ...WINS_REFUSALS, ...WHEELS_REFUSALS }

/** The vehicle a tool means: the one named, else the traveller's only (or first) one. */
function vehicleOf(ctx: PamContext, id?: string) {
  const v = id ? ctx.vehicles.find((x) => x.id === id) : ctx.vehicles[0]
  if (!v) throw new ApiError(422, 'no_vehicle', 'add a vehicle first (Wheels → vehicles), then I can log it against it')
  return v
}

const Period = z.object({
  kind: z.enum(['week', 'month', 'year']).default('month'),
  offset: z.union([z.literal(0), z.literal(-1)]).default(0).describe('0: this one, -1: the previous one'),
})

// --- Wins node ---

const addExpense = tool({
  name: 'add_expense',
  writes: true,
  node: 'wins',
  description: 'Record money the traveller spent. Category is inferred when not given.',
  schema: z.object({
    amount: money(),
    currency: z.string().regex(/^[A-Z]{3}$/).optional(),
    category: z.string().min(2).max(40).optional(),
    description: singleLineText({ min: 0, max: 500 }).optional(),
    merchant: singleLineText({ max: 200 }).optional(),
    location: singleLineText({ max: 200 }).optional(),
    date: calendarDate().optional(),
    receipt_path: ReceiptPath.optional().describe('the receipt photo it was read from (read_receipt gives it)'),
  }),
  async run({ c, ctx, now }, args) {
    const result = await writeTransaction(c, async (tx) => {
      const mctx = await moneyContext(tx, now)
      const prepared = await prepareExpenses(tx, mctx, [{ ...args, date: args.date ?? ctx.today }])
      const problem = prepared.errors[0]
      if (problem) throw invalidReference(problem.field, problem.message)
      const [expense] = await insertExpenses(tx, prepared.rows)
      return { expense, budgets: await budgetImpact(tx, mctx, [expense]) }
    }, REFUSALS)
    await invalidateSummaries(c)
    return result
  },
})

// The traveller's receipt (the latest one not on an expense yet, unless named), read by the
// vision model through the route's own code; with `add`, recorded through add_expense's.
const readReceiptTool = tool({
  name: 'read_receipt',
  writes: true,
  node: 'wins',
  description: 'Read a receipt photo the traveller uploaded ("here\'s my receipt"): amount, merchant, date, category. ' +
    'Without receipt_path, their latest receipt not on an expense yet. Propose what it says; set add only when they ' +
    'asked to record it, or confirmed.',
  schema: z.object({
    receipt_path: ReceiptPath.optional().describe('the receipt object name; default: the latest one not on an expense yet'),
    add: z.boolean().default(false).describe('record the expense now, with the receipt attached'),
  }),
  async run(run, args) {
    const { c, now } = run
    let path = args.receipt_path
    if (!path) {
      const [latest] = await c.var.postgres.queryRaw<{ name: string }>(
        `select o.name from storage.objects o
         where o.bucket_id = 'receipts' and (storage.foldername(o.name))[1] = (select auth.uid())::text
           and not exists (select 1 from pam.expenses e where e.receipt_path = o.name)
         order by o.created_at desc limit 1`,
      )
      if (!latest) {
        throw new ApiError(422, 'no_receipt', 'upload a photo of the receipt first (it goes to your receipts), then ask me again')
      }
      path = latest.name
    }
    const reading = await readReceiptOf(c, path, now)
    const { draft } = reading
    if (!args.add || !draft.amount) return { ...reading, added: false }
    const expense = await addExpense.run(run, {
      amount: draft.amount,
      ...(draft.currency ? { currency: draft.currency } : {}),
      ...(draft.category ? { category: draft.category } : {}),
      ...(draft.merchant ? { merchant: draft.merchant } : {}),
      ...(draft.description ? { description: draft.description } : {}),
      ...(draft.date ? { date: draft.date } : {}),
      receipt_path: path,
    })
    return { ...reading, added: true, ...expense }
  },
})

const addIncome = tool({
  name: 'add_income',
  writes: true,
  node: 'wins',
  description: 'Record money the traveller earned.',
  schema: z.object({ amount: money(), source: singleLineText({ max: 200 }), date: calendarDate().optional() }),
  async run({ c, ctx }, args) {
    const spec = incomeResource({ now: () => new Date() })
    const { row } = await writeTransaction(
      c,
      (tx) => insertRow(tx, spec, { ...args, date: args.date ?? ctx.today }, spec.create!.columns),
      REFUSALS,
    )
    await invalidateSummaries(c)
    return { income: row }
  },
})

const spendingSummary = tool({
  name: 'get_spending_summary',
  node: 'wins',
  description: 'Spending and income for a week, month or year (this one or the previous one), by category.',
  schema: z.object({ period: Period.default({ kind: 'month', offset: 0 }), category: z.string().optional() }),
  async run({ c, ctx }, args) {
    const day = args.period.offset === -1 ? previousPeriodOf(args.period.kind, ctx.today).start : ctx.today
    const cur = periodOf(args.period.kind, day)
    const prev = previousPeriodOf(args.period.kind, day)
    const agg: Aggregates = await c.var.postgres.transaction((tx) => loadAggregates(tx, cur, prev, ctx.currency))
    const category = args.category ? agg.by_category.find((x) => x.category === args.category) : undefined
    return {
      period: { kind: args.period.kind, start: cur.start, end: cur.end },
      currency: ctx.currency,
      expenses: agg.expenses,
      income: agg.income,
      by_category: agg.by_category,
      ...(args.category ? { category: args.category, category_amount: category?.amount ?? '0.00' } : {}),
    }
  },
})

const budgetStatus = tool({
  name: 'get_budget_status',
  node: 'wins',
  description: "The traveller's budgets and how much of each is used this period.",
  schema: z.object({ category: z.string().optional() }),
  async run({ c, now }, args) {
    const budgets = await c.var.postgres.transaction(async (tx: Tx) =>
      budgetStatuses(tx, await moneyContext(tx, now), args.category ? { categories: [args.category] } : {})
    )
    return { budgets }
  },
})

// --- Wheels node ---

const logFuel = tool({
  name: 'log_fuel',
  writes: true,
  node: 'wheels',
  description: "Record a fill-up (an expense in category fuel) for the traveller's vehicle.",
  schema: z.object({
    litres: Litres,
    total_cost: TotalCost,
    price_per_litre: PricePerLitre,
    odometer: z.number().int().min(0).max(10_000_000).optional(),
    vehicle_id: z.string().uuid().optional(),
    date: calendarDate().optional(),
    location: singleLineText({ max: 200 }).optional(),
    merchant: singleLineText({ max: 200 }).optional(),
  }),
  async run({ c, ctx, now }, args) {
    const vehicle = vehicleOf(ctx, args.vehicle_id)
    if (!args.total_cost && !args.price_per_litre) throw new ApiError(400, 'validation_failed', 'how much did it cost?')
    const input = { ...args, vehicle_id: vehicle.id, date: args.date ?? ctx.today }
    const { body } = await writeTransaction(c, (tx) => recordFillUp(tx, now, input), REFUSALS)
    await invalidateSummaries(c)
    return { ...body, vehicle: vehicle.name }
  },
})

const logMaintenance = tool({
  name: 'log_maintenance',
  writes: true,
  node: 'wheels',
  description: 'Record maintenance done on the vehicle.',
  schema: z.object({
    task: singleLineText({ max: 200 }),
    date: calendarDate().optional(),
    odometer: z.number().int().min(0).max(10_000_000).optional(),
    cost: money().optional(),
    vehicle_id: z.string().uuid().optional(),
  }),
  async run({ c, ctx }, args) {
    const vehicle = vehicleOf(ctx, args.vehicle_id)
    const spec = maintenanceResource
    const input = { ...args, vehicle_id: vehicle.id, date: args.date ?? ctx.today }
    const { row } = await writeTransaction(
      c,
      async (tx) => insertRow(tx, spec, await spec.create!.prepare!(tx, input), spec.create!.columns),
      REFUSALS,
    )
    await invalidateMaintenance(c)
    return { record: row, vehicle: vehicle.name }
  },
})

const maintenanceDueTool = tool({
  name: 'get_maintenance_due',
  node: 'wheels',
  description: 'Maintenance due or overdue soon, by date or odometer.',
  schema: z.object({ within_days: z.number().int().min(1).max(3650).default(30), within_km: z.number().int().min(1).max(1_000_000).default(1000) }),
  async run({ c, now }, args) {
    const { today, due } = await maintenanceDue(c, now, args)
    return { today, due }
  },
})

const findCamping = tool({
  name: 'find_camping',
  node: 'wheels',
  description: 'Campsites near a point (the traveller\'s location when known), nearest first.',
  schema: z.object({
    lat: z.number().min(-90).max(90).optional(),
    lng: z.number().min(-180).max(180).optional(),
    radius_km: z.number().min(1).max(500).default(50),
    free_only: z.boolean().default(false),
  }),
  async run({ c, ctx }, args) {
    const at = args.lat !== undefined && args.lng !== undefined ? { lat: args.lat, lng: args.lng } : ctx.location
    if (!at) throw new ApiError(422, 'no_location', 'where are you? Share your location and I will look nearby')
    const campsites = await searchCampsites(c.var.postgres, at, args.radius_km, { rvFriendly: true, maxPrice: args.free_only ? 0 : undefined }, 5)
    return { near: at, campsites }
  },
})

const getWeather = tool({
  name: 'get_weather',
  node: 'wheels',
  description: 'Current weather, the week ahead and warnings for high-sided vehicles, at a point.',
  schema: z.object({ lat: z.number().min(-90).max(90).optional(), lng: z.number().min(-180).max(180).optional() }),
  async run({ c, ctx }, args) {
    const at = args.lat !== undefined && args.lng !== undefined ? { lat: args.lat, lng: args.lng } : ctx.location
    if (!at) throw new ApiError(422, 'no_location', 'where are you? Share your location and I will check the weather there')
    return { forecast: await weatherFor(c.var.config, c.var.cache).forecast(at) }
  },
})

// --- Context node ---

const rememberFact = tool({
  name: 'remember_fact',
  writes: true,
  node: 'context',
  description: 'Keep something the traveller told PAM about themselves, their rig or their preferences.',
  schema: z.object({ content: singleLineText({ max: 1000 }), kind: z.enum(['fact', 'preference', 'event']).default('fact') }),
  async run({ c, messageId }, args) {
    const memory: Memory = await writeTransaction(c, (tx) => remember(tx, args.content, args.kind, messageId))
    return { memory }
  },
})

const forgetFact = tool({
  name: 'forget_fact',
  writes: true,
  node: 'context',
  description: 'Forget what PAM remembered that best matches the text.',
  schema: z.object({ text: singleLineText({ max: 1000 }) }),
  async run({ c }, args) {
    return { forgotten: await writeTransaction(c, (tx) => forget(tx, args.text)) }
  },
})

const Place = z.union([
  singleLineText({ max: 200 }).describe('a place name, looked up with Mapbox'),
  z.object({ name: singleLineText({ max: 200 }).optional(), lat: z.number().min(-90).max(90), lng: z.number().min(-180).max(180) }),
])

/** A place as a point: given, or looked up by name (Mapbox geocoding, near the traveller). */
async function pointOf(run: ToolRun, place: z.infer<typeof Place>) {
  if (typeof place !== 'string') return place
  const [found] = await mapboxFor(run.c.var.config, run.c.var.cache).geocode(place, {
    limit: 1,
    proximity: run.ctx.location ?? undefined,
  })
  if (!found) throw new ApiError(422, 'place_not_found', `I couldn't find "${place}" on the map`)
  return { name: found.name, lat: found.lat, lng: found.lng }
}

const planTripTool = tool({
  name: 'plan_trip',
  node: 'wheels',
  description: 'A day-by-day plan between two places: daily drives, overnight campsites near each day\'s end, fuel and camping costs.',
  schema: z.object({
    origin: Place.optional().describe("default: the traveller's location"),
    destination: Place,
    start_date: calendarDate().optional(),
    max_daily_drive_km: z.number().int().min(50).max(1500).optional(),
  }),
  async run(run, args) {
    const origin = args.origin ? await pointOf(run, args.origin) : run.ctx.location
    if (!origin) throw new ApiError(422, 'no_location', 'where are you starting from?')
    const destination = await pointOf(run, args.destination)
    return await planTrip(run.c, {
      origin,
      destination,
      start_date: args.start_date ?? run.ctx.today,
      max_daily_drive_km: args.max_daily_drive_km,
      vehicle_id: run.ctx.vehicles[0]?.id,
    })
  },
})

const addTripStop = tool({
  name: 'add_trip_stop',
  writes: true,
  node: 'wheels',
  description: "Add a stop to a trip (the active one unless named), before its destination.",
  schema: z.object({ place: Place, trip_id: z.string().uuid().optional() }),
  async run(run, args) {
    const tripId = args.trip_id ?? run.ctx.activeTrip?.id
    if (!tripId) throw new ApiError(422, 'no_trip', 'which trip? Start one in Wheels, or mark one active')
    const stop = await pointOf(run, args.place)
    const trip = await writeTransaction(run.c, async (tx) => {
      const [t] = await tx`select stops from pam.trips where id = ${tripId} for update`
      if (!t) throw new ApiError(404, 'not_found', 'trip not found')
      const stops = [...(t.stops as unknown[]), stop]
      const patch = await tripResource.patch!.prepare!(tx, { stops }, tripId)
      return await updateRow(tx, tripResource, tripId, patch, tripResource.patch!.columns)
    }, REFUSALS)
    await tripResource.afterWrite?.(run.c, tripId)
    return { trip, stop }
  },
})

const findSavedPlaces = tool({
  name: 'find_saved_places',
  node: 'wheels',
  description: "The traveller's saved places (campsites, dump points, fuel stations, water, favourites), nearest first when a location is known.",
  schema: z.object({
    kind: z.enum(['campsite', 'dump_point', 'fuel_station', 'water', 'favourite', 'other']).optional(),
    name: singleLineText({ max: 100 }).optional(),
  }),
  async run({ c, ctx }, args) {
    const { values, p } = params()
    const where = ['sp.user_id = (select auth.uid())']
    if (args.kind) where.push(`sp.kind = ${p(args.kind)}`)
    if (args.name) where.push(`sp.name ilike ${p(likePattern(args.name))}`)
    const here = ctx.location
    const places = await c.var.postgres.queryRaw(
      `select sp.id, sp.name, sp.kind, sp.latitude, sp.longitude, sp.notes, sp.rating
       ${here ? `, round((extensions.earth_distance(extensions.ll_to_earth(${p(here.lat)}::float8, ${p(here.lng)}::float8),
                  extensions.ll_to_earth(sp.latitude, sp.longitude)) / 1000)::numeric, 1)::float8 as distance_km` : ''}
       from pam.saved_places sp where ${where.join(' and ')}
       order by ${here ? 'distance_km' : 'sp.created_at desc'} limit 10`,
      values,
    )
    return { places }
  },
})

const updatePreferences = tool({
  name: 'update_preferences',
  writes: true,
  node: 'context',
  description: "Change the traveller's settings: home currency, metric or imperial units, time zone, language, notifications.",
  schema: Preferences,
  async run({ c }, args) {
    const profile = await updateProfile(c, { preferences: args })
    return { preferences: (profile as { preferences?: unknown } | undefined)?.preferences ?? args }
  },
})

const getInsights = tool({
  name: 'get_insights',
  node: 'context',
  description: "A 360° summary: this month's spending and income with a month-end projection, the daily cost of " +
    'travelling, budgets, what each trip cost, maintenance due and predicted from the odometer, hustle profit.',
  schema: z.object({ months: z.number().int().min(1).max(12).default(3) }),
  async run({ c, now }, args) {
    return await insightsFor(c, now, args.months)
  },
})

const setBudgetTool = tool({
  name: 'set_budget',
  writes: true,
  node: 'wins',
  description: 'Create or change a budget: a limit on one category of spending per week, month (default) or year.',
  schema: z.object({
    category: CategorySlug,
    amount: moneyAmount(MAX_TARGET),
    period: z.enum(['weekly', 'monthly', 'yearly']).default('monthly'),
  }),
  async run({ c, now }, args) {
    const { budget } = await writeTransaction(c, async (tx) =>
      setBudget(tx, await moneyContext(tx, now), args.category, { amount: args.amount, period: args.period, rollover: false }), REFUSALS)
    await Promise.all([invalidateSummaries(c), dropHomeScreen(c)])
    return { budget }
  },
})

/** The caller's savings goals, with their progress (active first). */
async function goalsOf(tx: Tx, today: string) {
  const rows = await tx.unsafe(`select ${GOAL_COLUMNS} from pam.savings_goals g where g.user_id = (select auth.uid())
    order by g.status = 'active' desc, g.created_at`)
  return rows.map((g) => withProgress(g as never, today))
}

const GOAL_STOP_WORDS = new Set(['the', 'my', 'our', 'a', 'an', 'fund', 'goal', 'savings', 'saving', 'kitty', 'for', 'to'])
const goalWords = (s: string) => s.toLowerCase().match(/[\p{L}\p{N}]+/gu)?.filter((w) => !GOAL_STOP_WORDS.has(w)) ?? []

const addToGoal = tool({
  name: 'add_to_goal',
  writes: true,
  node: 'wins',
  description: 'Put money towards one of the traveller\'s savings goals (or take some out), named by words of its name.',
  schema: z.object({
    goal: singleLineText({ max: 200 }).describe('words of the goal\'s name, e.g. "solar"'),
    amount: moneyAmount(MAX_TARGET),
    kind: z.enum(['deposit', 'withdrawal']).default('deposit'),
  }),
  async run({ c, now }, args) {
    return await writeTransaction(c, async (tx) => {
      const ctx = await moneyContext(tx, now)
      const wanted = goalWords(args.goal)
      // The goal sharing the most words with what was said (active ones first on a tie).
      const goals = (await goalsOf(tx, ctx.today)).map((g) => ({ g, score: goalWords(g.name).filter((w) => wanted.includes(w)).length }))
      const best = goals.filter((x) => x.score > 0).sort((a, b) => b.score - a.score)[0]
      if (!best) throw new ApiError(422, 'unknown_goal', `no savings goal like "${args.goal}"`)
      const { body } = await contribute(tx, ctx, best.g.id, { amount: args.amount, kind: args.kind })
      return body
    }, REFUSALS)
  },
})

const savingsGoals = tool({
  name: 'get_savings_goals',
  node: 'wins',
  description: "The traveller's savings goals: saved, target, progress and what each month needs.",
  schema: z.object({}),
  async run({ c, now }) {
    return { goals: await c.var.postgres.transaction(async (tx) => goalsOf(tx, (await moneyContext(tx, now)).today)) }
  },
})

// --- Social node ---

const postToCommunity = tool({
  name: 'post_to_community',
  writes: true,
  node: 'social',
  description: 'Post for the traveller in the community: publicly (default), to their friends, or in one of their ' +
    'groups (by name). Only when they ask to post, share or tell others something; the body is their words.',
  schema: z.object({
    body: multiLineText({ max: MAX_POST_CHARS }),
    group: singleLineText({ max: 100 }).optional().describe('the name (or part of it) of one of their groups'),
    visibility: z.enum(['public', 'friends']).optional().describe('without a group: public (default) or friends'),
    tags: z.array(Tag).max(10).optional(),
  }),
  async run({ c }, args) {
    // Counted like the route's posts: PAM is not a way around the posting limit.
    const limit = await c.var.rateLimiter.limit('social', `user:${c.var.userId}`)
    if (!limit.success) throw new ApiError(429, 'rate_limited', 'you have posted a lot just now: try again in a minute')
    const post = await writeTransaction(c, async (tx) => {
      let groupId: string | undefined
      if (args.group) {
        const [g] = await tx`select g.id from pam.groups g
          join pam.group_members m on m.group_id = g.id and m.user_id = (select auth.uid())
          where g.name ilike ${likePattern(args.group)} order by char_length(g.name), g.id limit 1`
        if (!g) throw new ApiError(422, 'unknown_group', `you are not in a group called "${args.group}"`)
        groupId = g.id
      }
      const { row } = await createPost(tx, {
        body: args.body,
        tags: args.tags,
        ...(groupId ? { group_id: groupId } : { visibility: args.visibility }),
      })
      return row
    }, SOCIAL_REFUSALS)
    return { post }
  },
})

const communityFeed = tool({
  name: 'get_community_feed',
  quotesOthers: true,
  node: 'social',
  description: "The newest posts the traveller may see in the community: everyone's, their friends', their groups' " +
    "(or one group's, by name), or those placed near where they are.",
  schema: z.object({
    filter: z.enum(['all', 'friends', 'groups']).default('all'),
    group: singleLineText({ max: 100 }).optional().describe('the name (or part of it) of one of their groups'),
    near_me: z.boolean().default(false).describe('only posts placed within 100 km of their location'),
  }),
  async run({ c, ctx }, args) {
    const { values, p } = params()
    const f: FeedFilters = { filter: args.filter, radius_km: 100 }
    if (args.group) {
      const [g] = await c.var.postgres.query`select g.id, g.name from pam.groups g
        where g.name ilike ${likePattern(args.group)} order by char_length(g.name), g.id limit 1`
      if (!g) throw new ApiError(422, 'unknown_group', `no group called "${args.group}"`)
      f.group_id = g.id as string
    }
    if (args.near_me) {
      if (!ctx.location) throw new ApiError(422, 'no_location', 'where are you? Share your location and ask again')
      f.near = ctx.location
    }
    const { items } = await postPage(c.var.postgres, feedWhere(f, p), values, p, 5)
    return {
      posts: items.map((x) => ({
        id: x.id,
        author: x.author.name,
        group: x.group?.name ?? null,
        body: oneLine(x.body, 300),
        location_name: x.location_name,
        like_count: x.like_count,
        comment_count: x.comment_count,
        created_at: x.created_at,
      })),
    }
  },
})

// --- You node ---

const Clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM').describe('local time, 24-hour HH:MM')
const EventName = singleLineText({ max: 200 }).describe('words of the event\'s title, e.g. "wheel bearing service"')

/** The caller's next event (or latest past one) whose title has these words; 422 when none. */
async function eventNamed(tx: Tx, words: string) {
  const [e] = await tx`select id, title from pam.calendar_events
    where user_id = (select auth.uid()) and title ilike ${likePattern(words.replace(/^(the|my|our) /i, ''))}
    order by starts_at < now(), abs(extract(epoch from starts_at - now())) limit 1`
  if (!e) throw new ApiError(422, 'unknown_event', `nothing in your calendar called "${words}"`)
  return e as { id: string; title: string }
}
const dropHome = (run: ToolRun) =>
  run.c.var.cache.invalidate(run.c.var.userId!, CACHE_POLICIES.dashboard.key(run.c.var.userId!))

const createEvent = tool({
  name: 'create_event',
  writes: true,
  node: 'you',
  description: 'Put something in the traveller\'s calendar, in their time zone: an appointment, a task to be reminded of ' +
    '("remind me Tuesday at 9 to book the campground" is a 09:00 event with a reminder at the time), or a whole day.',
  schema: z.object({
    title: singleLineText({ max: 200 }),
    date: calendarDate(),
    time: Clock.optional().describe('omit for an all-day event'),
    duration_minutes: z.number().int().min(0).max(1440).default(60),
    reminders: z.array(z.number().int().min(0).max(40320)).max(5).optional()
      .describe('minutes before to remind (default: [0] at the time for a timed event, none all-day)'),
    kind: z.enum(['travel', 'maintenance', 'appointment', 'social', 'personal']).optional(),
  }),
  async run(run, args) {
    const input: Record<string, unknown> = {
      title: args.title,
      kind: args.kind,
      time_zone: run.ctx.timeZone,
      all_day: !args.time,
      start: args.time ? `${args.date}T${args.time}` : args.date,
      reminders: args.reminders ?? (args.time ? [0] : []),
    }
    if (args.time) {
      const end = new Date(Date.parse(`${args.date}T${args.time}:00Z`) + args.duration_minutes * 60_000)
      input.end = end.toISOString().slice(0, 16)
    }
    const event = await writeTransaction(run.c, async (tx) => {
      const { row } = await insertRow(tx, eventResource, await eventResource.create!.prepare!(tx, input), eventResource.create!.columns)
      return row
    }, EVENT_REFUSALS)
    await dropHome(run)
    return { event }
  },
})

const moveEvent = tool({
  name: 'move_event',
  writes: true,
  node: 'you',
  description: 'Move one of the traveller\'s events to another day and/or time (it keeps its length; the time stays when only ' +
    'the day is given).',
  schema: z.object({ event: EventName, date: calendarDate().optional(), time: Clock.optional() })
    .refine((a) => a.date || a.time, 'give the new date or time'),
  async run(run, args) {
    const event = await writeTransaction(run.c, async (tx) => {
      const { id } = await eventNamed(tx, args.event)
      const [old] = await tx.unsafe(`select ${eventResource.select} from pam.calendar_events e where e.id = $1::uuid`, [id])
      const start = old.all_day && !args.time ? args.date! : `${args.date ?? (old.start as string).slice(0, 10)}T${
        args.time ?? ((old.all_day ? '09:00' : (old.start as string).slice(11, 16)))
      }`
      return await changeEvent(tx, id, { start, ...(old.all_day && args.time ? { all_day: false } : {}) })
    }, EVENT_REFUSALS)
    await dropHome(run)
    return { event }
  },
})

const cancelEvent = tool({
  name: 'cancel_event',
  writes: true,
  node: 'you',
  description: 'Take an event out of the traveller\'s calendar (all its occurrences).',
  schema: z.object({ event: EventName }),
  async run(run, args) {
    const cancelled = await writeTransaction(run.c, async (tx) => {
      const e = await eventNamed(tx, args.event)
      await tx`delete from pam.calendar_events where id = ${e.id}`
      return e
    })
    await dropHome(run)
    return { cancelled }
  },
})

const listEvents = tool({
  name: 'list_events',
  node: 'you',
  description: "What is in the traveller's calendar between two local days (default: today and the next 6 days).",
  schema: z.object({ from: calendarDate().optional(), to: calendarDate().optional() }),
  async run({ c, ctx }, args) {
    const from = args.from ?? ctx.today
    const to = args.to && args.to >= from && args.to <= addDays(from, 31) ? args.to : addDays(from, 6)
    const occurrences = await calendarOf(c, from, to, ctx.timeZone)
    return { from, to, events: occurrences.slice(0, 20).map((o) => ({ title: o.title, date: o.date, time: o.local_start?.slice(11), all_day: o.all_day })) }
  },
})

export const TOOLS: Tool[] = [
  addExpense,
  readReceiptTool,
  addIncome,
  spendingSummary,
  budgetStatus,
  logFuel,
  logMaintenance,
  maintenanceDueTool,
  findCamping,
  getWeather,
  planTripTool,
  addTripStop,
  findSavedPlaces,
  setBudgetTool,
  addToGoal,
  savingsGoals,
  postToCommunity,
  communityFeed,
  createEvent,
  moveEvent,
  cancelEvent,
  listEvents,
  rememberFact,
  forgetFact,
  updatePreferences,
  getInsights,
]

export const toolNamed = (name: string) => TOOLS.find((t) => t.name === name)

/** Runs a tool with arguments checked against its schema (a model's, or the classifier's). */
export async function runTool(run: ToolRun, name: string, rawArgs: unknown) {
  const t = toolNamed(name)
  if (!t) throw new ApiError(400, 'unknown_tool', `PAM has no tool "${name}"`)
  const parsed = t.schema.safeParse(rawArgs ?? {})
  if (!parsed.success) throw new ApiError(400, 'validation_failed', `arguments of ${name} are not valid`, parsed.error.issues)
  return await t.run(run, parsed.data)
}
