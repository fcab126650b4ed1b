-- An object's removal and its attachment take turns.
--
-- The sweep (_shared/storage.ts) found the objects no row used, then asked
-- the Storage API to remove them. A write that attached one of them in
-- between (an expense given that receipt again, a document, a post's image)
-- checked that the object was there, committed, and was left pointing at a
-- file removed a moment later.
--
-- Now both sides lock the object's name for their transaction: a write that
-- attaches an object shares the lock while it checks the object and writes
-- its row; the sweep holds it alone from its last check that the object is
-- unused until it has removed it and committed. Each checks in a statement
-- that starts once it has the lock, so it sees what the other committed:
-- the write then finds the object gone (a clear 4xx), or the sweep finds it
-- in use and keeps it. Locks are taken in one order (by key) on both sides.

-- Locks the names of `names` in `bucket` until the end of the transaction,
-- shared (a write attaching them) or alone (the sweep), in the order of their
-- keys on both sides.
create function pam.storage_lock_names(bucket text, names text[], alone boolean) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  k bigint;
begin
  for k in select distinct hashtextextended(bucket || '/' || n, 0) from unnest(names) n order by 1 loop
    if alone then perform pg_advisory_xact_lock(k); else perform pg_advisory_xact_lock_shared(k); end if;
  end loop;
end
$$;

-- The caller's own objects among `names` in `bucket`, under their RLS, each
-- locked (shared) until the end of the transaction that will attach them.
create function pam.storage_own_objects(bucket text, names text[]) returns setof text
language plpgsql volatile security invoker
set search_path = ''
as $$
begin
  perform pam.storage_lock_names(bucket, names, false);
  -- A new statement: its snapshot sees whatever a sweep holding the lock committed.
  return query
    select o.name from storage.objects o
    where o.bucket_id = bucket and o.name = any (names)
      and (storage.foldername(o.name))[1] = (select auth.uid())::text;
end
$$;

-- The names among `names` in `bucket` still unused, each locked alone until
-- the end of the sweep's transaction (which removes them meanwhile).
create function pam.storage_claim_unused(bucket text, names text[]) returns text[]
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  perform pam.storage_lock_names(bucket, names, true);
  return array(select n from unnest(names) n where not pam.storage_object_in_use(bucket, n));
end
$$;

revoke execute on function pam.storage_lock_names(text, text[], boolean), pam.storage_own_objects(text, text[]),
  pam.storage_claim_unused(text, text[]) from public, anon, authenticated;
grant execute on function pam.storage_lock_names(text, text[], boolean), pam.storage_own_objects(text, text[])
  to authenticated, service_role;
grant execute on function pam.storage_claim_unused(text, text[]) to service_role;
