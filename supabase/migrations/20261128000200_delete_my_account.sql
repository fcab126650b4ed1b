-- Account deletion by the account holder. Deleting the auth user removes the
-- profile and, through `on delete cascade`, every row the user owns in every
-- PAM table (each user table references auth.users or profiles that way).
-- Security definer because users have no privileges on auth.users; it can
-- only ever delete the caller, as named by the verified token's sub.
create or replace function public.delete_my_account() returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
begin
  if caller is null then
    raise exception 'not authenticated' using errcode = '42501';
  end if;
  delete from auth.users where id = caller;
  return found;
end
$$;

revoke execute on function public.delete_my_account() from public, anon;
grant execute on function public.delete_my_account() to authenticated;
