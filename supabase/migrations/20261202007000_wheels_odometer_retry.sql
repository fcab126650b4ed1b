-- A retried create of a fill-up or a service record (the same client-made id,
-- its answer lost) is answered with the row already there. Postgres runs
-- before-insert triggers before `on conflict` finds that row, so the odometer
-- check ran on the replayed reading: a 409 when the vehicle's odometer had
-- moved on since, or the odometer raised to a reading corrected since. The
-- check is the same as before, but for an insert whose id is already there.
create or replace function pam.wheels_check_odometer() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v record;
  clash record;
begin
  if new.vehicle_id is null or new.odometer is null then
    return new;
  end if;
  -- A retried create: the insert meets the row it made before and does nothing
  -- (on conflict) or fails on the key. Before-insert triggers run before that
  -- check, so its reading must not be checked or move the odometer again.
  if tg_op = 'INSERT' and (
       tg_table_name = 'expenses' and exists (select 1 from pam.expenses e where e.id = new.id)
       or tg_table_name = 'maintenance_records' and exists (select 1 from pam.maintenance_records m where m.id = new.id)) then
    return new;
  end if;
  select current_odometer, odometer_unit into v
    from pam.vehicles where id = new.vehicle_id and user_id = new.user_id for update;
  if not found then
    return new; -- the foreign key refuses it
  end if;
  select r.date, r.odometer into clash from (
    select m.date, m.odometer from pam.maintenance_records m
     where m.vehicle_id = new.vehicle_id and m.odometer is not null
       and (tg_table_name <> 'maintenance_records' or m.id <> new.id)
    union all
    select e.date, e.odometer from pam.expenses e
     where e.vehicle_id = new.vehicle_id and e.odometer is not null
       and (tg_table_name <> 'expenses' or e.id <> new.id)
  ) r
  where (r.date < new.date and r.odometer > new.odometer) or (r.date > new.date and r.odometer < new.odometer)
  order by r.date
  limit 1;
  if found then
    raise exception 'odometer % % on % does not fit the reading of % % on %',
      new.odometer, v.odometer_unit, new.date, clash.odometer, v.odometer_unit, clash.date
      using errcode = 'check_violation', constraint = 'wheels_odometer_order';
  end if;
  -- Correcting the reading that set the current odometer: the current
  -- odometer follows it (after the update: wheels_follow_odometer_fix).
  if tg_op = 'UPDATE' and old.vehicle_id = new.vehicle_id and old.odometer >= v.current_odometer
     and new.odometer < old.odometer then
    return new;
  end if;
  if new.odometer < v.current_odometer and not exists (
    select 1 from pam.maintenance_records m where m.vehicle_id = new.vehicle_id and m.odometer is not null and m.date > new.date
    union all
    select 1 from pam.expenses e where e.vehicle_id = new.vehicle_id and e.odometer is not null and e.date > new.date
  ) then
    raise exception 'odometer % % is below the vehicle''s current % %',
      new.odometer, v.odometer_unit, v.current_odometer, v.odometer_unit
      using errcode = 'check_violation', constraint = 'wheels_odometer_order';
  end if;
  if new.odometer > v.current_odometer then
    update pam.vehicles set current_odometer = new.odometer where id = new.vehicle_id;
  end if;
  return new;
end
$$;
