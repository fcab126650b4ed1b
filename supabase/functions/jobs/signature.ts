// Every call of the jobs function comes from QStash: its Upstash-Signature (a
// JWT signed with the current or next signing key, naming this destination,
// unexpired, with the body's hash) is verified with @upstash/qstash's
// Receiver before anything runs. Anything else is 401 and does nothing.
import { Receiver } from '@upstash/qstash'
import type { Config } from '../_shared/config.ts'
import { ApiError } from '../_shared/errors.ts'
import { log } from '../_shared/logger.ts'

export type Verify = (signature: string | undefined, body: string, destination: string) => Promise<void>

export function qstashVerifier(config: Config): Verify {
  const { currentSigningKey, nextSigningKey } = config.jobs
  // devMode off: the keys are ours, whatever QSTASH_DEV says.
  const receiver = currentSigningKey && nextSigningKey
    ? new Receiver({ currentSigningKey, nextSigningKey, devMode: false })
    : undefined
  return async (signature, body, destination) => {
    if (!receiver) {
      throw new ApiError(503, 'jobs_not_configured', 'QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY are not set')
    }
    if (!signature) throw invalidSignature('missing')
    try {
      await receiver.verify({ signature, body, url: destination })
    } catch (err) {
      // Why it failed (key, expiry, body hash, destination) is for the logs, not for the caller.
      log('warn', 'job call with an invalid signature', { destination, error: err instanceof Error ? err.message : String(err) })
      throw invalidSignature('invalid')
    }
  }
}

const invalidSignature = (reason: 'missing' | 'invalid') =>
  new ApiError(401, 'invalid_signature', 'this endpoint only takes signed calls from the scheduler', { reason })
