// `npm run test:faults`: the fault tests (tests/faults/*_fault.ts), which kill
// and freeze Postgres and Redis under load. Too slow and too disruptive for
// `npm test`, and named so that `deno test tests/` does not pick them up.
//
// Each file runs in a `deno test` process of its own: it starts its own
// embedded Postgres, redis-server and stack, and the functions read their
// configuration from the environment once per process. Files run one after
// another (they measure latencies; the machine's cores are shared). The
// functions' request logs (one JSON line per request, hundreds of 503s here)
// are left out unless PAM_TEST_LOGS is set.
//
//   npm run test:faults                                   every fault test
//   npm run test:faults -- tests/faults/redis_frozen_fault.ts   some of them
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../tests/faults/', import.meta.url))
const files = Deno.args.length ? Deno.args : [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith('_fault.ts'))
  .map((e) => `tests/faults/${e.name}`)
  .sort()

let current: Deno.ChildProcess | undefined
let interrupted = false
// Interrupted: the running file ends (in a terminal it got Ctrl-C itself) and no other starts.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  Deno.addSignalListener(signal, () => {
    interrupted = true
    try {
      current?.kill(signal)
    } catch { /* already exited */ }
  })
}

const showLogs = Boolean(Deno.env.get('PAM_TEST_LOGS'))

/** Copies a stream line by line, without the JSON log lines unless asked for. */
async function copyLines(from: ReadableStream<Uint8Array>, to: { writeSync(p: Uint8Array): number }) {
  const enc = new TextEncoder()
  let rest = ''
  const emit = (line: string) => {
    if (showLogs || !line.startsWith('{"ts":')) to.writeSync(enc.encode(line + '\n'))
  }
  for await (const chunk of from.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()!
    lines.forEach(emit)
  }
  if (rest) emit(rest)
}

const failed: string[] = []
const started = performance.now()
for (const file of files) {
  if (interrupted) break
  current = new Deno.Command(Deno.execPath(), {
    args: ['test', '-A', '--no-check', file],
    stdin: 'null',
    stdout: 'piped',
    stderr: 'piped',
  }).spawn()
  await Promise.all([copyLines(current.stdout, Deno.stdout), copyLines(current.stderr, Deno.stderr)])
  if (!(await current.status).success) failed.push(basename(file))
}

const seconds = Math.round((performance.now() - started) / 1000)
if (interrupted) {
  console.error('\nfault tests interrupted')
  Deno.exit(130)
}
console.log(
  failed.length
    ? `\nfault tests: ${failed.length} of ${files.length} files failed in ${seconds} s: ${failed.join(', ')}`
    : `\nfault tests: all ${files.length} files passed in ${seconds} s`,
)
Deno.exit(failed.length ? 1 : 0)
