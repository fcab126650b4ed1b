// The campsite directory Wheels' camping search reads: create, edit, retire
// (a retired site leaves travellers' search and lookups at once: the
// campsites policy shows only current sites), and bulk import from CSV, all
// rows or none, as Wins' expense import (its parser, limits and error list).
import type { App, AppContext } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { body, errorOf, IdParams, isoSql, json, likePattern } from '../_shared/resource.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { AMENITIES, CAMPSITE_TYPES } from '../wheels/camping.ts'
import { CsvError, parseCsv, unguardFormula } from '../wins/csv.ts'
import { IMPORT_MAX_COLUMNS, IMPORT_MAX_ROWS } from '../wins/expense-csv.ts'
import { adminRoute, asAdmin } from './gate.ts'

const TAGS = ['admin: reference data']
const MAX_ROW_ERRORS = 100

const Fields = {
  name: singleLineText({ min: 1, max: 200 }),
  type: z.enum(CAMPSITE_TYPES),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  region: singleLineText({ min: 1, max: 100 }).nullable(),
  description: multiLineText({ min: 0, max: 4000 }),
  amenities: z.array(z.enum(AMENITIES)).max(AMENITIES.length),
  rv_friendly: z.boolean(),
  max_rig_length_m: z.number().gt(0).max(999.9).nullable(),
  price_per_night: z.number().min(0).max(999_999.99),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as AUD'),
  booking: singleLineText({ min: 1, max: 500 }).nullable(),
}
const REQUIRED = ['name', 'type', 'latitude', 'longitude'] as const
const COLUMNS = Object.keys(Fields) as (keyof typeof Fields)[]

const CampsiteCreate = z.object({
  ...Fields,
  region: Fields.region.optional(),
  description: Fields.description.optional(),
  amenities: Fields.amenities.optional(),
  rv_friendly: Fields.rv_friendly.optional(),
  max_rig_length_m: Fields.max_rig_length_m.optional(),
  price_per_night: Fields.price_per_night.optional(),
  currency: Fields.currency.optional(),
  booking: Fields.booking.optional(),
}).strict().openapi('AdminCampsiteCreate')

const CampsitePatch = z.object({ ...Fields, retired: z.boolean().openapi({ description: 'true retires the site, false restores it' }) })
  .partial().strict().refine((v) => Object.keys(v).length > 0, 'nothing to update').openapi('AdminCampsitePatch')

const AdminCampsite = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  latitude: z.number(),
  longitude: z.number(),
  region: z.string().nullable(),
  description: z.string(),
  amenities: z.array(z.string()),
  rv_friendly: z.boolean(),
  max_rig_length_m: z.number().nullable(),
  price_per_night: z.string(),
  currency: z.string(),
  booking: z.string().nullable(),
  retired_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('AdminCampsite')
type AdminCampsite = z.infer<typeof AdminCampsite>

const SELECT = `c.id, c.name, c.type, c.latitude, c.longitude, c.region, c.description, c.amenities, c.rv_friendly,
  c.max_rig_length_m::float8 as max_rig_length_m, c.price_per_night::text as price_per_night, c.currency::text as currency,
  c.booking, ${isoSql('c.retired_at')} as retired_at, ${isoSql('c.created_at')} as created_at, ${isoSql('c.updated_at')} as updated_at`

/** The record type jsonb_to_record reads new sites with. */
const RECORD = `name text, type text, latitude float8, longitude float8, region text, description text, amenities text[],
  rv_friendly boolean, max_rig_length_m numeric, price_per_night numeric, currency text, booking text`

async function campsiteOf(tx: Tx, id: string): Promise<AdminCampsite> {
  const [row] = await tx.unsafe(`select ${SELECT} from pam.campsites c where c.id = $1::uuid`, [id])
  if (!row) throw notFound('campsite')
  return row as unknown as AdminCampsite
}

/** A site's fields as jsonb_to_record reads them: amenities (enum values) as an array literal. */
const asRecord = (site: Record<string, unknown>) =>
  Array.isArray(site.amenities) ? { ...site, amenities: `{${site.amenities.join(',')}}` } : site

/** Inserts sites (absent fields take the table's defaults); their ids in input order. */
async function insertCampsites(tx: Tx, sites: Record<string, unknown>[]): Promise<string[]> {
  const rows = await tx.unsafe(
    `insert into pam.campsites (name, type, latitude, longitude, region, description, amenities, rv_friendly,
       max_rig_length_m, price_per_night, currency, booking)
     select x.name, x.type, x.latitude, x.longitude, x.region, coalesce(x.description, ''), coalesce(x.amenities, '{}'),
       coalesce(x.rv_friendly, true), x.max_rig_length_m, coalesce(x.price_per_night, 0), coalesce(x.currency, 'AUD'), x.booking
     from jsonb_array_elements($1::jsonb) with ordinality as e (site, n)
     cross join lateral jsonb_to_record(e.site) as x (${RECORD})
     order by e.n
     returning id`,
    [sites.map(asRecord)] as never[],
  )
  return rows.map((r) => r.id as string)
}

