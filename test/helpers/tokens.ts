// Signs test tokens the way an identity provider would (and the ways a forger would).
import { createSigner } from 'fast-jwt';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface Claims {
  sub: string;
  name?: string;
  insz?: string;
  nihii?: string;
  org?: string;
  [claim: string]: unknown;
}

export function signToken(claims: Claims, options: { secret?: string; expiresInMs?: number; notBeforeMs?: number } = {}): string {
  const sign = createSigner({
    key: options.secret ?? TEST_SECRET,
    algorithm: 'HS256',
    expiresIn: options.expiresInMs ?? 3600_000,
    ...(options.notBeforeMs ? { notBefore: options.notBeforeMs } : {}),
  });
  return sign(claims);
}

/** A token with `alg: none` and no signature. */
export function unsignedToken(claims: Claims): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iat: now, exp: now + 3600, ...claims })}.`;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
