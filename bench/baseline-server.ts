// The bench's baselines: a bare Fastify route returning a constant, and one doing a single primary-key query through a pg pool.
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
pool.on('error', () => {});
const app = Fastify({ logger: false });

app.get('/constant', async () => ({ status: 'ok' }));
app.get<{ Params: { id: string } }>('/persons/:id', async (request, reply) => {
  const { rows } = await pool.query('select person_id, given_name, family_name, birth_date from persons where person_id = $1', [
    request.params.id,
  ]);
  return rows[0] ?? reply.code(404).send({ status: 404 });
});
app.get('/health/ready', async () => ({ status: 'ready' }));

await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' });
const stop = () => void app.close().then(() => pool.end()).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
