-- A profile's time zone as the database spells it. PATCH /auth/me (and PAM's
-- update_preferences) took any zone Intl knows, in any case
-- ("america/los_angeles"), while the jobs find a traveller's zone in
-- pg_timezone_names by its exact name (jobs/users.ts, jobs/email-digest.ts):
-- such a traveller's reports, alerts, reminders and digest ran on UTC. Writes
-- now store the name as the database spells it; zones stored before are mended here, by a
-- match without case.
update pam.profiles p set preferences = jsonb_set(p.preferences, '{timezone}', to_jsonb(z.name))
  from (select distinct on (lower(name)) name from pg_timezone_names order by lower(name), name) z
 where jsonb_typeof(p.preferences -> 'timezone') = 'string'
   and lower(p.preferences ->> 'timezone') = lower(z.name)
   and p.preferences ->> 'timezone' <> z.name;

-- The audit log is looked up by target without case (GET /admin/audit?target_id=): ids are recorded
-- in lower case now, and the records made before with an id in upper case stay as they were.
create index if not exists admin_audit_log_target_lower_idx on pam.admin_audit_log (target_type, lower(target_id));
