-- What a pull saw, so a push's conflicts are only real ones.
--
-- A sync cursor is the xmin of the pull's snapshot (20261129003000_sync.sql):
-- the oldest transaction still running. A push with `last_pulled_at` took any
-- row written by that transaction or a later one as changed since the pull.
-- But a transaction newer than the cursor may have committed before the pull,
-- which then returned its rows: whenever some transaction ran long (a job's
-- batch, a big push), the app's next edit of such a row came back as a
-- conflict, and the edit was not applied. A client's own earlier push was
-- enough to be that transaction.
--
-- The pull now remembers its snapshot before it answers; a push asks whether
-- the row's writer was visible in it (pg_visible_in_snapshot). A user's 16
-- newest cursors are kept. Of two pulls with one cursor (two devices, or a
-- long transaction holding the cursor while one device pulls again) the
-- earlier snapshot is kept, whichever is remembered first: it saw least, so
-- what it saw every later one saw too, and no push is told a row it never
-- saw was seen. Of two snapshots with one xmin the earlier has the lower
-- xmax, or with the same xmax more transactions still running. A cursor
-- whose snapshot is no longer kept is judged as before (every row written
-- since it counts), which never misses a real conflict; a newer pull cannot
-- bring it back (cursors only grow).

create table pam.sync_pulls (
  user_id uuid not null references auth.users (id) on delete cascade,
  cursor xid8 not null,
  snapshot pg_snapshot not null,
  pulled_at timestamptz not null default now(),
  primary key (user_id, cursor)
);
comment on table pam.sync_pulls is
  'The snapshots of a user''s 16 newest sync cursors: a push''s conflicts are rows its pull did not see.';

alter table pam.sync_pulls enable row level security;
create policy sync_pulls_select_own on pam.sync_pulls
  for select to authenticated using ((select auth.uid()) = user_id);
revoke all on pam.sync_pulls from public, anon, authenticated;
grant all on pam.sync_pulls to service_role;
grant select on pam.sync_pulls to authenticated;

-- Remembers the caller's pull: `seen` is the snapshot its rows were read in,
-- its xmin the cursor the pull answered. A snapshot is only the caller's own
-- business: one made up decides only their own pushes' conflicts.
create function pam.sync_remember_pull(seen pg_snapshot) returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception 'a pull is remembered for a signed-in user' using errcode = '42501';
  end if;
  insert into pam.sync_pulls as p (user_id, cursor, snapshot) values (uid, pg_snapshot_xmin(seen), seen)
    on conflict (user_id, cursor) do update set snapshot = excluded.snapshot, pulled_at = excluded.pulled_at
    where (pg_snapshot_xmax(excluded.snapshot), -(select count(*) from pg_snapshot_xip(excluded.snapshot)))
        < (pg_snapshot_xmax(p.snapshot), -(select count(*) from pg_snapshot_xip(p.snapshot)));
  delete from pam.sync_pulls p
  where p.user_id = uid and p.cursor < (
    select k.cursor from pam.sync_pulls k where k.user_id = uid order by k.cursor desc offset 15 limit 1);
end
$$;

revoke execute on function pam.sync_remember_pull(pg_snapshot) from public, anon, authenticated;
grant execute on function pam.sync_remember_pull(pg_snapshot) to authenticated, service_role;
