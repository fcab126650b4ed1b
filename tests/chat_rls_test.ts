// RLS on PAM's tables: conversations, messages (written once: no updates),
// feedback and memories are their owner's alone.
import { assert } from './_support/assert.ts'
import { asUser, checkRls, newAuthUser } from './_support/rls.ts'
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
