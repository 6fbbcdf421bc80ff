// The front door: which tokens open it, how every refusal looks, and what every answer carries.
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSigner } from 'fast-jwt';
import type { LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { keyLookupWithBackoff, UNKNOWN_KID_BACKOFF_MS } from '../src/http/auth.js';
import { buildTestApp } from './helpers/app.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { bearer, signToken, TEST_SECRET, unsignedToken } from './helpers/tokens.js';

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Assert = Pick<typeof t, 'equal' | 'match' | 'notMatch'>;

function assertProblem(t: Assert, res: LightMyRequestResponse, status: number, message = `answers ${status}`): Record<string, unknown> {
  t.equal(res.statusCode, status, message);
  t.equal(res.headers['content-type'], PROBLEM_TYPE, `${message}: problem+json`);
  const body = res.json();
  t.match(body, { type: /^https?:\/\/\S+$/, title: String, status, detail: String }, `${message}: problem body`);
  t.notMatch(res.body, /stack|\.ts:\d+|node_modules/, `${message}: no internals`);
  return body;
}

/** Signs with an arbitrary key and algorithm, the way a foreign identity provider (or a forger) would. */
function sign(
  key: string,
  algorithm: 'HS256' | 'RS256' | 'ES256',
  claims: Record<string, unknown>,
  options: { kid?: string; iss?: string; aud?: string } = {},
): string {
  return createSigner({
    key,
    algorithm,
    expiresIn: 3600_000,
    ...(options.kid ? { kid: options.kid } : {}),
    ...(options.iss ? { iss: options.iss } : {}),
    ...(options.aud ? { aud: options.aud } : {}),
  })(claims);
}

/** HS256 by hand: fast-jwt (rightly) refuses to HMAC-sign with a PEM public key, an attacker does not. */
function hmacToken(secret: string, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT', ...header })}.${encode({ iat: now, exp: now + 3600, ...claims })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

const pem = (key: KeyObject) => key.export({ format: 'pem', type: key.type === 'private' ? 'pkcs8' : 'spki' }).toString();

// One database for every app in this file: only a few requests touch it, and each PGlite is heavy.
let database: TestDatabase;
const closers: Array<() => unknown> = [];
const collector = { teardown: (fn: () => unknown) => void closers.push(fn) };
const appWith = async (env: Record<string, string> = {}) => (await buildTestApp(collector, { env, database })).app;

t.before(async () => {
  database = await createTestDatabase();
});
t.teardown(async () => {
  for (const close of closers) await close();
  await database?.drop();
});

t.test('HS256 secret: every token failure is a 401 problem', async (t) => {
  const app = await appWith();
  const get = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/v1/persons', headers });

  const ok = await get(bearer(signToken({ sub: 'auth-ok', name: 'An Peeters' })));
  t.equal(ok.statusCode, 200, 'a valid token is accepted');
  t.same(ok.json(), { items: [], nextCursor: null });

  const now = Date.now();
  const cases: Array<[string, Record<string, string>, RegExp?]> = [
    ['no Authorization header', {}, /bearer token is required/i],
    ['"Bearer" without a token', { authorization: 'Bearer' }],
    ['"Bearer " with an empty token', { authorization: 'Bearer ' }],
    ['a Basic header', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['"Bearer" with two parts', { authorization: `Bearer ${signToken({ sub: 'two' })} extra` }],
    ['a garbage token', bearer('not-a-jwt')],
    ['three garbage segments', bearer('aaa.bbb.ccc')],
    [
      'an expired token',
      bearer(createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 60_000, clockTimestamp: now - 3600_000 })({ sub: 'late' })),
      /expired/i,
    ],
    ['a token without exp (it would never expire)', bearer(hmacToken(TEST_SECRET, { sub: 'forever', exp: undefined }))],
    ['a token with a non-numeric exp', bearer(hmacToken(TEST_SECRET, { sub: 'odd', exp: 'tomorrow' }))],
    ['a token not valid yet (nbf in the future)', bearer(signToken({ sub: 'early' }, { notBeforeMs: 3600_000 }))],
    ['a token signed with another secret', bearer(signToken({ sub: 'forged' }, { secret: 'another-secret-that-is-long-enough-0123456789' }))],
    ['an alg:none token', bearer(unsignedToken({ sub: 'none' }))],
    ['an RS256 token where HS256 is configured', bearer(sign(pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 'RS256', { sub: 'rs' }))],
    ['a token without sub', bearer(signToken({ name: 'No Sub' } as never))],
    ['a token with an empty sub', bearer(signToken({ sub: '' }))],
    ['a token whose sub is not a string', bearer(signToken({ sub: 42 } as never))],
    ['a token with a malformed insz', bearer(signToken({ sub: 'bad-insz', insz: '8507300332' }))],
    ['a token with a non-numeric insz', bearer(signToken({ sub: 'bad-insz', insz: '85.07.30-033.28' }))],
    ['a token with a malformed nihii', bearer(signToken({ sub: 'bad-nihii', nihii: 'x' }))],
  ];
  for (const [name, headers, detail] of cases) {
    const res = await get(headers);
    const body = assertProblem(t, res, 401, name);
    t.equal(res.headers['www-authenticate'], 'Bearer', `${name}: WWW-Authenticate`);
    if (detail) t.match(body.detail, detail, `${name}: detail says why`);
  }

  t.test('the refusal never depends on the route existing with a method', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/persons', headers: bearer(unsignedToken({ sub: 'none' })), payload: {} });
    assertProblem(t, res, 401);
  });
});

