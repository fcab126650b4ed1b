// One turn of a conversation, offline (no model): classify the message,
// load the traveller's context, recall relevant memories, act with the tool
// the intent calls for (through the same domain code as the routes), and
// reply from the results. Each stage is timed into the message's metadata.
import type { AppContext } from '../http.ts'
import { ApiError } from '../errors.ts'
import { classify } from './classifier.ts'
import type { Entities } from './entities.ts'
import { loadContext, type PamContext } from './context.ts'
import { type Memory, recall } from './memory.ts'
import { GREETING, HELP, NOT_UNDERSTOOD, replyFor } from './respond.ts'
import { runTool } from './tools.ts'

export interface Action {
  tool: string
  args: Record<string, unknown>
  ok: boolean
  result?: Record<string, unknown>
  error?: { code: string; message: string }
}

export interface Turn {
  reply: string
  intent: string
  confidence: number
  entities: Entities
  actions: Action[]
  memories: Pick<Memory, 'id' | 'content'>[]
  timings_ms: Record<'classify' | 'context' | 'memory' | 'action' | 'response', number>
}

export interface TurnInput {
  message: string
  messageId: string | null
  request: { location?: { lat: number; lng: number }; timezone?: string }
  now: Date
}

/** What an intent asks of the tools: a call, or a reply straight away (a question back). */
type Plan = { tool: string; args: Record<string, unknown> } | { reply: string }

const MAINTENANCE_TASKS = [
  'oil change', 'oil and filter', 'service', 'tyre rotation', 'tire rotation', 'tyres', 'tires', 'brakes', 'brake pads',
  'wheel bearings', 'battery', 'air filter', 'fuel filter', 'coolant', 'transmission', 'timing belt', 'rego',
  'registration', 'wof', 'inspection', 'grease', 'gas check', 'awning', 'roof reseal', 'water pump',
]

const titleCase = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

function taskOf(message: string): string {
  const lower = message.toLowerCase()
  const known = MAINTENANCE_TASKS.find((t) => lower.includes(t))
  return titleCase(known ?? 'Maintenance')
}

