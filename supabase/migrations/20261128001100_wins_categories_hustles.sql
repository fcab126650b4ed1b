-- Wins (money), part 1: expense categories and hustles.

-- The fixed expense categories for life on the road. Users add their own in
-- public.expense_categories. Keep in step with supabase/functions/wins/categories.ts
-- (a test compares the two).
create function public.wins_builtin_categories() returns text[]
language sql
immutable
parallel safe
as $$
  select array[
    'fuel', 'camping', 'food', 'dining', 'maintenance', 'insurance', 'registration',
    'tolls', 'utilities', 'connectivity', 'entertainment', 'health', 'other'
  ]
$$;

-- The user's own categories, extending the fixed list.
create table public.expense_categories (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  slug text not null check (
    char_length(slug) between 2 and 40
    and slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'
    and slug <> all (public.wins_builtin_categories())
  ),
  label text not null check (char_length(btrim(label)) between 1 and 60),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint expense_categories_user_slug_key unique (user_id, slug)
);

comment on table public.expense_categories is 'User-defined expense categories (the fixed ones are public.wins_builtin_categories()).';

-- Hustles: ways a traveller earns on the road. Expenses and income link to one
-- through (hustle_id, user_id), so a link can only ever name the owner's own hustle.
create table public.hustles (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null check (char_length(btrim(title)) between 1 and 200),
  kind text not null default 'other' check (
    kind in ('freelance', 'remote_work', 'seasonal_work', 'gig', 'crafts', 'content', 'workamping', 'other')
  ),
  status text not null default 'idea' check (status in ('idea', 'active', 'paused', 'dropped')),
  hours_invested numeric(10, 2) not null default 0 check (hours_invested >= 0 and hours_invested <= 100000),
  started_on date,
  notes text not null default '' check (char_length(notes) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint hustles_id_user_key unique (id, user_id)
);

comment on table public.hustles is 'Ways of earning on the road; income and expenses link to them for ROI.';

create index hustles_user_created_idx on public.hustles (user_id, created_at desc, id desc);

create trigger expense_categories_set_updated_at before update on public.expense_categories
  for each row execute function public.set_updated_at();
create trigger hustles_set_updated_at before update on public.hustles
  for each row execute function public.set_updated_at();

alter table public.expense_categories enable row level security;
alter table public.hustles enable row level security;

create policy expense_categories_select_own on public.expense_categories
  for select to authenticated using ((select auth.uid()) = user_id);
create policy expense_categories_insert_own on public.expense_categories
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy expense_categories_update_own on public.expense_categories
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy expense_categories_delete_own on public.expense_categories
  for delete to authenticated using ((select auth.uid()) = user_id);

create policy hustles_select_own on public.hustles
  for select to authenticated using ((select auth.uid()) = user_id);
create policy hustles_insert_own on public.hustles
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy hustles_update_own on public.hustles
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy hustles_delete_own on public.hustles
  for delete to authenticated using ((select auth.uid()) = user_id);

grant select, insert, update, delete on public.expense_categories to authenticated;
grant all on public.expense_categories to service_role;
grant select, insert, update, delete on public.hustles to authenticated;
grant all on public.hustles to service_role;
grant execute on function public.wins_builtin_categories() to anon, authenticated, service_role;

-- Expenses and budgets name a category: a fixed one or one of the owner's own.
-- Checked here as well as in the function, so direct table writes stay valid.
create function public.wins_check_category() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.category = any (public.wins_builtin_categories())
     or exists (
       select 1 from public.expense_categories c where c.user_id = new.user_id and c.slug = new.category
     ) then
    return new;
  end if;
  raise exception 'unknown category "%"', new.category
    using errcode = 'check_violation', constraint = 'known_category';
end
$$;
