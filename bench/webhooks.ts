// Webhook benchmark on PostgreSQL (npm run bench:webhooks; DATABASE_URL required). It measures issue 5's two targets:
//  1. commit→receipt latency (median, p99) while a load generator makes RATE writes per second through the API;
//  2. deliveries per second of a backlog to a local receiver: the sender alone (every delivery queued again at
//     once) and the dispatcher with the sender (events written while they were stopped).
// The service (API, dispatcher, sender) runs in this process as in production; the "outside world" (load
// generator, receiver, and a LISTEN that notes when each event committed) runs in a child process, so it
// neither steals the service's event loop nor is delayed by it. Figures are printed and written to
// bench/results/webhooks-<time>.json with the machine's load average before and after.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSigner } from 'fast-jwt';
import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    persons: { type: 'string', default: '20' },
    'subscriptions-per-person': { type: 'string', default: '2' },
    'backlog-writes': { type: 'string', default: '2500' },
    'warmup-seconds': { type: 'string', default: '3' },
    world: { type: 'boolean', default: false },
  },
});

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// The outside world (child process): receiver, commit-time listener and load generator.

type WorldCommand =
  | { cmd: 'load'; address: string; rate: number; seconds: number; plans: Array<{ token: string; personId: string }>; expectedPerWrite: number }
  | { cmd: 'mark' }
  | { cmd: 'await'; count: number; timeoutMs: number }
  | { cmd: 'exit' };

