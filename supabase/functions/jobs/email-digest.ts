// email-digest: every hour, each traveller whose local time has reached
// PAM_EMAIL_DIGEST_HOUR (18:00 by default) and who has notifications waiting
// for the digest gets that day's digest: one pam.email_digests row per
// traveller and local day (a second run the same day finds it and does
// nothing), with the waiting notifications attached. The email-deliveries job
// sends it (and retries it) like any other email; its notifications become
// sent (or failed) with it. Notifications that arrive after the day's digest
// wait for the next one. One statement, driven by the waiting notifications
// (an index holds exactly those), not by every profile.
import type { Tx } from '../_shared/db.ts'
import type { BatchResult } from './runs.ts'

/** Digests kept after they were sent or given up, for support questions. */
const KEEP_DAYS = 30

export async function emailDigest(tx: Tx, at: Date, hour: number): Promise<BatchResult> {
  const [r] = await tx`
    with waiting as (
      select distinct n.user_id from pam.notifications n
      where n.email_status = 'digest' and n.email_digest_id is null and n.created_at <= ${at.toISOString()}::timestamptz
    ),
    zones as materialized (select name from pg_timezone_names),
    zoned as (
      select w.user_id, (${at.toISOString()}::timestamptz at time zone coalesce(z.name, 'UTC')) as local
      from waiting w
      join pam.profiles p on p.id = w.user_id
      left join zones z on z.name = p.preferences ->> 'timezone'
    ),
    made as (
      insert into pam.email_digests (user_id, day, next_attempt_at)
      select z.user_id, z.local::date, ${at.toISOString()}::timestamptz from zoned z
      where extract(hour from z.local) >= ${hour}
      on conflict (user_id, day) do nothing
      returning id, user_id
    ),
    attached as (
      update pam.notifications n set email_digest_id = m.id
        from made m
       where n.user_id = m.user_id and n.email_status = 'digest' and n.email_digest_id is null
         and n.created_at <= ${at.toISOString()}::timestamptz
      returning 1
    ),
    old as (
      delete from pam.email_digests d
       where d.status in ('sent', 'failed', 'suppressed') and d.created_at < now() - make_interval(days => ${KEEP_DAYS})
      returning 1
    )
    select (select count(*) from made)::int as digests, (select count(*) from attached)::int as notifications,
           (select count(*) from old)::int as removed`
  return { rows_written: r.digests, notifications: r.notifications }
}
