// Builds care teams through the API: invitations accepted with the invitee's own token.
import type { FastifyInstance } from 'fastify';
import { caller, type Caller } from './factories.js';

export async function inviteMember(
  app: FastifyInstance,
  controller: Caller,
  personId: string,
  body: Record<string, unknown>,
): Promise<{ memberId: string; inviteCode: string; [k: string]: unknown }> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/persons/${personId}/team/invitations`,
    headers: controller.headers,
    payload: body,
  });
  if (res.statusCode !== 201) throw new Error(`invite: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function accept(app: FastifyInstance, who: Caller, inviteCode: string) {
  const res = await app.inject({ method: 'POST', url: `/v1/invitations/${inviteCode}/accept`, headers: who.headers });
  if (res.statusCode !== 200) throw new Error(`accept: ${res.statusCode} ${res.body}`);
  return res.json();
}

let counter = 0;

/** Invites and accepts an informal carer with the given scopes; returns their caller and member id. */
export async function joinedCarer(app: FastifyInstance, controller: Caller, personId: string, scopes: string[], extra: Record<string, unknown> = {}) {
  const who = caller({ sub: `carer-${process.pid}-${++counter}`, name: 'Mieke Peeters' });
  const invitation = await inviteMember(app, controller, personId, { kind: 'informal_carer', displayName: 'Mieke (dochter)', scopes, ...extra });
  await accept(app, who, invitation.inviteCode);
  return { who, memberId: invitation.memberId };
}

export async function addRepresentative(
  app: FastifyInstance,
  controller: Caller,
  personId: string,
  body: Record<string, unknown>,
): Promise<{ id: string; inviteCode: string }> {
  const res = await app.inject({ method: 'POST', url: `/v1/persons/${personId}/representatives`, headers: controller.headers, payload: body });
  if (res.statusCode !== 201) throw new Error(`representative: ${res.statusCode} ${res.body}`);
  return res.json();
}
