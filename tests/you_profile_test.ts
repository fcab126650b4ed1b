// /you/profile: the road profile, validated, merged field by field, and read
// by trip planning (a day's drive, the camps and the rig's length when the
// request does not say).
import { assert, assertEquals } from './_support/assert.ts'
import { signUp } from './_support/stack.ts'
import { type Answer, functionAs } from './_support/wins.ts'
import { wheelsAs } from './_support/wheels.ts'

const youAs = functionAs('you')
const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

Deno.test('you: the road profile is validated and merged field by field', async () => {
  const user = await signUp({ full_name: 'Road Profile' })
  const you = youAs(user)
  const set = await you('profile', {
    method: 'PATCH',
    body: { vehicle_type: 'caravan', towing: true, rig_length_m: 12.5, pets: true, max_daily_km: 300, camp_types: ['free_camping'],
      travel_style: 'budget', distance_unit: 'km', volume_unit: 'L', currency: 'AUD', language: 'en-AU', timezone: 'Australia/Darwin' },
  })
  assertEquals(set.status, 200, show(set))
  const more = await you('profile', { method: 'PATCH', body: { max_daily_km: 450 } })
  const p = more.body.profile.preferences
  assertEquals([p.vehicle_type, p.towing, p.rig_length_m, p.pets, p.max_daily_km, p.camp_types, p.timezone],
    ['caravan', true, 12.5, true, 450, ['free_camping'], 'Australia/Darwin'])
  assertEquals((await you('profile')).body.profile.full_name, 'Road Profile')
  for (const body of [{}, { max_daily_km: 10 }, { rig_length_m: -1 }, { camp_types: ['hotel'] }, { timezone: 'Mars/Base' },
    { vehicle_type: 'spaceship' }, { travel_style: 'fast' }, { distance_unit: 'furlongs' }, { wheels: 6 }]) {
    assertEquals((await you('profile', { method: 'PATCH', body })).status, 400, JSON.stringify(body))
  }
  assertEquals((await you('profile')).body.profile.preferences.max_daily_km, 450, 'refused patches changed nothing')
})

Deno.test("you: trip planning takes a day's drive from the road profile when the request does not say", async () => {
  const user = await signUp()
  const plan = async (body: Record<string, unknown>) => {
    const res = await wheelsAs(user)('trips/plan', {
      method: 'POST',
      body: { origin: { lat: -27.47, lng: 153.03 }, destination: { lat: -12.46, lng: 130.84 }, start_date: '2026-06-01', ...body },
    })
    assertEquals(res.status, 200, show(res))
    return res.body.plan
  }
  const standard = await plan({})
  await youAs(user)('profile', { method: 'PATCH', body: { max_daily_km: 200 } })
  const short = await plan({})
  const asked = await plan({ max_daily_drive_km: 200 })
  assertEquals(short.total.days, asked.total.days)
  assert(short.total.days > standard.total.days, `${short.total.days} days at 200 km a day, ${standard.total.days} at 350`)
  assertEquals((await plan({ max_daily_drive_km: 900 })).total.days < short.total.days, true, 'the request still decides')
})
