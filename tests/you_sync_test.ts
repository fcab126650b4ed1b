// The calendar offline: events made, moved and deleted on the device are
// pushed through the calendar's own code (wall clocks in a zone, instants
// recomputed), and pulled in the API's shape.
import { assertEquals } from './_support/assert.ts'
import { signUp } from './_support/stack.ts'
import { syncAs } from './_support/sync.ts'
import { type Answer, functionAs } from './_support/wins.ts'

const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body).slice(0, 1500)}`

Deno.test('sync: calendar events pushed offline are the events the API makes, and pull back in its shape', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const cursor = (await s('pull?tables=calendar_events')).body.timestamp
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()]
  const pushed = await s('push', {
    method: 'POST',
    body: {
      last_pulled_at: cursor,
      changes: {
        calendar_events: {
          created: [
            { id: a, title: 'Ferry to Tassie', start: '2026-10-03T19:30', end: '2026-10-04T06:30', time_zone: 'Australia/Melbourne', reminders: [120] },
            { id: b, title: 'Market', start: '2026-10-03', all_day: true, time_zone: 'Australia/Hobart', recurrence: 'FREQ=WEEKLY;COUNT=4' },
          ],
        },
      },
    },
  })
  assertEquals(pushed.status, 200, show(pushed))
  assertEquals(pushed.body.results.map((r: { result: string }) => r.result), ['applied', 'applied'])
  const event = (await functionAs('you')(user)(`events/${a}`)).body.event
  assertEquals([event.start, event.end, event.starts_at, event.reminders], ['2026-10-03T19:30', '2026-10-04T06:30', '2026-10-03T09:30:00.000000Z', [120]])

  const pulled = (await s(`pull?since=${cursor}&tables=calendar_events`)).body.changes.calendar_events
  assertEquals(pulled.created.map((e: { id: string }) => e.id).sort(), [a, b].sort())
  assertEquals(pulled.created.find((e: { id: string }) => e.id === a).start, '2026-10-03T19:30')

  // Moved offline: the instants are recomputed and the length kept: the first crossing took 10 hours (the clocks went
  // forward during it, so it ended at 06:30); a day later it still takes 10, ending at 05:30.
  const after = (await s(`pull?tables=calendar_events`)).body.timestamp
  const moved = await s('push', {
    method: 'POST',
    body: {
      last_pulled_at: after,
      changes: { calendar_events: { updated: [{ ...event, start: '2026-10-04T19:30', _changed: 'start' }], deleted: [b] } },
    },
  })
  assertEquals(moved.status, 200, show(moved))
  const now = (await functionAs('you')(user)(`events/${a}`)).body.event
  assertEquals([now.start, now.end, now.starts_at], ['2026-10-04T19:30', '2026-10-05T05:30', '2026-10-04T08:30:00.000000Z'])
  const gone = (await s(`pull?since=${after}&tables=calendar_events`)).body.changes.calendar_events
  assertEquals([gone.deleted, gone.updated.map((e: { id: string }) => e.id)], [[b], [a]])

  const bad = await s('push', {
    method: 'POST',
    body: { changes: { calendar_events: { created: [{ id: crypto.randomUUID(), title: 'x', start: '2026-10-03T25:00' }] } } },
  })
  assertEquals([bad.status, bad.body.error.code, bad.body.error.details.errors[0].table], [400, 'invalid_changes', 'calendar_events'], show(bad))
})

Deno.test('sync: a retried event create whose trip was deleted since is a conflict, and the rest of the batch applies', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const trip = crypto.randomUUID()
  const event = { id: crypto.randomUUID(), title: 'Ferry', start: '2026-10-03T19:30', time_zone: 'Australia/Melbourne', trip_id: trip }
  const first = await s('push', { method: 'POST', body: { changes: { trips: { created: [{ id: trip, name: 'Tassie' }] }, calendar_events: { created: [event] } } } })
  assertEquals(first.body.results.map((r: { result: string }) => r.result), ['applied', 'applied'], show(first))
  // The answer was lost; meanwhile the trip went (on the web), which unlinked the event.
  assertEquals((await functionAs('wheels')(user)(`trips/${trip}`, { method: 'DELETE' })).status, 204)
  const place = { id: crypto.randomUUID(), name: 'Ferry terminal', latitude: -37.84, longitude: 144.94 }
  const retry = await s('push', { method: 'POST', body: { changes: { calendar_events: { created: [event] }, saved_places: { created: [place] } } } })
  assertEquals(retry.status, 200, show(retry))
  const [placed, ev] = retry.body.results
  assertEquals([placed.result, ev.result, ev.server.trip_id, ev.server.title], ['applied', 'conflict', null, 'Ferry'])
})

Deno.test('sync: an all-day event on a spring-forward day pulls back ending that day, and pushes back as pulled', async () => {
  const user = await signUp()
  const s = syncAs(user)
  const cursor = (await s('pull?tables=calendar_events')).body.timestamp
  const id = crypto.randomUUID()
  const made = await s('push', {
    method: 'POST',
    body: { changes: { calendar_events: { created: [{ id, title: 'Rest day', start: '2026-10-04', all_day: true, time_zone: 'Australia/Sydney' }] } } },
  })
  assertEquals(made.status, 200, show(made))
  // Sydney's 2026-10-04 is 23 hours (the clocks go forward at 02:00).
  const [pulled] = (await s(`pull?since=${cursor}&tables=calendar_events`)).body.changes.calendar_events.created
  assertEquals([pulled.start, pulled.end], ['2026-10-04', '2026-10-04'])
  // Renamed on the device: the whole record goes back, its days as pulled.
  const renamed = await s('push', { method: 'POST', body: { changes: { calendar_events: { updated: [{ ...pulled, title: 'Rest' }] } } } })
  assertEquals(renamed.body.results?.map((r: { result: string }) => r.result), ['applied'], show(renamed))
  const event = (await functionAs('you')(user)(`events/${id}`)).body.event
  assertEquals([event.title, event.start, event.end], ['Rest', '2026-10-04', '2026-10-04'])
})
