// The sender: leases due deliveries in a short claim, then outside any transaction checks the
// owners' consent, POSTs the signed events (Standard Webhooks) and records the outcomes under the
// lease, retrying with exponential back-off and jitter. A crash mid-send re-delivers after the lease.
// Work is counted in round trips per batch: one claim, one access query per owner (side by side),
// and outcomes recorded together (group commit); subscriptions are served concurrently, each one's
// deliveries one after the other, in event-number order.
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { DB } from '../../db/types.js';
import type { Clock } from '../../lib/context.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContexts } from '../access/access.repository.js';
import { destinationAgents, hostOf, refuseDestination } from './destination.js';
import { ownerActor, ownerKey, type WorkerLogger } from './webhooks.common.js';
import * as repo from './webhooks.repository.js';

/** Waits after each failed attempt: the first retry within seconds, the last about a day after the first try. */
export const RETRY_DELAYS_MS = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800].map((s) => s * 1000);
/** A subscription whose deliveries have failed for longer than this is disabled. */
export const DISABLE_AFTER_MS = 3 * 24 * 3600_000;
export const SEND_TIMEOUT_MS = 10_000;
/** Long enough for a sequence of a subscription's deliveries; a crashed sender's leases expire after it. */
export const LEASE_MS = 60_000;
/**
 * How old a consent (and lease) check may be when a delivery is sent: one check serves the
 * deliveries of a claim sent right after it; a subscription whose sequence takes longer (a slow
 * receiver) is checked again before it goes on.
 */
export const CONSENT_MAX_AGE_MS = 100;
/** Outcomes recorded by one statement at most (the rest wait for the next). */
const RECORD_BATCH = 500;

export interface SenderDeps {
  db: Kysely<DB>;
  clock: Clock;
  allowPrivate: boolean;
  logger?: WorkerLogger;
  batchSize?: number;
  /** Subscriptions served at once (each one's deliveries go out one after the other, in order). */
  concurrency?: number;
  pollIntervalMs?: number;
  timeoutMs?: number;
  leaseMs?: number;
  /** 0..1, the random part of each back-off; injectable so schedules can be checked. */
  random?: () => number;
}

type Answer = { kind: 'answered'; statusCode: number } | { kind: 'failed'; error: string } | { kind: 'aborted' };

/** A subscription's claimed deliveries, in event-number order, and what is known about them. */
interface Group {
  subscriptionId: string;
  url: string;
  deliveries: repo.ClaimedDelivery[];
  /** Whether the subscription is marked failing (known at claim, kept up to date as outcomes are recorded). */
  failing: boolean;
  /** When consent and leases were last checked, and what was found (by delivery key). */
  checkedAt: number;
  verdicts: Map<string, 'send' | 'skip' | 'lost'>;
}

const keyOf = (d: repo.ClaimedDelivery): string => repo.deliveryKey(d.subscription_id, d.event_number);
const leaseOf = (d: repo.ClaimedDelivery): repo.Lease => ({ subscriptionId: d.subscription_id, eventNumber: d.event_number, leaseUntil: d.lease_until });

