// /wins/budgets and the budget impact of expenses: current periods in the
// user's time zone, projections, rollover, and the 80% / 100% alerts, each
// exactly once per period. The clock is pinned (in-process app).
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql } from './_support/stack.ts'
import { insertExpenses, userWith, winsAppAt } from './_support/wins.ts'

// Sunday 15 March 2026, 12:00 in Brisbane.
const at = winsAppAt('2026-03-15T02:00:00Z')
const brisbane = { timezone: 'Australia/Brisbane', currency: 'AUD' }

const notifications = async (userId: string) =>
  await adminSql`select kind, title, body, data, dedupe_key from pam.notifications where user_id = ${userId} order by created_at`

Deno.test('wins budgets: create, replace, list with spent, remaining, percent and projection; delete', async () => {
  const user = await userWith(brisbane)
  const w = at(user)
  const created = await w('budgets/fuel', { method: 'PUT', body: { amount: '400.00' } })
  assertEquals(created.status, 201, JSON.stringify(created.body))
  assertEquals(created.body.budget.period, 'monthly')
  assertEquals(created.body.budget.start_date, '2026-03-01', 'default: the start of the current period')
  await insertExpenses(user.id, [
    { amount: '120.00', category: 'fuel', date: '2026-03-02' },
    { amount: '30.00', category: 'fuel', date: '2026-03-15' },
    { amount: '500.00', category: 'fuel', date: '2026-02-28' }, // last month
    { amount: '9.00', category: 'fuel', date: '2026-03-10', currency: 'USD' }, // not the home currency
    { amount: '40.00', category: 'food', date: '2026-03-10' },
  ])
  const replaced = await w('budgets/fuel', { method: 'PUT', body: { amount: '300', period: 'monthly' } })
  assertEquals(replaced.status, 200)
  assertEquals(replaced.body.budget.id, created.body.budget.id)
  assertEquals(replaced.body.budget.amount, '300.00')
  assertEquals(replaced.body.budget.current, {
    start: '2026-03-01',
    end: '2026-03-31',
    carried_over: '0.00',
    available: '300.00',
    spent: '150.00',
    remaining: '150.00',
    percent: 50,
    projected: '310.00', // 150.00 over 15 of 31 days
    days_elapsed: 15,
    days_in_period: 31,
    status: 'ok',
  })
  // A weekly food budget: the ISO week of Sunday the 15th is Monday 9 – Sunday 15.
  const weekly = await w('budgets/food', { method: 'PUT', body: { amount: '50.00', period: 'weekly' } })
  assertEquals(weekly.status, 201)
  assertEquals([weekly.body.budget.current.start, weekly.body.budget.current.end], ['2026-03-09', '2026-03-15'])
  assertEquals([weekly.body.budget.current.spent, weekly.body.budget.current.percent, weekly.body.budget.current.status], ['40.00', 80, 'warning'])
  await w('budgets/food', { method: 'PUT', body: { amount: '600.00', period: 'monthly' } })

  const list = await w('budgets')
  assertEquals(list.status, 200)
  assertEquals(list.body.budgets.map((b: { category: string; period: string }) => `${b.category}/${b.period}`), [
    'food/weekly',
    'food/monthly',
    'fuel/monthly',
  ])
  assertEquals(list.body.totals, [
    { period: 'weekly', available: '50.00', spent: '40.00', remaining: '10.00' },
    { period: 'monthly', available: '900.00', spent: '190.00', remaining: '710.00' },
  ])
  assertEquals((await w('budgets?period=weekly')).body.budgets.length, 1)

  const ambiguous = await w('budgets/food', { method: 'DELETE' })
  assertEquals(ambiguous.status, 400)
  assertEquals(ambiguous.body.error.code, 'period_required')
  assertEquals((await w('budgets/food?period=weekly', { method: 'DELETE' })).status, 204)
  assertEquals((await w('budgets/food', { method: 'DELETE' })).status, 204)
  assertEquals((await w('budgets/food', { method: 'DELETE' })).status, 404)
  assertEquals((await w('budgets/fuel?period=yearly', { method: 'DELETE' })).status, 404)
  assertEquals((await w('budgets')).body.budgets.length, 1)
})

