// Reading receipts: a photo uploaded to `receipts` with supabase-js, read by
// the vision model (the local OpenAI stub of tests/_support/openai-stub.ts)
// into a draft that is not saved, then confirmed through POST /wins/expenses
// with its receipt_path; PAM's read_receipt tool through the same code; and
// reading off (no OPENAI_API_KEY), a model that fails or cannot read, and
// receipts that are not the caller's.
import { assert, assertEquals } from './_support/assert.ts'
import { adminSql, signUp, type TestUser } from './_support/stack.ts'
import { JPEG, PDF, upload } from './_support/storage.ts'
import { appAs, testConfig, userWith, winsAs } from './_support/wins.ts'
import { chatAppAt } from './_support/chat.ts'
import { startOpenAIStub } from './_support/openai-stub.ts'
import { createWinsApp } from '../supabase/functions/wins/index.ts'

const openai = startOpenAIStub()
const NOW = '2026-03-15T00:00:00Z'

const winsWith = (overrides: Record<string, string> = {}) =>
  appAs('wins', createWinsApp(testConfig({ OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url, ...overrides }), {
    now: () => new Date(NOW),
  }))
const read = (user: TestUser, receipt_path: string, overrides: Record<string, string> = {}) =>
  winsWith(overrides)(user)('receipts/read', { method: 'POST', body: { receipt_path } })

async function receipt(user: TestUser, body: Uint8Array = JPEG, type = 'image/jpeg'): Promise<string> {
  const name = `${user.id}/${crypto.randomUUID().slice(0, 8)}.${type === 'application/pdf' ? 'pdf' : 'jpg'}`
  const { error } = await upload(user.client, 'receipts', name, body, { contentType: type })
  if (error) throw error
  return name
}

const SHELL = { amount: '85.50', currency: 'AUD', merchant: 'Shell Roma', date: '2026-03-14', category: 'fuel', description: 'Diesel 38.9 L' }
type Part = { type: string; text?: string; image_url?: { url: string }; file?: { file_data: string } }

Deno.test('receipts: a photo read into a draft (not saved), then confirmed with POST /wins/expenses', async () => {
  const user = await userWith({ timezone: 'Australia/Brisbane', currency: 'AUD' })
  await winsAs(user)('categories', { method: 'POST', body: { slug: 'rig-parts', label: 'Rig parts' } })
  const path = await receipt(user)
  const before = openai.requests.length
  openai.queue({ text: JSON.stringify(SHELL) })
  const wins = winsWith()(user)
  const res = await wins('receipts/read', { method: 'POST', body: { receipt_path: path } })
  assertEquals(res.status, 200, JSON.stringify(res.body))
  assertEquals(res.body, { draft: { ...SHELL, receipt_path: path }, missing: [], model: 'gpt-4o-mini', cached: false })
  assertEquals((await adminSql`select count(*)::int as n from pam.expenses where user_id = ${user.id}`)[0].n, 0, 'a draft, not saved')

  // What the model was sent: the photo as a data URL, JSON asked for, the traveller's categories and today.
  const [sent] = openai.requests.slice(before) as unknown as {
    model: string
    response_format: unknown
    messages: { role: string; content: string | Part[] }[]
  }[]
  assertEquals(sent.model, 'gpt-4o-mini')
  assertEquals(sent.response_format, { type: 'json_object' })
  assert((sent.messages[0].content as string).includes('"rig-parts"'), 'the traveller\'s own categories')
  const parts = sent.messages[1].content as Part[]
  assert(parts[0].text!.includes('2026-03-15') && parts[0].text!.includes('AUD'), parts[0].text)
  const url = parts[1].image_url!.url
  assert(url.startsWith('data:image/jpeg;base64,'))
  assertEquals(Uint8Array.from(atob(url.split(',')[1]), (c) => c.charCodeAt(0)), JPEG)

  // Read again: the same file costs nothing.
  const again = await wins('receipts/read', { method: 'POST', body: { receipt_path: path } })
  assertEquals([again.status, again.body.cached, openai.requests.length - before], [200, true, 1])

  // The traveller confirms (perhaps correcting) through the usual route.
  const { receipt_path, ...fields } = res.body.draft
  const created = await winsAs(user)('expenses', { method: 'POST', body: { ...fields, amount: '85.00', receipt_path } })
  assertEquals(created.status, 201, JSON.stringify(created.body))
  assertEquals([created.body.expense.amount, created.body.expense.receipt_path, created.body.expense.merchant], ['85.00', path, 'Shell Roma'])
})

Deno.test('receipts: what the model could not read is null and named; garbage never reaches the draft', async () => {
  const user = await signUp()
  const path = await receipt(user, PDF, 'application/pdf')
  const before = openai.requests.length
  openai.queue({
    text: '```json\n' + JSON.stringify({
      amount: '-3', currency: 'dollars', merchant: 'Dump\u0000 point\ncafe', date: '2026-02-30', category: 'bribes', description: null,
    }) + '\n```',
  })
  const res = await read(user, path)
  assertEquals(res.status, 200, JSON.stringify(res.body))
  assertEquals(res.body.draft, { amount: null, currency: null, merchant: 'Dump point cafe', date: null, category: null, description: null, receipt_path: path })
  assertEquals(res.body.missing, ['amount', 'currency', 'date', 'category', 'description'])
  const parts = (openai.requests.at(-1) as unknown as { messages: { content: Part[] }[] }).messages[1].content
  assert(parts[1].file!.file_data.startsWith('data:application/pdf;base64,'), 'a PDF goes as a file part')
  assertEquals(openai.requests.length - before, 1)

  const nothing = await receipt(user)
  openai.queue({ text: JSON.stringify({ amount: null, currency: null, merchant: null, date: null, category: null, description: null }) })
  const unreadable = await read(user, nothing)
  assertEquals([unreadable.status, unreadable.body.error.code], [422, 'receipt_unreadable'])
})

