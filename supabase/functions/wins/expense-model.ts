// An expense: its input and output shapes, its SQL columns, and the steps
// every new expense goes through before it is stored — category and hustle
// checks and category classification — done in bulk, so one expense and a
// 5,000-row import share the same path.
import type { Tx } from '../_shared/db.ts'
import { z } from '../_shared/http.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { CategorySlug, isBuiltinCategory } from './categories.ts'
import { classify, type Classification, compileKeptRules, type KeptRules } from './classify.ts'
import { Currency, isoSql, type MoneyContext, Uuid } from './common.ts'
import { ClientId } from '../_shared/resource.ts'
import { money } from './money.ts'
import { calendarDate } from './periods.ts'
import { ObjectPath, ownObjects } from '../_shared/storage.ts'

export const PAYMENT_METHODS = ['cash', 'card', 'bank_transfer', 'digital_wallet', 'other'] as const
export const FUEL_TYPES = ['diesel', 'unleaded', 'premium', 'e10', 'lpg', 'electric', 'other'] as const

/** A positive decimal string that fits numeric(intDigits + fracDigits, fracDigits). */
const decimal = (intDigits: number, fracDigits: number, example: string) =>
  z.string()
    .regex(new RegExp(`^\\d{1,${intDigits}}(\\.\\d{1,${fracDigits}})?$`), `a decimal string such as "${example}"`)
    .refine((s) => Number(s) > 0, 'must be greater than 0')
    .openapi({ example })

const MAX_TAGS = 20
const Tag = singleLineText({ max: 40 }).regex(/^[^;]*$/, 'must not contain ";" (it separates tags in CSV)')
// At most MAX_TAGS items are looked at one by one: a huge array is one error, not one per item.
const Tags = z.array(z.unknown()).max(MAX_TAGS).pipe(z.array(Tag))
  .openapi({ type: 'array', items: { type: 'string', minLength: 1, maxLength: 40 }, maxItems: MAX_TAGS })

/** http(s) URLs, as the table's check (`^https?://`) wants them: the scheme is
 * accepted in any case and stored in lower case ("HTTPS://x" → "https://x"). */
