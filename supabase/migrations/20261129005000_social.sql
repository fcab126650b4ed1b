-- Social: groups, posts, comments, likes, friends and reports.
--
-- Unlike the other areas, rows here are shared between users, so RLS decides
-- visibility, not only ownership:
--   - a public post is readable by every signed-in user, a friends post by the
--     author's accepted friends, a group post by the group's members;
--   - a hidden post (moderation) only by its author and the group's moderators;
--   - a private group, and its member list, only by its members (and the group
--     itself by whoever is invited to it);
--   - comments are as visible as their post; likes are private to the liker
--     (posts carry the counts); anon sees nothing (no grants, no policies).
-- The policies read "my groups", "the groups I moderate", "my friends" and
-- "my invitations" through security-definer functions: a policy on
-- group_members that queried group_members would recurse, and wrapped in
-- (select ...) each is computed once per statement, not once per row.

create table pam.groups (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 100),
  description text not null default '' check (char_length(description) <= 2000),
  visibility text not null default 'public' check (visibility in ('public', 'private')),
  member_count integer not null default 0,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default now()
);
comment on table pam.groups is 'Traveller groups: public (anyone joins) or private (by invitation; invisible to others).';
create index groups_created_idx on pam.groups (created_at desc, id desc);
create index groups_owner_idx on pam.groups (owner_id);

create table pam.group_members (
  group_id uuid not null references pam.groups (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'moderator', 'member')),
  joined_at timestamptz not null default clock_timestamp(),
  primary key (group_id, user_id)
);
comment on table pam.group_members is 'Who is in a group, and as what (exactly one owner per group).';
create index group_members_user_idx on pam.group_members (user_id, group_id);
create index group_members_group_joined_idx on pam.group_members (group_id, joined_at, user_id);
create unique index group_members_one_owner on pam.group_members (group_id) where role = 'owner';

create table pam.group_invitations (
  group_id uuid not null references pam.groups (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  invited_by uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (group_id, user_id)
);
comment on table pam.group_invitations is 'Pending invitations to a group: the way into a private one.';
create index group_invitations_user_idx on pam.group_invitations (user_id, created_at desc);

create table pam.friendships (
  id uuid primary key default gen_random_uuid(),
  requester_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  addressee_id uuid not null references auth.users (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'accepted', 'declined')),
  message text not null default '' check (char_length(message) <= 500),
  created_at timestamptz not null default now(),
  responded_at timestamptz,
  constraint friendships_not_self check (requester_id <> addressee_id)
);
comment on table pam.friendships is 'Friend requests and friendships: one row per pair of users, whoever asked.';
create unique index friendships_pair_key
  on pam.friendships (least(requester_id, addressee_id), greatest(requester_id, addressee_id));
create index friendships_requester_idx on pam.friendships (requester_id, status);
create index friendships_addressee_idx on pam.friendships (addressee_id, status);

create function pam.social_valid_tags(tags text[]) returns boolean
language sql immutable parallel safe
set search_path = ''
as $$
  select cardinality(tags) <= 10
    and coalesce(bool_and(t ~ '^[a-z0-9][a-z0-9_-]{0,29}$'), true)
  from unnest(tags) as t
$$;

create function pam.social_valid_urls(urls text[]) returns boolean
language sql immutable parallel safe
set search_path = ''
as $$
  select cardinality(urls) <= 10
    and coalesce(bool_and(char_length(u) <= 2048 and u ~ '^https://[^\s]+$'), true)
  from unnest(urls) as u
$$;

create table pam.posts (
  id uuid primary key default gen_random_uuid(),
  author_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text not null check (char_length(btrim(body)) between 1 and 5000),
  visibility text not null default 'public' check (visibility in ('public', 'friends', 'group')),
  group_id uuid references pam.groups (id) on delete cascade,
  tags text[] not null default '{}' check (pam.social_valid_tags(tags)),
  location_name text check (char_length(location_name) between 1 and 200),
  latitude double precision check (latitude between -90 and 90),
  longitude double precision check (longitude between -180 and 180),
  image_urls text[] not null default '{}' check (pam.social_valid_urls(image_urls)),
  hidden boolean not null default false,
  like_count integer not null default 0,
  comment_count integer not null default 0,
  -- clock_timestamp: the feed's order is when each post was written, not
  -- when its transaction began, so a page boundary sees few late arrivals.
  created_at timestamptz not null default clock_timestamp(),
  edited_at timestamptz,
  constraint posts_group_visibility check ((visibility = 'group') = (group_id is not null)),
  constraint posts_coordinates check ((latitude is null) = (longitude is null))
);
comment on table pam.posts is 'Posts: public, to friends, or in a group; hidden by moderation; counts kept by triggers.';
-- The feed is one walk down this index, newest first, filtered by visibility.
create index posts_feed_idx on pam.posts (created_at desc, id desc) where not hidden;
create index posts_group_idx on pam.posts (group_id, created_at desc, id desc) where group_id is not null;
create index posts_author_idx on pam.posts (author_id, created_at desc, id desc);
create index posts_tags_idx on pam.posts using gin (tags) where not hidden;
create index posts_location_idx on pam.posts
  using gist (extensions.ll_to_earth(latitude, longitude)) where latitude is not null and not hidden;

