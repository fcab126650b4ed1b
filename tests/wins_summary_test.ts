// GET /wins/summary against hand-computed fixtures: period boundaries, the
// previous period, currencies, time zones; and the cache: a hit on the second
// identical call, a miss with fresh numbers after every kind of write.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, type TestUser } from './_support/stack.ts'
import { countingProxy, redisAvailable, startUpstashBridge } from './_support/redis.ts'
import { insertExpenses, userWith, winsAppAt, winsAs } from './_support/wins.ts'

async function fixture(preferences: Record<string, unknown>) {
  const user = await userWith(preferences)
  await insertExpenses(user.id, [
    { amount: '100.00', category: 'fuel', date: '2026-03-01', merchant: 'Shell', location: 'Roma' },
    { amount: '50.25', category: 'food', date: '2026-03-15', merchant: 'Coles', location: 'roma ' },
    // 23:30 on 31 March in Perth: a March expense for this user.
    { amount: '45.50', category: 'camping', date: '2026-03-31', merchant: 'KOA', location: 'Alice Springs' },
    { amount: '0.25', category: 'food', date: '2026-03-20', merchant: 'coles' },
    { amount: '999.00', category: 'fuel', date: '2026-04-01', merchant: 'BP' },
    { amount: '20.00', category: 'food', date: '2026-02-28' },
    { amount: '30.00', category: 'fuel', date: '2026-03-10', currency: 'USD' },
  ])
  await adminSql`insert into pam.income (user_id, amount, currency, source, date) values
    (${user.id}, 500.00, 'AUD', 'Harvest', '2026-03-05'),
    (${user.id}, 300.00, 'AUD', 'Harvest', '2026-02-10'),
    (${user.id}, 12.00, 'USD', 'Tips', '2026-03-06')`
  return user
}

Deno.test('wins summary: a month, by hand', async () => {
  const user = await fixture({ timezone: 'Australia/Perth', currency: 'AUD' })
  const res = await winsAs(user)('summary?period=month&date=2026-03-31')
  assertEquals(res.status, 200, JSON.stringify(res.body))
  const s = res.body
  assertEquals([s.period, s.start, s.end, s.currency, s.timezone], ['month', '2026-03-01', '2026-03-31', 'AUD', 'Australia/Perth'])
  assertEquals([s.income, s.expenses, s.net, s.expense_count], ['500.00', '196.00', '304.00', 4])
  assertEquals([s.days_counted, s.daily_average], [31, '6.32']) // 196.00 / 31 = 6.3226
  assertEquals(s.by_category, [
    { category: 'fuel', label: 'Fuel', amount: '100.00', count: 1, percent: 51 },
    { category: 'food', label: 'Food and groceries', amount: '50.50', count: 2, percent: 25.8 },
    { category: 'camping', label: 'Camping and site fees', amount: '45.50', count: 1, percent: 23.2 },
  ])
  assertEquals(s.top_merchants, [
    { merchant: 'Shell', amount: '100.00', count: 1 },
    { merchant: 'Coles', amount: '50.50', count: 2 },
    { merchant: 'KOA', amount: '45.50', count: 1 },
  ])
  assertEquals(s.top_locations, [
    { location: 'Roma', amount: '150.25', count: 2 },
    { location: 'Alice Springs', amount: '45.50', count: 1 },
  ])
  assertEquals(s.other_currencies, [{ currency: 'USD', income: '12.00', expenses: '30.00' }])
  assertEquals(s.previous, { start: '2026-02-01', end: '2026-02-28', income: '300.00', expenses: '20.00', net: '280.00' })
  assertEquals(s.change, { income: '200.00', expenses: '176.00', net: '24.00', income_percent: 66.7, expenses_percent: 880 })
  // Any day of the month gives the same month.
  assertEquals((await winsAs(user)('summary?period=month&date=2026-03-01')).body.expenses, '196.00')
})

Deno.test('wins summary: weeks and years, across boundaries', async () => {
  const user = await fixture({ timezone: 'Australia/Perth' })
  const w = winsAs(user)
  // Tuesday 31 March: the week is Monday 30 March – Sunday 5 April.
  const week = (await w('summary?period=week&date=2026-03-31')).body
  assertEquals([week.start, week.end, week.expenses, week.days_counted], ['2026-03-30', '2026-04-05', '1044.50', 7])
  assertEquals(week.previous, { start: '2026-03-23', end: '2026-03-29', income: '0.00', expenses: '0.00', net: '0.00' })
  assertEquals(week.change.expenses_percent, null)
  const year = (await w('summary?period=year&date=2026-06-01')).body
  assertEquals([year.start, year.end, year.expenses, year.income], ['2026-01-01', '2026-12-31', '1215.00', '800.00'])
  const feb = (await w('summary?period=month&date=2026-02-28')).body
  assertEquals([feb.expenses, feb.days_counted, feb.daily_average], ['20.00', 28, '0.71'])
  const empty = (await w('summary?period=month&date=2025-06-15')).body
  assertEquals([empty.expenses, empty.by_category, empty.top_merchants, empty.change.expenses_percent], ['0.00', [], [], null])
  for (const bad of ['period=day', 'date=2026-02-30', 'date=tomorrow']) assertEquals((await w(`summary?${bad}`)).status, 400, bad)
})

