// Values written into SQL text (reads go as one message, see sql-literal.ts)
// must come back from Postgres exactly as they went in, whatever they hold.
import { assertEquals } from './_support/assert.ts'
import { inlineParams, literalOf } from '../supabase/functions/_shared/sql-literal.ts'
import { adminSql } from './_support/stack.ts'
import { throws } from 'node:assert/strict'

const hostile = [
  "O'Brien", "''", "'; drop table pam.expenses; --", '\\', "\\'", "\\\\'; select 1; --", '$1', '$$', '$tag$ x $tag$',
  '-- comment', '/* open', '"quoted"', 'line\nbreak\r\ttab', 'émoji 🚐 ünïcödé', '\u202eRTL', 'E\'x\'', '{a,b}', '',
  ' leading and trailing ', 'a'.repeat(10_000),
]

Deno.test('sql literals: every string comes back unchanged', async () => {
  for (const value of hostile) {
    const [row] = await adminSql.unsafe(`select ${literalOf(value)}::text as v`)
    assertEquals(row.v, value, JSON.stringify(value).slice(0, 60))
  }
})

Deno.test('sql literals: arrays, JSON, numbers, booleans, dates and null', async () => {
  const tags = ['a', 'b,c', 'd"e', 'f\\g', "h'i", 'NULL', '', '{j}']
  const [row] = await adminSql.unsafe(
    `select ${literalOf(tags)}::text[] as tags, ${literalOf({ a: "it's", b: [1, '\\'] })}::jsonb as j,
            ${literalOf(12.5)}::numeric::text as n, ${literalOf(-3)}::int as i, ${literalOf(true)} as t,
            ${literalOf(null)}::text as nothing, ${literalOf(new Date('2026-03-01T10:00:00.123Z'))}::timestamptz as d,
            (${literalOf(['x', null])}::text[])[2] is null as null_element`,
  )
  assertEquals(row.tags, tags)
  assertEquals(row.j, { a: "it's", b: [1, '\\'] })
  assertEquals([row.n, row.i, row.t, row.nothing], ['12.5', -3, true, null])
  assertEquals(row.d.toISOString(), '2026-03-01T10:00:00.123Z')
  assertEquals(row.null_element, true)
  throws(() => literalOf('nul\0here'), /NUL/)
  throws(() => literalOf(Number.NaN), /finite/)
})

Deno.test('sql literals: placeholders are replaced only outside strings, identifiers, comments and dollar quotes', async () => {
  const text = `select $1::text as a, '$1' as b, "$1" as c, $$ $2 $$ as d, $q$ $1 $q$ as e, E'\\'$1' as f,
    $2::int as g -- $1
    /* $2 */`
  const inlined = inlineParams(text, ["it's $2", 7])
  const [row] = await adminSql.unsafe(inlined.replace('"$1"', "'$1'"))
  assertEquals([row.a, row.b, row.c, row.d, row.e, row.f, row.g], ["it's $2", '$1', '$1', ' $2 ', ' $1 ', "'$1", 7])
  throws(() => inlineParams('select $3', [1]), /\$3/)
})
