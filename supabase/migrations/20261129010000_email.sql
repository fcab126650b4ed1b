-- Email: notifications reach travellers by the channels they chose. In-app
-- is always on; per kind, the email channel is 'email' (each notification,
-- sent by the jobs function's email-deliveries job), 'digest' (one email a
-- day, assembled by the email-digest job) or 'off'. The choice lives in the
-- profile: preferences.notifications.channels.<kind>, and
-- preferences.notifications.email = false turns every email off.
--
-- Every notification records its email's delivery state, set when it is
-- written (a trigger, so every producer is covered: wins, the jobs, Social's
-- triggers, the admin portal, and kinds added later) and moved on by the
-- delivery job:
--   none       not emailed (the channel is off)
--   pending    to be sent at email_next_attempt_at (a failed attempt waits there for its retry)
--   sending    claimed by a delivery run (until email_next_attempt_at, the claim's lease)
--   sent       handed to the mail provider (email_sent_at)
--   failed     given up: a permanent refusal, or PAM_EMAIL_MAX_ATTEMPTS attempts (email_last_error)
--   suppressed not sent after all: unsubscribed since, or no confirmed address
--   digest     waiting for the day's digest (email_digest_id once it is assembled)

-- What a traveller gets unless they chose otherwise (as _shared/email-channels.ts).
create function pam.email_default_channel(kind text) returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select case kind when 'social' then 'digest' when 'report_ready' then 'off' else 'email' end
$$;

-- The email channel of a notification of `kind` under a profile's preferences.
create function pam.email_channel(prefs jsonb, kind text) returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select case
    when prefs -> 'notifications' -> 'email' = 'false'::jsonb then 'off'
    when prefs -> 'notifications' -> 'channels' ->> kind in ('email', 'digest', 'off')
      then prefs -> 'notifications' -> 'channels' ->> kind
    else pam.email_default_channel(kind)
  end
$$;

-- One digest email per traveller and local day.
create table pam.email_digests (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- The traveller's local day it was assembled on.
  day date not null,
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'suppressed')),
  attempts smallint not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text check (char_length(last_error) <= 500),
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  constraint email_digests_user_day_key unique (user_id, day)
);
comment on table pam.email_digests is 'Daily digest emails: one per traveller and local day, sent by the email-deliveries job.';
create index email_digests_due_idx on pam.email_digests (next_attempt_at) where status in ('pending', 'sending');
alter table pam.email_digests enable row level security;
-- The jobs' own: travellers see a digest through their notifications' state.
revoke all on pam.email_digests from public, anon, authenticated;
grant all on pam.email_digests to service_role;

alter table pam.notifications
  add column email_status text not null default 'none'
    check (email_status in ('none', 'pending', 'sending', 'sent', 'failed', 'suppressed', 'digest')),
  add column email_attempts smallint not null default 0,
  add column email_next_attempt_at timestamptz,
  add column email_last_error text check (char_length(email_last_error) <= 500),
  add column email_sent_at timestamptz,
  add column email_digest_id uuid references pam.email_digests (id) on delete set null;
-- The delivery job's claim, and the digest job's scan.
create index notifications_email_due_idx on pam.notifications (email_next_attempt_at)
  where email_status in ('pending', 'sending');
create index notifications_email_digest_idx on pam.notifications (user_id, created_at)
  where email_status = 'digest' and email_digest_id is null;
create index notifications_digest_id_idx on pam.notifications (email_digest_id) where email_digest_id is not null;

-- A new notification's email state, from its owner's channels at that moment.
-- Security definer: producers write as the traveller (wins), as another
-- traveller (Social's triggers) or as the service role; the profile is read
-- the same way for all of them.
create function pam.notifications_email_state() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  channel text;
begin
  select pam.email_channel(p.preferences, new.kind) into channel from pam.profiles p where p.id = new.user_id;
  new.email_status := case coalesce(channel, 'off') when 'email' then 'pending' when 'digest' then 'digest' else 'none' end;
  new.email_attempts := 0;
  new.email_next_attempt_at := case when new.email_status = 'pending' then now() end;
  new.email_last_error := null;
  new.email_sent_at := null;
  new.email_digest_id := null;
  return new;
end
$$;
revoke execute on function pam.notifications_email_state() from public, anon, authenticated;
create trigger notifications_email_state before insert on pam.notifications
  for each row execute function pam.notifications_email_state();

-- Whether the account's address is confirmed: email goes only to addresses
-- their owner proved (security definer: it reads Supabase Auth's table).
create function pam.email_address_confirmed(who uuid) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select coalesce((select u.email_confirmed_at is not null and u.email is not null and u.deleted_at is null
                   from auth.users u where u.id = who), false)
$$;
revoke execute on function pam.email_address_confirmed(uuid) from public, anon, authenticated;
grant execute on function pam.email_address_confirmed(uuid) to service_role;
revoke execute on function pam.email_default_channel(text), pam.email_channel(jsonb, text) from public, anon;
grant execute on function pam.email_default_channel(text), pam.email_channel(jsonb, text) to authenticated, service_role;

-- Sync sends a notification again when what the app shows of it changes, not
-- when its email moves from pending to sent.
drop trigger notifications_sync_touch on pam.notifications;
create trigger notifications_sync_touch before update of kind, title, body, data, read_at on pam.notifications
  for each row execute function pam.sync_touch();
