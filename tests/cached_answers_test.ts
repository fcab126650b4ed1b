// CachedAnswers: an answer is reused only for the same cached text and inputs; the oldest
// entries go first.
import { assertEquals } from './_support/assert.ts'
import { CachedAnswers } from '../supabase/functions/_shared/cached-answers.ts'

Deno.test('cached answers: same text and inputs reuse the answer; anything else renders again', () => {
  const answers = new CachedAnswers<{ n: number }>()
  let renders = 0
  const hit = (key: string, text: string, inputs: string) => {
    const value = answers.parser(key)(text)
    return answers.answer(key, value, inputs, () => `${++renders}:${value.n}:${inputs}`)
  }
  assertEquals(hit('a', '{"n":1}', 'mon'), '1:1:mon')
  assertEquals(hit('a', '{"n":1}', 'mon'), '1:1:mon') // kept
  assertEquals(hit('a', '{"n":1}', 'tue'), '2:1:tue') // other inputs
  assertEquals(hit('a', '{"n":2}', 'tue'), '3:2:tue') // the cache holds something else
  assertEquals(hit('b', '{"n":2}', 'tue'), '4:2:tue') // keys are apart
  // A value the parser did not give (a miss's fresh load) is rendered every time.
  assertEquals(answers.answer('a', { n: 2 }, 'tue', () => 'fresh'), 'fresh')
  assertEquals(hit('a', '{"n":2}', 'tue'), '3:2:tue')
})

Deno.test('cached answers: at most `max` keys, the first kept dropped first', () => {
  const answers = new CachedAnswers<number[]>(2)
  const parse = (key: string) => answers.parser(key)('[1]')
  const a = parse('a')
  const b = parse('b')
  assertEquals(parse('a') === a, true) // the same object while kept
  parse('c') // three keys for two places: 'a' goes
  assertEquals(parse('b') === b, true)
  assertEquals(parse('a') === a, false) // parsed again
})
