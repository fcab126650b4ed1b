// One set of cases for both cache backends: the in-process LRU and Upstash
// (the real @upstash/redis client, through the local REST bridge, on a real Redis).
import { assert, assertEquals } from './_support/assert.ts'
import { countingProxy, redisAvailable, startUpstashBridge, type UpstashBridge } from './_support/redis.ts'
import {
  Cache,
  CACHE_POLICIES,
  type CacheStore,
  invalidateUser,
  MemoryStore,
  UpstashStore,
} from '../supabase/functions/_shared/cache.ts'
import { networkWait } from '../supabase/functions/_shared/network-wait.ts'
import { type AppContext, readThroughCache } from '../supabase/functions/_shared/http.ts'

const TIMEOUT_MS = 250
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Backend {
  name: string
  store(): Promise<CacheStore>
  teardown(): Promise<void>
}

let bridge: UpstashBridge | null = null
const backends: Backend[] = [
  { name: 'memory', store: () => Promise.resolve(new MemoryStore()), teardown: () => Promise.resolve() },
  {
    name: 'upstash',
    async store() {
      bridge ??= await startUpstashBridge()
      return new UpstashStore(bridge!.url, bridge!.token, TIMEOUT_MS)
    },
    async teardown() {
      await bridge?.close()
      bridge = null
    },
  },
]

const newCache = (store: CacheStore) => new Cache(store, { prefix: `t${crypto.randomUUID().slice(0, 8)}:` })

