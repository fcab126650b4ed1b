// The tables an app can sync: each with the JSON shape its rows have in the
// API (the same select lists the routes use), and — for those an app may
// change offline — how a pushed change is applied: through the same domain
// code as the routes (resource declarations, the expense path).
import { isoSql, type ResourceSpec } from '../_shared/resource.ts'
import { CONTRIBUTION_COLUMNS, GOAL_COLUMNS } from '../wins/goals.ts'
import { EXPENSE_COLUMNS } from '../wins/expense-model.ts'
import { hustleResource } from '../wins/hustles.ts'
import { incomeResource } from '../wins/income.ts'
import { REVIEW_COLUMNS } from '../wheels/camping.ts'
import { maintenanceResource } from '../wheels/maintenance.ts'
import { placeResource } from '../wheels/places.ts'
import { tripResource } from '../wheels/trips.ts'
import { vehicleResource } from '../wheels/vehicles.ts'
import { changeEvent, EVENT_FIELDS, eventResource } from '../you/events.ts'
import type { Tx } from '../_shared/db.ts'

export interface SyncTable {
  /** The name in `changes` (the table's own). */
  name: string
  table: string
  alias: string
  /** The select list giving a row's JSON, as the API shows it. */
  select: string
  /** How pushed creates and updates are applied; absent: pull only. A resource whose API fields are
   * not its columns names them (`fields`), and one whose update is more than setting them its `update`. */
  push?:
    | {
      kind: 'resource'
      spec: ResourceSpec
      fields?: string[]
      update?: (tx: Tx, id: string, input: Record<string, unknown>) => Promise<Record<string, unknown> | undefined>
    }
    | { kind: 'expense' }
}

/** `now` does not matter here: only the select list and the write path are used (income's fills "today" itself). */
export function syncTables(now: () => Date): SyncTable[] {
  const resource = (name: string, spec: ResourceSpec): SyncTable => ({
    name,
    table: spec.table,
    alias: spec.alias,
    select: spec.select,
    push: { kind: 'resource', spec },
  })
  // Parents before children: a batch may create a trip and an expense on it.
  return [
    {
      name: 'expense_categories',
      table: 'pam.expense_categories',
      alias: 'ec',
      select: `ec.id, ec.slug, ec.label, ${isoSql('ec.created_at')} as created_at, ${isoSql('ec.updated_at')} as updated_at`,
    },
    resource('hustles', hustleResource),
    resource('vehicles', vehicleResource),
    resource('trips', tripResource),
    resource('saved_places', placeResource),
    resource('income', incomeResource({ now })),
    { name: 'expenses', table: 'pam.expenses', alias: 'e', select: EXPENSE_COLUMNS, push: { kind: 'expense' } },
    resource('maintenance_records', maintenanceResource),
    {
      name: 'budgets',
      table: 'pam.budgets',
      alias: 'b',
      select: `b.id, b.category, b.period, b.amount::text as amount, b.rollover, b.start_date::text as start_date,
        ${isoSql('b.created_at')} as created_at, ${isoSql('b.updated_at')} as updated_at`,
    },
    { name: 'savings_goals', table: 'pam.savings_goals', alias: 'g', select: GOAL_COLUMNS },
    { name: 'goal_contributions', table: 'pam.goal_contributions', alias: 'k', select: CONTRIBUTION_COLUMNS },
    {
      name: 'notifications',
      table: 'pam.notifications',
      alias: 'n',
      select: `n.id, n.kind, n.title, n.body, n.data, ${isoSql('n.read_at')} as read_at, ${isoSql('n.created_at')} as created_at`,
    },
    { name: 'campsite_reviews', table: 'pam.campsite_reviews', alias: 'cr', select: REVIEW_COLUMNS },
    {
      ...resource('calendar_events', eventResource),
      push: {
        kind: 'resource',
        spec: eventResource,
        fields: EVENT_FIELDS,
        // Deleted on the server meanwhile: no row (the server's state stands).
        update: async (tx, id, input) =>
          (await tx`select 1 from pam.calendar_events where id = ${id}`).length ? await changeEvent(tx, id, input) : undefined,
      },
    },
  ]
}
