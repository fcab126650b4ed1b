// A fuzz pass over every operation of the merged OpenAPI document, so a new
// route is covered the day it is declared. Each operation is first called
// with a request built from its own schemas (the control, which must
// succeed), then with that request changed in one place: each path and query
// parameter and each body field (JSON properties at any depth, CSV cells)
// gets hostile values chosen by its type and format, and each body gets
// hostile framing (invalid JSON, deep nesting, duplicate keys, the wrong
// content type, a body on a GET…). A method the document does not list for a
// path must be a 405 whose Allow header names the ones it does.
//
// Every answer must be below 500 (a 503 too: nothing is down here); a 4xx
// must be the error envelope, as JSON; no answer may show internals
// (INTERNALS below). zod's issue fields (`invalid_type`, `expected`, `path`,
// `pattern`…) are fine inside `details`: they describe the caller's input.
// Each operation runs as a user of its own, one request at a time, and after
// every refused request what that user owns (rows per table and their
// content) must be unchanged; a request that succeeded may have changed it
// (a hostile value can be valid), and the next one is compared with that.
//
// Deterministic: every choice comes from a PRNG seeded with PAM_FUZZ_SEED
// (default below); set another seed to explore.
import { assert, assertEquals } from './_support/assert.ts'
import {
  type Api,
  collectionOf,
  fillPath,
  jsonBodyFor,
  loadApi,
  type Operation,
  type Owned,
  ownedChanges,
  ownedRows,
  paramsFor,
  type PathParams,
  requestBodyFor,
  routesWithoutFixture,
  type Schema,
  validBody,
  validValue,
} from './_support/fixtures.ts'
import { functionsUrl, signUp, stack, type TestUser, uniqueEmail } from './_support/stack.ts'
import { parseConfig } from '../supabase/functions/_shared/config.ts'
import { createAuthApp } from '../supabase/functions/auth/index.ts'
import { shutdownSoon } from './_support/servers.ts'
import { JOB_NAMES } from '../supabase/functions/jobs/schedules.ts'

const SEED = Number(Deno.env.get('PAM_FUZZ_SEED') ?? 20261201)
/** Operations fuzzed at the same time (each one's requests go one after another). */
const CONCURRENCY = 4

/** Operations that answer 503 here by design: a feature the stack runs without. */
const OFF_HERE: Record<string, { code: string; why: string }> = {
  'POST /wins/receipts/read': {
    code: 'receipt_reading_off',
    why: 'the stack has no OPENAI_API_KEY, so reading receipts is off (tests/receipts_test.ts reads through a stub)',
  },
}

/** Operations whose control cannot succeed, and why. */
const CONTROL_REFUSED: Record<string, string> = {
  ...Object.fromEntries(Object.entries(OFF_HERE).map(([route, { why }]) => [route, why])),
  'POST /auth/refresh':
    'a refresh token is single-use: no request built in advance holds a valid one',
  'GET /notifications/unsubscribe':
    "a valid token is signed with the deployment's secret (tests/email_test.ts signs them)",
  'POST /notifications/unsubscribe':
    "a valid token is signed with the deployment's secret (tests/email_test.ts signs them)",
  ...Object.fromEntries(
    JOB_NAMES.map((job) => [
      `POST /jobs/${job}`,
      'only calls QStash signed are taken (tests/jobs_signature_test.ts signs them)',
    ]),
  ),
}

// --- a seeded PRNG (mulberry32) ---

let state = SEED >>> 0
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const below = (n: number) => Math.floor(random() * n)
function pick<T>(list: readonly T[], n: number): T[] {
  const pool = [...list]
  return Array.from(
    { length: Math.min(n, pool.length) },
    () => pool.splice(below(pool.length), 1)[0],
  )
}

// --- hostile values ---

interface Value {
  label: string
  value: unknown
}
const V = (label: string, value: unknown): Value => ({ label, value })
const texts = (...list: string[]) => list.map((t) => V(JSON.stringify(t), t))

/** A family of hostile values: a field gets all of `must` and a few of `more`,
 * drawn by the PRNG, so each value is used across the pass while the number of
 * requests stays bounded. */
interface Pool {
  must: Value[]
  more: Value[]
}
const draw = (pool: Pool, n: number) => [...pool.must, ...pick(pool.more, n)]

/** JSON text written into a body as it is: numbers JSON.stringify cannot
 * write, nesting it would overflow on. */
class RawJson {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new RawJson(text)

const DEEP = 10_000
const deepArrays = (n: number) => raw('['.repeat(n) + ']'.repeat(n))
const deepObjects = (n: number) => raw('{"a":'.repeat(n) + '1' + '}'.repeat(n))

const TEXT: Pool = {
  must: [
    V('U+0000 inside', 'a\u0000b'),
    V('lone high surrogate', '\ud800'),
    V('10 000 characters', 'x'.repeat(10_000)),
    V('empty', ''),
    // Text most fields accept, so it goes all the way to the database.
    V('emoji, ZWJ sequences and bidi overrides', '🚐 \u202eevil\u202c 👩‍👩‍👧‍👦 \u2066x\u2069 🏳️‍🌈'),
  ],
  more: [
    V('U+0000', '\u0000'),
    V('C0 controls', '\u0001\u0008\u000b\u001b\u001f'),
    V('C1 controls', '\u0080\u0085\u009f'),
    V('lone low surrogate', 'x\udfffx'),
    V('RTL override', '\u202eevil\u202c'),
    V('whitespace only', ' \u00a0\u3000 '),
    V('DEL', 'a\u007fb'),
    V('tab and line breaks', '\t\r\n'),
    V('line and paragraph separators', 'a\u2028b\u2029c'),
    V('zero-width and BOM', '\ufeff\u200b\u200d'),
    V('300 combining marks', 'e' + '\u0301'.repeat(300)),
    V('5 000 emoji', '🚐'.repeat(5000)),
    V('noncharacters', '\uffff\ufffe\u{10ffff}'),
    V('SQL', "x' or '1'='1' --"),
    V('LIKE wildcards', '%_\\%'),
    V('percent escapes', '%00%ff%'),
    V('path traversal', '../../../etc/passwd'),
    V('markup', '<script>alert(1)</script>'),
    V('spreadsheet formula', '=HYPERLINK("http://evil.example","x")'),
    V('JSON in a string', '{"$ne":null}'),
    V('__proto__', '__proto__'),
    V('escaped NUL', '\\u0000'),
    V('the text null', 'null'),
    V('template', '${7*7}{{7*7}}'),
    V('201 characters', 'y'.repeat(201)),
  ],
}

/** Code points that break things: controls, surrogate halves, bidi and
 * zero-width marks, combining marks, private use, noncharacters, emoji, astral. */
const RANGES: [number, number][] = [
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0xd800, 0xdfff],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2066, 0x2069],
  [0x0300, 0x036f],
  [0xe000, 0xf8ff],
  [0xfff0, 0xffff],
  [0x1f300, 0x1faff],
  [0x10000, 0x10ffff],
]
function randomText(): Value {
  let s = ''
  for (let n = 1 + below(40); n > 0; n--) {
    const [lo, hi] = RANGES[below(RANGES.length)]
    const cp = lo + below(hi - lo + 1)
    s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp)
  }
  return V(`random text ${JSON.stringify(s)}`, s)
}

