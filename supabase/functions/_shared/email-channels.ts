// Which notifications reach a traveller by email, and how. In-app is always
// on; per kind, email is `email` (each one, as it happens), `digest` (in one
// email a day, after PAM_EMAIL_DIGEST_HOUR local time) or `off`. The choice
// lives in the profile (`preferences.notifications.channels`, and
// `preferences.notifications.email: false` turns every email off); what is
// not chosen takes the default below. The database applies the same rules
// when a notification is written (pam.email_channel in the email migration):
// keep the two in step (tests/email_test.ts checks them against each other).
import { z } from './http.ts'

export const CHANNELS = ['email', 'digest', 'off'] as const
export type Channel = typeof CHANNELS[number]


/** The defaults: what needs acting on comes at once, the community once a day, the daily report stays in the app.
 * A kind not listed (one added later) is emailed. */
export const DEFAULT_CHANNELS: Record<string, Channel> = {
  budget_threshold: 'email',
  maintenance_due: 'email',
  event_reminder: 'email',
  document_expiring: 'email',
  social: 'digest',
  report_ready: 'off',
}
export const FALLBACK_CHANNEL: Channel = 'email'

/** A notification kind the database allows (`notifications_kind_check`): choices are merged into the
 * profile, so only these can be named, and the stored choices stay as few as the kinds. */
const KindName = z.string().refine((k) => Object.hasOwn(DEFAULT_CHANNELS, k), {
  message: `a notification kind: ${Object.keys(DEFAULT_CHANNELS).join(', ')}`,
})

export const Channels = z.record(KindName, z.enum(CHANNELS))
  .openapi({
    description: 'email channel per notification kind: email (each one), digest (one email a day) or off (in-app only). ' +
      'Defaults: budget_threshold, maintenance_due, event_reminder and any other kind email; social digest; report_ready off',
    example: { social: 'off', budget_threshold: 'digest' },
  })

export interface EmailPreferences {
  email?: boolean
  channels?: Record<string, Channel>
}

/** The channel a notification of `kind` takes under these preferences (the database's rule). */
export function channelOf(prefs: EmailPreferences | undefined, kind: string): Channel {
  if (prefs?.email === false) return 'off'
  const chosen = prefs?.channels?.[kind]
  if (chosen && (CHANNELS as readonly string[]).includes(chosen)) return chosen
  return DEFAULT_CHANNELS[kind] ?? FALLBACK_CHANNEL
}