Deno.test('wins summary: "this month" is the user\'s month; the average counts the days so far', async () => {
  const at = winsAppAt('2026-03-31T15:30:00Z')
  const perth = await fixture({ timezone: 'Australia/Perth' })
  const brisbane = await fixture({ timezone: 'Australia/Brisbane' })
  const p = (await at(perth)('summary')).body
  assertEquals([p.today, p.start, p.expenses, p.days_counted, p.daily_average], ['2026-03-31', '2026-03-01', '196.00', 31, '6.32'])
  const b = (await at(brisbane)('summary')).body
  assertEquals([b.today, b.start, b.expenses, b.days_counted, b.daily_average], ['2026-04-01', '2026-04-01', '999.00', 1, '999.00'])
  assertEquals(b.previous.expenses, '196.00')
  // Mid-month, the average is over the days so far.
  const mid = (await winsAppAt('2026-03-15T04:00:00Z')(perth)('summary')).body
  assertEquals([mid.days_counted, mid.daily_average], [15, '13.07']) // 196.00 / 15
})

Deno.test('wins summary: a cached "this month" answers for the day it is asked on', async () => {
  const clock = new Date('2026-03-10T02:00:00Z') // noon in Brisbane
  const at = winsAppAt(clock) // one app: its isolate keeps the answers it computed
  const user = await fixture({ timezone: 'Australia/Brisbane' })
  const read = async () => {
    const res = await at(user)('summary')
    assertEquals(res.status, 200)
    return { cache: res.headers.get('x-cache'), body: res.body }
  }
  const first = await read()
  assertEquals([first.cache, first.body.today, first.body.days_counted, first.body.daily_average], ['miss', '2026-03-10', 10, '19.60'])
  // Hits give the same answer: computed again from the cached aggregates, then kept.
  for (let i = 0; i < 2; i++) assertEquals(await read(), { ...first, cache: 'hit' })
  // Ten days on, still March: a hit, and the average is over the days so far.
  clock.setTime(Date.parse('2026-03-20T02:00:00Z'))
  const later = await read()
  assertEquals([later.cache, later.body.today, later.body.days_counted, later.body.daily_average], ['hit', '2026-03-20', 20, '9.80'])
  assertEquals(later.body.expenses, first.body.expenses)
  // A write drops the aggregates: the answer is computed from the new ones.
  await insertExpenses(user.id, [{ amount: '4.00', category: 'food', date: '2026-03-19' }])
  await at(user)('expenses', { method: 'POST', body: { amount: '6.00', category: 'fuel', date: '2026-03-19' } })
  const after = await read()
  assertEquals([after.cache, after.body.expenses, after.body.daily_average], ['miss', '206.00', '10.30'])
  assertEquals((await read()).body, after.body)
})

