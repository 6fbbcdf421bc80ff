// Tasks in the access matrix (GET /v1/me/tasks is not person-scoped: see test/tasks.test.ts).
import { READERS, WRITERS, type Endpoint, type Fixture } from './matrix.js';

/** A fresh task, created by the controller and assigned to the member with every scope. */
export async function freshTask(f: Fixture): Promise<string> {
  const res = await f.app.inject({
    method: 'POST',
    url: `/v1/persons/${f.personId}/tasks`,
    headers: f.controller.headers,
    payload: { title: 'Steunkousen aantrekken', assigneeMemberId: f.memberId },
  });
  if (res.statusCode !== 201) throw new Error(`tasks: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

// One task per plan serves every cell: the controller's requests count against the rate limit
// (one window for the whole matrix), and a fresh task per cell would exhaust it.
const shared = new Map<string, Promise<string>>();
const sharedTask = (f: Fixture): Promise<string> => {
  if (!shared.has(f.personId)) shared.set(f.personId, freshTask(f));
  return shared.get(f.personId)!;
};
// Each cell asks for another title, so that an allowed change is a change and not a no-op.
let edits = 0;

// Emergency access does not read tasks; limited representatives read but do not write them.
export const tasksEndpoints: Endpoint[] = [
  {
    name: 'create task',
    method: 'POST',
    url: (f) => `/v1/persons/${f.personId}/tasks`,
    body: (f) => ({ title: 'Medicatie ophalen bij de apotheek', assigneeMemberId: f.memberId, due: '2026-03-10' }),
    ok: 201,
    allowed: WRITERS,
  },
  { name: 'list tasks', method: 'GET', url: (f) => `/v1/persons/${f.personId}/tasks?status=open`, ok: 200, allowed: READERS },
  { name: 'get task', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/tasks/${await sharedTask(f)}`, ok: 200, allowed: READERS },
  {
    // A general change (the title) needs tasks:write whoever asks; the status rule is tested in tasks.test.ts.
    name: 'patch task',
    method: 'PATCH',
    url: async (f) => `/v1/persons/${f.personId}/tasks/${await sharedTask(f)}`,
    body: () => ({ title: `Steunkousen aantrekken (${++edits})` }),
    ok: 200,
    allowed: WRITERS,
  },
  { name: 'task history', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/tasks/${await sharedTask(f)}/history`, ok: 200, allowed: READERS },
];
