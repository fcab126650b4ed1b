// `npm start` as a user runs it: the real npm script (through scripts/run.mjs)
// in its own process group, with a fresh data folder and the default ports
// where they are free here; Ctrl-C reaches the whole group, as in a terminal.
// Also the errors a new user meets first (ports in use, a port the Supabase
// CLI keeps), and the launcher that installs what is missing.
import './_support/shared-resources.ts'
import postgres from 'postgres'
import { fileURLToPath } from 'node:url'
import { assert, assertEquals, assertMatch } from './_support/assert.ts'
import { assertPortFree, freePort } from '../scripts/local/postgres.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The environment of a user's shell: none of the stack's own variables (the suite sets some). */
function userEnv(extra: Record<string, string>): Record<string, string> {
  const own = /^(PAM_|SUPABASE_|UPSTASH_)|^(DATABASE_URL|REDIS_URL)$/
  const env = Object.entries(Deno.env.toObject()).filter(([name]) => !own.test(name))
  return { ...Object.fromEntries(env), ...extra }
}

interface NpmStart {
  pid: number
  /** stdout and stderr, each in order (not interleaved). */
  stdout(): string
  stderr(): string
  output(): string
  /** Resolves once the output contains `text`; throws if the process ends first. */
  waitFor(text: string, timeoutMs?: number): Promise<void>
  /** Exit status, once the process and its output have ended; throws after `timeoutMs`. */
  exit(timeoutMs?: number): Promise<Deno.CommandStatus>
  /** Kills the whole group if it is still running. */
  cleanUp(): Promise<void>
}

function npmStart(env: Record<string, string>): NpmStart {
  const child = new Deno.Command('npm', {
    args: ['start'],
    cwd: root,
    clearEnv: true,
    env: userEnv(env),
    detached: true, // its own process group, like a terminal's foreground job
    stdin: 'null',
    stdout: 'piped',
    stderr: 'piped',
  }).spawn()
  const text = { stdout: '', stderr: '' }
  const pump = async (name: keyof typeof text) => {
    for await (const chunk of child[name].pipeThrough(new TextDecoderStream())) text[name] += chunk
  }
  const status = Promise.all([pump('stdout'), pump('stderr')]).then(() => child.status)
  let exited = false
  status.then(() => (exited = true))
  const output = () => `${text.stdout}\n--- stderr ---\n${text.stderr}`
  return {
    pid: child.pid,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    output,
    async exit(timeoutMs = 60_000) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))
      const result = await Promise.race([status, late])
      clearTimeout(timer)
      if (!result) throw new Error(`npm start still runs after ${timeoutMs} ms:\n${output()}`)
      return result
    },
    async waitFor(wanted, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs
      while (!output().includes(wanted)) {
        if (exited) throw new Error(`npm start ended before "${wanted}":\n${output()}`)
        if (Date.now() > deadline) {
          throw new Error(`no "${wanted}" within ${timeoutMs} ms:\n${output()}`)
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    async cleanUp() {
      if (!exited) {
        try {
          Deno.kill(-child.pid, 'SIGKILL')
        } catch { /* gone */ }
      }
      await status
    },
  }
}

/** The default port when it is free here; else a free one (another stack runs here), and says so. */
async function defaultOrFree(
  port: number,
  variable: string,
): Promise<[number, Record<string, string>]> {
  try {
    assertPortFree(port, 'a test')
    return [port, {}]
  } catch {
    const other = await freePort()
    console.warn(`${variable}: port ${port} is taken on this machine, so this test uses ${other}`)
    return [other, { [variable]: String(other) }]
  }
}

async function tempDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: 'pam-start-' })
  await Deno.chmod(dir, 0o755) // embedded Postgres runs as `postgres` when we are root
  return dir
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false)

/** With Redis, one isolate per core (at most 4) serves the functions, each listening on the
 * gateway's port; auth requests reaching a function worker are passed to the main thread. */
