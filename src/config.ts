// The only reader of process.env: every setting is validated here, once, at start.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number({ message: 'must be a number' }).int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalText.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
  ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./.data'),
  JWT_SECRET: optionalText.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  JWT_PUBLIC_KEY: optionalText.pipe(
    z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }).optional(),
  ),
  JWT_JWKS_URL: optionalText.pipe(z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional()),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIGRATE_ON_START: booleanFromEnv.default(true),
  WEBHOOK_ALLOW_PRIVATE: booleanFromEnv.default(false),
  DISPATCHER_ENABLED: booleanFromEnv.default(true),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(256 * 1024),
  NOTE_BODY_MAX_BYTES: z.coerce.number().int().min(1).default(64 * 1024),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  EMERGENCY_ACCESS_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
  INVITATION_VALID_DAYS: z.coerce.number().positive().max(365).default(14),
  STREAM_HEARTBEAT_SECONDS: z.coerce.number().min(0.05).max(300).default(15),
});

export type JwtSettings =
  | { kind: 'secret'; secret: string; generated: boolean; secretFile?: string }
  | { kind: 'publicKey'; publicKey: string }
  | { kind: 'jwks'; url: string };

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  database: { kind: 'postgres'; url: string; poolSize: number } | { kind: 'pglite'; dataDir: string };
  dataDir: string;
  jwt: JwtSettings & { issuer?: string; audience?: string };
  logLevel: string;
  migrateOnStart: boolean;
  webhookAllowPrivate: boolean;
  /** Run the event dispatcher and webhook sender inside the service (false: `npm run worker` does it). */
  dispatcherEnabled: boolean;
  bodyLimitBytes: number;
  noteBodyMaxBytes: number;
  rateLimitPerMinute: number;
  emergencyAccessHours: number;
  invitationValidDays: number;
  /** How often the live stream sends a comment line so proxies and clients see it is alive. */
  streamHeartbeatMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEV_SECRET_FILE = 'dev-jwt-secret';

/** Reads and validates the environment; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`PORT=` in an env file or compose) counts as unset: it takes the default
  // instead of being read as 0 (PORT= would otherwise listen on a random port).
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value === undefined || value.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`Invalid configuration: ${variable} ${issue.message}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.DATA_DIR);

  const jwtSources = [e.JWT_SECRET, e.JWT_PUBLIC_KEY, e.JWT_JWKS_URL].filter((v) => v !== undefined);
  if (jwtSources.length > 1) {
    throw new ConfigError('Invalid configuration: set only one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL');
  }
  let jwt: JwtSettings;
  if (e.JWT_SECRET) jwt = { kind: 'secret', secret: e.JWT_SECRET, generated: false };
  else if (e.JWT_PUBLIC_KEY) jwt = { kind: 'publicKey', publicKey: e.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') };
  else if (e.JWT_JWKS_URL) jwt = { kind: 'jwks', url: e.JWT_JWKS_URL };
  else if (e.NODE_ENV === 'production') {
    throw new ConfigError(
      'Invalid configuration: JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL is required when NODE_ENV=production',
    );
  } else {
    jwt = developmentSecret(dataDir);
  }

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : { kind: 'pglite', dataDir: join(dataDir, 'pglite') },
    dataDir,
    jwt: { ...jwt, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE },
    logLevel: e.LOG_LEVEL,
    migrateOnStart: e.MIGRATE_ON_START,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    dispatcherEnabled: e.DISPATCHER_ENABLED,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    noteBodyMaxBytes: e.NOTE_BODY_MAX_BYTES,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    emergencyAccessHours: e.EMERGENCY_ACCESS_HOURS,
    invitationValidDays: e.INVITATION_VALID_DAYS,
    streamHeartbeatMs: Math.round(e.STREAM_HEARTBEAT_SECONDS * 1000),
  };
}

// Outside production a newcomer gets a working secret without configuring anything; it is kept
// in the data folder (never in the repository) so tokens stay valid across restarts.
function developmentSecret(dataDir: string): JwtSettings {
  const secretFile = join(dataDir, DEV_SECRET_FILE);
  if (existsSync(secretFile)) {
    const kept = readFileSync(secretFile, 'utf8').trim();
    // A truncated or emptied file is replaced rather than trusted as a (weak) secret.
    if (kept.length >= 32) return { kind: 'secret', secret: kept, generated: true, secretFile };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
  return { kind: 'secret', secret, generated: true, secretFile };
}

/** For process entry points: the validated configuration, or one line on stderr and exit 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
