// Reports: a traveller flags a post or comment they can see for the
// moderators (the admin portal's queue). One report per person and target;
// reporters see their own reports and how they were resolved.
import type { App } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { notFound } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { createOf, isoSql, newestFirst, registerResource, type ResourceSpec, Uuid } from '../_shared/resource.ts'
import { multiLineText } from '../_shared/text.ts'
import { SOCIAL_REFUSALS } from './common.ts'

const REASONS = ['spam', 'harassment', 'hate', 'violence', 'nudity', 'scam', 'misinformation', 'other'] as const
const STATUSES = ['open', 'actioned', 'dismissed'] as const

const Report = z.object({
  id: z.string(),
  post_id: z.string().nullable(),
  comment_id: z.string().nullable(),
  reason: z.enum(REASONS),
  details: z.string(),
  status: z.enum(STATUSES),
  created_at: z.string(),
  resolved_at: z.string().nullable(),
}).openapi('Report')

/** The target must be one the reporter can see (RLS), or it is a 404. */
async function prepare(tx: Tx, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const [table, id, noun] = input.post_id
    ? ['pam.posts', input.post_id, 'post']
    : ['pam.comments', input.comment_id, 'comment']
  const [seen] = await tx.unsafe(`select 1 from ${table} where id = $1::uuid`, [id as string])
  if (!seen) throw notFound(noun as string)
  return input
}

const reportResource: ResourceSpec = {
  one: 'report',
  many: 'reports',
  noun: 'report',
  path: '/reports',
  table: 'pam.reports',
  alias: 'r',
  tags: ['social: moderation'],
  schema: Report,
  select: `r.id, r.post_id, r.comment_id, r.reason, r.details, r.status, ${isoSql('r.created_at')} as created_at,
    ${isoSql('r.resolved_at')} as resolved_at`,
  listScope: 'r.reporter_id = (select auth.uid())',
  order: newestFirst('r'),
  listSummary: 'Your reports, newest first',
  without: ['patch', 'delete'],
  create: {
    schema: createOf({
      post_id: Uuid.optional().openapi({ description: 'the post (give this or comment_id)' }),
      comment_id: Uuid.optional().openapi({ description: 'the comment (give this or post_id)' }),
      reason: z.enum(REASONS),
      details: multiLineText({ min: 0, max: 1000 }).optional(),
    }).refine((r) => (r.post_id === undefined) !== (r.comment_id === undefined), {
      message: 'give post_id or comment_id (one of them)',
      path: ['post_id'],
    }).openapi('ReportCreate'),
    columns: { post_id: 'uuid', comment_id: 'uuid', reason: 'text', details: 'text' },
    summary: 'Report a post or comment to the moderators',
    rateLimit: 'social',
    prepare,
  },
  refusals: SOCIAL_REFUSALS,
}

export function registerReportRoutes(app: App) {
  registerResource(app, reportResource)
}
