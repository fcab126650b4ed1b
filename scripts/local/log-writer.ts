// The local stack's request log: the functions' info lines written to stdout in batches, one
// write per 20 ms (or per 32 kB) instead of one console.log per line. The lines are the same;
// on the Edge Runtime each goes to console.log (see _shared/logger.ts). Not once per
// event-loop turn: under load that was a timer per request, more than the line itself.
import { setLogWriter } from '../../supabase/functions/_shared/logger.ts'

const encoder = new TextEncoder()
const FLUSH_AT = 32 * 1024
const FLUSH_AFTER_MS = 20
let pending: string[] = []
let size = 0
let timer: ReturnType<typeof setTimeout> | undefined

/** Writes what is pending now (also before the process exits). */
export function flushLog(): void {
  if (timer !== undefined) clearTimeout(timer)
  timer = undefined
  if (!pending.length) return
  const bytes = encoder.encode(pending.join('\n') + '\n')
  pending = []
  size = 0
  try {
    for (let written = 0; written < bytes.length;) written += Deno.stdout.writeSync(bytes.subarray(written))
  } catch {
    // stdout closed (the terminal went away): nothing to write to.
  }
}

function batched(line: string): void {
  pending.push(line)
  size += line.length + 1
  if (size >= FLUSH_AT) flushLog()
  else timer ??= setTimeout(flushLog, FLUSH_AFTER_MS)
}

/** Sends this isolate's info and debug lines through the batch. */
export function batchLogLines(): void {
  setLogWriter(batched)
}
