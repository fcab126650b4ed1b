// /social/posts and /social/feed: what travellers share. A post is public,
// for friends, or in a group; RLS decides who reads it (see the social
// migration), so every read here is a plain query that RLS narrows. Counts
// of likes and comments live on the post (kept by triggers), so a page of
// posts is one query with no per-post counting.
import type { App, AppContext } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { ApiError, notFound } from '../_shared/errors.ts'
import type { PostgresApi, Tx } from '../_shared/db.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import {
  createOf,
  errorOf,
  IdParams,
  insertRow,
  isoSql,
  json,
  params,
  patchOf,
  registerResource,
  type ResourceSpec,
  Uuid,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText, singleLineText } from '../_shared/text.ts'
import { Latitude, LatQuery, LngQuery, Longitude } from '../_shared/coordinates.ts'
import { ownObjects, ObjectPath } from '../_shared/storage.ts'
import { forbidden, Person, personSql, refuseUnlessVisible, SOCIAL_REFUSALS, Tag, takesPart, visible } from './common.ts'

export const MAX_POST_CHARS = 5000
export const MAX_NEARBY_KM = 500
const VISIBILITIES = ['public', 'friends', 'group'] as const

const ImageUrl = z.url({ protocol: /^https$/ }).max(2048).openapi({ example: 'https://example.com/photo.jpg' })
const fields = {
  body: multiLineText({ max: MAX_POST_CHARS }).openapi({ example: 'Sunrise at Cape Le Grand: the roos were on the beach.' }),
  visibility: z.enum(VISIBILITIES).optional().openapi({
    description: 'public (default; every signed-in traveller), friends (your accepted friends), group (set by group_id)',
  }),
  tags: z.array(Tag).max(10).optional(),
  location_name: singleLineText({ max: 200 }).nullable().optional(),
  latitude: Latitude.nullable().optional(),
  longitude: Longitude.nullable().optional(),
  image_urls: z.array(ImageUrl).max(10).optional(),
  image_paths: z.array(ObjectPath('post-images', '00000000-0000-4000-8000-000000000001/cape-le-grand.jpg')).max(10).optional()
    .openapi({ description: 'your images in the `post-images` bucket; whoever may see the post may read them (10 images a post in all)' }),
}
type Coordinates = { latitude?: number | null; longitude?: number | null }
const bothOrNeither: [(v: Coordinates) => boolean, { message: string; path: string[] }] = [
  (v) => (v.latitude === undefined) === (v.longitude === undefined) && (v.latitude === null) === (v.longitude === null),
  { message: 'latitude and longitude go together', path: ['latitude'] },
]
const COLUMNS = {
  body: 'text',
  visibility: 'text',
  group_id: 'uuid',
  tags: 'text[]',
  location_name: 'text',
  latitude: 'double precision',
  longitude: 'double precision',
  image_urls: 'text[]',
  image_paths: 'text[]',
}

export const Post = z.object({
  id: z.string(),
  author: Person,
  body: z.string(),
  visibility: z.enum(VISIBILITIES),
  group: z.object({ id: z.string(), name: z.string() }).nullable(),
  tags: z.array(z.string()),
  location_name: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  image_urls: z.array(z.string()),
  image_paths: z.array(z.string()).openapi({
    description: "object names in `post-images`: `supabase.storage.from('post-images').createSignedUrl(name, 3600)`",
  }),
  hidden: z.boolean().openapi({ description: 'hidden by a moderator: seen only by you (the author) and the moderators' }),
  like_count: z.number(),
  comment_count: z.number(),
  liked_by_me: z.boolean(),
  mine: z.boolean(),
  created_at: z.string(),
  edited_at: z.string().nullable(),
}).openapi('Post')
type Post = z.infer<typeof Post>

export const POST_SELECT = `p.id, ${personSql('p.author_id')} as author, p.body, p.visibility,
  (select json_build_object('id', g.id, 'name', g.name) from pam.groups g where g.id = p.group_id) as "group",
  p.tags, p.location_name, p.latitude, p.longitude, p.image_urls, p.image_paths, p.hidden, p.like_count, p.comment_count,
  exists (select 1 from pam.post_likes l where l.post_id = p.id and l.user_id = (select auth.uid())) as liked_by_me,
  p.author_id = (select auth.uid()) as mine,
  ${isoSql('p.created_at')} as created_at, ${isoSql('p.edited_at')} as edited_at`

