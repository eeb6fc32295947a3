// A real OpenID provider (oidc-provider) for Checkup's sign-in tests, on loopback only.
//
//   node provider.mjs CONFIG.json      -> prints "READY <port>" once it listens
//
// CONFIG: {"port", "issuer", "clients": [oidc-provider client metadata],
//          "keys": [private JWKs; the first signs], "code_ttl": seconds (default 60)}
//
// Accounts (password "test-password" for all), one per shape Checkup must handle:
//   alice  admin: group "checkup-admins", email in mixed case
//   victor viewer: group "checkup-viewers"
//   erin   employee: no groups
//   uma    email_verified false (and in the admin group)
//   olga   an email in another domain (other.test)
//   ivy    an email without email_verified (as Entra ID sends it)
//   kim    Keycloak-like: groups as full paths ("/it/checkup-viewers")
//   ezra   Entra ID-like: no email, preferred_username + tid, groups as object ids
//   nora   no email, not Entra: nothing to sign in with
//
// Its own small login page (/interaction/:uid); consent is given automatically.
// Test control (loopback tests only): POST /__test/tamper {"sign": "provider" | "other" |
// "other-kid" | "none", "claims": {...}, "header": {...}, "times": 1} changes the ID token
// of the next token response(s): claims replaced and re-signed with the provider's key,
// with another key (same kid, or an unknown kid), or not signed at all (alg none).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { CompactSign, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const PASSWORD = 'test-password';
const ENTRA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const ENTRA_ADMIN_GROUP = '5f6a1d2e-8b3c-4d7e-9f01-23456789abcd';

const ACCOUNTS = {
  alice: { email: 'Alice.Admin@Example.com', email_verified: true, name: 'Alice Admin', groups: ['checkup-admins'] },
  victor: { email: 'victor@example.com', email_verified: true, name: 'Victor Viewer', groups: ['checkup-viewers'] },
  erin: { email: 'erin@example.com', email_verified: true, name: 'Erin Employee', groups: [] },
  uma: { email: 'uma@example.com', email_verified: false, name: 'Uma Unverified', groups: ['checkup-admins'] },
  olga: { email: 'olga@other.test', email_verified: true, name: 'Olga Other', groups: [] },
  ivy: { email: 'ivy@example.com', name: 'Ivy Implicit', groups: [] },
  kim: { email: 'kim@example.com', email_verified: true, name: 'Kim Keycloak', preferred_username: 'kim', groups: ['/it/checkup-viewers'] },
  ezra: { preferred_username: 'Ezra@Example.com', name: 'Ezra Entra', tid: ENTRA_TENANT,
          oid: '0b3f5c1e-7d2a-4e8f-9a6b-1c2d3e4f5a6b', ver: '2.0', groups: [ENTRA_ADMIN_GROUP] },
  nora: { preferred_username: 'nora', name: 'Nora Noemail', groups: [] },
};

const signingKey = config.keys[0];
const other = await generateKeyPair('RS256', { extractable: true });
let tamper = null;

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: config.keys },
  cookies: { keys: ['checkup-test-cookie-key-1'] },
  claims: {
    openid: ['sub', 'tid', 'oid', 'ver'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
  },
  conformIdTokenClaims: false,        // claims in the ID token, as Okta, Entra and Keycloak do
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: {
    AuthorizationCode: config.code_ttl || 60,
    AccessToken: 600, IdToken: 600, Interaction: 600, Session: 600, Grant: 600,
  },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

async function tampered(idToken) {
  const [h, p] = idToken.split('.');
  const header = { ...JSON.parse(Buffer.from(h, 'base64url')), ...(tamper.header || {}) };
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url')), ...(tamper.claims || {}) };
  for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  if (tamper.sign === 'none') {
    return `${b64({ ...header, alg: 'none' })}.${Buffer.from(bytes).toString('base64url')}.`;
  }
  if (tamper.sign === 'other' || tamper.sign === 'other-kid') {
    const kid = tamper.sign === 'other' ? header.kid : 'not-a-published-key';
    return new CompactSign(bytes).setProtectedHeader({ ...header, alg: 'RS256', kid }).sign(other.privateKey);
  }
  const key = await importJWK(signingKey, header.alg || 'RS256');
  return new CompactSign(bytes).setProtectedHeader(header).sign(key);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.method === 'POST' && ctx.status === 200 && tamper
      && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token) };
    tamper.times -= 1;
    if (tamper.times <= 0) tamper = null;
  }
});

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
          + `<body><main><h1>${title}</h1>${body}</main></body></html>`);
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === 'POST' && req.url.endsWith('/login')) {
    const form = await readForm(req);
    const login = form.get('login') || '';
    if (!ACCOUNTS[login] || form.get('password') !== PASSWORD) {
      return page(res, 401, 'Sign in to the test IdP', `<p id="error">Wrong user name or password.</p>${loginForm(uid)}`);
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'login') {
    return page(res, 200, 'Sign in to the test IdP', `<p>Signing in to ${esc(params.client_id)}</p>${loginForm(uid)}`);
  }
  // consent: given automatically for what was asked
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function loginForm(uid) {
  return `<form method="post" action="/interaction/${esc(uid)}/login">`
    + '<label>User name <input name="login" id="idp-login" autocomplete="username"></label>'
    + '<label>Password <input name="password" id="idp-password" type="password"></label>'
    + '<button type="submit" id="idp-submit">Sign in</button></form>';
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/interaction/')) return await interaction(req, res);
    if (req.url === '/__test/tamper' && req.method === 'POST') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      tamper = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      if (tamper) tamper.times = tamper.times || 1;
      res.writeHead(204); return res.end();
    }
    return callback(req, res);
  } catch (err) {
    console.error('test idp error', err);
    if (!res.headersSent) page(res, 500, 'Test IdP error', `<pre>${esc(err && err.message)}</pre>`);
  }
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
