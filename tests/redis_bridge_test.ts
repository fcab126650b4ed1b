// The local Upstash REST bridge (scripts/local/redis-bridge.ts) on a real
// Redis, driven by the real @upstash/redis and @upstash/ratelimit clients and
// by raw HTTP for the protocol details.
//
// Redis: a private redis-server per test (when installed), or REDIS_URL (then
// every key carries a random prefix, and only those keys are deleted). With
// neither, the tests are ignored — except in CI, where they fail.
import './_support/shared-resources.ts'
import { Ratelimit } from '@upstash/ratelimit'
import { Redis } from '@upstash/redis'
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { createRedisBridge } from '../scripts/local/redis-bridge.ts'
import { RedisClient, RedisConnectionError, startPrivateRedis, utf8Length } from '../scripts/local/redis.ts'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { redisAvailable as privateRedisAvailable } from './_support/redis.ts'
import { shutdownSoon } from './_support/servers.ts'

const REDIS_URL = Deno.env.get('REDIS_URL')
const IN_CI = Deno.env.get('CI') !== undefined
const HOW_TO_ENABLE =
  'install redis-server (apt-get install redis-server, brew install redis) or set REDIS_URL=redis://…'
const haveRedis = REDIS_URL !== undefined || await redisServerInstalled()
if (!haveRedis && !IN_CI) console.warn(`redis bridge tests are ignored: ${HOW_TO_ENABLE}`)

async function redisServerInstalled(): Promise<boolean> {
  try {
    const probe = new Deno.Command('redis-server', {
      args: ['--version'],
      stdout: 'null',
      stderr: 'null',
    })
    return (await probe.output()).success
  } catch {
    return false // not on the PATH
  }
}

// ---------------------------------------------------------------- fixture

interface Fixture {
  /** The bridge's base URL and token. */
  url: string
  token: string
  /** Prefix for every key this test touches. */
  prefix: string
  /** The real SDK client against the bridge. */
  redis: Redis
  /** Raw HTTP to the bridge, with the right token unless headers say otherwise. */
  raw(path: string, body?: unknown, init?: RawInit): Promise<RawAnswer>
  /** Stops / restarts (same port) the private redis-server; undefined with REDIS_URL. */
  stopRedis?: () => Promise<void>
  restartRedis?: () => Promise<void>
}

interface RawInit {
  method?: string
  headers?: Record<string, string>
  /** Sent as is instead of JSON.stringify(body). */
  rawBody?: BodyInit
}
interface RawAnswer {
  status: number
  headers: Headers
  // deno-lint-ignore no-explicit-any
  body: any
}

function bridgeTest(name: string, fn: (f: Fixture) => Promise<void>) {
  Deno.test({
    name: `redis bridge: ${name}`,
    ignore: !haveRedis && !IN_CI,
    async fn() {
      if (!haveRedis) {
        throw new Error(`CI is set but there is no Redis for the bridge tests: ${HOW_TO_ENABLE}`)
      }
      const fixture = await setUp()
      try {
        await fn(fixture)
      } finally {
        await fixture.tearDown()
      }
    },
  })
}

async function setUp(): Promise<Fixture & { tearDown(): Promise<void> }> {
  let server = REDIS_URL ? null : await startPrivateRedis()
  if (!REDIS_URL && !server) throw new Error(`redis-server could not be started: ${HOW_TO_ENABLE}`)
  const redisUrl = REDIS_URL ?? server!.url
  const token = `test-${crypto.randomUUID()}`
  const bridge = createRedisBridge({ redisUrl, token })
  const http = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, bridge.handler)
  const url = `http://127.0.0.1:${http.addr.port}`
  const prefix = `pam-bridge-test:${crypto.randomUUID()}:`
  const privatePort = Number(new URL(redisUrl).port)
  const privatePassword = new URL(redisUrl).password
  return {
    url,
    token,
    prefix,
    redis: new Redis({ url, token }),
    raw: (path, body, init) => rawRequest(url, token, path, body, init),
    stopRedis: server ? () => server!.stop() : undefined,
    restartRedis: server
      ? async () => {
        server = await startPrivateRedis({ port: privatePort, password: privatePassword })
      }
      : undefined,
    async tearDown() {
      if (REDIS_URL) await deleteKeys(REDIS_URL, prefix)
      await shutdownSoon(http)
      await bridge.close()
      await server?.stop()
    },
  }
}

