// Runs a unit of work in one transaction, retried when PostgreSQL aborts it for a deadlock or a
// serialization failure (e.g. two double-clicked changes share-locking then updating one row).
import type { Kysely, Transaction } from 'kysely';
import type { DB } from './types.js';

const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 3;

/** A deadlock or serialization failure: the work may simply run again. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

export async function inTransaction<T>(db: Kysely<DB>, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isRetryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 10));
    }
  }
}
