// RLS on PAM's tables: conversations, messages (written once: no updates),
// feedback and memories are their owner's alone; the model's token usage is
// nobody's to read or write.
import { assert, assertEquals } from './_support/assert.ts'
import { asAnon, asUser, checkNobodyReaches, checkRls, newAuthUser } from './_support/rls.ts'
import { adminSql } from './_support/stack.ts'
import { ApiError } from '../supabase/functions/_shared/errors.ts'

const conversationOf = async (owner: string) =>
  (await adminSql`insert into pam.conversations (user_id, title) values (${owner}, 'Trip chat') returning id`)[0].id as string
const messageOf = async (owner: string, conversation: string, role = 'assistant') =>
  (await adminSql`insert into pam.messages (user_id, conversation_id, role, content)
                  values (${owner}, ${conversation}, ${role}, 'hi') returning id`)[0].id as string

Deno.test('chat RLS: conversations', async () => {
  await checkRls({
    table: 'conversations',
    createOwned: conversationOf,
    insertValues: (userId) => ({ user_id: userId, title: 'New' }),
    updateValues: { title: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('chat RLS: memories', async () => {
  await checkRls({
    table: 'memories',
    createOwned: async (owner) =>
      (await adminSql`insert into pam.memories (user_id, content) values (${owner}, 'I drive a Jayco') returning id`)[0].id,
    insertValues: (userId) => ({ user_id: userId, content: 'We avoid toll roads', kind: 'preference' }),
    updateValues: { content: 'changed' },
    ownerMayDelete: true,
  })
})

Deno.test('chat RLS: message_feedback', async () => {
  let conversation = ''
  let message = ''
  await checkRls({
    table: 'message_feedback',
    idColumn: 'message_id',
    createOwned: async (owner) => {
      conversation = await conversationOf(owner)
      const m = await messageOf(owner, conversation)
      await adminSql`insert into pam.message_feedback (message_id, user_id, rating) values (${m}, ${owner}, 4)`
      message = await messageOf(owner, conversation)
      return m
    },
    insertValues: (userId) => ({ message_id: message, user_id: userId, rating: 5 }),
    updateValues: { rating: 1 },
    ownerMayDelete: true,
  })
})

Deno.test('chat RLS: messages are their owner\'s, and written once', async () => {
  const owner = await newAuthUser()
  const other = await newAuthUser()
  const conversation = await conversationOf(owner)
  const id = await messageOf(owner, conversation)
  const seen = async (who: string) => (await asUser(who).queryRaw(`select id from pam.messages where id = $1`, [id])).length
  assert((await seen(owner)) === 1 && (await seen(other)) === 0)
  const refused = async (p: Promise<unknown[]>) => {
    try {
      return (await p).length === 0
    } catch (err) {
      return err instanceof ApiError && err.status >= 400 && err.status < 500 // RLS (403) or the composite key (4xx)
    }
  }
  assert(await refused(asUser(owner).queryRaw(`update pam.messages set content = 'rewritten' where id = $1 returning id`, [id])), 'no edits, even by the owner')
  assert(await refused(asUser(other).queryRaw(`delete from pam.messages where id = $1 returning id`, [id])))
  assert(await refused(asUser(other).queryRaw(
    `insert into pam.messages (user_id, conversation_id, role, content) values ($1, $2, 'user', 'x') returning id`,
    [other, conversation],
  )), "another user cannot write into someone else's conversation")
  assert(!(await refused(asUser(owner).queryRaw(`delete from pam.messages where id = $1 returning id`, [id]))), 'the owner may delete')
})

Deno.test('chat RLS: model_usage is nobody\'s to read or write, not even its traveller\'s; only the pipeline\'s functions write it', async () => {
  const [owner, other] = [await newAuthUser(), await newAuthUser()]
  const [row] = await adminSql`insert into pam.model_usage (user_id, tokens) values (${owner}, 500) returning id`
  await checkNobodyReaches(owner, [
    `select * from pam.model_usage`,
    `update pam.model_usage set tokens = 0`,
    `delete from pam.model_usage`,
    `insert into pam.model_usage (user_id, tokens) values ('${owner}', 0)`,
  ])
  // A reservation is settled only by its own traveller (who is never told its id), and anon has none.
  await asUser(other).queryRaw(`select pam.model_usage_settle($1::uuid, 0)`, [row.id])
  try {
    await asAnon().queryRaw(`select pam.model_usage_reserve(1000, 0)`)
    assert(false, 'anon reserved')
  } catch (err) {
    assert(err instanceof ApiError && err.status === 403, `anon: ${err}`)
  }
  const rows = await adminSql`select user_id, tokens from pam.model_usage where user_id in (${owner}, ${other})`
  assertEquals(rows.map((r) => [r.user_id, r.tokens]), [[owner, 500]])
})