const ReceiptUrl = singleLineText({ max: 2048 })
  .refine((s) => /^https?:\/\//i.test(s) && URL.canParse(s), 'an http(s) URL such as "https://example.com/receipt.jpg"')
  .overwrite((s) => s.replace(/^https?/i, (scheme) => scheme.toLowerCase()))
  .openapi({ format: 'uri', example: 'https://example.com/receipt.jpg' })

const fields = {
  amount: money(),
  currency: Currency.optional().openapi({ description: "default: the profile's currency, else AUD" }),
  category: CategorySlug.optional().openapi({ description: 'a fixed or own category; inferred when absent' }),
  description: multiLineText({ min: 0, max: 500 }).optional(),
  merchant: singleLineText({ max: 200 }).nullable().optional(),
  date: calendarDate().optional().openapi({ description: "the local calendar day; default: today in the profile's time zone" }),
  location: singleLineText({ max: 200 }).nullable().optional(),
  latitude: z.number().min(-90).max(90).nullable().optional(),
  longitude: z.number().min(-180).max(180).nullable().optional(),
  payment_method: z.enum(PAYMENT_METHODS).nullable().optional(),
  tags: Tags.optional(),
  receipt_url: ReceiptUrl.nullable().optional(),
  receipt_path: ObjectPath('receipts', '00000000-0000-4000-8000-000000000001/2026-03-14-shell-roma.jpg').nullable().optional(),
  vehicle_id: Uuid.nullable().optional(),
  trip_id: Uuid.nullable().optional(),
  hustle_id: Uuid.nullable().optional(),
  fuel_type: z.enum(FUEL_TYPES).nullable().optional(),
  fuel_volume: decimal(6, 2, '62.40').nullable().optional(),
  fuel_price_per_unit: decimal(5, 3, '1.989').nullable().optional(),
  odometer: z.number().int().min(0).max(10_000_000).nullable().optional()
    .openapi({ description: "the vehicle's odometer, in its unit; readings must follow the calendar (409 otherwise)" }),
  fuel_full_tank: z.boolean().nullable().optional()
    .openapi({ description: 'a fill-up that filled the tank (default true when fuel_volume is given)' }),
}

const bothOrNeither = (v: { latitude?: number | null; longitude?: number | null }) =>
  ('latitude' in v) === ('longitude' in v) && (v.latitude == null) === (v.longitude == null)
const latLng = { message: 'latitude and longitude go together', path: ['latitude'] }

export const ExpenseCreate = z.object({ id: ClientId, ...fields }).strict().refine(bothOrNeither, latLng).openapi('ExpenseCreate')
export type ExpenseCreate = z.infer<typeof ExpenseCreate>

export const ExpensePatch = z.object(fields).partial().strict()
  .refine(bothOrNeither, latLng)
  .refine((v) => Object.keys(v).length > 0, 'nothing to update')
  .openapi('ExpensePatch')

export const Expense = z.object({
  id: z.string(),
  amount: z.string().openapi({ example: '45.20' }),
  currency: z.string(),
  category: z.string(),
  category_source: z.enum(['user', 'learned', 'rule', 'default']),
  description: z.string(),
  merchant: z.string().nullable(),
  date: z.string(),
  location: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  payment_method: z.string().nullable(),
  tags: z.array(z.string()),
  receipt_url: z.string().nullable(),
  receipt_path: z.string().nullable().openapi({
    description: "the receipt's object name in the `receipts` bucket: `supabase.storage.from('receipts').download(receipt_path)` " +
      'or `.createSignedUrl(receipt_path, 60)`',
  }),
  vehicle_id: z.string().nullable(),
  trip_id: z.string().nullable(),
  hustle_id: z.string().nullable(),
  fuel_type: z.string().nullable(),
  fuel_volume: z.string().nullable(),
  fuel_price_per_unit: z.string().nullable(),
  odometer: z.number().nullable(),
  fuel_full_tank: z.boolean().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('Expense')
export type Expense = z.infer<typeof Expense>

/** The select list that gives an Expense (e = pam.expenses). */
export const EXPENSE_COLUMNS = `e.id, e.amount::text as amount, e.currency::text as currency, e.category,
  e.category_source, e.description, e.merchant, e.date::text as date, e.location, e.latitude, e.longitude,
  e.payment_method, e.tags, e.receipt_url, e.receipt_path, e.vehicle_id, e.trip_id, e.hustle_id, e.fuel_type,
  e.fuel_volume::text as fuel_volume, e.fuel_price_per_unit::text as fuel_price_per_unit, e.odometer, e.fuel_full_tank,
  ${isoSql('e.created_at')} as created_at, ${isoSql('e.updated_at')} as updated_at`

/** A row ready for insert: every column given (no reliance on defaults). */
export interface ExpenseRow {
  /** A client-generated id, or null for a new one. */
  id: string | null
  amount: string
  currency: string
  category: string
  category_source: string
  description: string
  merchant: string | null
  date: string
  location: string | null
  latitude: number | null
  longitude: number | null
  payment_method: string | null
  tags: string[]
  receipt_url: string | null
  receipt_path: string | null
  vehicle_id: string | null
  trip_id: string | null
  hustle_id: string | null
  fuel_type: string | null
  fuel_volume: string | null
  fuel_price_per_unit: string | null
  odometer: number | null
  fuel_full_tank: boolean | null
}

export interface Prepared {
  rows: ExpenseRow[]
  classifications: (Classification | null)[]
  /** Problems per input index (unknown category, hustle, vehicle or trip). */
  errors: { index: number; field: ReferenceField; message: string }[]
}

export type ReferenceField = 'category' | 'hustle_id' | 'vehicle_id' | 'trip_id' | 'receipt_path'

/** The caller's own ids among `ids`, in `table`. */
async function ownIds(tx: Tx, table: string, ids: (string | null | undefined)[]): Promise<Set<string>> {
  const wanted = [...new Set(ids.filter((id): id is string => !!id))]
  if (!wanted.length) return new Set()
  const rows = await tx.unsafe(`select id from ${table} where id = any($1::uuid[])`, [wanted] as never[])
  return new Set(rows.map((r) => r.id as string))
}

/** Checks references, classifies what has no category (learned choices, then the rules admins keep and the built-in ones), fills defaults. Two to five queries for any number of inputs. */
export async function prepareExpenses(tx: Tx, ctx: MoneyContext, inputs: ExpenseCreate[]): Promise<Prepared> {
  const errors: Prepared['errors'] = []
  const ownWanted = [...new Set(inputs.map((i) => i.category).filter((c): c is string => !!c && !isBuiltinCategory(c)))]
  const own = new Set<string>()
  if (ownWanted.length) {
    for (const r of await tx`select slug from pam.expense_categories where slug = any(${ownWanted}::text[])`) own.add(r.slug)
  }
  const hustles = await ownIds(tx, 'pam.hustles', inputs.map((i) => i.hustle_id))
  const vehicles = await ownIds(tx, 'pam.vehicles', inputs.map((i) => i.vehicle_id))
  const trips = await ownIds(tx, 'pam.trips', inputs.map((i) => i.trip_id))
  const receipts = await ownObjects(tx, 'receipts', inputs.map((i) => i.receipt_path))
  // Learned categories: the user's own latest choice for the same merchant key.
  const unclassified = inputs.map((inp, index) => ({ inp, index })).filter(({ inp }) => !inp.category)
  const learned = new Map<number, { category: string; key: string }>()
  let kept: KeptRules | undefined
  if (unclassified.length) {
    const rows = await tx`
      select k.i::int as index, k.key, l.category
      from (
        select t.i, pam.wins_match_key(t.m, t.d) as key
        from unnest(${unclassified.map((u) => u.inp.merchant ?? null)}::text[],
                    ${unclassified.map((u) => u.inp.description ?? '')}::text[],
                    ${unclassified.map((u) => u.index)}::int[]) as t(m, d, i)
        -- A fence: flattened into the lateral join, the key's function would be a filter on
        -- expenses that RLS cannot push down (not leakproof), and the match_key index unused.
        offset 0
      ) k
      cross join lateral (
        select e.category from pam.expenses e
        where e.user_id = (select auth.uid()) and e.match_key = k.key and e.category_source = 'user'
        order by e.created_at desc limit 1
      ) l
      where k.key is not null`
    for (const r of rows) learned.set(r.index, { category: r.category, key: r.key })
    kept = compileKeptRules(await tx`select kind, pattern, category from pam.expense_rules order by created_at, id`)
  }

  const classifications: (Classification | null)[] = []
  const rows = inputs.map((inp, index): ExpenseRow => {
    if (inp.category && !isBuiltinCategory(inp.category) && !own.has(inp.category)) {
      errors.push({ index, field: 'category', message: `unknown category "${inp.category}"` })
    }
    if (inp.hustle_id && !hustles.has(inp.hustle_id)) {
      errors.push({ index, field: 'hustle_id', message: 'not one of your hustles' })
    }
    if (inp.vehicle_id && !vehicles.has(inp.vehicle_id)) {
      errors.push({ index, field: 'vehicle_id', message: 'not one of your vehicles' })
    }
    if (inp.trip_id && !trips.has(inp.trip_id)) errors.push({ index, field: 'trip_id', message: 'not one of your trips' })
    if (inp.receipt_path && !receipts.has(inp.receipt_path)) {
      errors.push({ index, field: 'receipt_path', message: 'no such receipt of yours: upload it to the receipts bucket first' })
    }
    const cls = inp.category ? null : classify(inp.merchant, inp.description, learned.get(index) ?? null, kept)
    classifications.push(cls)
    return {
      id: inp.id ?? null,
      amount: inp.amount,
      currency: inp.currency ?? ctx.currency,
      category: inp.category ?? cls!.category,
      category_source: inp.category ? 'user' : cls!.source,
      description: inp.description ?? '',
      merchant: inp.merchant ?? null,
      date: inp.date ?? ctx.today,
      location: inp.location ?? null,
      latitude: inp.latitude ?? null,
      longitude: inp.longitude ?? null,
      payment_method: inp.payment_method ?? null,
      tags: inp.tags ?? [],
      receipt_url: inp.receipt_url ?? null,
      receipt_path: inp.receipt_path ?? null,
      vehicle_id: inp.vehicle_id ?? null,
      trip_id: inp.trip_id ?? null,
      hustle_id: inp.hustle_id ?? null,
      fuel_type: inp.fuel_type ?? null,
      fuel_volume: inp.fuel_volume ?? null,
      fuel_price_per_unit: inp.fuel_price_per_unit ?? null,
      odometer: inp.odometer ?? null,
      fuel_full_tank: inp.fuel_full_tank ?? (inp.fuel_volume ? true : null),
    }
  })
  return { rows, classifications, errors }
}

const RECORD_TYPE = `id uuid, amount numeric, currency text, category text, category_source text, description text,
  merchant text, date date, location text, latitude double precision, longitude double precision,
  payment_method text, tags text[], receipt_url text, receipt_path text, vehicle_id uuid, trip_id uuid, hustle_id uuid,
  fuel_type text, fuel_volume numeric, fuel_price_per_unit numeric, odometer integer, fuel_full_tank boolean`
const RECORD_COLUMNS = RECORD_TYPE.split(',').map((c) => c.trim().split(' ')[0]).join(', ')

/** Inserts prepared rows in one statement (one parameter, whatever the count). A row whose
 * client-generated id exists already is not inserted (and not returned). */
export async function insertExpenses(tx: Tx, rows: ExpenseRow[]): Promise<Expense[]> {
  return await tx.unsafe<Expense[]>(
    `with inserted as (
       insert into pam.expenses (${RECORD_COLUMNS})
       select coalesce(id, gen_random_uuid()), ${RECORD_COLUMNS.replace('id, ', '')}
       from jsonb_to_recordset($1::jsonb -> 'rows') as r(${RECORD_TYPE})
       on conflict (id) do nothing
       returning *
     )
     select ${EXPENSE_COLUMNS} from inserted e`,
    // An object (not an array, which postgres.js would send as a Postgres array); serialized for the jsonb cast.
    [{ rows }] as never[],
  )
}
