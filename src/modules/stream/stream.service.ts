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

/** How long a client waits before reconnecting (the SSE `retry:` hint), in ms. */
export const RETRY_MS = 3000;
const BATCH = 500;
const PositionCursor = z.object({ p: z.number().int().min(0) });
const Announcement = z.array(z.tuple([z.uuid(), z.number().int().min(1)])).min(1);

/** Where a connection's bytes go; `write` answers false when the client cannot keep up. */
export interface StreamSink {
  write(chunk: string): boolean;
  end(): void;
}

interface Connection {
  actor: Actor;
  sink: StreamSink;
  /** Highest outbox position this connection has decided on: the resume cursor it hands out. */
  position: number;
  /** Per person, the last seq decided on: a person's events are announced in seq order, so this dedupes. */
  decided: Map<string, number>;
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
 * The cursor is the outbox `position` (a global insert order): resuming replays the events of
 * the caller's related persons with a larger position. It is opaque to clients (base64url JSON).
 */
export const encodeStreamCursor = (position: number): string => encodeCursor({ p: position });

export function decodeStreamCursor(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    const parsed = PositionCursor.safeParse(JSON.parse(Buffer.from(value.trim(), 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data.p;
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
  /** Highest position this instance has loaded: where a look (or the catch-up poll) starts. */
  let loadedUpTo = 0;
  let hub: Promise<void> = Promise.resolve();
  let heartbeat: NodeJS.Timeout | undefined;
  let looking = false;
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

  /** Sends what the caller may receive of these events (in outbox order), deciding access now. */
  async function deliver(conn: Connection, rows: EventRow[]): Promise<void> {
    const fresh = rows.filter((r) => r.seq > (conn.decided.get(r.person_id) ?? 0));
    if (fresh.length === 0) return;
    const contexts = await loadAccessContexts(db, conn.actor, [...new Set(fresh.map((r) => r.person_id))], clock());
    for (const row of fresh) {
      if (conn.closed) return;
      if (row.seq <= (conn.decided.get(row.person_id) ?? 0)) continue;
      conn.decided.set(row.person_id, row.seq);
      conn.position = Math.max(conn.position, row.position);
      const context = contexts.get(row.person_id)!;
      if (mayReceiveEvent(context, { type: row.type, data: row.data as Record<string, unknown> })) {
        send(conn, frame(encodeStreamCursor(conn.position), row));
      }
    }
  }

  async function replay(conn: Connection, after: number): Promise<void> {
    for (let from = after; ; ) {
      const rows = await repo.relatedEventsAfter(db, conn.actor, from, clock(), BATCH);
      await deliver(conn, rows);
      if (rows.length < BATCH || conn.closed) return;
      from = rows[rows.length - 1]!.position;
    }
  }

  function broadcast(rows: EventRow[]): void {
    if (rows.length === 0) return;
    loadedUpTo = Math.max(loadedUpTo, ...rows.map((r) => r.position));
    for (const conn of connections) enqueue(conn, () => deliver(conn, rows));
  }

  /** Loads everything after what this instance has seen (for '[]', and as a safety net for lost NOTIFYs). */
  async function look(): Promise<void> {
    for (;;) {
      const rows = await repo.eventsAfter(db, loadedUpTo, BATCH);
      broadcast(rows);
      if (rows.length < BATCH) return;
    }
  }

  function onAnnouncement(payload: string): void {
    // In arrival order, one at a time: announcements reach connections in commit order.
    hub = hub.then(async () => {
      if (connections.size === 0) return;
      try {
        let refs: Array<[string, number]> | undefined;
        try {
          const parsed = Announcement.safeParse(JSON.parse(payload));
          refs = parsed.success ? parsed.data : undefined;
        } catch {
          refs = undefined;
        }
        if (refs) broadcast(await repo.eventsByRefs(db, refs));
        else await look();
      } catch (error) {
        if (!closing) log.warn({ err: error }, 'live stream: loading announced events failed');
      }
    });
  }

  function startHeartbeat(): void {
    if (heartbeat) return;
    heartbeat = setInterval(() => {
      for (const conn of connections) send(conn, ': heartbeat\n\n');
      // Also a safety net: events whose NOTIFY was lost (e.g. while the listener reconnected).
      if (looking) return;
      looking = true;
      hub = hub
        .then(() => look())
        .catch((error: unknown) => {
          if (!closing) log.warn({ err: error }, 'live stream: catching up failed');
        })
        .finally(() => {
          looking = false;
        });
    }, heartbeatMs);
    heartbeat.unref();
  }

  /** One LISTEN for the whole instance, made on the first connection and kept until close. */
  function ensureListening(): Promise<() => Promise<void>> {
    subscription ??= (async () => {
      loadedUpTo = await repo.maxPosition(db);
      return listen(EVENTS_CHANNEL, onAnnouncement);
    })().catch((error: unknown) => {
      subscription = undefined;
      throw error;
    });
    return subscription;
  }

  return {
    /**
     * Opens a connection: after the LISTEN is in place (so nothing committed from now on is
     * missed), sends the retry hint and a starting id, replays since `after` when resuming,
     * then carries live events. Returns the function to call when the client goes away.
     */
    async open(actor: Actor, sink: StreamSink, after: number | undefined): Promise<() => void> {
      await ensureListening();
      // Announcements are not loaded while nobody listens: the first stream starts from now, not
      // from where the last stream left (a fresh stream must not receive the past).
      if (connections.size === 0) loadedUpTo = Math.max(loadedUpTo, await repo.maxPosition(db));
      const conn: Connection = { actor, sink, position: after ?? 0, decided: new Map(), queue: Promise.resolve(), closed: false };
      // Registered before the starting point is read: whatever commits meanwhile is queued behind it, not lost.
      connections.add(conn);
      startHeartbeat();
      enqueue(conn, async () => {
        if (after === undefined) conn.position = Math.max(conn.position, await repo.maxPosition(db));
        // An id-only frame sets the client's Last-Event-ID without dispatching an event.
        send(conn, `retry: ${RETRY_MS}\nid: ${encodeStreamCursor(conn.position)}\n\n`);
        if (after !== undefined) await replay(conn, after);
      });
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
