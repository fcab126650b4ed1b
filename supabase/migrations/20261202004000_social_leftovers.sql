-- Social: two rules found by review (20261129005000_social.sql).
--
-- 1. Who leaves a group, or is removed from it, takes no further part in it.
--    The author of a post always reads it, and comments and likes only asked
--    whether the caller sees the post: through each post they wrote in a
--    private group, a former member still read the comments members added
--    (and was notified of them, their text quoted), commented where every
--    member reads it, liked and edited the post. Now comments are read and
--    written, likes given and the post edited only by the group's members (a
--    post in no group: as before). The author still reads and deletes their
--    post. A former member is not notified of comments and likes on it.
-- 2. What is gone is not shown or emailed. A comment's notification quotes
--    it, and a friend request's carries its message; they stayed in the app
--    for up to 180 days, and a digest emailed them hours later, after the
--    comment was deleted or hidden, or the request withdrawn. Now the
--    notification goes when its source goes: a comment deleted (by its
--    author, with its post or group, with the account) or hidden by a
--    moderator; a pending request deleted (withdrawn, dismissed, or gone with
--    an account). A notification not yet emailed is then never emailed (the
--    delivery job and the digest read the rows as they send); one emailed
--    leaves the app (a tombstone tells offline apps). Its dedupe key stays
--    used: it does not come back.

-- 1. -----------------------------------------------------------------------

-- The post's author edits it while in the post's group (the group's
-- moderators may update it to hide it; the guard keeps edits the author's).
alter policy posts_update_author_or_moderator on pam.posts
  using (
    (author_id = (select auth.uid()) and (group_id is null or group_id = any ((select pam.social_my_groups())::uuid[])))
    or group_id = any ((select pam.social_my_moderated_groups())::uuid[])
  )
  with check (
    (author_id = (select auth.uid()) and (group_id is null or group_id = any ((select pam.social_my_groups())::uuid[])))
    or group_id = any ((select pam.social_my_moderated_groups())::uuid[])
  );

-- One's own comment on a post one sees (so an author who left the group can
-- still delete what they wrote there); others', the post seen (its policy,
-- inside the subquery) and, in a group, the caller a member of it.
alter policy comments_select_visible on pam.comments using (
  (author_id = (select auth.uid()) and exists (select 1 from pam.posts p where p.id = post_id))
  or (
    exists (
      select 1 from pam.posts p where p.id = post_id
         and (p.group_id is null or p.group_id = any ((select pam.social_my_groups())::uuid[]))
    )
    and (
      not hidden
      or exists (select 1 from pam.posts p where p.id = post_id and p.group_id = any ((select pam.social_my_moderated_groups())::uuid[]))
    )
  )
);
-- Edited only while taking part (deleted whenever: comments_delete_author).
alter policy comments_update_author on pam.comments
  using (
    author_id = (select auth.uid()) and exists (
      select 1 from pam.posts p where p.id = post_id
         and (p.group_id is null or p.group_id = any ((select pam.social_my_groups())::uuid[])))
  )
  with check (
    author_id = (select auth.uid()) and exists (
      select 1 from pam.posts p where p.id = post_id
         and (p.group_id is null or p.group_id = any ((select pam.social_my_groups())::uuid[])))
  );
alter policy comments_insert_own on pam.comments with check (
  author_id = (select auth.uid())
  and exists (
    select 1 from pam.posts p where p.id = post_id
       and (p.group_id is null or p.group_id = any ((select pam.social_my_groups())::uuid[]))
  )
);
alter policy post_likes_insert_visible on pam.post_likes with check (
  user_id = (select auth.uid())
  and exists (
    select 1 from pam.posts p where p.id = post_id
       and (p.group_id is null or p.group_id = any ((select pam.social_my_groups())::uuid[]))
  )
);

-- As before, and the post's author is notified only while in the post's group.
create or replace function pam.social_like_changed() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  author uuid;
  grp uuid;
begin
  if tg_op = 'INSERT' then
    update pam.posts set like_count = like_count + 1 where id = new.post_id returning author_id, group_id into author, grp;
    if grp is null or exists (select 1 from pam.group_members m where m.group_id = grp and m.user_id = author) then
      perform pam.social_notify(author, new.user_id, pam.social_name(new.user_id) || ' liked your post', '',
        jsonb_build_object('type', 'like', 'post_id', new.post_id, 'user_id', new.user_id),
        'like:' || new.post_id || ':' || new.user_id);
    end if;
  else
    update pam.posts set like_count = like_count - 1 where id = old.post_id;
  end if;
  return null;
end
$$;

create or replace function pam.social_comment_changed() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  author uuid;
  grp uuid;
  before_visible boolean := tg_op <> 'INSERT' and not old.hidden;
  after_visible boolean := tg_op <> 'DELETE' and not new.hidden;
begin
  if before_visible <> after_visible then
    update pam.posts set comment_count = comment_count + case when after_visible then 1 else -1 end
     where id = coalesce(new.post_id, old.post_id)
    returning author_id, group_id into author, grp;
  end if;
  if tg_op = 'INSERT'
     and (grp is null or exists (select 1 from pam.group_members m where m.group_id = grp and m.user_id = author)) then
    perform pam.social_notify(author, new.author_id, pam.social_name(new.author_id) || ' commented on your post',
      left(new.body, 200),
      jsonb_build_object('type', 'comment', 'post_id', new.post_id, 'comment_id', new.id, 'user_id', new.author_id),
      'comment:' || new.id);
  end if;
  return null;
end
$$;

-- 2. -----------------------------------------------------------------------

-- A comment deleted or hidden: its notification to the post's author. A
-- comment deleted with its post finds no post here; the post's trigger below
-- removes those.
create function pam.social_comment_gone() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  delete from pam.notifications n using pam.posts p
   where p.id = old.post_id and n.user_id = p.author_id and n.dedupe_key = 'comment:' || old.id;
  return null;
end
$$;
create trigger comments_gone after delete on pam.comments
  for each row execute function pam.social_comment_gone();
create trigger comments_hidden after update of hidden on pam.comments
  for each row when (new.hidden and not old.hidden) execute function pam.social_comment_gone();

-- A post deleted (by its author, with its group or the account): the
-- notifications of the comments that went with it.
create function pam.social_post_gone() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  delete from pam.notifications
   where user_id = old.author_id and kind = 'social'
     and data ->> 'type' = 'comment' and data ->> 'post_id' = old.id::text;
  return null;
end
$$;
create trigger posts_gone after delete on pam.posts
  for each row execute function pam.social_post_gone();

-- A pending request deleted: its notification to the addressee (the key as
-- pam.social_friendship_changed made it).
create function pam.social_friend_request_gone() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  delete from pam.notifications
   where user_id = old.addressee_id
     and dedupe_key = 'friend_request:' || old.id || ':' || old.requester_id || ':' || extract(epoch from old.created_at);
  return null;
end
$$;
create trigger friendships_request_gone after delete on pam.friendships
  for each row when (old.status = 'pending') execute function pam.social_friend_request_gone();

revoke execute on function pam.social_comment_gone(), pam.social_post_gone(), pam.social_friend_request_gone()
  from public, anon, authenticated;
