// Calls to the sync function through the real gateway, as a signed-in user.
import { functionAs } from './wins.ts'

/** Calls /functions/v1/sync/<path> through the gateway as `user`. */
export const syncAs = functionAs('sync')
