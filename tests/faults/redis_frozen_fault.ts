// Redis frozen (SIGSTOP) under load for a few seconds, then SIGCONT: it keeps
// its data, including what writes meanwhile could not drop (see _redis_scenario.ts).
import { assert } from '../_support/assert.ts'
import { freeze, now, redisServerInstalled, sleep, startFaultStack } from './_harness.ts'
import { redisGoesAway } from './_redis_scenario.ts'

Deno.test({
  name: 'Redis frozen under load: answers from the database within the cache timeout, limits still apply, no stale reads after',
  // Skipped without redis-server, except in CI, where it fails.
  ignore: !redisServerInstalled && !Deno.env.get('CI'),
  fn: async () => {
    const fs = await startFaultStack()
    try {
      assert(fs.redis, 'redis-server is not installed')
      const pid = await fs.redis.pid()
      let thaw = () => {}
      await redisGoesAway(fs, 'redis-frozen', {
        start: async () => void (thaw = await freeze(pid)),
        end: async () => {
          await sleep(4000)
          thaw()
          return now()
        },
      })
    } finally {
      await fs.stop()
    }
  },
})
