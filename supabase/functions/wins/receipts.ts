// POST /wins/receipts/read: a receipt photo (or PDF) the traveller uploaded
// to the `receipts` bucket, read by a vision model into a draft expense —
// amount, currency, merchant, date, category, a few words — that is not
// saved: the traveller checks it and records it with POST /wins/expenses
// (the same path as any expense), sending `receipt_path` along. PAM's
// read_receipt tool reads through the same code. The object is fetched with
// the caller's own token, so the storage policies decide whose receipt may be
// read; a draft is kept in the cache by the object's ETag for a day, so
// reading it again costs no tokens.
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError } from '../_shared/errors.ts'
import { CACHE_POLICIES } from '../_shared/cache.ts'
import { sha256Hex } from '../_shared/integrations/upstream.ts'
import { READABLE_TYPES, readingOff, readReceipt, type ReceiptReading } from '../_shared/integrations/receipts.ts'
import { ObjectPath, readObject } from '../_shared/storage.ts'
import { BUILTIN_SLUGS } from './categories.ts'
import { body, errorOf, invalidReference, json, moneyContext, type WinsOptions } from './common.ts'

/** The largest receipt read (the receipts bucket's own limit). */
export const MAX_RECEIPT_BYTES = 10 * 1024 * 1024

export const ReceiptPath = ObjectPath('receipts', '00000000-0000-4000-8000-000000000001/2026-03-14-shell-roma.jpg')

const Draft = z.object({
  amount: z.string().nullable().openapi({ example: '45.50' }),
  currency: z.string().nullable().openapi({ example: 'AUD' }),
  merchant: z.string().nullable(),
  date: z.string().nullable().openapi({ format: 'date' }),
  category: z.string().nullable().openapi({ description: 'one of your categories, when the model could tell' }),
  description: z.string().nullable(),
  receipt_path: z.string(),
}).openapi('ReceiptDraft')

const Reading = z.object({
  draft: Draft.openapi({ description: 'not saved: check it, then POST /wins/expenses with these fields and receipt_path' }),
  missing: z.array(z.string()).openapi({ description: 'the fields the model could not read (null in the draft)' }),
  model: z.string(),
  cached: z.boolean().openapi({ description: 'read before (the same file): no tokens spent' }),
}).openapi('ReceiptReading')

export type ReceiptReadingOut = z.infer<typeof Reading>

const unknownReceipt = () => invalidReference('receipt_path', 'no such receipt of yours: upload it to the receipts bucket first')

/** Reads the caller's receipt at `path` (the route and PAM's read_receipt tool). */
export async function readReceiptOf(c: AppContext, path: string, now: Date): Promise<ReceiptReadingOut> {
  const config = c.var.config
  if (!config.openai.apiKey) throw readingOff()
  const file = await readObject(config, c.req.header('authorization') ?? '', 'receipts', path, MAX_RECEIPT_BYTES)
  if (!file) throw unknownReceipt()
  const type = file.contentType.split(';')[0].trim().toLowerCase()
  if (!(READABLE_TYPES as readonly string[]).includes(type)) {
    throw new ApiError(415, 'unsupported_media_type', `a receipt is read from ${READABLE_TYPES.join(', ')}, not ${type}`, {
      accepted: READABLE_TYPES,
    })
  }
  const key = CACHE_POLICIES.receipt_drafts.key(c.var.userId!, await sha256Hex(`${path}\n${file.eTag ?? file.bytes.length}`))
  const cached = await c.var.cache.get<ReceiptReading>(key)
  if (cached.status === 'hit' && cached.value) return shaped(cached.value, path, true)
  const [hints] = await c.var.postgres.transaction(async (tx) => {
    const ctx = await moneyContext(tx, now)
    const own = await tx`select slug from pam.expense_categories where user_id = (select auth.uid()) order by slug`
    return [{ categories: [...BUILTIN_SLUGS, ...own.map((r) => r.slug as string)], currency: ctx.currency, today: ctx.today }]
  })
  const reading = await readReceipt(config, file, hints, c.req.raw.signal)
  if (cached.status !== 'bypass') await c.var.cache.set(key, reading, CACHE_POLICIES.receipt_drafts.ttl)
  return shaped(reading, path, false)
}

const shaped = (r: ReceiptReading, path: string, cached: boolean): ReceiptReadingOut => ({
  draft: { ...r.draft, receipt_path: path },
  missing: r.missing,
  model: r.model,
  cached,
})

export function registerReceiptRoutes(app: App, opts: WinsOptions) {
  app.openapi(
    route({
      method: 'post',
      path: '/receipts/read',
      auth: 'user',
      // A model call: the AI tier, as chat.
      rateLimit: 'chat',
      tags: ['wins: expenses'],
      summary: 'Read an uploaded receipt into a draft expense (not saved; confirm it with POST /wins/expenses)',
      description: 'Upload the photo first: `supabase.storage.from(\'receipts\').upload(`${user.id}/${name}`, file)` (JPEG, PNG, ' +
        'WebP or PDF, up to 10 MB). Needs OPENAI_API_KEY on the server: without it the answer is 503 receipt_reading_off ' +
        '(the upload is kept; enter the expense yourself).',
      request: body(z.object({ receipt_path: ReceiptPath }).strict().openapi('ReceiptRead')),
      responses: {
        200: { description: 'What could be read', ...json(Reading) },
        413: errorOf('payload_too_large: the file is over 10 MB'),
        415: errorOf('unsupported_media_type: not an image or PDF the model reads'),
        422: errorOf('receipt_unreadable: nothing could be read; idempotency_key_reused'),
      },
    }),
    async (c) => {
      const { receipt_path } = c.req.valid('json')
      return c.json(await readReceiptOf(c as unknown as AppContext, receipt_path, opts.now()), 200)
    },
  )
}
