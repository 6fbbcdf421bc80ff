// Prints a token signed with the configured HS256 secret (the development secret by default):
//   npm run token -- --sub u1 --insz 85073003328 --name "An Peeters" [--nihii 12345678901] [--org o1] [--hours 12]
import { parseArgs } from 'node:util';
import { createSigner } from 'fast-jwt';
import { ConfigError, loadConfig } from '../src/config.js';

export function signDevelopmentToken(
  secret: string,
  claims: { sub: string; name?: string; insz?: string; nihii?: string; org?: string },
  options: { hours?: number; issuer?: string; audience?: string } = {},
): string {
  const sign = createSigner({
    key: secret,
    algorithm: 'HS256',
    expiresIn: (options.hours ?? 12) * 3600 * 1000,
    ...(options.issuer ? { iss: options.issuer } : {}),
    ...(options.audience ? { aud: options.audience } : {}),
  });
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
  return sign(payload);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      name: { type: 'string' },
      insz: { type: 'string' },
      nihii: { type: 'string' },
      org: { type: 'string' },
      hours: { type: 'string', default: '12' },
    },
  });
  try {
    if (!values.sub) throw new ConfigError('--sub is required, e.g. npm run token -- --sub u1 --insz 85073003328');
    const config = loadConfig();
    if (config.jwt.kind !== 'secret') {
      throw new ConfigError('npm run token signs with JWT_SECRET (or the development secret); with a public key or JWKS, ask your identity provider.');
    }
    const token = signDevelopmentToken(
      config.jwt.secret,
      { sub: values.sub, name: values.name, insz: values.insz, nihii: values.nihii, org: values.org },
      { hours: Number(values.hours), issuer: config.jwt.issuer, audience: config.jwt.audience },
    );
    console.log(token);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