async function cacheScenario(as: (u: TestUser) => ReturnType<typeof winsAs>) {
  const user = await userWith({ timezone: 'Australia/Brisbane' })
  const other = await userWith()
  const w = as(user)
  const summary = async () => {
    const res = await w('summary?period=month&date=2026-03-10')
    assertEquals(res.status, 200)
    return { cache: res.headers.get('x-cache'), expenses: res.body.expenses, income: res.body.income }
  }
  const expectFresh = async (why: string, expenses: string, income: string) => {
    assertEquals(await summary(), { cache: 'miss', expenses, income }, `after ${why}`)
    assertEquals(await summary(), { cache: 'hit', expenses, income }, `cached after ${why}`)
  }
  await expectFresh('nothing', '0.00', '0.00')
  // Another user's writes do not touch this user's summary.
  await as(other)('expenses', { method: 'POST', body: { amount: '5.00', category: 'fuel', date: '2026-03-10' } })
  assertEquals((await summary()).cache, 'hit')

  const e = (await w('expenses', { method: 'POST', body: { amount: '10.00', category: 'fuel', date: '2026-03-02' } })).body.expense
  await expectFresh('an expense is created', '10.00', '0.00')
  await w(`expenses/${e.id}`, { method: 'PATCH', body: { amount: '12.50' } })
  await expectFresh('an expense is updated', '12.50', '0.00')
  const i = (await w('income', { method: 'POST', body: { amount: '100.00', source: 'Markets', date: '2026-03-03' } })).body.income
  await expectFresh('income is created', '12.50', '100.00')
  await w(`income/${i.id}`, { method: 'PATCH', body: { amount: '80.00' } })
  await expectFresh('income is updated', '12.50', '80.00')
  const csv = 'date,amount,category\r\n2026-03-04,7.50,food\r\n2026-04-04,1.00,food\r\n'
  assertEquals((await w('expenses/import', { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } })).status, 201)
  await expectFresh('an import', '20.00', '80.00')
  await w(`income/${i.id}`, { method: 'DELETE' })
  await expectFresh('income is deleted', '20.00', '0.00')
  await w(`expenses/${e.id}`, { method: 'DELETE' })
  await expectFresh('an expense is deleted', '7.50', '0.00')

  // Every cached period is dropped, not only the one just read.
  const year = () => w('summary?period=year&date=2026-01-01')
  assertEquals((await year()).headers.get('x-cache'), 'miss')
  assertEquals((await year()).headers.get('x-cache'), 'hit')
  await w('expenses', { method: 'POST', body: { amount: '1.00', category: 'fuel', date: '2026-05-01' } })
  const after = await year()
  assertEquals([after.headers.get('x-cache'), after.body.expenses], ['miss', '9.50'])
  // A failed write leaves the cache alone.
  assertEquals((await w('expenses', { method: 'POST', body: { amount: '0', category: 'fuel' } })).status, 400)
  assertEquals((await year()).headers.get('x-cache'), 'hit')
}

Deno.test('wins summary: cached; every kind of write makes the next read a miss with fresh numbers', async () => {
  await cacheScenario(winsAs) // through the gateway, on the stack's cache
})

Deno.test({
  name: 'wins summary: the same on Upstash (REST bridge over a real Redis)',
  ignore: !redisAvailable,
  fn: async () => {
    const bridge = (await startUpstashBridge())!
    try {
      await cacheScenario(winsAppAt(new Date(), { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token }))
    } finally {
      await bridge.close()
    }
  },
})

Deno.test({
  name: "wins summary: on Upstash a write drops every cached period of the user's in one call, never a SCAN of the keyspace",
  ignore: !redisAvailable,
  fn: async () => {
    const bridge = (await startUpstashBridge())!
    const front = countingProxy(bridge.url)
    try {
      const as = winsAppAt(new Date(), { UPSTASH_REDIS_REST_URL: front.url, UPSTASH_REDIS_REST_TOKEN: bridge.token })
      const w = as(await userWith())
      const other = as(await userWith())
      const periods = ['period=month&date=2026-03-10', 'period=week&date=2026-03-10', 'period=year&date=2026-01-01', 'period=month']
      const read = async (call: typeof w, query: string) => (await call(`summary?${query}`)).headers.get('x-cache')
      for (const q of periods) assertEquals([await read(w, q), await read(w, q)], ['miss', 'hit'], q)
      assertEquals([await read(other, periods[0]), await read(other, periods[0])], ['miss', 'hit'])

      front.reset()
      assertEquals((await w('expenses', { method: 'POST', body: { amount: '3.00', category: 'fuel', date: '2026-03-10' } })).status, 201)
      const commands = front.seen.calls.flatMap((c) => (JSON.parse(c.body) as string[][]).map((command) => command[0]))
      assert(!commands.includes('SCAN'), commands.join(' '))
      // The write's rate-limit check, then the drop.
      assertEquals(front.seen.calls.length, 2, commands.join(' '))
      for (const q of periods) assertEquals(await read(w, q), 'miss', q)
      assertEquals(await read(other, periods[0]), 'hit')
    } finally {
      await front.close()
      await bridge.close()
    }
  },
})

Deno.test('wins summary: a change of home currency is never served from the old currency\'s cache', async () => {
  const user = await userWith({ currency: 'AUD' })
  const w = winsAs(user)
  await w('expenses', { method: 'POST', body: { amount: '10.00', category: 'fuel', date: '2026-03-02', currency: 'NZD' } })
  assertEquals((await w('summary?date=2026-03-02')).body.expenses, '0.00')
  assertEquals((await w('summary?date=2026-03-02')).headers.get('x-cache'), 'hit')
  await user.client.functions.invoke('auth/me', { method: 'PATCH', body: { preferences: { currency: 'NZD' } } })
  const nzd = await w('summary?date=2026-03-02')
  assertEquals([nzd.headers.get('x-cache'), nzd.body.currency, nzd.body.expenses], ['miss', 'NZD', '10.00'])
})