t.test('issuer and audience are enforced when configured', async (t) => {
  const iss = 'https://idp.example.test/realms/kring';
  const aud = 'kring-api';
  const app = await appWith({ JWT_ISSUER: iss, JWT_AUDIENCE: aud });
  const get = (token: string) => app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(token) });

  t.equal((await get(sign(TEST_SECRET, 'HS256', { sub: 'ia-ok' }, { iss, aud }))).statusCode, 200, 'right iss and aud');
  assertProblem(t, await get(sign(TEST_SECRET, 'HS256', { sub: 'ia' }, { iss: 'https://evil.example.test', aud })), 401, 'wrong iss');
  assertProblem(t, await get(sign(TEST_SECRET, 'HS256', { sub: 'ia' }, { aud })), 401, 'missing iss');
  assertProblem(t, await get(sign(TEST_SECRET, 'HS256', { sub: 'ia' }, { iss, aud: 'another-api' })), 401, 'wrong aud');
  assertProblem(t, await get(sign(TEST_SECRET, 'HS256', { sub: 'ia' }, { iss })), 401, 'missing aud');
});

t.test('JWT_PUBLIC_KEY: RS256 and ES256, and no algorithm confusion', async (t) => {
  for (const [algorithm, pair] of [
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ] as const) {
    const publicPem = pem(pair.publicKey);
    const app = await appWith({ JWT_SECRET: '', JWT_PUBLIC_KEY: publicPem });
    const get = (token: string) => app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(token) });

    const ok = await get(sign(pem(pair.privateKey), algorithm, { sub: `pk-${algorithm}`, name: 'An Peeters' }));
    t.equal(ok.statusCode, 200, `${algorithm} token signed with the private key`);

    assertProblem(t, await get(hmacToken(publicPem, { sub: 'attacker' })), 401, `${algorithm}: HS256 with the PEM as secret`);
    assertProblem(t, await get(signToken({ sub: 'hs' })), 401, `${algorithm}: an HS256 token`);
    assertProblem(t, await get(unsignedToken({ sub: 'none' })), 401, `${algorithm}: alg none`);
    const other = algorithm === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assertProblem(t, await get(sign(pem(other.privateKey), algorithm, { sub: 'other-key' })), 401, `${algorithm}: another private key`);
  }
});

