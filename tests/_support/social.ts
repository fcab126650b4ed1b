// Helpers for the social tests: JSON calls as a signed-in user through the
// real gateway, or through an in-process social app with configuration of
// the test's own (e.g. a tight rate limit).
import { createSocialApp } from '../../supabase/functions/social/index.ts'
import type { TestUser } from './stack.ts'
import { appAs, type Call, functionAs, testConfig } from './wins.ts'

/** Calls /functions/v1/social/<path> through the gateway as `user`. */
export const socialAs = functionAs('social')

/** An in-process social app with its own cache namespace and configuration overrides. */
export function socialApp(overrides: Record<string, string> = {}): (user: TestUser) => Call {
  return appAs('social', createSocialApp(testConfig(overrides)))
}
