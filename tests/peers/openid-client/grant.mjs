// A client written with openid-client sending grants that need no browser to the broker's
// token endpoint, found through discovery: token exchange (RFC 8693) through openid-client's
// genericGrantRequest, client_credentials through its clientCredentialsGrant.
//
// Usage:
//   GRANT_CLIENT_SECRET=… GRANT_REQUESTS='[{"name": …, "grant": "token-exchange" |
//       "client_credentials", "params": [["k", "v"], …]}, …]' \
//     node grant.mjs --issuer URL --client-id ID [--auth basic|post|none]
//
// `params` is a list of pairs, so a test can send one twice. Prints one JSON line: for each
// name, the token response openid-client accepted (access_token, token_type,
// issued_token_type, expires_in, scope, and which other members came back), or
// {error, error_description, status} when it refused or the broker did.

import { parseArgs } from 'node:util';
import * as client from 'openid-client';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

const { values } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    auth: { type: 'string', default: 'basic' },
  },
  strict: true,
});

const secret = process.env.GRANT_CLIENT_SECRET ?? '';
const requests = JSON.parse(process.env.GRANT_REQUESTS ?? '[]');

function authMethod(name) {
  switch (name) {
    case 'basic': return client.ClientSecretBasic(secret);
    case 'post': return client.ClientSecretPost(secret);
    case 'none': return client.None();
    default: throw new Error(`unknown --auth ${name}`);
  }
}

try {
  const metadata = values.auth === 'none' ? {} : { client_secret: secret };
  const config = await client.discovery(
    new URL(values.issuer),
    values['client-id'],
    metadata,
    authMethod(values.auth),
    { execute: [client.allowInsecureRequests] },
  );
  const out = { grant_types_supported: config.serverMetadata().grant_types_supported };
  for (const { name, grant, params } of requests) {
    try {
      const parameters = new URLSearchParams(params);
      const r = grant === 'client_credentials'
        ? await client.clientCredentialsGrant(config, parameters)
        : await client.genericGrantRequest(config, TOKEN_EXCHANGE, parameters);
      out[name] = {
        access_token: r.access_token,
        token_type: r.token_type,
        issued_token_type: r.issued_token_type,
        expires_in: r.expires_in,
        scope: r.scope,
        id_token: r.id_token,
        id_token_sub: r.id_token ? r.claims()?.sub : undefined,
        keys: Object.keys(r).sort(),
      };
    } catch (err) {
      // A 401 comes back as openid-client's WWW-Authenticate challenge error.
      out[name] = {
        error: err.error ?? err.code ?? String(err),
        error_description: err.error_description ?? err.message,
        status: err.status ?? err.response?.status ?? null,
      };
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (err) {
  process.stderr.write(`grant client failed: ${err?.name}: ${err?.message} ${err?.code ?? ''}\n`);
  process.exitCode = 1;
}
