// An HTTP server whose handler runs a regular expression with
// catastrophic backtracking: GET /redos?n=30 pins the event loop (2^30
// steps), GET /redos?n=5 returns at once (the warm-up that gets the
// expression compiled to native code), anything else answers "ok".
const http = require('http');
const server = http.createServer((req, res) => {
  const m = /^\/redos\?n=(\d+)$/.exec(req.url);
  if (m) {
    const hit = /(a+)+$/.test('a'.repeat(Number(m[1])) + '!');
    res.end(String(hit) + '\n');
    return;
  }
  res.end('ok\n');
});
server.listen(0, '127.0.0.1', () => {
  console.log('READY ' + JSON.stringify({ port: server.address().port }));
});
