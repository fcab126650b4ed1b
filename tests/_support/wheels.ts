// Helpers for the wheels tests: JSON calls as a signed-in user through the
// real gateway, or through an in-process wheels app with a pinned clock and
// configuration of the test's own (e.g. Mapbox and Open-Meteo pointed at the
// local stub of tests/_support/upstream-stub.ts).
import { createWheelsApp } from '../../supabase/functions/wheels/index.ts'
import type { TestUser } from './stack.ts'
import { appAs, type Call, functionAs, testConfig } from './wins.ts'

/** Calls /functions/v1/wheels/<path> through the gateway as `user`. */
export const wheelsAs = functionAs('wheels')

/** An in-process wheels app: its own clock, cache namespace and configuration overrides. */
export function wheelsApp(
  overrides: Record<string, string> = {},
  now: () => Date = () => new Date(),
): (user: TestUser) => Call {
  return appAs('wheels', createWheelsApp(testConfig(overrides), { now }))
}
