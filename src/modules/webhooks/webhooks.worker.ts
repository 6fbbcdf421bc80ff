// The background half of push events, as the service and `npm run worker` both run it: the
// dispatcher (woken by NOTIFY, polling as the net) feeding the webhook sender of the same process.
import type { DatabaseHandle } from '../../db/database.js';
import type { Clock } from '../../lib/context.js';
import { createDispatcher, type FanOut } from './dispatcher.js';
import { createSender } from './sender.js';
import type { WorkerLogger } from './webhooks.common.js';

export interface WebhookWorkerDeps {
  database: Pick<DatabaseHandle, 'db' | 'listen'> & Partial<Pick<DatabaseHandle, 'kind'>>;
  clock: Clock;
  allowPrivate: boolean;
  logger?: WorkerLogger;
  /** Consumers of every dispatched event, run in the dispatching transaction. */
  fanOuts?: FanOut[];
}

export function createWebhookWorker({ database, clock, allowPrivate, logger, fanOuts }: WebhookWorkerDeps) {
  const sender = createSender({ db: database.db, clock, allowPrivate, logger });
  const dispatcher = createDispatcher({
    db: database.db,
    clock,
    fanOuts,
    listen: database.listen,
    logger,
    poolReads: database.kind === 'postgres',
    onDeliveriesQueued: () => sender.wake(),
  });
  return {
    dispatcher,
    sender,
    async start(): Promise<void> {
      sender.start();
      await dispatcher.start();
    },
    /** Stops taking work, waits for the batch in progress; sends in flight are aborted and re-queued. */
    async stop(): Promise<void> {
      await dispatcher.stop();
      await sender.stop();
    },
  };
}

export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