Deno.test('wins budgets: validation', async () => {
  const user = await userWith(brisbane)
  const w = at(user)
  for (const [path, body] of [
    ['budgets/fuel', { amount: '0' }],
    ['budgets/fuel', { amount: '-10.00' }],
    ['budgets/fuel', { amount: '100000000.01' }],
    ['budgets/fuel', { amount: 100 }],
    ['budgets/fuel', { amount: '10.00', period: 'daily' }],
    ['budgets/fuel', { amount: '10.00', start_date: '2026-02-31' }],
    ['budgets/fuel', { amount: '10.00', extra: true }],
    ['budgets/Fuel%20Money', { amount: '10.00' }],
  ] as const) {
    const res = await w(path, { method: 'PUT', body })
    assertEquals(res.status, 400, `${path} ${JSON.stringify(body)}`)
  }
  const unknown = await w('budgets/yachts', { method: 'PUT', body: { amount: '10.00' } })
  assertEquals(unknown.body.error.code, 'unknown_category')
  assertEquals((await w('budgets?period=daily')).status, 400)
  assertEquals((await w('budgets')).body.budgets, [])
})

Deno.test('wins budgets: crossing 80% and 100% notifies once per threshold per period', async () => {
  const user = await userWith(brisbane)
  const w = at(user)
  await w('budgets/fuel', { method: 'PUT', body: { amount: '100.00' } })
  const spend = async (amount: string, date = '2026-03-14') => {
    const res = await w('expenses', { method: 'POST', body: { amount, category: 'fuel', date } })
    assertEquals(res.status, 201, JSON.stringify(res.body))
    const [impact] = res.body.budgets
    return { percent: impact.current.percent, alert: impact.alert, affected: impact.affected, id: res.body.expense.id }
  }
  const first = await spend('50.00')
  assertEquals([first.percent, first.alert, first.affected], [50, null, true])
  const at80 = await spend('30.00')
  assertEquals([at80.percent, at80.alert], [80, { threshold: 80, notified: true }])
  const at85 = await spend('5.00')
  assertEquals([at85.percent, at85.alert], [85, { threshold: 80, notified: false }])
  let sent = await notifications(user.id)
  assertEquals(sent.length, 1)
  assertEquals(sent[0].kind, 'budget_threshold')
  assertEquals(sent[0].title, 'Fuel budget at 80%')
  assertEquals(sent[0].data.threshold, 80)
  assertEquals(sent[0].data.spent, '80.00')
  assertEquals(sent[0].data.period_start, '2026-03-01')
  assert(sent[0].body.includes('80.00 AUD of 100.00 AUD'))

  const at100 = await spend('15.00')
  assertEquals([at100.percent, at100.alert], [100, { threshold: 100, notified: true }])
  const over = await spend('10.00')
  assertEquals([over.percent, over.alert], [110, { threshold: 100, notified: false }])
  // Editing and deleting do not repeat them either.
  await w(`expenses/${over.id}`, { method: 'PATCH', body: { amount: '12.00' } })
  await w(`expenses/${over.id}`, { method: 'DELETE' })
  await spend('1.00')
  sent = await notifications(user.id)
  assertEquals(sent.map((n) => n.data.threshold), [80, 100])
  assertEquals(sent[1].title, 'Fuel budget used up')

  // Last month's spending changes nothing now.
  const old = await spend('500.00', '2026-02-10')
  assertEquals([old.affected, old.percent], [false, 101])
  assertEquals((await notifications(user.id)).length, 2)
})

Deno.test('wins budgets: concurrent expenses crossing 100% together still send the 100% alert, once', async () => {
  const user = await userWith(brisbane)
  const w = at(user)
  await w('budgets/fuel', { method: 'PUT', body: { amount: '100.00' } })
  await w('expenses', { method: 'POST', body: { amount: '70.00', category: 'fuel', date: '2026-03-14' } })
  // Each alone would stay under 100%; together they reach 100%.
  const results = await Promise.all(
    Array.from({ length: 3 }, () => w('expenses', { method: 'POST', body: { amount: '10.00', category: 'fuel', date: '2026-03-14' } })),
  )
  assertEquals(results.map((r) => r.status), [201, 201, 201])
  assertEquals(results.map((r) => r.body.budgets[0].current.percent).sort(), [100, 80, 90])
  const sent = await notifications(user.id)
  // Concurrent transactions: created_at is each one's start, not its commit order.
  assertEquals(sent.map((n) => n.data.threshold).sort(), [100, 80])
})

Deno.test('wins budgets: jumping past 100% at once sends only the 100% alert, and no 80% one later', async () => {
  const user = await userWith(brisbane)
  const w = at(user)
  await w('budgets/camping', { method: 'PUT', body: { amount: '200.00', period: 'weekly' } })
  const big = await w('expenses', { method: 'POST', body: { amount: '250.00', category: 'camping', date: '2026-03-12' } })
  assertEquals(big.body.budgets[0].alert, { threshold: 100, notified: true })
  const expenseId = big.body.expense.id
  // Back down to 85%: the 80% alert is not sent after the 100% one.
  const down = await w(`expenses/${expenseId}`, { method: 'PATCH', body: { amount: '170.00' } })
  assertEquals(down.body.budgets[0].alert, { threshold: 80, notified: false })
  assertEquals((await notifications(user.id)).map((n) => n.data.threshold), [100])
})

