// Meetings in the access matrix.
import { READERS, WRITERS, type Endpoint, type Fixture } from './matrix.js';

const meeting = (f: Fixture) => ({
  title: 'Multidisciplinair overleg',
  startsAt: '2026-04-01T13:00:00Z',
  endsAt: '2026-04-01T14:00:00Z',
  videoUrl: 'https://meet.example.be/kring-overleg',
  participantMemberIds: [f.memberId],
});

export async function freshMeeting(f: Fixture): Promise<string> {
  const res = await f.app.inject({ method: 'POST', url: `/v1/persons/${f.personId}/meetings`, headers: f.controller.headers, payload: meeting(f) });
  if (res.statusCode !== 201) throw new Error(`meeting: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

// Reads leave a meeting as it was, so read cells share one meeting per plan.
const forReading = new Map<string, Promise<string>>();
const sharedMeeting = (f: Fixture): Promise<string> => {
  if (!forReading.has(f.personId)) forReading.set(f.personId, freshMeeting(f));
  return forReading.get(f.personId)!;
};

export const meetingsEndpoints: Endpoint[] = [
  { name: 'create meeting', method: 'POST', url: (f) => `/v1/persons/${f.personId}/meetings`, body: meeting, ok: 201, allowed: WRITERS },
  { name: 'list meetings', method: 'GET', url: (f) => `/v1/persons/${f.personId}/meetings`, ok: 200, allowed: READERS },
  { name: 'get meeting', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/meetings/${await sharedMeeting(f)}`, ok: 200, allowed: READERS },
  {
    name: 'patch meeting',
    method: 'PATCH',
    url: async (f) => `/v1/persons/${f.personId}/meetings/${await freshMeeting(f)}`,
    body: () => ({ startsAt: '2026-04-02T13:00:00Z', endsAt: '2026-04-02T14:00:00Z' }),
    ok: 200,
    allowed: WRITERS,
  },
  { name: 'meeting history', method: 'GET', url: async (f) => `/v1/persons/${f.personId}/meetings/${await sharedMeeting(f)}/history`, ok: 200, allowed: READERS },
];
