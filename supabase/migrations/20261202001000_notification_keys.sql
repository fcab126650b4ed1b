-- A notification sent once stays sent once, after its row is gone.
--
-- Producers that must notify at most once per event (reminders, budget
-- alerts, reports, social notices) name the event in dedupe_key and insert
-- with `on conflict do nothing`. The only record that the event was notified
-- was the notification itself, and its owner may delete it (DELETE
-- /notifications/{id}) while the cleanup job deletes read ones after 30 days
-- and all after 180. The next run of the job then found no row and sent it
-- again, by email too: an event reminder deleted at 09:10 came back at 09:15,
-- an overdue maintenance task's every month.
--
-- Now every key used is kept in pam.notification_keys, which a before-insert
-- trigger on pam.notifications writes: a notification whose key was used
-- before is not inserted, whether or not its row is still there. The cleanup
-- job forgets keys after 400 days (longer than any notification is kept, and
-- than a yearly budget's period); a maintenance task overdue for longer than
-- that is reminded once more.

create table pam.notification_keys (
  user_id uuid not null references auth.users (id) on delete cascade,
  dedupe_key text not null,
  created_at timestamptz not null default now(),
  primary key (user_id, dedupe_key)
);
comment on table pam.notification_keys is
  'Every dedupe_key a notification was sent with, kept after the notification is deleted.';
create index notification_keys_created_idx on pam.notification_keys (created_at);

alter table pam.notification_keys enable row level security;
-- The owner reads their keys (Wins' budget alerts ask whether the 100% one was sent);
-- only the trigger below writes them.
create policy notification_keys_select_own on pam.notification_keys
  for select to authenticated using ((select auth.uid()) = user_id);
grant select on pam.notification_keys to authenticated;
grant all on pam.notification_keys to service_role;

insert into pam.notification_keys (user_id, dedupe_key, created_at)
select user_id, dedupe_key, created_at from pam.notifications where dedupe_key is not null
on conflict do nothing;

-- Security definer: users insert their own notifications (Wins' budget alerts)
-- and write no keys themselves.
create function pam.notification_key_claimed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.dedupe_key is null then
    return new;
  end if;
  insert into pam.notification_keys (user_id, dedupe_key) values (new.user_id, new.dedupe_key)
  on conflict do nothing;
  if not found then
    return null; -- sent before: skipped, as `on conflict do nothing` skips a row still there
  end if;
  return new;
end
$$;
revoke execute on function pam.notification_key_claimed() from public, anon, authenticated;
create trigger notifications_dedupe_key before insert on pam.notifications
  for each row execute function pam.notification_key_claimed();

-- The cleanup job forgets keys after `notification_keys_days` (20261129006000_jobs.sql's
-- function with that one more retention).
drop function pam.jobs_cleanup(integer, integer, integer, integer);
create function pam.jobs_cleanup(read_notifications_days integer, notifications_days integer, job_runs_days integer,
  reports_days integer, notification_keys_days integer)
returns table (refresh_tokens bigint, sessions bigint, notifications bigint, notification_keys bigint,
  memories bigint, job_runs bigint, daily_reports bigint, idempotency_keys bigint, sync_tombstones bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  n_tokens bigint;
  n_sessions bigint;
  n_notifications bigint;
  n_keys bigint;
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
  -- A key outlives its notification (kept at most notifications_days).
  delete from pam.notification_keys
   where created_at < now() - make_interval(days => greatest(notification_keys_days, notifications_days));
  get diagnostics n_keys = row_count;
  -- PAM's memories that have expired (stale chat context).
  delete from pam.memories where expires_at < now();
  get diagnostics n_memories = row_count;
  delete from pam.job_runs where started_at < now() - make_interval(days => job_runs_days);
  get diagnostics n_runs = row_count;
  delete from pam.daily_reports where date < current_date - reports_days;
  get diagnostics n_reports = row_count;
  select * into sync from pam.sync_cleanup();
  return query select n_tokens, n_sessions, n_notifications, n_keys, n_memories, n_runs, n_reports,
    sync.idempotency_keys, sync.tombstones;
end
$$;
revoke execute on function pam.jobs_cleanup(integer, integer, integer, integer, integer) from public, anon, authenticated;
grant execute on function pam.jobs_cleanup(integer, integer, integer, integer, integer) to service_role;