async function world(): Promise<void> {
  const send = (message: unknown) => process.send!(message);
  // When each event committed: NOTIFY is delivered at commit (payload [[personId, seq], ...]).
  const committedAt = new Map<string, number>();
  const listener = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL });
  await listener.connect();
  listener.on('notification', (message) => {
    const at = Date.now();
    try {
      for (const [personId, seq] of JSON.parse(message.payload ?? '[]') as Array<[string, number]>) committedAt.set(`${personId}/${seq}`, at);
    } catch {
      // a payload that is not ours
    }
  });
  await listener.query('listen kring_events');

  const receipts: Array<{ at: number; key: string; occurredAt: number; path: string; id: string }> = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  let mark = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; personId: string; seq: number; occurredAt: string };
      receipts.push({ at, key: `${body.personId}/${body.seq}`, occurredAt: Date.parse(body.occurredAt), path: req.url ?? '', id: body.id });
      res.writeHead(204).end();
      if (waiter && receipts.length - mark >= waiter.count) waiter.resolve();
    });
  });
  receiver.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  send({ ready: true, hookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}` });

  const until = (count: number, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      if (receipts.length - mark >= count) return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          waiter = undefined;
          resolve(true);
        },
      };
    });

  process.on('message', async (command: WorldCommand) => {
    if (command.cmd === 'exit') {
      receiver.closeAllConnections();
      receiver.close();
      await listener.end();
      process.exit(0);
    }
    if (command.cmd === 'mark') {
      mark = receipts.length;
      send({ marked: true });
    }
    if (command.cmd === 'await') {
      const complete = await until(command.count, command.timeoutMs);
      const burst = receipts.slice(mark);
      send({ complete, received: burst.length, firstAt: burst[0]?.at ?? null, lastAt: burst[burst.length - 1]?.at ?? null });
    }
    if (command.cmd === 'load') {
      // Open loop: each write is started on its schedule, whether or not the earlier ones have finished.
      const { address, rate, seconds, plans } = command;
      const writes = rate * seconds;
      const started = Date.now();
      const inFlight: Array<Promise<void>> = [];
      let failed = 0;
      let lateStarts = 0;
      for (let n = 0; n < writes; n++) {
        const due = started + (n * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        else if (wait < -50) lateStarts += 1;
        const plan = plans[n % plans.length]!;
        inFlight.push(
          fetch(`${address}/v1/persons/${plan.personId}/life-goals`, {
            method: 'POST',
            headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ title: `Doel ${n}` }),
          })
            .then(async (res) => {
              await res.text();
              if (res.status >= 300) failed += 1;
            })
            .catch(() => {
              failed += 1;
            }),
        );
      }
      await Promise.all(inFlight);
      const writeSeconds = (Date.now() - started) / 1000;
      const expected = (writes - failed) * command.expectedPerWrite;
      const complete = await until(expected, 60_000);
      const fromCommit: number[] = [];
      const fromOccurred: number[] = [];
      // Per second of the load (by commit time): where in the run the slow ones were.
      const bySecond: number[][] = Array.from({ length: Math.ceil(writeSeconds) + 1 }, () => []);
      let unmatched = 0;
      for (const r of receipts.slice(mark)) {
        const committed = committedAt.get(r.key);
        if (committed === undefined) unmatched += 1;
        else {
          fromCommit.push(r.at - committed);
          bySecond[Math.min(bySecond.length - 1, Math.max(0, Math.floor((committed - started) / 1000)))]!.push(r.at - committed);
        }
        fromOccurred.push(r.at - r.occurredAt);
      }
      const perSecond = bySecond.map((l) => l.sort((a, b) => a - b)).map((l) => [percentile(l, 50), percentile(l, 99)]);
      const ids = receipts.slice(mark).map((r) => `${r.path} ${r.id}`);
      send({
        writes: writes - failed,
        failed,
        lateStarts,
        writeSeconds,
        expected,
        received: ids.length,
        complete,
        duplicates: ids.length - new Set(ids).size,
        unmatched,
        fromCommit: fromCommit.sort((a, b) => a - b),
        perSecond,
        fromOccurred: fromOccurred.sort((a, b) => a - b),
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The service and the measurements (this process).

function insz(n: number): string {
  const base = `850730${String(n).padStart(3, '0')}`;
  return base + String(97 - (Number(base) % 97)).padStart(2, '0');
}

function ask<T>(child: ChildProcess, command: WorldCommand): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as T));
    child.send(command);
  });
}

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    console.error('bench:webhooks needs DATABASE_URL (a PostgreSQL server where it may create a scratch database)');
    process.exit(1);
  }
  const RATE = Number(args.rate);
  const SECONDS = Number(args.seconds);
  const PERSONS = Number(args.persons);
  const SUBS_PER_PERSON = Number(args['subscriptions-per-person']);
  const BACKLOG_WRITES = Number(args['backlog-writes']);
  const loadBefore = loadavg();

  // Imported here: the child process needs none of the service.
  const { buildApp } = await import('../src/app.js');
  const { loadConfig } = await import('../src/config.js');
  const { createDatabase } = await import('../src/db/database.js');
  const { migrateToLatest } = await import('../src/db/migrate.js');
  const { createWebhookWorker } = await import('../src/modules/webhooks/webhooks.worker.js');
  const { recordNotifications } = await import('../src/modules/notifications/notifications.fanout.js');

  const name = `kring_bench_webhooks_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${name}"`);
  await admin.query(`create database "${name}"`);
  const url = new URL(adminUrl);
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
    // The bench runs the dispatcher and sender itself (as the service would) to stop and start them between phases.
    DISPATCHER_ENABLED: 'false',
  });
  const database = await createDatabase(config.database);
  await migrateToLatest(database.db);
  const app = await buildApp({ config, database });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const startWorker = async () => {
    const worker = createWebhookWorker({ database, clock: () => new Date(), allowPrivate: true, logger: app.log, fanOuts: [recordNotifications] });
    await worker.start();
    return worker;
  };

  const child = fork(fileURLToPath(import.meta.url), ['--world'], { env: { ...process.env, BENCH_DATABASE_URL: url.toString() } });
  const { hookUrl } = await new Promise<{ hookUrl: string }>((resolve) => child.once('message', (m) => resolve(m as { hookUrl: string })));

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

  // Setup: persons, each with their own subscriptions (every event type, the person's plan).
  const plans: Array<{ token: string; personId: string }> = [];
  for (let i = 0; i < PERSONS; i++) {
    const token = sign({ sub: `bench-${i}`, insz: insz(i + 1), name: 'Bench Burger' });
    const person = await call(token, 'POST', '/v1/persons', { identifier: { system: 'insz', value: insz(i + 1) }, givenName: 'Bench', familyName: `Burger ${i}` });
    plans.push({ token, personId: person.id });
  }
  let worker = await startWorker();
  await sleep(500); // the plan-creation events are dispatched before anyone subscribes
  for (const [i, plan] of plans.entries()) {
    for (let s = 0; s < SUBS_PER_PERSON; s++) {
      await call(plan.token, 'POST', '/v1/subscriptions', { url: `${hookUrl}/p${i}s${s}`, eventTypes: ['*'], personId: plan.personId });
    }
  }

  // 1. Latency under load, after a warm-up at the same rate that is not measured (JIT, connections, prepared statements).
  const WARMUP = Number(args['warmup-seconds']);
  if (WARMUP > 0) await ask(child, { cmd: 'load', address, rate: RATE, seconds: WARMUP, plans, expectedPerWrite: SUBS_PER_PERSON });
  await ask(child, { cmd: 'mark' });
  type LoadResult = {
    writes: number; failed: number; lateStarts: number; writeSeconds: number; expected: number; received: number;
    complete: boolean; duplicates: number; unmatched: number; fromCommit: number[]; fromOccurred: number[]; perSecond: number[][];
  };
  const load = await ask<LoadResult>(child, { cmd: 'load', address, rate: RATE, seconds: SECONDS, plans, expectedPerWrite: SUBS_PER_PERSON });

  // 2a. The sender alone: every delivery so far queued again in one commit (as a replay from event 1 of
  // every subscription would), then the time from the first to the last receipt.
  await worker.stop();
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  const requeued = (await db.query(`update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = null`)).rowCount ?? 0;
  await ask(child, { cmd: 'mark' });
  const senderStarted = Date.now();
  worker = await startWorker();
  const senderRun = await ask<{ complete: boolean; received: number; firstAt: number | null; lastAt: number | null }>(child, { cmd: 'await', count: requeued, timeoutMs: 120_000 });

  // 2b. Dispatcher and sender: events written while both were stopped, then the time from their start
  // to the last receipt (dispatching, fan-out to the inbox, consent, sending and recording all included).
  await worker.stop();
  const queue = Array.from({ length: BACKLOG_WRITES }, (_, n) => plans[n % plans.length]!);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let plan = queue.pop(); plan; plan = queue.pop()) await call(plan.token, 'POST', `/v1/persons/${plan.personId}/life-goals`, { title: 'Achterstand' });
    }),
  );
  const undispatched = Number((await db.query(`select count(*) as n from outbox_events where dispatched_at is null`)).rows[0].n);
  await ask(child, { cmd: 'mark' });
  const pipelineStarted = Date.now();
  worker = await startWorker();
  const pipelineRun = await ask<{ complete: boolean; received: number; firstAt: number | null; lastAt: number | null }>(child, {
    cmd: 'await',
    count: undispatched * SUBS_PER_PERSON,
    timeoutMs: 120_000,
  });
  await worker.stop();
  const loadAfter = loadavg();

  const perSecond = (run: { received: number; lastAt: number | null }, from: number) => (run.lastAt ? run.received / ((run.lastAt - from) / 1000) : 0);
  const results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, loadAverageBefore: loadBefore.map((l) => round(l, 2)), loadAverageAfter: loadAfter.map((l) => round(l, 2)) },
    settings: { rate: RATE, seconds: SECONDS, warmupSeconds: WARMUP, persons: PERSONS, subscriptionsPerPerson: SUBS_PER_PERSON, backlogWrites: BACKLOG_WRITES },
    latency: {
      writes: load.writes,
      writesPerSecond: round(load.writes / load.writeSeconds),
      failedWrites: load.failed,
      lateWriteStarts: load.lateStarts,
      deliveries: `${load.received} of ${load.expected}${load.complete ? '' : ' (timed out)'}`,
      duplicates: load.duplicates,
      commitToReceiptMs: { median: percentile(load.fromCommit, 50), p99: percentile(load.fromCommit, 99), max: load.fromCommit[load.fromCommit.length - 1] ?? NaN, unmatched: load.unmatched },
      occurredAtToReceiptMs: { median: percentile(load.fromOccurred, 50), p99: percentile(load.fromOccurred, 99) },
      commitToReceiptMsPerSecond: load.perSecond.map(([median, p99]) => ({ median, p99 })),
    },
    senderBacklog: {
      deliveries: `${senderRun.received} of ${requeued}${senderRun.complete ? '' : ' (timed out)'}`,
      perSecondFromStart: round(perSecond(senderRun, senderStarted), 0),
      perSecondFirstToLast: senderRun.firstAt && senderRun.lastAt ? round(senderRun.received / ((senderRun.lastAt - senderRun.firstAt) / 1000), 0) : 0,
    },
    dispatcherAndSenderBacklog: {
      events: undispatched,
      deliveries: `${pipelineRun.received} of ${undispatched * SUBS_PER_PERSON}${pipelineRun.complete ? '' : ' (timed out)'}`,
      perSecondFromStart: round(perSecond(pipelineRun, pipelineStarted), 0),
    },
  };
  const targets = {
    'median under 100 ms': results.latency.commitToReceiptMs.median < 100,
    'p99 under 1 s': results.latency.commitToReceiptMs.p99 < 1000,
    'at least 1,000 deliveries/s (dispatcher and sender)': results.dispatcherAndSenderBacklog.perSecondFromStart >= 1000,
  };

  const rows: Array<[string, string]> = [
    ['load average before / after', `${results.machine.loadAverageBefore.join(' ')} / ${results.machine.loadAverageAfter.join(' ')} (${results.machine.cpus} cpus)`],
    ['writes through the API (measured)', `after a ${WARMUP} s warm-up, ${load.writes} in ${load.writeSeconds.toFixed(1)} s (${results.latency.writesPerSecond}/s), ${load.failed} failed, ${load.lateStarts} started >50 ms late`],
    ['subscriptions', `${PERSONS * SUBS_PER_PERSON} (${SUBS_PER_PERSON} per person, ${PERSONS} persons)`],
    ['deliveries received under load', `${results.latency.deliveries}, ${load.duplicates} duplicates`],
    ['commit→receipt median', `${results.latency.commitToReceiptMs.median} ms`],
    ['commit→receipt p99', `${results.latency.commitToReceiptMs.p99} ms`],
    ['commit→receipt max', `${results.latency.commitToReceiptMs.max} ms`],
    ['occurredAt→receipt median / p99', `${results.latency.occurredAtToReceiptMs.median} / ${results.latency.occurredAtToReceiptMs.p99} ms`],
    ['sender, backlog', `${results.senderBacklog.deliveries}: ${results.senderBacklog.perSecondFromStart} deliveries/s from start (${results.senderBacklog.perSecondFirstToLast}/s first to last receipt)`],
    ['dispatcher + sender, backlog', `${undispatched} events, ${results.dispatcherAndSenderBacklog.deliveries}: ${results.dispatcherAndSenderBacklog.perSecondFromStart} deliveries/s from start`],
    ...Object.entries(targets).map(([target, met]): [string, string] => [`target: ${target}`, met ? 'met' : 'NOT met']),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nKring webhooks benchmark (PostgreSQL, one service instance, local receiver in another process)\n`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log('\ncommit→receipt: from the NOTIFY that announces the committed event (sent at commit) to the receiver having read the request.');
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/webhooks-${results.at.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`;
  writeFileSync(file, JSON.stringify({ ...results, targets }, null, 2) + '\n');
  console.log(`written to ${file}`);

  child.send({ cmd: 'exit' });
  await db.end();
  await app.close(); // closes the database too
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}

(args.world ? world() : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
