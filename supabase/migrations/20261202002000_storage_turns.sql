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
-- the write then finds the object gone and is refused as any write naming a
-- missing file is, or the sweep finds it in use and keeps it. The sweep
-- never waits for a name: one a write holds is left for its next run. So
-- only writes wait, for a sweep, and no two transactions can wait for each
-- other, whatever order their names come in.

-- The key a name is locked by.
create function pam.storage_name_key(bucket text, object_name text) returns bigint
language sql immutable parallel safe
set search_path = ''
as $$ select hashtextextended(bucket || '/' || object_name, 0) $$;

-- The caller's own objects among `names` in `bucket`, under their RLS, each
-- locked (shared) until the end of the transaction that will attach them.
create function pam.storage_own_objects(bucket text, names text[]) returns setof text
language plpgsql volatile security invoker
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock_shared(pam.storage_name_key(bucket, n)) from unnest(names) n;
  -- A new statement: its snapshot sees whatever a sweep holding the lock committed.
  return query
    select o.name from storage.objects o
    where o.bucket_id = bucket and o.name = any (names)
      and (storage.foldername(o.name))[1] = (select auth.uid())::text;
end
$$;

-- The names among `names` in `bucket` still unused, each locked alone until
-- the end of the sweep's transaction (which removes them meanwhile); a name
-- a write holds now is not among them.
create function pam.storage_claim_unused(bucket text, names text[]) returns text[]
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  free text[] := array(select n from unnest(names) n where pg_try_advisory_xact_lock(pam.storage_name_key(bucket, n)));
begin
  return array(select n from unnest(free) n where not pam.storage_object_in_use(bucket, n));
end
$$;

revoke execute on function pam.storage_name_key(text, text), pam.storage_own_objects(text, text[]),
  pam.storage_claim_unused(text, text[]) from public, anon, authenticated;
grant execute on function pam.storage_name_key(text, text), pam.storage_own_objects(text, text[])
  to authenticated, service_role;
grant execute on function pam.storage_claim_unused(text, text[]) to service_role;