/** Images from post-images must be the caller's own uploads, and at most 10 images a post in all. */
async function checkImages(tx: Tx, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const paths = input.image_paths as string[] | undefined
  const urls = input.image_urls as string[] | undefined
  if ((paths?.length ?? 0) + (urls?.length ?? 0) > 10) {
    throw new ApiError(400, 'validation_failed', 'at most 10 images a post', [{ path: ['image_paths'], message: 'at most 10 images a post' }])
  }
  if (paths?.length) {
    const own = await ownObjects(tx, 'post-images', paths)
    const missing = paths.find((p) => !own.has(p))
    if (missing) {
      throw new ApiError(400, 'unknown_image', 'no such image of yours: upload it to the post-images bucket first', [
        { path: ['image_paths', paths.indexOf(missing)], message: 'not one of your uploaded images' },
      ])
    }
  }
  return input
}

/** A group post: the caller must be a member of the group. */
async function prepareCreate(tx: Tx, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  input = await checkImages(tx, input)
  const groupId = input.group_id as string | undefined
  if (!groupId) {
    if (input.visibility === 'group') {
      throw new ApiError(400, 'validation_failed', 'a group post needs group_id', [
        { path: ['group_id'], message: 'a group post needs group_id' },
      ])
    }
    return input
  }
  if (input.visibility !== undefined && input.visibility !== 'group') {
    throw new ApiError(400, 'validation_failed', 'a post in a group has visibility group', [
      { path: ['visibility'], message: 'a post in a group has visibility group' },
    ])
  }
  const [g] = await tx`select exists (select 1 from pam.group_members m where m.group_id = g.id and m.user_id = (select auth.uid())) as member
    from pam.groups g where g.id = ${groupId}`
  if (!g) throw new ApiError(404, 'unknown_group', 'no such group')
  if (!g.member) throw forbidden('not_a_member', 'join the group to post in it')
  return { ...input, visibility: 'group' }
}

/** Creates a post as the caller, as POST /social/posts does (a group post needs the caller in the group). */
export async function createPost(tx: Tx, input: Record<string, unknown>) {
  return await insertRow(tx, postResource, await prepareCreate(tx, input), COLUMNS)
}

const postResource: ResourceSpec = {
  one: 'post',
  many: 'posts',
  noun: 'post',
  path: '/posts',
  table: 'pam.posts',
  alias: 'p',
  owner: 'author_id',
  tags: ['social: posts'],
  schema: Post,
  select: POST_SELECT,
  order: [
    { field: 'created_at', sql: 'p.created_at', kind: 'timestamp' },
    { field: 'id', sql: 'p.id', kind: 'uuid' },
  ],
  listSummary: '',
  without: ['list'],
  create: {
    schema: createOf({ ...fields, group_id: Uuid.optional().openapi({ description: 'post in this group (you are a member)' }) })
      .refine(...bothOrNeither).openapi('PostCreate'),
    columns: COLUMNS,
    summary: 'Post something (public, to friends, or in a group you are in)',
    rateLimit: 'social',
    prepare: prepareCreate,
  },
  patch: {
    schema: patchOf(fields).refine(...bothOrNeither).openapi('PostPatch'),
    columns: COLUMNS,
    summary: 'Edit your post (a group post stays in its group)',
    prepare: checkImages,
  },
  refusals: SOCIAL_REFUSALS,
  // Not yours: 403; yours in a group you have left: 404, as the post's comments and likes are.
  refuse: refuseUnlessVisible('pam.posts', 'not_the_author', 'only the author edits or deletes a post', takesPart('x')),
}

const FeedQuery = z.object({
  filter: z.enum(['all', 'friends', 'groups', 'mine']).default('all').openapi({
    description: 'all (default): everything you can see; friends: your friends’ posts; groups: posts in your groups; mine: yours',
  }),
  group_id: Uuid.optional().openapi({ description: 'only this group’s posts' }),
  tag: Tag.optional().openapi({ description: 'only posts with this tag' }),
  near: z.string().max(40).regex(/^-?\d{1,3}(\.\d{1,10})?,-?\d{1,3}(\.\d{1,10})?$/, 'lat,lng').optional()
    .openapi({ description: 'lat,lng: only posts placed within radius_km of here', example: '-33.86,151.21' }),
  radius_km: z.string().regex(/^\d{1,3}(\.\d{1,2})?$/, `a number up to ${MAX_NEARBY_KM}`).transform(Number)
    .pipe(z.number().gt(0).max(MAX_NEARBY_KM)).default(50)
    .openapi({ type: 'number', default: 50, maximum: MAX_NEARBY_KM, description: 'with near: the radius (default 50)' }),
  ...PageQuery,
}).superRefine((q, ctx) => {
  if (!q.near) return
  const [lat, lng] = q.near.split(',')
  for (const [value, schema, name] of [[lat, LatQuery, 'latitude'], [lng, LngQuery, 'longitude']] as const) {
    if (!schema.safeParse(value).success) ctx.addIssue({ code: 'custom', path: ['near'], message: `${name} out of range` })
  }
})

