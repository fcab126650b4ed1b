// Money never goes through a float: amounts are decimal strings in JSON
// ("12.50"), numeric(12,2) in SQL, and integer cents (BigInt) for the little
// arithmetic done here (projections, percentages, monthly amounts).
import { z } from '../_shared/http.ts'

export const MONEY_PATTERN = /^\d{1,10}(\.\d{1,2})?$/

/** Largest single expense, income, or goal contribution. */
export const MAX_AMOUNT = '1000000.00'
/** Largest budget or savings target. */
export const MAX_TARGET = '100000000.00'

/** "12.5" → 1250n. The input must match MONEY_PATTERN (or a signed numeric string from Postgres). */
export function toCents(amount: string): bigint {
  const negative = amount.startsWith('-')
  const [whole, frac = ''] = (negative ? amount.slice(1) : amount).split('.')
  const cents = BigInt(whole || '0') * 100n + BigInt((frac + '00').slice(0, 2))
  return negative ? -cents : cents
}

/** 1250n → "12.50"; -5n → "-0.05". */
export function fromCents(cents: bigint): string {
  const negative = cents < 0n
  const abs = negative ? -cents : cents
  const s = `${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`
  return negative ? `-${s}` : s
}

/** a / b rounded half away from zero (b > 0). */
export function divRound(a: bigint, b: bigint): bigint {
  const q = a / b
  const r = a % b
  if (r === 0n) return q
  const twice = (r < 0n ? -r : r) * 2n
  return twice >= b ? q + (a < 0n ? -1n : 1n) : q
}

/** part / whole as a percentage with one decimal (a JSON number: it is not money); null when whole is 0. */
export function percentOf(part: bigint, whole: bigint): number | null {
  if (whole === 0n) return null
  const sign = whole < 0n ? -1n : 1n
  return Number(divRound(part * 1000n * sign, whole * sign)) / 10
}

/** A positive amount as a decimal string, at most `max`. */
export const money = (max = MAX_AMOUNT) =>
  z.string()
    .regex(MONEY_PATTERN, 'a decimal string with at most 2 decimals, such as "12.50"')
    .refine((s) => !MONEY_PATTERN.test(s) || toCents(s) > 0n, 'must be greater than 0')
    .refine((s) => !MONEY_PATTERN.test(s) || toCents(s) <= toCents(max), `must be at most ${max}`)
    .openapi({ example: '45.20', description: `decimal string, > 0 and ≤ ${max}` })

/** Numeric values from Postgres (strings) in canonical form, e.g. "12.50". */
export const canonical = (v: unknown): string => fromCents(toCents(String(v)))
