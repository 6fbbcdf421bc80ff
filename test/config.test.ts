// The environment is read and validated once, at start: defaults a newcomer can run with,
// and a one-line error naming the variable for anything an operator gets wrong.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';

const SECRET = 'a-configured-secret-that-is-long-enough-0123456789';

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kring-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts loadConfig(env) throws a ConfigError with a one-line message naming `variable`. */
function assertRejects(t: Pick<typeof import('tap').t, 'fail' | 'ok' | 'match' | 'notMatch'>, env: Record<string, string>, variable: string, label: string) {
  let error: unknown;
  try {
    loadConfig(env);
  } catch (caught) {
    error = caught;
  }
  if (!(error instanceof ConfigError)) {
    t.fail(`${label}: expected a ConfigError, got ${String(error)}`);
    return;
  }
  t.ok(error instanceof Error, `${label}: an Error`);
  t.match(error.name, 'ConfigError');
  t.match(error.message, variable, `${label}: names ${variable}`);
  t.notMatch(error.message, /\n/, `${label}: one line`);
}

t.test('defaults', async (t) => {
  const config = loadConfig({ JWT_SECRET: SECRET });
  t.equal(config.env, 'development');
  t.equal(config.port, 3000);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.dataDir, resolve('./.data'));
  t.same(config.database, { kind: 'pglite', dataDir: join(resolve('./.data'), 'pglite') }, 'embedded PGlite in DATA_DIR/pglite');
  t.equal(config.migrateOnStart, true);
  t.equal(config.webhookAllowPrivate, false);
  t.equal(config.logLevel, 'info');
  t.match(config.jwt, { kind: 'secret', secret: SECRET, generated: false, issuer: undefined, audience: undefined });
  t.equal(config.bodyLimitBytes, 256 * 1024);
  t.ok(config.rateLimitPerMinute > 0);
  t.equal(config.emergencyAccessHours, 12);

  const dir = freshDir();
  const inDataDir = loadConfig({ JWT_SECRET: SECRET, DATA_DIR: dir });
  t.same(inDataDir.database, { kind: 'pglite', dataDir: join(dir, 'pglite') });
  t.same(readdirSync(dir), [], 'a configured secret writes nothing to DATA_DIR');

  const empty = loadConfig({ JWT_SECRET: SECRET, PORT: '', HOST: '', DATABASE_URL: '', LOG_LEVEL: '', MIGRATE_ON_START: ' ', DATA_DIR: dir });
  t.equal(empty.port, 3000, 'an empty PORT is unset, not port 0');
  t.equal(empty.host, '127.0.0.1');
  t.equal(empty.database.kind, 'pglite', 'an empty DATABASE_URL means PGlite');
  t.equal(empty.logLevel, 'info');
  t.equal(empty.migrateOnStart, true);
});

t.test('explicit settings', async (t) => {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgresql://kring:pw@db.internal:5432/kring',
    DATABASE_POOL_SIZE: '20',
    JWT_SECRET: SECRET,
    JWT_ISSUER: 'https://idp.example.test',
    JWT_AUDIENCE: 'kring',
    LOG_LEVEL: 'warn',
    MIGRATE_ON_START: 'false',
    WEBHOOK_ALLOW_PRIVATE: 'yes',
    BODY_LIMIT_BYTES: '4096',
    RATE_LIMIT_PER_MINUTE: '5',
  });
  t.equal(config.env, 'production');
  t.equal(config.port, 8080);
  t.equal(config.host, '0.0.0.0');
  t.same(config.database, { kind: 'postgres', url: 'postgresql://kring:pw@db.internal:5432/kring', poolSize: 20 });
  t.match(config.jwt, { kind: 'secret', issuer: 'https://idp.example.test', audience: 'kring' });
  t.equal(config.logLevel, 'warn');
  t.equal(config.migrateOnStart, false);
  t.equal(config.webhookAllowPrivate, true);
  t.equal(config.bodyLimitBytes, 4096);
  t.equal(config.rateLimitPerMinute, 5);
  t.equal(loadConfig({ JWT_SECRET: SECRET, PORT: '0' }).port, 0, 'port 0 asks for any free port');
  for (const [value, expected] of [['true', true], ['1', true], ['yes', true], ['false', false], ['0', false], ['no', false]] as const) {
    t.equal(loadConfig({ JWT_SECRET: SECRET, MIGRATE_ON_START: value }).migrateOnStart, expected, `MIGRATE_ON_START=${value}`);
  }

  const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const pk = loadConfig({ JWT_PUBLIC_KEY: publicKey });
  t.same({ kind: pk.jwt.kind, key: pk.jwt.kind === 'publicKey' ? pk.jwt.publicKey : '' }, { kind: 'publicKey', key: publicKey });
  const escaped = loadConfig({ JWT_PUBLIC_KEY: publicKey.replace(/\n/g, '\\n') });
  t.equal(escaped.jwt.kind === 'publicKey' && escaped.jwt.publicKey, publicKey, 'a PEM with \\n escapes (one-line env files) is restored');
  const jwks = loadConfig({ JWT_JWKS_URL: 'https://idp.example.test/realms/kring/protocol/openid-connect/certs' });
  t.match(jwks.jwt, { kind: 'jwks', url: 'https://idp.example.test/realms/kring/protocol/openid-connect/certs' });
  t.equal(loadConfig({ JWT_SECRET: '', JWT_PUBLIC_KEY: publicKey }).jwt.kind, 'publicKey', 'an empty JWT_SECRET counts as unset');
});

