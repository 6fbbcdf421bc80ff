// Appends audit entries (hash-chained per person) and outbox events in the caller's transaction.
// Locking the person's sequence row orders entries and events per person in commit order.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/types.js';
import { newId } from '../../lib/ids.js';
import type { AuditRecord, EventRecord, JournalContext } from './journal.types.js';

export interface AuditEntryRow {
  person_id: string;
  seq: number;
  occurred_at: Date;
  actor_sub: string;
  actor_name: string | null;
  actor_role: string;
  actor_member_id: string | null;
  on_behalf: boolean;
  action: string;
  resource_type: string;
  resource_id: string | null;
  reason: string | null;
  request_id: string | null;
  prev_hash: string;
}

/** The chain hash of one entry: sha256 over the previous hash and the entry's canonical fields. */
export function auditEntryHash(entry: AuditEntryRow): string {
  const canonical = JSON.stringify([
    entry.person_id,
    entry.seq,
    entry.occurred_at.toISOString(),
    entry.actor_sub,
    entry.actor_name,
    entry.actor_role,
    entry.actor_member_id,
    entry.on_behalf,
    entry.action,
    entry.resource_type,
    entry.resource_id,
    entry.reason,
    entry.request_id,
  ]);
  return createHash('sha256').update(entry.prev_hash).update('\n').update(canonical).digest('hex');
}

/** Creates a person's sequence row; called in the transaction that creates the person. */
export async function initPersonJournal(trx: Transaction<DB>, personId: string): Promise<void> {
  await trx.insertInto('person_sequences').values({ person_id: personId }).execute();
}

export interface ChainHead {
  person_id: string;
  audit_seq: number;
  audit_hash: string;
}

/** Turns audit records into chained rows, moving each person's head (in `heads`) as it goes. */
export function chainAuditRows(heads: Map<string, ChainHead>, items: Array<{ record: AuditRecord; context: JournalContext }>) {
  return items.map(({ record, context }) => {
    const head = heads.get(record.personId);
    if (!head) throw new Error('person journal missing');
    head.audit_seq += 1;
    const row: AuditEntryRow = {
      person_id: record.personId,
      seq: head.audit_seq,
      occurred_at: context.now,
      actor_sub: record.actor.sub,
      actor_name: record.actor.name ?? null,
      actor_role: record.actor.role,
      actor_member_id: record.actor.memberId ?? null,
      on_behalf: record.actor.onBehalf,
      action: record.action,
      resource_type: record.resourceType,
      resource_id: record.resourceId ?? null,
      reason: record.reason ?? null,
      request_id: context.requestId ?? null,
      prev_hash: head.audit_hash,
    };
    const hash = auditEntryHash(row);
    head.audit_hash = hash;
    return { ...row, hash };
  });
}

interface JournalHead extends ChainHead {
  event_seq: number;
}

// Heads a transaction already holds locked: the access query of a write locks the person's head
// with the relations (see access.repository.ts), so the transaction's appends need no lookup.
const heldHeads = new WeakMap<Kysely<DB>, Map<string, JournalHead>>();

/** Records a head that `trx` has locked FOR UPDATE (its values as locked). */
export function holdJournalHead(trx: Kysely<DB>, head: JournalHead): void {
  let held = heldHeads.get(trx);
  if (!held) heldHeads.set(trx, (held = new Map()));
  held.set(head.person_id, { ...head });
}

export async function appendJournal(
  trx: Transaction<DB>,
  context: JournalContext,
  audit: AuditRecord[],
  events: EventRecord[] = [],
): Promise<void> {
  if (audit.length === 0 && events.length === 0) return;
  const personIds = [...new Set([...audit.map((a) => a.personId), ...events.map((e) => e.personId)])].sort();
  const held = heldHeads.get(trx);
  const missing = personIds.filter((id) => !held?.has(id));
  // Sorted lock order: two transactions touching the same persons can never deadlock.
  const locked =
    missing.length === 0
      ? []
      : await trx
          .selectFrom('person_sequences')
          .select(['person_id', 'audit_seq', 'audit_hash', 'event_seq'])
          .where('person_id', 'in', missing)
          .orderBy('person_id')
          .forUpdate()
          .execute();
  const heads = [...personIds.flatMap((id) => (held?.has(id) ? [held.get(id)!] : [])), ...locked];
  const state = new Map(heads.map((h) => [h.person_id, { ...h }]));

  const auditRows = chainAuditRows(state, audit.map((record) => ({ record, context })));

  const eventRows = events.map((event) => {
    const head = state.get(event.personId);
    if (!head) throw new Error('person journal missing');
    head.event_seq += 1;
    return {
      person_id: event.personId,
      seq: head.event_seq,
      event_id: newId(),
      type: event.type,
      occurred_at: context.now,
      data: JSON.stringify(stripUndefined(event.data)),
    };
  });

  const changed = [...state.values()];
  // One statement appends the entries and events, moves the heads and, when events were recorded,
  // wakes the dispatcher and the live streams of every instance (NOTIFY is delivered at commit,
  // never for a rollback). A data-modifying WITH always runs to completion.
  const appendAudit = auditRows.length > 0 ? sql`appended_audit as (${trx.insertInto('audit_entries').values(auditRows)}),` : sql``;
  const appendEvents = eventRows.length > 0 ? sql`appended_events as (${trx.insertInto('outbox_events').values(eventRows)}),` : sql``;
  const wake = eventRows.length > 0 ? sql`pg_notify(${EVENTS_CHANNEL}, ${notifyPayload(eventRows)})` : sql`null`;
  await sql`
    with ${appendAudit} ${appendEvents} moved as (
      update person_sequences as s
      set audit_seq = v.audit_seq, audit_hash = v.audit_hash, event_seq = v.event_seq
      from (values ${sql.join(
        changed.map((h) => sql`(${h.person_id}::uuid, ${h.audit_seq}::bigint, ${h.audit_hash}, ${h.event_seq}::bigint)`),
      )}) as v(person_id, audit_seq, audit_hash, event_seq)
      where s.person_id = v.person_id
      returning s.person_id
    )
    select ${wake}`.execute(trx);
  for (const head of changed) holdJournalHead(trx, head);
}

