// Assertions from Node's built-in module (the Deno standard library lives on
// JSR, which this project does not depend on).
import { deepStrictEqual, match, ok } from 'node:assert/strict'

export function assert(value: unknown, message?: string): asserts value {
  ok(value, message)
}
export const assertEquals = <T>(actual: unknown, expected: T, message?: string) =>
  deepStrictEqual(actual, expected, message)
export const assertMatch = (actual: string, re: RegExp, message?: string) => match(actual, re, message)

/** A parsed JSON body, for reading fields in assertions. */
// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>
