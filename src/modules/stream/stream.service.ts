// The live stream: one LISTEN per instance fans committed events out to open connections, each
// event checked against the caller's access at the moment it is sent (nothing about access is cached).
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DatabaseHandle } from '../../db/database.js';
import type { DB } from '../../db/types.js';
import type { Clock } from '../../lib/context.js';
import { encodeCursor } from '../../lib/cursor.js';
import { badRequest } from '../../lib/errors.js';
import { mayReceiveEvent } from '../access/access.policy.js';
import { loadAccessContexts } from '../access/access.repository.js';
import type { Actor } from '../access/access.types.js';
import { eventRowToEvent, type EventRow } from '../events/events.repository.js';
import { EVENTS_CHANNEL } from '../journal/journal.repository.js';
import * as repo from './stream.repository.js';
import type { StreamEventRow } from './stream.repository.js';

/** How long a client waits before reconnecting (the SSE `retry:` hint), in ms. */
export const RETRY_MS = 3000;
const BATCH = 500;
const SEQUENCE_BATCH = 5000;
const StreamCursor = z.object({ s: z.number().int().min(0) });

/** Where a connection's bytes go; `write` answers false when the client cannot keep up. */
export interface StreamSink {
  write(chunk: string): boolean;
  end(): void;
}

interface Connection {
  actor: Actor;
  sink: StreamSink;
  /** Highest stream position this connection has decided on: the resume cursor it hands out. */
  position: number;
  queue: Promise<void>;
  closed: boolean;
}

export interface StreamDeps {
  db: Kysely<DB>;
  listen: DatabaseHandle['listen'];
  clock: Clock;
  heartbeatMs: number;
  log: FastifyBaseLogger;
}

/**
 * The cursor is the stream position: given in commit order after the event committed (see
 * migration 0008), so "everything up to here" stays true when the client comes back. Resuming
 * replays the events of the caller's related persons with a larger position. It is opaque to
 * clients (base64url JSON).
 */
export const encodeStreamCursor = (position: number): string => encodeCursor({ s: position });