t.test('JWT_JWKS_URL: keys by kid from the identity provider', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server: Server = createServer((request, response) => {
    fetches++;
    if (request.url !== '/realms/kring/certs') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;

  const app = await appWith({ JWT_SECRET: '', JWT_JWKS_URL: `http://127.0.0.1:${port}/realms/kring/certs` });
  const get = (token: string) => app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(token) });

  const ok = await get(sign(pem(privateKey), 'RS256', { sub: 'jwks-ok' }, { kid: 'key-1' }));
  t.equal(ok.statusCode, 200, 'RS256 token with a known kid');
  t.ok(fetches >= 1, 'the key set was fetched');
  t.equal((await get(sign(pem(privateKey), 'RS256', { sub: 'jwks-ok-2' }, { kid: 'key-1' }))).statusCode, 200, 'again, from the cache');

  assertProblem(t, await get(sign(pem(privateKey), 'RS256', { sub: 'jwks' }, { kid: 'key-unknown' })), 401, 'unknown kid');
  const fetchesAfterMiss = fetches;
  for (const kid of ['made-up-1', 'made-up-2', 'made-up-3']) {
    assertProblem(t, await get(sign(pem(privateKey), 'RS256', { sub: 'jwks' }, { kid })), 401, `made-up kid ${kid}`);
  }
  t.equal(fetches, fetchesAfterMiss, 'made-up key ids right after a miss do not reach the identity provider');
  t.equal((await get(sign(pem(privateKey), 'RS256', { sub: 'jwks-ok-3' }, { kid: 'key-1' }))).statusCode, 200, 'a known kid still works meanwhile');
  assertProblem(t, await get(sign(pem(privateKey), 'RS256', { sub: 'jwks' })), 401, 'no kid');
  const intruder = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  assertProblem(t, await get(sign(pem(intruder), 'RS256', { sub: 'jwks' }, { kid: 'key-1' })), 401, 'known kid, other key');
  assertProblem(t, await get(hmacToken(pem(publicKey), { sub: 'attacker' }, { kid: 'key-1' })), 401, 'HS256 with the public key as secret');
  assertProblem(t, await get(unsignedToken({ sub: 'none' })), 401, 'alg none');
});

t.test('public routes answer without a token', async (t) => {
  const app = await appWith();

  const live = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: 'ok' });

  const ready = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready' });

  const openapi = await app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(openapi.statusCode, 200);
  t.match(openapi.headers['content-type'], /^application\/json/);
  t.match(openapi.json(), { openapi: /^3\.1\./, paths: { '/v1/persons': Object } });

  let docs = await app.inject({ method: 'GET', url: '/docs' });
  for (let hops = 0; docs.statusCode >= 300 && docs.statusCode < 400 && hops < 3; hops++) {
    docs = await app.inject({ method: 'GET', url: new URL(String(docs.headers.location), 'http://localhost/docs/').pathname });
  }
  t.equal(docs.statusCode, 200, 'Swagger UI');
  t.match(docs.headers['content-type'], /^text\/html/);
  t.match(docs.body, /swagger/i);
  const staticIndex = await app.inject({ method: 'GET', url: '/docs/static/index.html' });
  t.ok([200, 301, 302].includes(staticIndex.statusCode), 'the static entry point needs no token either');

  const unknown = await app.inject({ method: 'GET', url: '/v1/no-such-thing' });
  const body = assertProblem(t, unknown, 404, 'unknown route without a token');
  t.match(body.detail, /\/v1\/no-such-thing/);
  const unknownWithQuery = await app.inject({ method: 'GET', url: '/nowhere?insz=85073003328' });
  assertProblem(t, unknownWithQuery, 404, 'unknown route with a query');
  t.notMatch(unknownWithQuery.body, /85073003328/, 'the query is not echoed');
});

