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

-- The cleanup job forgets keys older than `days` (beside pam.jobs_cleanup, in
-- the same transaction); the caller keeps `days` above the notifications' own
-- retention.
create function pam.notification_keys_cleanup(days integer) returns bigint
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from pam.notification_keys where created_at < now() - make_interval(days => notification_keys_cleanup.days) returning 1
  )
  select count(*) from gone
$$;
revoke execute on function pam.notification_keys_cleanup(integer) from public, anon, authenticated;
grant execute on function pam.notification_keys_cleanup(integer) to service_role;
