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
  /** `[auth.rate_limit]`: requests per 5 minutes per client IP, in token buckets of 30. */
  rateLimit: {
    /** `sign_in_sign_ups` (GOTRUE_RATE_LIMIT_OTP): POST /signup and PUT /user. */
    signInSignUps: number
    /** `token_refresh` (GOTRUE_RATE_LIMIT_TOKEN_REFRESH): POST /token, every grant type. */
    tokenRefresh: number
  }
  /** IP address forwarding (GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED): a hosted project setting, not
   * in config.toml, off for new projects. On: a secret-key request's `Sb-Forwarded-For` names the
   * client IP that rate limits count. */
  sbForwardedFor: boolean
}

export type AuthSettingsOverrides =
  & Partial<Omit<AuthSettings, 'rateLimit'>>
  & { rateLimit?: Partial<AuthSettings['rateLimit']> }

/** Supabase Auth's defaults (those of a new hosted project and of `supabase init`). */
export const AUTH_DEFAULTS: AuthSettings = {
  minimumPasswordLength: 6,
  jwtExpiry: 3600,
  refreshTokenRotation: true,
  refreshTokenReuseInterval: 10,
  enableSignup: true,
  rateLimit: { signInSignUps: 30, tokenRefresh: 150 },
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
  rate_limit: z.object({ sign_in_sign_ups: count.optional(), token_refresh: count.optional() })
    .optional(),
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
    rateLimit: {
      signInSignUps: auth.rate_limit?.sign_in_sign_ups,
      tokenRefresh: auth.rate_limit?.token_refresh,
    },
  }
  const settings = merge(merge(AUTH_DEFAULTS, fromFile), overrides)
  settings.minimumPasswordLength = Math.max(settings.minimumPasswordLength, 6)
  return settings
}

function merge(base: AuthSettings, over: AuthSettingsOverrides): AuthSettings {
  const { rateLimit, ...rest } = over
  return {
    ...base,
    ...defined(rest),
    rateLimit: { ...base.rateLimit, ...defined(rateLimit ?? {}) },
  }
}

function defined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}
