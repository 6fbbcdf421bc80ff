// The sender: leases due deliveries in a short claim, then outside any transaction re-checks the
// owner's consent, POSTs the signed event (Standard Webhooks) and records the outcome under the
// lease, retrying with exponential back-off and jitter. A crash mid-send re-delivers after the lease.
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { DB } from '../../db/types.js';
import type { Clock } from '../../lib/context.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContext } from '../access/access.repository.js';
import { destinationAgents, hostOf, refuseDestination } from './destination.js';
import { ownerActor, type WorkerLogger } from './webhooks.common.js';
import * as repo from './webhooks.repository.js';

/** Waits after each failed attempt: the first retry within seconds, the last about a day after the first try. */
export const RETRY_DELAYS_MS = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800].map((s) => s * 1000);
/** A subscription whose deliveries have failed for longer than this is disabled. */
export const DISABLE_AFTER_MS = 3 * 24 * 3600_000;
export const SEND_TIMEOUT_MS = 10_000;
/** Long enough for a sequence of a subscription's deliveries; a crashed sender's leases expire after it. */
export const LEASE_MS = 60_000;

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

type Outcome = { kind: 'answered'; statusCode: number } | { kind: 'failed'; error: string } | { kind: 'aborted' };

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

  function post(url: URL, body: string, headers: Record<string, string>): Promise<Outcome> {
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

  /** `group.failing`: whether the subscription may be marked failing (known at claim, updated as its sequence goes). */
  async function deliver(delivery: repo.ClaimedDelivery, group: { failing: boolean }): Promise<void> {
    const lease = { subscriptionId: delivery.subscription_id, eventNumber: delivery.event_number, leaseUntil: delivery.lease_until };
    if (shutdown.signal.aborted || clock().getTime() + timeoutMs > delivery.lease_until.getTime()) {
      // Not enough lease left to finish: give it back rather than risk two senders at once.
      await repo.releaseDelivery(db, lease);
      return;
    }
    // Deleted, disabled or replayed since the claim: not ours to send any more.
    if (!(await repo.isStillLeased(db, lease))) return;

    const now = clock();
    const context = await loadAccessContext(db, ownerActor(delivery), delivery.person_id, now);
    if (!mayReceiveEvent(context, { type: delivery.type, data: delivery.data as Record<string, unknown> })) {
      await repo.markSkipped(db, lease, 'The subscriber may not receive this event at the time of delivery.');
      return;
    }

    const refused = refuseDestination(delivery.url, allowPrivate);
    const startedAt = clock();
    const started = performance.now();
    let outcome: Outcome;
    if (refused) {
      outcome = { kind: 'failed', error: `The URL ${refused}.` };
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
      outcome = await post(new URL(delivery.url), body, headers);
    }
    if (outcome.kind === 'aborted') {
      await repo.releaseDelivery(db, lease);
      return;
    }
    const durationMs = Math.round(performance.now() - started);
    const statusCode = outcome.kind === 'answered' ? outcome.statusCode : null;
    const acknowledged = statusCode !== null && statusCode >= 200 && statusCode < 300;
    const error = acknowledged
      ? null
      : outcome.kind === 'failed'
        ? outcome.error
        : statusCode! >= 300 && statusCode! < 400
          ? `HTTP ${statusCode}: redirects are not followed`
          : `HTTP ${statusCode}`;
    const attempt = { startedAt, durationMs, statusCode, error };
    const finishedAt = clock();

    if (acknowledged) {
      const recorded = await repo.recordAttempt(db, lease, attempt, { status: 'delivered', deliveredAt: finishedAt });
      if (recorded && group.failing) {
        await repo.clearFailing(db, delivery.subscription_id);
        group.failing = false;
      }
      return;
    }
    const delay = retryDelay(delivery.attempts + 1);
    const next = delay === undefined ? { status: 'failed' as const } : { status: 'pending' as const, nextAttemptAt: new Date(finishedAt.getTime() + delay) };
    const recorded = await repo.recordAttempt(db, lease, attempt, next);
    deps.logger?.debug({ subscriptionId: delivery.subscription_id, host: hostOf(delivery.url), statusCode, retry: next.status === 'pending' }, 'webhook delivery failed');
    if (!recorded) return;
    group.failing = true;
    const failingSince = await repo.markFailing(db, delivery.subscription_id, finishedAt);
    if (failingSince && finishedAt.getTime() - failingSince.getTime() > DISABLE_AFTER_MS) {
      const reason = `Deliveries have failed since ${failingSince.toISOString()} (more than 3 days).`;
      if (await repo.disableSubscription(db, delivery.subscription_id, reason, finishedAt)) {
        await repo.failPendingDeliveries(db, delivery.subscription_id, 'The subscription was disabled.');
        deps.logger?.warn({ subscriptionId: delivery.subscription_id, host: hostOf(delivery.url) }, 'webhook subscription disabled: deliveries failing for more than 3 days');
      }
    }
  }

  /** Each subscription's deliveries in event-number order, one at a time. */
  async function processInOrder(deliveries: repo.ClaimedDelivery[]): Promise<void> {
    const group = { failing: deliveries.some((d) => d.failing_since !== null) };
    for (const delivery of deliveries) {
      try {
        await deliver(delivery, group);
      } catch (error) {
        // The lease expires and the delivery is tried again; the next ones of this subscription go on.
        deps.logger?.error({ err: error, subscriptionId: delivery.subscription_id }, 'webhook sender: a delivery failed unexpectedly');
      }
    }
  }

  function bySubscription(claimed: repo.ClaimedDelivery[]): repo.ClaimedDelivery[][] {
    const groups = new Map<string, repo.ClaimedDelivery[]>();
    for (const d of claimed) groups.set(d.subscription_id, [...(groups.get(d.subscription_id) ?? []), d]);
    return [...groups.values()].map((g) => g.sort((a, b) => a.event_number - b.event_number));
  }

  async function claim(limit: number): Promise<repo.ClaimedDelivery[]> {
    const now = clock();
    return repo.claimDueDeliveries(db, now, new Date(now.getTime() + leaseMs), limit);
  }

  /** One claim, sent to the end; answers how many deliveries it claimed. */
  async function runOnce(): Promise<number> {
    const claimed = await claim(batchSize);
    await Promise.all(bySubscription(claimed).map(processInOrder));
    return claimed.length;
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
          const claimed = await claim(batchSize);
          if (claimed.length === 0) break;
          for (const group of bySubscription(claimed)) {
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
      while (pumping || inFlight.size > 0) await Promise.race([...inFlight, new Promise((r) => setTimeout(r, 10))]);
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