t.test('invalid settings are refused with a one-line message naming the variable', async (t) => {
  const base = { JWT_SECRET: SECRET };
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'localhost:5432' }, 'DATABASE_URL'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ MIGRATE_ON_START: 'maybe' }, 'MIGRATE_ON_START'],
    [{ WEBHOOK_ALLOW_PRIVATE: 'sometimes' }, 'WEBHOOK_ALLOW_PRIVATE'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ BODY_LIMIT_BYTES: '10' }, 'BODY_LIMIT_BYTES'],
    [{ RATE_LIMIT_PER_MINUTE: 'lots' }, 'RATE_LIMIT_PER_MINUTE'],
    [{ JWT_SECRET: 'too-short' }, 'JWT_SECRET'],
    [{ JWT_SECRET: '', JWT_PUBLIC_KEY: 'not a pem' }, 'JWT_PUBLIC_KEY'],
    [{ JWT_SECRET: '', JWT_JWKS_URL: 'ftp://idp.example.test/certs' }, 'JWT_JWKS_URL'],
    [{ JWT_SECRET: '', JWT_JWKS_URL: 'not a url' }, 'JWT_JWKS_URL'],
  ];
  for (const [env, variable] of cases) {
    assertRejects(t, { ...base, ...env }, variable, `${variable}=${Object.values(env).at(-1)}`);
  }

  let message = '';
  try {
    loadConfig({ ...base, DATABASE_URL: 'mysql://kring:hunter2@db.internal/kring' });
  } catch (error) {
    message = (error as Error).message;
  }
  t.match(message, 'DATABASE_URL');
  t.notMatch(message, 'hunter2', 'the message never echoes the value (it may hold a password)');
});

t.test('only one source of token keys', async (t) => {
  const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const jwksUrl = 'https://idp.example.test/certs';
  const pairs: Array<Record<string, string>> = [
    { JWT_SECRET: SECRET, JWT_PUBLIC_KEY: publicKey },
    { JWT_SECRET: SECRET, JWT_JWKS_URL: jwksUrl },
    { JWT_PUBLIC_KEY: publicKey, JWT_JWKS_URL: jwksUrl },
  ];
  for (const env of pairs) {
    assertRejects(t, env, 'JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL', Object.keys(env).join(' + '));
  }
});

t.test('production requires configured token keys', async (t) => {
  const dir = freshDir();
  assertRejects(t, { NODE_ENV: 'production', DATA_DIR: dir }, 'JWT_SECRET', 'NODE_ENV=production without JWT settings');
  assertRejects(t, { NODE_ENV: 'production', DATA_DIR: dir, JWT_SECRET: '  ' }, 'JWT_SECRET', 'a blank JWT_SECRET');
  t.same(readdirSync(dir), [], 'no development secret is written in production');
  t.equal(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET }).jwt.kind, 'secret');
});

t.test('outside production a development secret is generated once and kept in DATA_DIR', async (t) => {
  const dir = join(freshDir(), 'not-yet-created');
  const first = loadConfig({ DATA_DIR: dir });
  if (first.jwt.kind !== 'secret') throw new Error('expected a secret');
  t.equal(first.jwt.generated, true);
  t.equal(first.jwt.secretFile, join(dir, 'dev-jwt-secret'));
  t.ok(existsSync(join(dir, 'dev-jwt-secret')), 'kept in DATA_DIR');
  t.ok(first.jwt.secret.length >= 32, 'long enough for HS256');
  t.equal(readFileSync(join(dir, 'dev-jwt-secret'), 'utf8').trim(), first.jwt.secret);
  t.equal(statSync(join(dir, 'dev-jwt-secret')).mode & 0o077, 0, 'readable by its owner only');

  const second = loadConfig({ DATA_DIR: dir, NODE_ENV: 'test' });
  t.match(second.jwt, { kind: 'secret', generated: true, secret: first.jwt.secret }, 'the same secret on the next start');

  const elsewhere = loadConfig({ DATA_DIR: freshDir() });
  t.not(elsewhere.jwt.kind === 'secret' && elsewhere.jwt.secret, first.jwt.secret, 'each data folder has its own secret');
});
