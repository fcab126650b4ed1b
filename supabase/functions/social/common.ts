// What the social route modules share: how a person is shown (id and name,
// never the email), the database's refusals as the API answers them, and
// the visibility checks that turn "you cannot change this" into a 403 when
// the caller can see the row, and a 404 when they cannot.
import type { AppContext } from '../_shared/http.ts'
import { z } from '../_shared/http.ts'
import { ApiError } from '../_shared/errors.ts'
import type { PostgresApi } from '../_shared/db.ts'
import type { Refusals } from '../_shared/resource.ts'

export const Person = z.object({
  id: z.string(),
  name: z.string().openapi({ description: 'display name (empty when they have not set one)' }),
}).openapi('Person')

/** SQL: `{id, name}` of the user in column `column`, from the names everyone may see. */
export const personSql = (column: string) =>
  `json_build_object('id', ${column}, 'name', coalesce((select sp.name from pam.social_profiles sp where sp.id = ${column}), ''))`

export const forbidden = (code: string, message: string) => new ApiError(403, code, message)

export const SOCIAL_REFUSALS: Refusals = {
  posts_group_visibility: () =>
    new ApiError(400, 'validation_failed', 'a group post stays in its group, and only group posts have visibility group', [
      { path: ['visibility'], message: 'a group post stays in its group' },
    ]),
  posts_images_limit: () =>
    new ApiError(400, 'validation_failed', 'at most 10 images a post', [{ path: ['image_paths'], message: 'at most 10 images a post' }]),
  friendships_not_self: () => new ApiError(400, 'cannot_befriend_yourself', 'you cannot send yourself a friend request'),
  reports_reporter_post_key: () => new ApiError(409, 'already_reported', 'you have reported this post already'),
  reports_reporter_comment_key: () => new ApiError(409, 'already_reported', 'you have reported this comment already'),
}

/** Whether the caller can see row `id` of `table` (RLS decides), and it meets `condition` (on the row as `x`). */
export async function visible(db: PostgresApi, table: string, id: string, condition = 'true'): Promise<boolean> {
  return (await db.queryRaw(`select 1 from ${table} x where x.id = $1::uuid and ${condition}`, [id])).length > 0
}

/** For patch and delete of shared rows: a row the caller sees (and that meets `condition`) but may not change is a 403. */
export const refuseUnlessVisible =
  (table: string, code: string, message: string, condition?: string) => async (c: AppContext, id: string) =>
    (await visible(c.var.postgres, table, id, condition)) ? forbidden(code, message) : undefined

/** SQL: the caller takes part in post `alias` (comments, likes, edits) — it is in no group, or in one of theirs.
 * With RLS (which decides they see it): an author who left the post's group, or was removed, still sees and
 * deletes the post, and nothing more; as the policies (20261202004000_social_leftovers.sql). */
export const takesPart = (alias: string) =>
  `(${alias}.group_id is null or ${alias}.group_id = any ((select pam.social_my_groups())::uuid[]))`

/** A comma-free tag: lowercase letters, digits, '-' and '_', up to 30. */
export const Tag = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,29}$/, 'lowercase letters, digits, - and _, up to 30')
  .openapi({ example: 'free-camping' })
