-- The daily report covers each traveller's local days once each, whatever
-- their time zone does between runs. The job (02:00 UTC) reports the day
-- before the traveller's local "today"; a traveller whose zone moves their
-- date on by two between runs (Los Angeles to Sydney, or a zone whose 02:00
-- UTC straddles local midnight across a daylight-saving change) skipped a
-- day. Each run now covers the days after the last one covered, up to three.
create table pam.daily_report_progress (
  user_id uuid primary key references auth.users (id) on delete cascade,
  -- The last local day the daily-analytics job covered (reported, or found with nothing to report).
  covered_through date not null
);
comment on table pam.daily_report_progress is
  'How far the daily-analytics job has covered each traveller''s local days (the jobs only).';

alter table pam.daily_report_progress enable row level security;
revoke all on pam.daily_report_progress from public, anon, authenticated;
grant all on pam.daily_report_progress to service_role;
