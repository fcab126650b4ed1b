// RLS matrix on every wins table, plus the database-level guarantees the
// function relies on: links stay within one owner, saved amounts only move
// through contributions, categories must exist, accounts take everything along.
import { assert, assertEquals } from './_support/assert.ts'
import { asUser, checkRls, newAuthUser } from './_support/rls.ts'
import { adminSql, callFunction, signUp } from './_support/stack.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'

import type postgres from 'postgres'
const one = async (q: Promise<postgres.RowList<postgres.Row[]>>) => (await q)[0].id as string

Deno.test('wins RLS: expenses', async () => {
  await checkRls({
    table: 'expenses',
    createOwned: (owner) => one(adminSql`insert into pam.expenses (user_id, amount, category) values (${owner}, 12.50, 'fuel') returning id`),
    insertValues: (userId) => ({ user_id: userId, amount: '9.99', category: 'food' }),
    updateValues: { description: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wins RLS: income', async () => {
  await checkRls({
    table: 'income',
    createOwned: (owner) => one(adminSql`insert into pam.income (user_id, amount, source) values (${owner}, 100, 'Work') returning id`),
    insertValues: (userId) => ({ user_id: userId, amount: '5.00', source: 'Busking' }),
    updateValues: { source: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wins RLS: budgets', async () => {
  await checkRls({
    table: 'budgets',
    createOwned: (owner) =>
      one(adminSql`insert into pam.budgets (user_id, category, amount) values (${owner}, 'camping', 300) returning id`),
    insertValues: (userId) => ({ user_id: userId, category: 'fuel', period: 'weekly', amount: '80.00' }),
    updateValues: { amount: '350.00' },
    ownerMayDelete: true,
  })
})

Deno.test('wins RLS: savings_goals', async () => {
  await checkRls({
    table: 'savings_goals',
    createOwned: (owner) =>
      one(adminSql`insert into pam.savings_goals (user_id, name, target_amount) values (${owner}, 'Solar', 1000) returning id`),
    insertValues: (userId) => ({ user_id: userId, name: 'Tyres', target_amount: '800.00' }),
    updateValues: { name: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wins RLS: goal_contributions (append-only: no delete)', async () => {
  let goalId = ''
  await checkRls({
    table: 'goal_contributions',
    createOwned: async (owner) => {
      goalId = await one(adminSql`insert into pam.savings_goals (user_id, name, target_amount) values (${owner}, 'G', 1000) returning id`)
      return one(adminSql`insert into pam.goal_contributions (user_id, goal_id, amount) values (${owner}, ${goalId}, 10) returning id`)
    },
    insertValues: (userId) => ({ user_id: userId, goal_id: goalId, amount: '5.00' }),
    updateValues: { note: 'changed' },
    ownerMayDelete: false,
  })
})

Deno.test('wins RLS: hustles', async () => {
  await checkRls({
    table: 'hustles',
    createOwned: (owner) => one(adminSql`insert into pam.hustles (user_id, title) values (${owner}, 'Repairs') returning id`),
    insertValues: (userId) => ({ user_id: userId, title: 'Photos' }),
    updateValues: { title: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wins RLS: expense_categories', async () => {
  await checkRls({
    table: 'expense_categories',
    createOwned: (owner) =>
      one(adminSql`insert into pam.expense_categories (user_id, slug, label) values (${owner}, 'laundry', 'Laundry') returning id`),
    insertValues: (userId) => ({ user_id: userId, slug: 'dog-care', label: 'Dog care' }),
    updateValues: { label: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('wins RLS: notifications', async () => {
  await checkRls({
    table: 'notifications',
    createOwned: (owner) =>
      one(adminSql`insert into pam.notifications (user_id, kind, title) values (${owner}, 'budget_threshold', 'Hi') returning id`),
    insertValues: (userId) => ({ user_id: userId, kind: 'social', title: 'Hello' }),
    updateValues: { read_at: new Date().toISOString() },
    ownerMayDelete: true,
  })
})

const as = asUser

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected the statement to fail')
}

Deno.test('wins db: a row can only link to its owner\'s hustle or goal, even by direct SQL', async () => {
  const a = await newAuthUser()
  const b = await newAuthUser()
  const bHustle = await one(adminSql`insert into pam.hustles (user_id, title) values (${b}, 'B') returning id`)
  const bGoal = await one(adminSql`insert into pam.savings_goals (user_id, name, target_amount) values (${b}, 'B', 10) returning id`)
  const linked = await failure(as(a).query`insert into pam.expenses (amount, category, hustle_id) values (1, 'fuel', ${bHustle})`)
  assertEquals(linked.status, 409)
  const income = await failure(as(a).query`insert into pam.income (amount, source, hustle_id) values (1, 'x', ${bHustle})`)
  assertEquals(income.status, 409)
  const contrib = await failure(as(a).query`insert into pam.goal_contributions (goal_id, amount) values (${bGoal}, 5)`)
  assertEquals(contrib.status, 409)
  const [g] = await adminSql`select saved_amount::text as s from pam.savings_goals where id = ${bGoal}`
  assertEquals(g.s, '0.00')
})

Deno.test('wins db: saved_amount moves only through contributions; withdrawals cannot go below zero', async () => {
  const a = await newAuthUser()
  const goal = await one(adminSql`insert into pam.savings_goals (user_id, name, target_amount) values (${a}, 'G', 100) returning id`)
  const direct = await failure(as(a).query`update pam.savings_goals set saved_amount = 1000 where id = ${goal}`)
  assertEquals(direct.status, 403)
  await as(a).query`insert into pam.goal_contributions (goal_id, amount) values (${goal}, 60)`
  const over = await failure(
    as(a).query`insert into pam.goal_contributions (goal_id, amount, kind) values (${goal}, 61, 'withdrawal')`,
  )
  assertEquals(over.status, 400)
  await as(a).query`insert into pam.goal_contributions (goal_id, amount) values (${goal}, 40)`
  const [g] = await adminSql`select saved_amount::text as s, status from pam.savings_goals where id = ${goal}`
  assertEquals([g.s, g.status], ['100.00', 'achieved'])
})

Deno.test('wins db: unknown categories and bad amounts are refused by the table itself', async () => {
  const a = await newAuthUser()
  const unknown = await failure(as(a).query`insert into pam.expenses (amount, category) values (1, 'yachts')`)
  assertEquals(unknown.status, 400)
  assertEquals((unknown.details as { path: string[] }[])[0].path, ['category'], 'the field, not the constraint')
  const budget = await failure(as(a).query`insert into pam.budgets (category, amount) values ('yachts', 1)`)
  assertEquals(budget.status, 400)
  for (const amount of ['0', '-1', '1000000.01']) {
    assertEquals((await failure(as(a).query`insert into pam.expenses (amount, category) values (${amount}::numeric, 'fuel')`)).status, 400)
  }
  await as(a).query`insert into pam.expense_categories (slug, label) values ('yachts', 'Yachts')`
  await as(a).query`insert into pam.expenses (amount, category) values (1, 'yachts')`
  const fixed = await failure(as(a).query`insert into pam.expense_categories (slug, label) values ('fuel', 'Fuel again')`)
  assertEquals(fixed.status, 400)
})

Deno.test('wins db: deleting the account deletes every wins row', async () => {
  const user = await signUp()
  const id = user.id
  const h = await one(adminSql`insert into pam.hustles (user_id, title) values (${id}, 'H') returning id`)
  const g = await one(adminSql`insert into pam.savings_goals (user_id, name, target_amount) values (${id}, 'G', 10) returning id`)
  await adminSql`insert into pam.goal_contributions (user_id, goal_id, amount) values (${id}, ${g}, 1)`
  await adminSql`insert into pam.expense_categories (user_id, slug, label) values (${id}, 'mine', 'Mine')`
  await adminSql`insert into pam.expenses (user_id, amount, category, hustle_id) values (${id}, 1, 'mine', ${h})`
  await adminSql`insert into pam.income (user_id, amount, source, hustle_id) values (${id}, 1, 's', ${h})`
  await adminSql`insert into pam.budgets (user_id, category, amount) values (${id}, 'fuel', 1)`
  await adminSql`insert into pam.notifications (user_id, kind, title) values (${id}, 'social', 't')`
  const res = await callFunction('auth/me', { method: 'DELETE', token: user.accessToken })
  assertEquals(res.status, 204)
  for (const t of ['expenses', 'income', 'budgets', 'savings_goals', 'goal_contributions', 'hustles', 'expense_categories', 'notifications']) {
    const [r] = await adminSql.unsafe(`select count(*)::int as n from pam.${t} where user_id = $1`, [id])
    assertEquals(r.n, 0, `${t} emptied`)
  }
  assert(true)
})
