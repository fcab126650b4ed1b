-- PAM's data lives in the schema `pam`, which the Data API does not expose.
--
-- Hosted Supabase serves every table of an exposed schema (`public` by
-- default) through PostgREST and pg_graphql. With the tables in `public`, an
-- app holding a user's token could insert, update and delete rows directly
-- (`supabase.from('expenses').insert(...)`), skipping what the edge functions
-- do around a write: validation with clear errors, expense classification,
-- budget alerts in the same transaction, and cache invalidation. Apps reach
-- PAM's data only through its functions; RLS stays on every table as the
-- second wall. Keep `pam` out of `[api] schemas` in config.toml and out of
-- the hosted project's "Exposed schemas" setting.
create schema if not exists pam;
comment on schema pam is 'PAM data: reached through the edge functions only, never exposed to the Data API.';
revoke all on schema pam from public;
-- The functions query as `authenticated` (RLS decides), jobs as service_role.
grant usage on schema pam to authenticated, service_role;

alter table public.profiles set schema pam;
alter table public.notifications set schema pam;
alter table public.expense_categories set schema pam;
alter table public.hustles set schema pam;
alter table public.expenses set schema pam;
alter table public.income set schema pam;
alter table public.budgets set schema pam;
alter table public.savings_goals set schema pam;
alter table public.goal_contributions set schema pam;

-- Functions move with their grants; triggers, defaults and checks follow
-- them (they refer to functions by identity, not by name).
alter function public.set_updated_at() set schema pam;
alter function public.handle_new_user() set schema pam;
alter function public.handle_user_email_change() set schema pam;
alter function public.delete_my_account() set schema pam;
alter function public.wins_builtin_categories() set schema pam;
alter function public.wins_check_category() set schema pam;
alter function public.wins_home_currency() set schema pam;
alter function public.wins_match_key(text, text) set schema pam;
alter function public.wins_valid_tags(text[]) set schema pam;
alter function public.wins_goal_status() set schema pam;
alter function public.wins_apply_contribution() set schema pam;

-- Bodies name tables by schema (search_path is empty), so the ones that
-- touch a moved table are redefined with the new names.
create or replace function pam.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into pam.profiles (id, email, full_name, region)
  values (
    new.id,
    coalesce(new.email, ''),
    left(coalesce(new.raw_user_meta_data ->> 'full_name', ''), 200),
    left(nullif(new.raw_user_meta_data ->> 'region', ''), 100)
  );
  return new;
end
$$;

create or replace function pam.handle_user_email_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update pam.profiles set email = coalesce(new.email, '') where id = new.id;
  return new;
end
$$;

create or replace function pam.wins_check_category() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.category = any (pam.wins_builtin_categories())
     or exists (
       select 1 from pam.expense_categories c where c.user_id = new.user_id and c.slug = new.category
     ) then
    return new;
  end if;
  raise exception 'unknown category "%"', new.category
    using errcode = 'check_violation', constraint = 'known_category';
end
$$;

create or replace function pam.wins_home_currency() returns char(3)
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select p.preferences ->> 'currency' from pam.profiles p where p.id = auth.uid()
      and p.preferences ->> 'currency' ~ '^[A-Z]{3}$'),
    'AUD'
  )::char(3)
$$;

create or replace function pam.wins_apply_contribution() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update pam.savings_goals g
     set saved_amount = g.saved_amount + case when new.kind = 'deposit' then new.amount else -new.amount end
   where g.id = new.goal_id and g.user_id = new.user_id;
  return null;
end
$$;

comment on table pam.expense_categories is 'User-defined expense categories (the fixed ones are pam.wins_builtin_categories()).';

-- Privileges, exactly. On hosted Supabase, whatever is created in public is
-- granted ALL to anon and authenticated by default, which made the narrower
-- grants of the earlier migrations (column lists on profiles, savings_goals,
-- goal_contributions and notifications) no narrower at all. Start from
-- nothing and grant what each table and function is for.
revoke all on all tables in schema pam from public, anon, authenticated;
revoke all on all functions in schema pam from public, anon, authenticated;
grant all on all tables in schema pam to service_role;
grant execute on all functions in schema pam to service_role;

grant select, update (full_name, region, preferences) on pam.profiles to authenticated;
grant select, insert, delete on pam.notifications to authenticated;
grant update (read_at) on pam.notifications to authenticated;
grant select, insert, update, delete on pam.expense_categories, pam.hustles, pam.expenses, pam.income, pam.budgets
  to authenticated;
grant select, delete on pam.savings_goals to authenticated;
grant insert (id, user_id, name, target_amount, target_date, status, notes) on pam.savings_goals to authenticated;
grant update (name, target_amount, target_date, status, notes) on pam.savings_goals to authenticated;
grant select on pam.goal_contributions to authenticated;
grant insert (id, user_id, goal_id, amount, kind, date, note) on pam.goal_contributions to authenticated;
grant update (note) on pam.goal_contributions to authenticated;

-- Used in defaults and checks of rows users write, and the account deletion.
grant execute on function pam.wins_builtin_categories(), pam.wins_home_currency(), pam.wins_match_key(text, text),
  pam.wins_valid_tags(text[]), pam.delete_my_account() to authenticated;