async function rawRequest(
  url: string,
  token: string,
  path: string,
  body?: unknown,
  init: RawInit = {},
): Promise<RawAnswer> {
  const hasBody = body !== undefined || init.rawBody !== undefined
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (hasBody ? 'POST' : 'GET'),
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...init.headers,
    },
    body: init.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}

/** With a shared REDIS_URL: deletes this test's keys, and nothing else. */
async function deleteKeys(redisUrl: string, prefix: string) {
  const client = new RedisClient(redisUrl)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.command(
        'SCAN',
        cursor,
        'MATCH',
        `${prefix}*`,
        'COUNT',
        '1000',
      ) as [
        Uint8Array,
        Uint8Array[],
      ]
      cursor = new TextDecoder().decode(next)
      if (keys.length) await client.command('DEL', ...keys)
    } while (cursor !== '0')
  } finally {
    await client.close()
  }
}

async function assertRejects(promise: Promise<unknown>, re: RegExp): Promise<Error> {
  try {
    await promise
  } catch (err) {
    assert(err instanceof Error, `rejected with a non-Error: ${err}`)
    assertMatch(err.message, re)
    return err
  }
  throw new Error(`expected a rejection matching ${re}`)
}

const b64 = (text: string | Uint8Array) => Buffer.from(text).toString('base64')
const fromB64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'))
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------- the SDK

// Non-ASCII text and control characters, which base64 responses carry byte-exact.
const AWKWARD = 'Zoë 🚐 日本語 "quoted" back\\slash\nnew line \u0000\u0001\u001f\u007f end'

const variants: [string, { enableAutoPipelining?: boolean; responseEncoding?: false }][] = [
  ['default client (auto-pipelining, base64 responses)', {}],
  ['one request per command (POST /)', { enableAutoPipelining: false }],
  ['UTF-8 responses (no Upstash-Encoding)', { responseEncoding: false }],
]

for (const [label, extra] of variants) {
  bridgeTest(
    `the SDK, ${label}: strings, TTLs, counters, JSON hashes, mget, scan, expire, del`,
    async (f) => {
      const redis = new Redis({ url: f.url, token: f.token, ...extra })
      const k = (name: string) => `${f.prefix}${name}`

      assertEquals(await redis.get(k('missing')), null)
      assertEquals(await redis.set(k('s'), 'hello', { ex: 100 }), 'OK')
      assertEquals(await redis.get(k('s')), 'hello')
      const ttl = await redis.ttl(k('s'))
      assert(ttl > 95 && ttl <= 100, `ttl ${ttl}`)

      assertEquals(await redis.incr(k('n')), 1)
      assertEquals(await redis.incrby(k('n'), 41), 42)
      assertEquals(await redis.get(k('n')), 42)

      const trip = { from: 'Cairns', to: 'Broome', stops: ['Katherine', 'Kununurra'] }
      assertEquals(await redis.hset(k('h'), { trip, nights: 12, note: 'Zoë' }), 3)
      assertEquals(await redis.hgetall(k('h')), { trip, nights: 12, note: 'Zoë' })

      assertEquals(await redis.set(k('awkward'), AWKWARD), 'OK')
      assertEquals(await redis.get(k('awkward')), AWKWARD)
      assertEquals(await redis.strlen(k('awkward')), new TextEncoder().encode(AWKWARD).length)

      assertEquals(await redis.mget(k('s'), k('missing'), k('n')), ['hello', null, 42])

      assertEquals(await redis.expire(k('n'), 50), 1)
      const ttlN = await redis.ttl(k('n'))
      assert(ttlN > 45 && ttlN <= 50, `ttl ${ttlN}`)

      const found: string[] = []
      let cursor: string | number = 0
      do {
        const [next, keys]: [string | number, string[]] = await redis.scan(cursor, {
          match: `${f.prefix}*`,
          count: 100,
        })
        found.push(...keys)
        cursor = next
      } while (String(cursor) !== '0')
      assertEquals(found.sort(), [k('awkward'), k('h'), k('n'), k('s')])

      assertEquals(await redis.del(k('s'), k('n'), k('h'), k('awkward'), k('missing')), 4)
      assertEquals(await redis.get(k('s')), null)
      assertEquals(await redis.ping(), 'PONG')
    },
  )
}

