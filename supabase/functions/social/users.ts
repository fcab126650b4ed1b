// Naming another traveller: by user id, or by the email they signed up with
// (someone met on the road). An unknown id or address is a 404 either way.
import { z } from '../_shared/http.ts'
import { ApiError } from '../_shared/errors.ts'
import type { Tx } from '../_shared/db.ts'
import { Uuid } from '../_shared/resource.ts'

export const userRefFields = {
  user_id: Uuid.optional().openapi({ description: 'their user id (give this or email)' }),
  email: z.email().max(320).optional().openapi({ description: 'the email they signed up with (give this or user_id)' }),
}
/** The refinement that makes exactly one of user_id and email required. */
export const oneUser: [(r: { user_id?: string; email?: string }) => boolean, { message: string; path: string[] }] = [
  (r) => (r.user_id === undefined) !== (r.email === undefined),
  { message: 'give user_id or email (one of them)', path: ['user_id'] },
]

export const UserRef = z.object(userRefFields).strict().refine(...oneUser)

export const userNotFound = () => new ApiError(404, 'user_not_found', 'no traveller with that id or email')

/** The id of the user named by `ref`; 404 user_not_found when there is none. */
export async function findUser(tx: Tx, ref: { user_id?: string; email?: string }): Promise<string> {
  const [row] = ref.email
    ? await tx`select pam.social_user_by_email(${ref.email}) as id`
    : await tx`select id from pam.social_profiles where id = ${ref.user_id!}`
  if (!row?.id) throw userNotFound()
  return row.id as string
}
