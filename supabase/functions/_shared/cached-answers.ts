// Answers computed from a cached value, kept per isolate. Some cached reads
// still compute their answer on every hit (the summary's averages and
// percentages depend on today): parsing the cached text and computing the same
// answer again cost more than the rest of the hit. Kept here, a hit whose
// cached text and inputs have not changed costs a string comparison.
//
// The cached text is part of the match: whatever changes what the cache holds
// (a write drops it, a miss fills it again) changes the answer. Entries are
// per cache key (which names the user), at most `max` per isolate, the first
// kept dropped first.
interface Entry<V> {
  text: string
  value: V
  inputs?: string
  answer?: string
}

export class CachedAnswers<V> {
  private readonly entries = new Map<string, Entry<V>>()

  constructor(private readonly max = 500) {}

  /** A parser for the cache's text under `key`: the value parsed before when the text is the
   * same (the one object, which callers must not change), else JSON.parse. */
  parser(key: string): (text: string) => V {
    return (text) => {
      const entry = this.entries.get(key)
      if (entry && entry.text === text) return entry.value
      const value = JSON.parse(text) as V
      this.keep(key, { text, value })
      return value
    }
  }

  /** The answer for `value` (as the parser gave it) and `inputs`: kept from before when both are
   * the same, else `render()`'s, kept for next time. A value the parser did not give (a miss's
   * fresh load) is rendered and not kept: its text is known only once the cache gives it back. */
  answer(key: string, value: V, inputs: string, render: () => string): string {
    const entry = this.entries.get(key)
    if (entry?.value !== value) return render()
    if (entry.inputs === inputs && entry.answer !== undefined) return entry.answer
    entry.inputs = inputs
    entry.answer = render()
    return entry.answer
  }

  private keep(key: string, entry: Entry<V>) {
    this.entries.delete(key)
    this.entries.set(key, entry)
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!)
  }
}