async function servedByEveryIsolate(banner: string, port: number) {
  const isolates = Number(/Isolates +(\d+) serving/.exec(banner)?.[1] ?? 1)
  const shared = /Cache +Redis/.test(banner)
  assertEquals(isolates, shared ? Math.min(4, navigator.hardwareConcurrency) : 1, banner)
  // Every listener on the port, from the kernel's table (state 0A: LISTEN).
  const listeners = (await Deno.readTextFile('/proc/net/tcp')).split('\n')
    .filter((line) => line.split(/\s+/)[2]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`) && line.split(/\s+/)[4] === '0A')
  assertEquals(listeners.length, isolates, 'one listener per isolate')
  // Each request on a connection of its own, so the kernel spreads them over the listeners.
  const base = `http://127.0.0.1:${port}`
  const apikey = /Publishable key +(\S+)/.exec(banner)![1]
  const signIn = () =>
    fetch(`${base}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey, 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ email: 'demo@pam.local', password: 'pam-demo-password' }),
    })
  for (let i = 0; i < 12; i++) {
    const session = await signIn()
    assertEquals(session.status, 200, await session.clone().text())
    const { access_token } = await session.json()
    const me = await fetch(`${base}/functions/v1/auth/me`, {
      headers: { apikey, authorization: `Bearer ${access_token}`, connection: 'close' },
    })
    assertEquals(me.status, 200)
    assertEquals((await me.json()).profile.full_name, 'Demo Traveller')
  }
  // A body streamed to the Storage stand-in and back, whichever isolate takes the connection.
  const session = await (await signIn()).json()
  const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) % 251)
  for (let i = 0; i < 4; i++) {
    const object = `${base}/storage/v1/object/avatars/${session.user.id}/start-${i}.png`
    const put = await fetch(object, {
      method: 'POST',
      headers: { apikey, authorization: `Bearer ${session.access_token}`, 'content-type': 'image/png', 'x-upsert': 'true', connection: 'close' },
      body: bytes,
    })
    assertEquals(put.status, 200, await put.text())
    const got = await fetch(object.replace('/object/', '/object/public/'), { headers: { connection: 'close' } })
    assertEquals(new Uint8Array(await got.arrayBuffer()), bytes)
  }
}

Deno.test('npm start: a fresh data folder, restarts, and Ctrl-C / SIGTERM / a lost server', async (t) => {
  const dataDir = await tempDir()
  const [port, portEnv] = await defaultOrFree(54321, 'PAM_PORT')
  const [dbPort, dbPortEnv] = await defaultOrFree(54332, 'PAM_DB_PORT')
  const [, mailPortEnv] = await defaultOrFree(54325, 'PAM_MAIL_PORT')
  const env = { PAM_DATA_DIR: dataDir, ...portEnv, ...dbPortEnv, ...mailPortEnv }
  const postmasterPid = `${dataDir}/postgres/postmaster.pid`
  try {
    await t.step(
      'first start: Postgres 17 initialised, migrated and seeded; Ctrl-C exits 0',
      async () => {
        const run = npmStart(env)
        try {
          await run.waitFor('Press Ctrl-C to stop.')
          assertMatch(
            run.stdout(),
            new RegExp(
              `Database +postgres://postgres:\\*{4}@127\\.0\\.0\\.1:${dbPort}/postgres +\\(embedded\\)`,
            ),
          )
          const res = await fetch(`http://127.0.0.1:${port}/functions/v1/health`)
          assertEquals(res.status, 200)
          assertEquals((await res.json()).status, 'ok')
          await servedByEveryIsolate(run.stdout(), port)

          const sql = postgres(`postgres://postgres:postgres@127.0.0.1:${dbPort}/postgres`, {
            max: 1,
            onnotice: () => {},
          })
          try {
            const [{ server_version_num }] = await sql`show server_version_num`
            assertMatch(server_version_num, /^17\d{4}$/, 'hosted Supabase runs Postgres 17')
            const [demo] =
              await sql`select count(*)::int as n from auth.users where email = 'demo@pam.local'`
            assertEquals(demo.n, 1, 'the seed ran')
          } finally {
            await sql.end()
          }

          Deno.kill(-run.pid, 'SIGINT') // Ctrl-C in a terminal: the whole foreground process group
          const status = await run.exit()
          assertEquals(status.code, 0, run.output())
          assertMatch(run.stdout(), /Stopping…\nStopped\.\n$/)
          assert(!run.stderr().includes('shut down from outside'), run.stderr())
          assert(!(await exists(postmasterPid)), 'Postgres shut down cleanly')
          assertPortFree(port, 'the gateway')
          assertPortFree(dbPort, 'the embedded Postgres')
        } finally {
          await run.cleanUp()
        }
      },
    )

    await t.step('second start on the same data; SIGTERM to npm exits 0', async () => {
      const run = npmStart(env)
      try {
        await run.waitFor('Press Ctrl-C to stop.')
        assertEquals(
          (await fetch(`http://127.0.0.1:${port}/functions/v1/health`).then((r) => r.json()))
            .status,
          'ok',
        )
        Deno.kill(run.pid, 'SIGTERM')
        const status = await run.exit()
        assertEquals(status.code, 0, run.output())
        assertMatch(run.stdout(), /Stopping…\nStopped\.\n$/)
        assert(!(await exists(postmasterPid)))
      } finally {
        await run.cleanUp()
      }
    })

    await t.step(
      'Postgres shut down from outside: the stack stops and exits 1, saying why',
      async () => {
        const run = npmStart(env)
        try {
          await run.waitFor('Press Ctrl-C to stop.')
          const pid = Number((await Deno.readTextFile(postmasterPid)).split('\n')[0])
          Deno.kill(pid, 'SIGINT') // what `pg_ctl stop -m fast` does
          const status = await run.exit()
          assertEquals(status.code, 1, run.output())
          assert(
            run.stderr().includes(
              `\nPostgres (pid ${pid}) was shut down from outside; it is not restarted.\n`,
            ),
            run.output(),
          )
          assertMatch(run.stdout(), /Stopping…\nStopped\.\n$/)
          assertPortFree(port, 'the gateway')
        } finally {
          await run.cleanUp()
        }
      },
    )
  } finally {
    await Deno.remove(dataDir, { recursive: true })
  }
})

