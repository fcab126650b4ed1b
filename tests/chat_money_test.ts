// PAM sets budgets and moves money towards savings goals from sentences,
// through Wins' own code (the same budget and contribution paths as the routes).
import { assertEquals, assertMatch } from './_support/assert.ts'
import { adminSql, signUp } from './_support/stack.ts'
import { type Answer, winsAs } from './_support/wins.ts'
import { chatAs } from './_support/chat.ts'

const show = (res: Answer) => `${res.status} ${JSON.stringify(res.body)}`

Deno.test('chat: PAM sets a budget and moves money towards a savings goal, through Wins', async () => {
  const user = await signUp()
  await adminSql`update pam.profiles set preferences = '{"timezone":"Australia/Perth","currency":"AUD"}' where id = ${user.id}`
  const pam = chatAs(user)
  const say = async (message: string) => {
    const res = await pam('messages', { method: 'POST', body: { message } })
    assertEquals(res.status, 201, show(res))
    return res.body.message
  }

  const set = await say('set my fuel budget to $500 a month')
  assertEquals(set.metadata.intent, 'set_budget', JSON.stringify(set.metadata))
  const [budget] = (await winsAs(user)('budgets')).body.budgets
  assertEquals([budget.category, budget.period, budget.amount], ['fuel', 'monthly', '500.00'])
  assertMatch(set.content, /^Fuel budget set: \$500\.00 monthly\./)

  const goal = (await winsAs(user)('goals', { method: 'POST', body: { name: 'Solar panels', target_amount: '2000.00' } })).body.goal
  const put = await say('put $100 towards the solar fund')
  assertEquals(put.metadata.actions[0].tool, 'add_to_goal', JSON.stringify(put.metadata))
  assertMatch(put.content, /^Put 100\.00 towards Solar panels: 100\.00 of 2000\.00 saved \(5%\)\.$/)
  await say('take $30 out of the solar fund')
  assertEquals((await winsAs(user)(`goals/${goal.id}`)).body.goal.saved_amount, '70.00')
  const list = await say('how are my savings goals going?')
  assertMatch(list.content, /Solar panels: 70\.00 of 2000\.00/)
  const none = await say('put $50 towards the boat fund')
  assertMatch(none.content, /no savings goal like "boat"/)
  assertEquals((await winsAs(user)(`goals/${goal.id}`)).body.goal.saved_amount, '70.00', 'nothing moved')
})
