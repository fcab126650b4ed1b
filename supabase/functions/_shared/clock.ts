// The time as ISO text (2026-11-30T06:48:08.404Z), made once per millisecond:
// Date's toISOString costs about a microsecond, as much as the rest of a log
// line, and under load many log lines and liveness answers share a millisecond.
let madeAt = 0
let text = ''

export function isoNow(): string {
  const now = Date.now()
  if (now !== madeAt) {
    madeAt = now
    text = new Date(now).toISOString()
  }
  return text
}
