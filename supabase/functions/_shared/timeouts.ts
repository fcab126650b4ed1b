// Timeouts that share one timer. The pool gives every request a deadline and
// every request that waits for a connection a time limit. A Node-style timer
// (what setTimeout is on Deno 2.9) costs a few µs to set and to clear: under
// load, the two or three per list request were about a tenth of the
// function's CPU. Timeouts of one length expire in the order they started, so
// a queue of them needs one timer, armed for the oldest still pending.

export interface Timeout {
  /** Stops the timeout; nothing happens if it has expired already. */
  cancel(): void
}

class Entry implements Timeout {
  constructor(readonly at: number, public expire: (() => void) | undefined, private readonly queue: TimeoutQueue) {}

  cancel() {
    if (!this.expire) return
    this.expire = undefined
    this.queue.dropSettled()
  }
}

export class TimeoutQueue {
  private entries: Entry[] = []
  private head = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(readonly ms: number) {}

  /** Calls `expire` `ms` from now, unless the timeout is cancelled first. */
  start(expire: () => void): Timeout {
    const entry = new Entry(performance.now() + this.ms, expire, this)
    this.entries.push(entry)
    if (this.timer === undefined) this.arm(this.ms)
    return entry
  }

  /** For tests: the timeouts pending, and whether a timer is set. */
  get state(): { pending: number; timer: boolean } {
    let pending = 0
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i].expire) pending++
    return { pending, timer: this.timer !== undefined }
  }

  /** Drops the settled timeouts at the head; with none left, the timer goes too (a pending
   * timer would keep a process, or a test, from ending). */
  dropSettled() {
    const entries = this.entries
    while (this.head < entries.length && !entries[this.head].expire) this.head++
    if (this.head === entries.length) {
      this.entries = []
      this.head = 0
      clearTimeout(this.timer)
      this.timer = undefined
    } else if (this.head > 64 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head)
      this.head = 0
    }
  }

  private arm(ms: number) {
    this.timer = setTimeout(() => this.fire(), Math.max(0, ms))
  }

  private fire() {
    this.timer = undefined
    const now = performance.now()
    // A timer may fire a little early by this clock: a millisecond is close enough.
    for (let e = this.entries[this.head]; e && (!e.expire || e.at <= now + 1); e = this.entries[this.head]) {
      this.head++
      const expire = e.expire
      e.expire = undefined
      expire?.()
    }
    this.dropSettled()
    const next = this.entries[this.head]
    if (next && this.timer === undefined) this.arm(next.at - now)
  }
}

/** One queue per length: callers with a few fixed lengths share a timer per length. */
export class Timeouts {
  private readonly queues = new Map<number, TimeoutQueue>()

  start(ms: number, expire: () => void): Timeout {
    let queue = this.queues.get(ms)
    if (!queue) this.queues.set(ms, queue = new TimeoutQueue(ms))
    return queue.start(expire)
  }
}
