-- Demo data for local runs only (never pushed to hosted projects).
-- Demo account: demo@pam.local / pam-demo-password
insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data)
values (
  '00000000-0000-4000-8000-000000000001', 'authenticated', 'authenticated', 'demo@pam.local',
  crypt('pam-demo-password', gen_salt('bf', 10)), now(),
  '{"provider":"email","providers":["email"]}',
  '{"full_name":"Demo Traveller","region":"AU"}'
)
on conflict (id) do nothing;

update pam.profiles
set preferences = '{"currency":"AUD","units":"metric","timezone":"Australia/Brisbane"}'
where id = '00000000-0000-4000-8000-000000000001';
