-- A signed-out session's access token stops working at once.
--
-- Access tokens are verified without a network call, so on their own they
-- stay valid until they expire (up to an hour) after a sign-out, a password
-- change or an account deletion. Supabase Auth answers 403 session_not_found
-- for them; the edge functions do the same: the statement that opens every
-- RLS transaction (claims, role) also calls this, so a token whose session
-- is gone fails before any of the request's own statements run, at no extra
-- round trip. SQLSTATE PAM01 maps to 401 session_not_found.
create function pam.require_session(session_id uuid, user_id uuid) returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not exists (
    select 1 from auth.sessions s
    where s.id = require_session.session_id and s.user_id = require_session.user_id
      and (s.not_after is null or s.not_after > now())
  ) then
    raise exception 'session_not_found' using errcode = 'PAM01';
  end if;
end
$$;
comment on function pam.require_session(uuid, uuid) is
  'Raises PAM01 unless the session exists, belongs to the user and has not expired (checked on every RLS transaction).';
revoke execute on function pam.require_session(uuid, uuid) from public, anon;
-- Called in the statement that also switches the role, so both may run it.
grant execute on function pam.require_session(uuid, uuid) to authenticated, service_role;