create table pam.comments (
  id uuid primary key default gen_random_uuid(),
  post_id uuid not null references pam.posts (id) on delete cascade,
  author_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text not null check (char_length(btrim(body)) between 1 and 2000),
  hidden boolean not null default false,
  created_at timestamptz not null default clock_timestamp(),
  edited_at timestamptz
);
comment on table pam.comments is 'Comments on posts: as visible as their post.';
create index comments_post_idx on pam.comments (post_id, created_at, id);
create index comments_author_idx on pam.comments (author_id);

create table pam.post_likes (
  post_id uuid not null references pam.posts (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (post_id, user_id)
);
comment on table pam.post_likes is 'One like per user per post; private to the liker (posts carry like_count).';
create index post_likes_user_idx on pam.post_likes (user_id);

create table pam.reports (
  id uuid primary key default gen_random_uuid(),
  reporter_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  post_id uuid references pam.posts (id) on delete cascade,
  comment_id uuid references pam.comments (id) on delete cascade,
  reason text not null check (reason in ('spam', 'harassment', 'hate', 'violence', 'nudity', 'scam', 'misinformation', 'other')),
  details text not null default '' check (char_length(details) <= 1000),
  status text not null default 'open' check (status in ('open', 'actioned', 'dismissed')),
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  constraint reports_one_target check (num_nonnulls(post_id, comment_id) = 1)
);
comment on table pam.reports is 'Reports of posts and comments, for moderation; one per reporter and target.';
create unique index reports_reporter_post_key on pam.reports (reporter_id, post_id) where post_id is not null;
create unique index reports_reporter_comment_key on pam.reports (reporter_id, comment_id) where comment_id is not null;
create index reports_status_created_idx on pam.reports (status, created_at desc, id desc);
create index reports_post_idx on pam.reports (post_id) where post_id is not null;
create index reports_comment_idx on pam.reports (comment_id) where comment_id is not null;

-- The caller's groups, moderated groups, friends and invitations, for the policies.
create function pam.social_my_groups() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(m.group_id), '{}') from pam.group_members m where m.user_id = (select auth.uid())
$$;

create function pam.social_my_moderated_groups() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(m.group_id), '{}') from pam.group_members m
   where m.user_id = (select auth.uid()) and m.role in ('owner', 'moderator')
$$;

create function pam.social_my_friends() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(f.friend), '{}') from (
    select addressee_id as friend from pam.friendships
     where requester_id = (select auth.uid()) and status = 'accepted'
    union all
    select requester_id from pam.friendships
     where addressee_id = (select auth.uid()) and status = 'accepted'
  ) f
$$;

create function pam.social_my_invitations() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(i.group_id), '{}') from pam.group_invitations i where i.user_id = (select auth.uid())
$$;

revoke execute on function pam.social_my_groups(), pam.social_my_moderated_groups(), pam.social_my_friends(),
  pam.social_my_invitations() from public, anon;
grant execute on function pam.social_my_groups(), pam.social_my_moderated_groups(), pam.social_my_friends(),
  pam.social_my_invitations() to authenticated, service_role;

