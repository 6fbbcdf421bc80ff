// Webhook benchmark on PostgreSQL (npm run bench:webhooks; DATABASE_URL required): commit→receipt latency
// while ~200 writes/s go through the API, then the sender's deliveries per second to a local receiver.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createSigner } from 'fast-jwt';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    persons: { type: 'string', default: '20' },
    'subscriptions-per-person': { type: 'string', default: '2' },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const PERSONS = Number(args.persons);
const SUBS_PER_PERSON = Number(args['subscriptions-per-person']);

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('bench:webhooks needs DATABASE_URL (a PostgreSQL server where it may create a scratch database)');
  process.exit(1);
}

function insz(n: number): string {
  const base = `850730${String(n).padStart(3, '0')}`;
  return base + String(97 - (Number(base) % 97)).padStart(2, '0');
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await sleep(5);
  }
  return true;
}

async function main(): Promise<void> {
  const name = `kring_bench_webhooks_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${name}"`);
  await admin.query(`create database "${name}"`);
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;

  const secret = randomBytes(32).toString('base64url');
  const config = loadConfig({
    NODE_ENV: 'production',
    JWT_SECRET: secret,
    DATABASE_URL: url.toString(),
    DATABASE_POOL_SIZE: '20',
    LOG_LEVEL: 'warn',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    RATE_LIMIT_PER_MINUTE: '10000000',
  });
  const database = await createDatabase(config.database);
  await migrateToLatest(database.db);
  const app = await buildApp({ config, database });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });

  // The receiver: notes when each delivery arrives; answers 204 at once.
  const receipts: Array<{ at: number; occurredAt: number; id: string; path: string }> = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; occurredAt: string };
      receipts.push({ at, occurredAt: Date.parse(body.occurredAt), id: body.id, path: req.url ?? '' });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3600_000 });
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(address + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };

  // Setup: persons, each with their own subscriptions.
  const plans: Array<{ token: string; personId: string; subscriptionIds: string[] }> = [];
  for (let i = 0; i < PERSONS; i++) {
    const token = sign({ sub: `bench-${i}`, insz: insz(i + 1), name: 'Bench Burger' });
    const person = await call(token, 'POST', '/v1/persons', { identifier: { system: 'insz', value: insz(i + 1) }, givenName: 'Bench', familyName: `Burger ${i}` });
    const subscriptionIds = [];
    for (let s = 0; s < SUBS_PER_PERSON; s++) {
      const sub = await call(token, 'POST', '/v1/subscriptions', { url: `${hookUrl}/p${i}s${s}`, eventTypes: ['*'], personId: person.id });
      subscriptionIds.push(sub.id as string);
    }
    plans.push({ token, personId: person.id, subscriptionIds });
  }
  await sleep(1500); // let the plan-creation events be dispatched (they are older than the subscriptions)

  // Phase 1: writes at RATE per second (open loop), latency from the event's time to its receipt.
  const writes = RATE * SECONDS;
  const started = Date.now();
  const inFlight: Array<Promise<unknown>> = [];
  let failedWrites = 0;
  for (let n = 0; n < writes; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const plan = plans[n % plans.length]!;
    inFlight.push(call(plan.token, "POST", `/v1/persons/${plan.personId}/life-goals`, { title: `Doel ${n}` }).catch((e) => { if (failedWrites++ < 3) console.error(String(e).slice(0, 300)); }));
  }
  await Promise.all(inFlight);
  const writeSeconds = (Date.now() - started) / 1000;
  const expected = (writes - failedWrites) * SUBS_PER_PERSON;
  const complete = await waitFor(() => receipts.length >= expected, 60_000);
  const latencies = receipts.map((r) => r.at - r.occurredAt).sort((a, b) => a - b);

  // Phase 2: replay every delivery at once and time the sender working through them.
  const before = receipts.length;
  const replayStart = Date.now();
  for (const plan of plans) {
    for (const id of plan.subscriptionIds) await call(plan.token, 'POST', `/v1/subscriptions/${id}/replay`, { fromEventNumber: 1 });
  }
  const replayed = receipts.length - before;
  const drained = await waitFor(() => receipts.length - before >= expected, 120_000);
  const burst = receipts.slice(before);
  const firstAt = burst[0]?.at ?? replayStart;
  const lastAt = burst[burst.length - 1]?.at ?? firstAt;
  const deliveriesPerSecond = burst.length / Math.max(0.001, (lastAt - firstAt) / 1000);
  const duplicates = receipts.slice(0, before).length - new Set(receipts.slice(0, before).map((r) => `${r.path} ${r.id}`)).size;

  const rows: Array<[string, string]> = [
    ['writes through the API', `${writes - failedWrites} in ${writeSeconds.toFixed(1)} s (${((writes - failedWrites) / writeSeconds).toFixed(0)}/s), ${failedWrites} failed`],
    ['subscriptions', `${PERSONS * SUBS_PER_PERSON} (${SUBS_PER_PERSON} per person, ${PERSONS} persons)`],
    ['deliveries received (phase 1)', `${before} of ${expected}${complete ? '' : ' (timed out)'}, ${duplicates} duplicates`],
    ['commit→receipt median', `${percentile(latencies, 50)} ms`],
    ['commit→receipt p99', `${percentile(latencies, 99)} ms`],
    ['commit→receipt max', `${latencies[latencies.length - 1]} ms`],
    ['replayed deliveries', `${burst.length} of ${expected}${drained ? '' : ' (timed out)'} (${replayed} arrived while replay requests were still being made)`],
    ['sender throughput', `${deliveriesPerSecond.toFixed(0)} deliveries/s (first to last receipt)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nKring webhooks benchmark (PostgreSQL, one service instance, local receiver)\n`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log('\ncommit→receipt is measured from the event\'s occurredAt, taken before the write commits: an upper bound.');

  await app.close();
  await new Promise<void>((resolve) => {
    receiver.closeAllConnections();
    receiver.close(() => resolve());
  });
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
