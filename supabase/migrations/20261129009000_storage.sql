-- Storage: the buckets PAM's files live in, and the policies on
-- storage.objects that decide every read and write of them. Hosted Supabase
-- Storage (and the local stand-in, scripts/local/storage.ts) asks each
-- question of storage.objects under the caller's role, so these policies are
-- the whole of the access rules, here and there alike.
--
-- Every object name starts with its owner's user id: `<user id>/…`. Who may
-- do what:
--   receipts        the owner only (a receipt photo or PDF per expense)
--   documents       the owner only (registration, insurance, licences)
--   vehicle-photos  `<user id>/<vehicle id>/…`: the owner, and the owner's
--                   accepted friends while the vehicle exists. A vehicle's row
--                   is the owner's alone; what the community sees of a
--                   traveller beyond their name is what they share with
--                   friends (a friends post), and a rig photo (number plate,
--                   where it is parked) is that kind of thing. Uploads need
--                   the vehicle to be the uploader's.
--   post-images     the author, and whoever may see a post that shows the
--                   image: the posts policy itself decides (public, friends,
--                   group, hidden), through a lookup of the posts naming it.
--   avatars         a public bucket: anyone reads an avatar by its public URL
--                   (/object/public/avatars/…); listing, and every write, are
--                   the owner's.
-- Anonymous callers have no policy at all: they see nothing of a private
-- bucket. The service role (jobs, functions removing what a deleted row
-- leaves behind) bypasses RLS.
--
-- Only `create policy` and rows of storage.buckets here: on hosted Supabase
-- the storage tables belong to the platform (`alter table storage.objects`
-- and `comment on policy` are refused), and RLS is on already.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values
  ('receipts', 'receipts', false, 10485760, array['image/jpeg', 'image/png', 'image/webp', 'application/pdf']),
  ('documents', 'documents', false, 20971520,
    array['application/pdf', 'image/jpeg', 'image/png', 'image/webp', 'image/heic']),
  ('vehicle-photos', 'vehicle-photos', false, 10485760, array['image/jpeg', 'image/png', 'image/webp']),
  ('post-images', 'post-images', false, 10485760, array['image/jpeg', 'image/png', 'image/webp']),
  ('avatars', 'avatars', true, 2097152, array['image/jpeg', 'image/png', 'image/webp'])
on conflict (id) do update
  set name = excluded.name, public = excluded.public, file_size_limit = excluded.file_size_limit,
      allowed_mime_types = excluded.allowed_mime_types, updated_at = now();

-- Posts show images from post-images by object name, besides (or instead of)
-- image URLs elsewhere; at most 10 images a post in all.
create function pam.social_valid_image_paths(paths text[], author uuid) returns boolean
language sql immutable parallel safe
set search_path = ''
as $$
  select cardinality(paths) <= 10
    and coalesce(bool_and(char_length(p) <= 1024 and split_part(p, '/', 1) = author::text
      and p ~ '^[0-9a-f-]{36}/[A-Za-z0-9_/!.*''() &$=@;:+,?-]+$'), true)
  from unnest(paths) as p
$$;
alter table pam.posts add column image_paths text[] not null default '{}';
alter table pam.posts add constraint posts_image_paths_check check (pam.social_valid_image_paths(image_paths, author_id));
alter table pam.posts add constraint posts_images_limit check (cardinality(image_urls) + cardinality(image_paths) <= 10);
create index posts_image_paths_idx on pam.posts using gin (image_paths) where image_paths <> '{}';
grant insert (image_paths), update (image_paths) on pam.posts to authenticated;

-- Text as a uuid, or null when it is not one (object names are free text).
create function pam.storage_uuid(value text) returns uuid
language sql immutable parallel safe
set search_path = ''
as $$
  select case when value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then value::uuid end
$$;

-- The caller's vehicles, and their friends', as the folders their photos
-- live in (`<user id>/<vehicle id>`). Definer, and wrapped in (select …) in
-- the policies: computed once per statement, not once per object.
create function pam.storage_my_vehicle_folders() returns text[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(v.user_id::text || '/' || v.id::text), '{}')
  from pam.vehicles v where v.user_id = (select auth.uid())
$$;

create function pam.storage_friend_vehicle_folders() returns text[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(v.user_id::text || '/' || v.id::text), '{}')
  from pam.vehicles v where v.user_id = any (pam.social_my_friends())
$$;

-- The posts that show an image, whoever may see them: the policy then looks
-- them up by id under the posts policy. As the definer so that the image
-- index answers (`@>` is not leakproof: under RLS it could not use it, and
-- each object would read every post the caller may see).
create function pam.storage_posts_showing(object_name text) returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(p.id), '{}') from pam.posts p where p.image_paths @> array[object_name]
$$;


