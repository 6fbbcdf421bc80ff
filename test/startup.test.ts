// The real process, as `npm start` runs it: configuration from the environment, embedded
// PostgreSQL in DATA_DIR, migrations, listening, graceful shutdown on SIGTERM, data kept.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { signDevelopmentToken } from '../scripts/token.js';
import { makeInsz } from './helpers/factories.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG_VARIABLES = [
  'NODE_ENV', 'PORT', 'HOST', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'DATA_DIR', 'JWT_SECRET', 'JWT_PUBLIC_KEY',
  'JWT_JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'LOG_LEVEL', 'MIGRATE_ON_START', 'WEBHOOK_ALLOW_PRIVATE',
  'BODY_LIMIT_BYTES', 'NOTE_BODY_MAX_BYTES', 'RATE_LIMIT_PER_MINUTE', 'EMERGENCY_ACCESS_HOURS', 'INVITATION_VALID_DAYS',
  'DISPATCHER_ENABLED', 'STREAM_HEARTBEAT_SECONDS',
  // The test runner's loaders have no business in the service process.
  'NODE_OPTIONS',
];

interface Service {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** The listening address, from the "Kring listens on" log line; rejects if the process ends first. */
  listening: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
t.teardown(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kring-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function startService(env: Record<string, string>): Service {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // The spawned service loads the sources through its own loader; its coverage would not merge
  // with the test processes' and would count every module it loads as uncovered.
  delete childEnv.NODE_V8_COVERAGE;
  delete childEnv.NODE_OPTIONS;
  for (const name of CONFIG_VARIABLES) delete childEnv[name];
  Object.assign(childEnv, { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'development', ...env });

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })), // after stdout and stderr are drained
  );
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      let entry: { msg?: unknown };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      const match = typeof entry.msg === 'string' ? /^Kring listens on (http:\/\/\S+)/.exec(entry.msg) : null;
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`the service ended before listening (code ${code}, signal ${signal}): ${stderr.join('\n')}`)),
    );
  });
  listening.catch(() => {}); // failures are awaited where they matter
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  return { child, stdout, stderr, listening, exited };
}

async function json(response: Response): Promise<any> {
  return JSON.parse(await response.text());
}

t.test('starts, serves, stops on SIGTERM and keeps its data', async (t) => {
  t.setTimeout(120_000);
  const dataDir = freshDir();

  const first = startService({ DATA_DIR: dataDir });
  const url = await first.listening;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on HOST with a free port (PORT=0)');
  t.ok(Number(new URL(url).port) > 0);
  for (const line of first.stdout) t.doesNotThrow(() => JSON.parse(line), 'stdout is JSON log lines');
  t.ok(first.stdout.some((line) => /API documentation/.test(line)), 'points at the documentation');

  const ready = await fetch(`${url}/health/ready`);
  t.equal(ready.status, 200, 'ready: database reachable and migrated');
  t.same(await json(ready), { status: 'ready' });
  t.equal((await fetch(`${url}/health/live`)).status, 200);

  const secret = readFileSync(join(dataDir, 'dev-jwt-secret'), 'utf8').trim();
  t.ok(secret.length >= 32, 'a development secret was generated in DATA_DIR');
  t.ok(first.stdout.some((line) => line.includes('dev-jwt-secret')), 'and its place is told at start');
  t.notOk(first.stdout.join('\n').includes(secret), 'the secret itself is never logged');

  const insz = makeInsz('1948-03-12');
  const token = signDevelopmentToken(secret, { sub: 'startup-citizen', name: 'Mariette Dubois', insz });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`${url}/v1/persons`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ identifier: { system: 'insz', value: insz }, givenName: 'Mariette', familyName: 'Dubois', language: 'fr' }),
  });
  t.equal(created.status, 201, 'a person is created with a development token');
  const person = await json(created);
  t.equal((await fetch(`${url}/v1/persons`)).status, 401, 'and nothing is served without a token');

  first.child.kill('SIGTERM');
  const stopped = await first.exited;
  t.same(stopped, { code: 0, signal: null }, 'SIGTERM: a clean exit with code 0');
  t.ok(first.stdout.some((line) => /shutting down/.test(line)), 'the shutdown is logged');
  const logs = first.stdout.join('\n');
  t.notOk(logs.includes(token) || logs.includes(insz) || logs.includes('Dubois'), 'no token, INSZ or name in the logs');

  const second = startService({ DATA_DIR: dataDir });
  const url2 = await second.listening;
  const ready2 = await fetch(`${url2}/health/ready`);
  t.equal(ready2.status, 200, 'ready again on the same DATA_DIR');
  const listed = await fetch(`${url2}/v1/persons`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(listed.status, 200, 'the same token is still valid: the secret was kept');
  const page = await json(listed);
  t.same(
    page.items.map((p: { id: string; familyName: string }) => ({ id: p.id, familyName: p.familyName })),
    [{ id: person.id, familyName: 'Dubois' }],
    'the person created before the restart is still there',
  );

  // A port already taken is a clear failure, not a hang.
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const takenPort = (blocker.address() as { port: number }).port;
  second.child.kill('SIGTERM');
  t.same(await second.exited, { code: 0, signal: null }, 'the second run stops cleanly too');

  const third = startService({ DATA_DIR: dataDir, PORT: String(takenPort) });
  const { code } = await third.exited;
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  t.equal(code, 1, 'a port in use: exit code 1');
  t.match(third.stderr.join('\n'), /could not start.*(EADDRINUSE|in use)/i, 'with the reason on stderr');
});

t.test('bad configuration stops the process with exit code 1 and a clear message', async (t) => {
  t.setTimeout(60_000);
  const dataDir = freshDir();

  // Configuration is checked before the database opens: all three fail fast, side by side.
  const badPort = startService({ DATA_DIR: dataDir, PORT: 'abc' });
  const production = startService({ DATA_DIR: dataDir, NODE_ENV: 'production' });
  const badDatabase = startService({ DATA_DIR: dataDir, DATABASE_URL: 'mysql://localhost/kring' });
  const [portExit, productionExit, databaseExit] = await Promise.all([badPort.exited, production.exited, badDatabase.exited]);

  t.equal(portExit.code, 1, 'a bad PORT: exit code 1');
  t.match(badPort.stderr.join('\n'), /PORT/, 'stderr names PORT');
  t.equal(badPort.stderr.filter((line) => line.trim() !== '').length, 1, 'one line, no stack trace');

  t.equal(productionExit.code, 1, 'production without JWT settings: exit code 1');
  t.match(production.stderr.join('\n'), /JWT_SECRET/, 'stderr names JWT_SECRET');

  t.equal(databaseExit.code, 1, 'a bad DATABASE_URL: exit code 1');
  t.match(badDatabase.stderr.join('\n'), /DATABASE_URL/);
  t.same(readdirSync(dataDir), [], 'nothing was written to DATA_DIR');
});
