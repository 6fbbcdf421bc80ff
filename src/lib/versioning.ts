// Optimistic concurrency: ETag "<version>" out, If-Match in.
import { badRequest, preconditionFailed, preconditionRequired } from './errors.js';

export const etagFor = (version: number): string => `"${version}"`;

/** Parses If-Match into the expected version; undefined when absent, '*' for any. */
export function parseIfMatch(header: string | undefined): number | '*' | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const value = header.trim();
  if (value === '*') return '*';
  const match = /^"(\d{1,9})"$/.exec(value);
  if (!match) {
    // Weak or foreign tags can never match a strong comparison.
    if (/^(W\/)?"[^"]*"$/.test(value)) return -1;
    throw badRequest('If-Match must be an entity tag such as "3".', [{ path: 'If-Match', message: 'not an entity tag' }]);
  }
  return Number(match[1]);
}

/** Throws 428 when required and missing, 412 when it does not match the current version. */
export function checkIfMatch(expected: number | '*' | undefined, current: number, required: boolean): void {
  if (expected === undefined) {
    if (required) throw preconditionRequired();
    return;
  }
  if (expected !== '*' && expected !== current) throw preconditionFailed();
}
