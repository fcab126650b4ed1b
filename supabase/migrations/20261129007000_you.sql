-- You: the traveller's calendar. An event is kept as the instants it starts
-- and ends (timestamptz) with the IANA time zone it was entered in: the wall
-- clock the traveller typed is that instant in that zone, recurrences repeat
-- that wall clock (09:00 stays 09:00 across a daylight-saving change), and
-- an all-day event is whole local days from midnight to midnight.
-- Recurrence is a documented subset of RFC 5545 RRULE, checked here and
-- expanded by the `rrule` library in the function.

alter table pam.maintenance_records add constraint maintenance_records_id_user_key unique (id, user_id);

create table pam.calendar_events (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null check (char_length(btrim(title)) between 1 and 200),
  kind text not null default 'personal' check (kind in ('travel', 'maintenance', 'appointment', 'social', 'personal')),
  all_day boolean not null default false,
  time_zone text not null check (char_length(time_zone) between 1 and 64),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  location_name text check (char_length(location_name) between 1 and 200),
  latitude double precision check (latitude between -90 and 90),
  longitude double precision check (longitude between -180 and 180),
  -- Minutes before each occurrence's start (at most 28 days), one notification each.
  reminders integer[] not null default '{}'
    check (cardinality(reminders) <= 5 and 0 <= all (reminders) and 40320 >= all (reminders)),
  recurrence text check (recurrence ~ '^FREQ=(DAILY|WEEKLY|MONTHLY)(;INTERVAL=[1-9][0-9]{0,2})?(;BYDAY=(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU)){0,6})?(;(UNTIL=[0-9]{8}|COUNT=[1-9][0-9]{0,2}))?$'),
  -- The last local day an occurrence may start on (from UNTIL or COUNT); null: forever or none.
  recurrence_ends date,
  notes text not null default '' check (char_length(notes) <= 2000),
  trip_id uuid,
  maintenance_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint calendar_events_order check (ends_at >= starts_at and ends_at <= starts_at + interval '366 days'),
  constraint calendar_events_coordinates check ((latitude is null) = (longitude is null)),
  constraint calendar_events_trip_fkey foreign key (trip_id, user_id)
    references pam.trips (id, user_id) on delete set null (trip_id),
  constraint calendar_events_maintenance_fkey foreign key (maintenance_id, user_id)
    references pam.maintenance_records (id, user_id) on delete set null (maintenance_id)
);
comment on table pam.calendar_events is 'The traveller''s events: instants with the zone they were entered in, reminders, recurrence.';
create index calendar_events_user_start_idx on pam.calendar_events (user_id, starts_at);
create index calendar_events_recurring_idx on pam.calendar_events (user_id, recurrence_ends) where recurrence is not null;
create index calendar_events_created_idx on pam.calendar_events (user_id, created_at desc, id desc);
-- The reminders job's two scans: one-off events by start, recurring ones by their last day.
create index calendar_events_remind_once_idx on pam.calendar_events (starts_at)
  where recurrence is null and reminders <> '{}';
create index calendar_events_remind_recurring_idx on pam.calendar_events (recurrence_ends)
  where recurrence is not null and reminders <> '{}';

-- Event reminders are notifications too.
alter table pam.notifications drop constraint notifications_kind_check;
alter table pam.notifications add constraint notifications_kind_check
  check (kind in ('maintenance_due', 'budget_threshold', 'report_ready', 'social', 'event_reminder'));

create trigger calendar_events_set_updated_at before update on pam.calendar_events
  for each row execute function pam.set_updated_at();

-- Offline apps sync the calendar (GET /sync/pull, POST /sync/push), as the other user tables.
alter table pam.calendar_events add column sync_created xid8 not null default pg_current_xact_id(),
  add column sync_xid xid8 not null default pg_current_xact_id();
create index calendar_events_user_sync_idx on pam.calendar_events (user_id, sync_xid);
create trigger calendar_events_sync_touch before update on pam.calendar_events
  for each row execute function pam.sync_touch();
create trigger calendar_events_sync_tombstone after delete on pam.calendar_events
  for each row execute function pam.sync_remember_deletion();

alter table pam.calendar_events enable row level security;
create policy calendar_events_select_own on pam.calendar_events for select to authenticated
  using ((select auth.uid()) = user_id);
create policy calendar_events_insert_own on pam.calendar_events for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy calendar_events_update_own on pam.calendar_events for update to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy calendar_events_delete_own on pam.calendar_events for delete to authenticated
  using ((select auth.uid()) = user_id);

revoke all on pam.calendar_events from public, anon, authenticated;
grant all on pam.calendar_events to service_role;
grant select, insert, update, delete on pam.calendar_events to authenticated;
