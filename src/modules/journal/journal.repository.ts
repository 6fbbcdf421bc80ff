// Appends audit entries (hash-chained per person) and outbox events in the caller's transaction.
// Locking the person's sequence row orders entries and events per person in commit order.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
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

// ---- the read journal's statements (read-journal.ts decides when they run) ----------------

type AuditRow = ReturnType<typeof chainAuditRows>[number];

/** Inserts entries from unnest arrays: one statement text (one prepared statement) whatever their number. */
function insertEntries(rows: AuditRow[]) {
  return sql`insert into audit_entries (person_id, seq, occurred_at, actor_sub, actor_name, actor_role, actor_member_id,
      on_behalf, action, resource_type, resource_id, reason, request_id, prev_hash, hash)
    select * from unnest(${rows.map((r) => r.person_id)}::uuid[], ${rows.map((r) => r.seq)}::bigint[],
      ${rows.map((r) => r.occurred_at.toISOString())}::timestamptz[], ${rows.map((r) => r.actor_sub)}::text[],
      ${rows.map((r) => r.actor_name)}::text[], ${rows.map((r) => r.actor_role)}::text[],
      ${rows.map((r) => r.actor_member_id)}::uuid[], ${rows.map((r) => r.on_behalf)}::boolean[],
      ${rows.map((r) => r.action)}::text[], ${rows.map((r) => r.resource_type)}::text[],
      ${rows.map((r) => r.resource_id)}::uuid[], ${rows.map((r) => r.reason)}::text[],
      ${rows.map((r) => r.request_id)}::text[], ${rows.map((r) => r.prev_hash)}::text[], ${rows.map((r) => r.hash)}::text[])
      as r(person_id, seq, occurred_at, actor_sub, actor_name, actor_role, actor_member_id, on_behalf, action, resource_type,
        resource_id, reason, request_id, prev_hash, hash)`;
}

export interface HeadMove {
  personId: string;
  /** The head the entries were chained onto, and the access version the reads decided on. */
  seen: { seq: number; hash: string };
  accessVersion: number;
  /** The head after the entries. */
  next: { seq: number; hash: string };
}

/**
 * One autocommit statement: moves each head only where it is still as seen (and the access
 * version unchanged), and appends the entries of exactly those persons. Heads are locked in
 * person order first, as everywhere, so statements running side by side cannot deadlock on them.
 * Answers the persons whose entries were appended.
 */
export async function moveHeadsWhereTheyStand(db: Kysely<DB>, moves: HeadMove[], rows: AuditRow[]): Promise<Set<string>> {
  const { rows: moved } = await sql<{ person_id: string }>`
    with locked as materialized (
      select person_id from person_sequences where person_id = any(${moves.map((m) => m.personId)}::uuid[])
      order by person_id for update
    ), moved as (
      update person_sequences as s set audit_seq = v.audit_seq, audit_hash = v.audit_hash
      from unnest(${moves.map((m) => m.personId)}::uuid[], ${moves.map((m) => m.seen.seq)}::bigint[],
        ${moves.map((m) => m.seen.hash)}::text[], ${moves.map((m) => m.accessVersion)}::bigint[],
        ${moves.map((m) => m.next.seq)}::bigint[], ${moves.map((m) => m.next.hash)}::text[])
        as v(person_id, seen_seq, seen_hash, access_version, audit_seq, audit_hash)
      where s.person_id = v.person_id and s.person_id in (select person_id from locked)
        and s.audit_seq = v.seen_seq and s.audit_hash = v.seen_hash and s.access_version = v.access_version
      returning s.person_id
    ), appended as (
      ${insertEntries(rows)} where person_id in (select person_id from moved)
    )
    select person_id from moved`.execute(db);
  return new Set(moved.map((r) => r.person_id));
}

/** A person's journal head and access version as a write decided on them without locks. */
export interface SeenHead {
  personId: string;
  seq: number;
  hash: string;
  eventSeq: number;
  accessVersion: number;
}

