// Redis killed (SIGKILL) under load; its supervisor restarts it, empty (see _redis_scenario.ts).
import { assert, assertEquals } from '../_support/assert.ts'
import { now, redisServerInstalled, settled, startFaultStack, supervisorSaid } from './_harness.ts'
import { redisGoesAway } from './_redis_scenario.ts'

Deno.test({
  name: 'Redis killed under load: answers from the database within the cache timeout, limits still apply, cache back after the restart',
  // Skipped without redis-server, except in CI, where it fails.
  ignore: !redisServerInstalled && !Deno.env.get('CI'),
  fn: async () => {
    // Its supervisor waits 3 s before the restart: long enough to check the limiter meanwhile.
    const fs = await startFaultStack({ redisRestartDelaysMs: [3000, 3000, 3000] })
    try {
      const redis = fs.redis
      assert(redis, 'redis-server is not installed')
      const pid = await redis.pid()
      let killedAt = 0
      await redisGoesAway(fs, 'redis-killed', {
        start: () => {
          killedAt = now()
          Deno.kill(pid, 'SIGKILL')
          return Promise.resolve()
        },
        end: async () => (await supervisorSaid(redis, /^redis-server is running again/, killedAt)).at,
      })
      assertEquals(redis.lines[0].line, `redis-server (pid ${pid}) was killed by SIGKILL; restarting it in 3 s`)
      assertEquals(await settled(redis.lost), false, 'its supervisor did not give up')
    } finally {
      await fs.stop()
    }
  },
})