const NUMBERS: Pool = {
  must: [
    V('1e308', 1e308),
    V('-1e308', -1e308),
    V('1e-308', 1e-308),
    V('2**53+1', raw('9007199254740993')),
  ],
  more: [
    V('1e400 (Infinity once parsed)', raw('1e400')),
    V('-1e400', raw('-1e400')),
    V('-0', raw('-0')),
    V('-1', -1),
    V('0', 0),
    V('0.001', 0.001),
    V('12.345', 12.345),
    V('30 digits', raw('123456789012345678901234567890')),
  ],
}
/** Numbers as text: for number fields, and for text fields that hold one (money). */
const NUMERIC_TEXT: Pool = {
  must: texts('NaN', 'Infinity', '1e400', '-0', '00012', ' 12 '),
  more: texts(
    '-Infinity',
    '0x10',
    '1e2',
    '.5',
    '12.',
    '1_000',
    '１２',
    '١٢',
    '12.345',
    '-12.50',
    '1,000.00',
    '99999999999.99',
    '0',
    '0.00',
    '1000000.01',
    '9'.repeat(400),
  ),
}
const DATES: Pool = {
  must: texts('2026-02-30', '0000-01-01', '99999-01-01', '2026-13-01', '2026-01-01T25:00:00Z'),
  more: texts(
    '2026-00-10',
    '2026-1-1',
    '1969-12-31',
    '2101-01-01',
    '-2026-01-01',
    '2023-02-29',
    '2026-03-31T00:00:00Z',
    ' 2026-03-31',
    '2026-03-31\n',
    'infinity',
    'epoch',
    'today',
    'allballs',
    '20260331',
    '2026-W13-1',
    '２０２６-０３-３１',
  ),
}