-- An edit of a post's images is an edit (edited_at), by its author only.
create or replace function pam.social_post_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  content_changed boolean :=
    (new.body, new.tags, new.location_name, new.latitude, new.longitude, new.image_urls, new.image_paths, new.visibility)
    is distinct from
    (old.body, old.tags, old.location_name, old.latitude, old.longitude, old.image_urls, old.image_paths, old.visibility);
begin
  if current_user not in ('authenticated', 'anon') then
    if content_changed then new.edited_at := clock_timestamp(); end if;
    return new;
  end if;
  if content_changed then
    if old.author_id is distinct from me then
      raise exception 'only the author edits a post' using errcode = '42501';
    end if;
    new.edited_at := clock_timestamp();
  end if;
  if new.hidden is distinct from old.hidden
     and not (old.group_id is not null and old.group_id = any (pam.social_my_moderated_groups())) then
    raise exception 'only the group''s moderators hide or unhide a post' using errcode = '42501';
  end if;
  return new;
end
$$;

revoke execute on function pam.storage_uuid(text), pam.storage_my_vehicle_folders(),
  pam.storage_friend_vehicle_folders(), pam.storage_posts_showing(text), pam.social_valid_image_paths(text[], uuid)
  from public, anon;
grant execute on function pam.storage_uuid(text), pam.storage_my_vehicle_folders(),
  pam.storage_friend_vehicle_folders(), pam.storage_posts_showing(text), pam.social_valid_image_paths(text[], uuid)
  to authenticated, service_role;

-- Policies ------------------------------------------------------------------

