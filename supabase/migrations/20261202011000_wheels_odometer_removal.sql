-- A deleted reading takes back what it did to the current odometer.
--
-- A fill-up, service or Wins expense with a mistyped odometer (150000 for
-- 15000) raises the vehicle's current odometer; correcting the reading
-- brought it down (wheels_follow_odometer_fix), but deleting it left the typo
-- there, and with it every distance-based service due at once. Now deleting
-- the reading that set the current odometer brings it down as a correction
-- does: to the highest reading left, or to the odometer the owner last gave
-- the vehicle if that is higher (a correction used to fall to 0 when no
-- reading was left, forgetting it). Where that is not known (a vehicle from
-- before, whose current odometer a reading set) and no reading is left, the
-- current odometer stays as it is.

-- The odometer its owner last gave: on creation, or by changing
-- current_odometer themselves. Not a reading's: a reading raises
-- current_odometer from inside a trigger (pg_trigger_depth() > 1 there).
-- Null: not known.
alter table pam.vehicles
  add column odometer_set integer check (odometer_set between 0 and 10000000);
comment on column pam.vehicles.odometer_set is
  'The odometer the owner last gave (on creation or by changing current_odometer), where the current odometer falls back to when the readings above it go; null when not known.';

-- Existing vehicles: the owner gave the current odometer when no reading reaches it. Not a change
-- of the vehicle a device should hear of (its updated_at and sync position stay), or an edit made
-- offline before would meet a conflict.
alter table pam.vehicles disable trigger vehicles_set_updated_at, disable trigger vehicles_sync_touch;
update pam.vehicles v set odometer_set = v.current_odometer
 where not exists (select 1 from pam.maintenance_records m where m.vehicle_id = v.id and m.odometer >= v.current_odometer)
   and not exists (select 1 from pam.expenses e where e.vehicle_id = v.id and e.odometer >= v.current_odometer);
alter table pam.vehicles enable trigger vehicles_set_updated_at, enable trigger vehicles_sync_touch;

create function pam.wheels_note_odometer_set() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if pg_trigger_depth() = 1 and (tg_op = 'INSERT' or new.current_odometer is distinct from old.current_odometer) then
    new.odometer_set := new.current_odometer;
  end if;
  return new;
end
$$;

create trigger vehicles_odometer_set before insert or update of current_odometer on pam.vehicles
  for each row execute function pam.wheels_note_odometer_set();

-- The current odometer once the reading that set it is gone or lowered: the highest of the
-- owner's and the readings left; as it is when none of them is known.
create function pam.wheels_odometer_without(vehicle uuid) returns integer
language sql stable
set search_path = ''
as $$
  select coalesce(greatest(
    v.odometer_set,
    (select max(m.odometer) from pam.maintenance_records m where m.vehicle_id = vehicle and m.odometer is not null),
    (select max(e.odometer) from pam.expenses e where e.vehicle_id = vehicle and e.odometer is not null)
  ), v.current_odometer)
  from pam.vehicles v where v.id = vehicle
$$;

-- Correcting the reading that set the current odometer (as before, with the owner's odometer kept).
create or replace function pam.wheels_follow_odometer_fix() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update pam.vehicles v set current_odometer = pam.wheels_odometer_without(new.vehicle_id)
   where v.id = new.vehicle_id and v.current_odometer <= old.odometer;
  return null;
end
$$;

-- Deleting it: once per statement and vehicle (an account's deletion removes many readings at once).
create function pam.wheels_follow_odometer_removal() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update pam.vehicles v set current_odometer = pam.wheels_odometer_without(v.id)
    from (select g.vehicle_id, max(g.odometer) as highest from gone g
           where g.vehicle_id is not null and g.odometer is not null group by g.vehicle_id) r
   where v.id = r.vehicle_id and v.current_odometer <= r.highest;
  return null;
end
$$;

create trigger maintenance_records_odometer_removal after delete on pam.maintenance_records
  referencing old table as gone for each statement execute function pam.wheels_follow_odometer_removal();
create trigger expenses_odometer_removal after delete on pam.expenses
  referencing old table as gone for each statement execute function pam.wheels_follow_odometer_removal();

-- Trigger functions only (pam.wheels_odometer_without runs as the traveller, under their RLS, from them).
revoke execute on function pam.wheels_note_odometer_set(), pam.wheels_follow_odometer_removal()
  from public, anon, authenticated;