for (const b of backends) {
  const ignore = b.name === 'upstash' && !redisAvailable
  const t = (name: string, fn: (cache: Cache, store: CacheStore) => Promise<void>) =>
    Deno.test({ name: `cache[${b.name}]: ${name}`, ignore, fn: async () => fn(newCache(await b.store()), await b.store()) })

  t('set, get and miss; JSON values round-trip', async (cache) => {
    assertEquals(await cache.get('absent'), { status: 'miss' })
    const value = { name: 'Zoë 🚐', amount: '12.50', nested: { list: [1, null, 'x'] } }
    await cache.set('k', value, 60)
    assertEquals(await cache.get('k'), { value, status: 'hit' })
  })

  t('entries expire after their TTL', async (cache) => {
    await cache.set('short', 'v', 1)
    assertEquals((await cache.get('short')).status, 'hit')
    await sleep(1500)
    assertEquals(await cache.get('short'), { status: 'miss' })
  })

  t('del drops exactly the named keys: a hash by name drops all its fields, a field only itself', async (cache) => {
    await cache.set('expenses:u1#month:2026-11', 1, 60)
    await cache.set('expenses:u1#week:2026-11-23', 2, 60)
    await cache.set('expenses:u10#month:2026-11', 3, 60)
    await cache.set('user:u1', 4, 60)
    assertEquals((await cache.get('expenses:u1#week:2026-11-23')).value, 2)
    assertEquals((await cache.get('expenses:u1#year:2026')).status, 'miss')
    assert(await cache.del('chat:u1#c1', 'expenses:u1'))
    assertEquals((await cache.get('expenses:u1#month:2026-11')).status, 'miss')
    assertEquals((await cache.get('expenses:u1#week:2026-11-23')).status, 'miss')
    assertEquals((await cache.get('expenses:u10#month:2026-11')).status, 'hit')
    assert(await cache.del('user:u1'))
    assertEquals((await cache.get('user:u1')).status, 'miss')
    await cache.set('chat:u1#c1', 'one', 60)
    await cache.set('chat:u1#c2', 'two', 60)
    assert(await cache.del('chat:u1#c1'))
    assertEquals([(await cache.get('chat:u1#c1')).status, (await cache.get('chat:u1#c2')).value], ['miss', 'two'])
  })

  t("a hash's fields expire together, its TTL after the first was set", async (cache) => {
    await cache.set('h#a', 'a', 1)
    await sleep(600)
    await cache.set('h#b', 'b', 1)
    assertEquals((await cache.get('h#b')).value, 'b')
    await sleep(900)
    assertEquals([(await cache.get('h#a')).status, (await cache.get('h#b')).status], ['miss', 'miss'])
  })

  t('invalidateUser drops every key of that user and nobody else', async (cache) => {
    const p = CACHE_POLICIES
    const keys = (u: string) => [
      p.user_profiles.key(u),
      p.chat_context.key(u),
      p.maintenance_records.key(u),
      p.dashboard.key(u),
      p.expense_summaries.key(u, 'month:2026-11'),
      p.expense_summaries.key(u, 'week:current'),
      p.conversation_history.key(u, 'c1'),
      p.conversation_history.key(u, 'c2'),
      p.receipt_drafts.key(u, 'r1'),
    ]
    for (const u of ['alice', 'bob']) for (const key of keys(u)) await cache.set(key, u, 60)
    await invalidateUser(cache, 'alice')
    for (const key of keys('alice')) assertEquals((await cache.get(key)).status, 'miss', key)
    for (const key of keys('bob')) assertEquals((await cache.get(key)).value, 'bob', key)
  })

  t("a read that missed before a write of the user's does not store what it loaded; one after it does", async (cache) => {
    const p = CACHE_POLICIES
    for (const key of [p.expense_summaries.key('alice', 'month:current'), p.dashboard.key('alice')]) {
      // A read misses and loads from a snapshot taken before a write commits; the write drops the key...
      const early = await cache.get(key, JSON.parse, 'alice')
      assertEquals(early.status, 'miss', key)
      assert(await cache.invalidate('alice', key))
      // ...then the read fills the cache with what it loaded: refused.
      await cache.set(key, 'stale', 60, early.since)
      assertEquals((await cache.get(key)).status, 'miss', key)
      // A read after the write stores; another user's writes meanwhile change nothing for it.
      const late = await cache.get(key, JSON.parse, 'alice')
      assert(await cache.invalidate('bob', p.expense_summaries.hash('bob'), p.dashboard.key('bob')))
      await cache.set(key, 'fresh', 60, late.since)
      assertEquals((await cache.get(key, JSON.parse, 'alice')).value, 'fresh', key)
    }
  })

  t('readThroughCache: a write between the lookup and the fill keeps the stale value out', async (cache) => {
    const c = { get: (name: string) => ({ cache, userId: 'alice' } as Record<string, unknown>)[name] } as unknown as AppContext
    const key = CACHE_POLICIES.expense_summaries.key('alice', 'week:current')
    const read = (load: () => Promise<string>) => readThroughCache(c, key, 60, load)
    const raced = await read(async () => {
      // The database answered from before the write; the write commits and drops the summaries.
      await cache.invalidate('alice', CACHE_POLICIES.expense_summaries.hash('alice'))
      return 'before the write'
    })
    assertEquals(raced, { value: 'before the write', status: 'miss' })
    assertEquals(await read(() => Promise.resolve('after the write')), { value: 'after the write', status: 'miss' })
    assertEquals(await read(() => Promise.reject(new Error('a hit loads nothing'))), { value: 'after the write', status: 'hit' })
  })

  t('getOrLoad loads once, then hits; a failing loader caches nothing', async (cache) => {
    let loads = 0
    const load = () => Promise.resolve({ n: ++loads })
    assertEquals(await cache.getOrLoad('g', 60, load), { value: { n: 1 }, status: 'miss' })
    assertEquals(await cache.getOrLoad('g', 60, load), { value: { n: 1 }, status: 'hit' })
    assertEquals(loads, 1)
    await cache.getOrLoad('bad', 60, () => Promise.reject(new Error('db said no'))).catch(() => {})
    assertEquals((await cache.get('bad')).status, 'miss')
  })

  t('namespaces keep environments sharing one store apart', async (_cache, store) => {
    const staging = new Cache(store, { prefix: 'staging:' })
    const prod = new Cache(store, { prefix: 'prod:' })
    const key = `user:${crypto.randomUUID()}`
    await staging.set(key, 'staging', 60)
    assertEquals((await prod.get(key)).status, 'miss')
    await prod.del(key)
    assertEquals((await staging.get(key)).value, 'staging')
  })

  if (b.name === 'upstash') {
    Deno.test({
      name: 'cache[upstash]: Redis going down turns every call into a quick bypass, never an error',
      ignore,
      fn: async () => {
        const cache = newCache(await b.store())
        await cache.set('k', 'v', 60)
        await bridge!.stopRedis()
        const started = performance.now()
        assertEquals(await cache.get('k'), { status: 'bypass' })
        assertEquals(await cache.getOrLoad('k', 60, () => Promise.resolve('from db')), { value: 'from db', status: 'bypass' })
        assertEquals(await cache.del('k'), false)
        await cache.set('k', 'v', 60)
        assert(performance.now() - started < 4 * TIMEOUT_MS + 1000, 'bounded by the timeout')
        let failed = false
        await cache.ping().catch(() => (failed = true))
        assert(failed, 'ping reports the cache down')
        await b.teardown()
      },
    })
  }
}

Deno.test('cache[memory]: bounded, least recently used entries go first', async () => {
  const store = new MemoryStore(3)
  const cache = new Cache(store, { prefix: '' })
  await cache.set('a', 1, 60)
  await cache.set('b', 2, 60)
  await cache.set('c', 3, 60)
  await cache.get('a') // a is now the most recently used
  await cache.set('d', 4, 60)
  assertEquals(store.size, 3)
  assertEquals((await cache.get('b')).status, 'miss')
  for (const k of ['a', 'c', 'd']) assertEquals((await cache.get(k)).status, 'hit', k)
  const small = new MemoryStore(1000, 100)
  await small.set('big1', 'x'.repeat(60), 60)
  await small.set('big2', 'x'.repeat(60), 60)
  assertEquals(small.size, 1, 'the byte bound evicts too')
})

