// A relying party written by others — openid-client — run against the Gatehouse broker:
// discovery, authorization code flow with PKCE S256 + state + nonce, ID-token validation
// (signature via JWKS, iss, aud, exp, nonce: all done by openid-client), userinfo, and
// refresh-token rotation. The browser part (login form) is played with plain fetch.
//
// Usage:
//   RP_CLIENT_SECRET=… RP_PASSWORD=… node rp.mjs --issuer URL --client-id ID \
//     --redirect-uri URI --email EMAIL [--expect signed-in|login-refused]
// Secrets come from the environment so they never show in a process listing.
//
// Prints one JSON summary line on stdout and exits 0 when the outcome is the expected one;
// otherwise prints why on stderr and exits 1. Tokens and codes are never printed.

import { parseArgs } from 'node:util';
import * as client from 'openid-client';

import { Browser, redactQuery } from './browser.mjs';
import { errorText, findLoginForm, visibleText } from './login-form.mjs';

/** What the filter asks for too (the broker's contract). */
const SCOPE = 'openid email profile groups offline_access';
const OUTCOMES = ['signed-in', 'login-refused'];

class Failure extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'redirect-uri': { type: 'string' },
      email: { type: 'string' },
      expect: { type: 'string', default: 'signed-in' },
    },
    strict: true,
  });
  const need = (value, what) => {
    if (!value) throw new Failure(`missing ${what}`);
    return value;
  };
  const expect = values.expect;
  if (!OUTCOMES.includes(expect)) throw new Failure(`--expect must be one of ${OUTCOMES.join(', ')}`);
  return {
    issuer: new URL(need(values.issuer, '--issuer')),
    clientId: need(values['client-id'], '--client-id'),
    redirectUri: need(values['redirect-uri'], '--redirect-uri'),
    email: need(values.email, '--email'),
    clientSecret: need(process.env.RP_CLIENT_SECRET, 'RP_CLIENT_SECRET in the environment'),
    password: need(process.env.RP_PASSWORD, 'RP_PASSWORD in the environment'),
    expect,
  };
}

/** True when `url` is the redirect URI (same origin and path; the query carries the result). */
function isRedirectUri(url, redirectUri) {
  const target = new URL(redirectUri);
  return url.origin === target.origin && url.pathname === target.pathname;
}

/**
 * Plays the user: opens the authorization URL, signs in on the broker's form, and follows
 * redirects until one points at the redirect URI. Returns { callback: URL } on success or
 * { refused: {...} } when the broker answered the credentials with a page instead.
 */
async function signIn(authorizationUrl, { redirectUri, email, password }) {
  const browser = new Browser();
  const atRedirectUri = (url) => isRedirectUri(url, redirectUri);
  const loginPage = await browser.followRedirects(await browser.get(authorizationUrl), atRedirectUri);
  if (loginPage.stoppedAt) {
    throw new Failure(`the broker redirected to the redirect URI without asking for credentials:\n${browser.historyText()}`);
  }
  if (loginPage.status !== 200) {
    throw new Failure(
      `the login page answered ${loginPage.status}:\n${browser.historyText()}\n${visibleText(loginPage.body).slice(0, 500)}`,
    );
  }
  const form = findLoginForm(loginPage.body, loginPage.url);
  if (!form) {
    throw new Failure(
      `no login form (a form with a password input) at ${redactQuery(loginPage.url)}:\n${visibleText(loginPage.body).slice(0, 500)}`,
    );
  }
  if (form.method !== 'post') throw new Failure(`the login form uses method ${form.method}, not post`);
  const fields = [...form.hidden, [form.loginField, email], [form.passwordField, password]];
  const posted = await browser.postForm(form.action, fields);
  const landed = await browser.followRedirects(posted, atRedirectUri);
  if (landed.stoppedAt) return { callback: landed.stoppedAt, history: browser.history };
  return {
    refused: {
      status: landed.status,
      form_shown_again: findLoginForm(landed.body, landed.url) !== null,
      error_text: errorText(landed.body),
      page_text: visibleText(landed.body).slice(0, 500),
    },
    history: browser.history,
  };
}

/** Refreshes with `refreshToken`, which must have been rotated away: expects invalid_grant. */
async function expectRefused(config, refreshToken) {
  try {
    await client.refreshTokenGrant(config, refreshToken);
  } catch (err) {
    if (err instanceof client.ResponseBodyError && err.error === 'invalid_grant') return err.error;
    throw new Failure(`reusing a rotated refresh token failed, but not with invalid_grant: ${describe(err)}`);
  }
  throw new Failure('the broker accepted a refresh token that had already been rotated');
}