t.test('every answer carries security headers and a request id', async (t) => {
  const app = await appWith();
  const answers = {
    '200': await app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(signToken({ sub: 'headers' })) }),
    '401': await app.inject({ method: 'GET', url: '/v1/persons' }),
    '404': await app.inject({ method: 'GET', url: '/v1/nothing-here' }),
    public: await app.inject({ method: 'GET', url: '/health/live' }),
  };
  const ids = new Set<string>();
  for (const [name, res] of Object.entries(answers)) {
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${name}: nosniff`);
    t.match(res.headers['strict-transport-security'], /max-age=\d+/, `${name}: HSTS`);
    t.ok(res.headers['x-frame-options'], `${name}: x-frame-options`);
    t.match(res.headers['content-security-policy'], /default-src 'none'/, `${name}: CSP`);
    t.match(res.headers['x-request-id'], UUID, `${name}: x-request-id`);
    t.notOk(res.headers['x-powered-by'], `${name}: no x-powered-by`);
    ids.add(String(res.headers['x-request-id']));
  }
  t.equal(ids.size, Object.keys(answers).length, 'each answer has its own request id');

  const spoofed = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'attacker-chosen\nid' } });
  t.match(spoofed.headers['x-request-id'], UUID, 'a client-sent request id is not trusted');
});

t.test('rate limiting is per token subject', async (t) => {
  const app = await appWith({ RATE_LIMIT_PER_MINUTE: '3' });
  const busy = bearer(signToken({ sub: 'busy-caller' }));
  for (let i = 1; i <= 3; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/v1/persons', headers: busy })).statusCode, 200, `request ${i} passes`);
  }
  const limited = await app.inject({ method: 'GET', url: '/v1/persons', headers: busy });
  const body = assertProblem(t, limited, 429, 'the fourth request');
  t.match(limited.headers['retry-after'], /^\d+$/, 'Retry-After in seconds');
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60);
  t.match(body.detail, /try again/i);

  const sameSubFreshToken = await app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(signToken({ sub: 'busy-caller', name: 'x' })) });
  t.equal(sameSubFreshToken.statusCode, 429, 'a new token for the same subject does not reset the limit');

  const other = await app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(signToken({ sub: 'quiet-caller' })) });
  t.equal(other.statusCode, 200, 'another subject from the same address still gets through');

  const health = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(health.statusCode, 200, 'health checks are not rate limited');
});

t.test('the body size is limited', async (t) => {
  const app = await appWith({ BODY_LIMIT_BYTES: '2048' });
  const headers = bearer(signToken({ sub: 'big-body', insz: '85073003328' }));
  const big = await app.inject({
    method: 'POST',
    url: '/v1/persons',
    headers,
    payload: { identifier: { system: 'insz', value: '85073003328' }, givenName: 'A'.repeat(10 * 1024), familyName: 'B' },
  });
  assertProblem(t, big, 413, '10 KB against a 2 KB limit');

  const small = await app.inject({
    method: 'POST',
    url: '/v1/persons',
    headers,
    payload: { identifier: { system: 'insz', value: '85073003328' }, givenName: 'A', familyName: 'B' },
  });
  t.equal(small.statusCode, 201, 'a body under the limit is served');
});

t.test('key lookup: after a miss, unknown key ids fail without a fetch until the back-off ends', async (t) => {
  let clock = 1_000_000;
  const published = new Set(['key-1']);
  const asked: string[] = [];
  const lookup = keyLookupWithBackoff(async (kid) => {
    asked.push(kid ?? '');
    if (!published.has(kid ?? '')) throw new Error('no matching key');
    return `pem of ${kid}`;
  }, () => clock);
  t.equal(await lookup('key-1', 'RS256'), 'pem of key-1');
  await t.rejects(lookup('key-2', 'RS256'), 'not published yet');
  published.add('key-2');
  await t.rejects(lookup('key-2', 'RS256'), 'within the back-off: not asked');
  await t.rejects(lookup('key-3', 'RS256'));
  t.equal(await lookup('key-1', 'RS256'), 'pem of key-1', 'a known key id is always asked');
  t.same(asked, ['key-1', 'key-2', 'key-1']);
  clock += UNKNOWN_KID_BACKOFF_MS;
  t.equal(await lookup('key-2', 'RS256'), 'pem of key-2', 'a rotated key is found once the back-off ends');
});
