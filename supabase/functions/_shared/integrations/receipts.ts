// Reading a receipt with a vision model: one call to the OpenAI-compatible
// chat completions API PAM's chat uses (OPENAI_API_KEY, OPENAI_BASE_URL;
// PAM_RECEIPT_MODEL, else OPENAI_MODEL), the photo as an image_url data URL
// (a PDF as a file part), a JSON answer checked field by field. What it could
// not read is null; nothing is stored here (the traveller confirms the draft
// with POST /wins/expenses). Without a key reading is off (503
// receipt_reading_off); a model that is slow, down or rate limiting is a 503
// upstream_unavailable; an image it cannot read is 422 receipt_unreadable.
import type { Config } from '../config.ts'
import { ApiError } from '../errors.ts'
import { z } from '../http.ts'
import { isCalendarDate, MAX_DATE, MIN_DATE } from '../dates.ts'
import { errorFields, log } from '../logger.ts'
import { upstreamUnavailable } from './upstream.ts'

/** The types a vision model takes (the receipts bucket allows these; HEIC is converted on the device). */
export const READABLE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/pdf'] as const

export interface ReceiptDraft {
  amount: string | null
  currency: string | null
  merchant: string | null
  date: string | null
  category: string | null
  description: string | null
}

export interface ReceiptReading {
  draft: ReceiptDraft
  /** The draft's fields the model could not read. */
  missing: (keyof ReceiptDraft)[]
  model: string
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null
}

export const readingOff = () =>
  new ApiError(
    503,
    'receipt_reading_off',
    'reading receipts is off on this server (no model is configured): the receipt is kept, enter the expense yourself',
  )

/** The model's text as one line PAM stores: no control characters, no lone surrogates, at most `max` characters. */
const clean = (s: unknown, max: number) =>
  typeof s === 'string'
    ? [...s.toWellFormed().replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').replace(/\s+/g, ' ').trim()].slice(0, max).join('') || null
    : null

const Answer = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullish() }).loose() }).loose()).min(1),
  usage: z.object({
    prompt_tokens: z.number().int().min(0).default(0),
    completion_tokens: z.number().int().min(0).default(0),
    total_tokens: z.number().int().min(0).default(0),
  }).loose().nullish(),
}).loose()

/** The model's fields, each kept only when it is what the expense takes. */
function draftOf(raw: Record<string, unknown>, categories: readonly string[]): ReceiptDraft {
  const currency = clean(raw.currency, 20)
  const date = clean(raw.date, 20)
  const category = clean(raw.category, 40)?.toLowerCase() ?? null
  return {
    amount: amountOf(raw.amount),
    currency: currency && /^[A-Za-z]{3}$/.test(currency) ? currency.toUpperCase() : null,
    merchant: clean(raw.merchant, 200),
    date: date && isCalendarDate(date) && date >= MIN_DATE && date <= MAX_DATE ? date : null,
    category: category && categories.includes(category) ? category : null,
    description: clean(raw.description, 500),
  }
}

/** A positive amount as the expense takes it ("85.50"): a number, or text such as "$1,234.5"; else null. */
function amountOf(value: unknown): string | null {
  const text = typeof value === 'number' ? String(value) : clean(value, 30)
  const m = text && /^(?:[A-Za-z]{3}\s*)?[$€£¥]?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?$/.exec(text)
  if (!m) return null
  const n = Number(`${m[1].replaceAll(',', '')}${m[2] ?? ''}`)
  return n > 0 && n <= 1_000_000 ? n.toFixed(2) : null
}

/** Reads one receipt; `hints` set the answer's frame (the traveller's categories, home currency and today). */
export async function readReceipt(
  config: Config,
  file: { bytes: Uint8Array; contentType: string },
  hints: { categories: readonly string[]; currency: string; today: string },
  signal?: AbortSignal,
): Promise<ReceiptReading> {
  const { apiKey, baseUrl } = config.openai
  if (!apiKey) throw readingOff()
  const model = config.receiptModel
  const type = file.contentType.split(';')[0].trim().toLowerCase()
  const data = `data:${type};base64,${base64(file.bytes)}`
  const part = type === 'application/pdf'
    ? { type: 'file', file: { filename: 'receipt.pdf', file_data: data } }
    : { type: 'image_url', image_url: { url: data, detail: 'high' } }
  const body = {
    model,
    temperature: 0,
    max_tokens: 300,
    response_format: { type: 'json_object' },
    messages: [
      {
        role: 'system',
        content: 'You read shop receipts and invoices for a travel money app. Answer with one JSON object and nothing else: ' +
          '{"amount": the total paid as a decimal string such as "45.50", "currency": the ISO 4217 code, ' +
          '"merchant": the business name, "date": the purchase date as YYYY-MM-DD, ' +
          `"category": one of ${JSON.stringify(hints.categories)}, "description": a few words on what was bought}. ` +
          'Use null for anything you cannot read. If the image is not a receipt, answer every field null.',
      },
      {
        role: 'user',
        content: [
          {
            type: 'text',
            text: `Today is ${hints.today}; the traveller's home currency is ${hints.currency}. Read this receipt.`,
          },
          part,
        ],
      },
    ],
  }
  const timeout = AbortSignal.timeout(config.openai.timeoutMs * 2)
  let res: Response
  let text: string
  try {
    res = await fetch(`${baseUrl.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    })
    text = await res.text()
  } catch (err) {
    if (signal?.aborted) throw signal.reason
    log('warn', 'receipt reading failed', { service: 'openai', ...errorFields(err) })
    throw upstreamUnavailable('openai', { why: timeout.aborted ? 'it did not answer in time' : undefined })
  }
  if (res.status === 429) {
    throw upstreamUnavailable('openai', { why: 'it is busy', retryAfterS: Number(res.headers.get('retry-after')) || 20 })
  }
  if (res.status === 400 || res.status === 413 || res.status === 422) {
    // The model refused this file (too large, unreadable): nothing a retry changes.
    log('warn', 'the model refused a receipt', { service: 'openai', status: res.status })
    throw unreadable()
  }
  if (!res.ok) {
    log('error', 'receipt reading failed', { service: 'openai', status: res.status })
    throw upstreamUnavailable('openai')
  }
  const answer = Answer.safeParse(parseJson(text))
  const content = answer.success ? answer.data.choices[0].message.content ?? '' : ''
  const raw = parseJson(content.replace(/^```(?:json)?\s*|\s*```$/g, ''))
  if (!answer.success || !raw || typeof raw !== 'object' || Array.isArray(raw)) {
    log('warn', 'receipt reading: an answer that is not the JSON asked for', { service: 'openai' })
    throw upstreamUnavailable('openai', { why: 'its answer was not understood' })
  }
  const draft = draftOf(raw as Record<string, unknown>, hints.categories)
  const missing = (Object.keys(draft) as (keyof ReceiptDraft)[]).filter((k) => draft[k] === null)
  if (missing.length === Object.keys(draft).length) throw unreadable()
  const u = answer.data.usage
  return {
    draft,
    missing,
    model,
    usage: u ? { ...u, total_tokens: u.total_tokens || u.prompt_tokens + u.completion_tokens } : null,
  }
}

const unreadable = () =>
  new ApiError(422, 'receipt_unreadable', 'nothing could be read from this file: is it a photo of a receipt? Enter the expense yourself')

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function base64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}
