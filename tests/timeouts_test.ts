// Timeouts sharing one timer (timeouts.ts): each fires once, on time, in
// order; a cancelled one never fires; and no timer is left once none is
// pending (it would keep a process from ending).
import { assert, assertEquals } from './_support/assert.ts'
import { Timeouts, TimeoutQueue } from '../supabase/functions/_shared/timeouts.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

Deno.test('timeouts: each expires once, about its length after it started, in order', async () => {
  const queue = new TimeoutQueue(60)
  const t0 = performance.now()
  const fired: { name: string; at: number }[] = []
  const fire = (name: string) => () => fired.push({ name, at: performance.now() - t0 })
  queue.start(fire('a'))
  await sleep(25)
  queue.start(fire('b'))
  await sleep(25)
  queue.start(fire('c'))
  await sleep(150)
  assertEquals(fired.map((f) => f.name), ['a', 'b', 'c'])
  // Each on its own time: b is not held until a's timer, nor fired with it.
  const [a, b, c] = fired.map((f) => f.at)
  assert(a >= 59 && a < 100, `a at ${a}`)
  assert(b >= a + 15 && b - 25 >= 59 && b < 130, `b at ${b}`)
  assert(c >= b + 15 && c - 50 >= 59, `c at ${c}`)
  assertEquals(queue.state, { pending: 0, timer: false })
})

Deno.test('timeouts: a cancelled one never fires, whatever its place in the queue', async () => {
  const queue = new TimeoutQueue(40)
  const fired: string[] = []
  const a = queue.start(() => fired.push('a'))
  const b = queue.start(() => fired.push('b'))
  queue.start(() => fired.push('c'))
  const d = queue.start(() => fired.push('d'))
  b.cancel()
  a.cancel()
  d.cancel()
  d.cancel() // twice is harmless
  assertEquals(queue.state, { pending: 1, timer: true })
  await sleep(80)
  assertEquals(fired, ['c'])
  assertEquals(queue.state, { pending: 0, timer: false })
  // Cancelling after expiry does nothing.
  a.cancel()
  assertEquals(fired, ['c'])
})

Deno.test('timeouts: all cancelled, in any order, no timer is left to keep the process alive', async () => {
  // In a process of its own: it ends at once unless a timer is still set.
  const script = `
    import { TimeoutQueue } from ${JSON.stringify(new URL('../supabase/functions/_shared/timeouts.ts', import.meta.url).href)}
    const queue = new TimeoutQueue(20_000)
    const started = Array.from({ length: 1000 }, () => queue.start(() => console.log('fired')))
    for (let i = 0; i < started.length; i += 2) started[i].cancel() // out of order, as requests end
    for (let i = 1; i < started.length; i += 2) started[i].cancel()
    console.log(JSON.stringify(queue.state))`
  const t0 = performance.now()
  const out = await new Deno.Command(Deno.execPath(), { args: ['eval', script], stdout: 'piped', stderr: 'inherit' }).output()
  const seconds = (performance.now() - t0) / 1000
  assertEquals(new TextDecoder().decode(out.stdout).trim(), JSON.stringify({ pending: 0, timer: false }))
  assert(out.success && seconds < 10, `the process took ${seconds.toFixed(1)} s to end`)
})

Deno.test('timeouts: an expiry may start another, which gets a timer of its own', async () => {
  const queue = new TimeoutQueue(30)
  const fired: string[] = []
  queue.start(() => {
    fired.push('first')
    queue.start(() => fired.push('second'))
  })
  await sleep(45)
  assertEquals(fired, ['first'])
  await sleep(45)
  assertEquals(fired, ['first', 'second'])
  assertEquals(queue.state, { pending: 0, timer: false })
})

Deno.test('timeouts: lengths of their own do not wait for each other', async () => {
  const timeouts = new Timeouts()
  const t0 = performance.now()
  const fired: { name: string; at: number }[] = []
  timeouts.start(200, () => fired.push({ name: 'long', at: performance.now() - t0 }))
  timeouts.start(30, () => fired.push({ name: 'short', at: performance.now() - t0 }))
  const cancelled = timeouts.start(30, () => fired.push({ name: 'cancelled', at: 0 }))
  cancelled.cancel()
  await sleep(260)
  assertEquals(fired.map((f) => f.name), ['short', 'long'])
  assert(fired[0].at < 120, `short at ${fired[0].at}`)
  assert(fired[1].at >= 199, `long at ${fired[1].at}`)
})