/**
 * A write decided without locks, with its audit entries and events, in one autocommit statement.
 * The statement moves the person's head only where it still stands as the decision saw it (same
 * chain head, same event sequence, same access version): a revoke, any other access change, or a
 * write in between moved it, and then nothing is written and the answer is undefined, so that the
 * caller writes again in a transaction under locks. A head another transaction holds counts as
 * moved (SKIP LOCKED): the write queues under locks instead of waiting here first.
 * `write.ctes` are the write's own statements; each must insert only `where exists (select 1 from
 * moved)`. `write.result` selects the answer from them. Events are announced (NOTIFY, at commit)
 * only when the write happened.
 */
export async function appendJournalWhereHeadStands<R>(
  db: Kysely<DB>,
  seen: SeenHead,
  context: JournalContext,
  audit: AuditRecord[],
  events: EventRecord[],
  write: { ctes: RawBuilder<unknown>; result: RawBuilder<unknown> },
): Promise<R | undefined> {
  if (audit.some((a) => a.personId !== seen.personId) || events.some((e) => e.personId !== seen.personId)) {
    throw new Error('a lock-free write journals the person it decided on');
  }
  const head = { person_id: seen.personId, audit_seq: seen.seq, audit_hash: seen.hash };
  const auditRows = chainAuditRows(new Map([[seen.personId, head]]), audit.map((record) => ({ record, context })));
  const eventRows = events.map((event, i) => ({
    person_id: event.personId,
    seq: seen.eventSeq + i + 1,
    event_id: newId(),
    type: event.type,
    occurred_at: context.now,
    data: JSON.stringify(stripUndefined(event.data)),
  }));
  const appendEvents =
    eventRows.length === 0
      ? sql``
      : sql`appended_events as (
      insert into outbox_events (person_id, seq, event_id, type, occurred_at, data)
      select * from unnest(${eventRows.map((e) => e.person_id)}::uuid[], ${eventRows.map((e) => e.seq)}::bigint[],
        ${eventRows.map((e) => e.event_id)}::uuid[], ${eventRows.map((e) => e.type)}::text[],
        ${eventRows.map((e) => e.occurred_at.toISOString())}::timestamptz[], ${eventRows.map((e) => e.data)}::jsonb[])
      where exists (select 1 from moved)
    ),`;
  const wake = eventRows.length === 0 ? sql`null` : sql`(select pg_notify(${EVENTS_CHANNEL}, ${notifyPayload(eventRows)}) from moved)`;
  const { rows } = await sql<R>`
    with standing as materialized (
      select person_id from person_sequences
      where person_id = ${seen.personId} and audit_seq = ${seen.seq} and audit_hash = ${seen.hash}
        and event_seq = ${seen.eventSeq} and access_version = ${seen.accessVersion}
      for update skip locked
    ), moved as (
      update person_sequences
      set audit_seq = ${head.audit_seq}, audit_hash = ${head.audit_hash}, event_seq = ${seen.eventSeq + eventRows.length}
      where person_id in (select person_id from standing)
      returning person_id
    ), appended_audit as (
      ${insertEntries(auditRows)} where exists (select 1 from moved)
    ), ${appendEvents} ${write.ctes}
    select written.*, ${wake} as announced from (${write.result}) as written`.execute(db);
  return rows[0];
}

/** Locks the heads (in person order) and reads them with the persons' access versions. */
export async function lockHeadsWithAccessVersions(trx: Transaction<DB>, personIds: string[]) {
  const { rows } = await sql<ChainHead & { access_version: number }>`
    select person_id, audit_seq, audit_hash, access_version from person_sequences
    where person_id = any(${[...personIds].sort()}::uuid[]) order by person_id for update`.execute(trx);
  return rows;
}

/** Appends entries and moves the heads (locked by the caller) in one statement. */
export async function appendEntriesMovingHeads(trx: Transaction<DB>, rows: AuditRow[], heads: ChainHead[]): Promise<void> {
  // A data-modifying WITH always runs to completion.
  await sql`
    with appended as (${insertEntries(rows)})
    update person_sequences as s set audit_seq = v.audit_seq, audit_hash = v.audit_hash
    from unnest(${heads.map((h) => h.person_id)}::uuid[], ${heads.map((h) => h.audit_seq)}::bigint[],
      ${heads.map((h) => h.audit_hash)}::text[]) as v(person_id, audit_seq, audit_hash)
    where s.person_id = v.person_id`.execute(trx);
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