Deno.test('wins budgets: alerts respect preferences.notifications.budget_alerts = false', async () => {
  const user = await userWith({ ...brisbane, notifications: { budget_alerts: false } })
  const w = at(user)
  await w('budgets/fuel', { method: 'PUT', body: { amount: '10.00' } })
  const res = await w('expenses', { method: 'POST', body: { amount: '20.00', category: 'fuel', date: '2026-03-10' } })
  assertEquals(res.body.budgets[0].alert, { threshold: 100, notified: false })
  assertEquals((await notifications(user.id)).length, 0)
})

Deno.test('wins budgets: rollover carries last period\'s remainder, or its overspend', async () => {
  const user = await userWith(brisbane)
  const w = at(user)
  await insertExpenses(user.id, [
    { amount: '70.00', category: 'food', date: '2026-02-20' },
    { amount: '10.00', category: 'food', date: '2026-03-02' },
    { amount: '130.00', category: 'dining', date: '2026-02-20' },
  ])
  const food = await w('budgets/food', { method: 'PUT', body: { amount: '100.00', rollover: true, start_date: '2026-02-01' } })
  assertEquals([food.body.budget.current.carried_over, food.body.budget.current.available, food.body.budget.current.remaining], ['30.00', '130.00', '120.00'])
  const dining = await w('budgets/dining', { method: 'PUT', body: { amount: '100.00', rollover: true, start_date: '2026-02-01' } })
  assertEquals([dining.body.budget.current.carried_over, dining.body.budget.current.available], ['-30.00', '70.00'])
  // A budget that starts this month has nothing to carry.
  const fresh = await w('budgets/fuel', { method: 'PUT', body: { amount: '100.00', rollover: true } })
  assertEquals(fresh.body.budget.current.carried_over, '0.00')
  // Replacing keeps the start date unless one is given.
  const again = await w('budgets/food', { method: 'PUT', body: { amount: '100.00', rollover: true } })
  assertEquals([again.body.budget.start_date, again.body.budget.current.carried_over], ['2026-02-01', '30.00'])
  // A budget starting in the future is listed but inactive: no carry, no alerts.
  const later = await w('budgets/tolls', { method: 'PUT', body: { amount: '5.00', start_date: '2026-04-01' } })
  assertEquals(later.body.budget.active, false)
  const toll = await w('expenses', { method: 'POST', body: { amount: '9.00', category: 'tolls', date: '2026-03-15' } })
  assertEquals(toll.body.budgets[0].alert, null)
})

Deno.test('wins budgets: the current period is the user\'s, at a month boundary', async () => {
  // 2026-03-31 15:30 UTC: still March in Perth, already April in Brisbane.
  const boundary = winsAppAt('2026-03-31T15:30:00Z')
  const perth = await userWith({ timezone: 'Australia/Perth' })
  const bris = await userWith({ timezone: 'Australia/Brisbane' })
  for (const u of [perth, bris]) {
    await insertExpenses(u.id, [{ amount: '60.00', category: 'fuel', date: '2026-03-31' }])
    await boundary(u)('budgets/fuel', { method: 'PUT', body: { amount: '100.00', start_date: '2026-01-01' } })
  }
  const p = (await boundary(perth)('budgets')).body.budgets[0].current
  const b = (await boundary(bris)('budgets')).body.budgets[0].current
  assertEquals([p.start, p.spent, p.days_elapsed], ['2026-03-01', '60.00', 31])
  assertEquals([b.start, b.spent, b.days_elapsed], ['2026-04-01', '0.00', 1])
  // An expense with no date lands on each user's own today.
  const pe = await boundary(perth)('expenses', { method: 'POST', body: { amount: '25.00', category: 'fuel' } })
  assertEquals([pe.body.expense.date, pe.body.budgets[0].current.spent, pe.body.budgets[0].alert?.threshold], ['2026-03-31', '85.00', 80])
  const be = await boundary(bris)('expenses', { method: 'POST', body: { amount: '25.00', category: 'fuel' } })
  assertEquals([be.body.expense.date, be.body.budgets[0].current.spent, be.body.budgets[0].alert], ['2026-04-01', '25.00', null])
})