export function decodeStreamCursor(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    const parsed = StreamCursor.safeParse(JSON.parse(Buffer.from(value.trim(), 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data.s;
  } catch {
    // one answer for any unreadable cursor, below
  }
  throw badRequest('Last-Event-ID is not an id from this stream.', [{ path: 'Last-Event-ID', message: 'not a stream cursor' }]);
}

const frame = (cursor: string, event: EventRow): string =>
  `id: ${cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(eventRowToEvent(event))}\n\n`;

export function createStreamService({ db, listen, clock, heartbeatMs, log }: StreamDeps) {
  const connections = new Set<Connection>();
  let subscription: Promise<() => Promise<void>> | undefined;
  /** Highest stream position this instance has loaded and handed to its connections. */
  let loadedUpTo = 0;
  let hub: Promise<void> = Promise.resolve();
  /** An advance is queued on the hub and has not started: announcements meanwhile need no other. */
  let advanceQueued = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let closing = false;

  function end(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    connections.delete(conn);
    conn.sink.end();
    log.info({ openStreams: connections.size }, 'live stream ended');
    if (connections.size === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  }

  function send(conn: Connection, chunk: string): void {
    // A client that does not read is ended rather than buffered without bound; it resumes with Last-Event-ID.
    if (!conn.closed && !conn.sink.write(chunk)) end(conn);
  }

  function enqueue(conn: Connection, work: () => Promise<void>): void {
    conn.queue = conn.queue.then(async () => {
      if (conn.closed) return;
      try {
        await work();
      } catch (error) {
        if (!closing) log.warn({ err: error }, 'live stream: delivery failed; ending the stream (the client resumes)');
        end(conn);
      }
    });
  }

  /** Sends what the caller may receive of these events (in stream order), deciding access now. */
  async function deliver(conn: Connection, rows: StreamEventRow[]): Promise<void> {
    // Rows at or below the cursor were decided already (by the replay, or before this stream began).
    const fresh = rows.filter((r) => r.stream_position > conn.position);
    if (fresh.length === 0) return;
    const contexts = await loadAccessContexts(db, conn.actor, [...new Set(fresh.map((r) => r.person_id))], clock());
    for (const row of fresh) {
      if (conn.closed) return;
      if (row.stream_position <= conn.position) continue;
      conn.position = row.stream_position;
      const context = contexts.get(row.person_id)!;
      if (mayReceiveEvent(context, { type: row.type, data: row.data as Record<string, unknown> })) {
        send(conn, frame(encodeStreamCursor(conn.position), row));
      }
    }
  }

  async function replay(conn: Connection, after: number): Promise<void> {
    for (let from = after; ; ) {
      const rows = await repo.relatedStreamEventsAfter(db, conn.actor, from, clock(), BATCH);
      await deliver(conn, rows);
      if (rows.length < BATCH || conn.closed) return;
      from = rows[rows.length - 1]!.stream_position;
    }
  }

  /** Numbers every event committed so far (in batches, so a long quiet spell is caught up in steps). */
  async function sequenceCommitted(): Promise<void> {
    while ((await repo.sequenceCommittedEvents(db, SEQUENCE_BATCH)) === SEQUENCE_BATCH);
  }

  /** Numbers what committed, then hands everything after what this instance loaded to its connections. */
  async function advance(): Promise<void> {
    await sequenceCommitted();
    for (;;) {
      const rows = await repo.streamEventsAfter(db, loadedUpTo, BATCH);
      if (rows.length === 0) return;
      loadedUpTo = rows[rows.length - 1]!.stream_position;
      for (const conn of connections) enqueue(conn, () => deliver(conn, rows));
      if (rows.length < BATCH) return;
    }
  }

  /** Queues one advance on the hub unless one is already waiting there (announcements come in bursts). */
  function scheduleAdvance(): void {
    if (advanceQueued || connections.size === 0) return;
    advanceQueued = true;
    hub = hub
      .then(() => {
        advanceQueued = false;
        return connections.size === 0 ? undefined : advance();
      })
      .catch((error: unknown) => {
        if (!closing) log.warn({ err: error }, 'live stream: loading committed events failed');
      });
  }

  function startHeartbeat(): void {
    if (heartbeat) return;
    heartbeat = setInterval(() => {
      for (const conn of connections) send(conn, ': heartbeat\n\n');
      // Also a safety net: events whose NOTIFY was lost (e.g. while the listener reconnected).
      scheduleAdvance();
    }, heartbeatMs);
    heartbeat.unref();
  }

  /** One LISTEN for the whole instance, made on the first connection and kept until close. */
  function ensureListening(): Promise<() => Promise<void>> {
    // Any committed event announces itself; the payload (which events) is for other listeners:
    // the stream takes whatever committed, in the order the sequencer gives.
    subscription ??= listen(EVENTS_CHANNEL, () => scheduleAdvance()).catch((error: unknown) => {
      subscription = undefined;
      throw error;
    });
    return subscription;
  }

  return {
    /**
     * Opens a connection once the LISTEN is in place (so nothing committed from then on is missed):
     * fixes where it starts, sends the retry hint and that starting id as the first bytes, replays
     * since `after` when resuming, then carries live events. Returns the function to call when the
     * client goes away.
     */
    async open(actor: Actor, sink: StreamSink, after: number | undefined): Promise<() => void> {
      await ensureListening();
      const conn: Connection = { actor, sink, position: after ?? 0, queue: Promise.resolve(), closed: false };
      // A step of the hub, so no advance runs meanwhile: the events this connection gets from the
      // hub start right after its starting point, and the client learns that point before any event.
      const started = hub.then(async () => {
        // What committed before the stream opened is numbered now, at or below its starting point.
        await sequenceCommitted();
        const last = await repo.lastStreamPosition(db);
        // While nobody listened nothing was loaded: the hub goes on from now.
        if (connections.size === 0) loadedUpTo = Math.max(loadedUpTo, last);
        if (after === undefined) conn.position = last;
        connections.add(conn);
        startHeartbeat();
        // An id-only frame sets the client's Last-Event-ID without dispatching an event.
        send(conn, `retry: ${RETRY_MS}\nid: ${encodeStreamCursor(conn.position)}\n\n`);
        if (after !== undefined) enqueue(conn, () => replay(conn, after));
      });
      hub = started.catch(() => undefined);
      await started;
      return () => end(conn);
    },

    /** Ends every open stream and the LISTEN (graceful shutdown must not wait for clients). */
    async close(): Promise<void> {
      closing = true;
      for (const conn of [...connections]) end(conn);
      const unsubscribe = await subscription?.catch(() => undefined);
      subscription = undefined;
      await unsubscribe?.();
    },
  };
}

export type StreamService = ReturnType<typeof createStreamService>;
