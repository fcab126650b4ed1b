-- Wins: rules that parallel requests must not slip past, enforced by the
-- database rather than by a count (or a check) in the function followed by a
-- write, which two transactions can both pass before either commits.

-- At most 100 categories of one's own (MAX_OWN_CATEGORIES in
-- supabase/functions/wins/common.ts). Inserts for one user take turns on a
-- per-user advisory lock held until commit, so each counts what the previous
-- ones committed. The function reports the constraint name below, which the
-- wins function answers as 409 limit_reached. Security definer so the count
-- is exact whatever the caller may see (the insert policy still decides
-- whose row it may be).
create function pam.wins_limit_own_categories() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  own integer;
begin
  perform pg_advisory_xact_lock(hashtext('pam.expense_categories'), hashtext(new.user_id::text));
  select count(*) into own from pam.expense_categories c where c.user_id = new.user_id;
  if own >= 100 then
    raise exception 'at most 100 categories of your own'
      using errcode = 'check_violation', constraint = 'wins_own_categories_limit';
  end if;
  return new;
end
$$;

revoke execute on function pam.wins_limit_own_categories() from public, anon, authenticated;

create trigger expense_categories_limit before insert or update of user_id on pam.expense_categories
  for each row execute function pam.wins_limit_own_categories();

-- An expense or budget naming one of the user's own categories now holds a
-- FOR KEY SHARE lock on that category row until it commits. Deleting a
-- category (DELETE /wins/categories/{slug} locks it FOR UPDATE, then counts
-- the expenses and budgets using it) therefore waits for such a write and
-- sees it, instead of deleting the category from under a row that names it;
-- and a write that waits for a deletion finds the category gone.
create or replace function pam.wins_check_category() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.category = any (pam.wins_builtin_categories()) then
    return new;
  end if;
  perform 1 from pam.expense_categories c
   where c.user_id = new.user_id and c.slug = new.category
     for key share;
  if found then
    return new;
  end if;
  raise exception 'unknown category "%"', new.category
    using errcode = 'check_violation', constraint = 'known_category', column = 'category';
end
$$;
