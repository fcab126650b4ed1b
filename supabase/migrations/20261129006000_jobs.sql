-- Background work (the `jobs` function, called by QStash schedules): a record
-- of every run, the daily report each traveller reads, and the notification
-- kinds the jobs write.

-- One row per job, period (the UTC day of the run) and batch (a key range of
-- users; 'plan' is the scheduled call that splits the users into batches).
-- A batch inserts its row in the transaction that does its work, so a row
-- with status 'done' means the work committed: a repeated delivery finds it
-- and does nothing. A failed attempt rolls back and records 'failed' (with
-- the error) on its own; the retry takes the row over.
create table pam.job_runs (
  id bigint generated always as identity primary key,
  job text not null check (job ~ '^[a-z][a-z0-9-]{0,49}$'),
  period date not null,
  batch text not null check (char_length(batch) between 1 and 50),
  status text not null check (status in ('running', 'done', 'failed')),
  -- The batch's users: lower_id <= id < upper_id (null: unbounded).
  lower_id uuid,
  upper_id uuid,
  -- The plan's instant and batches, so that a retried scheduled call publishes the same batches.
  plan jsonb check (plan is null or jsonb_typeof(plan) = 'object'),
  rows_written integer not null default 0,
  notifications integer not null default 0,
  attempts integer not null default 1,
  error text check (char_length(error) <= 2000),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint job_runs_job_period_batch_key unique (job, period, batch)
);
comment on table pam.job_runs is 'Runs of the scheduled jobs: one per job, period and batch (idempotency and history).';
create index job_runs_started_idx on pam.job_runs (started_at);

-- Not a user table: only the jobs (service_role) read or write it.
alter table pam.job_runs enable row level security;
revoke all on pam.job_runs from public, anon, authenticated;
grant all on pam.job_runs to service_role;

-- The daily report: one per traveller and local calendar day, written by the
-- daily-analytics job, read by its owner (GET /wins/reports?date=).
create table pam.daily_reports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  date date not null check (date between '1970-01-01' and '2100-12-31'),
  -- The home currency on the day; total_spent counts expenses in it.
  currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
  total_spent numeric(14, 2) not null default 0,
  expense_count integer not null default 0,
  -- [{category, currency, amount, count}], largest first.
  spend_by_category jsonb not null default '[]' check (jsonb_typeof(spend_by_category) = 'array'),
  -- [{budget_id, category, period, period_start, period_end, spent, available, percent, status}].
  budgets jsonb not null default '[]' check (jsonb_typeof(budgets) = 'array'),
  -- Odometer distance covered on the day over all vehicles, in km (null: no readings to tell).
  distance_km numeric(10, 1),
  fill_ups integer not null default 0,
  -- In the units the fill-ups were entered in (litres or gallons).
  fuel_volume numeric(12, 2) not null default 0,
  fuel_cost numeric(14, 2) not null default 0,
  created_at timestamptz not null default now(),
  constraint daily_reports_user_date_key unique (user_id, date)
);
comment on table pam.daily_reports is 'A traveller''s day: spend by category, budgets, distance and fuel (written by the daily-analytics job).';

alter table pam.daily_reports enable row level security;
-- Read-only for its owner; the job writes as service_role.
create policy daily_reports_select_own on pam.daily_reports
  for select to authenticated using ((select auth.uid()) = user_id);
revoke all on pam.daily_reports from public, anon, authenticated;
grant select on pam.daily_reports to authenticated;
grant all on pam.daily_reports to service_role;

-- The jobs go through users by id ranges; expenses and maintenance by (user_id, date) use existing indexes.
create index notifications_created_idx on pam.notifications (created_at);
create index memories_expires_idx on pam.memories (expires_at) where expires_at is not null;

-- The kinds of notification: the jobs' and Social's. Wins' budget alerts were
-- written as 'budget_alert'; they are the same thing as the budget-alerts
-- job's, under one name now (with the same dedupe keys, so a traveller is
-- alerted once whichever path sees the threshold first).
update pam.notifications set kind = 'budget_threshold' where kind = 'budget_alert';
alter table pam.notifications drop constraint notifications_kind_check;
alter table pam.notifications add constraint notifications_kind_check
  check (kind in ('maintenance_due', 'budget_threshold', 'report_ready', 'social'));

