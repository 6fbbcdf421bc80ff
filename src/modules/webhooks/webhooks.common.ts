// What the dispatcher and the sender share: the subscription owner as the access policy sees them, and their logger.
import type { Actor } from '../access/access.types.js';

/** The subset of a pino logger the background workers use. */
export interface WorkerLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** The owner's verified claims as stored at subscribe time: consent is decided with them at every delivery. */
export function ownerActor(row: {
  owner_sub: string;
  owner_name: string | null;
  owner_insz: string | null;
  owner_nihii: string | null;
  owner_org: string | null;
}): Actor {
  return {
    sub: row.owner_sub,
    ...(row.owner_name !== null ? { name: row.owner_name } : {}),
    ...(row.owner_insz !== null ? { insz: row.owner_insz } : {}),
    ...(row.owner_nihii !== null ? { nihii: row.owner_nihii } : {}),
    ...(row.owner_org !== null ? { org: row.owner_org } : {}),
  };
}

/** Subscriptions with the same key are decided with the same actor (so one access query serves them all). */
export function ownerKey(row: Parameters<typeof ownerActor>[0]): string {
  return JSON.stringify([row.owner_sub, row.owner_name, row.owner_insz, row.owner_nihii, row.owner_org]);
}
