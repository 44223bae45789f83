// From a page on another loopback origin, calls the broker as a browser-based client would:
//
//   node cors.mjs PORT ISSUER
//
// Serves an empty page on http://127.0.0.1:PORT, opens it in Debian's headless Chromium and,
// from the page, fetches ISSUER's discovery document and POSTs to its token endpoint with an
// Authorization header (which needs a CORS preflight). Prints
// `{"discovery": issuer or "blocked", "token_status": status or "blocked"}`.
import { createServer } from 'node:http';
import { launchChromium } from './launch.mjs';

const [port, issuer] = process.argv.slice(2);
if (!port || !issuer) {
  console.error('usage: node cors.mjs PORT ISSUER');
  process.exit(2);
}

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>app</title><p>app</p>');
});
await new Promise((resolve) => server.listen(Number(port), '127.0.0.1', resolve));

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load', timeout: 20000 });
  const result = await page.evaluate(async (iss) => {
    const out = {};
    try {
      const r = await fetch(`${iss}/.well-known/openid-configuration`);
      out.discovery = (await r.json()).issuer;
    } catch {
      out.discovery = 'blocked';
    }
    try {
      const r = await fetch(`${iss}/token`, {
        method: 'POST',
        headers: { Authorization: 'Basic ' + btoa('nobody:wrong') },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x' }),
      });
      out.token_status = r.status;
    } catch {
      out.token_status = 'blocked';
    }
    return out;
  }, issuer);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
