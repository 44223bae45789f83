// An OpenID Connect Back-Channel Logout 1.0 receiver (§2.6 validation), as a relying party
// would run it: the logout token's signature and claims are checked with npm `jose`, not by
// hand. Prints `ACCEPTED <claims JSON>` or `REFUSED <reason>` per POST, answers 200 or 400.
//
// node receiver.mjs --port P --issuer URL --client-id ID

import http from 'node:http';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
  },
});
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const jwks = createRemoteJWKSet(new URL(`${args.issuer}/keys`));
const seen = new Set();

async function validate(token) {
  const { payload } = await jwtVerify(token, jwks, {
    issuer: args.issuer,
    audience: args['client-id'],
    typ: 'logout+jwt',
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    requiredClaims: ['iat', 'jti', 'events'],
    maxTokenAge: '2 minutes',
  });
  const events = payload.events;
  if (typeof events !== 'object' || events === null || typeof events[EVENT] !== 'object') {
    throw new Error('events lacks the back-channel logout member');
  }
  if (!payload.sid && !payload.sub) throw new Error('neither sid nor sub');
  if ('nonce' in payload) throw new Error('a logout token must not carry nonce');
  if (seen.has(payload.jti)) throw new Error('jti seen before (replay)');
  seen.add(payload.jti);
  return payload;
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.method !== 'POST' || req.url !== '/backchannel_logout') {
    res.writeHead(404).end();
    return;
  }
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
    if (body.length > 64 * 1024) req.destroy();
  });
  req.on('end', async () => {
    const token = new URLSearchParams(body).get('logout_token') ?? '';
    try {
      const claims = await validate(token);
      console.log(`ACCEPTED ${JSON.stringify(claims)}`);
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    } catch (e) {
      console.log(`REFUSED ${e.code ?? ''} ${e.message}`);
      res.writeHead(400, { 'cache-control': 'no-store' }).end();
    }
  });
});
server.listen(Number(args.port), '127.0.0.1', () => console.log(`listening on ${args.port}`));