function randomUuid(): string {
  const hex = Array.from({ length: 32 }, () => below(16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${
    hex.slice(20)
  }`
}
function uuids(): Pool {
  const u = randomUuid()
  return {
    must: [V('an unknown uuid', u)],
    more: [
      V('nil uuid', '00000000-0000-0000-0000-000000000000'),
      V('max uuid', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
      V('upper-case uuid', u.toUpperCase()),
      V('uuid in braces', `{${u}}`),
      V('uuid without dashes', u.replaceAll('-', '')),
      V('urn:uuid', `urn:uuid:${u}`),
      V('uuid and one more digit', `${u}0`),
      V('non-hex uuid', 'gggggggg-gggg-gggg-gggg-gggggggggggg'),
      V('uuid and a line break', `${u}\n`),
    ],
  }
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const forged = (label: string, key: unknown) =>
  V(`forged cursor: ${label}`, base64url(new TextEncoder().encode(JSON.stringify(key))))
function cursors(): Pool {
  const u = randomUuid()
  const at = '2026-01-01T00:00:00.000000Z'
  return {
    must: [],
    more: [
      forged('impossible day', ['2026-02-30', at, u]),
      forged('hour 24', ['2026-01-01', '2026-01-01T24:00:00.000000Z', u]),
      forged('second 60', ['2026-01-01T23:59:60.000000Z', u]),
      forged('year 0', ['0000-01-01', at, u]),
      forged('year 99999', ['99999-01-01', at, u]),
      forged('SQL', ["' or 1=1 --", at, u]),
      forged('not a uuid', [at, 'not-a-uuid']),
      forged('numbers', [1, 2, 3]),
      forged('an object', { date: '2026-01-01', id: u }),
      forged('null', null),
      forged('U+0000', ['\u0000', '\u0000']),
      forged('nested 100 levels', JSON.parse('['.repeat(100) + ']'.repeat(100))),
      V('cursor: not base64', '!!!$$$'),
      V('cursor: invalid UTF-8', base64url(new Uint8Array([0xff, 0xfe, 0xed, 0xa0, 0x80]))),
      V('cursor: 301 characters', 'A'.repeat(301)),
    ],
  }
}

const HOMOGLYPHS: Record<string, string> = {
  a: 'а',
  c: 'с',
  e: 'е',
  o: 'о',
  p: 'р',
  x: 'х',
  y: 'у',
}
function enumValues(s: Schema): Pool {
  const first = String(s.enum!.find((v) => v !== null))
  return {
    must: [],
    more: [
      V('enum value in upper case', first.toUpperCase()),
      V('enum value with a space', ` ${first}`),
      V('enum value with U+0000', `${first}\u0000`),
      V(
        'enum value with Cyrillic look-alikes',
        first.replace(/[aceopxy]/g, (ch) => HOMOGLYPHS[ch]),
      ),
      V('enum value twice', first + first),
    ],
  }
}

const WRONG_TYPES: Record<string, Value> = {
  string: V('a string', 'fuzz'),
  number: V('a number', 12345),
  boolean: V('a boolean', true),
  object: V('an object', { fuzz: 1 }),
  array: V('an array', ['fuzz', 1]),
  null: V('null', null),
}
const wrongTypes = (type?: string) =>
  Object.entries(WRONG_TYPES)
    .filter(([t]) => t !== (type === 'integer' ? 'number' : type))
    .map(([, v]) => v)

/** Text that stands for a number (money, volumes): its example is one. */
const numericText = (s: Schema) =>
  typeof s.example === 'string' && /^-?\d+(\.\d+)?$/.test(s.example)

/** Text values for a string schema (or parameter): the common ones, then by format. */
function textValues(s: Schema, name: string): Value[] {
  const out = [...draw(TEXT, 3), randomText()]
  if (s.enum) out.push(...draw(enumValues(s), 2))
  if (s.format?.startsWith('date')) out.push(...draw(DATES, 2))
  if (s.format === 'uuid') out.push(...draw(uuids(), 2))
  if (s.type === 'integer' || s.type === 'number' || numericText(s)) {
    out.push(...draw(NUMERIC_TEXT, 2))
  }
  if (name === 'cursor') out.push(...draw(cursors(), 6))
  return out
}

/** Values for one JSON field of schema `s`. */
function fieldValues(api: Api, s: Schema, name: string): Value[] {
  const out = wrongTypes(s.type)
  switch (s.type) {
    case 'string':
      return [...out, ...textValues(s, name)]
    case 'integer':
    case 'number':
      return [...out, ...draw(NUMBERS, 2), ...draw(NUMERIC_TEXT, 2)]
    case 'boolean':
      return [...out, V('"true"', 'true'), V('1', 1)]
    case 'array': {
      const item = s.items ? validValue(api, s.items) : 'fuzz'
      const many = (s.maxItems ?? 100) + 1
      out.push(
        V('10 000 items', Array(10_000).fill(item)),
        V(`${many} items`, Array(many).fill(item)),
        V('arrays nested 1 000 levels', deepArrays(1000)),
        V('[null]', [null]),
        V('the same item twice', [item, item]),
      )
      if (s.items && api.resolve(s.items).type === 'string') {
        out.push(...draw(TEXT, 2).map((t) => V(`[${t.label}]`, [t.value])))
      }
      return out
    }
    case 'object':
      return [
        ...out,
        V('an unknown property', { fuzz: 1 }),
        V('a __proto__ key', raw('{"__proto__":{"polluted":true}}')),
        V(`objects nested ${DEEP} levels`, deepObjects(DEEP)),
      ]
  }
  return out
}

// --- encoding ---

const encoder = new TextEncoder()

/** UTF-8, but a lone surrogate is written as its own three bytes (as a careless
 * client would) instead of U+FFFD, so the server gets what the value says. */
function wtf8(s: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i)
    const next = s.charCodeAt(i + 1)
    if (cp >= 0xd800 && cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00)
      i++
    }
    if (cp < 0x80) out.push(cp)
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63))
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
    else {out.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 63),
        0x80 | ((cp >> 6) & 63),
        0x80 | (cp & 63),
      )}
  }
  return new Uint8Array(out)
}

const uriEncode = (s: string) =>
  Array.from(wtf8(s), (b) => {
    const ch = String.fromCharCode(b)
    return /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }).join('')

/** JSON text of `value`, with its RawJson parts written as they are. */
function serialize(value: unknown): string {
  const raws: string[] = []
  const mark = (_: string, v: unknown) =>
    v instanceof RawJson ? `\u0001${raws.push(v.text) - 1}` : v
  return JSON.stringify(value, mark).replace(/"\\u0001(\d+)"/g, (_, i) => raws[Number(i)])
}

/** A copy of `base` with the value at `path` replaced (objects on the way created). */
function setIn(base: unknown, path: string[], value: unknown): unknown {
  const root = structuredClone(base) as Record<string, unknown>
  let at = root
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {}
    at = at[key] as Record<string, unknown>
  }
  at[path[path.length - 1]] = value
  return root
}

// --- variants ---

/** Who calls, with what: the operation's user and the resources its path names. */
interface Context {
  user: TestUser
  token: string
  params: PathParams
  owned: Owned
}

interface Variant {
  what: string
  /** One path parameter replaced by this (already encoded) text. */
  pathParam?: { name: string; text: string }
  /** The query string (already encoded); default: the operation's required parameters. */
  query?: string
  /** The body and its content type (null: none); default: the operation's usual body. */
  body?: { make: (ctx: Context) => Uint8Array; type: string | null }
  /** Sent over a connection of its own: fetch refuses a body on a GET. */
  rawHttp?: boolean
  /** A method the document does not list for the path, and the ones it does. */
  unlisted?: { method: string; allowed: string[] }
}

/** A JSON body: `make` is given the operation's usual body. */
type JsonBase = (ctx: Context) => Record<string, unknown>
const jsonVariant = (
  what: string,
  base: JsonBase,
  make: (body: Record<string, unknown>) => string,
): Variant => ({
  what,
  body: { make: (ctx) => encoder.encode(make(base(ctx))), type: 'application/json' },
})

const requiredQuery = (api: Api, op: Operation, except?: string) =>
  op.parameters
    .filter((p) => p.in === 'query' && p.required && p.name !== except)
    .map((p) => `${p.name}=${uriEncode(String(validValue(api, p.schema)))}`)

function parameterVariants(api: Api, op: Operation): Variant[] {
  const out: Variant[] = []
  for (const p of op.parameters) {
    const s = api.resolve(p.schema)
    const wrong = [
      V('a number', '12345'),
      V('an object', '{"fuzz":1}'),
      V('an array', '[1,2]'),
      V('null', 'null'),
    ]
    const values = [...textValues(s, p.name), ...pick(wrong, 2)]
      .map((v) => ({ label: v.label, text: uriEncode(String(v.value)) }))
    // Percent-encodings a URL decoder may refuse or misread.
    for (const text of pick(['%', '%zz', '%ED%A0%80', '%FF', '%C0%AF', '%2F', '%2e%2e'], 2)) {
      values.push({ label: `raw ${text}`, text })
    }
    const others = requiredQuery(api, op, p.name)
    for (const { label, text } of values) {
      const what = `${p.in} ${p.name} = ${label}`
      out.push(
        p.in === 'path'
          ? { what, pathParam: { name: p.name, text } }
          : { what, query: [...others, `${p.name}=${text}`].join('&') },
      )
    }
    if (p.in !== 'query') continue
    const shapes = [
      ['without a value', p.name],
      ['empty', `${p.name}=`],
      ['twice', `${p.name}=a&${p.name}=b`],
      ['as an array', `${p.name}[]=a`],
      ['as an object', `${p.name}[k]=a`],
      ['among empty pairs', `&&${p.name}=fuzz&&=&`],
    ]
    for (const [label, q] of pick(shapes, 2)) {
      out.push({ what: `query ${p.name} ${label}`, query: [...others, q].join('&') })
    }
  }
  return out
}

/** Each field of a JSON body, at any depth, gets its hostile values inside the usual body. */
function fieldVariants(api: Api, schema: Schema, base: JsonBase): Variant[] {
  const walk = (s: Schema, at: string[]): Variant[] =>
    Object.entries(api.resolve(s).properties ?? {}).flatMap(([name, prop]) => {
      const p = api.resolve(prop)
      const path = [...at, name]
      const own = fieldValues(api, p, name).map((v) =>
        jsonVariant(
          `body ${path.join('.')} = ${v.label}`,
          base,
          (body) => serialize(setIn(body, path, v.value)),
        )
      )
      return p.type === 'object' ? [...own, ...walk(p, path)] : own
    })
  return walk(schema, [])
}

/** Hostile framing of a JSON body: its syntax, shape, size and keys. */
function jsonBodyVariants(api: Api, schema: Schema, base: JsonBase): Variant[] {
  /** The usual body with these members first. */
  const plus = (members: string) => (body: Record<string, unknown>) =>
    Object.keys(body).length ? `{${members},${serialize(body).slice(1)}` : `{${members}}`
  const fixed = (text: string) => () => text
  const s = api.resolve(schema)
  const firstText = Object.keys(s.properties ?? {}).find((k) =>
    api.resolve(s.properties![k]).type === 'string'
  )
  const bodies: [string, (body: Record<string, unknown>) => string][] = [
    ['invalid JSON: cut short', (b) => serialize(b).slice(0, -1)],
    ['invalid JSON: single quotes', fixed("{'fuzz': 1}")],
    ['invalid JSON: trailing comma', (b) => serialize(b).replace(/\}$/, ',}')],
    ['invalid JSON: NaN', plus('"fuzz":NaN')],
    ['invalid JSON: a comment', (b) => `/* fuzz */${serialize(b)}`],
    ['invalid JSON: U+0000 after it', (b) => `${serialize(b)}\u0000`],
    ['a byte order mark before it', (b) => `\ufeff${serialize(b)}`],
    ['empty body', fixed('')],
    ['JSON null', fixed('null')],
    ['JSON array', fixed('[]')],
    ['JSON string', fixed('"fuzz"')],
    ['JSON number 1e400', fixed('1e400')],
    ['JSON true', fixed('true')],
    [`arrays nested ${DEEP} levels`, fixed(deepArrays(DEEP).text)],
    [`objects nested ${DEEP} levels`, fixed(deepObjects(DEEP).text)],
    [`an unknown property nested ${DEEP} levels`, plus(`"fuzz":${deepObjects(DEEP).text}`)],
    ['an array of 100 000 numbers', fixed(`[${Array(100_000).fill(1).join(',')}]`)],
    ['an unknown extra field', plus('"fuzz_extra":"x"')],
    [
      'fields the server sets (mass assignment)',
      plus(
        `"id":"${randomUuid()}","user_id":"${randomUuid()}",` +
          '"created_at":"2000-01-01T00:00:00Z","updated_at":"2000-01-01T00:00:00Z"',
      ),
    ],
    ['a __proto__ key', plus('"__proto__":{"polluted":true}')],
    ['a constructor.prototype key', plus('"constructor":{"prototype":{"polluted":true}}')],
    ['2 MiB', plus(`"fuzz":"${'x'.repeat(2 * 1024 * 1024)}"`)],
    // The same key twice: the first for the valid value, or the last.
    [
      'a duplicate key, valid value first',
      (b) => dupe(b, (k, v) => `"${k}":${v},"${k}":{"fuzz":1}`),
    ],
    [
      'a duplicate key, valid value last',
      (b) => dupe(b, (k, v) => `"${k}":{"fuzz":1},"${k}":${v}`),
    ],
  ]
  if (firstText) {
    bodies.push([
      `body ${firstText} of 1 000 000 characters`,
      (b) => serialize({ ...b, [firstText]: 'x'.repeat(1_000_000) }),
    ])
  }
  const notUtf8: Variant = {
    what: `bytes that are not UTF-8 in ${firstText ?? 'an unknown field'}`,
    body: {
      make: (ctx) => {
        const text = serialize({ ...base(ctx), [firstText ?? 'fuzz']: '\u0001' })
        const at = text.indexOf('\\u0001')
        return new Uint8Array([
          ...encoder.encode(text.slice(0, at)),
          ...[0xff, 0xfe, 0xed, 0xa0, 0x80],
          ...encoder.encode(text.slice(at + 6)),
        ])
      },
      type: 'application/json',
    },
  }
  return [...bodies.map(([what, make]) => jsonVariant(what, base, make)), notUtf8]
}

/** The body with its first member written twice by `twice(key, valid JSON value)`. */
function dupe(
  body: Record<string, unknown>,
  twice: (key: string, value: string) => string,
): string {
  const [key] = Object.keys(body)
  if (!key) return `{${twice('fuzz', '1')}}`
  const { [key]: value, ...rest } = body
  const tail = serialize(rest).slice(1)
  return `{${twice(key, serialize(value))}${tail === '}' ? '}' : `,${tail}`}`
}

/** CSV cells: text, and what spreadsheets and the import's number and date parsers may trip on. */
const CELLS: Pool = {
  must: TEXT.must,
  more: [
    ...TEXT.more,
    ...texts("=cmd|' /C calc'!A0", "'=1+1", '-2+3', '@SUM(A1:A9)', '1e308', 'NaN', '-0'),
    ...texts('2026-02-30', '0000-01-01'),
  ],
}
/** Cells written as they are, unquoted. */
const RAW_CELLS: Value[] = [
  V('an unclosed quote', '"unclosed'),
  V('a quote inside', 'a"b'),
  V('text after the closing quote', '"a"b'),
]
const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)

/** A text body: whole-body values; when its example is CSV, that file bent out
 * of shape and (`cells`) each cell of its first row replaced by hostile values. */
function textBodyVariants(api: Api, type: string, schema: Schema, cells: boolean): Variant[] {
  const example = String(validValue(api, schema))
  const text = (what: string, make: () => string): Variant => ({
    what: `${type} body: ${what}`,
    body: { make: () => wtf8(make()), type },
  })
  const out = [...draw(TEXT, 4), randomText()].map((v) => text(v.label, () => String(v.value)))
  out.push({
    what: `${type} body: bytes that are not UTF-8`,
    body: {
      make: () => new Uint8Array([...encoder.encode(example), 0xff, 0xfe, 0xed, 0xa0, 0x80]),
      type,
    },
  })
  const [header, row] = example.split(/\r?\n/)
  if (!row || !header.includes(',')) return out
  const columns = header.split(',')
  const fields = row.split(',')
  const file = (cells: string[]) => `${header}\r\n${cells.join(',')}\r\n`
  const rows = (n: number) => `${header}\r\n${`${row}\r\n`.repeat(n)}`
  out.push(
    text('a byte order mark', () => `\ufeff${example}`),
    text('LF line ends', () => `${header}\n${row}\n`),
    text('CR line ends', () => `${header}\r${row}\r`),
    text('the header only', () => `${header}\r\n`),
    text('a repeated header column', () => `${header},${columns[0]}\r\n${row},x\r\n`),
    text('an unknown column', () => `${header},fuzz_column\r\n${row},x\r\n`),
    text('a row with 10 000 more fields', () => file([...fields, ...Array(10_000).fill('x')])),
    text('a row with too few fields', () => file(fields.slice(0, 1))),
    text('5 001 rows', () => rows(5001)),
    text('blank lines', () => `${header}\r\n\r\n\r\n${row}\r\n\r\n`),
    text('a quoted line break', () => file([...fields.slice(0, -1), '"a\r\nb"'])),
    text('2 MiB', () => rows(Math.ceil((2 * 1024 * 1024) / (row.length + 2)))),
  )
  if (!cells) return out
  columns.forEach((column, i) => {
    const quoted = [...draw(CELLS, 8), randomText()].map((v) =>
      V(v.label, csvCell(String(v.value)))
    )
    for (const v of [...quoted, ...RAW_CELLS]) {
      out.push(
        text(
          `cell ${column} = ${v.label}`,
          () => file(fields.map((f, j) => (j === i ? String(v.value) : f))),
        ),
      )
    }
  })
  return out
}

/** The body the operation is called with, in its first media type. */
function usualBody(api: Api, op: Operation): Variant['body'] {
  const type = Object.keys(op.body ?? {})[0]
  return type
    ? { make: (ctx) => encoder.encode(requestBodyFor(api, op, ctx.user)!.text), type }
    : undefined
}

/** The usual body, sent with a content type the operation does not take (or none). */
function contentTypeVariants(api: Api, op: Operation): Variant[] {
  const { make } = usualBody(api, op)!
  const others = [
    '',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=fuzz',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/jsonx',
    'APPLICATION/JSON',
    'application/xml',
  ]
  return [null, 'text/plain', ...pick(others, 3)]
    .filter((type) => type === null || !op.body![type])
    .map((type) => ({
      what: type === null ? 'no content type' : `content type ${JSON.stringify(type)}`,
      body: { make, type },
    }))
}

/** A body where the operation takes none. */
function strayBodyVariants(op: Operation): Variant[] {
  const rawHttp = op.method === 'GET'
  const body = (text: string, type = 'application/json') => ({
    make: () => encoder.encode(text),
    type,
  })
  const out: Variant[] = [
    { what: `a JSON body on a ${op.method}`, body: body('{"fuzz":1}'), rawHttp },
    { what: `invalid JSON on a ${op.method}`, body: body('{"fuzz":'), rawHttp },
    { what: `a CSV body on a ${op.method}`, body: body('a,b\r\n1,2\r\n', 'text/csv'), rawHttp },
  ]
  if (!rawHttp) {
    out.push({ what: `2 MiB on a ${op.method}`, body: body('x'.repeat(2 * 1024 * 1024)) })
  }
  return out
}

/** The methods the document does not list for a path (literal segments may also
 * match a templated path: /wins/expenses/import is an {id} too): 405, naming
 * the ones it does. */
function unlistedMethods(api: Api, op: Operation): Variant[] {
  const here = op.path.replace(/\{[^}]+\}/g, 'x')
  const matches = (template: string) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(here)
  const allowed = [...new Set(api.operations.filter((o) => matches(o.path)).map((o) => o.method))]
  if (api.operations.find((o) => o.path === op.path) !== op) return [] // once per path
  return ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !allowed.includes(m)).map((
    method,
  ) => ({
    what: `${method}, which the document does not list`,
    unlisted: { method, allowed },
  }))
}

function variantsOf(api: Api, op: Operation): Variant[] {
  const out = [...parameterVariants(api, op), ...unlistedMethods(api, op)]
  if (!op.body) return [...out, ...strayBodyVariants(op)]
  const schema = op.body['application/json']
  if (schema) {
    const base: JsonBase = (ctx) => jsonBodyFor(api, op, ctx.user) as Record<string, unknown>
    out.push(...fieldVariants(api, schema, base), ...jsonBodyVariants(api, schema, base))
  }
  Object.entries(op.body)
    .filter(([type]) => type.startsWith('text/'))
    .forEach(([type, s], i) => out.push(...textBodyVariants(api, type, s, i === 0)))
  return [...out, ...contentTypeVariants(api, op)]
}

// --- sending ---

interface Answer {
  status: number
  headers: Headers
  text: string
}

/** The auth function's app with its per-account, refresh and failed-login
 * limits raised, on a port of its own: through the gateway the fuzz would
 * spend the suite's real budgets, and other tests would get 429s. */
function authServer() {
  const { UPSTASH_REDIS_REST_URL: _u, UPSTASH_REDIS_REST_TOKEN: _t, ...env } = Deno.env.toObject()
  const high = '1000000'
  const app = createAuthApp(parseConfig({
    ...env,
    PAM_LOG_LEVEL: 'error',
    PAM_CACHE_PREFIX: `fuzz${SEED}:`,
    PAM_RATE_LIMIT_AUTH_ACCOUNT: high,
    PAM_RATE_LIMIT_REFRESH: high,
    PAM_RATE_LIMIT_LOGIN_FAILURES: high,
    PAM_RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: high,
  }))
  return Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (req) => app.fetch(req))
}

/** A request over a connection of its own, for what fetch will not send (a body on a GET). */
async function rawRequest(
  url: URL,
  method: string,
  headers: Headers,
  body: Uint8Array,
): Promise<Answer> {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) })
  const head = [
    `${method} ${url.pathname}${url.search} HTTP/1.1`,
    `host: ${url.host}`,
    'connection: close',
    `content-length: ${body.length}`,
  ]
  headers.forEach((v, k) => head.push(`${k}: ${v}`))
  const bytes = new Uint8Array([...encoder.encode(`${head.join('\r\n')}\r\n\r\n`), ...body])
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off))
  const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer())
  const split = answer.indexOf('\r\n\r\n')
  const [statusLine, ...lines] = answer.slice(0, split).split('\r\n')
  const responseHeaders = new Headers(lines.map((l) => {
    const colon = l.indexOf(':')
    return [l.slice(0, colon), l.slice(colon + 1).trim()]
  }))
  let text = answer.slice(split + 4)
  if (responseHeaders.get('transfer-encoding')?.includes('chunked')) {
    let out = ''
    for (let at = 0;;) {
      const eol = text.indexOf('\r\n', at)
      const size = parseInt(text.slice(at, eol), 16)
      if (!size) break
      out += text.slice(eol + 2, eol + 2 + size)
      at = eol + 2 + size + 2
    }
    text = out
  }
  return { status: Number(statusLine.split(' ')[1]), headers: responseHeaders, text }
}

async function send(
  api: Api,
  op: Operation,
  ctx: Context,
  v: Variant,
  authBase: string,
): Promise<Answer> {
  const params = Object.fromEntries(
    Object.entries(ctx.params).map(([k, p]) => [k, encodeURIComponent(p)]),
  )
  if (v.pathParam) params[v.pathParam.name] = v.pathParam.text
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => params[name])
  const query = v.query ?? requiredQuery(api, op).join('&')
  const base = op.path.startsWith('/auth/') ? authBase : functionsUrl
  const url = new URL(`${base}${path}${query ? `?${query}` : ''}`)
  // As supabase-js sends them: the publishable key and the session's token.
  const headers = new Headers({
    apikey: stack.keys.publishableKey,
    authorization: `Bearer ${ctx.token}`,
  })
  // Parameter variants send the usual body, so the parameter is the only thing wrong.
  const spec = v.body ?? usualBody(api, op)
  const body = spec?.make(ctx)
  if (spec?.type != null) headers.set('content-type', spec.type)
  if (v.unlisted) {
    const res = await fetch(url, {
      method: v.unlisted.method,
      headers: { apikey: stack.keys.publishableKey },
    })
    return { status: res.status, headers: res.headers, text: await res.text() }
  }
  if (v.rawHttp) return await rawRequest(url, op.method, headers, body!)
  const res = await fetch(url, { method: op.method, headers, body: body as BodyInit | undefined })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

// --- what every answer must be ---

/** Internals no answer may show. */
const INTERNALS: [string, RegExp][] = [
  [
    'a stack trace',
    // A line break before "at", as is or escaped in JSON.
    /(?:\n|\\n)\s+at\s|\b(?:TypeError|RangeError|SyntaxError|ReferenceError|AggregateError)\b/,
  ],
  [
    'a file path',
    /file:\/\/|\/(?:home|root|tmp|work|usr|opt|srv|Users)\/|node_modules|\.(?:ts|js|mjs):\d+/,
  ],
  [
    'SQL',
    new RegExp(
      [
        String.raw`\bselect\b[^"]{0,200}\bfrom\b`,
        String.raw`\binsert\s+into\b`,
        String.raw`\bdelete\s+from\b`,
        String.raw`\bupdate\s+\w+\s+set\b`,
        'syntax error at or near',
        'relation "',
        'column "',
        'invalid input syntax',
        'duplicate key',
        'null value in column',
        'out of range for type',
        'value too long for type',
      ].join('|'),
      'i',
    ),
  ],
  [
    'a SQLSTATE',
    /sqlstate|\b(?:22P02|22007|22008|22003|22001|22021|23505|23503|23514|23502|42501|42P01|42703|54001|57014)\b/i,
  ],
  ['a constraint', /\b[a-z0-9]+(?:_[a-z0-9]+)+_(?:fkey|pkey|check|key|excl)\b|violates/i],
  ['Postgres', /postgres/i],
  ['a schema-qualified name', /\b(?:pam|public|auth|extensions|pg_catalog)\.[a-z_]+\b/],
  ['a library name', /@supabase\/|\bhono\b|\bzod\b|\bjose\b|\bupstash\b|\bdeno\b|\bioredis\b/i],
  [
    'a host or port',
    /localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0|\b(?:\d{1,3}\.){3}\d{1,3}:\d{2,5}\b/,
  ],
]

/** Documented answers that name a library: the readiness check says which
 * cache backend it probed (GET /health/ready, checks.cache.backend). */
const ALLOWED = ['"backend":"upstash"']

function problemsOf(res: Answer): string[] {
  const problems: string[] = []
  if (res.status >= 500) problems.push(`status ${res.status}`)
  else if (res.status < 200 || (res.status >= 300 && res.status < 400)) {
    problems.push(`unexpected status ${res.status}`)
  }
  if (!res.headers.has('x-request-id')) problems.push('no x-request-id header')
  if (res.status >= 400) {
    if (!/^application\/json\b/.test(res.headers.get('content-type') ?? '')) {
      problems.push(`content type ${res.headers.get('content-type')}, not JSON`)
    }
    if (!isEnvelope(res.text)) {
      problems.push('not the error envelope {"error":{"code","message","details"?}}')
    }
  }
  const text = ALLOWED.reduce((t, allowed) => t.replaceAll(allowed, ''), res.text)
  for (const [what, re] of INTERNALS) {
    const m = re.exec(text)
    if (m) problems.push(`shows ${what}: …${text.slice(Math.max(0, m.index - 40), m.index + 60)}…`)
  }
  return problems
}

function isEnvelope(text: string): boolean {
  let body: { error?: Record<string, unknown> }
  try {
    body = JSON.parse(text)
  } catch {
    return false
  }
  const error = body?.error
  return !!error && Object.keys(body).length === 1 &&
    typeof error.code === 'string' && /^[a-z][a-z0-9_]*$/.test(error.code) &&
    typeof error.message === 'string' && error.message.length > 0 &&
    Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k))
}

