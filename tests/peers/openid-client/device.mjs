// A device (RFC 8628) written with openid-client: asks the broker for a device code, prints
// what a device shows its user, then polls the token endpoint with openid-client's own
// device grant (which waits `interval`, and lengthens it on slow_down) until the user decided.
//
// Usage:
//   node device.mjs --issuer URL --client-id ID [--scope SCOPE]
//   (RP_CLIENT_SECRET in the environment for a confidential client; none: a public client)
//
// Prints two JSON lines on stdout: first {user_code, verification_uri, ...} as soon as the
// code is issued, then the outcome: {outcome: "tokens", claims, ...} or
// {outcome: "error", error: "<OAuth error code>"}. Tokens are never printed.

import { parseArgs } from 'node:util';
import * as client from 'openid-client';

const { values } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    scope: { type: 'string', default: 'openid email profile groups offline_access' },
  },
  strict: true,
});

function print(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function run() {
  const secret = process.env.RP_CLIENT_SECRET;
  const config = await client.discovery(
    new URL(values.issuer),
    values['client-id'],
    secret ? { client_secret: secret } : {},
    secret ? client.ClientSecretBasic(secret) : client.None(),
    { execute: [client.allowInsecureRequests] },
  );
  const metadata = config.serverMetadata();
  const device = await client.initiateDeviceAuthorization(config, { scope: values.scope });
  print({
    user_code: device.user_code,
    verification_uri: device.verification_uri,
    verification_uri_complete: device.verification_uri_complete,
    expires_in: device.expires_in,
    interval: device.interval,
    advertised: {
      device_authorization_endpoint: metadata.device_authorization_endpoint,
      grant_types: metadata.grant_types_supported,
    },
  });
  try {
    // openid-client validates the ID token (signature via JWKS, iss, aud, exp, iat).
    const tokens = await client.pollDeviceAuthorizationGrant(config, device);
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    const refreshed = tokens.refresh_token ? await client.refreshTokenGrant(config, tokens.refresh_token) : null;
    print({
      outcome: 'tokens',
      claims: { iss: claims.iss, sub: claims.sub, aud: claims.aud, email: claims.email, groups: claims.groups },
      userinfo_email: userinfo.email,
      has_refresh_token: Boolean(tokens.refresh_token),
      refreshed: Boolean(refreshed?.access_token),
      scope: tokens.scope,
    });
  } catch (err) {
    if (err instanceof client.ResponseBodyError) {
      print({ outcome: 'error', error: err.error });
      return;
    }
    throw err;
  }
}

try {
  await run();
} catch (err) {
  process.stderr.write(`openid-client device failed: ${err?.name}: ${err?.message} ${err?.code ?? ''}\n`);
  process.exitCode = 1;
}
