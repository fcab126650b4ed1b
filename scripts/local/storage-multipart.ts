// A streaming reader of multipart/form-data bodies, for the Storage
// stand-in: the text fields before the first file, then that file as a
// stream, never the whole body in memory. storage-js sends a Blob upload as a
// form whose file part has an empty name (which Request.formData() drops)
// after its small fields (cacheControl, metadata), as storage-api reads it
// with @fastify/multipart's request.file().

export interface MultipartFile {
  filename: string
  contentType: string
  stream: ReadableStream<Uint8Array>
}

export class MalformedMultipart extends Error {
  override name = 'MalformedMultipart'
}

const MAX_HEADER_BYTES = 16 * 1024
const MAX_FIELD_BYTES = 1024 * 1024

/** The boundary of a multipart/form-data content type, or null. */
export function boundaryOf(contentType: string): string | null {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType)
  return m ? (m[1] ?? m[2]) : null
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0]
  const last = haystack.length - needle.length
  outer: for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** Reads the fields up to the first file part; the file's bytes are then read from `file.stream`. */
export async function readMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
): Promise<{ fields: Map<string, string>; file: MultipartFile | null }> {
  const reader = body.getReader()
  let buf: Uint8Array = new Uint8Array(0)
  let ended = false
  const more = async () => {
    if (ended) return false
    const { value, done } = await reader.read()
    if (done) {
      ended = true
      return false
    }
    buf = concat(buf, value)
    return true
  }
  const enc = new TextEncoder()
  const opening = enc.encode(`--${boundary}`)
  const delimiter = enc.encode(`\r\n--${boundary}`)

  // The preamble, then the first delimiter.
  let at: number
  while ((at = indexOf(buf, opening)) === -1) {
    // A long preamble is skipped, keeping what could be the start of the boundary.
    if (buf.length > MAX_HEADER_BYTES) buf = buf.subarray(buf.length - opening.length)
    if (!(await more())) throw new MalformedMultipart('no boundary in the body')
  }
  buf = buf.subarray(at + opening.length)

  const fields = new Map<string, string>()
  for (;;) {
    // After a delimiter: "--" ends the body, CRLF starts a part.
    while (buf.length < 2) if (!(await more())) throw new MalformedMultipart('the body ends inside a boundary')
    if (buf[0] === 45 && buf[1] === 45) {
      await reader.cancel().catch(() => {})
      return { fields, file: null }
    }
    if (buf[0] !== 13 || buf[1] !== 10) throw new MalformedMultipart('a boundary is not followed by a line break')
    buf = buf.subarray(2)
    let end: number
    while ((end = indexOf(buf, new Uint8Array([13, 10, 13, 10]))) === -1) {
      if (buf.length > MAX_HEADER_BYTES || !(await more())) throw new MalformedMultipart('part headers are too long or cut off')
    }
    const headers = new TextDecoder().decode(buf.subarray(0, end)).split('\r\n')
    buf = buf.subarray(end + 4)
    const header = (name: string) =>
      headers.find((h) => h.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim() ?? ''
    const disposition = header('content-disposition')
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? ''
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1]
    if (filename !== undefined) {
      return {
        fields,
        file: { filename, contentType: header('content-type') || 'application/octet-stream', stream: fileStream() },
      }
    }
    // A field: its value, up to the next delimiter.
    while ((end = indexOf(buf, delimiter)) === -1) {
      if (buf.length > MAX_FIELD_BYTES || !(await more())) throw new MalformedMultipart('a field is too long or cut off')
    }
    fields.set(name, new TextDecoder().decode(buf.subarray(0, end)))
    buf = buf.subarray(end + delimiter.length)
  }

  /** The file part's bytes: everything before the next delimiter. */
  function fileStream(): ReadableStream<Uint8Array> {
    let finished = false
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (finished) return
        for (;;) {
          const end = indexOf(buf, delimiter)
          if (end !== -1) {
            if (end > 0) controller.enqueue(buf.slice(0, end))
            finished = true
            controller.close()
            await reader.cancel().catch(() => {})
            return
          }
          // Bytes that cannot be the start of a delimiter are the file's.
          const safe = buf.length - delimiter.length
          if (safe > 0) {
            controller.enqueue(buf.slice(0, safe))
            buf = buf.subarray(safe)
            return
          }
          if (!(await more())) {
            controller.error(new MalformedMultipart('the file part is cut off'))
            return
          }
        }
      },
      cancel: () => reader.cancel().catch(() => {}),
    })
  }
}
