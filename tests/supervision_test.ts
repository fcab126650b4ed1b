// Supervision of the servers the local stack starts: a real embedded Postgres
// and a real private redis-server are killed with SIGKILL and must come back
// on the same port (Postgres with its data), never after stop(); repeated
// failures end in `lost`; a port in use is a clear error.
import './_support/shared-resources.ts'
import postgres from 'postgres'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { redisAvailable } from './_support/redis.ts'
import {
  freePort,
  PortInUseError,
  startEmbeddedPostgres,
  type SupervisionOptions,
} from '../scripts/local/postgres.ts'
import { RedisClient, startPrivateRedis } from '../scripts/local/redis.ts'

/** Short delays for tests, and the supervisor's lines kept for assertions. */
function fastSupervision(): SupervisionOptions & { lines: string[] } {
  const lines: string[] = []
  return { restartDelaysMs: [100, 200, 400, 800, 1600], report: (line) => lines.push(line), lines }
}

async function eventually<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms: ${err}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Whether the promise has settled (after the pending callbacks ran). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  return await Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 0)),
  ])
}

function processExists(pid: number): boolean {
  try {
    Deno.kill(pid, 'SIGCONT') // a harmless signal: only asks whether the process is there
    return true
  } catch {
    return false
  }
}

async function tempDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: 'pam-supervision-' })
  await Deno.chmod(dir, 0o755) // embedded Postgres runs as `postgres` when we are root
  return dir
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function redisPid(client: RedisClient): Promise<number> {
  const info = new TextDecoder().decode(await client.command('INFO', 'server') as Uint8Array)
  return Number(info.match(/process_id:(\d+)/)![1])
}

Deno.test('supervision: Postgres killed with SIGKILL comes back on its port with its data, not after stop()', async () => {
  const dir = await tempDir()
  const supervision = fastSupervision()
  const pg = await startEmbeddedPostgres(`${dir}/postgres`, { supervision })
  const query = () => {
    const sql = postgres(pg.serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 2 })
    return { sql, done: () => sql.end({ timeout: 1 }) }
  }
  let client = query()
  try {
    await client.sql`create table kept (note text)`
    await client.sql`insert into kept values ('before the crash')`
    await client.done()

    const postmaster = Number(
      (await Deno.readTextFile(`${dir}/postgres/postmaster.pid`)).split('\n')[0],
    )
    Deno.kill(postmaster, 'SIGKILL')

    // Queried once the supervisor reports the server running again: a client that
    // writes to a server still starting up may have its socket closed under a
    // write it has scheduled, which postgres.js throws from a timer (uncatchable).
    await eventually(
      'the restart is reported',
      () => assertMatch(supervision.lines.at(-1)!, /^Postgres is running again \(pid \d+\)$/),
    )
    assertMatch(
      supervision.lines[0],
      new RegExp(
        `^Postgres \\(pid ${postmaster}\\) was killed by SIGKILL; restarting it in 0.1 s$`,
      ),
    )
    client = query()
    const rows = await eventually('Postgres answers again', () => client.sql`select note from kept`)
    assertEquals(rows.map((r) => r.note), ['before the crash'])
    const restarted = Number(
      (await Deno.readTextFile(`${dir}/postgres/postmaster.pid`)).split('\n')[0],
    )
    assert(restarted !== postmaster && processExists(restarted))
    assertEquals(await settled(pg.lost), false)
    await client.done()

    const reported = supervision.lines.length
    await pg.stop()
    await sleep(300) // longer than the first restart delay
    assert(!processExists(restarted), 'stopped for good')
    await Deno.stat(`${dir}/postgres/postmaster.pid`).then(
      () => assert(false, 'a clean shutdown removes postmaster.pid'),
      () => {},
    )
    assertEquals(supervision.lines.length, reported, 'nothing happens after stop()')
    assertEquals(await settled(pg.lost), false, 'stop() is not a loss')
  } finally {
    await client.done()
    await pg.stop()
    await Deno.remove(dir, { recursive: true })
  }
})

