// Wishes and the safety plan in the access matrix.
import { READERS, WRITERS, type Endpoint, type Fixture } from './matrix.js';

const wishes = { statements: [{ topic: 'Ziekenhuisopname', statement: 'Liever geen opname meer in het ziekenhuis.' }] };
const safetyPlan = { warningSigns: ['Slaapt slecht'], whatHelps: ['Wandelen met de hond'], contacts: [{ name: 'Mieke', role: 'dochter', phone: '+32 470 12 34 56' }] };

// Documents known to have a version: a version never goes away, so each is written at most once
// (this keeps the controller's requests, and its rate limit, out of the way of the cells).
const written = new Set<string>();

/** Makes sure the document has a version (written by the controller), so reads and If-Match: * succeed. */
async function ensure(f: Fixture, path: string, body: Record<string, unknown>): Promise<string> {
  const url = `/v1/persons/${f.personId}/${path}`;
  if (written.has(url)) return url;
  const current = await f.app.inject({ method: 'GET', url, headers: f.controller.headers });
  if (current.statusCode === 404) {
    const res = await f.app.inject({ method: 'PUT', url, headers: f.controller.headers, payload: body });
    if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
  } else if (current.statusCode !== 200) {
    throw new Error(`${path}: ${current.statusCode} ${current.body}`);
  }
  written.add(url);
  return url;
}

const readers = [...READERS, 'emergency_active'] as Endpoint['allowed'];

function documentEndpoints(name: string, path: string, body: Record<string, unknown>): Endpoint[] {
  return [
    { name: `get ${name}`, method: 'GET', url: (f) => ensure(f, path, body), ok: 200, allowed: readers },
    {
      name: `replace ${name}`,
      method: 'PUT',
      url: (f) => ensure(f, path, body),
      // Any current version: each cell is independent of the cells before it.
      headers: () => ({ 'if-match': '*' }),
      body: () => body,
      ok: 200,
      allowed: WRITERS,
    },
    { name: `${name} versions`, method: 'GET', url: async (f) => `${await ensure(f, path, body)}/versions`, ok: 200, allowed: readers },
    { name: `${name} version 1`, method: 'GET', url: async (f) => `${await ensure(f, path, body)}/versions/1`, ok: 200, allowed: readers },
  ];
}

export const careDocumentsEndpoints: Endpoint[] = [
  ...documentEndpoints('wishes', 'wishes', wishes),
  ...documentEndpoints('safety plan', 'safety-plan', safetyPlan),
];
