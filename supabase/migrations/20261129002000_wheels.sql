-- Wheels: vehicles, maintenance, fuel, trips, saved places, and the shared
-- campsite directory with its reviews.
--
-- A fill-up is an expense (category fuel) carrying its fuel details, not a row
-- of its own: recorded once, it cannot disagree with itself — the month's fuel
-- spend in /wins/summary and the fuel cost in /wheels/fuel/stats are sums over
-- the same rows, deleting it in either view deletes it in both, and the CSV
-- export carries it. /wheels/fuel is the fill-up view of those rows.

create extension if not exists cube with schema extensions;
create extension if not exists earthdistance with schema extensions;

create table pam.vehicles (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 100),
  type text not null default 'motorhome'
    check (type in ('motorhome', 'caravan', 'campervan', 'fifth_wheel', 'tow_vehicle', 'other')),
  make text check (char_length(make) <= 60),
  model text check (char_length(model) <= 60),
  year integer check (year between 1900 and 2100),
  fuel_type text check (fuel_type in ('diesel', 'unleaded', 'premium', 'e10', 'lpg', 'electric', 'other')),
  tank_capacity numeric(6, 1) check (tank_capacity > 0 and tank_capacity <= 2000),
  current_odometer integer not null default 0 check (current_odometer between 0 and 10000000),
  odometer_unit text not null default 'km' check (odometer_unit in ('km', 'mi')),
  -- Routing hints (Mapbox max_height/max_width/max_weight) and the rig length campsites allow.
  height_m numeric(4, 2) check (height_m > 0 and height_m <= 10),
  width_m numeric(4, 2) check (width_m > 0 and width_m <= 5),
  length_m numeric(4, 1) check (length_m > 0 and length_m <= 40),
  weight_t numeric(5, 2) check (weight_t > 0 and weight_t <= 100),
  notes text not null default '' check (char_length(notes) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint vehicles_id_user_key unique (id, user_id)
);
comment on table pam.vehicles is 'A traveller''s vehicles: odometer, fuel, and the dimensions routing and campsites care about.';
create index vehicles_user_created_idx on pam.vehicles (user_id, created_at desc, id desc);

