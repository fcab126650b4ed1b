-- User reads keep their plans on the server connection that runs them.
--
-- Every user read is one simple-query message (db.ts): begin read only; the
-- preamble; the statement; commit. Sent as text, the statement was parsed and
-- planned again on every request, and for a page of 20 expenses that was half
-- of what Postgres spent on it (a table with a dozen indexes and a policy to
-- plan; the 21 rows themselves cost less). The transaction pooler (Supavisor,
-- PgBouncer in transaction mode) gives each transaction whichever server
-- connection is free, so a client cannot know which ones hold a protocol-level
-- prepared statement. This function lets the server say: the preamble calls
-- it with a name (a hash of the statement's text) and the text, it prepares
-- the statement on this connection unless it is there already, and the
-- message then runs `execute name(values)`. Prepared once per server
-- connection, a statement's later runs skip parsing and, once Postgres finds
-- its generic plan as good as the custom ones (after five runs), planning.
--
-- Called before the preamble switches the role, by the functions' login role
-- only: it prepares whatever text it is given, so no API role may call it.
-- The statement is planned for the role that runs it (Postgres plans again
-- when a statement that depends on row level security runs under another role).
-- No `set search_path` clause: the statement resolves names as it did when
-- sent as text, with the session's search path; this body names pg_catalog.
--
-- At most 64 of these per server connection (a list's plan is ~50 kB): when
-- full, the one prepared first goes. A name found with another text (a pooler
-- or another client prepared it) is replaced. A pooler that resets its
-- connections (DISCARD ALL) only costs the next request a prepare.
create function pam.prepare_read(name text, statement text) returns void
language plpgsql
volatile
as $$
declare
  sql text := pg_catalog.format('prepare %I as %s', prepare_read.name, prepare_read.statement);
  have text;
  oldest text;
begin
  select p.statement into have from pg_catalog.pg_prepared_statements p where p.name = prepare_read.name;
  if have = sql then
    return;
  end if;
  if have is not null then
    execute pg_catalog.format('deallocate %I', prepare_read.name);
  elsif (select pg_catalog.count(*) from pg_catalog.pg_prepared_statements p where p.name like 'pam\_r\_%') >= 64 then
    select p.name into oldest from pg_catalog.pg_prepared_statements p
    where p.name like 'pam\_r\_%' order by p.prepare_time limit 1;
    execute pg_catalog.format('deallocate %I', oldest);
  end if;
  execute sql;
end
$$;
comment on function pam.prepare_read(text, text) is
  'Prepares a user read on this server connection under the given name unless it is prepared already (db.ts); the login role only.';
revoke execute on function pam.prepare_read(text, text) from public, anon, authenticated, service_role;
