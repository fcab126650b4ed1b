// /wheels/camping: the shared campsite directory. Search by distance from a
// point with filters — one query (earthdistance: a GiST index on
// ll_to_earth(latitude, longitude) answers the earth_box bound inside
// pam.campsites_nearest, the exact great-circle distance sorts) — and reviews: one
// rating and review per user and site, readable by every signed-in user.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import type { PostgresApi } from '../_shared/db.ts'
import { notFound } from '../_shared/errors.ts'
import { calendarDate } from '../_shared/dates.ts'
import { page, PageQuery } from '../_shared/pagination.ts'
import { decodeCursor } from '../_shared/pagination.ts'
import {
  body,
  errorOf,
  IdParams,
  isoSql,
  json,
  params,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText } from '../_shared/text.ts'
import { LatQuery, LngQuery, WHEELS_REFUSALS } from './common.ts'

export const CAMPSITE_TYPES = [
  'national_park',
  'free_camping',
  'caravan_park',
  'showground',
  'rest_area',
] as const
export const AMENITIES = [
  'toilets',
  'showers',
  'drinking_water',
  'power',
  'dump_point',
  'pet_friendly',
  'wifi',
  'fires_allowed',
  'bbq',
  'laundry',
  'swimming',
  'shade',
  'accessible',
  'generator_allowed',
] as const
export const MAX_RADIUS_KM = 500
const MAX_RESULTS = 100

/** A comma-separated list of `values` in a query string. */
const listOf = <T extends readonly [string, ...string[]]>(values: T, description: string) =>
  z.string().max(400).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).max(values.length))
    .openapi({
      type: 'string',
      description: `${description}, comma-separated: ${values.join(', ')}`,
    })

const decimalQuery = (max: number, description: string) =>
  z.string().regex(/^\d{1,6}(\.\d{1,2})?$/, `a number up to ${max}`).transform(Number).pipe(
    z.number().min(0).max(max),
  )
    .openapi({ type: 'number', minimum: 0, maximum: max, description })

export const Campsite = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(CAMPSITE_TYPES),
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
  rating: z.number().nullable().openapi({ description: 'average of the reviews, one decimal' }),
  reviews: z.number(),
  distance_km: z.number().optional(),
}).openapi('Campsite')
export type Campsite = z.infer<typeof Campsite>

const SITE_COLUMNS =
  `c.id, c.name, c.type, c.latitude, c.longitude, c.region, c.description, c.amenities,
  c.rv_friendly, c.max_rig_length_m::float8 as max_rig_length_m, c.price_per_night::text as price_per_night,
  c.currency::text as currency, c.booking`
/** A site's rating, joined to `alias` (after any limit: only the rows answered pay for it). */
const ratingOf = (alias: string) =>
  `left join lateral (
    select round(avg(cr.rating), 1)::float8 as rating, count(*)::int as reviews
    from pam.campsite_reviews cr where cr.campsite_id = ${alias}.id
  ) r on true`

export interface CampingFilters {
  types?: string[]
  amenities?: string[]
  rvFriendly?: boolean
  maxRigLength?: number
  maxPrice?: number
}

/** The filters as pam.campsites_nearest's arguments (null: not filtered). */
function filterArgs(f: CampingFilters, p: (v: unknown) => string): string {
  const arr = (v?: string[]) => (v?.length ? `${p(`{${v.join(',')}}`)}::text[]` : 'null::text[]')
  const num = (v?: number) => (v === undefined ? 'null::numeric' : `${p(v)}::numeric`)
  return [arr(f.types), arr(f.amenities), f.rvFriendly ? 'true' : 'null::boolean', num(f.maxRigLength), num(f.maxPrice)]
    .join(', ')
}

/** The nearest sites to (lat, lng) within the radius that match, one page: pam.campsites_nearest
 * searches through the GiST index (under RLS its bounding box could not be an index condition:
 * see its migration) and names them; they are read here by id, under RLS. */
function nearestSql(lat: string, lng: string, radius: string, filters: string, limit: string, offset: string): string {
  return `select ${SITE_COLUMNS}, n.distance_m
    from pam.campsites_nearest(${lat}, ${lng}, ${radius}, ${filters}, ${limit}, ${offset}) n
    join pam.campsites c on c.id = n.id`
}

