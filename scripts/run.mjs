// The npm scripts' way into Deno, which itself comes from node_modules: on a
// fresh clone, or when package-lock.json is newer than the last install, this
// runs `npm ci` first. Then it runs node_modules/.bin/deno with the arguments
// given, passes on Ctrl-C, SIGTERM and SIGHUP, and exits with Deno's code.
//
//   node scripts/run.mjs run -A scripts/start.ts
//   node scripts/run.mjs --edge check …   the same on the Edge Runtime's Deno (2.1, see scripts/edge-deno.ts)
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { constants } from 'node:os'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const deno = `${root}node_modules/.bin/deno`
const lockfile = `${root}package-lock.json`
// npm writes this at the end of every install.
const installed = `${root}node_modules/.package-lock.json`

function whyInstall() {
  if (!existsSync(installed) || !existsSync(deno)) return 'node_modules is missing'
  if (statSync(lockfile).mtimeMs > statSync(installed).mtimeMs) {
    return 'package-lock.json is newer than node_modules'
  }
}

const why = whyInstall()
if (why) {
  console.error(`${why}: running npm ci first…`)
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
  if (npm.status !== 0) {
    console.error(`npm ci failed${npm.error ? `: ${npm.error.message}` : ''}`)
    process.exit(npm.status || 1)
  }
}

let args = process.argv.slice(2)
let binary = deno
if (args[0] === '--edge') {
  args = args.slice(1)
  const arch = process.arch === 'x64' ? 'x64' : 'arm64'
  binary = `${root}node_modules/deno-edge-${process.platform}-${arch}/deno`
  if (!existsSync(binary)) {
    console.error(`(no Deno of the Edge Runtime for ${process.platform}-${arch} in node_modules: skipped)`)
    process.exit(process.env.CI ? 1 : 0)
  }
}

const child = spawn(binary, args, { stdio: 'inherit' })
// In a terminal, Ctrl-C reaches Deno too; passing it on again is harmless.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
child.on('error', (err) => {
  console.error(`could not run ${binary}: ${err.message}`)
  process.exit(1)
})
child.on('exit', (code, signal) => process.exit(code ?? 128 + constants.signals[signal]))
