// A resource server written with openid-client: introspects tokens (RFC 7662) at the
// broker's introspection endpoint, found through discovery, authenticating as its client.
//
// Usage:
//   RS_CLIENT_SECRET=… RS_TOKENS='{"name": "token", …}' node resource-server.mjs --issuer URL --client-id ID
//
// Prints one JSON line: for each name, what openid-client returned (active, token_use,
// client_id, sub, aud, scope, username, ext.email) or {error, status}.
// Tokens are never printed.

import { parseArgs } from 'node:util';
import * as client from 'openid-client';

const { values } = parseArgs({
  options: { issuer: { type: 'string' }, 'client-id': { type: 'string' } },
  strict: true,
});

const secret = process.env.RS_CLIENT_SECRET ?? '';
const tokens = JSON.parse(process.env.RS_TOKENS ?? '{}');

try {
  const config = await client.discovery(
    new URL(values.issuer),
    values['client-id'],
    { client_secret: secret },
    client.ClientSecretBasic(secret),
    { execute: [client.allowInsecureRequests] },
  );
  const out = { introspection_endpoint: config.serverMetadata().introspection_endpoint };
  for (const [name, token] of Object.entries(tokens)) {
    try {
      const r = await client.tokenIntrospection(config, token);
      out[name] = {
        active: r.active,
        token_use: r.token_use,
        client_id: r.client_id,
        sub: r.sub,
        aud: r.aud,
        scope: r.scope,
        username: r.username,
        email: r.ext?.email,
        keys: Object.keys(r).sort(),
      };
    } catch (err) {
      // A 401 comes back as openid-client's WWW-Authenticate challenge error.
      out[name] = { error: err.error ?? err.code ?? String(err), status: err.status ?? null };
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (err) {
  process.stderr.write(`resource server failed: ${err?.name}: ${err?.message} ${err?.code ?? ''}\n`);
  process.exitCode = 1;
}
