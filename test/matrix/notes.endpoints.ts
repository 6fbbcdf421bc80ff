// Versioned notes in the access matrix. Members who may read only their own notes (without the
// scope, revoked, expired or ended) find no one else's note: 404, as for any note they cannot see.
import { GOAL_AND_NOTE_WRITERS, READERS, type CallerKind, type Endpoint, type Fixture } from './matrix.js';

export async function freshNote(f: Fixture, body: Record<string, unknown> = {}): Promise<string> {
  const res = await f.app.inject({
    method: 'POST',
    url: `/v1/persons/${f.personId}/notes`,
    headers: f.controller.headers,
    payload: { body: 'Slaapt slecht sinds de val.', phase: 'follow_up', ...body },
  });
  if (res.statusCode !== 201) throw new Error(`note: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

const OWN_NOTES_ONLY: CallerKind[] = ['member_without_scope', 'member_expired', 'member_revoked', 'member_ended'];
const notFoundForOwnOnly = Object.fromEntries(OWN_NOTES_ONLY.map((k) => [k, 404])) as Partial<Record<CallerKind, number>>;
const onlyTheAuthor = Object.fromEntries(READERS.filter((k) => k !== 'person').map((k) => [k, 403])) as Partial<Record<CallerKind, number>>;

export const notesEndpoints: Endpoint[] = [
  { name: 'create note', method: 'POST', url: (f) => `/v1/persons/${f.personId}/notes`, body: () => ({ body: 'Eet weer beter.', phase: 'info' }), ok: 201, allowed: GOAL_AND_NOTE_WRITERS },
  { name: 'list notes', method: 'GET', url: (f) => `/v1/persons/${f.personId}/notes`, ok: 200, allowed: [...READERS, ...OWN_NOTES_ONLY] },
  { name: 'get note', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/notes/${await freshNote(f)}`, ok: 200, allowed: READERS, special: notFoundForOwnOnly },
  {
    name: 'revise note (author: the person)',
    method: 'PUT',
    url: async (f) => `/v1/persons/${f.personId}/notes/${await freshNote(f)}`,
    headers: () => ({ 'if-match': '"1"' }),
    body: () => ({ body: 'Slaapt slecht sinds de val; arts verwittigd.' }),
    ok: 200,
    allowed: ['person'],
    special: { ...notFoundForOwnOnly, ...onlyTheAuthor },
  },
  {
    name: 'retract note (author: the person)',
    method: 'DELETE',
    url: async (f) => `/v1/persons/${f.personId}/notes/${await freshNote(f)}`,
    headers: () => ({ 'if-match': '"1"' }),
    ok: 200,
    allowed: ['person'],
    special: { ...notFoundForOwnOnly, ...onlyTheAuthor },
  },
  { name: 'note versions', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/notes/${await freshNote(f)}/versions`, ok: 200, allowed: READERS, special: notFoundForOwnOnly },
  { name: 'note version', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/notes/${await freshNote(f)}/versions/1`, ok: 200, allowed: READERS, special: notFoundForOwnOnly },
];
