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

-- Email channels name only the notification kinds there are (they are merged
-- into the profile, so a made-up kind stayed forever); choices stored for
-- other names before are dropped, so that preferences read and sent back
-- whole are accepted.
update pam.profiles p set preferences = jsonb_set(p.preferences, '{notifications,channels}', (
    select coalesce(jsonb_object_agg(c.kind, c.channel), '{}'::jsonb)
      from jsonb_each(p.preferences -> 'notifications' -> 'channels') as c(kind, channel)
     where c.kind in ('budget_threshold', 'maintenance_due', 'event_reminder', 'document_expiring', 'social', 'report_ready')))
 where jsonb_typeof(p.preferences -> 'notifications' -> 'channels') = 'object'
   and exists (select 1 from jsonb_object_keys(p.preferences -> 'notifications' -> 'channels') as k(kind)
                where k.kind not in ('budget_threshold', 'maintenance_due', 'event_reminder', 'document_expiring', 'social', 'report_ready'));
