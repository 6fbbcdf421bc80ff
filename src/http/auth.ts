// Bearer JWT verification (HS256 secret, PEM public key or JWKS) and the verified caller on
// request.actor. Every route requires a valid token unless its config says `public: true`.
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import buildGetJwks from 'get-jwks';
import { z } from 'zod';
import type { Config } from '../config.js';
import { unauthorized } from '../lib/errors.js';
import type { Actor } from '../modules/access/access.types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; null only on public routes. */
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (health, docs, the OpenAPI document). */
    public?: boolean;
  }
}

const Claims = z.object({
  sub: z.string().min(1).max(255),
  name: z.string().max(200).optional(),
  insz: z.string().regex(/^\d{11}$/).optional(),
  nihii: z.string().regex(/^\d{11}$/).optional(),
  org: z.string().min(1).max(255).optional(),
});

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;

function jwtOptions(jwt: Config['jwt']) {
  const claims = {
    ...(jwt.issuer ? { allowedIss: jwt.issuer } : {}),
    ...(jwt.audience ? { allowedAud: jwt.audience } : {}),
    // fast-jwt checks a claim only when the token carries it: without `requiredClaims` a token
    // lacking iss/aud would pass a configured JWT_ISSUER/JWT_AUDIENCE, and one lacking exp would never expire.
    requiredClaims: ['exp', ...(jwt.issuer ? ['iss'] : []), ...(jwt.audience ? ['aud'] : [])],
  };
  if (jwt.kind === 'secret') {
    return { secret: jwt.secret, verify: { algorithms: ['HS256'], ...claims } };
  }
  if (jwt.kind === 'publicKey') {
    return { secret: { public: jwt.publicKey, private: '' }, verify: { algorithms: [...ASYMMETRIC], ...claims } };
  }
  const url = new URL(jwt.url);
  const getJwks = buildGetJwks({ jwksPath: url.pathname + url.search, max: 100, ttl: 10 * 60 * 1000 });
  const publicKey = keyLookupWithBackoff((kid, alg) => getJwks.getPublicKey({ kid, alg, domain: url.origin }), Date.now);
  return {
    decode: { complete: true },
    secret: (_request: FastifyRequest, token: { header: { kid?: string; alg?: string } }) => publicKey(token.header.kid, token.header.alg),
    verify: { algorithms: [...ASYMMETRIC], ...claims },
  };
}

/** After a key id the identity provider does not know, how long other unknown ids fail without asking it. */
export const UNKNOWN_KID_BACKOFF_MS = 10_000;
const REMEMBERED_KIDS = 100;

/**
 * get-jwks forgets a failed lookup, so every token with a made-up `kid` would fetch the key set
 * again: anyone could make Kring hammer the identity provider. Key ids that resolved keep being
 * asked for (the cache answers, and refetches when their entry expires); after a miss, ids not
 * seen before fail at once for a while. A rotated key is found by the first lookup after that.
 */
export function keyLookupWithBackoff(lookup: (kid: string | undefined, alg: string | undefined) => Promise<string>, now: () => number) {
  const known = new Set<string>();
  let quietUntil = 0;
  return async (kid: string | undefined, alg: string | undefined): Promise<string> => {
    const id = `${alg ?? ''}:${kid ?? ''}`;
    if (!known.has(id) && now() < quietUntil) throw new Error('unknown key id');
    try {
      const key = await lookup(kid, alg);
      known.add(id);
      if (known.size > REMEMBERED_KIDS) known.delete(known.values().next().value!);
      return key;
    } catch (error) {
      if (!known.has(id)) quietUntil = now() + UNKNOWN_KID_BACKOFF_MS;
      throw error;
    }
  };
}

const REASONS: Record<string, string> = {
  FST_JWT_NO_AUTHORIZATION_IN_HEADER: 'A bearer token is required.',
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: 'The token has expired.',
  FST_JWT_BAD_REQUEST: 'The Authorization header must be "Bearer <token>".',
  FST_JWT_BAD_COOKIE_REQUEST: 'The Authorization header must be "Bearer <token>".',
};

export const authPlugin = fp(
  async (app: FastifyInstance, opts: { jwt: Config['jwt'] }) => {
    await app.register(fastifyJwt, jwtOptions(opts.jwt) as never);
    app.decorateRequest('actor', null);

    app.addHook('onRequest', async (request) => {
      // Unknown routes answer 404 without asking for a token; public routes need none.
      if (request.routeOptions.url === undefined || request.routeOptions.config.public) return;
      let payload: unknown;
      try {
        payload = await request.jwtVerify();
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        throw unauthorized(REASONS[code] ?? 'The token is not valid.');
      }
      const claims = Claims.safeParse(payload);
      if (!claims.success) throw unauthorized('The token lacks a valid sub, or a claim is malformed.');
      const { sub, name, insz, nihii, org } = claims.data;
      request.actor = { sub, name, insz, nihii, org };
    });
  },
  { name: 'kring-auth' },
);