Deno.test('cache: an Upstash that hangs is given up on after the timeout', async () => {
  // Takes requests and answers none until the test is over.
  const { promise: over, resolve: end } = Promise.withResolvers<Response>()
  const stuck = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, () => over)
  try {
    const cache = new Cache(new UpstashStore(`http://127.0.0.1:${stuck.addr.port}`, 'token', 50), { prefix: '' })
    const started = performance.now()
    assertEquals(await cache.getOrLoad('k', 60, () => Promise.resolve(42)), { value: 42, status: 'bypass' })
    assert(performance.now() - started < 500)
  } finally {
    end(new Response(null, { status: 503 }))
    await stuck.shutdown()
  }
})

Deno.test({
  name: 'cache[upstash]: an isolate has at most two calls out; what is asked meanwhile, by anyone, goes together next',
  ignore: !redisAvailable,
  fn: async () => {
    bridge ??= await startUpstashBridge()
    const front = countingProxy(bridge!.url, 20)
    try {
      const cache = newCache(new UpstashStore(front.url, bridge!.token, 2000))
      await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`k${i}`, { i }, 60)))
      front.reset()
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get<{ i: number }>(`k${i}`)))
      assertEquals(got.map((g) => g.value?.i), Array.from({ length: 20 }, (_, i) => i), 'every answer is its own')
      assert(got.every((g) => g.status === 'hit'))
      assertEquals(front.seen.most, 2)
      assert(front.seen.calls.length <= 4, `20 lookups went in ${front.seen.calls.length} calls`)
    } finally {
      await front.close()
    }
  },
})

Deno.test({
  name: "cache[upstash]: a lookup of a user's data reads their version in the same call; a write is one call",
  ignore: !redisAvailable,
  fn: async () => {
    bridge ??= await startUpstashBridge()
    const front = countingProxy(bridge!.url)
    try {
      const cache = newCache(new UpstashStore(front.url, bridge!.token, 2000))
      const p = CACHE_POLICIES
      await cache.set(p.expense_summaries.key('alice', 'month:current'), 1, 60)
      await cache.set(p.dashboard.key('alice'), 2, 60)
      front.reset()
      const commands = () => front.seen.calls.map((c) => (JSON.parse(c.body) as string[][]).map((command) => command[0]))
      assertEquals((await cache.get(p.expense_summaries.key('alice', 'month:current'), JSON.parse, 'alice')).value, 1)
      assertEquals((await cache.get(p.dashboard.key('alice'), JSON.parse, 'alice')).value, 2)
      assertEquals(commands(), [['HGET', 'GET'], ['MGET']])
      front.reset()
      assert(await cache.invalidate('alice', p.expense_summaries.hash('alice'), p.dashboard.key('alice'), p.chat_context.key('alice')))
      assertEquals(commands(), [['SET', 'DEL']])
    } finally {
      await front.close()
    }
  },
})

Deno.test({
  name: 'cache[upstash]: rate-limit checks alone never open a second call: they go together when the call out returns',
  ignore: !redisAvailable,
  fn: async () => {
    bridge ??= await startUpstashBridge()
    const front = countingProxy(bridge!.url, 20)
    try {
      const store = new UpstashStore(front.url, bridge!.token, 2000)
      const key = `t${crypto.randomUUID().slice(0, 8)}:count`
      await store.ping()
      front.reset()
      // The way a list sends its check: queued, then flushed as the request waits on the database.
      const check = () => {
        const counted = store.send<number>(['INCR', key], false)
        networkWait()
        return counted
      }
      const first = check() // nothing out: sent at once
      const later = Array.from({ length: 5 }, check) // one call out: they wait for it
      assertEquals(await Promise.all([first, ...later]), [1, 2, 3, 4, 5, 6])
      assertEquals({ most: front.seen.most, commands: front.seen.calls.map((c) => JSON.parse(c.body).length) }, {
        most: 1,
        commands: [1, 5],
      })

      // A lookup is wanted now: it may open a second call beside a check's.
      front.reset()
      const counted = check()
      const value = store.get(key)
      assertEquals(await counted, 7)
      await value
      assertEquals({ calls: front.seen.calls.length, most: front.seen.most }, { calls: 2, most: 2 })
    } finally {
      await front.close()
    }
  },
})

Deno.test('cache[upstash]: the read-your-writes token Upstash gives is sent back, as its SDK does', async () => {
  const seen: (string | null)[] = []
  let n = 0
  const upstash = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    seen.push(req.headers.get('upstash-sync-token'))
    const commands = await req.json() as string[][]
    assertEquals(new URL(req.url).pathname, '/pipeline')
    assertEquals(req.headers.get('authorization'), 'Bearer the-token')
    return Response.json(commands.map(() => ({ result: 'OK' })), { headers: { 'upstash-sync-token': `sync-${++n}` } })
  })
  try {
    const store = new UpstashStore(`http://127.0.0.1:${upstash.addr.port}/`, 'the-token', 1000)
    await store.set('a', '1', 60)
    await store.set('b', '2', 60)
    assertEquals(await store.get('a'), 'OK')
    assertEquals(seen, [null, 'sync-1', 'sync-2'])
  } finally {
    await upstash.shutdown()
  }
})
