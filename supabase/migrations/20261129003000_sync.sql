-- Patchy connectivity: remembered answers for retried writes (Idempotency-Key)
-- and change tracking for offline sync.
--
-- Change tracking uses transaction ids, not clocks. Every synced row carries
-- the id of the transaction that created it (sync_created) and of the last one
-- that changed it (sync_xid); a deletion leaves a tombstone with its own. A
-- sync cursor is the oldest transaction still running when a pull read its
-- rows (the xmin of its snapshot): everything older had committed (or failed)
-- and was seen. The next pull returns every row written by that transaction or
-- a later one — so a transaction that commits late is never skipped (it may be
-- sent twice, which sync clients take as an update) — and no clock, the
-- server's or the phone's, is consulted.

create table pam.idempotency_keys (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  key text not null check (char_length(key) between 1 and 255),
  -- sha-256 of the method, path, query and body: the same key with another request is refused.
  fingerprint text not null check (char_length(fingerprint) = 64),
  -- Null while the first request runs; then the answer to give a retry.
  status smallint check (status between 200 and 299),
  content_type text,
  location text,
  body text check (char_length(body) <= 1048576),
  created_at timestamptz not null default now(),
  primary key (user_id, key)
);
comment on table pam.idempotency_keys is 'Answers of writes sent with an Idempotency-Key, replayed to retries for 24 hours.';
create index idempotency_keys_created_idx on pam.idempotency_keys (created_at);

alter table pam.idempotency_keys enable row level security;
create policy idempotency_keys_select_own on pam.idempotency_keys
  for select to authenticated using ((select auth.uid()) = user_id);
create policy idempotency_keys_insert_own on pam.idempotency_keys
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy idempotency_keys_update_own on pam.idempotency_keys
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy idempotency_keys_delete_own on pam.idempotency_keys
  for delete to authenticated using ((select auth.uid()) = user_id);
revoke all on pam.idempotency_keys from public, anon, authenticated;
grant all on pam.idempotency_keys to service_role;
grant select, delete on pam.idempotency_keys to authenticated;
grant insert (user_id, key, fingerprint) on pam.idempotency_keys to authenticated;
grant update (fingerprint, status, content_type, location, body, created_at) on pam.idempotency_keys to authenticated;

create table pam.sync_tombstones (
  user_id uuid not null,
  table_name text not null,
  row_id uuid not null,
  sync_xid xid8 not null default pg_current_xact_id(),
  deleted_at timestamptz not null default now()
);
comment on table pam.sync_tombstones is 'Deleted rows, so offline apps learn of deletions; kept 30 days (pam.sync_retention()).';
create index sync_tombstones_user_xid_idx on pam.sync_tombstones (user_id, sync_xid);
create index sync_tombstones_deleted_idx on pam.sync_tombstones (deleted_at);

alter table pam.sync_tombstones enable row level security;
create policy sync_tombstones_select_own on pam.sync_tombstones
  for select to authenticated using ((select auth.uid()) = user_id);
revoke all on pam.sync_tombstones from public, anon, authenticated;
grant all on pam.sync_tombstones to service_role;
grant select on pam.sync_tombstones to authenticated;

-- Tombstones older than this are removed (pam.sync_cleanup); a cursor from
-- before the newest removed one (sync_horizon) must re-read everything.
create table pam.sync_horizon (
  only_row boolean primary key default true check (only_row),
  xid xid8 not null default '0'
);
insert into pam.sync_horizon default values;
alter table pam.sync_horizon enable row level security;
create policy sync_horizon_read on pam.sync_horizon for select to authenticated using (true);
revoke all on pam.sync_horizon from public, anon, authenticated;
grant all on pam.sync_horizon to service_role;
grant select on pam.sync_horizon to authenticated;

create function pam.sync_retention() returns interval
language sql immutable parallel safe
as $$ select interval '30 days' $$;

create function pam.sync_touch() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.sync_xid := pg_current_xact_id();
  return new;
end
$$;

-- Security definer: users cannot write tombstones themselves. A row deleted
-- because its account is being deleted leaves none (nobody is left to sync).
create function pam.sync_remember_deletion() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from auth.users u where u.id = old.user_id) then
    insert into pam.sync_tombstones (user_id, table_name, row_id) values (old.user_id, tg_table_name, old.id);
  end if;
  return null;
end
$$;

revoke execute on function pam.sync_touch(), pam.sync_remember_deletion() from public, anon, authenticated;
grant execute on function pam.sync_retention() to authenticated, service_role;

do $$
declare
  t text;
begin
  foreach t in array array[
    'expense_categories', 'hustles', 'expenses', 'income', 'budgets', 'savings_goals', 'goal_contributions',
    'notifications', 'vehicles', 'maintenance_records', 'trips', 'saved_places', 'campsite_reviews'
  ] loop
    execute format('alter table pam.%I add column sync_created xid8 not null default pg_current_xact_id(),
                    add column sync_xid xid8 not null default pg_current_xact_id()', t);
    execute format('create index %I on pam.%I (user_id, sync_xid)', t || '_user_sync_idx', t);
    execute format('create trigger %I before update on pam.%I for each row execute function pam.sync_touch()',
                   t || '_sync_touch', t);
    execute format('create trigger %I after delete on pam.%I for each row execute function pam.sync_remember_deletion()',
                   t || '_sync_tombstone', t);
  end loop;
end
$$;

-- What the cleanup job removes: answers older than a day, tombstones past the
-- retention (moving the horizon past them).
create function pam.sync_cleanup() returns table (idempotency_keys bigint, tombstones bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  keys bigint;
  gone bigint;
  newest xid8;
begin
  delete from pam.idempotency_keys where created_at < now() - interval '24 hours';
  get diagnostics keys = row_count;
  with t as (delete from pam.sync_tombstones where deleted_at < now() - pam.sync_retention() returning sync_xid)
  select count(*), max(sync_xid) into gone, newest from t;
  if newest is not null then
    update pam.sync_horizon set xid = greatest(xid, newest);
  end if;
  return query select keys, gone;
end
$$;
revoke execute on function pam.sync_cleanup() from public, anon, authenticated;
grant execute on function pam.sync_cleanup() to service_role;
