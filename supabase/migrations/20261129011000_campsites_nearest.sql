-- The camping search, under RLS, through its GiST index again.
--
-- Since campsites can be retired (20261129008000_admin.sql), travellers see
-- them through a policy (retired_at is null). A policy's condition is a
-- security qualifier: a condition of the query that is not leakproof may not
-- be evaluated before it, and earthdistance's cube operators are not
-- leakproof, so the search's bounding box stopped being an index condition and
-- every search read the whole directory (160 ms for 20,000 sites instead of
-- ~10). As for posts (pam.social_posts_near), a definer function does the
-- search through campsites_location_idx, with the policy's own rule and the
-- traveller's filters, and names the page's sites and their distances; the
-- route then reads those few sites by id, under RLS.
--
-- Filters left null do not filter. Parameter names differ from the columns:
-- in a SQL function a column of the same name would win.
create function pam.campsites_nearest(
  at_lat double precision,
  at_lng double precision,
  within_m double precision,
  of_types text[],
  with_amenities text[],
  rv_only boolean,
  rig_length_m numeric,
  price_max numeric,
  page_size integer,
  skip integer
)
returns table (id uuid, distance_m double precision)
language sql stable security definer
rows 20 -- a page: the planner then reads the sites by id rather than scanning them all
set search_path = ''
as $$
  select c.id, d.m
    from pam.campsites c
    cross join lateral (
      select extensions.earth_distance(extensions.ll_to_earth(at_lat, at_lng), extensions.ll_to_earth(c.latitude, c.longitude)) as m
    ) d
   where c.retired_at is null
     and extensions.earth_box(extensions.ll_to_earth(at_lat, at_lng), within_m)
         operator(extensions.@>) extensions.ll_to_earth(c.latitude, c.longitude)
     and d.m <= within_m
     and (of_types is null or c.type = any(of_types))
     and (with_amenities is null or c.amenities @> with_amenities)
     and (rv_only is not true or c.rv_friendly)
     and (rig_length_m is null or c.max_rig_length_m is null or c.max_rig_length_m >= rig_length_m)
     and (price_max is null or c.price_per_night <= price_max)
   order by d.m, c.id
   limit page_size offset skip
$$;
comment on function pam.campsites_nearest(double precision, double precision, double precision, text[], text[], boolean, numeric, numeric, integer, integer) is
  'The camping search: current campsites within within_m metres of a point that match the filters, nearest first, one page (ids and distances; read the sites under RLS).';
revoke execute on function pam.campsites_nearest(double precision, double precision, double precision, text[], text[], boolean, numeric, numeric, integer, integer) from public, anon;
grant execute on function pam.campsites_nearest(double precision, double precision, double precision, text[], text[], boolean, numeric, numeric, integer, integer) to authenticated, service_role;