Deno.test('npm start: a port in use names the port and the variable that moves it', async (t) => {
  const dataDir = await tempDir()
  const taken = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const busy = (taken.addr as Deno.NetAddr).port
  const failing = async (env: Record<string, string>, code: number) => {
    const run = npmStart({ PAM_DATA_DIR: dataDir, ...env })
    try {
      assertEquals((await run.exit()).code, code, run.output())
      return run.output()
    } finally {
      await run.cleanUp()
    }
  }
  try {
    await t.step('the gateway (PAM_PORT)', async () => {
      const output = await failing({ PAM_PORT: String(busy) }, 1)
      assert(
        output.includes(
          `The local stack did not start: port ${busy} is already in use, so the gateway cannot listen on it. ` +
            `Stop the program that uses it, or set PAM_PORT to another port.`,
        ),
        output,
      )
    })
    await t.step('the embedded Postgres (PAM_DB_PORT), before any initdb', async () => {
      const output = await failing({
        PAM_PORT: String(await freePort()),
        PAM_DB_PORT: String(busy),
      }, 1)
      assert(
        output.includes(
          `The local stack did not start: port ${busy} is already in use, so the embedded Postgres cannot ` +
            `listen on it. Stop the program that uses it, or set PAM_DB_PORT to another port.`,
        ),
        output,
      )
      assert(!(await exists(`${dataDir}/postgres/PG_VERSION`)))
    })
    await t.step('a port the Supabase CLI keeps for its Docker stack is refused', async () => {
      for (const reserved of [54322, 54320]) {
        const output = await failing({ PAM_DB_PORT: String(reserved) }, 2)
        assert(
          output.includes(
            `PAM_DB_PORT=${reserved} is kept for the Supabase CLI's own (Docker) local stack`,
          ),
          output,
        )
      }
    })
  } finally {
    taken.close()
    await Deno.remove(dataDir, { recursive: true })
  }
})

