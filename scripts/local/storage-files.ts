// Where the local Storage stand-in keeps file contents: one file per object
// version, at `<root>/<bucket>/<object name>#<version>` (`#` never occurs in
// an object name, so a version file never collides with a folder). A body is
// streamed to a temporary file first and renamed into place only when it is
// complete; the row that names its version is written after that, and a
// version no row names is removed (see storage.ts).
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge'
}

/** The request body failed before its end (the client went away, a form cut short). */
export class BodyCutOff extends Error {
  override name = 'BodyCutOff'
}

/** The object store under `root`. */
export function fileStore(root: string) {
  const tmpDir = join(root, '.tmp')

  /** The file of one version of an object; names are checked before they get here. */
  const pathOf = (bucket: string, name: string, version: string) => {
    for (const part of [bucket, ...name.split('/'), version]) {
      if (!part || part === '.' || part === '..' || part.includes('\0')) throw new Error(`unsafe object path: ${bucket}/${name}`)
    }
    return join(root, bucket, `${name}#${version}`)
  }

  return {
    root,
    pathOf,

    /** Streams `body` into a temporary file, refusing more than `limit` bytes. */
    async receive(body: ReadableStream<Uint8Array> | null, limit: number): Promise<{ tmp: string; size: number; eTag: string }> {
      await Deno.mkdir(tmpDir, { recursive: true })
      const tmp = join(tmpDir, crypto.randomUUID())
      const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 })
      const md5 = createHash('md5')
      const reader = body?.getReader()
      let size = 0
      try {
        for (;;) {
          let next: ReadableStreamReadResult<Uint8Array>
          try {
            next = reader ? await reader.read() : { done: true, value: undefined }
          } catch (err) {
            throw err instanceof BodyTooLarge ? err : new BodyCutOff(String(err))
          }
          if (next.done) break
          size += next.value.byteLength
          if (size > limit) throw new BodyTooLarge(`more than ${limit} bytes`)
          md5.update(next.value)
          for (let written = 0; written < next.value.byteLength;) written += await file.write(next.value.subarray(written))
        }
        await file.sync()
      } catch (err) {
        await reader?.cancel().catch(() => {})
        file.close()
        await Deno.remove(tmp).catch(() => {})
        throw err
      }
      file.close()
      return { tmp, size, eTag: `"${md5.digest('hex')}"` }
    },

    /** Moves a received body into place as a version of an object. */
    async place(tmp: string, bucket: string, name: string, version: string): Promise<void> {
      const target = pathOf(bucket, name, version)
      await Deno.mkdir(dirname(target), { recursive: true })
      await Deno.rename(tmp, target)
    },

    /** A copy of one version as another (copy and move). */
    async duplicate(from: { bucket: string; name: string; version: string }, to: { bucket: string; name: string; version: string }) {
      const target = pathOf(to.bucket, to.name, to.version)
      await Deno.mkdir(dirname(target), { recursive: true })
      const tmp = join(tmpDir, crypto.randomUUID())
      await Deno.mkdir(tmpDir, { recursive: true })
      await Deno.copyFile(pathOf(from.bucket, from.name, from.version), tmp)
      await Deno.rename(tmp, target)
    },

    /** An open version, or null when its file is gone. */
    async open(bucket: string, name: string, version: string): Promise<Deno.FsFile | null> {
      try {
        return await Deno.open(pathOf(bucket, name, version), { read: true })
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return null
        throw err
      }
    },

    /** Removes versions (missing ones are fine). */
    async discard(...versions: { bucket: string; name: string; version: string | null }[]): Promise<void> {
      for (const v of versions) {
        if (!v.version) continue
        await Deno.remove(pathOf(v.bucket, v.name, v.version)).catch((err) => {
          if (!(err instanceof Deno.errors.NotFound)) throw err
        })
      }
    },

    async discardTmp(tmp: string): Promise<void> {
      await Deno.remove(tmp).catch(() => {})
    },

    /** Temporary files left by a process that stopped mid-upload. */
    async sweepTmp(): Promise<void> {
      await Deno.remove(tmpDir, { recursive: true }).catch(() => {})
    },
  }
}

export type FileStore = ReturnType<typeof fileStore>
