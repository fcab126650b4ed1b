// Calls to the sync function through the real gateway, as a signed-in user.
import { callFunction, type TestUser } from './stack.ts'
import { answer, type Call, encode } from './wins.ts'

export function syncAs(user: TestUser): Call {
  return async (path, init = {}) =>
    answer(
      await callFunction(`sync/${path}`, {
        method: init.method ?? 'GET',
        token: user.accessToken,
        headers: init.headers,
        body: init.body === undefined ? undefined : encode(init.body),
      }),
    )
}