/** The channel on which committed events are announced (payload: notifyPayload). */
export const EVENTS_CHANNEL = 'kring_events';

/** [[personId, seq], ...] of the committed events; '[]' (meaning: look) when too long for NOTIFY. */
function notifyPayload(rows: Array<{ person_id: string; seq: number }>): string {
  const payload = JSON.stringify(rows.map((r) => [r.person_id, r.seq]));
  return payload.length <= 7000 ? payload : '[]';
}

function stripUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export async function listAuditEntries(
  db: Kysely<DB>,
  personId: string,
  options: { afterSeq?: number; limit: number; order?: 'asc' | 'desc' },
) {
  let query = db.selectFrom('audit_entries').selectAll().where('person_id', '=', personId);
  if (options.afterSeq !== undefined) {
    query = query.where('seq', options.order === 'desc' ? '<' : '>', options.afterSeq);
  }
  return query
    .orderBy('seq', options.order ?? 'asc')
    .limit(options.limit)
    .execute();
}

export async function listOutboxEvents(db: Kysely<DB>, personId: string) {
  return db.selectFrom('outbox_events').selectAll().where('person_id', '=', personId).orderBy('seq').execute();
}

/** A page of a person's audit log, newest first, with the display name of members who acted. */
export async function listAccessLog(db: Kysely<DB>, personId: string, options: { beforeSeq?: number; limit: number }) {
  let query = db
    .selectFrom('audit_entries as a')
    .leftJoin('care_team_members as m', (join) =>
      join.onRef('m.person_id', '=', 'a.person_id').onRef('m.member_id', '=', 'a.actor_member_id'),
    )
    .selectAll('a')
    .select(['m.display_name as member_display_name', 'm.discipline_display as member_discipline'])
    .where('a.person_id', '=', personId);
  if (options.beforeSeq !== undefined) query = query.where('a.seq', '<', options.beforeSeq);
  return query.orderBy('a.seq', 'desc').limit(options.limit).execute();
}

export async function readChainHead(db: Kysely<DB>, personId: string) {
  return db
    .selectFrom('person_sequences')
    .select(['audit_seq', 'audit_hash'])
    .where('person_id', '=', personId)
    .executeTakeFirst();
}

/** Walks a person's whole chain in batches; reports whether every link and hash holds. */
export async function verifyAuditChain(
  db: Kysely<DB>,
  personId: string,
): Promise<{ valid: boolean; entries: number; firstInvalidSeq: number | null }> {
  const BATCH = 1000;
  let previousHash = '';
  let expectedSeq = 1;
  let entries = 0;
  for (;;) {
    const rows = await db
      .selectFrom('audit_entries')
      .selectAll()
      .where('person_id', '=', personId)
      .where('seq', '>=', expectedSeq)
      .orderBy('seq')
      .limit(BATCH)
      .execute();
    for (const row of rows) {
      const intact = row.seq === expectedSeq && row.prev_hash === previousHash && auditEntryHash(row) === row.hash;
      if (!intact) return { valid: false, entries: entries + rows.indexOf(row), firstInvalidSeq: expectedSeq };
      previousHash = row.hash;
      expectedSeq += 1;
    }
    entries += rows.length;
    if (rows.length < BATCH) break;
  }
  // The head guards the tail: removing the newest entries breaks the match.
  const head = await readChainHead(db, personId);
  if (!head || head.audit_seq !== entries || head.audit_hash !== previousHash) {
    return { valid: false, entries, firstInvalidSeq: entries + 1 };
  }
  return { valid: true, entries, firstInvalidSeq: null };
}
