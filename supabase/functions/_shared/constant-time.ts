// Comparing secrets (API keys, tokens) in constant time, so how long a refusal takes does not
// reveal how much of a guess matched.

/** Whether `a` and `b` are the same text, in time that depends only on their length. */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}