-- The ids of the shown posts placed within `radius_m` of a point, whoever may
-- see them: the nearby feed selects its posts among these under RLS. As the
-- definer, so that posts_location_idx answers the box: under RLS a
-- condition that is not leakproof (earthdistance's cube operators are not)
-- cannot become an index condition, and the search would read every post.
create function pam.social_posts_near(lat double precision, lng double precision, radius_m double precision)
returns uuid[]
language sql stable security definer
set search_path = ''
as $$
  select coalesce(array_agg(n.id), '{}') from pam.posts n
   where not n.hidden and n.latitude is not null
     and extensions.earth_box(extensions.ll_to_earth(lat, lng), radius_m)
         operator(extensions.@>) extensions.ll_to_earth(n.latitude, n.longitude)
     and extensions.earth_distance(extensions.ll_to_earth(lat, lng), extensions.ll_to_earth(n.latitude, n.longitude)) <= radius_m
$$;
revoke execute on function pam.social_posts_near(double precision, double precision, double precision) from public, anon;
grant execute on function pam.social_posts_near(double precision, double precision, double precision) to authenticated, service_role;

-- Display names: the community shows authors by name (never by email).
-- A definer view over the owner-only profiles, with the public columns only.
create view pam.social_profiles with (security_barrier) as
  select p.id, p.full_name as name from pam.profiles p;
comment on view pam.social_profiles is 'The name every signed-in user may see of every other (never the email).';

-- Finding someone to befriend or invite by email: the id of the account
-- with exactly this address (case-insensitive), never the other way round.
create function pam.social_user_by_email(address text) returns uuid
language sql stable security definer
set search_path = ''
as $$
  select p.id from pam.profiles p where lower(p.email) = lower(btrim(address)) limit 1
$$;
revoke execute on function pam.social_user_by_email(text) from public, anon;
grant execute on function pam.social_user_by_email(text) to authenticated, service_role;
create index profiles_email_lower_idx on pam.profiles (lower(email));

-- Triggers ----------------------------------------------------------------

create trigger groups_set_updated_at before update on pam.groups
  for each row execute function pam.set_updated_at();

-- The creator becomes the owner member (definer: the membership policies
-- let users add only themselves as plain members).
create function pam.social_group_created() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into pam.group_members (group_id, user_id, role) values (new.id, new.owner_id, 'owner');
  return null;
end
$$;
create trigger groups_add_owner after insert on pam.groups
  for each row execute function pam.social_group_created();

-- Joining uses up the invitation; member_count follows the members.
create function pam.social_membership_changed() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    delete from pam.group_invitations where group_id = new.group_id and user_id = new.user_id;
    update pam.groups set member_count = member_count + 1 where id = new.group_id;
  else
    update pam.groups set member_count = member_count - 1 where id = old.group_id;
  end if;
  return null;
end
$$;
create trigger group_members_changed after insert or delete on pam.group_members
  for each row execute function pam.social_membership_changed();

-- A member's role is not the owner's to give (one owner per group), and the
-- owner's own row does not change.
create function pam.social_member_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('authenticated', 'anon') and (new.role = 'owner' or old.role = 'owner') then
    raise exception 'the owner''s membership does not change' using errcode = '42501';
  end if;
  return new;
end
$$;
create trigger group_members_guard before update on pam.group_members
  for each row execute function pam.social_member_guard();

-- Authors edit content; only the group's moderators hide or unhide. Edits
-- stamp edited_at. The rules bind users (the roles authenticated and anon);
-- the counter triggers below (security definer) and the service role pass.
create function pam.social_post_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  content_changed boolean := (new.body, new.tags, new.location_name, new.latitude, new.longitude, new.image_urls, new.visibility)
    is distinct from (old.body, old.tags, old.location_name, old.latitude, old.longitude, old.image_urls, old.visibility);
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
create trigger posts_guard before update on pam.posts
  for each row execute function pam.social_post_guard();

create function pam.social_comment_edited() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.body is distinct from old.body then new.edited_at := clock_timestamp(); end if;
  return new;
end
$$;
create trigger comments_edited before update on pam.comments
  for each row execute function pam.social_comment_edited();

-- A social notification for `recipient` unless they caused it themselves.
create function pam.social_notify(recipient uuid, actor uuid, title text, body text, data jsonb, dedupe text)
returns void
language sql security definer
set search_path = ''
as $$
  insert into pam.notifications (user_id, kind, title, body, data, dedupe_key)
  select recipient, 'social', left(title, 200), left(body, 2000), data, dedupe
   where recipient <> actor
  on conflict (user_id, dedupe_key) do nothing
$$;

create function pam.social_name(who uuid) returns text
language sql stable security definer
set search_path = ''
as $$
  select coalesce(nullif(btrim(p.full_name), ''), 'A traveller') from pam.profiles p where p.id = who
$$;

create function pam.social_like_changed() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  author uuid;
begin
  if tg_op = 'INSERT' then
    update pam.posts set like_count = like_count + 1 where id = new.post_id returning author_id into author;
    perform pam.social_notify(author, new.user_id, pam.social_name(new.user_id) || ' liked your post', '',
      jsonb_build_object('type', 'like', 'post_id', new.post_id, 'user_id', new.user_id),
      'like:' || new.post_id || ':' || new.user_id);
  else
    update pam.posts set like_count = like_count - 1 where id = old.post_id;
  end if;
  return null;
end
$$;
create trigger post_likes_changed after insert or delete on pam.post_likes
  for each row execute function pam.social_like_changed();

create function pam.social_comment_changed() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  author uuid;
  before_visible boolean := tg_op <> 'INSERT' and not old.hidden;
  after_visible boolean := tg_op <> 'DELETE' and not new.hidden;
begin
  if before_visible <> after_visible then
    update pam.posts set comment_count = comment_count + case when after_visible then 1 else -1 end
     where id = coalesce(new.post_id, old.post_id)
    returning author_id into author;
  end if;
  if tg_op = 'INSERT' then
    perform pam.social_notify(author, new.author_id, pam.social_name(new.author_id) || ' commented on your post',
      left(new.body, 200),
      jsonb_build_object('type', 'comment', 'post_id', new.post_id, 'comment_id', new.id, 'user_id', new.author_id),
      'comment:' || new.id);
  end if;
  return null;
end
$$;
create trigger comments_changed after insert or delete or update of hidden on pam.comments
  for each row execute function pam.social_comment_changed();

create function pam.social_friendship_changed() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if new.status = 'pending' and (tg_op = 'INSERT' or old.status <> 'pending' or old.requester_id <> new.requester_id) then
    perform pam.social_notify(new.addressee_id, new.requester_id,
      pam.social_name(new.requester_id) || ' wants to be your friend', new.message,
      jsonb_build_object('type', 'friend_request', 'request_id', new.id, 'user_id', new.requester_id),
      'friend_request:' || new.id || ':' || new.requester_id || ':' || extract(epoch from new.created_at));
  elsif tg_op = 'UPDATE' and new.status = 'accepted' and old.status <> 'accepted' then
    perform pam.social_notify(new.requester_id, new.addressee_id,
      pam.social_name(new.addressee_id) || ' accepted your friend request', '',
      jsonb_build_object('type', 'friend_accepted', 'user_id', new.addressee_id),
      'friend_accepted:' || new.id);
  end if;
  return null;
end
$$;
create trigger friendships_changed after insert or update on pam.friendships
  for each row execute function pam.social_friendship_changed();

create function pam.social_invited() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform pam.social_notify(new.user_id, new.invited_by,
    pam.social_name(new.invited_by) || ' invited you to ' || (select g.name from pam.groups g where g.id = new.group_id), '',
    jsonb_build_object('type', 'group_invitation', 'group_id', new.group_id, 'user_id', new.invited_by),
    'group_invitation:' || new.group_id || ':' || extract(epoch from new.created_at));
  return null;
end
$$;
create trigger group_invitations_notify after insert on pam.group_invitations
  for each row execute function pam.social_invited();

-- A group outlives its owner's account: before the account goes, each group
-- they own passes to its longest-standing moderator, else member (a group
-- with nobody else goes with the account, by the cascade).
create function pam.social_hand_over_groups() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  g record;
begin
  for g in
    select distinct on (m.group_id) m.group_id, m.user_id as successor
      from pam.groups gr join pam.group_members m on m.group_id = gr.id and m.user_id <> old.id
     where gr.owner_id = old.id
     order by m.group_id, (m.role = 'moderator') desc, m.joined_at, m.user_id
  loop
    update pam.group_members set role = 'member' where group_id = g.group_id and user_id = old.id;
    update pam.group_members set role = 'owner' where group_id = g.group_id and user_id = g.successor;
    update pam.groups set owner_id = g.successor where id = g.group_id;
  end loop;
  return old;
end
$$;
create trigger social_hand_over_groups before delete on auth.users
  for each row execute function pam.social_hand_over_groups();

revoke execute on function pam.social_hand_over_groups(), pam.social_group_created(), pam.social_membership_changed(), pam.social_member_guard(),
  pam.social_post_guard(), pam.social_comment_edited(), pam.social_notify(uuid, uuid, text, text, jsonb, text),
  pam.social_name(uuid), pam.social_like_changed(), pam.social_comment_changed(), pam.social_friendship_changed(),
  pam.social_invited() from public, anon, authenticated;

-- Row-level security ------------------------------------------------------

alter table pam.groups enable row level security;
alter table pam.group_members enable row level security;
alter table pam.group_invitations enable row level security;
alter table pam.friendships enable row level security;
alter table pam.posts enable row level security;
alter table pam.comments enable row level security;
alter table pam.post_likes enable row level security;
alter table pam.reports enable row level security;

create policy groups_select_visible on pam.groups for select to authenticated using (
  visibility = 'public'
  or owner_id = (select auth.uid())
  or id = any ((select pam.social_my_groups())::uuid[])
  or id = any ((select pam.social_my_invitations())::uuid[])
);
create policy groups_insert_own on pam.groups for insert to authenticated
  with check (owner_id = (select auth.uid()));
create policy groups_update_owner on pam.groups for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy groups_delete_owner on pam.groups for delete to authenticated
  using (owner_id = (select auth.uid()));

-- The groups policy inside the subquery: a public group's members are listed to everyone signed in.
create policy group_members_select_visible on pam.group_members for select to authenticated using (
  user_id = (select auth.uid())
  or group_id = any ((select pam.social_my_groups())::uuid[])
  or exists (select 1 from pam.groups g where g.id = group_id and g.visibility = 'public')
);
-- Joining: yourself, as a plain member, of a public group or one you are invited to.
create policy group_members_insert_join on pam.group_members for insert to authenticated with check (
  user_id = (select auth.uid()) and role = 'member'
  and (
    exists (select 1 from pam.groups g where g.id = group_id and g.visibility = 'public')
    or group_id = any ((select pam.social_my_invitations())::uuid[])
  )
);
-- Roles are the owner's to change (the guard keeps the owner's own row).
create policy group_members_update_owner on pam.group_members for update to authenticated
  using (exists (select 1 from pam.groups g where g.id = group_id and g.owner_id = (select auth.uid())))
  with check (exists (select 1 from pam.groups g where g.id = group_id and g.owner_id = (select auth.uid())));