-- Where one budget stands in the period containing `day`: spent in `home`
-- currency from the period's start through `through` (at most its end), and
-- what is available (the amount, plus the previous period's remainder when
-- rollover is on), with the alert threshold reached (80 or 100) — the same
-- rules as wins' budget status (budget-status.ts).
create function pam.jobs_budget_period(b pam.budgets, day date, through date, home char(3))
returns table (period_start date, period_end date, spent numeric, available numeric, percent numeric, threshold integer)
language sql
stable
set search_path = ''
as $$
  with bounds as (
    select s.start, (s.start + s.step)::date - 1 as finish,
           (s.start - s.step)::date as prev_start, (s.start - 1)::date as prev_end
    from (
      select date_trunc(u.unit, day::timestamp)::date as start, ('1 ' || u.unit)::interval as step
      from (select case b.period when 'weekly' then 'week' when 'monthly' then 'month' else 'year' end as unit) u
    ) s
  ),
  sums as (
    select x.*,
      coalesce((select sum(e.amount) from pam.expenses e
                where e.user_id = b.user_id and e.category = b.category and e.currency = home
                  and e.date between x.start and least(x.finish, through)), 0)::numeric(14, 2) as spent,
      case when b.rollover and b.start_date <= day and x.prev_end >= b.start_date then
        b.amount - coalesce((select sum(e.amount) from pam.expenses e
                             where e.user_id = b.user_id and e.category = b.category and e.currency = home
                               and e.date between x.prev_start and x.prev_end), 0)
      else 0 end as carried
    from bounds x
  ),
  avail as (
    select s.*, greatest(b.amount + s.carried, 0)::numeric(14, 2) as available from sums s
  )
  select a.start, a.finish, a.spent, a.available,
         case when a.available > 0 then trim_scale(round(a.spent * 100 / a.available, 1)) end,
         case
           when b.start_date > day or a.spent <= 0 then null
           when a.spent >= a.available then 100
           when a.spent * 100 >= a.available * 80 then 80
         end
  from avail a
$$;
revoke execute on function pam.jobs_budget_period(pam.budgets, date, date, char) from public, anon, authenticated;
grant execute on function pam.jobs_budget_period(pam.budgets, date, date, char) to service_role;

-- The cleanup job's deletions (security definer: it reaches Supabase Auth's
-- tables, which service_role cannot). Retentions are in days.
create function pam.jobs_cleanup(read_notifications_days integer, notifications_days integer, job_runs_days integer,
  reports_days integer)
returns table (refresh_tokens bigint, sessions bigint, notifications bigint, memories bigint, job_runs bigint,
  daily_reports bigint, idempotency_keys bigint, sync_tombstones bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  n_tokens bigint;
  n_sessions bigint;
  n_notifications bigint;
  n_memories bigint;
  n_runs bigint;
  n_reports bigint;
  sync record;
begin
  -- Sessions past their end (their refresh tokens go with them), and refresh
  -- tokens revoked (used or signed out) more than a day ago: rotation only
  -- needs the latest ones.
  delete from auth.sessions where not_after < now();
  get diagnostics n_sessions = row_count;
  delete from auth.refresh_tokens where revoked and updated_at < now() - interval '1 day';
  get diagnostics n_tokens = row_count;
  delete from pam.notifications
   where (read_at is not null and created_at < now() - make_interval(days => read_notifications_days))
      or created_at < now() - make_interval(days => notifications_days);
  get diagnostics n_notifications = row_count;
  -- PAM's memories that have expired (stale chat context).
  delete from pam.memories where expires_at < now();
  get diagnostics n_memories = row_count;
  delete from pam.job_runs where started_at < now() - make_interval(days => job_runs_days);
  get diagnostics n_runs = row_count;
  delete from pam.daily_reports where date < current_date - reports_days;
  get diagnostics n_reports = row_count;
  select * into sync from pam.sync_cleanup();
  return query select n_tokens, n_sessions, n_notifications, n_memories, n_runs, n_reports,
    sync.idempotency_keys, sync.tombstones;
end
$$;
revoke execute on function pam.jobs_cleanup(integer, integer, integer, integer) from public, anon, authenticated;
grant execute on function pam.jobs_cleanup(integer, integer, integer, integer) to service_role;