bridgeTest(
  'the SDK: pipeline(), multi() transactions, Lua (EVAL, SCRIPT LOAD, EVALSHA)',
  async (f) => {
    const { redis } = f
    const k = (name: string) => `${f.prefix}${name}`

    const p = redis.pipeline()
    p.set(k('p'), 'v')
    p.incr(k('c'))
    p.get(k('p'))
    p.del(k('p'))
    assertEquals(await p.exec(), ['OK', 1, 'v', 1])

    const m = redis.multi()
    m.incr(k('m'))
    m.incrby(k('m'), 9)
    m.get(k('m'))
    assertEquals(await m.exec(), [1, 10, 10])

    // A command failing while the transaction runs is reported for that entry only.
    const bad = redis.multi()
    bad.set(k('text'), 'not a number')
    bad.incr(k('text'))
    bad.get(k('text'))
    const entries = await bad.exec({ keepErrors: true })
    assertEquals(entries[0], { result: 'OK', error: undefined })
    assertMatch(String(entries[1].error), /not an integer/)
    assertEquals(entries[2], { result: 'not a number', error: undefined })
    await assertRejects(
      redis.multi().set(k('t2'), 'x').incr(k('t2')).exec(),
      /Command 2 \[ incr \] failed/,
    )

    // Arrays from Lua: strings (a status "OK" too), numbers, nested arrays, nil.
    assertEquals(
      await redis.eval(
        'return {KEYS[1], ARGV[1], redis.call("INCR", KEYS[1]), redis.status_reply("OK"), {"nested", 7}}',
        [k('lua')],
        ['Zoë'],
      ),
      [k('lua'), 'Zoë', 1, 'OK', ['nested', 7]],
    )

    // A script with Upstash's shebang flag (as @upstash/ratelimit's scripts have):
    // the client's SHA-1 keeps working for SCRIPT LOAD, EVALSHA and SCRIPT EXISTS.
    const flagged = '#!lua flags=allow-key-locking\nreturn redis.call("INCRBY", KEYS[1], ARGV[1])'
    const sha = await redis.scriptLoad(flagged)
    assertEquals(sha, sha1(flagged))
    assertEquals(await redis.evalsha(sha, [k('flagged')], [5]), 5)
    assertEquals(await redis.eval(flagged, [k('flagged')], [2]), 7)
    assertEquals(await redis.scriptExists(sha, sha1('return 1')), [1, 0])
    await assertRejects(redis.evalsha(sha1('return "never loaded"'), [], []), /NOSCRIPT/)
  },
)

