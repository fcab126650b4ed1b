-- The admin portal (the `admin` function): who is an admin, the audit log of
-- what admins did, the product's daily figures, the expense classification
-- rules admins keep, and retired campsites.
--
-- An admin's token says so (app_metadata.pam_admin, set only through
-- pam.admin_grant with the database owner's or the service role's authority),
-- and every admin action checks pam.admins again, in its own transaction, so
-- a revoked admin is refused at once with a token that still says otherwise.
-- None of these tables is granted to anon or authenticated: the admin
-- function works as service_role; users see classification rules only
-- through Wins and campsites only while they are not retired.

create table pam.admins (
  user_id uuid primary key references auth.users (id) on delete cascade,
  granted_at timestamptz not null default now()
);
comment on table pam.admins is 'Who is an admin now (re-checked on every admin action; pam.admin_grant / pam.admin_revoke).';

-- Append-only: no update, delete or truncate, whoever asks (the trigger binds
-- the table's owner and service_role too; only disabling it, which needs the
-- owner, could get round it, and that is itself a schema change to review).
-- No foreign keys: the record outlives the admin and the account acted on.
create table pam.admin_audit_log (
  id bigint generated always as identity primary key,
  admin_id uuid not null,
  admin_email text,
  action text not null check (action ~ '^[a-z][a-z_.]{0,59}$'),
  target_type text not null check (target_type ~ '^[a-z][a-z_]{0,39}$'),
  target_id text,
  before jsonb,
  after jsonb,
  request_id text not null check (char_length(request_id) <= 128),
  created_at timestamptz not null default clock_timestamp()
);
comment on table pam.admin_audit_log is 'Every admin action: who, what, on which record, before and after, when, from which request (append-only).';
create index admin_audit_log_created_idx on pam.admin_audit_log (created_at desc, id desc);
create index admin_audit_log_target_idx on pam.admin_audit_log (target_type, target_id);
create index admin_audit_log_admin_idx on pam.admin_audit_log (admin_id, created_at desc);

create function pam.admin_audit_log_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'the admin audit log is append-only' using errcode = '42501';
end
$$;
create trigger admin_audit_log_no_update before update or delete on pam.admin_audit_log
  for each row execute function pam.admin_audit_log_append_only();
create trigger admin_audit_log_no_truncate before truncate on pam.admin_audit_log
  for each statement execute function pam.admin_audit_log_append_only();

-- The product's figures for one UTC day, written by the product-metrics job
-- (the admin portal reads these, never the raw rows).
create table pam.product_metrics (
  date date primary key,
  active_users integer not null default 0,
  weekly_active_users integer not null default 0,
  new_users integer not null default 0,
  expenses_logged integer not null default 0,
  trips_logged integer not null default 0,
  chat_messages integer not null default 0,
  -- [{intent, rated, routed_correctly, accuracy, average_rating}] from feedback on PAM's answers that day.
  intent_accuracy jsonb not null default '[]' check (jsonb_typeof(intent_accuracy) = 'array'),
  -- [{job, runs, done, failed, attempts}] from pam.job_runs of that day.
  job_runs jsonb not null default '[]' check (jsonb_typeof(job_runs) = 'array'),
  -- [{kind, sent, read}] of the notifications created that day.
  notifications jsonb not null default '[]' check (jsonb_typeof(notifications) = 'array'),
  computed_at timestamptz not null default now()
);
comment on table pam.product_metrics is 'Daily product figures (UTC days), written by the product-metrics job for the admin portal.';

-- Expense classification rules kept by admins. Wins reads them before its
-- built-in rules (supabase/functions/wins/classify.ts), which stay in code as
-- the defaults: a rule here adds a merchant or word, or overrides a built-in
-- one's category.
create table pam.expense_rules (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('merchant', 'keyword')),
  pattern text not null check (char_length(btrim(pattern)) between 1 and 100 and pattern = lower(btrim(pattern))),
  category text not null check (category ~ '^[a-z][a-z0-9_]{1,39}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint expense_rules_kind_pattern_key unique (kind, pattern)
);
comment on table pam.expense_rules is 'Merchant and keyword rules that classify expenses (admins keep them; Wins reads them before its built-in rules).';
create trigger expense_rules_set_updated_at before update on pam.expense_rules
  for each row execute function pam.set_updated_at();

-- A retired campsite leaves the directory travellers search (the policy
-- below); its reviews and the admin's view of it stay.
alter table pam.campsites add column retired_at timestamptz;
drop policy campsites_select_signed_in on pam.campsites;
create policy campsites_select_current on pam.campsites for select to authenticated using (retired_at is null);

alter table pam.admins enable row level security;
alter table pam.admin_audit_log enable row level security;
alter table pam.product_metrics enable row level security;
alter table pam.expense_rules enable row level security;