-- receipts and documents: the owner's folder, every operation.
create policy receipts_select_own on storage.objects for select to authenticated
  using (bucket_id = 'receipts' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy receipts_insert_own on storage.objects for insert to authenticated
  with check (bucket_id = 'receipts' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy receipts_update_own on storage.objects for update to authenticated
  using (bucket_id = 'receipts' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'receipts' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy receipts_delete_own on storage.objects for delete to authenticated
  using (bucket_id = 'receipts' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy documents_select_own on storage.objects for select to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy documents_insert_own on storage.objects for insert to authenticated
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy documents_update_own on storage.objects for update to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy documents_delete_own on storage.objects for delete to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- vehicle-photos: written into one of one's own vehicles' folders; read by
-- the owner, and by the owner's friends while the vehicle exists.
create policy vehicle_photos_select_visible on storage.objects for select to authenticated using (
  bucket_id = 'vehicle-photos' and (
    (storage.foldername(name))[1] = (select auth.uid())::text
    or (storage.foldername(name))[1] || '/' || (storage.foldername(name))[2]
      = any ((select pam.storage_friend_vehicle_folders())::text[])
  )
);
create policy vehicle_photos_insert_own_vehicle on storage.objects for insert to authenticated with check (
  bucket_id = 'vehicle-photos'
  and (storage.foldername(name))[1] || '/' || (storage.foldername(name))[2]
    = any ((select pam.storage_my_vehicle_folders())::text[])
);
create policy vehicle_photos_update_own on storage.objects for update to authenticated
  using (bucket_id = 'vehicle-photos' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (
    bucket_id = 'vehicle-photos'
    and (storage.foldername(name))[1] || '/' || (storage.foldername(name))[2]
      = any ((select pam.storage_my_vehicle_folders())::text[])
  );
create policy vehicle_photos_delete_own on storage.objects for delete to authenticated
  using (bucket_id = 'vehicle-photos' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- post-images: the author's; read by whoever may see a post showing it.
create policy post_images_select_visible on storage.objects for select to authenticated using (
  bucket_id = 'post-images' and (
    (storage.foldername(name))[1] = (select auth.uid())::text
    or exists (select 1 from pam.posts p where p.id = any (pam.storage_posts_showing(name)))
  )
);
create policy post_images_insert_own on storage.objects for insert to authenticated
  with check (bucket_id = 'post-images' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy post_images_update_own on storage.objects for update to authenticated
  using (bucket_id = 'post-images' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'post-images' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy post_images_delete_own on storage.objects for delete to authenticated
  using (bucket_id = 'post-images' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- avatars: public URLs for everyone (the bucket is public); the rest is the owner's.
create policy avatars_select_own on storage.objects for select to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy avatars_insert_own on storage.objects for insert to authenticated
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy avatars_update_own on storage.objects for update to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy avatars_delete_own on storage.objects for delete to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- Receipts on expenses ------------------------------------------------------

-- An expense links its receipt by object name in `receipts` (the caller's
-- own, which the function checks exists); receipt_url stays for links elsewhere.
alter table pam.expenses add column receipt_path text;
alter table pam.expenses add constraint expenses_receipt_path_check check (
  receipt_path is null or (char_length(receipt_path) <= 1024 and split_part(receipt_path, '/', 1) = user_id::text)
);
create index expenses_receipt_path_idx on pam.expenses (receipt_path) where receipt_path is not null;

-- Documents -----------------------------------------------------------------

create table pam.documents (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  kind text not null check (kind in ('registration', 'insurance', 'licence', 'other')),
  title text not null check (char_length(btrim(title)) between 1 and 200),
  -- The scan or photo in `documents` (the owner's object), if there is one.
  object_path text check (
    object_path is null or (char_length(object_path) <= 1024 and split_part(object_path, '/', 1) = user_id::text)
  ),
  -- A policy, registration or licence number.
  reference text check (char_length(reference) between 1 and 100),
  expires_on date check (expires_on between '1970-01-01' and '2100-12-31'),
  vehicle_id uuid,
  notes text not null default '' check (char_length(notes) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint documents_vehicle_fkey foreign key (vehicle_id, user_id)
    references pam.vehicles (id, user_id) on delete set null (vehicle_id)
);
comment on table pam.documents is 'A traveller''s papers: registration, insurance, licences; a scan in storage, an expiry date.';
create index documents_user_created_idx on pam.documents (user_id, created_at desc, id desc);
create index documents_expires_idx on pam.documents (expires_on) where expires_on is not null;
create index documents_object_path_idx on pam.documents (object_path) where object_path is not null;
create index documents_vehicle_idx on pam.documents (vehicle_id) where vehicle_id is not null;
create trigger documents_set_updated_at before update on pam.documents
  for each row execute function pam.set_updated_at();

-- At most 200 documents a traveller, counted under a per-user lock (as wins_limits does).
create function pam.documents_limit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(hashtext('pam.documents'), hashtext(new.user_id::text));
  if (select count(*) from pam.documents d where d.user_id = new.user_id) >= 200 then
    raise exception 'at most 200 documents' using errcode = 'check_violation', constraint = 'documents_limit';
  end if;
  return new;
end
$$;
revoke execute on function pam.documents_limit() from public, anon, authenticated;
create trigger documents_limit before insert on pam.documents
  for each row execute function pam.documents_limit();

alter table pam.documents enable row level security;
create policy documents_select_own on pam.documents for select to authenticated using ((select auth.uid()) = user_id);
create policy documents_insert_own on pam.documents for insert to authenticated with check ((select auth.uid()) = user_id);
create policy documents_update_own on pam.documents for update to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy documents_delete_own on pam.documents for delete to authenticated using ((select auth.uid()) = user_id);
revoke all on pam.documents from public, anon, authenticated;
grant all on pam.documents to service_role;
grant select, delete on pam.documents to authenticated;
grant insert (id, user_id, kind, title, object_path, reference, expires_on, vehicle_id, notes) on pam.documents to authenticated;
grant update (kind, title, object_path, reference, expires_on, vehicle_id, notes) on pam.documents to authenticated;

-- Expiry reminders (the document-reminders job) are notifications of their own kind.
alter table pam.notifications drop constraint notifications_kind_check;
alter table pam.notifications add constraint notifications_kind_check
  check (kind in ('maintenance_due', 'budget_threshold', 'report_ready', 'social', 'event_reminder', 'document_expiring'));

-- Objects left behind --------------------------------------------------------

-- An object whose row is gone is removed through the Storage API (rows of
-- storage.objects are never deleted with SQL: the file would stay behind).
-- What a write leaves behind is queued here in the write's own transaction
-- — a deleted expense's or document's file, a replaced one, every object of a
-- deleted account — and removed after the commit by the function that made
-- the write (as the service role); the cleanup job removes whatever is still
-- queued, and objects no row uses a week after their upload (one never
-- attached, a deleted vehicle's photos, a deleted post's images).
create table pam.storage_removals (
  bucket_id text not null,
  name text not null,
  -- Whose folder: no foreign key, the queue outlives a deleted account.
  user_id uuid,
  queued_at timestamptz not null default now(),
  primary key (bucket_id, name)
);
comment on table pam.storage_removals is 'Objects whose row is gone, to remove through the Storage API.';
create index storage_removals_user_idx on pam.storage_removals (user_id);
create index storage_removals_queued_idx on pam.storage_removals (queued_at);
alter table pam.storage_removals enable row level security;
revoke all on pam.storage_removals from public, anon, authenticated;
grant all on pam.storage_removals to service_role;

-- A row's file (bucket tg_argv[0], the column named tg_argv[1]) deleted or replaced.
create function pam.storage_queue_file() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into pam.storage_removals (bucket_id, name, user_id)
  values (tg_argv[0], to_jsonb(old) ->> tg_argv[1], old.user_id)
  on conflict do nothing;
  return null;
end
$$;
create trigger expenses_receipt_deleted after delete on pam.expenses
  for each row when (old.receipt_path is not null) execute function pam.storage_queue_file('receipts', 'receipt_path');
create trigger expenses_receipt_replaced after update of receipt_path on pam.expenses
  for each row when (old.receipt_path is not null and old.receipt_path is distinct from new.receipt_path)
  execute function pam.storage_queue_file('receipts', 'receipt_path');
create trigger documents_file_deleted after delete on pam.documents
  for each row when (old.object_path is not null) execute function pam.storage_queue_file('documents', 'object_path');
create trigger documents_file_replaced after update of object_path on pam.documents
  for each row when (old.object_path is not null and old.object_path is distinct from new.object_path)
  execute function pam.storage_queue_file('documents', 'object_path');

-- A deleted account: every object in its folders, in every bucket.
create function pam.storage_queue_account() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A literal prefix, so that the name index answers the LIKE.
  execute format(
    'insert into pam.storage_removals (bucket_id, name, user_id)
     select o.bucket_id, o.name, %L::uuid from storage.objects o
     where o.name like %L and o.bucket_id = any (%L::text[])
     on conflict do nothing',
    old.id, old.id::text || '/%', array['receipts', 'documents', 'vehicle-photos', 'post-images', 'avatars']);
  return null;
end
$$;
create trigger storage_queue_account after delete on auth.users
  for each row execute function pam.storage_queue_account();

-- Whether a row still uses an object (a queued one may have been linked again since).
create function pam.storage_object_in_use(bucket text, object_name text) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select case bucket
    when 'receipts' then exists (select 1 from pam.expenses e where e.receipt_path = object_name)
    when 'documents' then exists (select 1 from pam.documents d where d.object_path = object_name)
    when 'post-images' then exists (select 1 from pam.posts p where p.image_paths @> array[object_name])
    when 'vehicle-photos' then exists (
      select 1 from pam.vehicles v
      where v.id = pam.storage_uuid(split_part(object_name, '/', 2))
        and v.user_id = pam.storage_uuid(split_part(object_name, '/', 1)))
    when 'avatars' then exists (select 1 from auth.users u where u.id = pam.storage_uuid(split_part(object_name, '/', 1)))
    else true
  end
$$;

-- What to remove now: queued objects no row uses (of one user, or everyone's
-- when `for_user` is null), then, for the cleanup job (`grace` given), objects
-- in PAM's buckets older than `grace` that no row uses.
create function pam.storage_removable(for_user uuid, grace interval, max_rows integer)
returns table (bucket_id text, name text, queued boolean)
language sql stable security definer
set search_path = ''
as $$
  (select r.bucket_id, r.name, true from pam.storage_removals r
    where (for_user is null or r.user_id = for_user) and not pam.storage_object_in_use(r.bucket_id, r.name)
    order by r.queued_at limit max_rows)
  union all
  (select o.bucket_id, o.name, false from storage.objects o
    where grace is not null
      and o.bucket_id = any (array['receipts', 'documents', 'vehicle-photos', 'post-images', 'avatars'])
      and o.created_at < now() - grace
      and not exists (select 1 from pam.storage_removals r where r.bucket_id = o.bucket_id and r.name = o.name)
      and not pam.storage_object_in_use(o.bucket_id, o.name)
    limit max_rows)
$$;

-- The queued objects no row uses any more that the Storage API did not find or has removed.
create function pam.storage_removed(bucket text, names text[]) returns integer
language sql volatile security definer
set search_path = ''
as $$
  with gone as (
    delete from pam.storage_removals r where r.bucket_id = bucket and r.name = any (names)
      and not pam.storage_object_in_use(r.bucket_id, r.name)
    returning 1
  )
  select count(*)::int from gone
$$;

revoke execute on function pam.storage_queue_file(), pam.storage_queue_account(), pam.documents_limit(),
  pam.storage_object_in_use(text, text), pam.storage_removable(uuid, interval, integer), pam.storage_removed(text, text[])
  from public, anon, authenticated;
grant execute on function pam.storage_object_in_use(text, text), pam.storage_removable(uuid, interval, integer),
  pam.storage_removed(text, text[]) to service_role;