async function run(opts) {
  const config = await client.discovery(
    opts.issuer,
    opts.clientId,
    { client_secret: opts.clientSecret },
    client.ClientSecretBasic(opts.clientSecret),
    // The test broker is plain http on loopback.
    { execute: [client.allowInsecureRequests] },
  );
  const metadata = config.serverMetadata();

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: opts.redirectUri,
    scope: SCOPE,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  const login = await signIn(authorizationUrl, opts);
  if (login.refused) {
    if (opts.expect === 'login-refused') {
      return { outcome: 'login-refused', login: login.refused };
    }
    throw new Failure(
      `login refused: after posting the credentials the broker answered ${login.refused.status} ` +
        `instead of redirecting to the redirect URI:\n${login.history.join('\n')}\n${login.refused.page_text}`,
    );
  }
  if (opts.expect === 'login-refused') {
    throw new Failure(
      `the login was expected to be refused, but the broker redirected to the redirect URI:\n${login.history.join('\n')}`,
    );
  }

  // openid-client checks state, exchanges the code with the verifier, and validates the
  // ID token: signature against the JWKS, iss, aud, exp, iat, nonce.
  const tokens = await client.authorizationCodeGrant(config, login.callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims) throw new Failure('the token response has no ID token');
  if (!tokens.refresh_token) throw new Failure('no refresh token although offline_access was asked for');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  if (!refreshed.refresh_token) throw new Failure('the refresh response has no new refresh token');
  const refreshedClaims = refreshed.claims();
  // The new access token works.
  const userinfoAfterRefresh = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  // The broker, like Dex, lets a rotated token be reused for 3 s (reuseInterval), for
  // clients whose concurrent requests refresh at once; after that a reuse is refused.
  await new Promise((resolve) => setTimeout(resolve, 3500));
  const oldRefused = await expectRefused(config, tokens.refresh_token);

  // The JWS algorithm of an ID token (openid-client checked it against discovery).
  const algOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).alg;
  return {
    outcome: 'signed-in',
    id_token_alg: algOf(tokens.id_token),
    refreshed_id_token_alg: refreshed.id_token ? algOf(refreshed.id_token) : null,
    discovery: {
      issuer: metadata.issuer,
      id_token_algs: metadata.id_token_signing_alg_values_supported ?? [],
      pkce_s256_advertised: (metadata.code_challenge_methods_supported ?? []).includes('S256'),
    },
    claims: {
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud,
      email: claims.email,
      email_verified: claims.email_verified,
      name: claims.name,
      preferred_username: claims.preferred_username,
      groups: claims.groups,
      federated_claims: claims.federated_claims,
      nonce_matched: claims.nonce === nonce,
    },
    token_type: tokens.token_type,
    userinfo: {
      sub: userinfo.sub,
      email: userinfo.email,
      groups: userinfo.groups,
      name: userinfo.name,
    },
    refresh: {
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      id_token_sub: refreshedClaims?.sub ?? null,
      userinfo_email: userinfoAfterRefresh.email,
      old_token_refused_with: oldRefused,
    },
  };
}

/** An error for humans, without tokens: OAuth error fields and messages only. */
function describe(err) {
  if (!(err instanceof Error)) return String(err);
  const parts = [`${err.name}: ${err.message}`];
  for (const key of ['code', 'status', 'error', 'error_description']) {
    if (err[key] !== undefined) parts.push(`${key}=${JSON.stringify(err[key])}`);
  }
  if (err.cause instanceof Error) parts.push(`cause: ${describe(err.cause)}`);
  // WWW-Authenticate challenges: scheme and parameters (realm, error), no credentials.
  else if (err instanceof client.WWWAuthenticateChallengeError) parts.push(`challenges=${JSON.stringify(err.cause)}`);
  else if (err.cause && typeof err.cause === 'object') parts.push(`cause keys: ${Object.keys(err.cause).join(',')}`);
  return parts.join(' ');
}

try {
  const summary = await run(options());
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exitCode = 0;
} catch (err) {
  process.stderr.write(`openid-client RP failed: ${err instanceof Failure ? err.message : describe(err)}\n`);
  process.exitCode = 1;
}
