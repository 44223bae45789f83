// npm oidc-provider, configured like the broker for the refresh-grant comparison of
// `make bench`: one confidential client (client_secret_basic) with the refresh_token
// grant and rotation, an unbounded in-memory adapter (below), ID tokens signed with ALG
// (RS256 by default; ES256 and EdDSA as the broker's other `signer.config.algorithm`s).
//
//   node server.mjs PORT TOKENS [ALG]
//
// Prints `GATEHOUSE-BENCH-READY {"issuer", "refresh_tokens": [...]}` once it listens on
// 127.0.0.1:PORT. The refresh tokens are minted in process (Grant + RefreshToken models,
// as the code grant would store them) so the benchmark measures only the refresh grant,
// not the library's interactive login pages.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const tokenCount = Number(process.argv[3] ?? 64);
const alg = process.argv[4] ?? 'RS256';
// The key pair each algorithm signs with (node:crypto, i.e. OpenSSL).
const KEY_TYPES = {
  RS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  EdDSA: ['ed25519', {}],
};
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(tokenCount) || tokenCount < 1
    || !KEY_TYPES[alg]) {
  console.error('usage: node server.mjs PORT TOKENS [RS256|ES256|EdDSA]');
  process.exit(2);
}

// The library's own dev adapter is an LRU of 1000 entries: under a rotating refresh load it
// evicts live grants ("grant request is invalid"). This one keeps everything, in a Map.
const store = new Map();
const grants = new Map();
class MapAdapter {
  constructor(name) { this.name = name; }

  key(id) { return `${this.name}:${id}`; }

  async upsert(id, payload) {
    store.set(this.key(id), { ...payload });
    if (payload.grantId) {
      const members = grants.get(payload.grantId) ?? [];
      members.push(this.key(id));
      grants.set(payload.grantId, members);
    }
  }

  async find(id) {
    const found = store.get(this.key(id));
    if (!found) return undefined;
    if (found.exp && found.exp < Math.floor(Date.now() / 1000)) return undefined;
    return found;
  }

  async findByUid(uid) {
    for (const [k, v] of store) if (k.startsWith(`${this.name}:`) && v.uid === uid) return v;
    return undefined;
  }

  async findByUserCode() { return undefined; }

  async consume(id) {
    const found = store.get(this.key(id));
    if (found) found.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const k of grants.get(grantId) ?? []) store.delete(k);
    grants.delete(grantId);
  }
}

const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync(...KEY_TYPES[alg]);
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-1', alg, use: 'sig' };

const CLIENT_ID = 'bench';
const ACCOUNT = {
  sub: 'bench-user',
  email: 'admin@example.com',
  email_verified: true,
  name: 'admin',
  preferred_username: 'admin',
  groups: ['admins', 'developers'],
};

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [{
    client_id: CLIENT_ID,
    client_secret: 'bench-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
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
  // As the broker: every refresh rotates the token, reuse is refused.
  rotateRefreshToken: true,
  ttl: { AccessToken: 3600, IdToken: 3600, Grant: 86400, RefreshToken: 86400 },
  // Logins are not part of this comparison (tokens are minted below).
  features: { devInteractions: { enabled: false } },
  findAccount: async (_ctx, sub) => (sub === ACCOUNT.sub
    ? { accountId: sub, claims: async () => ACCOUNT }
    : undefined),
});
provider.proxy = false;

const SCOPE = 'openid offline_access email profile groups';

async function mintRefreshToken(client) {
  const grant = new provider.Grant({ accountId: ACCOUNT.sub, clientId: CLIENT_ID });
  grant.addOIDCScope(SCOPE);
  grant.addOIDCClaims(['email', 'email_verified', 'name', 'preferred_username', 'groups']);
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    accountId: ACCOUNT.sub,
    authTime: Math.floor(Date.now() / 1000),
    client,
    grantId,
    gty: 'authorization_code',
    scope: SCOPE,
  });
  return token.save();
}

const server = provider.listen(port, '127.0.0.1', async () => {
  try {
    const client = await provider.Client.find(CLIENT_ID);
    const tokens = [];
    for (let i = 0; i < tokenCount; i += 1) tokens.push(await mintRefreshToken(client));
    console.log(`GATEHOUSE-BENCH-READY ${JSON.stringify({ issuer, alg, refresh_tokens: tokens })}`);
  } catch (err) {
    console.error('minting refresh tokens failed:', err);
    process.exit(1);
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
