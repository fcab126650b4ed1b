// isoNow() (clock.ts): the current time as ISO text, never one kept past its millisecond.
import { assert } from './_support/assert.ts'
import { isoNow } from '../supabase/functions/_shared/clock.ts'

Deno.test('clock: isoNow is the time of the call, made again as the milliseconds pass', async () => {
  const seen = new Set<string>()
  const until = Date.now() + 30
  while (Date.now() < until) {
    const before = new Date().toISOString()
    const now = isoNow()
    const after = new Date().toISOString()
    // ISO texts of one format order as the times do.
    assert(before <= now && now <= after, `${before} <= ${now} <= ${after}`)
    seen.add(now)
    await new Promise((r) => setTimeout(r, 1))
  }
  assert(seen.size > 5, `${seen.size} distinct times in 30 ms`)
})
