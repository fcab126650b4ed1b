-- Wins (money), part 2: expenses and income. Money is numeric(12,2), never a
-- float; `date` is the user's local calendar day as entered (a DATE, not a
-- timestamp), so an expense keeps its day whatever the time zone.

-- The caller's home currency (profiles.preferences.currency, default AUD):
-- the default for new rows written straight to the tables. The wins function
-- always sets it explicitly.
create function public.wins_home_currency() returns char(3)
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select p.preferences ->> 'currency' from public.profiles p where p.id = auth.uid()
      and p.preferences ->> 'currency' ~ '^[A-Z]{3}$'),
    'AUD'
  )::char(3)
$$;

-- What "the same merchant" means when learning categories from the user's own
-- choices: the merchant (else the description), lower-cased, letters only.
-- "Shell  Roma #123" and "shell roma" share a key.
create function public.wins_match_key(merchant text, description text) returns text
language sql
immutable
parallel safe
as $$
  select nullif(
    btrim(regexp_replace(lower(coalesce(nullif(btrim(merchant), ''), description, '')), '[^[:alpha:]]+', ' ', 'g')),
    ''
  )
$$;

create function public.wins_valid_tags(tags text[]) returns boolean
language sql
immutable
parallel safe
as $$
  select cardinality(tags) <= 20
    and coalesce(bool_and(t is not null and char_length(t) between 1 and 40 and position(';' in t) = 0), true)
  from unnest(tags) as t
$$;

create table public.expenses (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  amount numeric(12, 2) not null check (amount > 0 and amount <= 1000000),
  currency char(3) not null default public.wins_home_currency() check (currency ~ '^[A-Z]{3}$'),
  category text not null default 'other',
  -- How the category was chosen: by the user, learned from the user's past
  -- choices, by a merchant/keyword rule, or the default ('other').
  category_source text not null default 'user' check (category_source in ('user', 'learned', 'rule', 'default')),
  description text not null default '' check (char_length(description) <= 500),
  merchant text check (char_length(merchant) between 1 and 200),
  date date not null default current_date,
  location text check (char_length(location) between 1 and 200),
  latitude double precision check (latitude between -90 and 90),
  longitude double precision check (longitude between -180 and 180),
  payment_method text check (payment_method in ('cash', 'card', 'bank_transfer', 'digital_wallet', 'other')),
  tags text[] not null default '{}' check (public.wins_valid_tags(tags)),
  receipt_url text check (char_length(receipt_url) <= 2048 and receipt_url ~ '^https?://'),
  -- Links to the Wheels issue's vehicles and trips: plain uuids for now, as
  -- those tables do not exist yet; that issue adds the foreign keys.
  vehicle_id uuid,
  trip_id uuid,
  hustle_id uuid,
  -- Optional fill-up details (volume in the user's units: litres or gallons).
  fuel_type text check (fuel_type in ('diesel', 'unleaded', 'premium', 'e10', 'lpg', 'electric', 'other')),
  fuel_volume numeric(8, 2) check (fuel_volume > 0),
  fuel_price_per_unit numeric(8, 3) check (fuel_price_per_unit > 0),
  odometer integer check (odometer between 0 and 10000000),
  match_key text generated always as (public.wins_match_key(merchant, description)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint expenses_lat_lng_together check ((latitude is null) = (longitude is null)),
  constraint expenses_hustle_fkey foreign key (hustle_id, user_id)
    references public.hustles (id, user_id) on delete set null (hustle_id)
);

comment on table public.expenses is 'Money out. amount numeric(12,2); date = the local calendar day as entered.';

-- Lists (newest first, keyset pagination) and date-range summaries.
create index expenses_user_date_idx on public.expenses (user_id, date desc, created_at desc, id desc);
-- Budgets: spent per category in a period.
create index expenses_user_category_date_idx on public.expenses (user_id, category, date) include (amount, currency);
create index expenses_user_hustle_idx on public.expenses (user_id, hustle_id) where hustle_id is not null;
create index expenses_user_vehicle_idx on public.expenses (user_id, vehicle_id) where vehicle_id is not null;
create index expenses_user_trip_idx on public.expenses (user_id, trip_id) where trip_id is not null;
-- Category learning: the user's own latest choice for the same merchant.
create index expenses_user_match_key_idx on public.expenses (user_id, match_key, created_at desc)
  where category_source = 'user' and match_key is not null;

create trigger expenses_check_category before insert or update of category, user_id on public.expenses
  for each row execute function public.wins_check_category();
create trigger expenses_set_updated_at before update on public.expenses
  for each row execute function public.set_updated_at();

create table public.income (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  amount numeric(12, 2) not null check (amount > 0 and amount <= 1000000),
  currency char(3) not null default public.wins_home_currency() check (currency ~ '^[A-Z]{3}$'),
  source text not null check (char_length(btrim(source)) between 1 and 200),
  description text not null default '' check (char_length(description) <= 500),
  date date not null default current_date,
  recurring boolean not null default false,
  hustle_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint income_hustle_fkey foreign key (hustle_id, user_id)
    references public.hustles (id, user_id) on delete set null (hustle_id)
);

comment on table public.income is 'Money in. amount numeric(12,2); date = the local calendar day as entered.';

create index income_user_date_idx on public.income (user_id, date desc, created_at desc, id desc);
create index income_user_hustle_idx on public.income (user_id, hustle_id) where hustle_id is not null;

create trigger income_set_updated_at before update on public.income
  for each row execute function public.set_updated_at();

alter table public.expenses enable row level security;
alter table public.income enable row level security;

create policy expenses_select_own on public.expenses
  for select to authenticated using ((select auth.uid()) = user_id);
create policy expenses_insert_own on public.expenses
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy expenses_update_own on public.expenses
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy expenses_delete_own on public.expenses
  for delete to authenticated using ((select auth.uid()) = user_id);

create policy income_select_own on public.income
  for select to authenticated using ((select auth.uid()) = user_id);
create policy income_insert_own on public.income
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy income_update_own on public.income
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy income_delete_own on public.income
  for delete to authenticated using ((select auth.uid()) = user_id);

grant select, insert, update, delete on public.expenses to authenticated;
grant all on public.expenses to service_role;
grant select, insert, update, delete on public.income to authenticated;
grant all on public.income to service_role;
grant execute on function public.wins_home_currency() to authenticated, service_role;
grant execute on function public.wins_match_key(text, text) to authenticated, service_role;
grant execute on function public.wins_valid_tags(text[]) to authenticated, service_role;