create policy expense_rules_select_signed_in on pam.expense_rules for select to authenticated using (true);

revoke all on pam.admins, pam.admin_audit_log, pam.product_metrics, pam.expense_rules from public, anon, authenticated;
grant select, insert, delete on pam.admins to service_role;
grant select, insert on pam.admin_audit_log to service_role;
grant all on pam.product_metrics, pam.expense_rules to service_role;
grant select on pam.expense_rules to authenticated;

-- Grant and revoke: the token's claim (app_metadata, which only the secret
-- key, the service role or the database owner can set) and the membership
-- row, together. The grantee's next token carries the claim.
create function pam.admin_grant(email text) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  who uuid;
begin
  select u.id into who from auth.users u where lower(u.email) = lower(btrim(admin_grant.email));
  if who is null then
    raise exception 'no account with the email %', admin_grant.email using errcode = 'P0002';
  end if;
  update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}') || '{"pam_admin": true}'
   where id = who;
  insert into pam.admins (user_id) values (who) on conflict do nothing;
  return who;
end
$$;

create function pam.admin_revoke(email text) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  who uuid;
begin
  select u.id into who from auth.users u where lower(u.email) = lower(btrim(admin_revoke.email));
  if who is null then
    raise exception 'no account with the email %', admin_revoke.email using errcode = 'P0002';
  end if;
  update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}') - 'pam_admin' where id = who;
  delete from pam.admins where user_id = who;
  return who;
end
$$;

-- Suspension is Supabase Auth's ban (auth.users.banned_until: sign-in and
-- refresh are refused) with every session ended (their refresh tokens go with
-- them, and pam.require_session refuses their access tokens at once).
-- `until` null lifts the suspension.
create function pam.admin_set_suspension(target uuid, until timestamptz) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update auth.users set banned_until = until where id = target;
  if not found then
    raise exception 'no such account' using errcode = 'P0002';
  end if;
  if until is not null then
    delete from auth.sessions where user_id = target;
  end if;
end
$$;

-- What self-deletion does (public.delete_my_account), for another account.
create function pam.admin_delete_account(target uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from auth.users where id = target;
  return found;
end
$$;

-- One account as the portal shows it: who, and how much they use PAM
-- (counts only: never amounts or what they wrote to PAM).
create function pam.admin_account(target uuid) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', u.id,
    'email', u.email,
    'full_name', p.full_name,
    'created_at', u.created_at,
    'last_sign_in_at', u.last_sign_in_at,
    'suspended_until', case when u.banned_until > now() then u.banned_until end,
    'admin', exists (select 1 from pam.admins a where a.user_id = u.id),
    'activity', jsonb_build_object(
      'expenses', (select count(*) from pam.expenses e where e.user_id = u.id),
      'income', (select count(*) from pam.income i where i.user_id = u.id),
      'trips', (select count(*) from pam.trips t where t.user_id = u.id),
      'vehicles', (select count(*) from pam.vehicles v where v.user_id = u.id),
      'conversations', (select count(*) from pam.conversations c where c.user_id = u.id),
      'chat_messages', (select count(*) from pam.messages m where m.user_id = u.id and m.role = 'user'),
      'posts', (select count(*) from pam.posts po where po.author_id = u.id),
      'comments', (select count(*) from pam.comments co where co.author_id = u.id),
      'reports_made', (select count(*) from pam.reports r where r.reporter_id = u.id),
      'reports_against', (select count(*) from pam.reports r
                           left join pam.posts rp on rp.id = r.post_id
                           left join pam.comments rc on rc.id = r.comment_id
                          where coalesce(rp.author_id, rc.author_id) = u.id),
      'sessions', (select count(*) from auth.sessions s where s.user_id = u.id)
    )
  )
  from auth.users u left join pam.profiles p on p.id = u.id
  where u.id = target
$$;

-- Accounts by email or name, for the portal's search.
create function pam.admin_find_accounts(q text, max_rows integer) returns table (
  id uuid, email text, full_name text, created_at timestamptz, suspended_until timestamptz
)
language sql
stable
security definer
set search_path = ''
as $$
  select u.id, u.email::text, p.full_name, u.created_at, case when u.banned_until > now() then u.banned_until end
  from auth.users u left join pam.profiles p on p.id = u.id
  where q is null or u.email ilike q or p.full_name ilike q
  order by u.created_at desc, u.id
  limit max_rows
$$;

revoke execute on function pam.admin_grant(text), pam.admin_revoke(text), pam.admin_set_suspension(uuid, timestamptz),
  pam.admin_delete_account(uuid), pam.admin_account(uuid), pam.admin_find_accounts(text, integer),
  pam.admin_audit_log_append_only() from public, anon, authenticated;
