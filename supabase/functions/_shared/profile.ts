// The traveller's profile: its preferences' shape, and the one way to change
// it (the auth function's PATCH /me and PAM's update_preferences tool), with
// the cache drops a change of name, time zone or currency calls for.
import { z } from './http.ts'
import type { AppContext } from './http.ts'
import { CACHE_POLICIES } from './cache.ts'
import { canonicalZone, isTimeZone } from './timezone.ts'
import { ApiError } from './errors.ts'
import { Channels } from './email-channels.ts'

export const Preferences = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD').optional(),
  units: z.enum(['metric', 'imperial']).optional(),
  // Stored as its canonical name: the jobs look the zone up by exact name (see updateProfile).
  timezone: z.string().max(64).refine(isTimeZone, 'an IANA time zone such as Australia/Brisbane').overwrite(canonicalZone)
    .optional(),
  language: z.string().regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'a language tag such as en-AU').optional(),
  notifications: z.object({
    email: z.boolean().optional().openapi({ description: 'false: no email at all (in-app only)' }),
    push: z.boolean().optional(),
    maintenance_reminders: z.boolean().optional(),
    budget_alerts: z.boolean().optional(),
    document_reminders: z.boolean().optional(),
    // How each kind reaches the traveller by email (GET/PATCH /notifications/channels change it kind by kind).
    channels: Channels.optional(),
  }).strict().optional(),
  // The road profile: how this traveller travels. Trip planning and PAM read it.
  distance_unit: z.enum(['km', 'mi']).optional().openapi({ description: 'default: km (metric) or mi (imperial)' }),
  volume_unit: z.enum(['L', 'gal']).optional().openapi({ description: 'default: L (metric) or gal (imperial)' }),
  vehicle_type: z.enum(['motorhome', 'caravan', 'campervan', 'fifth_wheel', 'camper_trailer', 'van', 'car', 'other'])
    .optional(),
  towing: z.boolean().optional().openapi({ description: 'towing a caravan, trailer or car' }),
  rig_length_m: z.number().positive().max(40).optional().openapi({ description: 'the whole rig, towing included' }),
  pets: z.boolean().optional().openapi({ description: 'travelling with pets (pet-friendly camps)' }),
  max_daily_km: z.number().int().min(50).max(1500).optional().openapi({ description: 'most kilometres driven in a day' }),
  camp_types: z.array(z.enum(['national_park', 'free_camping', 'caravan_park', 'showground', 'rest_area'])).max(5)
    .optional().openapi({ description: 'the kinds of camps preferred' }),
  travel_style: z.enum(['budget', 'balanced', 'comfort', 'off_grid']).optional(),
}).strict().openapi('Preferences')
export type Preferences = z.infer<typeof Preferences>

export interface ProfilePatch {
  full_name?: string
  region?: string | null
  preferences?: Preferences
}

/** Changes the caller's profile (preferences merged key by key, and so are `notifications` and its
 * `channels`: a switch sent alone keeps the email choices and unsubscribes); the updated row, or undefined. */
export async function updateProfile(c: AppContext, patch: ProfilePatch) {
  const { notifications, ...rest } = patch.preferences ?? {}
  const { channels, ...switches } = notifications ?? {}
  const [row] = await c.var.postgres.transaction(async (tx) => {
    // The jobs find a traveller's zone in pg_timezone_names by its name (jobs/users.ts): a zone is
    // stored as the database spells it (any case given: "asia/kolkata" is Asia/Kolkata), and one it
    // does not know, which would put their day on UTC, is refused. (That view is slow to read: not
    // read for the zone the profile has already, which apps send back with the rest.)
    if (rest.timezone !== undefined) {
      const [zone] = await tx`
        select case when p.preferences ->> 'timezone' = ${rest.timezone} then ${rest.timezone}::text
                    else (select z.name from pg_timezone_names z where lower(z.name) = lower(${rest.timezone})
                          order by z.name = ${rest.timezone} desc, z.name limit 1) end as name
        from pam.profiles p where p.id = (select auth.uid())`
      if (zone && !zone.name) throw unknownZone()
      if (zone) rest.timezone = zone.name
    }
    return await tx`
      update pam.profiles set
        full_name = coalesce(${patch.full_name ?? null}, full_name),
        region = case when ${'region' in patch} then ${patch.region ?? null} else region end,
        preferences = preferences || ${rest as never}::jsonb || case when ${notifications !== undefined}
          then jsonb_build_object('notifications', coalesce(preferences -> 'notifications', '{}'::jsonb)
            || ${switches as never}::jsonb
            || jsonb_build_object('channels',
                 coalesce(preferences -> 'notifications' -> 'channels', '{}'::jsonb) || ${(channels ?? {}) as never}::jsonb))
          else '{}'::jsonb end
      where id = (select auth.uid())
      returning id, email, full_name, region, preferences, created_at, updated_at`
  })
  if (!row) return undefined
  // Write-through: the update has committed; drop the cached copy, and what was
  // cached in the old name, time zone or home currency (PAM's context, summaries, due maintenance).
  const user = c.var.userId!
  const p = CACHE_POLICIES
  await c.var.cache.invalidate(
    user,
    p.user_profiles.key(user),
    p.chat_context.key(user),
    p.dashboard.key(user),
    ...(patch.preferences ? [p.maintenance_records.key(user), p.expense_summaries.hash(user)] : []),
  )
  return row
}

const unknownZone = () => {
  const message = 'a time zone the database does not know'
  return new ApiError(400, 'validation_failed', message, [{ path: ['timezone'], message }])
}