create table pam.maintenance_records (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  vehicle_id uuid not null,
  task text not null check (char_length(btrim(task)) between 1 and 200),
  date date not null check (date between '1970-01-01' and '2100-12-31'),
  odometer integer check (odometer between 0 and 10000000),
  cost numeric(12, 2) check (cost >= 0),
  currency char(3) check (currency ~ '^[A-Z]{3}$'),
  location text check (char_length(location) <= 200),
  notes text not null default '' check (char_length(notes) <= 2000),
  next_due_date date check (next_due_date between '1970-01-01' and '2100-12-31'),
  next_due_odometer integer check (next_due_odometer between 0 and 10000000),
  interval_days integer check (interval_days between 1 and 3650),
  interval_distance integer check (interval_distance between 1 and 1000000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint maintenance_records_vehicle_fkey foreign key (vehicle_id, user_id)
    references pam.vehicles (id, user_id) on delete cascade,
  constraint maintenance_records_cost_currency check ((cost is null) = (currency is null))
);
comment on table pam.maintenance_records is 'Work done on a vehicle, and when (date and/or odometer) it is next due.';
create index maintenance_user_date_idx on pam.maintenance_records (user_id, date desc, created_at desc, id desc);
-- The latest record of each task per vehicle decides what is due.
create index maintenance_latest_task_idx
  on pam.maintenance_records (user_id, vehicle_id, lower(task), date desc, created_at desc);
create index maintenance_vehicle_odometer_idx on pam.maintenance_records (vehicle_id, date) where odometer is not null;

create table pam.trips (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 200),
  status text not null default 'planned' check (status in ('planned', 'active', 'completed')),
  vehicle_id uuid,
  start_date date check (start_date between '1970-01-01' and '2100-12-31'),
  end_date date check (end_date between '1970-01-01' and '2100-12-31'),
  -- {name, lat, lng}; stops: the ordered waypoints between them (Mapbox takes 25 coordinates in all).
  origin jsonb check (jsonb_typeof(origin) = 'object'),
  destination jsonb check (jsonb_typeof(destination) = 'object'),
  stops jsonb not null default '[]' check (jsonb_typeof(stops) = 'array' and jsonb_array_length(stops) <= 23),
  planned_distance_km numeric(8, 1) check (planned_distance_km >= 0),
  planned_duration_min integer check (planned_duration_min >= 0),
  route_polyline text check (char_length(route_polyline) <= 500000),
  route_computed_at timestamptz,
  estimated_fuel_cost numeric(12, 2) check (estimated_fuel_cost >= 0),
  notes text not null default '' check (char_length(notes) <= 4000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint trips_id_user_key unique (id, user_id),
  constraint trips_dates_order check (start_date is null or end_date is null or start_date <= end_date),
  constraint trips_vehicle_fkey foreign key (vehicle_id, user_id)
    references pam.vehicles (id, user_id) on delete set null (vehicle_id)
);
comment on table pam.trips is 'Trips: origin, ordered stops, destination, and the computed route.';
create index trips_user_created_idx on pam.trips (user_id, created_at desc, id desc);

create table pam.saved_places (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 200),
  kind text not null default 'favourite'
    check (kind in ('campsite', 'dump_point', 'fuel_station', 'water', 'favourite', 'other')),
  latitude double precision not null check (latitude between -90 and 90),
  longitude double precision not null check (longitude between -180 and 180),
  address text check (char_length(address) <= 300),
  notes text not null default '' check (char_length(notes) <= 2000),
  rating smallint check (rating between 1 and 5),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table pam.saved_places is 'Places a traveller keeps: campsites, dump points, fuel stations, favourites.';
create index saved_places_user_created_idx on pam.saved_places (user_id, created_at desc, id desc);

-- Shared reference data: every signed-in user reads it; only the service role and the seed write it.
create table pam.campsites (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(btrim(name)) between 1 and 200),
  type text not null check (type in ('national_park', 'free_camping', 'caravan_park', 'showground', 'rest_area')),
  latitude double precision not null check (latitude between -90 and 90),
  longitude double precision not null check (longitude between -180 and 180),
  region text check (char_length(region) <= 100),
  description text not null default '' check (char_length(description) <= 4000),
  amenities text[] not null default '{}',
  rv_friendly boolean not null default true,
  max_rig_length_m numeric(4, 1) check (max_rig_length_m > 0),
  price_per_night numeric(8, 2) not null default 0 check (price_per_night >= 0),
  currency char(3) not null default 'AUD' check (currency ~ '^[A-Z]{3}$'),
  booking text check (char_length(booking) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table pam.campsites is 'The campsite directory (reference data): searched by distance with earthdistance.';
create index campsites_location_idx on pam.campsites
  using gist (extensions.ll_to_earth(latitude, longitude));
create index campsites_amenities_idx on pam.campsites using gin (amenities);

create table pam.campsite_reviews (
  id uuid primary key default gen_random_uuid(),
  campsite_id uuid not null references pam.campsites (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  rating smallint not null check (rating between 1 and 5),
  review text not null default '' check (char_length(review) <= 2000),
  visited_on date check (visited_on between '1970-01-01' and '2100-12-31'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint campsite_reviews_one_per_user unique (campsite_id, user_id)
);
comment on table pam.campsite_reviews is 'One rating and review per user and campsite; readable by every signed-in user.';
create index campsite_reviews_site_idx on pam.campsite_reviews (campsite_id, created_at desc, id desc);
create index campsite_reviews_user_idx on pam.campsite_reviews (user_id);

-- Fill-ups: the fuel details of an expense gain a full-tank flag (consumption
-- is measured between full tanks); links to vehicles and trips become foreign
-- keys with user_id, so nobody can link another user's vehicle or trip.
alter table pam.expenses add column fuel_full_tank boolean;
update pam.expenses set fuel_full_tank = true where fuel_volume is not null;
alter table pam.expenses add constraint expenses_full_tank_needs_volume
  check (fuel_full_tank is null or fuel_volume is not null);
update pam.expenses e set vehicle_id = null
 where vehicle_id is not null and not exists (select 1 from pam.vehicles v where v.id = e.vehicle_id and v.user_id = e.user_id);
update pam.expenses e set trip_id = null
 where trip_id is not null and not exists (select 1 from pam.trips t where t.id = e.trip_id and t.user_id = e.user_id);
alter table pam.expenses
  add constraint expenses_vehicle_fkey foreign key (vehicle_id, user_id)
    references pam.vehicles (id, user_id) on delete set null (vehicle_id),
  add constraint expenses_trip_fkey foreign key (trip_id, user_id)
    references pam.trips (id, user_id) on delete set null (trip_id);
create index expenses_user_fill_ups_idx on pam.expenses (user_id, date desc, created_at desc, id desc)
  where fuel_volume is not null;
create index expenses_vehicle_odometer_idx on pam.expenses (vehicle_id, date) where odometer is not null;

-- Odometer readings follow the calendar: a reading may not be lower than one
-- on an earlier day, nor higher than one on a later day; and the newest
-- reading may not be below the vehicle's current odometer, which it then
-- advances. The vehicle row is locked so parallel writes take turns.
-- Refusals carry constraint wheels_odometer_order (409 in the API).
create function pam.wheels_check_odometer() returns trigger
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

create function pam.wheels_follow_odometer_fix() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update pam.vehicles v set current_odometer = coalesce((
    select max(r.odometer) from (
      select m.odometer from pam.maintenance_records m where m.vehicle_id = new.vehicle_id
      union all
      select e.odometer from pam.expenses e where e.vehicle_id = new.vehicle_id
    ) r), 0)
   where v.id = new.vehicle_id and v.current_odometer <= old.odometer;
  return null;
end
$$;

create trigger maintenance_records_odometer_fix after update of odometer on pam.maintenance_records
  for each row when (old.vehicle_id = new.vehicle_id and (new.odometer is null or new.odometer < old.odometer))
  execute function pam.wheels_follow_odometer_fix();
create trigger expenses_odometer_fix after update of odometer on pam.expenses
  for each row when (old.vehicle_id = new.vehicle_id and (new.odometer is null or new.odometer < old.odometer))
  execute function pam.wheels_follow_odometer_fix();

create trigger maintenance_records_odometer before insert or update of vehicle_id, odometer, date
  on pam.maintenance_records for each row execute function pam.wheels_check_odometer();
create trigger expenses_odometer before insert or update of vehicle_id, odometer, date
  on pam.expenses for each row execute function pam.wheels_check_odometer();

-- A vehicle's current odometer may not be set below a recorded reading, and
-- its unit may not change once readings in the old unit exist.
create function pam.wheels_check_vehicle_odometer() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  highest integer;
begin
  select max(r.odometer) into highest from (
    select m.odometer from pam.maintenance_records m where m.vehicle_id = new.id and m.odometer is not null
    union all
    select e.odometer from pam.expenses e where e.vehicle_id = new.id and e.odometer is not null
  ) r;
  if highest is not null and new.current_odometer < highest then
    raise exception 'current odometer % % is below the recorded reading of % %',
      new.current_odometer, new.odometer_unit, highest, new.odometer_unit
      using errcode = 'check_violation', constraint = 'wheels_odometer_order';
  end if;
  if highest is not null and new.odometer_unit <> old.odometer_unit then
    raise exception 'the odometer unit cannot change once readings are recorded in %', old.odometer_unit
      using errcode = 'check_violation', constraint = 'wheels_odometer_unit';
  end if;
  return new;
end
$$;

create trigger vehicles_odometer before update of current_odometer, odometer_unit on pam.vehicles
  for each row when (new.current_odometer < old.current_odometer or new.odometer_unit <> old.odometer_unit)
  execute function pam.wheels_check_vehicle_odometer();

create trigger vehicles_set_updated_at before update on pam.vehicles
  for each row execute function pam.set_updated_at();
create trigger maintenance_records_set_updated_at before update on pam.maintenance_records
  for each row execute function pam.set_updated_at();
create trigger trips_set_updated_at before update on pam.trips
  for each row execute function pam.set_updated_at();
create trigger saved_places_set_updated_at before update on pam.saved_places
  for each row execute function pam.set_updated_at();
create trigger campsites_set_updated_at before update on pam.campsites
  for each row execute function pam.set_updated_at();
create trigger campsite_reviews_set_updated_at before update on pam.campsite_reviews
  for each row execute function pam.set_updated_at();

alter table pam.vehicles enable row level security;
alter table pam.maintenance_records enable row level security;
alter table pam.trips enable row level security;
alter table pam.saved_places enable row level security;
alter table pam.campsites enable row level security;
alter table pam.campsite_reviews enable row level security;

do $$
declare
  t text;
begin
  foreach t in array array['vehicles', 'maintenance_records', 'trips', 'saved_places'] loop
    execute format('create policy %1$s_select_own on pam.%1$I for select to authenticated using ((select auth.uid()) = user_id)', t);
    execute format('create policy %1$s_insert_own on pam.%1$I for insert to authenticated with check ((select auth.uid()) = user_id)', t);
    execute format('create policy %1$s_update_own on pam.%1$I for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id)', t);
    execute format('create policy %1$s_delete_own on pam.%1$I for delete to authenticated using ((select auth.uid()) = user_id)', t);
  end loop;
end
$$;

create policy campsites_select_signed_in on pam.campsites for select to authenticated using (true);

create policy campsite_reviews_select_signed_in on pam.campsite_reviews for select to authenticated using (true);
create policy campsite_reviews_insert_own on pam.campsite_reviews
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy campsite_reviews_update_own on pam.campsite_reviews
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy campsite_reviews_delete_own on pam.campsite_reviews
  for delete to authenticated using ((select auth.uid()) = user_id);

revoke all on pam.vehicles, pam.maintenance_records, pam.trips, pam.saved_places, pam.campsites,
  pam.campsite_reviews from public, anon, authenticated;
grant all on pam.vehicles, pam.maintenance_records, pam.trips, pam.saved_places, pam.campsites,
  pam.campsite_reviews to service_role;
grant select, insert, update, delete on pam.vehicles, pam.maintenance_records, pam.trips, pam.saved_places
  to authenticated;
grant select on pam.campsites to authenticated;
grant select, delete on pam.campsite_reviews to authenticated;
grant insert (campsite_id, user_id, rating, review, visited_on) on pam.campsite_reviews to authenticated;
grant update (rating, review, visited_on) on pam.campsite_reviews to authenticated;
revoke execute on function pam.wheels_check_odometer(), pam.wheels_check_vehicle_odometer(),
  pam.wheels_follow_odometer_fix() from public, anon, authenticated;