-- Leaving (not the owner), or removing: the owner removes anyone else, moderators remove members.
create policy group_members_delete on pam.group_members for delete to authenticated using (
  (user_id = (select auth.uid()) and role <> 'owner')
  or (user_id <> (select auth.uid()) and exists (select 1 from pam.groups g where g.id = group_id and g.owner_id = (select auth.uid())))
  or (role = 'member' and group_id = any ((select pam.social_my_moderated_groups())::uuid[]))
);

create policy group_invitations_select on pam.group_invitations for select to authenticated using (
  user_id = (select auth.uid()) or group_id = any ((select pam.social_my_moderated_groups())::uuid[])
);
create policy group_invitations_insert_moderator on pam.group_invitations for insert to authenticated with check (
  invited_by = (select auth.uid()) and group_id = any ((select pam.social_my_moderated_groups())::uuid[])
);
create policy group_invitations_delete on pam.group_invitations for delete to authenticated using (
  user_id = (select auth.uid()) or group_id = any ((select pam.social_my_moderated_groups())::uuid[])
);

create policy friendships_select_party on pam.friendships for select to authenticated using (
  (select auth.uid()) in (requester_id, addressee_id)
);
create policy friendships_insert_request on pam.friendships for insert to authenticated with check (
  requester_id = (select auth.uid()) and status = 'pending'
);
-- The addressee answers (accept, decline), or turns a request they declined
-- into one of their own; the requester cannot accept for them.
create policy friendships_update_addressee on pam.friendships for update to authenticated
  using (addressee_id = (select auth.uid()))
  with check (
    (addressee_id = (select auth.uid()) and status in ('accepted', 'declined'))
    or (requester_id = (select auth.uid()) and status = 'pending')
  );
