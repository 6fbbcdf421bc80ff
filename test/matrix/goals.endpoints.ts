// Life goals and care goals in the access matrix.
import { GOAL_AND_NOTE_WRITERS, READERS, type Endpoint, type Fixture } from './matrix.js';

async function create(f: Fixture, path: string, body: Record<string, unknown>): Promise<string> {
  const res = await f.app.inject({ method: 'POST', url: `/v1/persons/${f.personId}/${path}`, headers: f.controller.headers, payload: body });
  if (res.statusCode !== 201) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

export const freshLifeGoal = (f: Fixture) => create(f, 'life-goals', { title: 'Zelf boodschappen doen' });
export const freshCareGoal = async (f: Fixture) =>
  create(f, 'care-goals', { title: 'Veilig naar de winkel', lifeGoalIds: [await freshLifeGoal(f)] });

const goalReaders = [...READERS, 'emergency_active'] as Endpoint['allowed'];

export const goalsEndpoints: Endpoint[] = [
  { name: 'create life goal', method: 'POST', url: (f) => `/v1/persons/${f.personId}/life-goals`, body: () => ({ title: 'Terug naar de bridgeclub' }), ok: 201, allowed: GOAL_AND_NOTE_WRITERS },
  { name: 'list life goals', method: 'GET', url: (f) => `/v1/persons/${f.personId}/life-goals`, ok: 200, allowed: goalReaders },
  { name: 'get life goal', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/life-goals/${await freshLifeGoal(f)}`, ok: 200, allowed: goalReaders },
  {
    name: 'patch life goal',
    method: 'PATCH',
    url: async (f) => `/v1/persons/${f.personId}/life-goals/${await freshLifeGoal(f)}`,
    headers: () => ({ 'if-match': '"1"' }),
    body: () => ({ status: 'achieved' }),
    ok: 200,
    allowed: GOAL_AND_NOTE_WRITERS,
  },
  { name: 'life goal history', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/life-goals/${await freshLifeGoal(f)}/history`, ok: 200, allowed: goalReaders },
  {
    name: 'create care goal',
    method: 'POST',
    url: (f) => `/v1/persons/${f.personId}/care-goals`,
    body: async (f) => ({ title: 'Dagelijks een wandeling', lifeGoalIds: [await freshLifeGoal(f)] }),
    ok: 201,
    allowed: GOAL_AND_NOTE_WRITERS,
  },
  { name: 'list care goals', method: 'GET', url: (f) => `/v1/persons/${f.personId}/care-goals`, ok: 200, allowed: goalReaders },
  { name: 'get care goal', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/care-goals/${await freshCareGoal(f)}`, ok: 200, allowed: goalReaders },
  {
    name: 'patch care goal',
    method: 'PATCH',
    url: async (f) => `/v1/persons/${f.personId}/care-goals/${await freshCareGoal(f)}`,
    headers: () => ({ 'if-match': '"1"' }),
    body: () => ({ status: 'active' }),
    ok: 200,
    allowed: GOAL_AND_NOTE_WRITERS,
  },
  { name: 'care goal history', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/care-goals/${await freshCareGoal(f)}/history`, ok: 200, allowed: goalReaders },
];
