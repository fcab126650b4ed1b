-- An email not sent yet of a kind its traveller has turned off is not sent.
-- PATCH /notifications/channels, PATCH /auth/me, PAM's update_preferences and
-- the unsubscribe link all change the same preferences, so the rule is here,
-- where every one of them passes: the notifications waiting for an email or
-- for the digest whose channel is now off become suppressed. Before, only the
-- unsubscribe link did this, and a digest went out with notifications of a
-- kind turned off in the app. A digest left with none is suppressed when the
-- delivery job comes to it.
create or replace function pam.profiles_email_turned_off() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update pam.notifications n set email_status = 'suppressed', email_last_error = 'unsubscribed'
   where n.user_id = new.id and n.email_status in ('pending', 'digest')
     and pam.email_channel(new.preferences, n.kind) = 'off';
  return null;
end
$$;
revoke execute on function pam.profiles_email_turned_off() from public, anon, authenticated;
drop trigger if exists profiles_email_turned_off on pam.profiles;
create trigger profiles_email_turned_off after update of preferences on pam.profiles
  for each row when (old.preferences -> 'notifications' is distinct from new.preferences -> 'notifications')
  execute function pam.profiles_email_turned_off();