create policy friendships_delete_party on pam.friendships for delete to authenticated using (
  (select auth.uid()) in (requester_id, addressee_id)
);

create policy posts_select_visible on pam.posts for select to authenticated using (
  author_id = (select auth.uid())
  or (not hidden and (
    visibility = 'public'
    or (visibility = 'group' and group_id = any ((select pam.social_my_groups())::uuid[]))
    or (visibility = 'friends' and author_id = any ((select pam.social_my_friends())::uuid[]))
  ))
  or (hidden and group_id = any ((select pam.social_my_moderated_groups())::uuid[]))
);
create policy posts_insert_own on pam.posts for insert to authenticated with check (
  author_id = (select auth.uid())
  and (group_id is null or group_id = any ((select pam.social_my_groups())::uuid[]))
);
create policy posts_update_author_or_moderator on pam.posts for update to authenticated
  using (author_id = (select auth.uid()) or group_id = any ((select pam.social_my_moderated_groups())::uuid[]))
  with check (author_id = (select auth.uid()) or group_id = any ((select pam.social_my_moderated_groups())::uuid[]));
create policy posts_delete_author on pam.posts for delete to authenticated
  using (author_id = (select auth.uid()));

-- The post's visibility comes from the posts policy inside the subquery.
create policy comments_select_visible on pam.comments for select to authenticated using (
  exists (select 1 from pam.posts p where p.id = post_id)
  and (
    not hidden or author_id = (select auth.uid())
    or exists (select 1 from pam.posts p where p.id = post_id and p.group_id = any ((select pam.social_my_moderated_groups())::uuid[]))
  )
);
create policy comments_insert_own on pam.comments for insert to authenticated with check (
  author_id = (select auth.uid()) and exists (select 1 from pam.posts p where p.id = post_id)
);
create policy comments_update_author on pam.comments for update to authenticated
  using (author_id = (select auth.uid())) with check (author_id = (select auth.uid()));
