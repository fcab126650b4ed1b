// The bare floor of `npm run bench:http`: Deno.serve answering a small JSON
// body, the least any function can cost. Writes {"port":…} to BENCH_READY_FILE once listening.
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, () =>
  Response.json({ status: 'ok', version: '0.1.0', timestamp: new Date().toISOString() }))
await Deno.writeTextFile(Deno.env.get('BENCH_READY_FILE')!, JSON.stringify({ port: server.addr.port }) + '\n')