// --- CSV ---

const CsvText = z.string().openapi({
  example: 'name,type,latitude,longitude,amenities,price_per_night\r\n' +
    'Fixture Creek Rest Area,rest_area,-25.5,148.2,toilets;drinking_water,0\r\n',
})
const ImportError = z.object({ line: z.number(), column: z.string().nullable(), message: z.string() })
const IMPORT_TYPES = ['text/csv', 'text/plain']
const NUMERIC = new Set(['latitude', 'longitude', 'max_rig_length_m', 'price_per_night'])
const NUMBER = /^-?\d+(\.\d+)?$/

/** The CSV text of an import, from strict UTF-8 bytes. */
async function importText(c: AppContext): Promise<string> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase()
  if (!IMPORT_TYPES.includes(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'send the CSV as text/csv or text/plain', { accepted: IMPORT_TYPES })
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await c.req.arrayBuffer())
  } catch {
    throw new ApiError(400, 'invalid_encoding', 'the file must be UTF-8 text (from a spreadsheet: save as "CSV UTF-8")')
  }
}

/** One CSV cell as the JSON value the create schema validates (empty cells are absent). */
function cellValue(column: string, raw: string): unknown {
  if (NUMERIC.has(column)) return NUMBER.test(raw) ? Number(raw) : raw
  if (column === 'rv_friendly') return raw === 'true' ? true : raw === 'false' ? false : raw
  if (column === 'amenities') return raw.split(';').map((a) => a.trim()).filter(Boolean)
  return raw
}

/** The sites of a CSV file, or a 400 naming every problem (nothing is imported then). */
function sitesFromCsv(text: string): Record<string, unknown>[] {
  let records
  try {
    records = parseCsv(text, { maxRecords: IMPORT_MAX_ROWS + 1, maxFields: IMPORT_MAX_COLUMNS })
  } catch (err) {
    if (err instanceof CsvError) throw new ApiError(400, err.code, `line ${err.line}: ${err.message}`, { line: err.line })
    throw err
  }
  if (records.length === 0) throw new ApiError(400, 'empty_csv', 'the file has no header row')
  if (records.length - 1 > IMPORT_MAX_ROWS) throw new ApiError(400, 'too_many_rows', `at most ${IMPORT_MAX_ROWS} rows per import`)
  const header = records[0].fields.map((h) => h.trim().toLowerCase())
  const problems = [
    ...header.filter((h, i) => !COLUMNS.includes(h as never) || header.indexOf(h) !== i)
      .map((h) => `column "${h.slice(0, 40)}" is unknown or appears twice`),
    ...REQUIRED.filter((r) => !header.includes(r)).map((r) => `a "${r}" column is required`),
  ]
  if (problems.length) {
    throw new ApiError(400, 'invalid_csv', `line 1: ${problems[0]}`, { line: 1, error_count: problems.length, errors: problems.slice(0, 20) })
  }
  const errors: z.infer<typeof ImportError>[] = []
  const sites = records.slice(1).map(({ line, fields }) => {
    const input: Record<string, unknown> = {}
    header.forEach((column, i) => {
      const raw = unguardFormula((fields[i] ?? '').trim())
      if (raw !== '') input[column] = cellValue(column, raw)
    })
    if (fields.length > header.length) errors.push({ line, column: null, message: 'more cells than the header has columns' })
    const parsed = CampsiteCreate.safeParse(input)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        errors.push({ line, column: issue.path.length ? String(issue.path[0]) : null, message: issue.message })
      }
    }
    return parsed.data ?? {}
  })
  if (!sites.length) throw new ApiError(400, 'empty_csv', 'the file has a header and no rows')
  if (errors.length) {
    throw new ApiError(400, 'invalid_rows', `${errors.length} problem(s) in the file; nothing was imported`, {
      error_count: errors.length,
      errors: errors.slice(0, MAX_ROW_ERRORS),
    })
  }
  return sites
}

