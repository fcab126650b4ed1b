// /you/events: the traveller's calendar events, and /you/calendar: their
// occurrences between two local days. An event is entered as a wall clock in
// a time zone (the profile's unless given) and kept as the instants it starts
// and ends (recurrence.ts does the time).
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import type { Tx } from '../_shared/db.ts'
import { addDays, calendarDate, daysBetween, isCalendarDate } from '../_shared/dates.ts'
import { canonicalZone, instantOf, isTimeZone, wallOf } from '../_shared/timezone.ts'
import { Latitude, Longitude } from '../_shared/coordinates.ts'
import {
  createOf,
  errorOf,
  IdParams,
  isoSql,
  json,
  newestFirst,
  patchOf,
  registerResource,
  type ResourceSpec,
  unknownReference,
  updateRow,
  Uuid,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { dayRange, lastDay, occurrences, RECURRENCE, type Timing, timingOfRow, wall } from './recurrence.ts'

const KINDS = ['travel', 'maintenance', 'appointment', 'social', 'personal'] as const
const LOCAL = /^\d{4}-\d{2}-\d{2}(T([01]\d|2[0-3]):[0-5]\d)?$/
/** A wall clock: a day (all-day events) or a day and a time. */
const LocalTime = z.string().regex(LOCAL, 'YYYY-MM-DD, or YYYY-MM-DDTHH:MM').refine((s) => isCalendarDate(s.slice(0, 10)), 'not a calendar day')
  .openapi({ example: '2026-04-07T09:00' })
export const MAX_CALENDAR_DAYS = 92

const fields = {
  title: singleLineText({ max: 200 }).openapi({ example: 'Book the Uluru campground' }),
  kind: z.enum(KINDS).optional().openapi({ description: 'default personal' }),
  all_day: z.boolean().optional().openapi({ description: 'whole local days (start and end are days); default false' }),
  start: LocalTime.openapi({ description: 'the wall clock in time_zone: YYYY-MM-DDTHH:MM, or YYYY-MM-DD for all-day' }),
  end: LocalTime.optional().openapi({
    description: 'the wall clock it ends (default: an hour after start; all-day: the last day, default the start day)',
  }),
  time_zone: z.string().max(64).refine(isTimeZone, 'an IANA time zone such as Australia/Sydney').overwrite(canonicalZone)
    .optional()
    .openapi({ description: "where the wall clocks are (default: your profile's time zone)", example: 'Australia/Darwin' }),
  reminders: z.array(z.number().int().min(0).max(40320)).max(5).optional()
    .openapi({ description: 'minutes before each start to remind you (at most 28 days), e.g. [1440, 60]' }),
  recurrence: z.string().regex(RECURRENCE, 'FREQ=DAILY|WEEKLY|MONTHLY, then ;INTERVAL=n, then ;BYDAY=MO,TH, then ;UNTIL=YYYYMMDD or ;COUNT=n')
    .refine((r) => !/BYDAY/.test(r) || r.startsWith('FREQ=WEEKLY'), 'BYDAY goes with FREQ=WEEKLY')
    .nullable().optional().openapi({
      description: 'RFC 5545 RRULE subset: FREQ=DAILY|WEEKLY|MONTHLY[;INTERVAL=1–999][;BYDAY=MO,TU,… (weekly)]' +
        '[;UNTIL=YYYYMMDD (the last local day) | ;COUNT=1–999]',
      example: 'FREQ=WEEKLY;INTERVAL=2;UNTIL=20261231',
    }),
  location_name: singleLineText({ max: 200 }).nullable().optional(),
  latitude: Latitude.nullable().optional(),
  longitude: Longitude.nullable().optional(),
  notes: multiLineText({ min: 0, max: 2000 }).optional(),
  trip_id: Uuid.nullable().optional(),
  maintenance_id: Uuid.nullable().optional(),
}
const COLUMNS: Record<string, string> = {
  title: 'text',
  kind: 'text',
  all_day: 'boolean',
  time_zone: 'text',
  starts_at: 'timestamptz',
  ends_at: 'timestamptz',
  reminders: 'integer[]',
  recurrence: 'text',
  recurrence_ends: 'date',
  location_name: 'text',
  latitude: 'double precision',
  longitude: 'double precision',
  notes: 'text',
  trip_id: 'uuid',
  maintenance_id: 'uuid',
}

const Event = z.object({
  id: z.string(),
  title: z.string(),
  kind: z.enum(KINDS),
  all_day: z.boolean(),
  time_zone: z.string(),
  start: z.string().openapi({ description: 'the wall clock it starts, in time_zone' }),
  end: z.string().openapi({ description: 'the wall clock it ends (all-day: its last day)' }),
  starts_at: z.string().openapi({ description: 'the instant (UTC)' }),
  ends_at: z.string(),
  reminders: z.array(z.number()),
  recurrence: z.string().nullable(),
  location_name: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  notes: z.string(),
  trip_id: z.string().nullable(),
  maintenance_id: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('CalendarEvent')

/** `wallClock` (a timestamp without zone) as the API writes it: a day for all-day events, else a day and a time. */
const local = (wallClock: string, allDay: string) =>
  `to_char(${wallClock}, case when ${allDay} then 'YYYY-MM-DD' else 'YYYY-MM-DD"T"HH24:MI' end)`
// An all-day event's last day is the day before its end, on the wall clock: a day may be 23 or 25 hours.
const SELECT = `e.id, e.title, e.kind, e.all_day, e.time_zone,
  ${local('e.starts_at at time zone e.time_zone', 'e.all_day')} as start,
  ${local("(e.ends_at at time zone e.time_zone) - case when e.all_day then interval '1 day' else interval '0' end", 'e.all_day')} as "end",
  ${isoSql('e.starts_at')} as starts_at, ${isoSql('e.ends_at')} as ends_at, e.reminders, e.recurrence,
  e.location_name, e.latitude, e.longitude, e.notes, e.trip_id, e.maintenance_id,
  ${isoSql('e.created_at')} as created_at, ${isoSql('e.updated_at')} as updated_at`

const invalid = (field: string, message: string) => new ApiError(400, 'validation_failed', message, [{ path: [field], message }])

/** The profile's time zone (UTC without one). */
async function profileZone(tx: Tx): Promise<string> {
  const [row] = await tx`select preferences ->> 'timezone' as tz from pam.profiles where id = (select auth.uid())`
  return typeof row?.tz === 'string' && isTimeZone(row.tz) ? row.tz : 'UTC'
}

interface Entered {
  all_day: boolean
  start: string
  end?: string
  time_zone: string
  recurrence: string | null
}

/** The instants (and the recurrence's last day) of an event as entered. */
function timingOf(e: Entered): Record<string, unknown> {
  const day = (s: string) => s.slice(0, 10)
  if (e.all_day !== (e.start.length === 10)) {
    throw invalid('start', e.all_day ? 'an all-day event starts on a day: YYYY-MM-DD' : 'give a time: YYYY-MM-DDTHH:MM')
  }
  if (e.end && e.end.length !== e.start.length) throw invalid('end', 'end is written like start')
  let starts: Date
  let ends: Date
  if (e.all_day) {
    const { from, to } = dayRange(e.start, e.end ?? e.start, e.time_zone)
    ;[starts, ends] = [from, to]
  } else {
    starts = instant(e.start, e.time_zone)
    ends = e.end ? instant(e.end, e.time_zone) : new Date(starts.getTime() + 3_600_000)
  }
  if (ends < starts || (e.end && e.end < e.start)) throw invalid('end', 'end is before start')
  if (daysBetween(day(e.start), day(e.end ?? e.start)) > 365) throw invalid('end', 'an event lasts at most a year')
  const t: Timing = { all_day: e.all_day, time_zone: e.time_zone, starts_at: starts, ends_at: ends, recurrence: e.recurrence }
  return {
    starts_at: starts.toISOString(),
    ends_at: ends.toISOString(),
    recurrence: e.recurrence,
    recurrence_ends: e.recurrence ? lastDay(t) : null,
  }
}
/** The instant a wall clock (YYYY-MM-DDTHH:MM) shows in `tz`. */
const instant = (local: string, tz: string) => instantOf(wall(local), tz)

/** The home screen shows today's and tomorrow's events (GET /you/dashboard). */
const dropHomeScreen = async (c: AppContext) =>
  void await c.var.cache.invalidate(c.var.userId!, CACHE_POLICIES.dashboard.key(c.var.userId!))

export const EVENT_REFUSALS = {
  calendar_events_trip_fkey: () => unknownReference('trip_id', 'unknown_trip', 'not one of your trips'),
  calendar_events_maintenance_fkey: () =>
    unknownReference('maintenance_id', 'unknown_maintenance', 'not one of your maintenance records'),
  calendar_events_coordinates: () => invalid('latitude', 'latitude and longitude go together'),
}

export const eventResource: ResourceSpec = {
  one: 'event',
  many: 'events',
  noun: 'event',
  path: '/events',
  table: 'pam.calendar_events',
  alias: 'e',
  tags: ['you: calendar'],
  schema: Event,
  select: SELECT,
  order: newestFirst('e'),
  listSummary: 'Your events as entered (newest first); /you/calendar gives their occurrences by day',
  filters: {
    fields: { kind: z.enum(KINDS).optional(), q: singleLineText({ max: 100 }).optional() },
    where: (f, p) => [
      ...(f.kind ? [`e.kind = ${p(f.kind)}`] : []),
      ...(f.q ? [`e.title ilike ${p(`%${(f.q as string).replace(/[\\%_]/g, '\\$&')}%`)}`] : []),
    ],
  },
  create: {
    schema: createOf(fields).openapi('CalendarEventCreate'),
    columns: COLUMNS,
    summary: 'Add an event',
    prepare: async (tx, input) => {
      const time_zone = (input.time_zone as string | undefined) ?? await profileZone(tx)
      const timing = timingOf({
        all_day: input.all_day === true,
        start: input.start as string,
        end: input.end as string | undefined,
        time_zone,
        recurrence: (input.recurrence as string | null | undefined) ?? null,
      })
      return { ...input, time_zone, ...timing }
    },
  },
  // The patch schema is declared for sync's pushes; the route is patchEvent below (moving recomputes the instants).
  patch: { schema: patchOf(fields).openapi('CalendarEventPatch'), columns: COLUMNS, summary: 'Change an event' },
  without: ['patch'],
  refusals: EVENT_REFUSALS,
  afterWrite: dropHomeScreen,
}

const patchEvent = route({
  method: 'patch',
  path: '/events/{id}',
  auth: 'user',
  tags: ['you: calendar'],
  summary: 'Change an event (moving it keeps what you do not give: its length, its zone)',
  request: { params: IdParams, body: { required: true, ...json(eventResource.patch!.schema) } },
  responses: { 200: { description: 'Updated', ...json(z.object({ event: Event })) }, 404: errorOf('No such event') },
})

/** What an event is written with (the API's fields, not its columns): what sync takes from a pushed record. */
export const EVENT_FIELDS = Object.keys(fields)

/** Changes event `id` as PATCH does: what moves its time is recomputed from the event as it was. */
export async function changeEvent(tx: Tx, id: string, patch: Record<string, unknown>) {
  const [old] = await tx.unsafe(`select ${SELECT} from pam.calendar_events e where e.id = $1::uuid for update`, [id])
  if (!old) throw notFound('event')
  const timed = ['all_day', 'start', 'end', 'time_zone', 'recurrence'].some((k) => k in patch)
  let values: Record<string, unknown> = { ...patch }
  if (timed) {
    const allDay = (patch.all_day as boolean | undefined) ?? old.all_day as boolean
    const start = (patch.start as string | undefined) ?? old.start as string
    const timeZone = (patch.time_zone as string | undefined) ?? old.time_zone as string
    // Moved without a new end: the same length (all-day: as many days, whether 23, 24 or 25 hours; timed: as
    // many hours from the new start, whatever the clocks do meanwhile); switched to or from all-day: the default end.
    let end = patch.end as string | undefined
    if (end === undefined && patch.all_day === undefined && 'start' in patch) {
      if (allDay) end = addDays(start.slice(0, 10), daysBetween(old.start as string, old.end as string))
      else {
        const length = new Date(old.ends_at as string).getTime() - new Date(old.starts_at as string).getTime()
        end = toLocal(new Date(instant(start, timeZone).getTime() + length), timeZone)
      }
    } else if (end === undefined && patch.all_day === undefined) end = old.end as string
    values = {
      ...values,
      ...timingOf({
        all_day: allDay,
        start,
        end,
        time_zone: timeZone,
        recurrence: 'recurrence' in patch ? (patch.recurrence as string | null) : old.recurrence as string | null,
      }),
    }
  }
  return await updateRow(tx, eventResource, id, values, COLUMNS)
}

const Occurrence = z.object({
  event_id: z.string(),
  occurrence: z.string().openapi({ description: "this occurrence's start, as a wall clock in the event's zone" }),
  title: z.string(),
  kind: z.enum(KINDS),
  all_day: z.boolean(),
  time_zone: z.string(),
  starts_at: z.string(),
  ends_at: z.string(),
  date: z.string().openapi({ description: 'all-day: its first day; else the local day it starts in your zone' }),
  local_start: z.string().nullable().openapi({ description: 'its start in your zone (YYYY-MM-DDTHH:MM); null all-day' }),
  local_end: z.string().nullable(),
  recurring: z.boolean(),
  reminders: z.array(z.number()),
  location_name: z.string().nullable(),
  trip_id: z.string().nullable(),
  maintenance_id: z.string().nullable(),
}).openapi('CalendarOccurrence')

const calendar = route({
  method: 'get',
  path: '/calendar',
  auth: 'user',
  tags: ['you: calendar'],
  summary: 'Your calendar between two local days: every occurrence, recurrences expanded, in order',
  request: {
    query: z.object({
      from: calendarDate().openapi({ description: 'first day, in your time zone' }),
      to: calendarDate().openapi({ description: `last day (inclusive; at most ${MAX_CALENDAR_DAYS} days after from)` }),
      time_zone: z.string().max(64).refine(isTimeZone, 'an IANA time zone').overwrite(canonicalZone).optional()
        .openapi({ description: "whose days (default: your profile's time zone)" }),
    }).refine((q) => q.from <= q.to && daysBetween(q.from, q.to) < MAX_CALENDAR_DAYS, {
      message: `from is on or before to, at most ${MAX_CALENDAR_DAYS} days`,
      path: ['to'],
    }),
  },
  responses: {
    200: {
      description: 'The occurrences, by start',
      ...json(z.object({ time_zone: z.string(), from: z.string(), to: z.string(), occurrences: z.array(Occurrence) })),
    },
  },
})

type EventRow = z.infer<typeof Event>

/** Every occurrence of the caller's events on local days from..to of `timeZone`, in order. */
export async function calendarOf(c: AppContext, from: string, to: string, timeZone: string) {
  const { from: a, to: b } = dayRange(from, to, timeZone)
  // Candidates: events that start before the window ends and whose last occurrence is not before it
  // (a day of slack either side: all-day events are days in their own zone).
  const rows = await c.var.postgres.queryRaw<EventRow>(
    `select ${SELECT} from pam.calendar_events e
      where e.user_id = (select auth.uid()) and e.starts_at < $2::timestamptz + interval '1 day'
        and (case when e.recurrence is null then e.ends_at >= $1::timestamptz - interval '1 day'
                  else e.recurrence_ends is null or e.recurrence_ends >= ($1::timestamptz - interval '367 days')::date end)`,
    [a.toISOString(), b.toISOString()],
  )
  const localOf = (d: Date) => toLocal(d, timeZone)
  const out: z.infer<typeof Occurrence>[] = []
  for (const e of rows) {
    const t = timingOfRow(e)
    // All-day events are days wherever you are: the window's days in the event's own zone.
    const window = e.all_day ? dayRange(from, to, e.time_zone) : { from: a, to: b }
    for (const o of occurrences(t, window.from, window.to)) {
      out.push({
        event_id: e.id,
        occurrence: o.occurrence,
        title: e.title,
        kind: e.kind,
        all_day: e.all_day,
        time_zone: e.time_zone,
        starts_at: o.starts_at.toISOString(),
        ends_at: o.ends_at.toISOString(),
        date: e.all_day ? o.occurrence : localOf(o.starts_at).slice(0, 10),
        local_start: e.all_day ? null : localOf(o.starts_at),
        local_end: e.all_day ? null : localOf(o.ends_at),
        recurring: !!e.recurrence,
        reminders: e.reminders,
        location_name: e.location_name,
        trip_id: e.trip_id,
        maintenance_id: e.maintenance_id,
      })
    }
  }
  return out.sort((x, y) => (x.all_day === y.all_day ? 0 : x.all_day ? -1 : 1) || x.date.localeCompare(y.date) ||
    x.starts_at.localeCompare(y.starts_at) || x.event_id.localeCompare(y.event_id))
}

/** The wall clock (YYYY-MM-DDTHH:MM) of `d` in `tz`. */
const toLocal = (d: Date, tz: string) => wallOf(d, tz).toISOString().slice(0, 16)

export function registerEventRoutes(app: App) {
  registerResource(app, eventResource)

  app.openapi(patchEvent, async (c) => {
    const { id } = c.req.valid('param')
    const patch = c.req.valid('json')
    const event = await writeTransaction(c, (tx) => changeEvent(tx, id, patch as Record<string, unknown>), EVENT_REFUSALS)
    if (!event) throw notFound('event')
    await dropHomeScreen(c)
    return c.json({ event } as never, 200)
  })

  app.openapi(calendar, async (c) => {
    const q = c.req.valid('query')
    const timeZone = q.time_zone ?? await c.var.postgres.transaction(profileZone)
    const occurrences = await calendarOf(c, q.from, q.to, timeZone)
    return c.json({ time_zone: timeZone, from: q.from, to: q.to, occurrences }, 200)
  })
}