const feed = route({
  method: 'get',
  path: '/feed',
  auth: 'user',
  tags: ['social: posts'],
  summary: 'The feed: every post you may see (public, your friends’, your groups’, yours), newest first',
  description: 'Cursor pagination by (created_at, id): posts written after the first page do not shift later pages ' +
    '(they are before the cursor); fetch from the start again to see them. Hidden posts are left out (see them on ' +
    'the post, or in /social/users/{id}/posts as their author).',
  request: { query: FeedQuery },
  responses: {
    200: { description: 'A page', ...json(z.object({ posts: z.array(Post), next_cursor: z.string().nullable() })) },
    404: errorOf('unknown_group: no such group'),
  },
})

const userPosts = route({
  method: 'get',
  path: '/users/{id}/posts',
  auth: 'user',
  tags: ['social: posts'],
  summary: 'A traveller’s posts that you may see, newest first',
  request: { params: IdParams, query: z.object(PageQuery) },
  responses: {
    200: {
      description: 'A page',
      ...json(z.object({ user: Person, posts: z.array(Post), next_cursor: z.string().nullable() })),
    },
    404: errorOf('user_not_found'),
  },
})

const LikeState = z.object({ liked: z.boolean(), like_count: z.number() }).openapi('LikeState')
const likeRoute = (method: 'post' | 'delete') =>
  route({
    method,
    path: '/posts/{id}/like',
    auth: 'user',
    tags: ['social: posts'],
    summary: method === 'post' ? 'Like a post (liking twice is one like)' : 'Take your like back',
    request: { params: IdParams },
    responses: { 200: { description: 'The like and the count', ...json(LikeState) }, 404: errorOf('No such post') },
  })

const moderate = (action: 'hide' | 'unhide') =>
  route({
    method: 'post',
    path: `/posts/{id}/${action}`,
    auth: 'user',
    tags: ['social: moderation'],
    summary: action === 'hide'
      ? 'Hide a post in your group (owner and moderators): then only its author and the moderators see it'
      : 'Show a hidden post again (owner and moderators)',
    request: { params: IdParams },
    responses: {
      200: { description: 'The post', ...json(z.object({ post: Post })) },
      403: errorOf('not_a_moderator'),
      404: errorOf('No such post'),
      ...(action === 'unhide' ? { 409: errorOf("hidden_by_admin: PAM's moderators hid the post; only they show it again") } : {}),
    },
  })

/** One page of posts by (created_at, id) newest first, under `where` (RLS narrows it further):
 * one statement, walking posts_feed_idx (or an author's or a group's index) in order. */
export async function postPage(
  db: PostgresApi,
  where: string[],
  values: unknown[],
  p: (v: unknown) => string,
  limit: number,
  cursor?: string,
) {
  if (cursor) {
    const [t, id] = decodeCursor(cursor, ['timestamp', 'uuid'])
    where.push(`(p.created_at, p.id) < (${p(t)}::text::timestamptz, ${p(id)}::uuid)`)
  }
  const rows = await db.queryRaw<Post>(
    `select ${POST_SELECT} from pam.posts p where ${where.join(' and ')}
     order by p.created_at desc, p.id desc limit ${p(limit + 1)}`,
    values,
  )
  return page(rows, limit, (row) => [row.created_at, row.id])
}

export interface FeedFilters {
  filter: 'all' | 'friends' | 'groups' | 'mine'
  group_id?: string
  tag?: string
  near?: { lat: number; lng: number }
  radius_km: number
}