/** Whether the route's own schema refused the request (zod issues in details),
 * rather than something behind it (a token Supabase Auth does not know). */
function refusedBySchema(res: Answer): boolean {
  try {
    const error = JSON.parse(res.text)?.error
    return error?.code === 'validation_failed' && Array.isArray(error.details)
  } catch {
    return false
  }
}

// --- the pass ---

/** A user of the operation's own, with the resources its path names. */
async function newContext(op: Operation): Promise<Context> {
  const user = await signUp()
  const params = await paramsFor(user, op.path)
  return { user, token: user.accessToken, params, owned: await ownedRows(user.id) }
}

/** After a request that succeeded, which may have ended the session, deleted the
 * account or deleted what the path names: the same again, for the next request. */
async function rearm(op: Operation, ctx: Context) {
  const res = await fetch(`${stack.url}/auth/v1/user`, {
    headers: { apikey: stack.keys.publishableKey, authorization: `Bearer ${ctx.token}` },
  })
  await res.body?.cancel()
  if (res.status !== 200) {
    const { email, password } = ctx.user
    const { data } = await ctx.user.client.auth.signInWithPassword({ email, password })
    if (data.session) ctx.token = data.session.access_token
    else Object.assign(ctx, await newContext(op)) // the account is gone
  } else if (op.method === 'DELETE' && op.path.includes('{')) {
    ctx.params = await paramsFor(ctx.user, op.path)
  }
  ctx.owned = await ownedRows(ctx.user.id)
}

