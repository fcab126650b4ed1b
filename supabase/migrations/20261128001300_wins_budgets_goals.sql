-- Wins (money), part 3: budgets, savings goals and their contributions.

-- One budget per user, category and period (weekly = ISO week Monday-Sunday,
-- monthly, yearly: calendar periods in the user's time zone).
create table public.budgets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  category text not null,
  period text not null default 'monthly' check (period in ('weekly', 'monthly', 'yearly')),
  amount numeric(12, 2) not null check (amount > 0 and amount <= 100000000),
  -- First day the budget applies (alerts and rollover start from its period).
  start_date date not null default current_date,
  -- Carry the previous period's remainder (or overspend) into the current one.
  rollover boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint budgets_user_category_period_key unique (user_id, category, period)
);

comment on table public.budgets is 'Spending limits per category and period; one per user, category and period.';

create trigger budgets_check_category before insert or update of category, user_id on public.budgets
  for each row execute function public.wins_check_category();
create trigger budgets_set_updated_at before update on public.budgets
  for each row execute function public.set_updated_at();

create table public.savings_goals (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 200),
  target_amount numeric(12, 2) not null check (target_amount > 0 and target_amount <= 100000000),
  target_date date,
  -- Kept by the contributions trigger below; users cannot write it directly.
  saved_amount numeric(12, 2) not null default 0 check (saved_amount >= 0),
  status text not null default 'active' check (status in ('active', 'paused', 'achieved', 'abandoned')),
  notes text not null default '' check (char_length(notes) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint savings_goals_id_user_key unique (id, user_id)
);

comment on table public.savings_goals is 'Savings goals; saved_amount is the sum of the goal''s contributions.';

create index savings_goals_user_created_idx on public.savings_goals (user_id, created_at desc, id desc);

-- An active goal becomes achieved when the saved amount reaches the target,
-- and active again if it falls below (a withdrawal, a higher target).
create function public.wins_goal_status() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.saved_amount is distinct from old.saved_amount or new.target_amount is distinct from old.target_amount then
    if new.status = 'active' and new.saved_amount >= new.target_amount then
      new.status := 'achieved';
    elsif new.status = 'achieved' and new.saved_amount < new.target_amount then
      new.status := 'active';
    end if;
  end if;
  return new;
end
$$;

create trigger savings_goals_status before update on public.savings_goals
  for each row execute function public.wins_goal_status();
create trigger savings_goals_set_updated_at before update on public.savings_goals
  for each row execute function public.set_updated_at();

-- The ledger of a goal: deposits and withdrawals. Immutable except for the note.
create table public.goal_contributions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  goal_id uuid not null,
  amount numeric(12, 2) not null check (amount > 0 and amount <= 1000000),
  kind text not null default 'deposit' check (kind in ('deposit', 'withdrawal')),
  date date not null default current_date,
  note text not null default '' check (char_length(note) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint goal_contributions_goal_fkey foreign key (goal_id, user_id)
    references public.savings_goals (id, user_id) on delete cascade
);

comment on table public.goal_contributions is 'Deposits into and withdrawals from a savings goal.';

create index goal_contributions_user_goal_idx on public.goal_contributions (user_id, goal_id, created_at desc, id desc);
create index goal_contributions_goal_idx on public.goal_contributions (goal_id, user_id);

-- Applies a contribution to its goal's saved amount, atomically with the
-- insert (a withdrawal below zero fails the check and the insert with it).
-- Security definer because users may not write saved_amount themselves; it
-- only touches the goal the new row names, owned by the row's owner (the
-- insert policy has already made that the caller).
create function public.wins_apply_contribution() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.savings_goals g
     set saved_amount = g.saved_amount + case when new.kind = 'deposit' then new.amount else -new.amount end
   where g.id = new.goal_id and g.user_id = new.user_id;
  return null;
end
$$;

revoke execute on function public.wins_apply_contribution() from public, anon, authenticated;

create trigger goal_contributions_apply after insert on public.goal_contributions
  for each row execute function public.wins_apply_contribution();
create trigger goal_contributions_set_updated_at before update on public.goal_contributions
  for each row execute function public.set_updated_at();

alter table public.budgets enable row level security;
alter table public.savings_goals enable row level security;
alter table public.goal_contributions enable row level security;

create policy budgets_select_own on public.budgets
  for select to authenticated using ((select auth.uid()) = user_id);
create policy budgets_insert_own on public.budgets
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy budgets_update_own on public.budgets
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy budgets_delete_own on public.budgets
  for delete to authenticated using ((select auth.uid()) = user_id);

create policy savings_goals_select_own on public.savings_goals
  for select to authenticated using ((select auth.uid()) = user_id);
create policy savings_goals_insert_own on public.savings_goals
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy savings_goals_update_own on public.savings_goals
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy savings_goals_delete_own on public.savings_goals
  for delete to authenticated using ((select auth.uid()) = user_id);

-- No delete policy: the ledger is append-only (withdraw to correct); rows go
-- with their goal or their owner.
create policy goal_contributions_select_own on public.goal_contributions
  for select to authenticated using ((select auth.uid()) = user_id);
create policy goal_contributions_insert_own on public.goal_contributions
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy goal_contributions_update_own on public.goal_contributions
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);

grant select, insert, update, delete on public.budgets to authenticated;
grant all on public.budgets to service_role;
grant select, delete on public.savings_goals to authenticated;
grant insert (id, user_id, name, target_amount, target_date, status, notes) on public.savings_goals to authenticated;
grant update (name, target_amount, target_date, status, notes) on public.savings_goals to authenticated;
grant all on public.savings_goals to service_role;
grant select on public.goal_contributions to authenticated;
grant insert (id, user_id, goal_id, amount, kind, date, note) on public.goal_contributions to authenticated;
grant update (note) on public.goal_contributions to authenticated;
grant all on public.goal_contributions to service_role;
