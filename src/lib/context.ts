// What every service method receives about the request it serves.
import type { Actor } from '../modules/access/access.types.js';

export interface RequestContext {
  actor: Actor;
  requestId: string;
}

/** The service's notion of now; injected so tests can move time. */
export type Clock = () => Date;
