// PAM's words without a model: short, friendly replies built from what the
// tools did, so PAM works offline and degrades instead of failing.
import type { PamContext } from './context.ts'
import { oneLine } from '../text.ts'

type R = Record<string, unknown>
const money = (amount: unknown, currency: string) => `${currency === 'AUD' || currency === 'USD' || currency === 'NZD' ? '$' : `${currency} `}${amount}`
const list = (items: string[]) => items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`

/** A reply for a tool's result. */
export function replyFor(tool: string, result: R, ctx: PamContext): string {
  switch (tool) {
    case 'add_expense': {
      const e = result.expense as R
      const alerts = ((result.budgets as R[]) ?? []).filter((b) => b.alert)
        .map((b) => `that's ${(b.current as R)?.percent ?? ''}% of your ${b.label} budget`)
      return `Logged ${money(e.amount, e.currency as string)} for ${e.category} on ${e.date}.` +
        (alerts.length ? ` Heads up: ${alerts.join('; ')}.` : '')
    }
    case 'read_receipt': {
      const d = result.draft as R
      if (result.added) return replyFor('add_expense', result, ctx)
      const said = [d.amount && money(d.amount, (d.currency as string) ?? ctx.currency), d.merchant && `at ${d.merchant}`,
        d.date && `on ${d.date}`].filter(Boolean).join(' ')
      return `Your receipt says ${said || 'nothing I could read'}${d.category ? ` (${d.category})` : ''}. Shall I log it?`
    }
    case 'add_income': {
      const i = result.income as R
      return `Nice one — ${money(i.amount, i.currency as string)} from ${i.source} recorded.`
    }
    case 'get_spending_summary': {
      const p = result.period as R
      const when = `${p.start} to ${p.end}`
      if (result.category) return `You spent ${money(result.category_amount, ctx.currency)} on ${result.category} (${when}).`
      const top = ((result.by_category as R[]) ?? []).slice(0, 3).map((b) => `${b.label ?? b.category} ${money(b.amount, ctx.currency)}`)
      return `From ${when} you spent ${money(result.expenses, ctx.currency)} and earned ${money(result.income, ctx.currency)}.` +
        (top.length ? ` Biggest: ${list(top)}.` : '')
    }
    case 'get_budget_status': {
      const budgets = (result.budgets as R[]) ?? []
      if (!budgets.length) return "You haven't set any budgets yet."
      return budgets.map((b) => {
        const cur = b.current as R
        return `${b.label}: ${money(cur.spent, b.currency as string)} of ${money(cur.available ?? b.amount, b.currency as string)} (${cur.percent}%)`
      }).join('; ') + '.'
    }
    case 'log_fuel': {
      const f = result.fuel_log as R
      return `Fill-up logged for ${result.vehicle}: ${f.litres} L for ${money(f.total_cost, f.currency as string)}` +
        (f.odometer ? ` at ${f.odometer} on the clock.` : '.')
    }
    case 'log_maintenance': {
      const m = result.record as R
      return `Noted: ${m.task} on ${m.date} for ${result.vehicle}.`
    }
    case 'get_maintenance_due': {
      const due = (result.due as R[]) ?? []
      if (!due.length) return 'Nothing is due in the next month. 👍'
      return due.slice(0, 5).map((d) =>
        `${d.task} (${d.vehicle_name}) ${d.status === 'overdue' ? 'is overdue' : 'is due'}` +
        (d.due_date ? ` ${d.due_date}` : '') +
        (d.distance_left !== null && d.distance_left !== undefined ? ` — ${d.distance_left} ${d.odometer_unit} to go` : '')
      ).join('; ') + '.'
    }
    case 'find_camping': {
      const sites = (result.campsites as R[]) ?? []
      if (!sites.length) return 'No campsites within reach, sorry. Try a wider radius?'
      return `Closest: ${list(sites.slice(0, 3).map((s) => `${s.name} (${s.distance_km} km, ${Number(s.price_per_night) ? money(s.price_per_night, s.currency as string) : 'free'})`))}.`
    }
    case 'get_weather': {
      const f = result.forecast as R
      const now = f.current as R
      const warnings = ((f.warnings as R[]) ?? []).filter((w) => w.severity === 'warning').map((w) => w.message as string)
      return `Now ${now.temperature_c}°C, ${String(now.description).toLowerCase()}, wind ${now.wind_speed_kmh} km/h.` +
        (warnings.length ? ` ⚠️ ${warnings.slice(0, 2).join(' ')}` : '')
    }
    case 'plan_trip': {
      const plan = result.plan as R
      const total = plan.total as R
      const nights = ((plan.days as R[]) ?? []).map((d) => (d.overnight as R | null)?.name).filter(Boolean) as string[]
      return `${total.distance_km} km over ${total.days} day${total.days === 1 ? '' : 's'}` +
        (nights.length ? `, staying at ${list(nights)}` : '') +
        (total.estimated_cost ? `; about ${money(total.estimated_cost, plan.currency as string)} in fuel and camping` : '') +
        (plan.route_source === 'estimate' ? ' (distances estimated: maps are unavailable)' : '') + '.'
    }
    case 'add_trip_stop':
      return `Added ${((result.stop as R).name as string) ?? 'the stop'} to ${(result.trip as R).name}.`
    case 'find_saved_places': {
      const places = (result.places as R[]) ?? []
      if (!places.length) return "You haven't saved any places like that yet."
      return list(places.slice(0, 5).map((p) => `${p.name}${p.distance_km !== undefined ? ` (${p.distance_km} km)` : ''}`)) + '.'
    }
    case 'post_to_community': {
      const post = result.post as R
      const where = post.group ? `in ${(post.group as R).name}` : post.visibility === 'friends' ? 'for your friends' : 'for everyone'
      return `Posted ${where}: "${oneLine(String(post.body), 120)}".`
    }
    case 'get_community_feed': {
      const posts = (result.posts as R[]) ?? []
      if (!posts.length) return 'Nothing new in the community just now.'
      return posts.slice(0, 3).map((x) => `${x.author || 'A traveller'}${x.group ? ` in ${x.group}` : ''}: "${oneLine(String(x.body), 100)}"`)
        .join(' · ')
    }
    case 'set_budget': {
      const b = result.budget as R
      const cur = b.current as R
      return `${b.label} budget set: ${money(b.amount, b.currency as string)} ${b.period}. So far ${money(cur.spent, b.currency as string)} ` +
        `spent this period (${cur.percent}%).`
    }
    case 'add_to_goal': {
      const k = result.contribution as R
      const g = result.goal as R
      return `${k.kind === 'withdrawal' ? 'Took' : 'Put'} ${k.amount} ${k.kind === 'withdrawal' ? 'out of' : 'towards'} ${g.name}: ` +
        `${g.saved_amount} of ${g.target_amount} saved (${g.progress_percent}%).`
    }
    case 'get_savings_goals': {
      const goals = (result.goals as R[]) ?? []
      if (!goals.length) return 'No savings goals yet: make one in Wins.'
      return goals.slice(0, 4).map((g) => `${g.name}: ${g.saved_amount} of ${g.target_amount} (${g.progress_percent}%)`).join('; ') + '.'
    }
    case 'create_event': {
      const e = result.event as R
      const when = e.all_day ? `on ${e.start}` : `on ${String(e.start).slice(0, 10)} at ${String(e.start).slice(11)}`
      const remind = (e.reminders as number[]).length ? ' I\'ll remind you.' : ''
      return `In your calendar: ${e.title} ${when}.${remind}`
    }
    case 'move_event': {
      const e = result.event as R
      return `Moved ${e.title} to ${String(e.start).replace('T', ' at ')}.`
    }
    case 'cancel_event':
      return `Cancelled ${(result.cancelled as R).title}.`
    case 'list_events': {
      const events = (result.events as R[]) ?? []
      if (!events.length) return `Nothing in your calendar from ${result.from} to ${result.to}.`
      return events.slice(0, 8).map((x) => `${x.date}${x.time ? ` ${x.time}` : ''} ${x.title}`).join('; ') + '.'
    }
    case 'update_preferences':
      return 'Settings updated.'
    case 'get_insights': {
      const lines = (result.insights as string[]) ?? []
      return lines.length ? lines.join(' ') : 'Not much to go on yet — log a few expenses and fill-ups and ask me again.'
    }
    case 'remember_fact':
      return `Got it — I'll remember that ${(result.memory as R).content}.`
    case 'forget_fact':
      return result.forgotten ? `Forgotten: "${(result.forgotten as R).content}".` : "I couldn't find that among what I remember."
    default:
      return 'Done.'
  }
}

export const GREETING = (ctx: PamContext) =>
  `G'day${ctx.name ? ` ${ctx.name}` : ''}! Tell me what you spent, fuel you bought or work you did on the rig, or ask how your budget's going.`

export const HELP = 'I can log expenses, income, fill-ups and maintenance, tell you what you spent or what is due, find campsites ' +
  'nearby, check the weather, keep your calendar and remind you, post to your groups and friends or tell you what they are saying, and remember things about ' +
  'you and your rig. Try: "spent $45 on diesel at Broken Hill yesterday".'

export const NOT_UNDERSTOOD = "Sorry, I didn't catch that. Try \"spent 45 bucks on groceries\" or \"what's due on the van?\""
