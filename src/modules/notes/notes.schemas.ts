// Shapes of versioned notes: dated, attributed, never lost; a retraction is a tombstone version.
import { z } from 'zod';
import { PageQuery, Timestamp, Uuid } from '../../http/schemas.js';

export const NotePhase = z.enum(['acute', 'follow_up', 'info']).meta({
  id: 'NotePhase',
  description: 'acute, for follow-up, or for information only.',
});
export const NoteVisibility = z.enum(['team', 'professionals', 'members']).meta({
  id: 'NoteVisibility',
  description:
    'team: members with notes:read and controllers; professionals: professional and organisation members only; members: the listed member ids (and controllers).',
});

const body = z.string().min(1, 'a note has a body').refine((s) => s.trim().length > 0, 'a note has a body');
const About = z
  .object({ type: z.enum(['life_goal', 'care_goal', 'task']), id: Uuid })
  .strict()
  .meta({ id: 'NoteAbout' });

export const NoteCreate = z
  .object({
    body,
    phase: NotePhase,
    visibility: NoteVisibility.optional(),
    visibleTo: z.array(Uuid).max(100).optional(),
    about: About.optional(),
  })
  .strict()
  .meta({ id: 'NoteCreate' });
export type NoteCreate = z.infer<typeof NoteCreate>;

export const NoteRevision = z
  .object({ body, phase: NotePhase.optional() })
  .strict()
  .meta({ id: 'NoteRevision', description: 'A new version of the note; only its author may write one.' });
export type NoteRevision = z.infer<typeof NoteRevision>;

export const NoteAuthor = z
  .object({ name: z.string().nullable(), role: z.string(), memberId: z.uuid().nullable() })
  .meta({ id: 'NoteAuthor' });

export const Note = z
  .object({
    id: z.uuid(),
    noteId: z.uuid(),
    personId: z.uuid(),
    version: z.number().int(),
    body: z.string().nullable().meta({ description: 'Null once retracted; earlier versions stay readable.' }),
    phase: NotePhase,
    visibility: NoteVisibility,
    visibleTo: z.array(z.uuid()),
    about: About.nullable(),
    author: NoteAuthor,
    retracted: z.boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Note' });
export type Note = z.infer<typeof Note>;

export const NoteVersion = z
  .object({
    noteId: z.uuid(),
    version: z.number().int(),
    body: z.string().nullable(),
    phase: NotePhase,
    retracted: z.boolean(),
    createdAt: Timestamp,
  })
  .meta({ id: 'NoteVersion' });
export type NoteVersion = z.infer<typeof NoteVersion>;

export const NoteParams = z.object({ personId: Uuid, noteId: Uuid });
export const NoteVersionParams = z.object({ personId: Uuid, noteId: Uuid, version: z.coerce.number().int().min(1) });
export const NotesQuery = PageQuery.extend({
  phase: NotePhase.optional(),
  since: Timestamp.optional().meta({ description: 'Only notes written or changed since this moment.' }),
});