/** Campsites within `radiusKm` of a point, nearest first. */
export async function searchCampsites(
  db: PostgresApi,
  at: { lat: number; lng: number },
  radiusKm: number,
  f: CampingFilters,
  limit: number,
  offset = 0,
): Promise<Campsite[]> {
  const { values, p } = params()
  const nearest = nearestSql(
    `${p(at.lat)}::float8`,
    `${p(at.lng)}::float8`,
    `${p(radiusKm * 1000)}::float8`,
    filterArgs(f, p),
    `${p(limit)}::int`,
    `${p(offset)}::int`,
  )
  const rows = await db.queryRaw<Campsite & { distance_m: number }>(
    `select s.*, round((s.distance_m / 1000)::numeric, 2)::float8 as distance_km, r.rating, r.reviews
     from (${nearest}) s ${ratingOf('s')}
     order by s.distance_m, s.id`,
    values,
  )
  return rows.map(({ distance_m: _, ...site }) => site)
}

/** For each point, the nearest campsite within `radiusKm` matching the filters (null when none): one query. */
export async function nearestCampsites(
  db: PostgresApi,
  points: { lat: number; lng: number }[],
  radiusKm: number,
  f: CampingFilters,
): Promise<(Campsite | null)[]> {
  if (!points.length) return []
  const { values, p } = params()
  const lats = p(`{${points.map((x) => x.lat).join(',')}}`)
  const lngs = p(`{${points.map((x) => x.lng).join(',')}}`)
  const nearest = nearestSql(
    'pt.lat',
    'pt.lng',
    `${p(radiusKm * 1000)}::float8`,
    filterArgs(f, p),
    '1',
    '0',
  )
  const rows = await db.queryRaw<Campsite & { i: number; distance_m?: number }>(
    `select pt.i::int as i, s.*, round((s.distance_m / 1000)::numeric, 2)::float8 as distance_km, r.rating, r.reviews
     from unnest(${lats}::float8[], ${lngs}::float8[]) with ordinality as pt(lat, lng, i)
     cross join lateral (${nearest}) s
     ${ratingOf('s')}`,
    values,
  )
  const byPoint: (Campsite | null)[] = points.map(() => null)
  for (const { i, distance_m: _, ...site } of rows) byPoint[i - 1] = site
  return byPoint
}

const tags = ['wheels: camping']

const search = route({
  method: 'get',
  path: '/camping',
  auth: 'user',
  tags,
  summary: 'Campsites near a point, nearest first, filtered',
  request: {
    query: z.object({
      lat: LatQuery,
      lng: LngQuery,
      radius_km: decimalQuery(MAX_RADIUS_KM, `search radius (default 50, at most ${MAX_RADIUS_KM})`)
        .default(50),
      type: listOf(CAMPSITE_TYPES, 'campsite types').optional(),
      amenities: listOf(AMENITIES, 'amenities every result has').optional(),
      rv_friendly: z.enum(['true', 'false']).optional().openapi({
        description: 'true: only sites suitable for RVs',
      }),
      max_rig_length: decimalQuery(40, "your rig's length in metres: sites that take it")
        .optional(),
      max_price: decimalQuery(10_000, 'most per night').optional(),
      limit: z.string().regex(/^\d{1,3}$/).transform(Number).pipe(
        z.number().min(1).max(MAX_RESULTS),
      ).default(20)
        .openapi({ type: 'integer', minimum: 1, maximum: MAX_RESULTS, default: 20 }),
      offset: z.string().regex(/^\d{1,4}$/).transform(Number).pipe(z.number().min(0).max(1000))
        .default(0)
        .openapi({
          type: 'integer',
          minimum: 0,
          maximum: 1000,
          default: 0,
          description: 'results to skip (the next page)',
        }),
    }),
  },
  responses: {
    200: {
      description: 'Nearest first',
      ...json(z.object({ campsites: z.array(Campsite), has_more: z.boolean() })),
    },
  },
})

const getCampsite = route({
  method: 'get',
  path: '/camping/{id}',
  auth: 'user',
  tags,
  summary: 'One campsite, with its rating',
  request: { params: IdParams },
  responses: {
    200: { description: 'The campsite', ...json(z.object({ campsite: Campsite })) },
    404: errorOf('No such campsite'),
  },
})