Deno.test('receipts: only one\'s own receipt is read, and bad input is refused before the model is asked', async () => {
  const [user, other] = [await signUp(), await signUp()]
  const theirs = await receipt(other)
  const before = openai.requests.length
  for (const [path, status, code] of [
    [theirs, 400, 'unknown_receipt'],
    [`${user.id}/never-uploaded.jpg`, 400, 'unknown_receipt'],
    ['../etc/passwd', 400, 'validation_failed'],
    [`${user.id}/x.jpg\u0000`, 400, 'validation_failed'],
  ] as const) {
    const res = await read(user, path)
    assertEquals([res.status, res.body.error.code], [status, code], path)
  }
  const extra = await winsWith()(user)('receipts/read', { method: 'POST', body: { receipt_path: theirs, amount: '1.00' } })
  assertEquals(extra.status, 400)
  assertEquals(openai.requests.length, before, 'the model was never asked')
})

Deno.test('receipts: without OPENAI_API_KEY reading is off (503) and uploads still work; a failing model is a 503', async () => {
  const user = await signUp()
  const path = await receipt(user)
  // The shared stack runs without a key.
  const off = await winsAs(user)('receipts/read', { method: 'POST', body: { receipt_path: path } })
  assertEquals([off.status, off.body.error.code], [503, 'receipt_reading_off'])
  assert(off.body.error.message.includes('reading receipts is off'))
  const created = await winsAs(user)('expenses', { method: 'POST', body: { amount: '20.00', receipt_path: path } })
  assertEquals(created.status, 201, 'the receipt is kept and attached by hand')

  const other = await receipt(user)
  openai.queue({ status: 500 })
  const down = await read(user, other)
  assertEquals([down.status, down.body.error.code, down.body.error.details], [503, 'upstream_unavailable', { service: 'openai' }])
  openai.queue({ status: 429 })
  const busy = await read(user, other)
  assertEquals([busy.status, busy.headers.get('retry-after')], [503, '20'])
  openai.queue({ hang: true })
  const slow = await read(user, other, { PAM_CHAT_TIMEOUT_MS: '100' })
  assertEquals([slow.status, slow.body.error.code], [503, 'upstream_unavailable'])
  openai.queue({ text: 'Sure! The total is $12.' })
  const prose = await read(user, other)
  assertEquals([prose.status, prose.body.error.code], [503, 'upstream_unavailable'])
  openai.queue({ status: 400 })
  const refused = await read(user, other)
  assertEquals([refused.status, refused.body.error.code], [422, 'receipt_unreadable'])
})

Deno.test('receipts: PAM reads the latest receipt not on an expense yet, and records it when asked, through add_expense\'s code', async () => {
  const user = await userWith({ timezone: 'Australia/Brisbane', currency: 'AUD' })
  const attached = await receipt(user)
  await winsAs(user)('expenses', { method: 'POST', body: { amount: '5.00', receipt_path: attached } })
  const latest = await receipt(user)
  const pam = chatAppAt(NOW, { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url, PAM_CHAT_DAILY_TOKENS: '1000000' })(user)
  openai.queue(
    { tools: [{ name: 'read_receipt', arguments: '{}' }] },
    { text: JSON.stringify(SHELL) },
    { text: 'Your receipt from Shell Roma says $85.50 for fuel on 14 March. Shall I log it?' },
  )
  const proposed = await pam('messages', { method: 'POST', body: { message: "here's my receipt" } })
  assertEquals(proposed.status, 201, JSON.stringify(proposed.body))
  const action = proposed.body.message.metadata.actions[0]
  assertEquals([action.tool, action.ok, action.result.added, action.result.draft.receipt_path], ['read_receipt', true, false, latest])
  assertEquals((await adminSql`select count(*)::int as n from pam.expenses where user_id = ${user.id}`)[0].n, 1, 'only proposed')

  openai.queue(
    { tools: [{ name: 'read_receipt', arguments: JSON.stringify({ add: true }) }] },
    { text: 'Logged $85.50 for fuel.' },
  )
  const added = await pam('messages', { method: 'POST', body: { message: 'yes, add my receipt' } })
  const run = added.body.message.metadata.actions[0]
  assertEquals([run.tool, run.ok, run.result.added, run.result.cached], ['read_receipt', true, true, true])
  const [row] = await adminSql`select amount::text, category, merchant, date::text, receipt_path from pam.expenses
    where user_id = ${user.id} and receipt_path = ${latest}`
  assertEquals(row, { amount: '85.50', category: 'fuel', merchant: 'Shell Roma', date: '2026-03-14', receipt_path: latest })

  // Nothing left to read.
  openai.queue({ tools: [{ name: 'read_receipt', arguments: '{}' }] }, { text: 'Upload a photo of it first.' })
  const none = await pam('messages', { method: 'POST', body: { message: 'read my receipt' } })
  const failed = none.body.message.metadata.actions[0]
  assertEquals([failed.tool, failed.ok], ['read_receipt', false])
})
