// /you/profile: the road profile — how this traveller travels (rig, towing,
// pets, daily distance, camps, style, units, currency, language, time zone).
// It lives in profiles.preferences, changed through the one profile path
// (_shared/profile.ts, also PATCH /auth/me and PAM's update_preferences);
// trip planning and PAM read it.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { notFound } from '../_shared/errors.ts'
import { Preferences, updateProfile } from '../_shared/profile.ts'
import { body, json } from '../_shared/resource.ts'

const RoadProfile = z.object({
  full_name: z.string(),
  region: z.string().nullable(),
  preferences: z.record(z.string(), z.unknown()).openapi({ description: 'the road profile and settings (see Preferences)' }),
}).openapi('RoadProfile')

const tags = ['you: profile']

const getProfile = route({
  method: 'get',
  path: '/profile',
  auth: 'user',
  tags,
  summary: 'Your road profile',
  responses: { 200: { description: 'The profile', ...json(z.object({ profile: RoadProfile })) } },
})

const patchProfile = route({
  method: 'patch',
  path: '/profile',
  auth: 'user',
  tags,
  summary: 'Change your road profile (the fields given; the others stay)',
  request: { ...body(Preferences.refine((v) => Object.keys(v).length > 0, 'nothing to update')) },
  responses: { 200: { description: 'The profile', ...json(z.object({ profile: RoadProfile })) } },
})

export function registerProfileRoutes(app: App) {
  app.openapi(getProfile, async (c) => {
    const [profile] = await c.var.postgres.query`
      select full_name, region, preferences from pam.profiles where id = (select auth.uid())`
    if (!profile) throw notFound('profile')
    return c.json({ profile } as never, 200)
  })

  app.openapi(patchProfile, async (c) => {
    const row = await updateProfile(c, { preferences: c.req.valid('json') })
    if (!row) throw notFound('profile')
    const { full_name, region, preferences } = row as Record<string, unknown>
    return c.json({ profile: { full_name, region, preferences } } as never, 200)
  })
}
