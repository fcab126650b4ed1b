// Settings of the local auth service, read from the [auth] section of the
// project's supabase/config.toml as the Supabase CLI passes them to Supabase
// Auth (GOTRUE_* variables), with Supabase Auth's defaults for what is absent.
import { parse } from 'smol-toml'
import { z } from 'zod'

export interface AuthSettings {
  /** `minimum_password_length` (GOTRUE_PASSWORD_MIN_LENGTH); under 6 counts as 6, as in Supabase Auth. */
  minimumPasswordLength: number
  /** `jwt_expiry` (GOTRUE_JWT_EXP): access token lifetime in seconds. */
  jwtExpiry: number
  /** `enable_refresh_token_rotation`: a refresh token reused against the rules revokes its session's tokens. */
  refreshTokenRotation: boolean
  /** `refresh_token_reuse_interval`: seconds a rotated refresh token may still be exchanged. */
  refreshTokenReuseInterval: number
  /** `enable_signup` (GOTRUE_DISABLE_SIGNUP is its negation). */
  enableSignup: boolean
  /** `site_url`: where links in emails lead when no allowed `redirect_to` is given. */
  siteUrl: string
  /** `additional_redirect_urls`: other allowed `redirect_to` targets (globs: `*`, `**`, `?`). */
  additionalRedirectUrls: string[]
  /** `[auth.email]` */
  email: {
    /** `enable_confirmations` (GOTRUE_MAILER_AUTOCONFIRM is its negation): sign-up needs the emailed link or code. */
    confirmations: boolean
    /** `double_confirm_changes` (GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED): an email change is confirmed from both addresses. */
    secureEmailChange: boolean
    /** `max_frequency` (GOTRUE_SMTP_MAX_FREQUENCY): the least time between two emails of a kind to one user, seconds. */
    maxFrequencySeconds: number
    /** `otp_length` (GOTRUE_MAILER_OTP_LENGTH): digits of the emailed code. */
    otpLength: number
    /** `otp_expiry` (GOTRUE_MAILER_OTP_EXP): seconds an emailed link or code stays good. */
    otpExpirySeconds: number
  }
  /** `[auth.rate_limit]`: requests per 5 minutes per client IP, in token buckets of 30. */
  rateLimit: {
    /** `sign_in_sign_ups` (GOTRUE_RATE_LIMIT_OTP): POST /signup and PUT /user. */
    signInSignUps: number
    /** `token_refresh` (GOTRUE_RATE_LIMIT_TOKEN_REFRESH): POST /token, every grant type. */
    tokenRefresh: number
    /** `email_sent` (GOTRUE_RATE_LIMIT_EMAIL_SENT): emails per hour, the whole service, while confirmations are on. */
    emailSent: number
  }
  /** IP address forwarding (GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED): a hosted project setting, not
   * in config.toml, off for new projects. On: a secret-key request's `Sb-Forwarded-For` names the
   * client IP that rate limits count. */
  sbForwardedFor: boolean
}

export type AuthSettingsOverrides =
  & Partial<Omit<AuthSettings, 'rateLimit' | 'email'>>
  & { rateLimit?: Partial<AuthSettings['rateLimit']>; email?: Partial<AuthSettings['email']> }

/** Supabase Auth's defaults (those of a new hosted project and of `supabase init`). */
export const AUTH_DEFAULTS: AuthSettings = {
  minimumPasswordLength: 6,
  jwtExpiry: 3600,
  refreshTokenRotation: true,
  refreshTokenReuseInterval: 10,
  enableSignup: true,
  siteUrl: 'http://localhost:3000',
  additionalRedirectUrls: [],
  email: { confirmations: true, secureEmailChange: true, maxFrequencySeconds: 60, otpLength: 6, otpExpirySeconds: 3600 },
  rateLimit: { signInSignUps: 30, tokenRefresh: 150, emailSent: 30 },
  sbForwardedFor: false,
}

export const PROJECT_CONFIG = new URL('../../supabase/config.toml', import.meta.url)

const count = z.int().min(0)
// Other keys of [auth] are the CLI's business and pass through unread.
const AuthSection = z.object({
  minimum_password_length: count.optional(),
  jwt_expiry: z.int().min(1).max(604_800).optional(),
  enable_refresh_token_rotation: z.boolean().optional(),
  refresh_token_reuse_interval: count.optional(),
  enable_signup: z.boolean().optional(),
  site_url: z.url().optional(),
  additional_redirect_urls: z.array(z.string().min(1)).optional(),
  email: z.object({
    enable_confirmations: z.boolean().optional(),
    double_confirm_changes: z.boolean().optional(),
    // A Go duration as the CLI writes it: "1s", "1m0s", "60s".
    max_frequency: z.string().regex(/^(\d+h)?(\d+m)?(\d+s)?$/, 'a duration such as "1m0s"').optional(),
    otp_length: z.int().min(6).max(10).optional(),
    otp_expiry: z.int().min(1).max(86_400).optional(),
  }).optional(),
  rate_limit: z.object({
    sign_in_sign_ups: count.optional(),
    token_refresh: count.optional(),
    email_sent: count.optional(),
  }).optional(),
})

/** The settings in `configFile`, then `overrides` on top. Throws naming a malformed key. */
export function loadAuthSettings(
  overrides: AuthSettingsOverrides = {},
  configFile: string | URL = PROJECT_CONFIG,
): AuthSettings {
  const text = Deno.readTextFileSync(configFile)
  const parsed = AuthSection.safeParse(parse(text).auth ?? {})
  if (!parsed.success) {
    const { path, message } = parsed.error.issues[0]
    throw new Error(`${configFile}: [auth] ${path.join('.')}: ${message}`)
  }
  const auth = parsed.data
  const fromFile: AuthSettingsOverrides = {
    minimumPasswordLength: auth.minimum_password_length,
    jwtExpiry: auth.jwt_expiry,
    refreshTokenRotation: auth.enable_refresh_token_rotation,
    refreshTokenReuseInterval: auth.refresh_token_reuse_interval,
    enableSignup: auth.enable_signup,
    siteUrl: auth.site_url,
    additionalRedirectUrls: auth.additional_redirect_urls,
    email: {
      confirmations: auth.email?.enable_confirmations,
      secureEmailChange: auth.email?.double_confirm_changes,
      maxFrequencySeconds: auth.email?.max_frequency === undefined ? undefined : seconds(auth.email.max_frequency),
      otpLength: auth.email?.otp_length,
      otpExpirySeconds: auth.email?.otp_expiry,
    },
    rateLimit: {
      signInSignUps: auth.rate_limit?.sign_in_sign_ups,
      tokenRefresh: auth.rate_limit?.token_refresh,
      emailSent: auth.rate_limit?.email_sent,
    },
  }
  const settings = merge(merge(AUTH_DEFAULTS, fromFile), overrides)
  settings.minimumPasswordLength = Math.max(settings.minimumPasswordLength, 6)
  return settings
}

function merge(base: AuthSettings, over: AuthSettingsOverrides): AuthSettings {
  const { rateLimit, email, ...rest } = over
  return {
    ...base,
    ...defined(rest),
    email: { ...base.email, ...defined(email ?? {}) },
    rateLimit: { ...base.rateLimit, ...defined(rateLimit ?? {}) },
  }
}

/** Seconds in a Go duration such as "1m0s". */
function seconds(duration: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration)!
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
}

function defined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}