/** The fact or preference in "remember that I drive a 2019 Jayco" / "we avoid toll roads". */
function factOf(message: string): { content: string; kind: 'fact' | 'preference' } {
  const content = message.replace(/^\s*(hey pam[,!]?\s*)?(please\s+)?(remember|note|keep in mind)\s*(that\s+)?/i, '').trim()
    .replace(/[.!]+$/, '').slice(0, 1000) || message.slice(0, 1000)
  const kind = /\b(prefer|avoid|like|love|hate|don'?t|never|always|vegetarian|vegan|allergic)\b/i.test(content) ? 'preference' : 'fact'
  return { content, kind }
}

function planFor(intent: string, e: Entities, message: string, ctx: PamContext): Plan {
  const description = message.trim().slice(0, 500)
  switch (intent) {
    case 'add_expense':
      if (!e.amount) return { reply: 'How much was it? Say it with the amount, like "spent $45 on diesel".' }
      return {
        tool: 'add_expense',
        args: {
          amount: e.amount.value,
          currency: e.amount.currency,
          category: e.category,
          merchant: e.merchant,
          location: e.place,
          date: e.date,
          description,
        },
      }
    case 'add_income':
      if (!e.amount) return { reply: 'How much came in?' }
      return { tool: 'add_income', args: { amount: e.amount.value, source: e.merchant ?? e.place ?? description.slice(0, 200), date: e.date } }
    case 'spending_summary':
      return { tool: 'get_spending_summary', args: { period: e.period ? { kind: e.period.kind, offset: e.period.offset } : undefined, category: e.category } }
    case 'budget_status':
      return { tool: 'get_budget_status', args: { category: e.category } }
    case 'log_fuel':
      if (!e.volume) {
        if (!e.amount) return { reply: 'How many litres, and what did it cost?' }
        return { tool: 'add_expense', args: { amount: e.amount.value, currency: e.amount.currency, category: 'fuel', merchant: e.merchant, location: e.place, date: e.date, description } }
      }
      if (!e.amount && !e.fuelPrice) return { reply: `${e.volume.litres} L — and what did it cost?` }
      return {
        tool: 'log_fuel',
        args: {
          litres: e.volume.litres.toFixed(2),
          total_cost: e.amount?.value,
          price_per_litre: e.amount ? undefined : e.fuelPrice?.value,
          odometer: e.odometer?.value,
          date: e.date,
          location: e.place,
          merchant: e.merchant,
        },
      }
    case 'log_maintenance':
      return { tool: 'log_maintenance', args: { task: taskOf(message), date: e.date, odometer: e.odometer?.value, cost: e.amount?.value } }
    case 'maintenance_due':
      return { tool: 'get_maintenance_due', args: {} }
    case 'find_camping':
      return { tool: 'find_camping', args: { free_only: /\bfree\b/i.test(message) } }
    case 'weather':
      return { tool: 'get_weather', args: {} }
    case 'remember':
      return { tool: 'remember_fact', args: factOf(message) }
    case 'forget':
      return { tool: 'forget_fact', args: { text: message.replace(/^\s*(please\s+)?forget\s*(that|about)?\s*/i, '').trim() || message } }
    case 'greeting':
      return { reply: GREETING(ctx) }
    case 'help':
      return { reply: HELP }
    case 'plan_trip':
      return { reply: 'Trip plans with overnight stops are in Wheels → Plan a trip (POST /wheels/trips/plan); in chat I can find campsites near you.' }
    case 'set_budget':
    case 'savings_goal':
      return { reply: 'Budgets and savings goals are set in Wins; ask me how a budget is going any time.' }
    case 'saved_places':
    case 'social_post':
    case 'social_feed':
    case 'insights':
      return { reply: "I can't do that in chat yet. " + HELP }
    default:
      return { reply: NOT_UNDERSTOOD }
  }
}

const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

export async function converse(c: AppContext, input: TurnInput): Promise<Turn> {
  const t0 = performance.now()
  const ctx = await loadContext(c, input.now, input.request)
  const t1 = performance.now()
  const { intent, confidence, entities } = classify(input.message, { today: ctx.today, timeZone: ctx.timeZone })
  const t2 = performance.now()
  const memories = await recall(c.var.postgres, input.message, 3)
  const t3 = performance.now()
  const plan = planFor(intent, entities, input.message, ctx)
  const actions: Action[] = []
  let reply: string
  if ('reply' in plan) reply = plan.reply
  else {
    const args = drop(plan.args)
    try {
      const result = await runTool({ c, ctx, now: input.now, messageId: input.messageId }, plan.tool, args)
      actions.push({ tool: plan.tool, args, ok: true, result })
      reply = ''
    } catch (err) {
      // A refusal (bad input, a rule of the data) is PAM's answer; a service that is down, a degraded one.
      if (!(err instanceof ApiError) || err.status >= 500 && err.code !== 'upstream_unavailable') throw err
      actions.push({ tool: plan.tool, args, ok: false, error: { code: err.code, message: err.message } })
      reply = err.code === 'upstream_unavailable'
        ? "I can't reach that service right now — try again in a bit."
        : `I couldn't do that: ${err.message}.`
    }
  }
  const t4 = performance.now()
  const done = actions[0]
  if (done?.ok) reply = replyFor(done.tool, done.result!, ctx)
  const t5 = performance.now()
  const ms = (a: number, b: number) => Math.round((b - a) * 100) / 100
  return {
    reply,
    intent,
    confidence,
    entities,
    actions,
    memories: memories.map((m) => ({ id: m.id, content: m.content })),
    timings_ms: { context: ms(t0, t1), classify: ms(t1, t2), memory: ms(t2, t3), action: ms(t3, t4), response: ms(t4, t5) },
  }
}
