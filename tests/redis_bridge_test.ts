// The local Upstash REST bridge: the real @upstash/redis client and raw
// protocol checks, on a real Redis.
import { Redis } from '@upstash/redis'
import { assert, assertEquals } from './_support/assert.ts'
import { redisAvailable, startUpstashBridge, type UpstashBridge } from './_support/redis.ts'

const test = (name: string, fn: (b: UpstashBridge, redis: Redis) => Promise<void>) =>
  Deno.test({
    name: `redis bridge: ${name}`,
    ignore: !redisAvailable,
    fn: async () => {
      const b = (await startUpstashBridge())!
      try {
        await fn(b, new Redis({ url: b.url, token: b.token, enableTelemetry: false, retry: { retries: 0 } }))
      } finally {
        await b.close()
      }
    },
  })

const raw = (b: UpstashBridge, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${b.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${b.token}`, ...headers },
    body: JSON.stringify(body),
  })

test('the SDK: strings, numbers, JSON, hashes, TTLs, scan, pipelines, transactions, Lua', async (_b, redis) => {
  const k = `k:${crypto.randomUUID()}`
  assertEquals(await redis.get(k), null)
  assertEquals(await redis.set(k, 'Zoë 🚐 "quoted"\nline', { ex: 100 }), 'OK')
  assertEquals(await redis.get(k), 'Zoë 🚐 "quoted"\nline')
  const ttl = await redis.ttl(k)
  assert(ttl > 90 && ttl <= 100, `ttl ${ttl}`)
  assertEquals(await redis.incr(`${k}:n`), 1)
  assertEquals(await redis.incrby(`${k}:n`, 41), 42)
  await redis.hset(`${k}:h`, { trip: { from: 'Cairns', to: 'Broome' }, nights: 12 })
  assertEquals(await redis.hgetall(`${k}:h`), { trip: { from: 'Cairns', to: 'Broome' }, nights: 12 })
  assertEquals(await redis.mget(k, `${k}:missing`), ['Zoë 🚐 "quoted"\nline', null])
  const [, keys] = await redis.scan(0, { match: `${k}:*`, count: 1000 })
  assertEquals([...keys].sort(), [`${k}:h`, `${k}:n`])
  const p = redis.pipeline()
  p.set(`${k}:p`, 'v')
  p.get(`${k}:p`)
  p.del(`${k}:p`)
  assertEquals(await p.exec(), ['OK', 'v', 1])
  const m = redis.multi()
  m.incr(`${k}:m`)
  m.incr(`${k}:m`)
  assertEquals(await m.exec(), [1, 2])
  assertEquals(await redis.eval('return redis.call("GET", KEYS[1])', [`${k}:n`], []), 42, 'the SDK parses the JSON-looking string')
  assertEquals(await redis.del(k, `${k}:n`, `${k}:h`, `${k}:m`), 4)
})

test('raw protocol: base64 encoding, errors, pipelines', async (b) => {
  await raw(b, '/', ['SET', 'enc', 'héllo'])
  assertEquals(await (await raw(b, '/', ['GET', 'enc'])).json(), { result: 'héllo' })
  const enc = await (await raw(b, '/', ['GET', 'enc'], { 'Upstash-Encoding': 'base64' })).json()
  assertEquals(new TextDecoder().decode(Uint8Array.from(atob(enc.result), (c) => c.charCodeAt(0))), 'héllo')
  assertEquals(await (await raw(b, '/', ['STRLEN', 'enc'], { 'Upstash-Encoding': 'base64' })).json(), { result: 6 })
  const err = await raw(b, '/', ['INCR', 'enc'])
  assertEquals(err.status, 400)
  assert((await err.json()).error.includes('not an integer'))
  const pipe = await raw(b, '/pipeline', [['SET', 'p', '1'], ['INCR', 'enc'], ['INCR', 'p']])
  assertEquals(pipe.status, 200)
  const entries = await pipe.json()
  assertEquals(entries[0], { result: 'OK' })
  assert(entries[1].error)
  assertEquals(entries[2], { result: 2 })
  assertEquals((await raw(b, '/', 'not a command')).status, 400)
  assertEquals((await raw(b, '/', ['CONFIG', 'GET', '*'])).status, 400)
  assertEquals((await raw(b, '/', ['SHUTDOWN'])).status, 400)
})

test('auth: a missing or wrong token is 401', async (b, _redis) => {
  const none = await fetch(`${b.url}/`, { method: 'POST', body: '["PING"]' })
  assertEquals(none.status, 401)
  await none.body?.cancel()
  const wrong = new Redis({ url: b.url, token: 'wrong', enableTelemetry: false, retry: { retries: 0 } })
  let failed = false
  await wrong.ping().catch(() => (failed = true))
  assert(failed)
})

test('Redis down: 500 from the bridge, a prompt rejection in the SDK', async (b, redis) => {
  assertEquals(await redis.ping(), 'PONG')
  await b.stopRedis()
  const res = await raw(b, '/', ['PING'])
  assertEquals(res.status, 500)
  await res.body?.cancel()
  const started = performance.now()
  let failed = false
  await redis.get('x').catch(() => (failed = true))
  assert(failed)
  assert(performance.now() - started < 5000)
})
