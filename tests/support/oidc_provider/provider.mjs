// A certified OpenID Provider (panva's oidc-provider) standing in for the national eID
// provider in tests: authorization code flow with PKCE (S256 only), test users with a fixed
// level of assurance (acr) each, a one-field login form, consent granted automatically, and
// test controls under /_test/ to roll its signing keys over and to doctor its ID tokens in
// the ways a certified provider never would.
//
// Reads its configuration as JSON on stdin:
//   {
//     "clients": [{"client_id", "client_secret"?, "redirect_uris": [...],
//                  "token_endpoint_auth_method": "client_secret_basic" | "client_secret_post"
//                                                | "private_key_jwt",
//                  "jwks"?: {"keys": [...]},              // for private_key_jwt
//                  "id_token_signed_response_alg"?: "ES256" | "RS256"}],
//     "users": [{"sub", "acr", "claims": {...}}],
//     "acr_values": [...],                 // acr_values_supported
//     "claims_scope": "eid",               // the scope releasing the users' claims
//     "id_token_claims": [...]             // the claims it releases, in the ID token
//   }
// listens on 127.0.0.1 on a free port, prints one JSON line {"issuer", "port"} on stdout
// once it accepts connections and runs until killed. Its own log goes to stderr.
//
// Test controls (no part of OpenID Connect):
//   GET  /_test/health         200
//   POST /_test/rotate-keys    sign with new keys (new kid) from now on; the JWKS lists the
//                              new keys first, then the previous ones (older ones retire)
//   POST /_test/misbehave      {"mode": null | "wrong_iss" | "wrong_aud" | "wrong_nonce"
//                              | "expired" | "alg_none" | "unknown_kid" | "bad_signature"}:
//                              while set, the token endpoint answers with a doctored copy
//                              of the genuine ID token

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';
import {
  CompactSign,
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
} from 'jose';

// oidc-provider prints notices with console.info; stdout carries the ready line alone.
console.log = console.error;
console.info = console.error;
console.warn = console.error;

const SIGNING_ALGS = ['ES256', 'RS256'];
const MISBEHAVIOURS = new Set([
  'wrong_iss', 'wrong_aud', 'wrong_nonce', 'expired', 'alg_none', 'unknown_kid', 'bad_signature',
]);
const MAX_BODY = 64 * 1024;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function b64u(input) {
  return Buffer.from(input).toString('base64url');
}

// A signing key pair: the private JWK for oidc-provider's keystore and the KeyObject for
// re-signing doctored tokens.
async function newSigningKey(alg) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  jwk.alg = alg;
  jwk.use = 'sig';
  return { alg, kid: jwk.kid, jwk, privateKey };
}

async function newKeyGeneration() {
  return Promise.all(SIGNING_ALGS.map((alg) => newSigningKey(alg)));
}

const config = await readStdin();
const users = new Map((config.users ?? []).map((user) => [user.sub, user]));
const claimsScope = config.claims_scope ?? 'eid';
const idTokenClaims = config.id_token_claims
  ?? [...new Set((config.users ?? []).flatMap((user) => Object.keys(user.claims ?? {})))];
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

// The signing keys, newest generation first; the first two generations are published.
let generations = [await newKeyGeneration()];
let misbehaviour = null;
let provider;
let handleRequest;

function currentKeys() {
  return generations.flat();
}

function clientMetadata(client) {
  const metadata = {
    client_id: client.client_id,
    redirect_uris: client.redirect_uris,
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
    id_token_signed_response_alg: client.id_token_signed_response_alg ?? 'ES256',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
  if (client.client_secret !== undefined) metadata.client_secret = client.client_secret;
  if (client.jwks !== undefined) metadata.jwks = client.jwks;
  return metadata;
}

// The doctored copy of a genuine ID token for the misbehaviour set.
async function doctor(idToken, mode, issuer) {
  const header = decodeProtectedHeader(idToken);
  const payload = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let signingKey = currentKeys().find((key) => key.kid === header.kid);

  switch (mode) {
    case 'wrong_iss':
      payload.iss = `${issuer}/not-the-issuer`;
      break;
    case 'wrong_aud':
      payload.aud = 'another-client';
      break;
    case 'wrong_nonce':
      payload.nonce = crypto.randomBytes(16).toString('base64url');
      break;
    case 'expired':
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      if (typeof payload.auth_time === 'number') payload.auth_time = Math.min(payload.auth_time, payload.iat);
      break;
    case 'alg_none':
      return `${b64u(JSON.stringify({ alg: 'none' }))}.${b64u(JSON.stringify(payload))}.`;
    case 'unknown_kid':
      signingKey = await newSigningKey(header.alg);
      break;
    case 'bad_signature': {
      const [head, body, signature] = idToken.split('.');
      const bytes = Buffer.from(signature, 'base64url');
      bytes[bytes.length - 1] ^= 0x01;
      return `${head}.${body}.${bytes.toString('base64url')}`;
    }
    default:
      throw new Error(`unknown misbehaviour ${mode}`);
  }
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ ...header, kid: signingKey.kid })
    .sign(signingKey.privateKey);
}

