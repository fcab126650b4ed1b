-- PAM chat: conversations, their messages (with what PAM understood and did
-- in `metadata`), feedback on answers, and memories — what a traveller told
-- PAM to keep (facts, preferences, events), found again by full-text and
-- trigram ranking.

create extension if not exists pg_trgm with schema extensions;

create table pam.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null default '' check (char_length(title) <= 200),
  status text not null default 'active' check (status in ('active', 'archived')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint conversations_id_user_key unique (id, user_id)
);
comment on table pam.conversations is 'Chats with PAM.';
create index conversations_user_updated_idx on pam.conversations (user_id, updated_at desc, id desc);

create table pam.messages (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  role text not null check (role in ('user', 'assistant', 'tool', 'system')),
  content text not null check (char_length(content) <= 20000),
  -- intent, confidence, entities, actions (with their results), usage, latency per stage.
  metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
  created_at timestamptz not null default clock_timestamp(),
  constraint messages_conversation_fkey foreign key (conversation_id, user_id)
    references pam.conversations (id, user_id) on delete cascade
);
comment on table pam.messages is 'Messages of a conversation; metadata says what PAM understood and did.';
create index messages_conversation_created_idx on pam.messages (conversation_id, created_at desc, id desc);
create index messages_user_created_idx on pam.messages (user_id, created_at desc);

create table pam.message_feedback (
  message_id uuid primary key references pam.messages (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  rating smallint not null check (rating between 1 and 5),
  routing_correct boolean,
  comment text not null default '' check (char_length(comment) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table pam.message_feedback is 'A traveller''s rating of one of PAM''s answers (one per message).';
create index message_feedback_user_idx on pam.message_feedback (user_id);

create table pam.memories (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  kind text not null default 'fact' check (kind in ('fact', 'preference', 'event')),
  content text not null check (char_length(btrim(content)) between 1 and 1000),
  source_message_id uuid references pam.messages (id) on delete set null,
  importance smallint not null default 3 check (importance between 1 and 5),
  last_used_at timestamptz,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  search tsvector generated always as (to_tsvector('english', content)) stored
);
comment on table pam.memories is 'What PAM remembers about a traveller, as they said it.';
create index memories_user_created_idx on pam.memories (user_id, created_at desc, id desc);
create index memories_search_idx on pam.memories using gin (search);
create index memories_trgm_idx on pam.memories using gin (content extensions.gin_trgm_ops);

create trigger conversations_set_updated_at before update on pam.conversations
  for each row execute function pam.set_updated_at();
create trigger message_feedback_set_updated_at before update on pam.message_feedback
  for each row execute function pam.set_updated_at();
create trigger memories_set_updated_at before update on pam.memories
  for each row execute function pam.set_updated_at();

alter table pam.conversations enable row level security;
alter table pam.messages enable row level security;
alter table pam.message_feedback enable row level security;
alter table pam.memories enable row level security;

do $$
declare
  t text;
begin
  foreach t in array array['conversations', 'messages', 'message_feedback', 'memories'] loop
    execute format('create policy %1$s_select_own on pam.%1$I for select to authenticated using ((select auth.uid()) = user_id)', t);
    execute format('create policy %1$s_insert_own on pam.%1$I for insert to authenticated with check ((select auth.uid()) = user_id)', t);
    execute format('create policy %1$s_update_own on pam.%1$I for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id)', t);
    execute format('create policy %1$s_delete_own on pam.%1$I for delete to authenticated using ((select auth.uid()) = user_id)', t);
  end loop;
end
$$;

revoke all on pam.conversations, pam.messages, pam.message_feedback, pam.memories from public, anon, authenticated;
grant all on pam.conversations, pam.messages, pam.message_feedback, pam.memories to service_role;
grant select, insert, update, delete on pam.conversations, pam.message_feedback, pam.memories to authenticated;
-- Messages are a record of what was said: written once, never edited.
grant select, insert, delete on pam.messages to authenticated;
