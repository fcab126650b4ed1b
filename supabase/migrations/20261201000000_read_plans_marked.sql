-- A prepared read is marked on its server connection, so the next read of it
-- skips pam.prepare_read altogether.
--
-- pam.prepare_read (20261130000000_read_plans.sql) looks the name up in
-- pg_prepared_statements on every read. That view builds a row for every
-- statement prepared on the connection, with its text and its parameter and
-- result types, so the lookup grows with them: ~10 µs per read with one
-- statement prepared, ~39 µs with 63 (one backend, a loop of the call), and a
-- connection shared by every function's reads holds up to 64.
--
-- Now, once a read is prepared (or found prepared), the function sets the
-- session setting `pam.<name>` to '1' on that connection, and the preamble
-- (db.ts) calls the function only when the setting is not '1':
--   case when current_setting('pam.<name>', true) = '1' then null
--        else pam.prepare_read('<name>', '<text>') end
-- The name is a hash of the text, so a mark stands for that text. Marks and
-- prepared statements go together: DISCARD ALL (a pooler's reset) drops both;
-- the oldest statement evicted at 64 takes its mark with it. A mark that
-- outlives its statement (a DEALLOCATE by hand, or a rollback after an
-- eviction, which undoes the mark's reset but not the DEALLOCATE) makes
-- `execute` fail with 26000; db.ts then runs the read once more with the
-- unguarded call, which prepares it again. A mark undone by a rollback while
-- its statement stays only costs the next read this function's lookup.
create or replace function pam.prepare_read(name text, statement text) returns void
language plpgsql
volatile
as $$
declare
  sql text := pg_catalog.format('prepare %I as %s', prepare_read.name, prepare_read.statement);
  have text;
  oldest text;
begin
  select p.statement into have from pg_catalog.pg_prepared_statements p where p.name = prepare_read.name;
  if have is distinct from sql then
    if have is not null then
      execute pg_catalog.format('deallocate %I', prepare_read.name);
    elsif (select pg_catalog.count(*) from pg_catalog.pg_prepared_statements p where p.name like 'pam\_r\_%') >= 64 then
      select p.name into oldest from pg_catalog.pg_prepared_statements p
      where p.name like 'pam\_r\_%' order by p.prepare_time limit 1;
      execute pg_catalog.format('deallocate %I', oldest);
      perform pg_catalog.set_config('pam.' || oldest, '', false);
    end if;
    execute sql;
  end if;
  perform pg_catalog.set_config('pam.' || prepare_read.name, '1', false);
end
$$;
comment on function pam.prepare_read(text, text) is
  'Prepares a user read on this server connection under the given name unless it is prepared already, and marks it '
  'in the session setting pam.<name> (db.ts skips the call while the mark is set); the login role only.';