interface Tally {
  requests: number
  statuses: Record<number, number>
  failures: string[]
}

async function fuzzOperation(
  api: Api,
  op: Operation,
  variants: Variant[],
  authBase: string,
  tally: Tally,
) {
  const route = `${op.method} ${op.path}`
  const ctx = await newContext(op)
  const atStart = ctx.owned
  const control: Variant = { what: 'control: the request built from the document' }
  for (const v of [control, ...variants]) {
    let res: Answer
    try {
      res = await send(api, op, ctx, v, authBase)
    } catch (err) {
      tally.failures.push(`${route} | ${v.what} | no answer: ${err}`)
      continue
    }
    tally.requests++
    tally.statuses[res.status] = (tally.statuses[res.status] ?? 0) + 1
    const ok = res.status >= 200 && res.status < 300
    const off = OFF_HERE[route]
    const problems = problemsOf(res).filter((p) =>
      !(off && p === 'status 503' && res.status === 503 && res.text.includes(`"code":"${off.code}"`))
    )
    if (v.unlisted) {
      const allow = res.headers.get('allow')?.split(/,\s*/).filter((m) => m !== 'HEAD').sort()
      if (res.status !== 405) problems.push('expected 405 for a method the document does not list')
      else if (String(allow) !== String([...v.unlisted.allowed].sort())) {
        problems.push(
          `Allow: ${res.headers.get('allow')}, the document lists ${v.unlisted.allowed.join(', ')}`,
        )
      }
    }
    if (v === control && (refusedBySchema(res) || (!ok && !CONTROL_REFUSED[route]))) {
      problems.push(
        'the control did not succeed: give the schema examples that pass its checks, ' +
          'or register a valid body in tests/_support/fixtures.ts (validBodies)',
      )
    }
    if (op.method !== 'GET') {
      if (ok) await rearm(op, ctx)
      else {
        const now = await ownedRows(ctx.user.id)
        const changed = ownedChanges(ctx.owned, now)
        if (changed.length) {
          problems.push(`refused, yet changed what the user owns: ${changed.join('; ')}`)
        }
        ctx.owned = now
      }
    }
    if (problems.length) {
      tally.failures.push(
        `${route} | ${v.what} | ${res.status} ${res.text.slice(0, 300)}\n    ${
          problems.join('\n    ')
        }`,
      )
    }
  }
  if (op.method === 'GET') {
    const changed = ownedChanges(atStart, await ownedRows(ctx.user.id))
    if (changed.length) {
      tally.failures.push(`${route} | its GETs changed what the user owns: ${changed.join('; ')}`)
    }
  }
}