Deno.test('supervision: Postgres on a port in use fails at once, naming the port', async () => {
  const dir = await tempDir()
  const taken = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const { port } = taken.addr as Deno.NetAddr
  try {
    const err = await startEmbeddedPostgres(`${dir}/postgres`, { port }).then(() => null, (e) => e)
    assert(err instanceof PortInUseError, String(err))
    assertEquals(
      err.message,
      `port ${port} is already in use, so the embedded Postgres cannot listen on it`,
    )
    await Deno.stat(`${dir}/postgres/PG_VERSION`).then(() => assert(false, 'no initdb'), () => {})
  } finally {
    taken.close()
    await Deno.remove(dir, { recursive: true })
  }
})

const redisTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `supervision: ${name}`, ignore: !redisAvailable, fn })

redisTest('redis-server killed with SIGKILL comes back on its port, not after stop()', async () => {
  const supervision = fastSupervision()
  const redis = (await startPrivateRedis({ supervision }))!
  const client = new RedisClient(redis.url)
  try {
    const serverPid = await redisPid(client)
    Deno.kill(serverPid, 'SIGKILL')

    await eventually(
      'redis answers again',
      async () => assertEquals(await client.command('SET', 'k', 'v'), 'OK'),
    )
    assertMatch(
      supervision.lines[0],
      new RegExp(
        `^redis-server \\(pid ${serverPid}\\) was killed by SIGKILL; restarting it in 0.1 s$`,
      ),
    )
    // The server may answer a moment before the supervisor has reported it.
    await eventually(
      'the restart is reported',
      () => assertMatch(supervision.lines.at(-1)!, /^redis-server is running again \(pid \d+\)$/),
    )
    assertEquals(await settled(redis.lost), false)

    const reported = supervision.lines.length
    await redis.stop()
    await sleep(300) // longer than the first restart delay
    const probe = new RedisClient(redis.url, { connectTimeoutMs: 300 })
    const after = await probe.command('PING').catch((e) => e)
    await probe.close()
    assert(after instanceof Error, 'nothing answers after stop()')
    assertEquals(supervision.lines.length, reported, 'nothing happens after stop()')
  } finally {
    await client.close()
    await redis.stop()
  }
})

redisTest('a server that cannot restart is given up, and `lost` says why', async () => {
  const supervision = { ...fastSupervision(), restartDelaysMs: [200, 200] }
  const redis = (await startPrivateRedis({ supervision }))!
  const port = Number(new URL(redis.url).port)
  const client = new RedisClient(redis.url)
  let squatter: Deno.Listener | undefined
  try {
    Deno.kill(await redisPid(client), 'SIGKILL')
    // Something else takes the port while it is down (before the first restart, 200 ms later).
    for (let i = 0; !squatter && i < 1000; i++) {
      try {
        squatter = Deno.listen({ hostname: '127.0.0.1', port })
      } catch {
        await sleep(1)
      }
    }
    const why = await redis.lost
    assertEquals(
      why,
      `redis-server did not restart: port ${port} is already in use, so the private redis-server ` +
        `cannot listen on it; gave up after 2 restart attempts in a row`,
    )
    assertEquals(supervision.lines.length, 2, supervision.lines.join('\n'))
  } finally {
    squatter?.close()
    await client.close()
    await redis.stop()
  }
})

redisTest('a server shut down from outside is not restarted, and `lost` says so', async () => {
  const supervision = fastSupervision()
  const redis = (await startPrivateRedis({ supervision }))!
  const client = new RedisClient(redis.url)
  try {
    const serverPid = await redisPid(client)
    Deno.kill(serverPid, 'SIGTERM') // a clean shutdown
    assertEquals(
      await redis.lost,
      `redis-server (pid ${serverPid}) was shut down from outside; it is not restarted`,
    )
    await sleep(300)
    assertEquals(supervision.lines, [])
  } finally {
    await client.close()
    await redis.stop()
  }
})

redisTest('redis-server on a port in use fails at once, naming the port', async () => {
  const port = await freePort()
  const taken = Deno.listen({ hostname: '127.0.0.1', port })
  try {
    const err = await startPrivateRedis({ port }).then(() => null, (e) => e)
    assert(err instanceof PortInUseError, String(err))
    assertEquals(
      err.message,
      `port ${port} is already in use, so the private redis-server cannot listen on it`,
    )
  } finally {
    taken.close()
  }
})
