// The dispatcher: claims committed outbox events (FOR UPDATE SKIP LOCKED, so instances share the
// work), queues one numbered webhook delivery per interested subscription, runs the fan-out hooks,
// and marks the events dispatched — all in one transaction. Woken by NOTIFY, with polling as the net.
// Its cost is counted in round trips per batch, not per event: the fan-outs take the whole batch,
// and the counters, deliveries and dispatch marks are written by one statement.
import type { Kysely, Transaction } from 'kysely';
import type { DatabaseHandle } from '../../db/database.js';
import type { DB } from '../../db/types.js';
import type { Clock } from '../../lib/context.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContexts } from '../access/access.repository.js';
import type { EventRow } from '../events/events.repository.js';
import { EVENTS_CHANNEL } from '../journal/journal.repository.js';
import * as repo from './webhooks.repository.js';
import { ownerActor, ownerKey, type WorkerLogger } from './webhooks.common.js';

/** A consumer of every dispatched event, given each batch in outbox order, run in the dispatching transaction (e.g. the notification inbox). */
export type FanOut = (trx: Transaction<DB>, events: EventRow[], now: Date) => Promise<void>;

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
  /**
   * Load the owners' access contexts side by side on the pool instead of one after the other in
   * the dispatching transaction (they are unlocked reads either way). Only with a pool (PostgreSQL):
   * on PGlite's single connection the transaction holds it and a read beside it would wait forever.
   */
  poolReads?: boolean;
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
      const numbered = await numberDeliveries(trx, events, now);
      for (const fanOut of fanOuts) await fanOut(trx, events, now);
      await repo.finishDispatch(trx, numbered, events.map((e) => e.position), now);
      queued = numbered.deliveries.length;
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
   * Numbers the deliveries to queue. The owner's consent is checked here as well as at sending: a
   * subscription for every plan would otherwise queue (and number) a delivery for every event of
   * every plan. Sending checks again, so a revoke in between still stops it.
   */
  async function numberDeliveries(trx: Transaction<DB>, events: EventRow[], now: Date): Promise<repo.NumberedDeliveries> {
    const personIds = [...new Set(events.map((e) => e.person_id))];
    const candidates = await repo.findCandidateSubscriptions(trx, personIds);
    // What each subscription would hear, before consent: its person, its types, from its creation on
    // (even when dispatching lags behind).
    const heard = new Map<string, EventRow[]>();
    for (const s of candidates) {
      const matching = events.filter(
        (e) =>
          (s.person_id === null || s.person_id === e.person_id) &&
          e.occurred_at.getTime() >= s.created_at.getTime() &&
          (s.event_types.includes('*') || s.event_types.includes(e.type)),
      );
      if (matching.length > 0) heard.set(s.subscription_id, matching);
    }
    const byOwner = new Map<string, repo.SubscriptionRow[]>();
    for (const s of candidates) {
      if (!heard.has(s.subscription_id)) continue;
      const key = ownerKey(s);
      byOwner.set(key, [...(byOwner.get(key) ?? []), s]);
    }
    const consent = async (subscriptions: repo.SubscriptionRow[]) => {
      const persons = [...new Set(subscriptions.flatMap((s) => heard.get(s.subscription_id)!.map((e) => e.person_id)))];
      const contexts = await loadAccessContexts(deps.poolReads ? db : trx, ownerActor(subscriptions[0]!), persons, now);
      return { subscriptions, contexts };
    };
    const groups = [...byOwner.values()];
    const decided = deps.poolReads ? await Promise.all(groups.map(consent)) : await sequentially(groups, consent);

    const wanted = new Map<string, EventRow[]>();
    for (const { subscriptions, contexts } of decided) {
      for (const s of subscriptions) {
        const matching = heard.get(s.subscription_id)!.filter((e) => {
          const context = contexts.get(e.person_id);
          return context !== undefined && mayReceiveEvent(context, { type: e.type, data: e.data as Record<string, unknown> });
        });
        if (matching.length > 0) wanted.set(s.subscription_id, matching);
      }
    }

    const locked = await repo.lockActiveSubscriptions(trx, [...wanted.keys()]);
    const numbered: repo.NumberedDeliveries = { numbers: [], deliveries: [] };
    for (const s of locked) {
      let number = s.last_event_number;
      for (const e of wanted.get(s.subscription_id)!) {
        number += 1;
        numbered.deliveries.push({ subscriptionId: s.subscription_id, eventNumber: number, personId: e.person_id, eventId: e.event_id, eventSeq: e.seq });
      }
      numbered.numbers.push({ subscriptionId: s.subscription_id, lastEventNumber: number });
    }
    return numbered;
  }
}

async function sequentially<T, R>(items: T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await f(item));
  return results;
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