Deno.test({
  name:
    'fuzz: every operation of the OpenAPI document answers hostile input with a clean 4xx that changes nothing',
  // The stack's servers and connections live for the whole run.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const api = await loadApi()
    assertEquals(
      routesWithoutFixture(api.operations),
      [],
      'these routes need a fixture in tests/_support/fixtures.ts',
    )
    // Every variant is drawn before anything runs, so the seed alone decides them.
    const plans = api.operations
      .map((op) => ({ op, variants: variantsOf(api, op) }))
      .sort((a, b) => b.variants.length - a.variants.length)
    const server = authServer()
    const authBase = `http://127.0.0.1:${server.addr.port}`
    const tally: Tally = { requests: 0, statuses: {}, failures: [] }
    try {
      let next = 0
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < plans.length) {
          const { op, variants } = plans[next++]
          await fuzzOperation(api, op, variants, authBase, tally).catch((err) => {
            tally.failures.push(`${op.method} ${op.path} | could not be fuzzed: ${err}`)
          })
        }
      }))
    } finally {
      await shutdownSoon(server)
    }
    console.log(
      `fuzz (seed ${SEED}): ${tally.requests} requests over ${plans.length} operations, ` +
        `statuses ${JSON.stringify(tally.statuses)}`,
    )
    const { failures } = tally
    if (failures.length) {
      const more = failures.length > 40 ? `\n… and ${failures.length - 40} more` : ''
      throw new Error(
        `${failures.length} hostile request(s) got a bad answer (seed ${SEED}):\n${
          failures.slice(0, 40).join('\n')
        }${more}`,
      )
    }
  },
})

