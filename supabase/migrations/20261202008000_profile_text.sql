-- A name and a region are single-line text (the API refuses control
-- characters and line separators in them), but a sign-up straight to
-- Supabase Auth (`supabase.auth.signUp({options: {data: {full_name}}})`)
-- reached the profile unchecked: a name with line breaks then wrote lines of
-- its own into other travellers' notifications and digest emails ("Eve liked
-- your post" with a forged paragraph after it). The profile now takes them as
-- one line: every run of control characters, line separators and spaces is
-- one space. Profiles written before are mended the same way.
create or replace function pam.one_line(value text) returns text
language sql immutable
set search_path = ''
as $$ select btrim(regexp_replace(value, '[[:cntrl:][:space:]\u2028\u2029]+', ' ', 'g')) $$;

create or replace function pam.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into pam.profiles (id, email, full_name, region)
  values (
    new.id,
    coalesce(new.email, ''),
    left(pam.one_line(coalesce(new.raw_user_meta_data ->> 'full_name', '')), 200),
    left(nullif(pam.one_line(new.raw_user_meta_data ->> 'region'), ''), 100)
  );
  return new;
end
$$;

update pam.profiles set full_name = pam.one_line(full_name) where full_name ~ '[[:cntrl:]\u2028\u2029]';
update pam.profiles set region = nullif(pam.one_line(region), '') where region ~ '[[:cntrl:]\u2028\u2029]';
