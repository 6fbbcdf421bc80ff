// The dispatcher: claims committed outbox events (FOR UPDATE SKIP LOCKED, so instances share the
// work), queues one numbered webhook delivery per interested subscription, runs the fan-out hooks,
// and marks the events dispatched — all in one transaction. Woken by NOTIFY, with polling as the net.
import type { Kysely, Transaction } from 'kysely';
import type { DatabaseHandle } from '../../db/database.js';
import type { DB } from '../../db/types.js';
import type { Clock } from '../../lib/context.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContexts } from '../access/access.repository.js';
import type { EventRow } from '../events/events.repository.js';
import { EVENTS_CHANNEL } from '../journal/journal.repository.js';
import * as repo from './webhooks.repository.js';
import { ownerActor, type WorkerLogger } from './webhooks.common.js';

/** A consumer of every dispatched event, run in the dispatching transaction (e.g. the notification inbox). */
export type FanOut = (trx: Transaction<DB>, event: EventRow, now: Date) => Promise<void>;

export interface DispatcherDeps {
  db: Kysely<DB>;
  clock: Clock;
  fanOuts?: FanOut[];
  /** LISTEN for immediate wake-ups; without it the dispatcher only polls. */
  listen?: DatabaseHandle['listen'];
  logger?: WorkerLogger;
  /** Called after a batch queued deliveries (to wake the sender of this instance). */
  onDeliveriesQueued?: () => void;
  batchSize?: number;
  pollIntervalMs?: number;
}

export function createDispatcher(deps: DispatcherDeps) {
  const { db, clock } = deps;
  const fanOuts = deps.fanOuts ?? [];
  const batchSize = deps.batchSize ?? 200;
  const pollIntervalMs = deps.pollIntervalMs ?? 1000;

  /** One batch in one transaction; answers how many events it dispatched. */
  async function runOnce(): Promise<number> {
    let queued = 0;
    const claimed = await db.transaction().execute(async (trx) => {
      const events = await repo.claimUndispatchedEvents(trx, batchSize);
      if (events.length === 0) return 0;
      const now = clock();
      queued = await queueDeliveries(trx, events, now);
      for (const event of events) for (const fanOut of fanOuts) await fanOut(trx, event, now);
      await repo.markDispatched(trx, events.map((e) => e.position), now);
      return events.length;
    });
    if (queued > 0) deps.onDeliveriesQueued?.();
    return claimed;
  }

  /** Dispatches until nothing is left (batches of batchSize). */
  async function drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await runOnce();
      total += n;
      if (n < batchSize) return total;
    }
  }

  // Background running: one drain at a time; a wake-up during a drain asks for another pass.
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await drain();
        } catch (error) {
          deps.logger?.error({ err: error }, 'webhook dispatcher: a batch failed; retrying on the next wake-up');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  }

  return {
    runOnce,
    drain,
    wake,
    async start(): Promise<void> {
      stopped = false;
      if (deps.listen) {
        try {
          unlisten = await deps.listen(EVENTS_CHANNEL, () => wake());
        } catch (error) {
          // Polling still delivers everything, only later.
          deps.logger?.warn({ err: error }, 'webhook dispatcher: LISTEN failed; polling only');
        }
      }
      timer = setInterval(wake, pollIntervalMs);
      timer.unref();
      wake();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      await unlisten?.().catch(() => {});
      await running;
    },
  };

  /**
   * Numbers and queues deliveries. The owner's consent is checked here as well as at sending: a
   * subscription for every plan would otherwise queue (and number) a delivery for every event of
   * every plan. Sending checks again, so a revoke in between still stops it.
   */
  async function queueDeliveries(trx: Transaction<DB>, events: EventRow[], now: Date): Promise<number> {
    const personIds = [...new Set(events.map((e) => e.person_id))];
    const candidates = await repo.findCandidateSubscriptions(trx, personIds);
    if (candidates.length === 0) return 0;

    const byOwner = new Map<string, repo.SubscriptionRow[]>();
    for (const s of candidates) byOwner.set(s.owner_sub, [...(byOwner.get(s.owner_sub) ?? []), s]);
    const wanted = new Map<string, EventRow[]>();
    for (const subscriptions of byOwner.values()) {
      const owner = subscriptions[0]!;
      const ownerPersons = subscriptions.some((s) => s.person_id === null)
        ? personIds
        : [...new Set(subscriptions.map((s) => s.person_id!))];
      const contexts = await loadAccessContexts(trx, ownerActor(owner), ownerPersons, now);
      for (const s of subscriptions) {
        const matching = events.filter((e) => {
          if (s.person_id !== null && s.person_id !== e.person_id) return false;
          // A subscription hears what happens from its creation on, even if dispatching lags behind.
          if (e.occurred_at.getTime() < s.created_at.getTime()) return false;
          if (!s.event_types.includes('*') && !s.event_types.includes(e.type)) return false;
          const context = contexts.get(e.person_id);
          return context !== undefined && mayReceiveEvent(context, { type: e.type, data: e.data as Record<string, unknown> });
        });
        if (matching.length > 0) wanted.set(s.subscription_id, matching);
      }
    }

    const locked = await repo.lockActiveSubscriptions(trx, [...wanted.keys()]);
    const rows = [];
    for (const s of locked) {
      let number = s.last_event_number;
      for (const e of wanted.get(s.subscription_id)!) {
        number += 1;
        rows.push({
          subscription_id: s.subscription_id,
          event_number: number,
          person_id: e.person_id,
          event_id: e.event_id,
          event_seq: e.seq,
          status: 'pending',
          next_attempt_at: now,
          created_at: now,
        });
      }
      await repo.setLastEventNumber(trx, s.subscription_id, number);
    }
    await repo.insertDeliveries(trx, rows);
    return rows.length;
  }
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
