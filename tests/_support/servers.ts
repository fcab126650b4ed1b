// Servers a test starts for itself. Deno 2.1 (the Edge Runtime's, the suite's
// second pass) waits for idle keep-alive connections before a graceful
// shutdown ends, and fetch keeps its connections alive: stop waiting soon.
export async function shutdownSoon(server: Deno.HttpServer): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([server.shutdown(), new Promise((r) => (timer = setTimeout(r, 500)))])
  clearTimeout(timer)
}
