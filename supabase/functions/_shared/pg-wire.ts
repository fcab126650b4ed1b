// One Postgres connection for the read path: the simple-query protocol, text
// rows, values parsed as postgres.js parses them by default. db.ts sends every
// user read as one simple-query message (begin read only; the preamble; the
// statement; commit), so this is all a read needs.
//
// Why not postgres.js here: on Deno, what it builds for each result outlives
// two scavenges (most of it is promoted and collected by full collections:
// ~26 in 5 s against 1 for this reader, in a loop of the same message at 16
// clients), and a read costs about twice the CPU (README, Performance). postgres.js keeps the
// transactions (fragments, helpers, real parameters) and the admin client.
import { Buffer } from 'node:buffer'
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import type net from 'node:net'

export interface WireLogin {
  user: string
  password: string
  database: string
  applicationName: string
}

export interface Column {
  name: string
  type: number
}

/** The rows of one statement that returned rows: objects by column name, or (`asJson`) each
 * row's first column as the JSON text the server sent, unparsed. */
export interface StatementRows {
  columns: Column[]
  rows: unknown[] | JsonRows
}

/** Rows that are each one JSON text (NULL is null), kept as one string: the rows joined by
 * commas, the inside of a JSON array. The reader decodes a statement's rows together, once,
 * where one decode per row cost ~0.3 µs each in the call alone (21 for a page). */
export class JsonRows {
  /** `ends[i]`: where row i ends in `text` (row i + 1 starts after the comma there). */
  constructor(private readonly text: string, private readonly ends: number[]) {}

  /** From texts already decoded (a client that gives rows one by one). */
  static of(texts: (string | null)[]): JsonRows {
    const json = texts.map((t) => t ?? 'null')
    const ends: number[] = []
    let end = -1
    for (const t of json) ends.push(end += 1 + t.length)
    return new JsonRows(json.join(','), ends)
  }

  get length(): number {
    return this.ends.length
  }

  /** Row i's JSON text. */
  row(i: number): string {
    return this.text.slice(i ? this.ends[i - 1] + 1 : 0, this.ends[i])
  }

  /** The first n rows (all by default), joined by commas. */
  joined(n = this.ends.length): string {
    return n >= this.ends.length ? this.text : n <= 0 ? '' : this.text.slice(0, this.ends[n - 1])
  }
}


/** An error the server sent, with postgres.js's field names (translate() in db.ts reads them). */
export type ServerError = Error & Record<string, string | undefined>