grant execute on function pam.admin_grant(text), pam.admin_revoke(text), pam.admin_set_suspension(uuid, timestamptz),
  pam.admin_delete_account(uuid), pam.admin_account(uuid), pam.admin_find_accounts(text, integer) to service_role;

-- The product-metrics job's statement (supabase/functions/jobs/product-metrics.ts):
-- a security definer function because it counts sessions and accounts in
-- auth, which service_role may not read.
create function pam.jobs_product_metrics(metrics_day date) returns integer
language sql
security definer
set search_path = ''
as $$
  with bounds as (
    select metrics_day as day, metrics_day::timestamp at time zone 'UTC' as day_start
  ),
  activity as (
    select s.user_id, greatest(s.created_at, s.updated_at) as at from auth.sessions s, bounds b
      where s.updated_at >= b.day_start - interval '6 days' or s.created_at >= b.day_start - interval '6 days'
    union all select e.user_id, e.created_at from pam.expenses e, bounds b where e.created_at >= b.day_start - interval '6 days'
    union all select t.user_id, t.created_at from pam.trips t, bounds b where t.created_at >= b.day_start - interval '6 days'
    union all select m.user_id, m.created_at from pam.messages m, bounds b
      where m.role = 'user' and m.created_at >= b.day_start - interval '6 days'
    union all select p.author_id, p.created_at from pam.posts p, bounds b where p.created_at >= b.day_start - interval '6 days'
    union all select c.author_id, c.created_at from pam.comments c, bounds b where c.created_at >= b.day_start - interval '6 days'
  ),
  window_activity as (
    select a.user_id, a.at >= b.day_start as on_day from activity a, bounds b
    where a.at < b.day_start + interval '1 day'
  ),
  intents as (
    select m.metadata ->> 'intent' as intent, count(*)::int as rated,
           count(*) filter (where f.routing_correct)::int as routed_correctly,
           round(count(*) filter (where f.routing_correct)::numeric
                 / nullif(count(f.routing_correct), 0), 3)::float8 as accuracy,
           round(avg(f.rating), 2)::float8 as average_rating
    from pam.message_feedback f join pam.messages m on m.id = f.message_id, bounds b
    where f.created_at >= b.day_start and f.created_at < b.day_start + interval '1 day' and m.metadata ? 'intent'
    group by 1
  ),
  jobs as (
    select j.job, count(*)::int as runs, count(*) filter (where j.status = 'done')::int as done,
           count(*) filter (where j.status = 'failed')::int as failed, sum(j.attempts)::int as attempts
    from pam.job_runs j, bounds b where j.period = b.day group by j.job
  ),
  sent as (
    select n.kind, count(*)::int as sent, count(n.read_at)::int as read
    from pam.notifications n, bounds b
    where n.created_at >= b.day_start and n.created_at < b.day_start + interval '1 day' group by n.kind
  ),
  written as (
    insert into pam.product_metrics as pm (date, active_users, weekly_active_users, new_users, expenses_logged, trips_logged,
                                     chat_messages, intent_accuracy, job_runs, notifications, computed_at)
    select b.day,
      (select count(distinct w.user_id) from window_activity w where w.on_day),
      (select count(distinct w.user_id) from window_activity w),
      (select count(*) from auth.users u where u.created_at >= b.day_start and u.created_at < b.day_start + interval '1 day'),
      (select count(*) from pam.expenses e where e.created_at >= b.day_start and e.created_at < b.day_start + interval '1 day'),
      (select count(*) from pam.trips t where t.created_at >= b.day_start and t.created_at < b.day_start + interval '1 day'),
      (select count(*) from pam.messages m
        where m.role = 'user' and m.created_at >= b.day_start and m.created_at < b.day_start + interval '1 day'),
      coalesce((select jsonb_agg(to_jsonb(i) order by i.intent) from intents i), '[]'),
      coalesce((select jsonb_agg(to_jsonb(j) order by j.job) from jobs j), '[]'),
      coalesce((select jsonb_agg(to_jsonb(s) order by s.kind) from sent s), '[]'),
      now()
    from bounds b
    on conflict (date) do update set
      active_users = excluded.active_users, weekly_active_users = excluded.weekly_active_users,
      new_users = excluded.new_users, expenses_logged = excluded.expenses_logged, trips_logged = excluded.trips_logged,
      chat_messages = excluded.chat_messages, intent_accuracy = excluded.intent_accuracy, job_runs = excluded.job_runs,
      notifications = excluded.notifications, computed_at = excluded.computed_at
    returning 1
  )
  select count(*)::int from written
$$;
revoke execute on function pam.jobs_product_metrics(date) from public, anon, authenticated;
grant execute on function pam.jobs_product_metrics(date) to service_role;