const Review = z.object({
  id: z.string(),
  campsite_id: z.string(),
  rating: z.number(),
  review: z.string(),
  visited_on: z.string().nullable(),
  mine: z.boolean().openapi({ description: 'written by you (authors are not named)' }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('CampsiteReview')
export const REVIEW_COLUMNS =
  `cr.id, cr.campsite_id, cr.rating::int as rating, cr.review, cr.visited_on::text as visited_on,
  cr.user_id = (select auth.uid()) as mine, ${isoSql('cr.created_at')} as created_at, ${
    isoSql('cr.updated_at')
  } as updated_at`

const listReviews = route({
  method: 'get',
  path: '/camping/{id}/reviews',
  auth: 'user',
  tags,
  summary: "A campsite's reviews, newest first",
  request: { params: IdParams, query: z.object(PageQuery) },
  responses: {
    200: {
      description: 'A page',
      ...json(z.object({ reviews: z.array(Review), next_cursor: z.string().nullable() })),
    },
  },
})

const putReview = route({
  method: 'put',
  path: '/camping/{id}/reviews/mine',
  auth: 'user',
  tags,
  summary: 'Rate and review a campsite (one review per site: this replaces yours)',
  request: {
    params: IdParams,
    ...body(
      z.object({
        rating: z.number().int().min(1).max(5),
        review: multiLineText({ min: 0, max: 2000 }).optional(),
        visited_on: calendarDate().nullable().optional(),
      }).strict().openapi('CampsiteReviewPut'),
    ),
  },
  responses: {
    200: { description: 'Your review', ...json(z.object({ review: Review })) },
    404: errorOf('No such campsite'),
  },
})

const deleteReview = route({
  method: 'delete',
  path: '/camping/{id}/reviews/mine',
  auth: 'user',
  tags,
  summary: 'Delete your review of a campsite',
  request: { params: IdParams },
  responses: {
    204: { description: 'Deleted' },
    404: errorOf('You have not reviewed this campsite'),
  },
})

export function registerCampingRoutes(app: App) {
  app.openapi(search, async (c) => {
    const q = c.req.valid('query')
    const sites = await searchCampsites(
      c.var.postgres,
      { lat: q.lat, lng: q.lng },
      q.radius_km,
      {
        types: q.type,
        amenities: q.amenities,
        rvFriendly: q.rv_friendly === 'true',
        maxRigLength: q.max_rig_length,
        maxPrice: q.max_price,
      },
      q.limit + 1,
      q.offset,
    )
    return c.json({ campsites: sites.slice(0, q.limit), has_more: sites.length > q.limit }, 200)
  })

  app.openapi(getCampsite, async (c) => {
    const { id } = c.req.valid('param')
    const [campsite] = await c.var.postgres.queryRaw<Campsite>(
      `select ${SITE_COLUMNS}, r.rating, r.reviews from pam.campsites c ${
        ratingOf('c')
      } where c.id = $1::uuid`,
      [id],
    )
    if (!campsite) throw notFound('campsite')
    return c.json({ campsite }, 200)
  })

  app.openapi(listReviews, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    const { values, p } = params()
    // The site's existence and its reviews in one statement: no site is a 404, not an empty page.
    const where = [`cr.campsite_id = ${p(id)}::uuid`]
    if (cursor) {
      const [t, rid] = decodeCursor(cursor, ['timestamp', 'uuid'])
      where.push(`(cr.created_at, cr.id) < (${p(t)}::text::timestamptz, ${p(rid)}::uuid)`)
    }
    const [found] = await c.var.postgres.queryRaw<{ reviews: z.infer<typeof Review>[] | null }>(
      `select (select json_agg(r order by r.created_at desc, r.id desc) from (
                select ${REVIEW_COLUMNS} from pam.campsite_reviews cr where ${where.join(' and ')}
                order by cr.created_at desc, cr.id desc limit ${p(limit + 1)}) r) as reviews
       from pam.campsites c where c.id = $1::uuid`,
      values,
    )
    if (!found) throw notFound('campsite')
    const { items, next_cursor } = page(found.reviews ?? [], limit, (r) => [r.created_at, r.id])
    return c.json({ reviews: items, next_cursor }, 200)
  })

  app.openapi(putReview, async (c) => {
    const { id } = c.req.valid('param')
    const input = c.req.valid('json')
    const [review] = await writeTransaction(c, async (tx) => {
      const [site] = await tx`select 1 from pam.campsites where id = ${id}`
      if (!site) throw notFound('campsite')
      return await tx.unsafe(
        `insert into pam.campsite_reviews as cr (campsite_id, rating, review, visited_on)
         values ($1::uuid, $2::smallint, $3, $4::date)
         on conflict (campsite_id, user_id) do update
           set rating = excluded.rating, review = excluded.review, visited_on = excluded.visited_on
         returning ${REVIEW_COLUMNS}`,
        [id, input.rating, input.review ?? '', input.visited_on ?? null] as never[],
      )
    }, WHEELS_REFUSALS)
    return c.json({ review } as never, 200)
  })

  app.openapi(deleteReview, async (c) => {
    const { id } = c.req.valid('param')
    const rows = await writeTransaction(
      c,
      (tx) =>
        tx`delete from pam.campsite_reviews where campsite_id = ${id} and user_id = (select auth.uid()) returning id`,
    )
    if (!rows.length) throw notFound('review')
    return c.body(null, 204)
  })
}
