// Opaque pagination cursors: base64url JSON of the last item's sort key.
import type { z } from 'zod';
import { badRequest } from './errors.js';

export const encodeCursor = (key: unknown): string => Buffer.from(JSON.stringify(key)).toString('base64url');

export function decodeCursor<T extends z.ZodType>(cursor: string | undefined, schema: T): z.output<T> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through to the one answer for any unreadable cursor
  }
  throw badRequest('The cursor is not valid.', [{ path: 'cursor', message: 'not a cursor from this list' }]);
}

/** Splits a page fetched with limit + 1 rows into items and the next cursor. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  cursorKey: (row: Row) => unknown,
  map: (row: Row) => Item,
): { items: Item[]; nextCursor: string | null } {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { items: pageRows.map(map), nextCursor: hasMore && last !== undefined ? encodeCursor(cursorKey(last)) : null };
}
