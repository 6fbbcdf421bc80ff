// Preloaded into a server under test (node --import): counts database round trips (every pg query, BEGIN and COMMIT included) and reports them over IPC.
import pg from 'pg';

let queries = 0;
const query = pg.Client.prototype.query;
// Counting on the client needs no server extension (pg_stat_statements is not preloaded here).
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  queries += 1;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

process.on('message', (message: unknown) => {
  if (message === 'queries?') process.send?.({ queries });
});
