// Logs are read by operators, shipped to log stores and kept: they carry method, path, status
// and timing, never tokens, INSZ numbers, names, bodies or invitation codes.
import t from 'tap';
import { safeUrl, serializeError } from '../src/http/logging.js';
import { buildTestApp } from './helpers/app.js';
import { caller, makeInsz } from './helpers/factories.js';
import { bearer, signToken } from './helpers/tokens.js';

t.test('request logs carry no personal data or secrets', async (t) => {
  const { app, logs, database } = await buildTestApp(t);
  const insz = makeInsz('1985-07-30');
  const an = caller({ sub: 'logging-an', name: 'An Peeters', insz });
  const statuses: number[] = [];

  const created = await app.inject({
    method: 'POST',
    url: '/v1/persons',
    headers: an.headers,
    payload: { identifier: { system: 'insz', value: insz }, givenName: 'An', familyName: 'Peeters', gender: 'vrouw' },
  });
  t.equal(created.statusCode, 201);
  statuses.push(created.statusCode);

  const invalid = await app.inject({
    method: 'POST',
    url: '/v1/persons',
    headers: an.headers,
    payload: { identifier: { system: 'insz', value: insz }, givenName: 7, familyName: 'Peeters', birthDate: 'Peeters' },
  });
  t.equal(invalid.statusCode, 400);
  statuses.push(invalid.statusCode);

  const badChecksum = await app.inject({
    method: 'POST',
    url: '/v1/persons',
    headers: an.headers,
    payload: { identifier: { system: 'insz', value: '85073003329' }, givenName: 'An', familyName: 'Peeters' },
  });
  t.ok(badChecksum.statusCode >= 400 && badChecksum.statusCode < 500);
  statuses.push(badChecksum.statusCode);

  const notJson = await app.inject({
    method: 'POST',
    url: '/v1/persons',
    headers: { ...an.headers, 'content-type': 'application/json' },
    payload: `{"givenName":"Peeters","identifier":{"value":"${insz}"`,
  });
  t.equal(notJson.statusCode, 400);

  const invitation = await app.inject({ method: 'POST', url: '/v1/invitations/SECRETCODE123/accept', headers: an.headers });
  t.equal(invitation.statusCode, 404, 'an unknown invitation code is 404, and still logged');
  statuses.push(invitation.statusCode);

  const search = await app.inject({ method: 'GET', url: '/v1/persons?identifier=85073003328&limit=5', headers: an.headers });
  t.equal(search.statusCode, 200);
  statuses.push(search.statusCode);

  const inszInPath = await app.inject({ method: 'GET', url: '/v1/persons/85073003328', headers: an.headers });
  t.equal(inszInPath.statusCode, 400, 'an INSZ where a person id belongs is a bad request');

  const forged = signToken({ sub: 'forger', name: 'An Peeters', insz }, { secret: 'a-forged-secret-that-is-long-enough-0123456789' });
  const refused = await app.inject({ method: 'GET', url: '/v1/persons', headers: bearer(forged) });
  t.equal(refused.statusCode, 401);
  statuses.push(refused.statusCode);

  const text = logs.join('');
  t.ok(logs.length >= 10, 'requests were logged');
  for (const line of logs) t.doesNotThrow(() => JSON.parse(line), 'each log line is JSON');

  for (const [what, secret] of [
    ['the token', an.token],
    ['the token payload', an.token.split('.')[1]!],
    ['the token signature', an.token.split('.')[2]!],
    ['a forged token', forged],
    ['the INSZ', insz],
    ['the queried INSZ', '85073003328'],
    ['the family name', 'Peeters'],
    ['the gender', 'vrouw'],
    ['the invitation code', 'SECRETCODE123'],
  ] as const) {
    t.notOk(text.includes(secret), `the logs never contain ${what}`);
  }

  t.match(text, /"url":"\/v1\/persons"/, 'the request path is logged');
  t.match(text, /"method":"POST"/, 'the method is logged');
  t.match(text, /\/v1\/invitations\/\[redacted\]\/accept/, 'the invitation path is logged, masked');
  t.match(text, /\/v1\/persons\?identifier=\[redacted\]&limit=\[redacted\]/, 'the query keys are logged, values masked');
  for (const status of statuses) t.match(text, new RegExp(`"statusCode":${status}\\b`), `status ${status} is logged`);
  t.match(text, /"responseTime":/, 'timing is logged');
  const ids = [created, invalid, search].map((res) => String(res.headers['x-request-id']));
  for (const id of ids) t.ok(text.includes(id), 'the request id in the answer ties it to its log lines');

  // Last, as it breaks the app: an unexpected failure (the database gone) is a 500 without
  // internals for the client, and an error log line without personal data for the operator.
  const before = logs.length;
  await database.db.destroy();
  const broken = await app.inject({ method: 'GET', url: `/v1/persons?identifier=${insz}`, headers: an.headers });
  t.equal(broken.statusCode, 500, 'an unexpected failure is a 500');
  t.equal(broken.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.match(broken.json(), { type: String, title: String, status: 500, detail: String });
  t.notMatch(broken.body, /stack|\.ts:\d+|node_modules|select|destroyed|Peeters/i, 'no internals reach the client');
  const after = logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
  const errorLine = after.find((line) => line.level === 50);
  t.ok(errorLine, 'the failure is logged as an error');
  t.match(errorLine, { err: { type: String, message: String, stack: String } }, 'with what helps debugging');
  const afterText = JSON.stringify(after);
  t.notOk(afterText.includes(insz) || afterText.includes(an.token) || afterText.includes('Peeters'), 'failure logs stay clean');
});

t.test('safeUrl masks invitation codes, INSZ numbers and every query value', async (t) => {
  t.equal(safeUrl('/v1/persons'), '/v1/persons');
  t.equal(safeUrl('/v1/persons/0190a1b2-0000-7000-8000-000000000001/notes'), '/v1/persons/0190a1b2-0000-7000-8000-000000000001/notes');
  t.equal(safeUrl('/v1/invitations/SECRETCODE123/accept'), '/v1/invitations/[redacted]/accept');
  t.equal(safeUrl('/v1/invitations/SECRETCODE123'), '/v1/invitations/[redacted]');
  t.equal(safeUrl('/v1/persons/p1/team/invitations'), '/v1/persons/p1/team/invitations', 'the collection itself is no secret');
  t.equal(safeUrl('/v1/persons?identifier=85073003328'), '/v1/persons?identifier=[redacted]');
  t.equal(safeUrl('/v1/persons?limit=5&cursor=abc&flag'), '/v1/persons?limit=[redacted]&cursor=[redacted]&flag=[redacted]');
  t.equal(safeUrl('/fhir/R4/Patient?identifier=https://fhir.example/insz|85073003328'), '/fhir/R4/Patient?identifier=[redacted]');
  t.equal(safeUrl('/v1/persons/85073003328'), '/v1/persons/[redacted]', 'an INSZ typed into a path');
  t.notMatch(safeUrl('/v1/persons?a=1?insz=85073003328'), /85073003328/, 'a second question mark hides nothing');
  t.equal(safeUrl(''), '');
});

t.test('serializeError keeps what helps debugging and drops what a database echoes', async (t) => {
  const dbError = Object.assign(new Error('duplicate key value violates unique constraint "persons_identifier_key"'), {
    name: 'DatabaseError',
    code: '23505',
    severity: 'ERROR',
    detail: 'Key (identifier_value)=(85073003328) already exists.',
    constraint: 'persons_identifier_key',
    table: 'persons',
    schema: 'public',
    where: 'SQL statement "insert into persons values (\'An Peeters\')"',
  });
  const serialized = serializeError(dbError);
  t.match(serialized, { type: 'DatabaseError', code: '23505', constraint: 'persons_identifier_key', table: 'persons', stack: String });
  t.equal(serialized.message, 'duplicate key value violates unique constraint "…"');
  const text = JSON.stringify(serialized);
  t.notMatch(text, /already exists|Key \(/, 'the detail is not serialized');
  t.notMatch(text, /85073003328|Peeters/, 'no values the database echoed');

  const castError = Object.assign(new Error('invalid input syntax for type uuid: "An Peeters 85073003328"'), {
    code: '22P02',
    severity: 'ERROR',
  });
  const cast = serializeError(castError);
  t.equal(cast.message, 'invalid input syntax for type uuid: "…"');
  t.notMatch(JSON.stringify(cast), /Peeters|85073003328/, 'the stack does not repeat the raw message');
  t.match(cast.stack, /\n\s+at /, 'the stack frames are kept');

  const plain = serializeError(new TypeError('cannot read 85073003328 of undefined'));
  t.match(plain, { type: 'TypeError', message: 'cannot read [redacted] of undefined' });
  t.notMatch(plain.stack, /85073003328/);

  t.same(serializeError('just a string'), { type: 'string', message: 'non-error thrown', stack: '' });
  t.same(serializeError(undefined), { type: 'undefined', message: 'non-error thrown', stack: '' });
});
