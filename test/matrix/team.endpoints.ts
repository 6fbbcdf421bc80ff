// Persons, care team, grants, representatives and the access log in the access matrix.
import { CONTROLLERS, READERS, WRITERS, type Endpoint } from './matrix.js';

export const teamEndpoints: Endpoint[] = [
  { name: 'get person', method: 'GET', url: (f) => `/v1/persons/${f.personId}`, ok: 200, allowed: READERS },
  { name: 'patch person', method: 'PATCH', url: (f) => `/v1/persons/${f.personId}`, body: () => ({ interpreterNeeded: true }), ok: 200, allowed: CONTROLLERS },
  { name: 'claim', method: 'POST', url: (f) => `/v1/persons/${f.personId}/claim`, ok: 409, allowed: ['person'] },
  { name: 'list team', method: 'GET', url: (f) => `/v1/persons/${f.personId}/team?include=ended`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  { name: 'get member', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  {
    name: 'invite member',
    method: 'POST',
    url: (f) => `/v1/persons/${f.personId}/team/invitations`,
    body: () => ({ kind: 'volunteer', displayName: 'Buurman Jan', scopes: ['tasks:read'] }),
    ok: 201,
    allowed: CONTROLLERS,
  },
  {
    name: 'patch member',
    method: 'PATCH',
    url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}`,
    body: () => ({ discipline: { code: 'neighbour', display: 'Buur' } }),
    ok: 200,
    allowed: WRITERS,
  },
  { name: 'end member', method: 'DELETE', url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}`, ok: 200, allowed: CONTROLLERS },
  {
    name: 'replace grant',
    method: 'PUT',
    url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}/grant`,
    body: () => ({ scopes: ['tasks:read', 'tasks:write'] }),
    ok: 200,
    allowed: CONTROLLERS,
  },
  { name: 'revoke grant', method: 'DELETE', url: async (f) => `/v1/persons/${f.personId}/team/${await f.freshMember()}/grant`, ok: 200, allowed: CONTROLLERS },
  { name: 'list grants', method: 'GET', url: (f) => `/v1/persons/${f.personId}/grants`, ok: 200, allowed: CONTROLLERS },
  {
    name: 'add representative',
    method: 'POST',
    url: (f) => `/v1/persons/${f.personId}/representatives`,
    body: () => ({ displayName: 'Tom', level: 'limited', basis: 'chosen' }),
    ok: 201,
    allowed: CONTROLLERS,
  },
  { name: 'list representatives', method: 'GET', url: (f) => `/v1/persons/${f.personId}/representatives`, ok: 200, allowed: [...READERS, 'emergency_active'] },
  {
    name: 'end representative',
    method: 'DELETE',
    url: async (f) => `/v1/persons/${f.personId}/representatives/${await f.freshRepresentative()}`,
    ok: 200,
    allowed: CONTROLLERS,
  },
  { name: 'access log', method: 'GET', url: (f) => `/v1/persons/${f.personId}/access-log`, ok: 200, allowed: CONTROLLERS },
  { name: 'verify access log', method: 'GET', url: (f) => `/v1/persons/${f.personId}/access-log/verify`, ok: 200, allowed: CONTROLLERS },
];

