// npm oidc-provider as the upstream of the broker's `oidc` connector in the end-to-end tests.
//
//   node server.mjs PORT 'JSON'
//
// JSON: { "redirect_uri": the broker's /callback,
//         "account": the claims of the one user who signs in (sub, email, groups, …),
//         "tamper": "none" | "issuer" | "audience" | "nonce" | "expired",
//         "conform_id_token_claims": bool (oidc-provider's default puts profile claims
//                                      in userinfo only) }
//
// Sign-in needs no form: /interaction/:uid signs the account in and grants what was asked,
// through the library's own interactionDetails/interactionFinished API, so a test drives
// the whole login by following redirects.
//
// "tamper" makes the provider misbehave in one way, honestly: the ID token of the token
// response is re-signed with the provider's own key after one claim is changed (iss,
// aud, nonce or exp), so only that check can catch it. A token request with the header
// `X-Gatehouse-Tamper: <kind>` is tampered that way instead (the token-exchange tests, whose
// test itself redeems the code, take several kinds of tokens from one provider).
//
// Prints `GATEHOUSE-OIDC-READY {"issuer": …}` once listening on 127.0.0.1:PORT.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignJWT, decodeJwt, importJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const options = JSON.parse(process.argv[3] ?? '{}');
if (!Number.isInteger(port) || port <= 0 || !options.redirect_uri || !options.account?.sub) {
  console.error("usage: node server.mjs PORT '{\"redirect_uri\": …, \"account\": {\"sub\": …}}'");
  process.exit(2);
}

const CLIENT_ID = 'gatehouse-broker';
const CLIENT_SECRET = 'oidc-peer-secret';
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'peer-1', alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(jwk, 'RS256');
const account = options.account;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [options.redirect_uri],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  conformIdTokenClaims: options.conform_id_token_claims ?? false,
  pkce: { required: () => true },
  rotateRefreshToken: true,
  ttl: { AccessToken: 3600, IdToken: 3600, Grant: 86400, RefreshToken: 86400, Interaction: 600, Session: 3600 },
  features: { devInteractions: { enabled: false } },
  findAccount: async (_ctx, sub) => (sub === account.sub
    ? { accountId: sub, claims: async () => account }
    : undefined),
});
provider.proxy = false;

// The misbehaving provider of a refusal test: one claim of the ID token changed, re-signed.
const defaultTamper = options.tamper ?? 'none';
provider.use(async (ctx, next) => {
  await next();
  const tamper = ctx.get('x-gatehouse-tamper') || defaultTamper;
  if (tamper === 'none' || ctx.method !== 'POST' || ctx.path !== '/token' || !ctx.body?.id_token) return;
  const claims = decodeJwt(ctx.body.id_token);
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'issuer') claims.iss = `http://127.0.0.1:${port}/elsewhere`;
  if (tamper === 'audience') claims.aud = 'some-other-client';
  if (tamper === 'nonce') claims.nonce = 'not-the-nonce-the-broker-sent';
  if (tamper === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  ctx.body = {
    ...ctx.body,
    id_token: await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(signingKey),
  };
});

// Auto sign-in and consent: what a person would do on the provider's pages.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.statusCode = 400;
  res.end(`unexpected prompt ${prompt.name}`);
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interact(req, res).catch((err) => {
      console.error('interaction failed:', err);
      res.statusCode = 500;
      res.end('interaction failed');
    });
    return;
  }
  handler(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`GATEHOUSE-OIDC-READY ${JSON.stringify({ issuer })}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
