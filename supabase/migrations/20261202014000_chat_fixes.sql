-- PAM chat: the model's token usage, kept where the traveller cannot change it.
--
-- The daily token budget (PAM_CHAT_DAILY_TOKENS) was the sum of the usage
-- kept on the traveller's answers of the last 24 hours. Deleting a
-- conversation, or the answers, gave the tokens back; an answer that could
-- not be kept (`kept: false`) counted none; and turns sent at once were all
-- checked before any of them was kept.
--
-- Now a model turn reserves tokens in pam.model_usage before the model is
-- called, one reservation of a user at a time (an advisory lock for the
-- transaction), so turns sent at once each see the others'; when the turn
-- ends, the reservation becomes what it used, whatever becomes of the
-- answer. The table is nobody's to read or write: only the two functions
-- below write it. Called directly, the first can only add to the caller's
-- usage, and the second needs a reservation's id, which only the turn that
-- made it knows.

create table pam.model_usage (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  at timestamptz not null default now(),
  tokens integer not null check (tokens >= 0)
);
comment on table pam.model_usage is
  'Model tokens of each PAM turn (reserved while it runs): the daily token budget counts them.';
create index model_usage_user_at_idx on pam.model_usage (user_id, at);

alter table pam.model_usage enable row level security;
revoke all on pam.model_usage from public, anon, authenticated;
grant all on pam.model_usage to service_role;

-- Reserves `estimate` tokens for a model turn of the caller, unless what they
-- used in the last 24 hours has reached `budget`: the reservation's id, or
-- null. The caller's rows older than 2 days go.
create function pam.model_usage_reserve(budget bigint, estimate integer) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  reservation uuid;
begin
  if uid is null then
    raise exception 'model usage is recorded for a signed-in user' using errcode = '42501';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('pam.model_usage/' || uid::text, 0));
  -- New statements: they see what a turn that held the lock before committed.
  delete from pam.model_usage u where u.user_id = uid and u.at < now() - interval '2 days';
  if (select coalesce(sum(u.tokens), 0) from pam.model_usage u
      where u.user_id = uid and u.at > now() - interval '24 hours') >= budget then
    return null;
  end if;
  insert into pam.model_usage (user_id, tokens) values (uid, estimate) returning id into reservation;
  return reservation;
end
$$;

-- The tokens the turn that made `reservation` used, in place of the estimate.
create function pam.model_usage_settle(reservation uuid, used integer) returns void
language sql volatile security definer
set search_path = ''
as $$
  update pam.model_usage u set tokens = used where u.id = reservation and u.user_id = auth.uid()
$$;

revoke execute on function pam.model_usage_reserve(bigint, integer), pam.model_usage_settle(uuid, integer)
  from public, anon, authenticated;
grant execute on function pam.model_usage_reserve(bigint, integer), pam.model_usage_settle(uuid, integer)
  to authenticated, service_role;