create policy comments_delete_author on pam.comments for delete to authenticated
  using (author_id = (select auth.uid()));

create policy post_likes_select_own on pam.post_likes for select to authenticated
  using (user_id = (select auth.uid()));
create policy post_likes_insert_visible on pam.post_likes for insert to authenticated with check (
  user_id = (select auth.uid()) and exists (select 1 from pam.posts p where p.id = post_id)
);
create policy post_likes_delete_own on pam.post_likes for delete to authenticated
  using (user_id = (select auth.uid()));

create policy reports_select_own on pam.reports for select to authenticated
  using (reporter_id = (select auth.uid()));
create policy reports_insert_visible on pam.reports for insert to authenticated with check (
  reporter_id = (select auth.uid())
  and (
    (post_id is not null and exists (select 1 from pam.posts p where p.id = post_id))
    or (comment_id is not null and exists (select 1 from pam.comments c where c.id = comment_id))
  )
);

revoke all on pam.groups, pam.group_members, pam.group_invitations, pam.friendships, pam.posts, pam.comments,
  pam.post_likes, pam.reports, pam.social_profiles from public, anon, authenticated;
grant all on pam.groups, pam.group_members, pam.group_invitations, pam.friendships, pam.posts, pam.comments,
  pam.post_likes, pam.reports, pam.social_profiles to service_role;

-- What users may write, column by column: never the counters, the owner, or
-- a moderation flag they do not own.
grant select, delete on pam.groups to authenticated;
grant insert (id, name, description, visibility) on pam.groups to authenticated;
grant update (name, description, visibility) on pam.groups to authenticated;
grant select, delete on pam.group_members to authenticated;
grant insert (group_id, user_id) on pam.group_members to authenticated;
grant update (role) on pam.group_members to authenticated;
grant select, delete on pam.group_invitations to authenticated;
grant insert (group_id, user_id) on pam.group_invitations to authenticated;
grant select, delete on pam.friendships to authenticated;
grant insert (id, addressee_id, message) on pam.friendships to authenticated;
grant update (requester_id, addressee_id, status, message, created_at, responded_at) on pam.friendships to authenticated;
grant select, delete on pam.posts to authenticated;
grant insert (id, body, visibility, group_id, tags, location_name, latitude, longitude, image_urls) on pam.posts to authenticated;
grant update (body, visibility, tags, location_name, latitude, longitude, image_urls, hidden) on pam.posts to authenticated;
grant select, delete on pam.comments to authenticated;
grant insert (id, post_id, body) on pam.comments to authenticated;
grant update (body) on pam.comments to authenticated;
grant select, delete on pam.post_likes to authenticated;
grant insert (post_id) on pam.post_likes to authenticated;
grant select on pam.reports to authenticated;
grant insert (id, post_id, comment_id, reason, details) on pam.reports to authenticated;
grant select on pam.social_profiles to authenticated;