Deno.test('npm start: data from another Postgres major version says what to do', async () => {
  const dataDir = await tempDir()
  await Deno.mkdir(`${dataDir}/postgres`)
  await Deno.writeTextFile(`${dataDir}/postgres/PG_VERSION`, '18\n')
  const run = npmStart({
    PAM_DATA_DIR: dataDir,
    PAM_PORT: String(await freePort()),
    PAM_DB_PORT: String(await freePort()),
  })
  try {
    assertEquals((await run.exit()).code, 1, run.output())
    assert(
      run.stderr().includes(
        `The local stack did not start: the database in ${dataDir}/postgres was created by Postgres 18, ` +
          `which the embedded Postgres 17 cannot open: delete that folder for a fresh database`,
      ),
      run.output(),
    )
  } finally {
    await run.cleanUp()
    await Deno.remove(dataDir, { recursive: true })
  }
})

Deno.test('scripts/run.mjs: npm ci when node_modules is missing or stale; exit codes and signals pass through', async (t) => {
  // A copy of the launcher in a scratch project, with npm replaced on the PATH
  // (no registry here): the fake npm records its arguments and installs a fake deno.
  const dir = await Deno.makeTempDir({ prefix: 'pam-launcher-' })
  await Deno.mkdir(`${dir}/scripts`)
  await Deno.mkdir(`${dir}/bin`)
  await Deno.copyFile(`${root}scripts/run.mjs`, `${dir}/scripts/run.mjs`)
  await Deno.writeTextFile(`${dir}/package-lock.json`, '{}\n')
  const script = async (path: string, text: string) => {
    await Deno.writeTextFile(path, text)
    await Deno.chmod(path, 0o755)
  }
  await script(
    `${dir}/fake-deno`,
    // The trap is set before the call is written: the test sends TERM once it reads the call.
    `#!/bin/sh
trap 'echo "deno got TERM" >> "${dir}/calls"; exit 0' TERM
echo "deno $*" >> "${dir}/calls"
case "$1" in
  exit) exit "$2" ;;
  wait) while :; do sleep 0.05; done ;;
esac
`,
  )
  await script(
    `${dir}/bin/npm`,
    `#!/bin/sh
echo "npm $*" >> "${dir}/calls"
rm -rf node_modules && mkdir -p node_modules/.bin
cp "${dir}/fake-deno" node_modules/.bin/deno && echo '{}' > node_modules/.package-lock.json
`,
  )
  const calls = async () =>
    (await Deno.readTextFile(`${dir}/calls`).catch(() => '')).trim().split('\n').filter(Boolean)
  const launcher = (...args: string[]) =>
    new Deno.Command('node', {
      args: [`${dir}/scripts/run.mjs`, ...args],
      cwd: dir,
      env: { PATH: `${dir}/bin:${Deno.env.get('PATH')}` },
      stdin: 'null',
      stdout: 'null',
      stderr: 'null',
    })
  try {
    await t.step(
      'no node_modules: npm ci, then deno with the arguments and its exit code',
      async () => {
        assertEquals((await launcher('exit', '3').output()).code, 3)
        assertEquals(await calls(), ['npm ci --no-audit --no-fund', 'deno exit 3'])
      },
    )
    await t.step('installed and current: deno only', async () => {
      assertEquals((await launcher('exit', '0').output()).code, 0)
      assertEquals((await calls()).slice(2), ['deno exit 0'])
    })
    await t.step('package-lock.json newer than the install: npm ci again', async () => {
      const later = new Date(Date.now() + 60_000)
      await Deno.utime(`${dir}/package-lock.json`, later, later)
      assertEquals((await launcher('exit', '0').output()).code, 0)
      assertEquals((await calls()).slice(3), ['npm ci --no-audit --no-fund', 'deno exit 0'])
      await Deno.utime(`${dir}/package-lock.json`, new Date(0), new Date(0))
    })
    await t.step('SIGTERM reaches deno; its exit code is the launcher’s', async () => {
      const child = launcher('wait').spawn()
      while (!(await calls()).includes('deno wait')) await new Promise((r) => setTimeout(r, 20))
      child.kill('SIGTERM')
      assertEquals((await child.status).code, 0)
      assertEquals((await calls()).slice(-2), ['deno wait', 'deno got TERM'])
    })
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})