const FIELDS: Record<string, string> = {
  S: 'severity_local', V: 'severity', C: 'code', D: 'detail', H: 'hint', P: 'position', p: 'internal_position',
  q: 'internal_query', W: 'where', s: 'schema_name', t: 'table_name', c: 'column_name', d: 'data_type_name',
  n: 'constraint_name', F: 'file', L: 'line', R: 'routine',
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const NULL_JSON = encoder.encode('null')

/** Array type oid → its element's oid, per server (the catalog's, as postgres.js loads it). */
export type ArrayTypes = Map<number, number>
export const ARRAY_TYPES_QUERY = 'select b.oid, b.typarray from pg_catalog.pg_type a ' +
  'left join pg_catalog.pg_type b on b.oid = a.typelem where a.typcategory = \'A\' group by b.oid, b.typarray order by b.oid'

type Parser = (text: string) => unknown
const toNumber: Parser = (x) => +x
const toDate: Parser = (x) => new Date(x)
/** postgres.js's default parsers: everything else stays a string (int8 and numeric too). */
const PARSERS = new Map<number, Parser>([
  [16, (x) => x === 't'],
  [17, (x) => Buffer.from(x.slice(2), 'hex')],
  [21, toNumber], [23, toNumber], [26, toNumber], [700, toNumber], [701, toNumber],
  [114, (x) => JSON.parse(x)], [3802, (x) => JSON.parse(x)],
  [1082, toDate], [1114, toDate], [1184, toDate],
])

/** A parser for one column, or undefined for text. Arrays parse as postgres.js's arrayParser does. */
function parserFor(type: number, arrays: ArrayTypes): Parser | undefined {
  const parser = PARSERS.get(type)
  if (parser) return parser
  const element = arrays.get(type)
  if (element === undefined) return undefined
  const parse = PARSERS.get(element)
  const delimiter = type === 1020 ? ';' : ','
  return (x) => parseArray({ i: 1, last: 1, quoted: false, str: '', char: '', p: '' }, x, parse, delimiter)
}

interface ArrayState {
  i: number
  last: number
  quoted: boolean
  str: string
  char: string
  p: string
}

/** postgres.js's arrayParser, on the text after the opening brace (its quirks kept: an
 * unquoted NULL element is the text NULL, as postgres.js gives it). */
function parseArray(s: ArrayState, x: string, parser: Parser | undefined, delimiter: string): unknown[] {
  const xs: unknown[] = []
  const value = (text: string) => (parser ? parser(text) : text)
  for (; s.i < x.length; s.i++) {
    s.char = x[s.i]
    if (s.quoted) {
      if (s.char === '\\') {
        s.str += x[++s.i]
      } else if (s.char === '"') {
        xs.push(value(s.str))
        s.str = ''
        s.quoted = x[s.i + 1] === '"'
        s.last = s.i + 2
      } else {
        s.str += s.char
      }
    } else if (s.char === '"') {
      s.quoted = true
    } else if (s.char === '{') {
      s.last = ++s.i
      xs.push(parseArray(s, x, parser, delimiter))
    } else if (s.char === '}') {
      s.quoted = false
      if (s.last < s.i) xs.push(value(x.slice(s.last, s.i)))
      s.last = s.i + 1
      break
    } else if (s.char === delimiter && s.p !== '}' && s.p !== '"') {
      xs.push(value(x.slice(s.last, s.i)))
      s.last = s.i + 1
    }
    s.p = s.char
  }
  if (s.last < s.i) xs.push(value(x.slice(s.last, s.i + 1)))
  return xs
}

interface Pending {
  json: boolean
  results: StatementRows[]
  /** `ends`: in `json` mode, where each row ends in the connection's JSON bytes. */
  current?: { columns: Column[]; rows: unknown[]; parsers: (Parser | undefined)[]; ends: number[] }
  error?: ServerError
  resolve(results: StatementRows[]): void
  reject(err: unknown): void
}

/** The connection closed before the request's statements were answered (db.ts uses it too). */
export const connectionClosed = () =>
  Object.assign(new Error('the database connection closed during the request'), { code: 'CONNECTION_CLOSED' }) as Error

/**
 * A connection that runs one simple-query message at a time. `closed` resolves when the
 * socket goes away (server gone, `close()`); a query in flight then fails with CONNECTION_CLOSED.
 */
export class WireConnection {
  private buffer = new Uint8Array(16 * 1024)
  private length = 0
  /** The query messages' buffer, reused: one query is sent at a time, and its answer comes only
   * once the server has read all of it. */
  private out = new Uint8Array(8 * 1024)
  /** In `asJson` mode, the statement's rows as they arrive, joined by commas (kept, as `out`). */
  private json = new Uint8Array(16 * 1024)
  private jsonLength = 0
  private pending?: Pending
  /** The transaction status of the last ReadyForQuery: I idle, T in a transaction, E failed. */
  status = 'I'
  isClosed = false
  readonly closed: Promise<void>

  private constructor(private readonly socket: net.Socket, private readonly arrays: ArrayTypes) {
    let onClose!: () => void
    this.closed = new Promise((resolve) => (onClose = resolve))
    socket.on('data', (chunk: Uint8Array) => this.receive(chunk))
    socket.on('error', () => {}) // followed by 'close'
    socket.on('close', () => {
      this.isClosed = true
      this.fail(connectionClosed())
      onClose()
    })
  }

  /** Logs in on a connected socket (SCRAM-SHA-256, MD5, cleartext or trust). `arrays` is read
   * at each result: it may be filled in later, by whoever loads it first. */
  static async open(socket: net.Socket, login: WireLogin, arrays: ArrayTypes, timeoutMs = 10_000): Promise<WireConnection> {
    const conn = new WireConnection(socket, arrays)
    const timer = setTimeout(() => {
      conn.fail(Object.assign(new Error('logging in to the database timed out'), { code: 'CONNECT_TIMEOUT' }))
    }, timeoutMs)
    try {
      await conn.startup(login)
    } catch (err) {
      conn.close()
      throw err
    } finally {
      clearTimeout(timer)
    }
    return conn
  }

  /** Runs one simple-query message; resolves with the rows of each statement that returned
   * rows, or rejects with the first error (the rest of the message is then skipped by the
   * server; `status` says whether a transaction is left open). `asJson`: each statement's rows
   * are JsonRows, of each row's first column. */
  query(text: string, asJson = false): Promise<StatementRows[]> {
    if (this.isClosed) return Promise.reject(connectionClosed())
    if (this.pending) return Promise.reject(new Error('one query at a time on a wire connection'))
    // Typed arrays with memory of their own cost far more on Deno than their size suggests (to
    // allocate, and in the garbage collector's accounting of memory outside its heap): the
    // buffer is kept, up to 64 kB. UTF-8 takes at most 3 bytes per UTF-16 unit.
    const need = text.length * 3 + 6
    const buffer = need <= this.out.length ? this.out : new Uint8Array(need)
    if (need > this.out.length && need <= 64 * 1024) this.out = buffer
    const { written } = encoder.encodeInto(text, buffer.subarray(5))
    buffer[0] = 0x51 // Q
    new DataView(buffer.buffer).setInt32(1, written + 5)
    buffer[written + 5] = 0 // the text's terminator
    return new Promise((resolve, reject) => {
      this.pending = { json: asJson, results: [], resolve, reject }
      this.socket.write(buffer.subarray(0, written + 6))
    })
  }

  close(): void {
    if (this.isClosed) return
    // Terminate, then close: the server ends the session at once.
    this.socket.end(new Uint8Array([0x58, 0, 0, 0, 4]))
    this.socket.destroy()
  }

  // ---- login ---------------------------------------------------------------

  private loginStep?: { resolve(): void; reject(err: unknown): void; onAuth(type: number, body: Uint8Array): void }

  private startup(login: WireLogin): Promise<void> {
    const params = ['user', login.user, 'database', login.database, 'application_name', login.applicationName,
      'client_encoding', 'UTF8']
    const body = encoder.encode(params.join('\0') + '\0\0')
    const message = new Uint8Array(body.length + 8)
    const view = new DataView(message.buffer)
    view.setInt32(0, message.length)
    view.setInt32(4, 196608) // protocol 3.0
    message.set(body, 8)
    let nonce = ''
    let serverSignature = ''
    const password = (payload: string | Uint8Array) => this.send(0x70, typeof payload === 'string' ? encoder.encode(payload + '\0') : payload)
    return new Promise((resolve, reject) => {
      this.loginStep = {
        resolve,
        reject,
        onAuth: (type, data) => {
          if (type === 0) return // AuthenticationOk: ReadyForQuery follows
          if (type === 3) return password(login.password)
          if (type === 5) {
            const inner = createHash('md5').update(login.password + login.user).digest('hex')
            const outer = createHash('md5').update(inner).update(data.subarray(4, 8)).digest('hex')
            return password('md5' + outer)
          }
          if (type === 10) {
            if (!decoder.decode(data.subarray(4)).split('\0').includes('SCRAM-SHA-256')) {
              throw new Error('the database server offers no SASL mechanism this client has')
            }
            nonce = randomBytes(18).toString('base64')
            const first = encoder.encode('n,,n=*,r=' + nonce)
            const mechanism = encoder.encode('SCRAM-SHA-256\0')
            const payload = new Uint8Array(mechanism.length + 4 + first.length)
            payload.set(mechanism)
            new DataView(payload.buffer).setInt32(mechanism.length, first.length)
            payload.set(first, mechanism.length + 4)
            return password(payload)
          }
          if (type === 11) {
            const fields = Object.fromEntries(decoder.decode(data.subarray(4)).split(',').map((f) => [f[0], f.slice(2)]))
            if (!fields.r?.startsWith(nonce)) throw new Error('the database server answered SCRAM with another nonce')
            const salted = pbkdf2Sync(login.password, Buffer.from(fields.s, 'base64'), parseInt(fields.i), 32, 'sha256')
            type Key = Parameters<typeof createHmac>[1]
            const hmac = (key: Key, text: string) => createHmac('sha256', key).update(text).digest()
            const clientKey = hmac(salted, 'Client Key')
            // (Deno 2.1's node types do not see a Buffer as a Uint8Array.)
            const bytes = (b: unknown) => new Uint8Array(b as ArrayLike<number>)
            const auth = `n=*,r=${nonce},r=${fields.r},s=${fields.s},i=${fields.i},c=biws,r=${fields.r}`
            serverSignature = hmac(hmac(salted, 'Server Key'), auth).toString('base64')
            const signature = hmac(createHash('sha256').update(clientKey).digest(), auth)
            const [key, sig] = [bytes(clientKey), bytes(signature)]
            const proof = Buffer.from(key.map((b, i) => b ^ sig[i]))
            return this.send(0x70, encoder.encode(`c=biws,r=${fields.r},p=${proof.toString('base64')}`))
          }
          if (type === 12) {
            const verifier = decoder.decode(data.subarray(4)).split(',').find((f) => f.startsWith('v='))?.slice(2)
            if (verifier !== serverSignature) throw new Error('the database server did not prove it knows the password')
            return
          }
          throw new Error(`the database server asks for an authentication this client lacks (${type})`)
        },
      }
      this.socket.write(message)
    })
  }

  private send(type: number, body: Uint8Array) {
    const message = new Uint8Array(body.length + 5)
    message[0] = type
    new DataView(message.buffer).setInt32(1, body.length + 4)
    message.set(body, 5)
    this.socket.write(message)
  }

  // ---- receiving -------------------------------------------------------------

  private receive(chunk: Uint8Array) {
    if (this.length + chunk.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + chunk.length))
      grown.set(this.buffer.subarray(0, this.length))
      this.buffer = grown
    }
    this.buffer.set(chunk, this.length)
    this.length += chunk.length
    const buf = this.buffer
    const view = new DataView(buf.buffer, buf.byteOffset)
    let at = 0
    try {
      while (this.length - at >= 5) {
        const size = view.getInt32(at + 1)
        if (this.length - at < size + 1) break
        this.message(buf[at], buf, view, at + 5, at + 1 + size)
        at += size + 1
      }
    } catch (err) {
      // A protocol this client does not follow: the connection cannot be trusted further.
      this.fail(err)
      return
    }
    buf.copyWithin(0, at, this.length)
    this.length -= at
    // A large answer grew the buffer: do not keep it for every later one.
    if (this.length === 0 && this.buffer.length > 256 * 1024) this.buffer = new Uint8Array(16 * 1024)
  }

  private fail(err: unknown) {
    const step = this.loginStep
    this.loginStep = undefined
    step?.reject(err)
    const pending = this.pending
    this.pending = undefined
    pending?.reject(pending.error ?? err) // the server's reason (a FATAL error) when it gave one
    this.socket.destroy()
  }

  /** One message from the server: its type, and its body as buf[start, end). */
  private message(type: number, buf: Uint8Array, view: DataView, start: number, end: number) {
    const pending = this.pending
    switch (type) {
      case 0x44: // D: DataRow
        if (pending?.current) this.row(pending, buf, view, start)
        return
      case 0x54: { // T: RowDescription
        if (!pending) return
        const count = view.getInt16(start)
        const columns: Column[] = []
        let at = start + 2
        for (let i = 0; i < count; i++) {
          const nul = buf.indexOf(0, at)
          const name = decoder.decode(buf.subarray(at, nul))
          at = nul + 1
          columns.push({ name, type: view.getInt32(at + 6) })
          at += 18
        }
        const parsers = pending.json ? [] : columns.map((c) => parserFor(c.type, this.arrays))
        pending.current = { columns, rows: [], parsers, ends: [] }
        this.jsonLength = 0
        return
      }
      case 0x43: // C: CommandComplete
      case 0x49: // I: EmptyQueryResponse
        if (pending?.current) {
          const { columns, rows, ends } = pending.current
          pending.results.push({ columns, rows: pending.json ? this.jsonRows(ends) : rows })
          pending.current = undefined
        }
        return
      case 0x45: { // E: ErrorResponse
        const err = serverError(buf.subarray(start, end))
        if (this.loginStep) {
          const step = this.loginStep
          this.loginStep = undefined
          step.reject(err)
        } else if (pending) pending.error ??= err
        return
      }
      case 0x5a: // Z: ReadyForQuery
        this.status = String.fromCharCode(buf[start])
        if (this.loginStep) {
          const step = this.loginStep
          this.loginStep = undefined
          step.resolve()
        } else if (pending) {
          this.pending = undefined
          if (pending.error) pending.reject(pending.error)
          else pending.resolve(pending.results)
        }
        return
      case 0x52: // R: Authentication
        this.loginStep?.onAuth(view.getInt32(start), buf.subarray(start, end))
        return
      case 0x53: // S: ParameterStatus
      case 0x4b: // K: BackendKeyData
      case 0x4e: // N: NoticeResponse
      case 0x41: // A: NotificationResponse
        return
      default:
        throw new Error(`unexpected message from the database server: ${String.fromCharCode(type)}`)
    }
  }

  private row(pending: Pending, buf: Uint8Array, view: DataView, start: number) {
    const current = pending.current!
    const count = view.getInt16(start)
    let at = start + 2
    if (pending.json) {
      const size = view.getInt32(at)
      const bytes = size < 0 ? NULL_JSON : buf.subarray(at + 4, at + 4 + size)
      const comma = current.ends.length ? 1 : 0
      const need = this.jsonLength + comma + bytes.length
      if (need > this.json.length) {
        const grown = new Uint8Array(Math.max(this.json.length * 2, need))
        grown.set(this.json.subarray(0, this.jsonLength))
        this.json = grown
      }
      if (comma) this.json[this.jsonLength++] = 0x2c // ,
      this.json.set(bytes, this.jsonLength)
      this.jsonLength += bytes.length
      current.ends.push(this.jsonLength)
      return
    }
    const row: Record<string, unknown> = {}
    for (let i = 0; i < count; i++) {
      const size = view.getInt32(at)
      at += 4
      const column = current.columns[i]
      if (size < 0) {
        row[column.name] = null
        continue
      }
      const text = decoder.decode(buf.subarray(at, at + size))
      at += size
      const parse = current.parsers[i]
      row[column.name] = parse ? parse(text) : text
    }
    current.rows.push(row)
  }

  /** The statement's JSON rows, decoded in one piece: a string (a copy V8 makes cheaply), so
   * the bytes are free for the next statement. */
  private jsonRows(ends: number[]): JsonRows {
    const bytes = this.json.subarray(0, this.jsonLength)
    const text = decoder.decode(bytes)
    // A large answer grew the buffer: do not keep it for every later one.
    if (this.json.length > 256 * 1024) this.json = new Uint8Array(16 * 1024)
    // All ASCII (each byte one UTF-16 unit, which is so only then): the byte ends are the ends.
    if (text.length === bytes.length) return new JsonRows(text, ends)
    return JsonRows.of(ends.map((end, i) => decoder.decode(bytes.subarray(i ? ends[i - 1] + 1 : 0, end))))
  }
}

function serverError(body: Uint8Array): ServerError {
  const fields: Record<string, string> = {}
  let at = 0
  while (at < body.length && body[at] !== 0) {
    const nul = body.indexOf(0, at + 1)
    fields[String.fromCharCode(body[at])] = decoder.decode(body.subarray(at + 1, nul))
    at = nul + 1
  }
  const err = new Error(fields.M ?? 'database error') as ServerError
  err.name = 'PostgresError'
  for (const [key, name] of Object.entries(FIELDS)) if (fields[key] !== undefined) err[name] = fields[key]
  return err
}