/** The feed's conditions besides visibility (which RLS adds): hidden posts are left out. */
export function feedWhere(f: FeedFilters, p: (v: unknown) => string): string[] {
  const where = ['not p.hidden']
  if (f.filter === 'friends') where.push('p.author_id = any ((select pam.social_my_friends())::uuid[])')
  if (f.filter === 'groups') where.push('p.group_id = any ((select pam.social_my_groups())::uuid[])')
  if (f.filter === 'mine') where.push('p.author_id = (select auth.uid())')
  if (f.group_id) where.push(`p.group_id = ${p(f.group_id)}::uuid`)
  if (f.tag) where.push(`p.tags @> array[${p(f.tag)}]::text[]`)
  if (f.near) {
    // The posts near the place first (posts_location_idx, in pam.social_posts_near: see the
    // migration), then the newest of those this user may see: walking the feed in time order
    // would read most posts to find the few near a place.
    where.push(`p.id = any (pam.social_posts_near(${p(f.near.lat)}::float8, ${p(f.near.lng)}::float8, ${
      p(f.radius_km * 1000)
    }::float8))`)
  }
  return where
}

export function registerPostRoutes(app: App) {
  registerResource(app, postResource)

  app.openapi(feed, async (c) => {
    const q = c.req.valid('query')
    if (q.group_id && !(await visible(c.var.postgres, 'pam.groups', q.group_id))) {
      throw new ApiError(404, 'unknown_group', 'no such group')
    }
    const near = q.near?.split(',').map(Number)
    const { values, p } = params()
    const where = feedWhere({ ...q, near: near && { lat: near[0], lng: near[1] } }, p)
    const result = await postPage(c.var.postgres, where, values, p, q.limit, q.cursor)
    return c.json({ posts: result.items, next_cursor: result.next_cursor }, 200)
  })

  app.openapi(userPosts, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    const [user] = await c.var.postgres.queryRaw<z.infer<typeof Person>>(
      `select sp.id, sp.name from pam.social_profiles sp where sp.id = $1::uuid`,
      [id],
    )
    if (!user) throw new ApiError(404, 'user_not_found', 'no such traveller')
    const { values, p } = params()
    const result = await postPage(c.var.postgres, [`p.author_id = ${p(id)}::uuid`], values, p, limit, cursor)
    return c.json({ user, posts: result.items, next_cursor: result.next_cursor }, 200)
  })

  app.openapi(likeRoute('post'), async (c) => {
    const { id } = c.req.valid('param')
    return c.json(await likeState(c, id, true), 200)
  })
  app.openapi(likeRoute('delete'), async (c) => {
    const { id } = c.req.valid('param')
    return c.json(await likeState(c, id, false), 200)
  })

  for (const action of ['hide', 'unhide'] as const) {
    app.openapi(moderate(action), async (c) => {
      const { id } = c.req.valid('param')
      const post = await writeTransaction(c, async (tx) => {
        const [target] = await tx`select group_id = any ((select pam.social_my_moderated_groups())::uuid[]) as moderator,
            admin_hidden_at is not null as admin_hidden
          from pam.posts where id = ${id}`
        if (!target) throw notFound('post')
        if (!target.moderator) throw forbidden('not_a_moderator', 'only the group’s owner and moderators hide and unhide posts')
        if (target.admin_hidden && action === 'unhide') {
          throw new ApiError(409, 'hidden_by_admin', 'PAM’s moderators hid this post after a report: only they show it again')
        }
        const [row] = await tx.unsafe(
          `update pam.posts p set hidden = $2 where p.id = $1::uuid returning ${POST_SELECT}`,
          [id, action === 'hide'],
        )
        return row
      })
      return c.json({ post } as never, 200)
    })
  }
}

/** Likes (or unlikes) post `id` as the caller: idempotent either way; 404 when they cannot see it, or take no part. */
async function likeState(c: AppContext, id: string, like: boolean): Promise<z.infer<typeof LikeState>> {
  return await writeTransaction(c, async (tx) => {
    const [post] = await tx.unsafe(`select 1 from pam.posts p where p.id = $1::uuid and ${takesPart('p')}`, [id])
    if (!post) throw notFound('post')
    if (like) await tx`insert into pam.post_likes (post_id) values (${id}) on conflict do nothing`
    else await tx`delete from pam.post_likes where post_id = ${id} and user_id = (select auth.uid())`
    const [row] = await tx`select like_count from pam.posts where id = ${id}`
    return { liked: like, like_count: row.like_count as number }
  })
}