export function createSender(deps: SenderDeps) {
  const { db, clock, allowPrivate } = deps;
  const batchSize = deps.batchSize ?? 100;
  const concurrency = deps.concurrency ?? 32;
  const pollIntervalMs = deps.pollIntervalMs ?? 1000;
  const timeoutMs = deps.timeoutMs ?? SEND_TIMEOUT_MS;
  const leaseMs = deps.leaseMs ?? LEASE_MS;
  const random = deps.random ?? Math.random;
  const agents = destinationAgents(allowPrivate);
  const shutdown = new AbortController();
  const signers = new Map<string, Webhook>();

  const signerFor = (secret: string): Webhook => {
    let signer = signers.get(secret);
    if (!signer) {
      if (signers.size > 10_000) signers.clear();
      signer = new Webhook(secret);
      signers.set(secret, signer);
    }
    return signer;
  };

  /** The back-off after the n-th failed attempt of this round, with ±20 % jitter; undefined when out of retries. */
  function retryDelay(failedAttempts: number): number | undefined {
    const base = RETRY_DELAYS_MS[failedAttempts - 1];
    return base === undefined ? undefined : Math.round(base * (0.8 + 0.4 * random()));
  }

  function post(url: URL, body: string, headers: Record<string, string>): Promise<Answer> {
    return new Promise((resolve) => {
      const transport = url.protocol === 'https:' ? https : http;
      const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), shutdown.signal]);
      const request = transport.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? agents.https : agents.http,
          signal,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Kring-Webhooks/1' },
        },
        (response) => {
          // The answer's body is not used; drain it so the connection can be reused.
          response.resume();
          response.on('error', () => {});
          resolve({ kind: 'answered', statusCode: response.statusCode ?? 0 });
        },
      );
      request.on('error', (error) => {
        if (shutdown.signal.aborted) resolve({ kind: 'aborted' });
        else resolve({ kind: 'failed', error: describeFailure(error, signal, timeoutMs) });
      });
      request.end(body);
    });
  }

  // ---- Recording: outcomes are buffered and written together, one statement per flush ----

  type Pending = { outcome: repo.Outcome; group: Group; done: (recorded: boolean) => void; failed: (error: unknown) => void };
  let buffer: Pending[] = [];
  let flushing: Promise<void> | undefined;

  /** Records an outcome with whatever else is waiting; resolves to whether the lease still held. */
  function record(group: Group, outcome: repo.Outcome): Promise<boolean> {
    return new Promise((done, failed) => {
      buffer.push({ outcome, group, done, failed });
      // Outcomes arriving while a flush is in flight wait for the next one: a flush per round trip.
      flushing ??= (async () => {
        try {
          await new Promise((resolve) => setImmediate(resolve));
          while (buffer.length > 0) {
            const batch = buffer.slice(0, RECORD_BATCH);
            buffer = buffer.slice(RECORD_BATCH);
            try {
              const recorded = await repo.recordOutcomes(db, batch.map((p) => p.outcome));
              await followFailing(batch.filter((p) => recorded.has(repo.deliveryKey(p.outcome.subscriptionId, p.outcome.eventNumber))));
              for (const p of batch) p.done(recorded.has(repo.deliveryKey(p.outcome.subscriptionId, p.outcome.eventNumber)));
            } catch (error) {
              // Unrecorded: the leases expire and the deliveries are tried again.
              for (const p of batch) p.failed(error);
            }
          }
        } finally {
          // In the same step as the last look at the buffer: an outcome added after it starts a new flush.
          flushing = undefined;
        }
      })();
    });
  }

  /**
   * A subscription is failing from its first failed attempt after the last success; failing for
   * more than DISABLE_AFTER_MS disables it. Recorded attempts arrive in each subscription's order.
   */
  async function followFailing(recorded: Pending[]): Promise<void> {
    const bySubscription = new Map<string, { group: Group; since: Date | null; restart: boolean; failed: boolean }>();
    for (const { outcome, group } of recorded) {
      if (outcome.kind !== 'attempt') continue;
      const state = bySubscription.get(group.subscriptionId) ?? { group, since: null, restart: false, failed: false };
      if (outcome.status === 'delivered') {
        state.restart = true;
        state.since = null;
      } else {
        state.failed = true;
        state.since ??= outcome.startedAt;
      }
      bySubscription.set(group.subscriptionId, state);
    }
    // Only what changes something: a failure, or a success of a subscription marked failing.
    const changes = [...bySubscription.values()].filter((c) => c.since !== null || c.group.failing);
    for (const row of await repo.updateFailing(db, changes.map((c) => ({ subscriptionId: c.group.subscriptionId, since: c.since, restart: c.restart })))) {
      const state = bySubscription.get(row.subscription_id)!;
      state.group.failing = row.failing_since !== null;
      if (state.failed) {
        deps.logger?.debug({ subscriptionId: row.subscription_id, host: hostOf(state.group.url) }, 'webhook delivery failed');
      }
      const failingSince = row.failing_since;
      if (failingSince && clock().getTime() - failingSince.getTime() > DISABLE_AFTER_MS) {
        const reason = `Deliveries have failed since ${failingSince.toISOString()} (more than 3 days).`;
        if (await repo.disableSubscription(db, row.subscription_id, reason, clock())) {
          await repo.failPendingDeliveries(db, row.subscription_id, 'The subscription was disabled.');
          deps.logger?.warn({ subscriptionId: row.subscription_id, host: hostOf(state.group.url) }, 'webhook subscription disabled: deliveries failing for more than 3 days');
        }
      }
    }
  }

  // ---- Deciding and sending ----

  /**
   * Decides which of these deliveries may go out now: the owner's consent (one access query per
   * owner, side by side) and, unless the claim has just checked it, that they are still leased to
   * us and their subscription active (one query for all).
   */
  async function check(groups: Group[], deliveries: repo.ClaimedDelivery[], leaseKnown: boolean): Promise<void> {
    const now = clock();
    const byOwner = new Map<string, repo.ClaimedDelivery[]>();
    for (const d of deliveries) byOwner.set(ownerKey(d), [...(byOwner.get(ownerKey(d)) ?? []), d]);
    const consent = new Map<string, boolean>();
    const [leased] = await Promise.all([
      leaseKnown ? undefined : repo.stillLeased(db, deliveries.map(leaseOf)),
      ...[...byOwner.values()].map(async (owned) => {
        const contexts = await loadAccessContexts(db, ownerActor(owned[0]!), [...new Set(owned.map((d) => d.person_id))], now);
        for (const d of owned) consent.set(keyOf(d), mayReceiveEvent(contexts.get(d.person_id)!, { type: d.type, data: d.data as Record<string, unknown> }));
      }),
    ]);
    for (const group of groups) group.checkedAt = now.getTime();
    for (const d of deliveries) {
      const key = keyOf(d);
      const group = groups.find((g) => g.subscriptionId === d.subscription_id)!;
      group.verdicts.set(key, leased !== undefined && !leased.has(key) ? 'lost' : consent.get(key) ? 'send' : 'skip');
    }
  }

  async function send(delivery: repo.ClaimedDelivery): Promise<repo.Outcome | undefined> {
    const lease = leaseOf(delivery);
    const refused = refuseDestination(delivery.url, allowPrivate);
    const startedAt = clock();
    const started = performance.now();
    let answer: Answer;
    if (refused) {
      answer = { kind: 'failed', error: `The URL ${refused}.` };
    } else {
      const body = JSON.stringify({
        id: delivery.event_id,
        type: delivery.type,
        occurredAt: delivery.occurred_at.toISOString(),
        personId: delivery.person_id,
        seq: delivery.event_seq,
        eventNumber: delivery.event_number,
        data: delivery.data,
      });
      const headers = {
        'webhook-id': delivery.event_id,
        'webhook-timestamp': String(Math.floor(startedAt.getTime() / 1000)),
        'webhook-signature': signerFor(delivery.secret).sign(delivery.event_id, startedAt, body),
      };
      answer = await post(new URL(delivery.url), body, headers);
    }
    if (answer.kind === 'aborted') return { ...lease, kind: 'release' };
    const durationMs = Math.round(performance.now() - started);
    const statusCode = answer.kind === 'answered' ? answer.statusCode : null;
    const acknowledged = statusCode !== null && statusCode >= 200 && statusCode < 300;
    const error = acknowledged
      ? null
      : answer.kind === 'failed'
        ? answer.error
        : statusCode! >= 300 && statusCode! < 400
          ? `HTTP ${statusCode}: redirects are not followed`
          : `HTTP ${statusCode}`;
    const attempt = { ...lease, kind: 'attempt' as const, startedAt, durationMs, statusCode, error };
    const finishedAt = clock();
    if (acknowledged) return { ...attempt, status: 'delivered', deliveredAt: finishedAt };
    const delay = retryDelay(delivery.attempts + 1);
    return delay === undefined
      ? { ...attempt, status: 'failed' }
      : { ...attempt, status: 'pending', nextAttemptAt: new Date(finishedAt.getTime() + delay) };
  }

  /** A subscription's deliveries in event-number order, one at a time; done when their outcomes are recorded. */
  async function processInOrder(group: Group): Promise<void> {
    const recording: Array<Promise<unknown>> = [];
    for (const [i, delivery] of group.deliveries.entries()) {
      try {
        const key = keyOf(delivery);
        if (shutdown.signal.aborted || clock().getTime() + timeoutMs > delivery.lease_until.getTime()) {
          // Not enough lease left to finish: give it back rather than risk two senders at once.
          recording.push(record(group, { ...leaseOf(delivery), kind: 'release' }));
          continue;
        }
        if (clock().getTime() - group.checkedAt > CONSENT_MAX_AGE_MS) {
          await check([group], group.deliveries.slice(i), false);
        }
        const verdict = group.verdicts.get(key);
        if (verdict === 'skip') {
          recording.push(record(group, { ...leaseOf(delivery), kind: 'skip', reason: 'The subscriber may not receive this event at the time of delivery.' }));
          continue;
        }
        // Deleted, disabled or replayed since the claim: not ours to send any more.
        if (verdict !== 'send') continue;
        const outcome = await send(delivery);
        if (outcome) recording.push(record(group, outcome));
      } catch (error) {
        // The lease expires and the delivery is tried again; the next ones of this subscription go on.
        deps.logger?.error({ err: error, subscriptionId: delivery.subscription_id }, 'webhook sender: a delivery failed unexpectedly');
      }
    }
    for (const result of await Promise.allSettled(recording)) {
      if (result.status === 'rejected') deps.logger?.error({ err: result.reason, subscriptionId: group.subscriptionId }, 'webhook sender: recording outcomes failed');
    }
  }

  function bySubscription(claimed: repo.ClaimedDelivery[]): Group[] {
    const groups = new Map<string, Group>();
    for (const d of claimed) {
      let group = groups.get(d.subscription_id);
      if (!group) {
        group = { subscriptionId: d.subscription_id, url: d.url, deliveries: [], failing: d.failing_since !== null, checkedAt: 0, verdicts: new Map() };
        groups.set(d.subscription_id, group);
      }
      group.deliveries.push(d);
    }
    for (const group of groups.values()) group.deliveries.sort((a, b) => a.event_number - b.event_number);
    return [...groups.values()];
  }

  /** Leases a batch and checks consent for all of it: the groups are ready to send. */
  async function claim(limit: number): Promise<Group[]> {
    const now = clock();
    const claimed = await repo.claimDueDeliveries(db, now, new Date(now.getTime() + leaseMs), limit);
    const groups = bySubscription(claimed);
    // The claim has just checked the leases and that the subscriptions are active.
    if (claimed.length > 0) await check(groups, claimed, true);
    return groups;
  }

  /** One claim, sent to the end; answers how many deliveries it claimed. */
  async function runOnce(): Promise<number> {
    const groups = await claim(batchSize);
    await Promise.all(groups.map(processInOrder));
    return groups.reduce((n, g) => n + g.deliveries.length, 0);
  }

  // Background running: claims keep coming while fewer than `concurrency` subscriptions are being
  // served, so a slow receiver (up to the timeout per delivery) never holds up the others.
  let stopped = true;
  let active = 0;
  let pumping = false;
  let again = false;
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;

  async function pump(): Promise<void> {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        while (!stopped && active < concurrency) {
          const groups = await claim(batchSize);
          if (groups.length === 0) break;
          for (const group of groups) {
            active += 1;
            const work: Promise<void> = processInOrder(group).finally(() => {
              active -= 1;
              inFlight.delete(work);
              void pump();
            });
            inFlight.add(work);
          }
        }
      } while (again && !stopped);
    } catch (error) {
      deps.logger?.error({ err: error }, 'webhook sender: claiming failed; retrying on the next wake-up');
    } finally {
      pumping = false;
    }
  }

  return {
    runOnce,
    retryDelay,
    wake(): void {
      void pump();
    },
    start(): void {
      stopped = false;
      timer = setInterval(() => void pump(), pollIntervalMs);
      timer.unref();
      void pump();
    },
    /** Stops claiming, aborts requests in flight (their deliveries are released) and waits for them. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      shutdown.abort();
      while (pumping || inFlight.size > 0 || flushing) await Promise.race([...inFlight, new Promise((r) => setTimeout(r, 10))]);
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export type Sender = ReturnType<typeof createSender>;

/** A failure in words a subscriber can act on; never the address it resolved to. */
function describeFailure(error: Error, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `No answer within the time limit (${timeoutMs / 1000} s).`;
  if (/is not allowed/.test(error.message)) return 'Refused: the host resolves to a private, loopback or link-local address.';
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'Connection refused.';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'The host name could not be resolved.';
    case 'ECONNRESET':
      return 'The connection was reset.';
    default:
      return typeof code === 'string' ? `Connection failed (${code}).` : 'Connection failed.';
  }
}
