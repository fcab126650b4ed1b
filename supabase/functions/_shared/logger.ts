// The one logger: JSON lines on stdout (errors on stderr), never secrets.
import { isoNow } from './clock.ts'

type Level = 'debug' | 'info' | 'warn' | 'error'
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

let threshold: Level = 'info'

/** Where info and debug lines go. On the Edge Runtime, console.log: its log collector takes
 * each call as one event. The local stack, which owns its process's stdout, writes them in
 * batches instead (setLogWriter): a console.log costs more than the rest of a cached read. */
let writeLine: (line: string) => void = (line) => console.log(line)

export function setLogLevel(level: Level): void {
  threshold = level
}

export function setLogWriter(write: (line: string) => void): void {
  writeLine = write
}

/** Whether a line at `level` is written (to skip gathering its fields when not). */
export function logs(level: Level): boolean {
  return order[level] >= order[threshold]
}

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  if (!logs(level)) return
  // The fields' JSON spliced in after ts, level and msg: no merged copy of them is made.
  const rest = JSON.stringify(fields)
  const line = `{"ts":"${isoNow()}","level":"${level}","msg":${JSON.stringify(msg)}` +
    (rest === '{}' ? '}' : `,${rest.slice(1)}`)
  // Warnings and errors go out at once, whatever happens next.
  if (level === 'error' || level === 'warn') console.error(line)
  else writeLine(line)
}

export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    return { error: err.message, error_name: err.name, stack: err.stack?.split('\n').slice(0, 6).join('\n') }
  }
  return { error: String(err) }
}
