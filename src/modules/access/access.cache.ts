// Relations recently read, so that an audited read can decide access without its own round trip.
//
// Only the read journal's first attempt uses them, and a cached decision is never final on its own:
// the journal writes the read's audit entry only if the person's access version is still the one
// the cached relations carry (every change to what the policy reads bumps it, migrations/0007),
// and decides the read again from the database otherwise. A refusal or an unaudited answer from
// cached relations is also decided again, so a grant given a moment ago counts at once.
// The policy still evaluates the relations at the request's own `now`: expiry needs no eviction.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { AccessContext, Actor } from './access.types.js';

type Cached = Pick<AccessContext, 'relations' | 'accessVersion' | 'journalHead'>;

/** How a reader handed out by an access cache treats relations: use a cached entry, or read and store. */
export type CachedAccessMode = 'use' | 'refresh';

export interface AccessContextCache {
  /** Decides from cached relations where it holds them (a read's first attempt). */
  readonly reader: Kysely<DB>;
  /** Reads relations from the database and stores them (a read decided again). */
  readonly refresher: Kysely<DB>;
  readonly size: () => number;
}

interface Store {
  mode: CachedAccessMode;
  entries: Map<string, Cached>;
  maxEntries: number;
}

const stores = new WeakMap<Kysely<DB>, Store>();

// The key holds every claim the relation query filters on: a token with another org or INSZ is another caller.
const keyOf = (actor: Actor, personId: string) => `${personId}\u0000${actor.sub}\u0000${actor.org ?? ''}\u0000${actor.insz ?? ''}`;

// A no-op plugin makes a distinct Kysely instance over the same pool: the instance is the reader's identity.
const marker = { transformQuery: (args: { node: unknown }) => args.node, transformResult: async (args: { result: unknown }) => args.result };

export function createAccessContextCache(db: Kysely<DB>, maxEntries = 10_000): AccessContextCache {
  const entries = new Map<string, Cached>();
  const reader = db.withPlugin(marker as never);
  const refresher = db.withPlugin(marker as never);
  stores.set(reader, { mode: 'use', entries, maxEntries });
  stores.set(refresher, { mode: 'refresh', entries, maxEntries });
  return { reader, refresher, size: () => entries.size };
}

/** Loads a context through `db`'s cache when `db` is a cache's reader; straight from `load` otherwise. */
export async function throughCache(
  db: Kysely<DB>,
  actor: Actor,
  personId: string,
  now: Date,
  load: () => Promise<AccessContext>,
): Promise<AccessContext> {
  const store = db.isTransaction ? undefined : stores.get(db);
  if (!store) return load();
  const key = keyOf(actor, personId);
  const hit = store.mode === 'use' ? store.entries.get(key) : undefined;
  if (hit) {
    // Most recently used last, so that the oldest entry is the first one evicted.
    store.entries.delete(key);
    store.entries.set(key, hit);
    return { personId, actor, now, relations: hit.relations, accessVersion: hit.accessVersion, journalHead: hit.journalHead };
  }
  const context = await load();
  // Without a version the journal cannot check the entry (no such person): nothing to keep.
  if (context.accessVersion !== undefined) {
    store.entries.delete(key);
    store.entries.set(key, { relations: context.relations, accessVersion: context.accessVersion, journalHead: context.journalHead });
    if (store.entries.size > store.maxEntries) store.entries.delete(store.entries.keys().next().value!);
  }
  return context;
}
