// Test data: valid INSZ numbers, callers of every kind, persons created through the API.
import type { FastifyInstance } from 'fastify';
import { bearer, signToken, type Claims } from './tokens.js';

let serial = 0;

/** A valid INSZ for a birth date (born in 1900s or 2000s); a fresh serial each call. */
export function makeInsz(birthDate = '1985-07-30', options: { bis?: 20 | 40 } = {}): string {
  serial = (serial % 997) + 1;
  const [year, month, day] = birthDate.split('-');
  const mm = String(Number(month) + (options.bis ?? 0)).padStart(2, '0');
  const base = `${year!.slice(2)}${mm}${day}${String(serial).padStart(3, '0')}`;
  const prefix = Number(year) >= 2000 ? 2_000_000_000 : 0;
  const check = 97 - ((prefix + Number(base)) % 97);
  return base + String(check).padStart(2, '0');
}

let userCounter = 0;
const nextSub = (prefix: string) => `${prefix}-${process.pid}-${++userCounter}`;

export interface Caller {
  claims: Claims;
  token: string;
  headers: { authorization: string };
}

export function caller(claims: Claims): Caller {
  const token = signToken(claims);
  return { claims, token, headers: bearer(token) };
}

export const citizen = (insz = makeInsz(), name = 'An Peeters'): Caller => caller({ sub: nextSub('citizen'), insz, name });

let nihiiCounter = 0;
export const professional = (name = 'Dr. Lies Janssens'): Caller =>
  caller({ sub: nextSub('pro'), nihii: `1${String(++nihiiCounter).padStart(7, '0')}004`, name });

export async function createPersonAs(
  app: FastifyInstance,
  who: Caller,
  body: Record<string, unknown>,
): Promise<{ id: string; version: number; [k: string]: unknown }> {
  const response = await app.inject({ method: 'POST', url: '/v1/persons', headers: who.headers, payload: body });
  if (response.statusCode !== 201) throw new Error(`createPerson: ${response.statusCode} ${response.body}`);
  return response.json();
}

/** A citizen with their own plan. */
export async function citizenWithPlan(app: FastifyInstance) {
  const who = citizen();
  const person = await createPersonAs(app, who, {
    identifier: { system: 'insz', value: who.claims.insz },
    givenName: 'An',
    familyName: 'Peeters',
  });
  return { who, person };
}
