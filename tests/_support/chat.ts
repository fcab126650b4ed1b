// Calls to PAM: through the gateway, or an in-process chat app whose clock a
// test pins (for "yesterday" and "this month").
import { createChatApp } from '../../supabase/functions/chat/index.ts'
import type { TestUser } from './stack.ts'
import { appAs, type Call, functionAs, testConfig } from './wins.ts'

/** Calls /functions/v1/chat/<path> through the gateway as `user`. */
export const chatAs = functionAs('chat')

export function chatAppAt(now: string, overrides: Record<string, string> = {}): (user: TestUser) => Call {
  return appAs('chat', createChatApp(testConfig(overrides), { now: () => new Date(now) }))
}