function buildProvider(issuer) {
  const instance = new Provider(issuer, {
    clients: (config.clients ?? []).map(clientMetadata),
    jwks: { keys: currentKeys().map((key) => key.jwk) },
    cookies: { keys: cookieKeys },
    acrValues: config.acr_values ?? [],
    scopes: ['openid', claimsScope],
    claims: {
      acr: null,
      auth_time: null,
      sid: null,
      iss: null,
      // acr, auth_time and azp in every ID token, whatever the client asked for.
      openid: ['sub', 'acr', 'auth_time', 'azp'],
      [claimsScope]: idTokenClaims,
    },
    // Claims released by a scope go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    async findAccount(ctx, sub) {
      const user = users.get(sub);
      if (user === undefined) return undefined;
      return {
        accountId: sub,
        async claims(use) {
          const claims = { ...user.claims, sub };
          // The authorized party: the client the ID token is issued to (OIDC Core §2).
          if (use === 'id_token') claims.azp = ctx.oidc.client.clientId;
          return claims;
        },
      };
    },
  });

  instance.use(async (ctx, next) => {
    await next();
    if (
      misbehaviour !== null
      && ctx.oidc?.route === 'token'
      && ctx.status === 200
      && typeof ctx.body?.id_token === 'string'
    ) {
      ctx.body = { ...ctx.body, id_token: await doctor(ctx.body.id_token, misbehaviour, issuer) };
    }
  });
  instance.on('server_error', (ctx, error) => console.error('server_error', error));
  return instance;
}

// The user a login names: by user id (sub), else by personal number.
function findUser(login) {
  if (users.has(login)) return users.get(login);
  return [...users.values()].find((user) => user.claims?.personal_number === login);
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, { login = '', error = null } = {}) {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  const alert = error === null ? '' : `<p role="alert" id="login-error">${escapeHtml(error)}</p>\n`;
  const described = error === null ? '' : ' aria-describedby="login-error" aria-invalid="true"';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in: national eID (test provider)</title></head>
<body>
<main>
<h1>Log in with your national eID</h1>
${alert}<form method="post" action="${escapeHtml(action)}">
<label for="login">Personal number or user id</label>
<input id="login" name="login" type="text" autocomplete="username" required value="${escapeHtml(login)}"${described}>
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
`;
}

function send(res, status, body, contentType) {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, JSON.stringify(value), 'application/json');
}

// Consent is granted without a page: every scope, claim and resource scope asked for.
async function grantConsent(req, res, details) {
  const { prompt: { details: missing }, params, session } = details;
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
  } else {
    grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  }
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, 'interaction mismatch\n', 'text/plain; charset=utf-8');
    return;
  }
  if (details.prompt.name === 'consent') {
    await grantConsent(req, res, details);
    return;
  }
  if (req.method === 'GET' && action === undefined) {
    send(res, 200, loginPage(uid, { login: details.params.login_hint ?? '' }), 'text/html; charset=utf-8');
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const login = (new URLSearchParams(await readBody(req)).get('login') ?? '').trim();
    const user = findUser(login);
    if (user === undefined) {
      send(res, 400, loginPage(uid, { login, error: 'No citizen with this personal number or user id.' }), 'text/html; charset=utf-8');
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: user.sub, acr: user.acr },
    }, { mergeWithLastSubmission: false });
    return;
  }
  send(res, 405, 'method not allowed\n', 'text/plain; charset=utf-8');
}

async function testControl(req, res, name, issuer) {
  if (req.method === 'GET' && name === 'health') {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  if (req.method === 'POST' && name === 'rotate-keys') {
    generations = [await newKeyGeneration(), generations[0]];
    provider = buildProvider(issuer);
    handleRequest = provider.callback();
    sendJson(res, 200, { kids: currentKeys().map((key) => key.kid) });
    return;
  }
  if (req.method === 'POST' && name === 'misbehave') {
    const { mode = null } = JSON.parse((await readBody(req)) || '{}');
    if (mode !== null && !MISBEHAVIOURS.has(mode)) {
      sendJson(res, 400, { error: `unknown mode ${mode}` });
      return;
    }
    misbehaviour = mode;
    sendJson(res, 200, { mode });
    return;
  }
  sendJson(res, 404, { error: 'no such test control' });
}

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  try {
    const control = pathname.match(/^\/_test\/([a-z-]+)$/);
    if (control) {
      await testControl(req, res, control[1], provider.issuer);
      return;
    }
    const step = pathname.match(/^\/interaction\/([^/]+)(?:\/([a-z]+))?$/);
    if (step) {
      await interaction(req, res, decodeURIComponent(step[1]), step[2]);
      return;
    }
    handleRequest(req, res);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) {
      send(res, error.statusCode ?? 500, `${error.message}\n`, 'text/plain; charset=utf-8');
    } else {
      res.end();
    }
  }
});

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  try {
    provider = buildProvider(issuer);
    handleRequest = provider.callback();
    // oidc-provider checks a client's metadata when it is first used: check them all now,
    // so that a wrong configuration fails the start rather than a login.
    for (const client of config.clients ?? []) {
      await provider.Client.find(client.client_id);
    }
  } catch (error) {
    console.error('the configuration is refused:', error.error_description ?? error.message, error);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
