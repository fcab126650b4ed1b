// Savings goals with their contributions, hustles with their ROI, and the
// user's own categories.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { userWith, winsAppAt, winsAs } from './_support/wins.ts'

Deno.test('wins goals: CRUD, progress and the monthly amount needed', async () => {
  const user = await userWith({ timezone: 'Australia/Hobart' })
  const w = winsAppAt('2026-01-15T01:00:00Z')(user) // 12:00 on 15 January in Hobart
  const created = await w('goals', { method: 'POST', body: { name: 'Lithium battery', target_amount: '1000', target_date: '2026-07-15' } })
  assertEquals(created.status, 201, JSON.stringify(created.body))
  const g = created.body.goal
  assertEquals([g.target_amount, g.saved_amount, g.remaining, g.progress_percent, g.status], ['1000.00', '0.00', '1000.00', 0, 'active'])
  assertEquals([g.months_left, g.monthly_needed], [6, '166.67']) // 1000.00 / 6, rounded up

  const dep = await w(`goals/${g.id}/contributions`, { method: 'POST', body: { amount: '100.00', note: 'first' } })
  assertEquals(dep.status, 201)
  assertEquals([dep.body.contribution.kind, dep.body.contribution.date, dep.body.goal.saved_amount], ['deposit', '2026-01-15', '100.00'])
  assertEquals([dep.body.goal.progress_percent, dep.body.goal.monthly_needed], [10, '150.00'])

  const out = await w(`goals/${g.id}/contributions`, { method: 'POST', body: { amount: '40.00', kind: 'withdrawal' } })
  assertEquals(out.body.goal.saved_amount, '60.00')
  const tooMuch = await w(`goals/${g.id}/contributions`, { method: 'POST', body: { amount: '60.01', kind: 'withdrawal' } })
  assertEquals(tooMuch.status, 409)
  assertEquals(tooMuch.body.error.code, 'insufficient_savings')

  const patched = await w(`goals/${g.id}`, { method: 'PATCH', body: { target_amount: '500.00', target_date: null, name: 'Battery' } })
  assertEquals(patched.status, 200)
  assertEquals([patched.body.goal.name, patched.body.goal.remaining, patched.body.goal.monthly_needed], ['Battery', '440.00', null])
  const done = await w(`goals/${g.id}/contributions`, { method: 'POST', body: { amount: '440.00' } })
  assertEquals([done.body.goal.status, done.body.goal.progress_percent, done.body.goal.remaining], ['achieved', 100, '0.00'])

  const list = await w('goals')
  assertEquals(list.body.goals.map((x: { id: string }) => x.id), [g.id])
  assertEquals((await w('goals?status=active')).body.goals, [])
  const contributions = await w(`goals/${g.id}/contributions?limit=2`)
  assertEquals(contributions.body.contributions.map((k: { amount: string }) => k.amount), ['440.00', '40.00'])
  const rest = await w(`goals/${g.id}/contributions?limit=2&cursor=${contributions.body.next_cursor}`)
  assertEquals([rest.body.contributions.map((k: { note: string }) => k.note), rest.body.next_cursor], [['first'], null])

  assertEquals((await w(`goals/${g.id}`)).body.goal.saved_amount, '500.00')
  assertEquals((await w(`goals/${g.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`goals/${g.id}`)).status, 404)
  assertEquals((await adminSql`select count(*)::int as n from pam.goal_contributions where goal_id = ${g.id}`)[0].n, 0)
})

Deno.test('wins goals: validation, other users, and concurrent contributions', async () => {
  const user = await signUp()
  const w = winsAs(user)
  for (const body of [
    { name: 'x', target_amount: '0' },
    { name: 'x', target_amount: '100000000.01' },
    { name: 'x', target_amount: 100 },
    { name: '', target_amount: '10' },
    { name: 'x', target_amount: '10', target_date: '2026-02-29' },
    { name: 'x', target_amount: '10', saved_amount: '5' },
    { name: 'x', target_amount: '10', status: 'done' },
  ]) {
    assertEquals((await w('goals', { method: 'POST', body })).status, 400, JSON.stringify(body))
  }
  const g = (await w('goals', { method: 'POST', body: { name: 'Tyres', target_amount: '2000.00' } })).body.goal
  assertEquals(g.monthly_needed, null)
  assertEquals((await w(`goals/${g.id}`, { method: 'PATCH', body: { saved_amount: '9999' } })).status, 400)
  for (const body of [{ amount: '0' }, { amount: '-1' }, { amount: '10', kind: 'gift' }, { amount: '1000000.01' }]) {
    assertEquals((await w(`goals/${g.id}/contributions`, { method: 'POST', body })).status, 400, JSON.stringify(body))
  }
  // Twenty deposits at once: every one counts.
  const results = await Promise.all(
    Array.from({ length: 20 }, () => w(`goals/${g.id}/contributions`, { method: 'POST', body: { amount: '10.05' } })),
  )
  assert(results.every((r) => r.status === 201))
  assertEquals((await w(`goals/${g.id}`)).body.goal.saved_amount, '201.00')

  const stranger = winsAs(await signUp())
  assertEquals((await stranger(`goals/${g.id}`)).status, 404)
  assertEquals((await stranger(`goals/${g.id}`, { method: 'PATCH', body: { name: 'mine' } })).status, 404)
  assertEquals((await stranger(`goals/${g.id}/contributions`, { method: 'POST', body: { amount: '1.00' } })).status, 404)
  assertEquals((await stranger(`goals/${g.id}/contributions`)).status, 404)
  assertEquals((await stranger(`goals/${g.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await stranger('goals/not-an-id')).status, 400)
})

Deno.test('wins hustles: CRUD, ROI from linked rows, best first', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const make = async (body: Record<string, unknown>) => {
    const res = await w('hustles', { method: 'POST', body })
    assertEquals(res.status, 201, JSON.stringify(res.body))
    return res.body.hustle
  }
  const repairs = await make({ title: 'Mobile bike repairs', kind: 'gig', status: 'active', hours_invested: 20 })
  const prints = await make({ title: 'Photo prints', kind: 'crafts', status: 'active' })
  const idea = await make({ title: 'Van tours' })
  assertEquals([idea.kind, idea.status, idea.hours_invested], ['other', 'idea', 0])

  for (const [amount, date] of [['1000.00', '2026-03-01'], ['500.00', '2026-03-09']]) {
    await w('income', { method: 'POST', body: { amount, source: 'Repairs', date, hustle_id: repairs.id } })
  }
  await w('expenses', { method: 'POST', body: { amount: '300.00', category: 'maintenance', hustle_id: repairs.id } })
  await w('expenses', { method: 'POST', body: { amount: '100.00', category: 'other', hustle_id: prints.id } })
  await w('expenses', { method: 'POST', body: { amount: '50.00', category: 'other', hustle_id: prints.id, currency: 'USD' } })
  await w('expenses', { method: 'POST', body: { amount: '77.00', category: 'fuel' } }) // not linked

  const roi = await w(`hustles/${repairs.id}/roi`)
  assertEquals(roi.status, 200)
  assertEquals(roi.body.roi, {
    hustle_id: repairs.id,
    title: 'Mobile bike repairs',
    status: 'active',
    currency: 'AUD',
    income: '1500.00',
    expenses: '300.00',
    profit: '1200.00',
    roi_percent: 400,
    hours_invested: 20,
    hourly_rate: '60.00',
    verdict: 'profitable',
  })
  const all = await w('hustles/roi')
  assertEquals(all.status, 200, 'not taken for an id')
  assertEquals(all.body.hustles.map((h: { title: string }) => h.title), ['Mobile bike repairs', 'Van tours', 'Photo prints'])
  const [, none, losing] = all.body.hustles
  assertEquals([none.verdict, none.roi_percent, none.hourly_rate], ['no_data', null, null])
  assertEquals([losing.profit, losing.roi_percent, losing.hourly_rate, losing.verdict], ['-100.00', -100, null, 'losing_money'])

  const patched = await w(`hustles/${prints.id}`, { method: 'PATCH', body: { hours_invested: 12.5, status: 'dropped' } })
  assertEquals([patched.body.hustle.hours_invested, patched.body.hustle.status], [12.5, 'dropped'])
  assertEquals((await w(`hustles/${prints.id}/roi`)).body.roi.hourly_rate, '-8.00')
  assertEquals((await w('hustles?status=dropped')).body.hustles.map((h: { id: string }) => h.id), [prints.id])
  assertEquals((await w(`hustles/${repairs.id}`)).body.hustle.title, 'Mobile bike repairs')

  // Deleting a hustle keeps its income and expenses, unlinked.
  assertEquals((await w(`hustles/${repairs.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`hustles/${repairs.id}/roi`)).status, 404)
  const [left] = await adminSql`select count(*)::int as n, count(hustle_id)::int as linked from pam.income where user_id = ${user.id}`
  assertEquals([left.n, left.linked], [2, 0])
})

Deno.test('wins hustles: validation and other users', async () => {
  const user = await signUp()
  const w = winsAs(user)
  for (const body of [
    {},
    { title: '' },
    { title: 'x', status: 'thriving' },
    { title: 'x', kind: 'piracy' },
    { title: 'x', hours_invested: -1 },
    { title: 'x', hours_invested: 1.234 },
    { title: 'x', hours_invested: '3' },
    { title: 'x', started_on: '2026-02-30' },
  ]) {
    assertEquals((await w('hustles', { method: 'POST', body })).status, 400, JSON.stringify(body))
  }
  const h = (await w('hustles', { method: 'POST', body: { title: 'Mine' } })).body.hustle
  const stranger = winsAs(await signUp())
  assertEquals((await stranger(`hustles/${h.id}`)).status, 404)
  assertEquals((await stranger(`hustles/${h.id}/roi`)).status, 404)
  assertEquals((await stranger(`hustles/${h.id}`, { method: 'PATCH', body: { title: 'x' } })).status, 404)
  assertEquals((await stranger(`hustles/${h.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await stranger('hustles/roi')).body.hustles, [])
  // Linking someone else's hustle is refused.
  const link = await stranger('income', { method: 'POST', body: { amount: '1.00', source: 'x', hustle_id: h.id } })
  assertEquals([link.status, link.body.error.code], [400, 'unknown_hustle'])
  const linkE = await stranger('expenses', { method: 'POST', body: { amount: '1.00', category: 'fuel', hustle_id: h.id } })
  assertEquals([linkE.status, linkE.body.error.code], [400, 'unknown_hustle'])
})

Deno.test('wins categories: the fixed list plus your own; add, use, delete', async () => {
  const user = await signUp()
  const w = winsAs(user)
  const fixed = (await w('categories')).body.categories
  assertEquals(fixed.length, 13)
  assertEquals(fixed.map((c: { slug: string }) => c.slug).slice(0, 3), ['fuel', 'camping', 'food'])
  assert(fixed.every((c: { builtin: boolean }) => c.builtin))

  const made = await w('categories', { method: 'POST', body: { slug: 'dog-care', label: 'Dog care' } })
  assertEquals([made.status, made.body.category], [201, { slug: 'dog-care', label: 'Dog care', builtin: false }])
  assertEquals((await w('categories', { method: 'POST', body: { slug: 'dog-care', label: 'Again' } })).body.error.code, 'category_exists')
  assertEquals((await w('categories', { method: 'POST', body: { slug: 'fuel', label: 'Fuel' } })).body.error.code, 'category_exists')
  for (const slug of ['Dog', 'a', 'dog care', 'dog--care', '-dog', 'x'.repeat(41)]) {
    assertEquals((await w('categories', { method: 'POST', body: { slug, label: 'X' } })).status, 400, slug)
  }
  assertEquals((await w('categories', { method: 'POST', body: { slug: 'ok', label: 'X', colour: 'red' } })).status, 400)
  const list = (await w('categories')).body.categories
  assertEquals(list[list.length - 1], { slug: 'dog-care', label: 'Dog care', builtin: false })
  // Other users do not see it or use it.
  const stranger = winsAs(await signUp())
  assertEquals((await stranger('categories')).body.categories.length, 13)
  assertEquals((await stranger('expenses', { method: 'POST', body: { amount: '1.00', category: 'dog-care' } })).body.error.code, 'unknown_category')
  assertEquals((await stranger('categories/dog-care', { method: 'DELETE' })).status, 404)

  const e = (await w('expenses', { method: 'POST', body: { amount: '25.00', category: 'dog-care', date: '2026-03-01' } })).body.expense
  await w('budgets/dog-care', { method: 'PUT', body: { amount: '100.00' } })
  const summary = (await w('summary?date=2026-03-01')).body
  assertEquals(summary.by_category[0], { category: 'dog-care', label: 'Dog care', amount: '25.00', count: 1, percent: 100 })
  const inUse = await w('categories/dog-care', { method: 'DELETE' })
  assertEquals([inUse.status, inUse.body.error.code, inUse.body.error.details], [409, 'category_in_use', { expenses: 1, budgets: 1 }])
  await w(`expenses/${e.id}`, { method: 'DELETE' })
  await w('budgets/dog-care', { method: 'DELETE' })
  assertEquals((await w('categories/dog-care', { method: 'DELETE' })).status, 204)
  assertEquals((await w('categories/dog-care', { method: 'DELETE' })).status, 404)
  assertEquals((await w('categories/fuel', { method: 'DELETE' })).body.error.code, 'builtin_category')
})

Deno.test('wins income: CRUD, validation, filters, pages, other users', async () => {
  const user = await userWith({ timezone: 'Australia/Darwin' })
  const w = winsAs(user)
  const created = await w('income', { method: 'POST', body: { amount: '820', source: 'Harvest work', description: 'Mildura grapes', date: '2026-03-02', recurring: true } })
  assertEquals(created.status, 201, JSON.stringify(created.body))
  const i = created.body.income
  assertEquals([i.amount, i.currency, i.source, i.recurring, i.hustle_id], ['820.00', 'AUD', 'Harvest work', true, null])
  assertEquals((await w(`income/${i.id}`)).body.income, i)
  const patched = await w(`income/${i.id}`, { method: 'PATCH', body: { amount: '800.10', recurring: false } })
  assertEquals([patched.body.income.amount, patched.body.income.recurring, patched.body.income.source], ['800.10', false, 'Harvest work'])

  for (const body of [
    { amount: '0', source: 'x' },
    { amount: '-1', source: 'x' },
    { amount: '1000000.01', source: 'x' },
    { amount: 5, source: 'x' },
    { amount: '5' },
    { amount: '5', source: '' },
    { amount: '5', source: 'x', date: '2026-04-31' },
    { amount: '5', source: 'x', hustle_id: 'abc' },
    { amount: '5', source: 'x', recurring: 'yes' },
    { amount: '5', source: 'x', extra: 1 },
  ]) {
    assertEquals((await w('income', { method: 'POST', body })).status, 400, JSON.stringify(body))
  }
  assertEquals((await w(`income/${i.id}`, { method: 'PATCH', body: {} })).status, 400)

  await insertIncome(user.id)
  const sources = async (q: string) =>
    (await w(`income?${q}`)).body.income.map((x: { source: string }) => x.source)
  assertEquals(await sources('from=2026-03-01&to=2026-03-31'), ['Markets', 'Harvest work'])
  assertEquals(await sources('q=grapes'), ['Harvest work'])
  assertEquals(await sources('recurring=true'), ['Pension'])
  const first = await w('income?limit=2')
  const second = await w(`income?limit=2&cursor=${first.body.next_cursor}`)
  assertEquals([...first.body.income, ...second.body.income].map((x: { source: string }) => x.source), ['Markets', 'Harvest work', 'Pension'])
  assertEquals(second.body.next_cursor, null)
  assertEquals((await w('income?from=2026-04-01&to=2026-03-01')).status, 400)

  const stranger = winsAs(await signUp())
  assertEquals((await stranger(`income/${i.id}`)).status, 404)
  assertEquals((await stranger(`income/${i.id}`, { method: 'PATCH', body: { amount: '1.00' } })).status, 404)
  assertEquals((await stranger(`income/${i.id}`, { method: 'DELETE' })).status, 404)
  assertEquals((await stranger('income')).body.income, [])
  assertEquals((await w(`income/${i.id}`, { method: 'DELETE' })).status, 204)
  assertEquals((await w(`income/${i.id}`)).status, 404)
})

async function insertIncome(userId: string) {
  await adminSql`insert into pam.income (user_id, amount, currency, source, date, recurring) values
    (${userId}, 40.00, 'AUD', 'Markets', '2026-03-20', false),
    (${userId}, 400.00, 'AUD', 'Pension', '2026-02-20', true)`
}
