// The suite shares one running stack (servers, pooled database connections)
// across its tests: their operations and resources outlive any one test by
// design. Deno 2.9 does not hold that against a test; Deno 2.1 (the Edge
// Runtime's, on which `npm test` runs the suite a second time) does by default.
// Imported first by the support modules that start servers (stack.ts,
// redis.ts), so every test of a file that uses them is registered without the
// op and resource sanitizers (a test may still ask for them).
type Options = Omit<Deno.TestDefinition, 'fn' | 'name'>
type Fn = Deno.TestDefinition['fn']

const register = Deno.test
const relaxed = (t: Deno.TestDefinition): Deno.TestDefinition => ({
  sanitizeOps: false,
  sanitizeResources: false,
  ...t,
})

function test(...args: unknown[]): void {
  const [a, b, c] = args
  if (typeof a === 'function') return register(relaxed({ name: a.name, fn: a as Fn }))
  if (typeof a === 'string') {
    if (typeof b === 'function') return register(relaxed({ name: a, fn: b as Fn }))
    return register(relaxed({ ...(b as Options), name: a, fn: c as Fn }))
  }
  if (typeof b === 'function') {
    const options = a as Options & { name?: string }
    return register(relaxed({ ...options, name: options.name ?? b.name, fn: b as Fn }))
  }
  return register(relaxed(a as Deno.TestDefinition))
}
Object.defineProperty(Deno, 'test', {
  value: Object.assign(test, { ignore: register.ignore, only: register.only }),
})
