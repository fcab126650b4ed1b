-- Two rules the database now holds users to, found by review.
--
-- 1. A post the platform's moderators hid stays hidden. The admin portal's
--    report action (hide, or suspend the author) set the same `hidden` flag a
--    group's moderators set, so the group's owner or moderators could show the
--    post again (POST /social/posts/{id}/unhide, or an update under RLS), the
--    reports stayed "actioned", and their reporters could not report it again.
--    The action now stamps admin_hidden_at, and no user, the group's
--    moderators included, hides or unhides such a post; the service role
--    still may (showing it clears the stamp).
-- 2. A friendship stays between the two people who made it. The update policy
--    cannot see the row before the update, so the addressee of a request could
--    rewrite its requester_id and accept it: a friendship with anyone, without
--    their consent, and with it their friends-only posts and vehicle photos.
--    A user's update now keeps the two people and changes only what the API
--    changes: the addressee's answer (accept or decline; a friendship already
--    accepted is removed, not declined), or a declined request turned into the
--    addressee's own (the two swapped, pending again).

alter table pam.posts add column admin_hidden_at timestamptz;
alter table pam.posts add constraint posts_admin_hidden check (admin_hidden_at is null or hidden);
comment on column pam.posts.admin_hidden_at is
  'When the platform''s moderators hid the post (the admin portal); users do not show it again.';

-- Posts hidden by the admin portal before this column: every actioned report hid its post.
update pam.posts p set admin_hidden_at = r.resolved_at
from (
  select post_id, max(resolved_at) as resolved_at from pam.reports
  where status = 'actioned' and post_id is not null
  group by post_id
) r
where p.id = r.post_id and p.hidden;

-- Beside pam.social_post_guard (20261129009000_storage.sql), which it precedes
-- (triggers of one event fire in the order of their names).
create function pam.social_post_admin_hidden() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user not in ('authenticated', 'anon') then
    if not new.hidden then new.admin_hidden_at := null; end if;
  elsif new.hidden is distinct from old.hidden and old.admin_hidden_at is not null then
    raise exception 'PAM''s moderators hid this post: only they show it again' using errcode = '42501';
  end if;
  return new;
end
$$;
create trigger posts_admin_hidden before update on pam.posts
  for each row execute function pam.social_post_admin_hidden();

create function pam.social_friendship_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user not in ('authenticated', 'anon') then
    return new;
  end if;
  if (new.requester_id, new.addressee_id) = (old.requester_id, old.addressee_id) then
    if (new.message, new.created_at) is distinct from (old.message, old.created_at) then
      raise exception 'a friend request''s message and time are its requester''s' using errcode = '42501';
    end if;
    if old.status = 'accepted' and new.status <> 'accepted' then
      raise exception 'a friendship is removed, not answered again' using errcode = '42501';
    end if;
    return new;
  end if;
  if (new.requester_id, new.addressee_id) = (old.addressee_id, old.requester_id)
     and old.status = 'declined' and new.status = 'pending' then
    return new;
  end if;
  raise exception 'a friend request stays between its two people' using errcode = '42501';
end
$$;
create trigger friendships_guard before update on pam.friendships
  for each row execute function pam.social_friendship_guard();
revoke execute on function pam.social_post_admin_hidden(), pam.social_friendship_guard() from public, anon, authenticated;