bridgeTest('@upstash/ratelimit sliding window: exactly 5 of 6 rapid requests pass', async (f) => {
  const windowMs = 10_000
  const limiter = new Ratelimit({
    redis: f.redis,
    limiter: Ratelimit.slidingWindow(5, '10 s'),
    prefix: `${f.prefix}rl`,
    ephemeralCache: false, // every decision comes from Redis
    analytics: false,
  })
  // Six requests straddling a window boundary would see the old window weighted down.
  const intoWindow = Date.now() % windowMs
  if (intoWindow > windowMs - 2000) await sleep(windowMs - intoWindow + 50)

  const started = Date.now()
  const results = []
  for (let i = 0; i < 6; i++) results.push(await limiter.limit('user-a'))
  await Promise.all(results.map((r) => r.pending))
  assertEquals(results.map((r) => r.success), [true, true, true, true, true, false])
  assertEquals(results.map((r) => r.remaining), [4, 3, 2, 1, 0, 0])
  for (const r of results) {
    assertEquals(r.limit, 5)
    assertEquals(r.reason, undefined, 'decided by Redis, not by a timeout or a cache')
    assertEquals(r.reset % windowMs, 0, 'reset is the end of the current window')
    assert(
      r.reset > started && r.reset <= started + windowMs,
      `reset ${r.reset}, started ${started}`,
    )
  }
  assertEquals((await limiter.getRemaining('user-a')).remaining, 0)

  // Concurrent requests (one auto-pipelined HTTP request) for another identifier.
  const burst = await Promise.all(Array.from({ length: 6 }, () => limiter.limit('user-b')))
  assertEquals(burst.filter((r) => r.success).length, 5)
})

// ---------------------------------------------------------------- raw protocol

bridgeTest(
  'raw protocol: base64 encoding, argument types, path form, binary values, ping',
  async (f) => {
    const k = (name: string) => `${f.prefix}${name}`
    const base64 = { headers: { 'Upstash-Encoding': 'base64' } }

    assertEquals(
      (await f.raw('/', ['SET', k('s'), 'héllo'], base64)).body,
      { result: 'OK' },
      'a top-level OK stays OK',
    )
    assertEquals((await f.raw('/', ['GET', k('s')])).body, { result: 'héllo' })
    assertEquals((await f.raw('/', ['GET', k('s')], base64)).body, { result: b64('héllo') })
    assertEquals((await f.raw('/', ['STRLEN', k('s')], base64)).body, { result: 6 })
    assertEquals((await f.raw('/', ['GET', k('missing')], base64)).body, { result: null })
    assertEquals((await f.raw('/', ['MGET', k('s'), k('missing')], base64)).body, {
      result: [b64('héllo'), null],
    })
    assertEquals(
      (await f.raw(
        '/',
        ['EVAL', 'return {1, {"a", redis.status_reply("OK")}, false}', '0'],
        base64,
      )).body,
      { result: [1, [b64('a'), b64('OK')], null] },
      'inside arrays every string is encoded, "OK" too',
    )
    assertEquals(
      (await f.raw('/', ['EVAL', 'return {1, {"a", redis.status_reply("OK")}, false}', '0'])).body,
      {
        result: [1, ['a', 'OK'], null],
      },
    )

    // Numbers and booleans are sent as their text.
    assertEquals((await f.raw('/', ['SET', k('num'), 42])).body, { result: 'OK' })
    assertEquals((await f.raw('/', ['INCRBY', k('num'), 8])).body, { result: 50 })
    assertEquals((await f.raw('/', ['SET', k('bool'), true])).body, { result: 'OK' })
    assertEquals((await f.raw('/', ['GET', k('bool')])).body, { result: 'true' })

    // Path form; a POST body is the last argument, byte for byte; query parameters follow it.
    const bytes = new Uint8Array([0, 255, 254, 10, 13, 128, 0x80, 0xc3])
    const key = encodeURIComponent(k('bin'))
    assertEquals((await f.raw(`/set/${key}?EX=100`, undefined, { rawBody: bytes })).body, {
      result: 'OK',
    })
    const stored = await f.raw(`/get/${key}`, undefined, base64)
    assertEquals(fromB64(stored.body.result), bytes)
    const ttl = (await f.raw(`/ttl/${key}`)).body.result
    assert(ttl > 95 && ttl <= 100, `ttl ${ttl}`)

    // Health check: GET /ping with the token (and the SDK's POST ["ping"]).
    const ping = await f.raw('/ping')
    assertEquals([ping.status, ping.body], [200, { result: 'PONG' }])
    assertEquals((await f.raw('/ping', undefined, base64)).body, { result: b64('PONG') })
    assertEquals((await f.raw('/', ['ping'])).body, { result: 'PONG' })
  },
)

