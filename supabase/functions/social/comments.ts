// Comments on posts: listed oldest first (a conversation reads down), as
// visible as their post (RLS), edited and deleted by their authors. A post in
// a group the caller is not in (their own, after they left) has no comments
// for them: 404, as a post they cannot see.
import type { App } from '../_shared/http.ts'
import { route, z } from '../_shared/http.ts'
import { notFound } from '../_shared/errors.ts'
import { decodeCursor, page, PageQuery } from '../_shared/pagination.ts'
import {
  body,
  createOf,
  errorOf,
  IdParams,
  insertRow,
  isoSql,
  json,
  newestFirst,
  params,
  patchOf,
  registerResource,
  type ResourceSpec,
  writeTransaction,
} from '../_shared/resource.ts'
import { multiLineText } from '../_shared/text.ts'
import { Person, personSql, refuseUnlessVisible, SOCIAL_REFUSALS, takesPart } from './common.ts'

export const MAX_COMMENT_CHARS = 2000

const Comment = z.object({
  id: z.string(),
  post_id: z.string(),
  author: Person,
  body: z.string(),
  hidden: z.boolean(),
  mine: z.boolean(),
  created_at: z.string(),
  edited_at: z.string().nullable(),
}).openapi('Comment')

const fields = { body: multiLineText({ max: MAX_COMMENT_CHARS }).openapi({ example: 'Is the track in OK for a 7 m van?' }) }
const COLUMNS = { body: 'text', post_id: 'uuid' }

const commentResource: ResourceSpec = {
  one: 'comment',
  many: 'comments',
  noun: 'comment',
  path: '/comments',
  table: 'pam.comments',
  alias: 'c',
  owner: 'author_id',
  tags: ['social: comments'],
  schema: Comment,
  select: `c.id, c.post_id, ${personSql('c.author_id')} as author, c.body, c.hidden,
    c.author_id = (select auth.uid()) as mine, ${isoSql('c.created_at')} as created_at, ${isoSql('c.edited_at')} as edited_at`,
  order: newestFirst('c'),
  listSummary: '',
  without: ['list', 'create'],
  patch: { schema: patchOf(fields).openapi('CommentPatch'), columns: COLUMNS, summary: 'Edit your comment' },
  refusals: SOCIAL_REFUSALS,
  // Not yours: 403; yours on a post in a group you have left: 404, as its post's other comments are.
  refuse: refuseUnlessVisible(
    'pam.comments',
    'not_the_author',
    'only the author edits or deletes a comment',
    `exists (select 1 from pam.posts p where p.id = x.post_id and ${takesPart('p')})`,
  ),
}

const tags = ['social: comments']

const list = route({
  method: 'get',
  path: '/posts/{id}/comments',
  auth: 'user',
  tags,
  summary: "A post's comments, oldest first",
  request: { params: IdParams, query: z.object(PageQuery) },
  responses: {
    200: { description: 'A page', ...json(z.object({ comments: z.array(Comment), next_cursor: z.string().nullable() })) },
    404: errorOf('No such post'),
  },
})

const add = route({
  method: 'post',
  path: '/posts/{id}/comments',
  auth: 'user',
  rateLimit: 'social',
  tags,
  summary: 'Comment on a post you can see (its author is notified)',
  request: { params: IdParams, ...body(createOf(fields).openapi('CommentCreate')) },
  responses: {
    201: { description: 'Added', ...json(z.object({ comment: Comment })) },
    200: { description: 'Already added with this client-generated id', ...json(z.object({ comment: Comment })) },
    404: errorOf('No such post'),
  },
})

export function registerCommentRoutes(app: App) {
  registerResource(app, commentResource)

  app.openapi(list, async (c) => {
    const { id } = c.req.valid('param')
    const { limit, cursor } = c.req.valid('query')
    const { values, p } = params()
    const where = [`c.post_id = ${p(id)}::uuid`]
    if (cursor) {
      const [t, cid] = decodeCursor(cursor, ['timestamp', 'uuid'])
      where.push(`(c.created_at, c.id) > (${p(t)}::text::timestamptz, ${p(cid)}::uuid)`)
    }
    // The post's visibility and its comments in one statement: a post you cannot see is a 404, not an empty page.
    const [found] = await c.var.postgres.queryRaw<{ comments: z.infer<typeof Comment>[] | null }>(
      `select (select json_agg(x order by x.created_at, x.id) from (
                select ${commentResource.select} from pam.comments c where ${where.join(' and ')}
                order by c.created_at, c.id limit ${p(limit + 1)}) x) as comments
       from pam.posts p where p.id = $1::uuid and ${takesPart('p')}`,
      values,
    )
    if (!found) throw notFound('post')
    const result = page(found.comments ?? [], limit, (r) => [r.created_at, r.id])
    return c.json({ comments: result.items, next_cursor: result.next_cursor }, 200)
  })

  app.openapi(add, async (c) => {
    const { id } = c.req.valid('param')
    const input = c.req.valid('json')
    const { row, created } = await writeTransaction(c, async (tx) => {
      const [post] = await tx.unsafe(`select 1 from pam.posts p where p.id = $1::uuid and ${takesPart('p')}`, [id])
      if (!post) throw notFound('post')
      return await insertRow(tx, commentResource, { ...input, post_id: id }, COLUMNS)
    }, SOCIAL_REFUSALS)
    return c.json({ comment: row } as never, created ? 201 : 200)
  })
}
