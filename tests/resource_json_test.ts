// Resource lists send each row as the JSON text Postgres makes of it
// (row_to_json), where the other routes send what postgres.js parsed. The two
// agree only for some column types: a numeric is a string in postgres.js and
// a number in Postgres' JSON, a timestamptz a JavaScript Date in one and an
// offset timestamp in the other. Every declared resource's select list must
// give only columns whose JSON is the same both ways (casting the others to
// text, as amounts and times already are).
import { adminSql, stack } from './_support/stack.ts'
import { declaredResources } from '../supabase/functions/_shared/resource.ts'
import { assert, assertEquals } from './_support/assert.ts'

// bool, int2, int4, text, oid, json, float4, float8, varchar, uuid, jsonb, and their arrays.
const SAME_JSON = new Set([16, 21, 23, 25, 26, 114, 700, 701, 1043, 2950, 3802, 1000, 1005, 1007, 1009, 1015, 1021, 1022, 199, 2951, 3807])

Deno.test('resources: every select list has the same JSON in Postgres and in postgres.js', async () => {
  await (await fetch(`${stack.url}/functions/v1/openapi.json`)).body?.cancel() // every app made, every resource declared
  assert(declaredResources.length >= 15, `found ${declaredResources.length} resources`)
  const [{ oid: citext }] = await adminSql`select coalesce((select oid::int from pg_type where typname = 'citext'), 0) as oid`
  for (const spec of declaredResources) {
    const result = await adminSql.unsafe(`select ${spec.select} from ${spec.table} ${spec.alias} limit 0`)
    const differ = result.columns
      .filter((col) => !SAME_JSON.has(col.type) && col.type !== citext && !isEnum(col.type))
      .map((col) => `${col.name} (type ${col.type})`)
    assertEquals(differ, [], `${spec.table} as ${spec.many}: cast these to text in its select list`)
  }
})

const enums = new Set((await adminSql`select oid::int as oid from pg_type where typtype = 'e'`).map((r) => r.oid as number))
const isEnum = (oid: number) => enums.has(oid)
