// Audited reads without a write transaction each. A read decides access and reads its data with
// plain queries (no locks), then hands its audit entries to this journal, which appends the
// entries of all reads waiting at that moment in one transaction: one commit for many reads.
// The response waits for that commit, so no answered read is ever missing from the audit log.
//
// Revocation stays exact: a batch moves each person's journal head only if the person's access
// version is still the one the read decided on. A revoke (or any other access change) that
// committed in between bumped the version, so that read is decided again instead of answered;
// a revoke still in flight holds the head, and the batch sees its result when it commits.
//
// A batch first tries one statement (autocommit, one round trip): it chains the entries onto the
// head the reads saw (or this journal last wrote) and moves the head only where it is still that
// head. Persons whose head moved meanwhile (a write, another instance) are appended again in a
// transaction that locks and reads their heads first.
//
// Because the batch checks the access version anyway, a read's first attempt may decide on the
// caller's relations as this journal last read them (access.cache.ts): one round trip less per read.
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { inTransaction, isRetryable } from '../../db/transaction.js';
import { createAccessContextCache } from '../access/access.cache.js';
import type { AccessContext } from '../access/access.types.js';
import {
  appendEntriesMovingHeads,
  appendJournal,
  chainAuditRows,
  lockHeadsWithAccessVersions,
  moveHeadsWhereTheyStand,
} from './journal.repository.js';
import type { AuditRecord, JournalContext } from './journal.types.js';

/** What a read's work function calls to record its audit entries, with the access context it decided on. */
export type RecordAudit = (context: AccessContext, records: AuditRecord[]) => void;

interface PendingRead {
  personId: string;
  accessVersion: number | undefined;
  observedHead: { seq: number; hash: string } | undefined;
  records: AuditRecord[];
  context: JournalContext;
  settle: (confirmed: boolean) => void;
  fail: (error: unknown) => void;
}

export interface ReadJournalOptions {
  /** Most reads appended by one transaction. */
  maxBatch?: number;
  /** Batches committing at the same time (each holds one pooled connection while it runs). */
  maxConcurrentBatches?: number;
  /** Relations kept between reads (access.cache.ts); false reads them for every read. */
  accessCache?: false | { maxEntries: number };
}

/** A refusal (403, 404): from cached relations it may be stale, so the read is decided again. */
const isRefusal = (error: unknown) => {
  const status = (error as { status?: unknown } | null)?.status;
  return status === 403 || status === 404;
};

// Two attempts without locks; a plan whose access keeps changing is then read under locks.
const OPTIMISTIC_ATTEMPTS = 2;
// Heads this journal wrote last, so that reads of a busy plan chain onto them without a lookup.
const REMEMBERED_HEADS = 10_000;

