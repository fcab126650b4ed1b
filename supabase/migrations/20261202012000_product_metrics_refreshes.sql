-- Product metrics: a session refreshed on a day counts its user active that
-- day even when it has been refreshed again since. A session keeps only its
-- latest refresh (auth.sessions.updated_at), so a traveller whose only activity
-- on a day was the app refreshing its session, and whose session was refreshed
-- again after midnight UTC before the job ran (00:15), went uncounted. Each
-- refresh (and each sign-in) is also a row of auth.refresh_tokens, created at
-- that moment; a row goes (the cleanup job) a day after the next refresh
-- revoked it, so the rows of the last refresh of each day of the 7-day window
-- are still there when the job runs.
create or replace function pam.jobs_product_metrics(metrics_day date) returns integer
language sql
security definer
set search_path = ''
as $$
  with bounds as (
    select metrics_day as day, metrics_day::timestamp at time zone 'UTC' as day_start
  ),
  activity as (
    select s.user_id, greatest(s.created_at, s.updated_at) as at from auth.sessions s, bounds b
      where s.updated_at >= b.day_start - interval '6 days' or s.created_at >= b.day_start - interval '6 days'
    union all select r.user_id::uuid, r.created_at from auth.refresh_tokens r, bounds b
      where r.created_at >= b.day_start - interval '6 days'
    union all select e.user_id, e.created_at from pam.expenses e, bounds b where e.created_at >= b.day_start - interval '6 days'
    union all select t.user_id, t.created_at from pam.trips t, bounds b where t.created_at >= b.day_start - interval '6 days'
    union all select m.user_id, m.created_at from pam.messages m, bounds b
      where m.role = 'user' and m.created_at >= b.day_start - interval '6 days'
    union all select p.author_id, p.created_at from pam.posts p, bounds b where p.created_at >= b.day_start - interval '6 days'
    union all select c.author_id, c.created_at from pam.comments c, bounds b where c.created_at >= b.day_start - interval '6 days'
  ),
  window_activity as (
    select a.user_id, a.at >= b.day_start as on_day from activity a, bounds b
    where a.at < b.day_start + interval '1 day'
  ),
  intents as (
    select m.metadata ->> 'intent' as intent, count(*)::int as rated,
           count(*) filter (where f.routing_correct)::int as routed_correctly,
           round(count(*) filter (where f.routing_correct)::numeric
                 / nullif(count(f.routing_correct), 0), 3)::float8 as accuracy,
           round(avg(f.rating), 2)::float8 as average_rating
    from pam.message_feedback f join pam.messages m on m.id = f.message_id, bounds b
    where f.created_at >= b.day_start and f.created_at < b.day_start + interval '1 day' and m.metadata ? 'intent'
    group by 1
  ),
  jobs as (
    select j.job, count(*)::int as runs, count(*) filter (where j.status = 'done')::int as done,
           count(*) filter (where j.status = 'failed')::int as failed, sum(j.attempts)::int as attempts
    from pam.job_runs j, bounds b where j.period = b.day group by j.job
  ),
  sent as (
    select n.kind, count(*)::int as sent, count(n.read_at)::int as read
    from pam.notifications n, bounds b
    where n.created_at >= b.day_start and n.created_at < b.day_start + interval '1 day' group by n.kind
  ),
  written as (
    insert into pam.product_metrics as pm (date, active_users, weekly_active_users, new_users, expenses_logged, trips_logged,
                                     chat_messages, intent_accuracy, job_runs, notifications, computed_at)
    select b.day,
      (select count(distinct w.user_id) from window_activity w where w.on_day),
      (select count(distinct w.user_id) from window_activity w),
      (select count(*) from auth.users u where u.created_at >= b.day_start and u.created_at < b.day_start + interval '1 day'),
      (select count(*) from pam.expenses e where e.created_at >= b.day_start and e.created_at < b.day_start + interval '1 day'),
      (select count(*) from pam.trips t where t.created_at >= b.day_start and t.created_at < b.day_start + interval '1 day'),
      (select count(*) from pam.messages m
        where m.role = 'user' and m.created_at >= b.day_start and m.created_at < b.day_start + interval '1 day'),
      coalesce((select jsonb_agg(to_jsonb(i) order by i.intent) from intents i), '[]'),
      coalesce((select jsonb_agg(to_jsonb(j) order by j.job) from jobs j), '[]'),
      coalesce((select jsonb_agg(to_jsonb(s) order by s.kind) from sent s), '[]'),
      now()
    from bounds b
    on conflict (date) do update set
      active_users = excluded.active_users, weekly_active_users = excluded.weekly_active_users,
      new_users = excluded.new_users, expenses_logged = excluded.expenses_logged, trips_logged = excluded.trips_logged,
      chat_messages = excluded.chat_messages, intent_accuracy = excluded.intent_accuracy, job_runs = excluded.job_runs,
      notifications = excluded.notifications, computed_at = excluded.computed_at
    returning 1
  )
  select count(*)::int from written
$$;
revoke execute on function pam.jobs_product_metrics(date) from public, anon, authenticated;
grant execute on function pam.jobs_product_metrics(date) to service_role;