bridgeTest('raw protocol: Redis errors, pipelines, transactions, malformed requests', async (f) => {
  const k = (name: string) => `${f.prefix}${name}`
  await f.raw('/', ['SET', k('text'), 'abc'])

  const single = await f.raw('/', ['INCR', k('text')])
  assertEquals(single.status, 400)
  assertEquals(single.body, { error: 'ERR value is not an integer or out of range' })
  assertEquals(single.headers.get('content-type'), 'application/json')
  assertEquals((await f.raw('/', ['NOSUCHCOMMAND'])).status, 400)

  const pipe = await f.raw('/pipeline', [['SET', k('p'), '1'], ['INCR', k('text')], [
    'INCR',
    k('p'),
  ]])
  assertEquals(pipe.status, 200)
  assertEquals(pipe.body, [
    { result: 'OK' },
    { error: 'ERR value is not an integer or out of range' },
    { result: 2 },
  ])

  const tx = await f.raw('/multi-exec', [['INCR', k('p')], ['INCR', k('text')], ['GET', k('p')]], {
    headers: { 'Upstash-Encoding': 'base64' },
  })
  assertEquals(tx.status, 200)
  assertEquals(tx.body, [{ result: 3 }, { error: 'ERR value is not an integer or out of range' }, {
    result: b64('3'),
  }])

  // A command Redis refuses while queueing discards the whole transaction.
  const aborted = await f.raw('/multi-exec', [['SET', k('never'), '1'], ['INCR']])
  assertEquals(aborted.status, 400)
  assertMatch(aborted.body.error, /^EXECABORT .*command 2 \(INCR\).*wrong number of arguments/)
  assertEquals((await f.raw('/', ['EXISTS', k('never')])).body, { result: 0 })

  for (
    const [path, rawBody, why] of [
      ['/', '{not json', 'not JSON'],
      ['/', '{"command":"GET"}', 'not an array'],
      ['/', '[]', 'empty'],
      ['/', '["SET","k",{"nested":1}]', 'an object argument'],
      ['/', '["SET","k",null]', 'a null argument'],
      ['/pipeline', '[]', 'an empty pipeline'],
      ['/pipeline', '["GET","k"]', 'a pipeline of strings'],
      ['/multi-exec', '[["GET","k"],"GET"]', 'a transaction with a bad entry'],
    ]
  ) {
    const res = await f.raw(path, undefined, { rawBody })
    assertEquals(res.status, 400, why)
    assertEquals(typeof res.body.error, 'string', why)
  }
  assertEquals((await f.raw('/', undefined, { method: 'GET' })).status, 405)
  assertEquals((await f.raw('/pipeline', undefined, { method: 'GET' })).status, 405)
  assertEquals((await f.raw('/get/x', undefined, { method: 'DELETE' })).status, 405)

  // The SDK surfaces Redis errors as rejections with Redis's message.
  await assertRejects(f.redis.incr(k('text')), /not an integer/)
})