Deno.test('fuzz: the helpers send what the variants say', () => {
  assertEquals(collectionOf('/wins/goals/{id}/contributions'), '/wins/goals')
  assertEquals(fillPath('/wins/budgets/{category}', { category: 'a b' }), '/wins/budgets/a%20b')
  assertEquals(serialize({ a: raw('1e400'), b: [raw('-0')] }), '{"a":1e400,"b":[-0]}')
  assertEquals(dupe({ a: 1, b: 2 }, (k, v) => `"${k}":${v},"${k}":3`), '{"a":1,"a":3,"b":2}')
  assertEquals(Array.from(wtf8('\ud800')), [0xed, 0xa0, 0x80])
  assertEquals(uriEncode('a é'), 'a%20%C3%A9')
  const answer = (status: number, text: string, type = 'application/json'): Answer => ({
    status,
    text,
    headers: new Headers({ 'content-type': type, 'x-request-id': 'fuzz-check' }),
  })
  const error = (message: string) => JSON.stringify({ error: { code: 'bad_request', message } })
  const issues =
    '[{"code":"invalid_type","expected":"string","path":["amount"],"message":"Invalid input"}]'
  const clean =
    `{"error":{"code":"validation_failed","message":"the request is not valid","details":${issues}}}`
  assertEquals(problemsOf(answer(400, clean)), [])
  const bad = [
    answer(500, error('something went wrong')),
    answer(400, '{"message":"no envelope"}'),
    answer(400, error('not JSON'), 'text/plain'),
    answer(400, error('duplicate key value violates unique constraint "expenses_pkey"')),
    answer(400, error('PostgresError: invalid input syntax for type uuid')),
    answer(400, error('boom\n    at async Promise.all (index 0)')),
    answer(400, error('at handler (file:///srv/app/index.ts:3:1)')),
    answer(400, error('connect ECONNREFUSED 127.0.0.1:5432')),
    answer(400, error('select id from pam.expenses where id = $1')),
    answer(400, error('invalid body (hono)')),
    answer(200, '{"ok":true,"error":"SQLSTATE 23505"}'),
  ]
  for (const res of bad) {
    assert(problemsOf(res).length > 0, `not flagged: ${res.status} ${res.text}`)
  }
  const api: Api = { operations: [], resolve: (s) => s }
  const patch: Schema = {
    type: 'object',
    properties: { n: { type: 'integer' }, s: { type: 'string', example: 'x' } },
  }
  assertEquals(validBody(api, patch), { s: 'x' })
})

