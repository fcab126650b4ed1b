-- Notifications: one row per message to a user. Generic on purpose: the wins
-- function writes budget alerts here (as the user, in the same transaction as
-- the expense that triggered them), and the later jobs/notifications issue
-- reuses the table for listing, delivery and push.
create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  kind text not null check (kind ~ '^[a-z][a-z0-9_]{0,49}$'),
  title text not null check (char_length(title) between 1 and 200),
  body text not null default '' check (char_length(body) <= 2000),
  data jsonb not null default '{}'::jsonb check (jsonb_typeof(data) = 'object'),
  -- Idempotency: a producer that must notify at most once per event names the
  -- event here (e.g. budget:<id>:<period start>:80); a second insert with the
  -- same key is a conflict the producer ignores (`on conflict do nothing`).
  dedupe_key text check (dedupe_key is null or char_length(dedupe_key) between 1 and 200),
  read_at timestamptz,
  created_at timestamptz not null default now(),
  constraint notifications_user_dedupe_key unique (user_id, dedupe_key)
);

comment on table public.notifications is 'Messages to a user (budget alerts, reminders); generic, reused by the notifications issue.';

create index notifications_user_created_idx on public.notifications (user_id, created_at desc, id desc);

alter table public.notifications enable row level security;

-- Owner only. Functions insert as the user (only for themselves); the owner
-- reads, marks read (read_at is the only updatable column) and deletes.
create policy notifications_select_own on public.notifications
  for select to authenticated using ((select auth.uid()) = user_id);
create policy notifications_insert_own on public.notifications
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy notifications_update_own on public.notifications
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy notifications_delete_own on public.notifications
  for delete to authenticated using ((select auth.uid()) = user_id);

grant select, insert, delete on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
grant all on public.notifications to service_role;