bridgeTest('refused commands: 400, and nothing of the request runs', async (f) => {
  const k = (name: string) => `${f.prefix}${name}`
  const config = await f.raw('/', ['CONFIG', 'GET', '*'])
  assertEquals(config.status, 400)
  assertMatch(config.body.error, /CONFIG is not allowed/)
  for (
    const cmd of [
      ['SHUTDOWN', 'NOSAVE'],
      ['debug', 'sleep', '0'],
      ['MONITOR'],
      ['SUBSCRIBE', 'c'],
      ['PSUBSCRIBE', 'c*'],
    ]
  ) {
    const res = await f.raw('/', cmd)
    assertEquals(res.status, 400, cmd.join(' '))
    assertMatch(res.body.error, /not allowed through the local Upstash REST bridge/)
  }
  for (
    const cmd of [['SYNC'], ['PSYNC', '?', '-1'], ['MULTI'], ['SELECT', '1'], [
      'BLPOP',
      k('q'),
      '0',
    ]]
  ) {
    assertEquals((await f.raw('/', cmd)).status, 400, cmd.join(' '))
  }
  assertEquals((await f.raw('/', ['XREAD', 'BLOCK', '0', 'STREAMS', k('x'), '$'])).status, 400)
  assertEquals((await f.raw('/', ['XREAD', 'COUNT', '1', 'STREAMS', k('x'), '0'])).body, {
    result: null,
  })

  const pipe = await f.raw('/pipeline', [['SET', k('r'), 'v'], ['CONFIG', 'SET', 'maxmemory', '1']])
  assertEquals(pipe.status, 400)
  assertEquals((await f.raw('/', ['EXISTS', k('r')])).body, { result: 0 })
  assertEquals((await f.raw('/multi-exec', [['SET', k('r'), 'v'], ['SHUTDOWN']])).status, 400)
  assertEquals((await f.raw('/', ['EXISTS', k('r')])).body, { result: 0 })
  assertEquals(await f.redis.ping(), 'PONG', 'the server is still up')
})

bridgeTest('auth: no token or a wrong one is 401 Unauthorized; the SDK rejects', async (f) => {
  for (
    const authorization of [
      undefined,
      'Bearer wrong',
      `Bearer ${f.token}x`,
      `Basic ${f.token}`,
      'Bearer ',
      `Bearer ${f.token.slice(0, -1)}${f.token.endsWith('a') ? 'b' : 'a'}`, // as long as the right one
    ]
  ) {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
    const res = await fetch(`${f.url}/`, { method: 'POST', headers, body: '["PING"]' })
    assertEquals(res.status, 401, String(authorization))
    assertEquals(await res.json(), { error: 'Unauthorized' })
  }
  // The scheme in any case, and spaces around the token, as before.
  for (const authorization of [`Bearer ${f.token}`, `bearer ${f.token}`, `BEARER  ${f.token} `]) {
    const res = await fetch(`${f.url}/`, { method: 'POST', headers: { authorization }, body: '["PING"]' })
    assertEquals(await res.json(), { result: 'PONG' }, authorization)
  }
  const ping = await fetch(`${f.url}/ping`)
  assertEquals(ping.status, 401)
  await ping.body?.cancel()
  await assertRejects(new Redis({ url: f.url, token: 'wrong' }).get(`${f.prefix}x`), /Unauthorized/)
  await assertRejects(
    new Redis({ url: f.url, token: 'wrong' }).pipeline().get('x').exec(),
    /Unauthorized/,
  )
})

bridgeTest(
  'Redis down: 500 from the bridge, a prompt rejection in the SDK, recovery when it is back',
  async (f) => {
    const k = (name: string) => `${f.prefix}${name}`
    assertEquals(await f.redis.set(k('before'), 'v'), 'OK')
    let target = f
    let cleanup = () => Promise.resolve()
    if (f.stopRedis) {
      await f.stopRedis()
    } else {
      // A shared REDIS_URL cannot be stopped: a second bridge to a port nobody listens on.
      const dead = createRedisBridge({
        redisUrl: `redis://127.0.0.1:${unusedPort()}`,
        token: f.token,
      })
      const http = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, dead.handler)
      const url = `http://127.0.0.1:${http.addr.port}`
      target = {
        ...f,
        url,
        redis: new Redis({ url, token: f.token }),
        raw: (p, b, i) => rawRequest(url, f.token, p, b, i),
      }
      cleanup = async () => {
        await shutdownSoon(http)
        await dead.close()
      }
    }
    try {
      const res = await target.raw('/', ['GET', k('before')])
      assertEquals(res.status, 500)
      assertMatch(res.body.error, /cannot reach Redis: .*unreachable/)
      assertEquals((await target.raw('/pipeline', [['GET', k('before')]])).status, 500)
      const started = performance.now()
      await assertRejects(target.redis.get(k('before')), /cannot reach Redis/)
      assert(performance.now() - started < 3000, 'bounded by the connect timeout')
    } finally {
      await cleanup()
    }
    if (f.restartRedis) {
      await f.restartRedis()
      assertEquals(
        await f.redis.get(k('before')),
        null,
        'a fresh server (no persistence), reached again',
      )
      assertEquals(await f.redis.set(k('after'), 'v'), 'OK')
    }
  },
)

