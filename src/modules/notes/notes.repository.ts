// SQL for notes and their append-only versions; what a caller may read is filtered in SQL.
import { sql, type ExpressionBuilder, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { DB, Notes } from '../../db/types.js';
import type { NoteFilter } from '../access/access.policy.js';

export type NoteRow = Selectable<Notes> & { body: string | null; member_display_name: string | null };

/** The notes a caller may read, as a WHERE clause (the policy decided the filter). */
export function visibleTo(filter: NoteFilter) {
  return (eb: ExpressionBuilder<DB & { n: Notes }, 'n'>) => {
    const own = [eb('n.author_sub', '=', filter.sub)];
    if (filter.memberIds.length > 0) own.push(eb('n.author_member_id', 'in', filter.memberIds));
    if (filter.kind === 'own') return eb.or(own);
    const visible = [...own, eb('n.visibility', '=', 'team')];
    if (filter.professional) visible.push(eb('n.visibility', '=', 'professionals'));
    if (filter.controller) visible.push(eb('n.visibility', '=', 'members'));
    else if (filter.memberIds.length > 0) {
      visible.push(
        eb.and([eb('n.visibility', '=', 'members'), sql<boolean>`n.visible_to && ${sql.val(filter.memberIds)}::uuid[]`]),
      );
    }
    return eb.or(visible);
  };
}

export const withCurrentBody = (db: Kysely<DB>) =>
  db
    .selectFrom('notes as n')
    .innerJoin('note_versions as v', (join) =>
      join.onRef('v.person_id', '=', 'n.person_id').onRef('v.note_id', '=', 'n.note_id').onRef('v.version', '=', 'n.version'),
    )
    .leftJoin('care_team_members as m', (join) =>
      join.onRef('m.person_id', '=', 'n.person_id').onRef('m.member_id', '=', 'n.author_member_id'),
    )
    .selectAll('n')
    .select(['v.body', 'm.display_name as member_display_name']);

/** Inserts a note and its first version; answers the note as findNote would, in the same round trip. */
export async function insertNote(db: Kysely<DB>, values: Insertable<Notes>, body: string): Promise<NoteRow> {
  // A data-modifying WITH always runs, and the version's foreign key is checked at the end of
  // the statement, when the note is there.
  const firstVersion = { person_id: values.person_id, note_id: values.note_id, version: 1, body, phase: values.phase, created_at: values.created_at };
  const { rows } = await sql<NoteRow>`
    with note as (${db.insertInto('notes').values(values).returningAll()}),
      version as (${db.insertInto('note_versions').values(firstVersion).returning('body')})
    select note.*, version.body, m.display_name as member_display_name
    from note cross join version
    left join care_team_members m on m.person_id = note.person_id and m.member_id = note.author_member_id`.execute(db);
  return rows[0]!;
}

/**
 * A note and its first version as the write of appendJournalWhereHeadStands: inserted only if
 * the person's journal head still stands as the access decision saw it; answers as insertNote.
 */
export function insertNoteWhereHeadStands(values: Insertable<Notes> & { visible_to: string[]; created_at: Date; updated_at: Date }, body: string) {
  return {
    ctes: sql`note as (
      insert into notes (person_id, note_id, phase, visibility, visible_to, about_type, about_id,
        author_sub, author_name, author_role, author_member_id, created_at, updated_at)
      select ${values.person_id}::uuid, ${values.note_id}::uuid, ${values.phase}, ${values.visibility},
        ${values.visible_to}::uuid[], ${values.about_type ?? null}, ${values.about_id ?? null}::uuid,
        ${values.author_sub}, ${values.author_name ?? null}, ${values.author_role}, ${values.author_member_id ?? null}::uuid,
        ${values.created_at.toISOString()}::timestamptz, ${values.updated_at.toISOString()}::timestamptz
      where exists (select 1 from moved)
      returning *
    ), version as (
      insert into note_versions (person_id, note_id, version, body, phase, created_at)
      select person_id, note_id, 1, ${body}, phase, created_at from note
      returning body
    )`,
    result: sql`select note.*, version.body, m.display_name as member_display_name
      from note cross join version
      left join care_team_members m on m.person_id = note.person_id and m.member_id = note.author_member_id`,
  };
}

export async function findNote(db: Kysely<DB>, personId: string, noteId: string, filter: NoteFilter): Promise<NoteRow | undefined> {
  return withCurrentBody(db)
    .where('n.person_id', '=', personId)
    .where('n.note_id', '=', noteId)
    .where(visibleTo(filter))
    .executeTakeFirst();
}

export type NotesQuery = { phase?: string; since?: Date; beforeId?: string; limit: number };

/** The query of listNotes, unexecuted (the overview nests it). */
export function notesQuery(db: Kysely<DB>, personId: string, filter: NoteFilter, options: NotesQuery) {
  let query = withCurrentBody(db).where('n.person_id', '=', personId).where(visibleTo(filter));
  if (options.phase) query = query.where('n.phase', '=', options.phase);
  if (options.since) query = query.where('n.updated_at', '>=', options.since);
  if (options.beforeId) query = query.where('n.note_id', '<', options.beforeId);
  return query.orderBy('n.note_id', 'desc').limit(options.limit);
}

export async function listNotes(db: Kysely<DB>, personId: string, filter: NoteFilter, options: NotesQuery): Promise<NoteRow[]> {
  return notesQuery(db, personId, filter, options).execute();
}

/**
 * Appends a version when the note is still at the expected version. Two concurrent revisions
 * race on this conditional update: exactly one moves the version, the other gets nothing.
 */
export async function appendVersion(
  db: Kysely<DB>,
  note: { personId: string; noteId: string; expectedVersion: number },
  version: { body: string | null; phase: string; retracted: boolean; at: Date },
): Promise<number | undefined> {
  const updated = await db
    .updateTable('notes')
    .set((eb) => ({
      version: eb('version', '+', 1),
      phase: version.phase,
      updated_at: version.at,
      ...(version.retracted ? { retracted_at: version.at } : {}),
    }))
    .where('person_id', '=', note.personId)
    .where('note_id', '=', note.noteId)
    .where('version', '=', note.expectedVersion)
    .where('retracted_at', 'is', null)
    .returning('version')
    .executeTakeFirst();
  if (!updated) return undefined;
  await db
    .insertInto('note_versions')
    .values({
      person_id: note.personId,
      note_id: note.noteId,
      version: updated.version,
      body: version.body,
      phase: version.phase,
      retracted: version.retracted,
      created_at: version.at,
    })
    .execute();
  return updated.version;
}

export async function listVersions(db: Kysely<DB>, personId: string, noteId: string, options: { afterVersion?: number; limit: number }) {
  let query = db.selectFrom('note_versions').selectAll().where('person_id', '=', personId).where('note_id', '=', noteId);
  if (options.afterVersion !== undefined) query = query.where('version', '>', options.afterVersion);
  return query.orderBy('version').limit(options.limit).execute();
}

export async function findVersion(db: Kysely<DB>, personId: string, noteId: string, version: number) {
  return db
    .selectFrom('note_versions')
    .selectAll()
    .where('person_id', '=', personId)
    .where('note_id', '=', noteId)
    .where('version', '=', version)
    .executeTakeFirst();
}

/** Whether the thing a note is about exists for this person. */
export async function aboutExists(db: Kysely<DB>, personId: string, about: { type: string; id: string }): Promise<boolean> {
  const table = about.type === 'life_goal' ? 'life_goals' : about.type === 'care_goal' ? 'care_goals' : 'tasks';
  const column = about.type === 'life_goal' ? 'life_goal_id' : about.type === 'care_goal' ? 'care_goal_id' : 'task_id';
  const row = await db
    .selectFrom(table)
    .select(sql<number>`1`.as('one'))
    .where('person_id', '=', personId)
    .where(sql.ref(column), '=', about.id)
    .executeTakeFirst();
  return row !== undefined;
}