type Item = { record: AuditRecord; context: JournalContext };
export function createReadJournal(db: Kysely<DB>, options: ReadJournalOptions = {}) {
  const maxBatch = options.maxBatch ?? 256;
  const maxConcurrent = options.maxConcurrentBatches ?? 2;
  const accessCache = options.accessCache === false ? undefined : createAccessContextCache(db, options.accessCache?.maxEntries);
  const queue: PendingRead[] = [];
  const running = new Set<Promise<void>>();
  let scheduled = false;

  function schedule() {
    if (scheduled || queue.length === 0 || running.size >= maxConcurrent) return;
    scheduled = true;
    // Let the reads finishing in this turn of the event loop join the batch.
    setImmediate(() => {
      scheduled = false;
      if (queue.length === 0 || running.size >= maxConcurrent) return;
      const batch = queue.splice(0, maxBatch);
      const run = appendBatch(batch).finally(() => {
        running.delete(run);
        schedule();
      });
      running.add(run);
      schedule();
    });
  }

  const rememberedHeads = new Map<string, { seq: number; hash: string }>();
  function remember(personId: string, head: { seq: number; hash: string }) {
    rememberedHeads.delete(personId);
    rememberedHeads.set(personId, head);
    if (rememberedHeads.size > REMEMBERED_HEADS) rememberedHeads.delete(rememberedHeads.keys().next().value!);
  }

  async function appendBatch(batch: PendingRead[]): Promise<void> {
    const outcome = new Map<PendingRead, boolean>();
    try {
      const rest = await appendWhereHeadsStand(batch, outcome);
      if (rest.length > 0) await appendUnderLocks(rest, outcome);
      for (const p of batch) p.settle(outcome.get(p)!);
    } catch (error) {
      for (const p of batch) {
        if (outcome.has(p)) p.settle(outcome.get(p)!);
        else p.fail(error);
      }
    }
  }

  /** The one-statement try; answers the reads it could not settle. */
  async function appendWhereHeadsStand(batch: PendingRead[], outcome: Map<PendingRead, boolean>): Promise<PendingRead[]> {
    const byPerson = new Map<string, PendingRead[]>();
    for (const p of batch) byPerson.set(p.personId, [...(byPerson.get(p.personId) ?? []), p]);
    const rest: PendingRead[] = [];
    const guesses: Array<{ personId: string; head: { seq: number; hash: string }; accessVersion: number; reads: PendingRead[] }> = [];
    for (const [personId, reads] of byPerson) {
      const accessVersion = Math.max(...reads.map((p) => p.accessVersion ?? -1));
      // Versions only grow: a read that decided on an older one than another read saw is stale.
      for (const p of reads) if (p.accessVersion !== accessVersion) outcome.set(p, false);
      const current = reads.filter((p) => p.accessVersion === accessVersion);
      const seen = [rememberedHeads.get(personId), ...current.map((p) => p.observedHead)].filter((h) => h !== undefined);
      if (accessVersion < 0 || seen.length === 0) {
        rest.push(...current);
        continue;
      }
      const head = seen.reduce((a, b) => (b.seq > a.seq ? b : a));
      guesses.push({ personId, head, accessVersion, reads: current });
    }
    if (guesses.length === 0) return rest;

    const heads = new Map(guesses.map((g) => [g.personId, { person_id: g.personId, audit_seq: g.head.seq, audit_hash: g.head.hash }]));
    const rows = chainAuditRows(heads, guesses.flatMap((g) => g.reads.flatMap((p) => p.records.map((record) => ({ record, context: p.context })))));
    let moved: Set<string>;
    try {
      moved = await moveHeadsWhereTheyStand(
        db,
        guesses.map((g) => ({
          personId: g.personId,
          seen: g.head,
          accessVersion: g.accessVersion,
          next: { seq: heads.get(g.personId)!.audit_seq, hash: heads.get(g.personId)!.audit_hash },
        })),
        rows,
      );
    } catch (error) {
      // A deadlock or serialization failure rolled the statement back: append under locks instead.
      if (!isRetryable(error)) throw error;
      moved = new Set();
    }
    const done = moved;
    for (const g of guesses) {
      if (done.has(g.personId)) {
        const head = heads.get(g.personId)!;
        remember(g.personId, { seq: head.audit_seq, hash: head.audit_hash });
        for (const p of g.reads) outcome.set(p, true);
      } else {
        rememberedHeads.delete(g.personId);
        rest.push(...g.reads);
      }
    }
    return rest;
  }

  /** Locks and reads the heads, then appends the reads whose access version still stands. */
  async function appendUnderLocks(batch: PendingRead[], outcome: Map<PendingRead, boolean>): Promise<void> {
    const confirmed = await inTransaction(db, async (trx) => {
      const personIds = [...new Set(batch.map((p) => p.personId))].sort();
      // Sorted lock order, as appendJournal: batches and writes never deadlock on heads.
      const heads = await lockHeadsWithAccessVersions(trx, personIds);
      const state = new Map(heads.map((h) => [h.person_id, { ...h }]));
      const current = batch.map((p) => p.accessVersion !== undefined && state.get(p.personId)?.access_version === p.accessVersion);
      const items: Item[] = batch.flatMap((p, i) => (current[i] ? p.records.map((record) => ({ record, context: p.context })) : []));
      if (items.length > 0) {
        const rows = chainAuditRows(state, items);
        const moved = [...new Map(rows.map((r) => [r.person_id, state.get(r.person_id)!])).values()];
        await appendEntriesMovingHeads(trx, rows, moved);
        return { current, moved };
      }
      return { current, moved: [] };
    });
    for (const h of confirmed.moved) remember(h.person_id, { seq: h.audit_seq, hash: h.audit_hash });
    batch.forEach((p, i) => outcome.set(p, confirmed.current[i]!));
  }

  /** Appends one read's entries with the next batch; false when the person's access changed since the read decided. */
  function append(context: AccessContext, records: AuditRecord[], journal: JournalContext): Promise<boolean> {
    return new Promise((settle, fail) => {
      queue.push({
        personId: context.personId,
        accessVersion: context.accessVersion,
        observedHead: context.journalHead,
        records,
        context: journal,
        settle,
        fail,
      });
      schedule();
    });
  }

  return {
    /**
     * Runs an audited read of one person's plan. `work` reads with the given query builder (no
     * transaction, no locks) and calls `audit` with the access context it decided on; its answer
     * is returned once the audit entries are committed. When access changed meanwhile the work
     * runs again; after two such attempts it runs in a transaction under locks, as writes do.
     */
    async read<T>(journal: JournalContext, work: (db: Kysely<DB>, audit: RecordAudit) => Promise<T>): Promise<T> {
      for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
        // The first attempt may decide on cached relations; any doubt about them is settled by a fresh read.
        const cached = accessCache !== undefined && attempt === 0;
        const reader = accessCache === undefined ? db : cached ? accessCache.reader : accessCache.refresher;
        let recorded: { context: AccessContext; records: AuditRecord[] } | undefined;
        let value: T;
        try {
          value = await work(reader, (context, records) => {
            if (recorded) throw new Error('a read records its audit entries once');
            if (records.some((r) => r.personId !== context.personId)) throw new Error('a read audits the person it decided on');
            recorded = { context, records };
          });
        } catch (error) {
          if (cached && isRefusal(error)) continue;
          throw error;
        }
        if (!recorded) throw new Error('an audited read must record its audit entries');
        // Without an entry nothing checks the access version: an answer from cached relations is not kept.
        if (recorded.records.length === 0 && cached) continue;
        if (recorded.records.length === 0 || (await append(recorded.context, recorded.records, journal))) return value;
      }
      return inTransaction(db, async (trx) => {
        let records: AuditRecord[] = [];
        const value = await work(trx, (_context, r) => {
          records = r;
        });
        await appendJournal(trx, journal, records);
        return value;
      });
    },

    /** Waits for the batches in flight (at shutdown, before the database closes). */
    async drain(): Promise<void> {
      while (running.size > 0 || queue.length > 0) {
        schedule();
        await Promise.allSettled([...running]);
        if (running.size === 0 && queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
}

export type ReadJournal = ReturnType<typeof createReadJournal>;
