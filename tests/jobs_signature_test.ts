// Only QStash may call the jobs: the signature (local/qstash-signing.ts, the
// project's one signing implementation) checked by @upstash/qstash's
// Receiver, both ways. Every forgery is 401 and changes nothing.
import { Receiver } from '@upstash/qstash'
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, stack } from './_support/stack.ts'
import { batchOf, callJob, jobUrl, usersInOwnRange } from './_support/jobs.ts'
import { signQStash } from '../scripts/local/qstash-signing.ts'

const keys = stack.qstash.keys

Deno.test("jobs signature: the SDK's Receiver accepts what the local signer makes, and nothing altered", async () => {
  const receiver = new Receiver({ currentSigningKey: keys.currentSigningKey, nextSigningKey: keys.nextSigningKey, devMode: false })
  const url = jobUrl('cleanup')
  const body = '{"at":"2030-01-01T00:00:00Z"}'
  assertEquals(await receiver.verify({ signature: await signQStash({ key: keys.currentSigningKey, url, body }), body, url }), true)
  assertEquals(await receiver.verify({ signature: await signQStash({ key: keys.nextSigningKey, url, body }), body, url }), true)
  const rejects = async (signature: string, b = body, u = url) => {
    try {
      await receiver.verify({ signature, body: b, url: u })
    } catch {
      return true
    }
    return false
  }
  assert(await rejects(await signQStash({ key: 'sig_not_the_key', url, body })), 'wrong key')
  assert(await rejects(await signQStash({ key: keys.currentSigningKey, url, body }), body + ' '), 'body changed')
  assert(await rejects(await signQStash({ key: keys.currentSigningKey, url, body }), body, jobUrl('budget-alerts')), 'another destination')
  const longAgo = Math.floor(Date.now() / 1000) - 3600
  assert(await rejects(await signQStash({ key: keys.currentSigningKey, url, body, now: longAgo })), 'expired')
})

Deno.test('jobs signature: unsigned, wrongly signed, expired, tampered or misdirected calls get 401 and do nothing', async () => {
  const users = await usersInOwnRange(1)
  const [id] = users.ids
  await adminSql`insert into pam.budgets (user_id, category, period, amount, start_date) values (${id}, 'food', 'monthly', 10, '2031-01-01')`
  await adminSql`insert into pam.expenses (user_id, category, amount, currency, date) values (${id}, 'food', 10, 'AUD', '2031-08-02')`
  const message = batchOf(users, '2031-08-03T09:00:00Z')
  const text = JSON.stringify(message)
  const nothingHappened = async (what: string) => {
    const runs = await adminSql`select 1 from pam.job_runs where job = 'budget-alerts' and batch = ${String(message.batch.index)}`
    const sent = await adminSql`select 1 from pam.notifications where user_id = ${id}`
    assertEquals([runs.length, sent.length], [0, 0], `${what}: nothing done`)
  }
  const forgeries: [string, Parameters<typeof callJob>[2], unknown?][] = [
    ['unsigned', { key: null }],
    ['signed with another key', { key: 'sig_4VgNWSyFTpPBXf8pPsQfyKyXSQ7B' }],
    ['expired', { now: Math.floor(Date.now() / 1000) - 600 }],
    ['body tampered', { signedBody: JSON.stringify({ ...message, at: '2031-08-04T09:00:00Z' }) }],
    ['for another job', { url: jobUrl('cleanup') }],
    ['for another host', { url: jobUrl('budget-alerts').replace('127.0.0.1', 'localhost') }],
  ]
  for (const [what, how] of forgeries) {
    const res = await callJob('budget-alerts', text, how)
    assertEquals(res.status, 401, `${what}: ${JSON.stringify(res.body)}`)
    assertEquals(res.body.error.code, 'invalid_signature', what)
    await nothingHappened(what)
  }
  const garbage = await fetch(jobUrl('budget-alerts'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'upstash-signature': 'not.a.jwt' },
    body: text,
  })
  assertEquals(garbage.status, 401)
  await garbage.body?.cancel()
  await nothingHappened('garbage signature')

  // The next signing key is accepted too (QStash rolls its keys).
  const signed = await callJob('budget-alerts', text, { key: keys.nextSigningKey })
  assertEquals([signed.status, signed.body.status, signed.body.notifications], [200, 'done', 1], JSON.stringify(signed.body))
})

Deno.test('jobs: a signed message that is not one a job takes is 400; unknown jobs are 404', async () => {
  const bad = await callJob('daily-analytics', { batch: { index: -1, from: null, to: null } })
  assertEquals([bad.status, bad.body.error.code], [400, 'validation_failed'])
  const notJson = await callJob('daily-analytics', '{not json')
  assertEquals([notJson.status, notJson.body.error.code], [400, 'invalid_body'])
  const unknown = await fetch(`${stack.url}/functions/v1/jobs/nightly-nothing`, { method: 'POST' })
  assertEquals(unknown.status, 404)
  await unknown.body?.cancel()
})