// --- what the pass found, pinned down ---

Deno.test('fuzz finding: a profile name or region Postgres cannot store is a 400 naming the field', async () => {
  const user = await signUp()
  const before = await ownedRows(user.id)
  const cases = [
    ['full_name', 'Van\u0000Life'],
    ['region', 'AU\u0000QLD'],
    ['full_name', 'x\ud800'],
    ['region', 'a\u0085b'],
  ]
  for (const [field, value] of cases) {
    const res = await fetch(`${functionsUrl}/auth/me`, {
      method: 'PATCH',
      headers: {
        apikey: stack.keys.publishableKey,
        authorization: `Bearer ${user.accessToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ [field]: value }),
    })
    const body = await res.json()
    assertEquals(res.status, 400, `${field} = ${JSON.stringify(value)}: ${JSON.stringify(body)}`)
    assertEquals(body.error.code, 'validation_failed')
    assertEquals(body.error.details[0].path, [field])
  }
  const signup = await fetch(`${functionsUrl}/auth/signup`, {
    method: 'POST',
    headers: { apikey: stack.keys.publishableKey, 'content-type': 'application/json' },
    body: JSON.stringify({
      email: uniqueEmail(),
      password: 'a-long-passphrase',
      full_name: 'Van\u0000Life',
    }),
  })
  assertEquals(signup.status, 400, JSON.stringify(await signup.json()))
  assertEquals(ownedChanges(before, await ownedRows(user.id)), [])
})
