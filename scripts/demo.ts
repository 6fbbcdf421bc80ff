// Fills an empty database with a small demo plan through the API itself (every rule, audit entry and
// event applies), then prints tokens and curl lines to try it: `npm run demo`, then `npm start`.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfigOrExit, type Config } from '../src/config.js';
import { createDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { parseInsz } from '../src/lib/insz.js';
import { signDevelopmentToken } from './token.js';

interface DemoUser {
  label: string;
  variable: string;
  claims: { sub: string; name: string; insz?: string; nihii?: string };
}

/** A national register number for a birth date in the 1900s: YYMMDD + serial, modulo-97 check digits. */
function inszFor1900s(birthDate: string, serial: number): string {
  const [year, month, day] = birthDate.split('-') as [string, string, string];
  const base = `${year.slice(2)}${month}${day}${String(serial).padStart(3, '0')}`;
  const insz = base + String(97 - (Number(base) % 97)).padStart(2, '0');
  if (parseInsz(insz)?.birthDate !== birthDate) throw new Error(`computed INSZ ${insz} does not encode ${birthDate}`);
  return insz;
}

const AN_INSZ = '85073003328';
const JOZEF_BIRTH_DATE = '1941-02-11';
const JOZEF_INSZ = inszFor1900s(JOZEF_BIRTH_DATE, 27);

const an: DemoUser = {
  label: 'An Peeters (citizen, eID login)',
  variable: 'AN_TOKEN',
  claims: { sub: 'demo-an-peeters', name: 'An Peeters', insz: AN_INSZ },
};
const gp: DemoUser = {
  label: 'Dr. Lies Janssens (GP; a made-up RIZIV/INAMI number)',
  variable: 'GP_TOKEN',
  claims: { sub: 'demo-gp-lies-janssens', name: 'Dr. Lies Janssens', nihii: '10000000004' },
};
const jozef: DemoUser = {
  label: 'Jozef Claes (citizen, eID login)',
  variable: 'JOZEF_TOKEN',
  claims: { sub: 'demo-jozef-claes', name: 'Jozef Claes', insz: JOZEF_INSZ },
};
const USERS = [an, gp, jozef];

interface DemoPerson {
  id: string;
  insz: string;
  version: number;
  claimed: boolean;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (config.env === 'production') {
    // Demo data and demo tokens have no place next to real people's plans.
    console.error('The demo does not run with NODE_ENV=production.');
    process.exit(1);
  }
  const baseUrl = `http://${clientHost(config.host)}:${config.port}`;

  if (config.database.kind === 'pglite') {
    // PGlite's data folder can be opened by one process at a time; a running server holds it.
    if (await serverAnswers(baseUrl)) {
      console.error(
        `A Kring server answers at ${baseUrl}. The embedded database (${config.database.dataDir}) can be opened by ` +
          'one process at a time: stop the server, run `npm run demo`, then start the server again.',
      );
      process.exit(1);
    }
    console.log(`Using the embedded database (PGlite) in ${config.database.dataDir}.`);
    console.log('It can be opened by one process at a time: keep the server stopped while the demo runs.\n');
  } else {
    console.log('Using PostgreSQL (DATABASE_URL).\n');
  }

  const database = await createDatabase(config.database);
  let app: FastifyInstance | undefined;
  try {
    await migrateToLatest(database.db);
    const count = await database.db
      .selectFrom('persons')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();

    if (Number(count.n) > 0) {
      const found = await findDemoPersons(database);
      console.log(`The database already holds ${count.n} plan(s); nothing was written.`);
      if (found.an && found.jozef) {
        console.log('The demo plans are among them.\n');
        printTryIt(config, baseUrl, found.an, found.jozef);
      } else {
        console.log(
          'The demo plans are not among them. To see the demo, point Kring at an empty database: ' +
            'DATA_DIR=./.data-demo npm run demo (then DATA_DIR=./.data-demo npm start), or an empty DATABASE_URL.',
        );
      }
      return;
    }

    // The app answers in-process through inject(); it never listens. With a public key or JWKS
    // the demo cannot sign tokens the configured verifier accepts, so for these in-process requests
    // only it verifies with a throwaway secret.
    const signingSecret = config.jwt.kind === 'secret' ? config.jwt.secret : randomBytes(48).toString('base64url');
    const appConfig: Config = {
      ...config,
      logLevel: 'warn',
      jwt: config.jwt.kind === 'secret'
        ? config.jwt
        : { kind: 'secret', secret: signingSecret, generated: true, issuer: config.jwt.issuer, audience: config.jwt.audience },
    };
    app = await buildApp({ config: appConfig, database });
    const as = (user: DemoUser) => ({
      authorization: `Bearer ${signDevelopmentToken(signingSecret, user.claims, {
        hours: 1,
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
      })}`,
    });

    // A citizen starts her own plan (R1): her token's insz is the plan's INSZ.
    const anPerson = await createPerson(app, as(an), {
      identifier: { system: 'insz', value: AN_INSZ },
      givenName: 'An',
      familyName: 'Peeters',
      gender: 'vrouw',
      language: 'nl',
      interpreterNeeded: false,
    });
    // A GP starts a plan for an older patient and steers it until he claims it himself.
    const jozefPerson = await createPerson(app, as(gp), {
      identifier: { system: 'insz', value: JOZEF_INSZ },
      givenName: 'Jozef',
      familyName: 'Claes',
      gender: 'man',
    });

    console.log('Created through the API, under the same rules and audit trail as any client:');
    console.log(`  - An Peeters (INSZ ${AN_INSZ}, born 1985-07-30, Dutch) started her own plan: ${anPerson.id}`);
    console.log(
      `  - Dr. Lies Janssens (GP) started a plan for Jozef Claes (INSZ ${JOZEF_INSZ}, born ${JOZEF_BIRTH_DATE}): ` +
        `${jozefPerson.id}; she steers it until Jozef claims it.\n`,
    );
    printTryIt(config, baseUrl, anPerson, jozefPerson);
  } finally {
    // app.close() also closes the database (the app's onClose hook).
    if (app) await app.close();
    else await database.close();
  }
}

async function createPerson(
  app: FastifyInstance,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): Promise<DemoPerson> {
  const response = await app.inject({ method: 'POST', url: '/v1/persons', headers, payload: body });
  if (response.statusCode !== 201) {
    throw new Error(`POST /v1/persons answered ${response.statusCode}: ${response.body}`);
  }
  const person = response.json() as { id: string; identifier: { value: string }; version: number; claimed: boolean };
  return { id: person.id, insz: person.identifier.value, version: person.version, claimed: person.claimed };
}

/** Reads only ids and states (no person data leaves the database), so nothing needs auditing. */
async function findDemoPersons(database: DatabaseHandle): Promise<{ an?: DemoPerson; jozef?: DemoPerson }> {
  const rows = await database.db
    .selectFrom('persons')
    .select(['person_id', 'identifier_value', 'version', 'claimed_at'])
    .where('identifier_system', '=', 'insz')
    .where('identifier_value', 'in', [AN_INSZ, JOZEF_INSZ])
    .execute();
  const byInsz = new Map(
    rows.map((r) => [
      r.identifier_value,
      { id: r.person_id, insz: r.identifier_value, version: r.version, claimed: r.claimed_at !== null },
    ]),
  );
  return { an: byInsz.get(AN_INSZ), jozef: byInsz.get(JOZEF_INSZ) };
}

function printTryIt(config: Config, baseUrl: string, anPerson: DemoPerson, jozefPerson: DemoPerson): void {
  if (config.jwt.kind === 'secret') {
    const hours = 12;
    console.log(`Tokens (HS256 with the configured secret, valid ${hours} hours; run npm run demo again for fresh ones):`);
    for (const user of USERS) {
      const token = signDevelopmentToken(config.jwt.secret, user.claims, {
        hours,
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
      });
      console.log(`  # ${user.label}`);
      console.log(`  export ${user.variable}=${token}`);
    }
  } else {
    console.log('Kring verifies tokens with a public key or JWKS: tokens must come from your identity provider.');
    console.log('The demo users are:');
    for (const user of USERS) {
      const claims = Object.entries(user.claims)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      console.log(`  # ${user.label}: ${claims}`);
      console.log(`  export ${user.variable}=<a token from your identity provider with these claims>`);
    }
    console.log('  (An and Jozef are recognised by their insz claim; the GP steers Jozef\'s plan only with sub demo-gp-lies-janssens.)');
  }

  const auth = (variable: string) => `-H "Authorization: Bearer $${variable}"`;
  console.log('\nTry it (with the server running):');
  console.log('  # the plans each user may see');
  console.log(`  curl -s ${auth('AN_TOKEN')} ${baseUrl}/v1/persons`);
  console.log(`  curl -s ${auth('GP_TOKEN')} ${baseUrl}/v1/persons`);
  console.log('  # one plan (the answer carries ETag: "<version>")');
  console.log(`  curl -si ${auth('AN_TOKEN')} ${baseUrl}/v1/persons/${anPerson.id}`);
  console.log(`  # An refuses emergency access by an on-call doctor; If-Match must name the current version, or 412`);
  console.log(
    `  curl -s -X PATCH ${auth('AN_TOKEN')} -H 'Content-Type: application/json' -H 'If-Match: "${anPerson.version}"' ` +
      `-d '{"allowEmergencyAccess":false}' ${baseUrl}/v1/persons/${anPerson.id}`,
  );
  console.log(
    jozefPerson.claimed
      ? '  # the GP steered Jozef\'s plan until he claimed it: now this is 404 for her'
      : '  # the GP, as steward, records Jozef\'s preferred language on his behalf (until he claims his plan)',
  );
  console.log(
    `  curl -s -X PATCH ${auth('GP_TOKEN')} -H 'Content-Type: application/json' ` +
      `-d '{"language":"nl"}' ${baseUrl}/v1/persons/${jozefPerson.id}`,
  );
  console.log(
    jozefPerson.claimed
      ? '  # Jozef has already claimed his plan (claiming again is 409); the GP no longer sees it'
      : '  # Jozef claims the plan the GP started; from then on it is his and the GP no longer steers it',
  );
  console.log(`  curl -s -X POST ${auth('JOZEF_TOKEN')} ${baseUrl}/v1/persons/${jozefPerson.id}/claim`);
  console.log(`\nAPI documentation: ${baseUrl}/docs`);
  console.log('now run: npm start');
}

/** The host a client on this machine uses to reach a server bound to `host`. */
function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

async function serverAnswers(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

main().catch((error: unknown) => {
  console.error('The demo failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
