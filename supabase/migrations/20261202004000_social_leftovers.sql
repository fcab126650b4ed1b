-- Social: a rule found by review (20261129005000_social.sql).
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

-- The post seen (its policy, inside the subquery) and, in a group, the caller a member of it.
alter policy comments_select_visible on pam.comments using (
  exists (
    select 1 from pam.posts p where p.id = post_id
       and (p.group_id is null or p.group_id = any ((select pam.social_my_groups())::uuid[]))
  )
  and (
    not hidden or author_id = (select auth.uid())
    or exists (select 1 from pam.posts p where p.id = post_id and p.group_id = any ((select pam.social_my_moderated_groups())::uuid[]))
  )
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
