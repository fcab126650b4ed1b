// A sync cursor is a number: the oldest transaction still running when a pull
// read its rows (pg_snapshot_xmin). The next pull returns every row written by
// that transaction or a later one, so nothing committed late is skipped; a
// row may come twice, which sync clients (WatermelonDB among them) take as an
// update. It fits WatermelonDB's `timestamp` / `lastPulledAt` as it is.
import { ApiError } from '../_shared/errors.ts'
import { z } from '../_shared/http.ts'

/** Days deletions are remembered (pam.sync_retention()); an older cursor answers 410. */
export const RETENTION_DAYS = 30

export const CursorQuery = z.string().regex(/^\d{1,16}$/, 'a cursor from a previous pull')
  .transform(Number).pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
  .openapi({ type: 'integer', description: 'the cursor (timestamp) of the previous pull; none for a first, full pull' })

export const cursorExpired = () =>
  new ApiError(
    410,
    'cursor_expired',
    `this cursor is older than the ${RETENTION_DAYS} days deletions are remembered: pull again without a cursor and replace your local copy`,
  )