function unusedPort(): number {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const { port } = listener.addr
  listener.close()
  return port
}

// ---------------------------------------------------------------- timeouts (no Redis needed)

/** A TCP server that accepts connections and never answers. */
function silentServer() {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const conns: Deno.Conn[] = []
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn)
    } catch { /* closed */ }
  })()
  return {
    url: `redis://127.0.0.1:${listener.addr.port}`,
    async close() {
      listener.close()
      await accepting
      for (const c of conns) {
        try {
          c.close()
        } catch { /* already closed by the client */ }
      }
    },
  }
}

Deno.test('redis client: a server that never answers fails the command at the command timeout', async () => {
  const silent = silentServer()
  const client = new RedisClient(silent.url, { commandTimeoutMs: 200 })
  try {
    const started = performance.now()
    const err = await assertRejects(client.command('PING'), /did not answer within 200 ms/)
    assert(err instanceof RedisConnectionError)
    const elapsed = performance.now() - started
    assert(elapsed >= 150 && elapsed < 1500, `${elapsed} ms`)
    // The connection was dropped; the next command opens a new one (and times out again).
    await assertRejects(client.command('PING'), /did not answer/)
  } finally {
    await client.close()
    await silent.close()
  }
})

Deno.test('redis bridge: a Redis that never answers is a 500 after the 2 s command timeout', async () => {
  const silent = silentServer()
  const bridge = createRedisBridge({ redisUrl: silent.url, token: 't' })
  const http = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, bridge.handler)
  const url = `http://127.0.0.1:${http.addr.port}`
  try {
    const started = performance.now()
    const res = await rawRequest(url, 't', '/', ['PING'])
    assertEquals(res.status, 500)
    assertMatch(res.body.error, /did not answer within 2000 ms/)
    await assertRejects(new Redis({ url, token: 't' }).get('x'), /cannot reach Redis/)
    assert(performance.now() - started < 6000)
  } finally {
    await shutdownSoon(http)
    await bridge.close()
    await silent.close()
  }
})

Deno.test({
  name: 'private redis-server: it has a password, as Upstash does; without it nothing is served',
  ignore: !privateRedisAvailable,
  async fn() {
    const server = (await startPrivateRedis())!
    const url = new URL(server.url)
    assert(url.password.length >= 16, 'a password in the URL the stack hands out')
    const anonymous = new RedisClient(`redis://127.0.0.1:${url.port}`, { connectTimeoutMs: 1000, commandTimeoutMs: 1000 })
    const authorized = new RedisClient(server.url)
    try {
      const refused = await anonymous.command('GET', 'k').then(() => null, (e) => String(e))
      assertMatch(refused ?? 'served', /NOAUTH|auth/i)
      assertEquals(await authorized.command('PING'), 'PONG')
    } finally {
      await anonymous.close()
      await authorized.close()
      await server.stop()
    }
  },
})

Deno.test('redis client: commands are written with their UTF-8 lengths, surrogates and all', () => {
  const samples = ['', 'abc', 'é', '€', '😀', 'a\ud800b', '\udc00', 'x\ud83d', '日本語', JSON.stringify({ a: 'ü😀\u2028' })]
  for (let i = 0; i < 1000; i++) {
    samples.push(String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(Math.random() * 0x10000))))
  }
  for (const s of samples) assertEquals(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s))
})