export function registerCampsiteRoutes(app: App) {
  const one = z.object({ campsite: AdminCampsite })

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/campsites',
      tags: TAGS,
      summary: 'The campsite directory, retired sites included, newest first',
      request: {
        query: z.object({
          q: singleLineText({ min: 1, max: 200 }).optional().openapi({ description: 'part of the name or region' }),
          retired: z.enum(['true', 'false']).optional().openapi({ description: 'only retired (true) or current (false) sites' }),
          ...PageQuery,
        }),
      },
      responses: {
        200: { description: 'A page of sites', ...json(z.object({ campsites: z.array(AdminCampsite), next_cursor: z.string().nullable() })) },
        403: errorOf('Not an admin'),
      },
    }),
    async (c) => {
      const { q, retired, limit, cursor } = c.req.valid('query')
      const after = cursor ? decodeCursor(cursor, ['timestamp', 'uuid']) : null
      const rows = await asAdmin(c, (tx) =>
        tx.unsafe(
          `select ${SELECT} from pam.campsites c
           where ($1::text is null or c.name ilike $1 or c.region ilike $1)
             and ($2::boolean is null or (c.retired_at is not null) = $2)
             and ($3::text is null or (c.created_at, c.id) < ($3::text::timestamptz, $4::uuid))
           order by c.created_at desc, c.id desc limit $5`,
          [q ? likePattern(q) : null, retired === undefined ? null : retired === 'true', after?.[0] ?? null, after?.[1] ?? null, limit + 1],
        ))
      const { items, next_cursor } = page(rows as unknown as AdminCampsite[], limit, (r) => [r.created_at, r.id])
      return c.json({ campsites: items, next_cursor }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'get',
      path: '/campsites/{id}',
      tags: TAGS,
      summary: 'One site, retired or not',
      request: { params: IdParams },
      responses: { 200: { description: 'The site', ...json(one) }, 403: errorOf('Not an admin'), 404: errorOf('No such site') },
    }),
    async (c) => c.json({ campsite: await asAdmin(c, (tx) => campsiteOf(tx, c.req.valid('param').id)) }, 200),
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'post',
      path: '/campsites',
      tags: TAGS,
      summary: 'Add a site to the directory',
      request: body(CampsiteCreate),
      responses: { 201: { description: 'Added', ...json(one) }, 403: errorOf('Not an admin') },
    }),
    async (c) => {
      const input = c.req.valid('json')
      const campsite = await asAdmin(c, async (tx, admin) => {
        const [id] = await insertCampsites(tx, [input])
        const after = await campsiteOf(tx, id)
        await admin.audit({ action: 'campsite.create', target_type: 'campsite', target_id: id, before: null, after })
        return after
      })
      return c.json({ campsite }, 201)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'patch',
      path: '/campsites/{id}',
      tags: TAGS,
      summary: 'Edit a site, retire it (it leaves the camping search) or restore it',
      request: { params: IdParams, ...body(CampsitePatch) },
      responses: { 200: { description: 'Changed', ...json(one) }, 403: errorOf('Not an admin'), 404: errorOf('No such site') },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const { retired, ...fields } = c.req.valid('json')
      const campsite = await asAdmin(c, async (tx, admin) => {
        const before = await campsiteOf(tx, id)
        // Fields not given keep their value: the row itself is the base record.
        await tx.unsafe(
          `update pam.campsites c set (${COLUMNS.join(', ')}, retired_at) =
             (select ${COLUMNS.map((k) => `x.${k}`).join(', ')},
                     case when $2::boolean is null then c.retired_at when $2 then coalesce(c.retired_at, now()) end
              from jsonb_populate_record(c, $1::jsonb) x)
           where c.id = $3::uuid`,
          [asRecord(fields), retired ?? null, id] as never[],
        )
        const after = await campsiteOf(tx, id)
        const action = retired === true && !before.retired_at ? 'campsite.retire'
          : retired === false && before.retired_at ? 'campsite.restore' : 'campsite.update'
        await admin.audit({ action, target_type: 'campsite', target_id: id, before, after })
        return after
      })
      return c.json({ campsite }, 200)
    },
  )

  app.openapi(
    adminRoute({
      auth: 'user',
      method: 'post',
      path: '/campsites/import',
      rateLimit: 'bulk',
      tags: TAGS,
      summary: `Import sites from CSV; all rows or none, at most ${IMPORT_MAX_ROWS} rows`,
      description: `Columns (header row, any order): ${COLUMNS.join(', ')}; ${REQUIRED.join(', ')} are required. ` +
        'amenities are separated by ";". Empty cells take the defaults.',
      request: {
        body: { required: true, content: { 'text/csv': { schema: CsvText }, 'text/plain': { schema: CsvText } } },
      },
      responses: {
        201: { description: 'Every row imported', ...json(z.object({ imported: z.number(), ids: z.array(z.string()) })) },
        400: errorOf(
          'Nothing imported: invalid_encoding, invalid_csv (with details.line), too_many_columns, empty_csv, too_many_rows, ' +
            `or invalid_rows with details.error_count and the first ${MAX_ROW_ERRORS} details.errors[{line, column, message}]`,
        ),
        403: errorOf('Not an admin'),
        415: errorOf(`unsupported_media_type: not ${IMPORT_TYPES.join(' or ')}`),
      },
    }),
    async (c) => {
      const sites = sitesFromCsv(await importText(c))
      const ids = await asAdmin(c, async (tx, admin) => {
        const ids = await insertCampsites(tx, sites)
        await admin.audit({ action: 'campsite.import', target_type: 'campsite', target_id: null, before: null, after: { imported: ids.length, ids } })
        return ids
      })
      return c.json({ imported: ids.length, ids }, 201)
    },
  )
}
