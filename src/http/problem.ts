// Renders every error once, as RFC 9457 application/problem+json. No stack traces, SQL or
// database details ever reach a client; unexpected errors are logged without personal data.
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, type FieldError } from '../lib/errors.js';

export const PROBLEM_BASE = 'https://kring.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

const problem = (status: number, slug: string, title: string, detail: string, errors?: FieldError[]): ProblemBody => ({
  type: PROBLEM_BASE + slug,
  title,
  status,
  detail,
  ...(errors ? { errors } : {}),
});

const FASTIFY_CODES: Record<string, [number, string, string, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'bad-request', 'Bad Request', 'The body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'bad-request', 'Bad Request', 'The body is empty but JSON was announced.'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload-too-large', 'Content Too Large', 'The body is larger than allowed.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported-media-type', 'Unsupported Media Type', 'Send application/json.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad-request', 'Bad Request', 'The Content-Length does not match the body.'],
};

type ValidationIssue = { instancePath?: string; message?: string; params?: { issue?: { path?: PropertyKey[] } } };

function validationErrors(error: FastifyError & { validationContext?: string }): FieldError[] {
  const context = error.validationContext;
  const issues = (error.validation ?? []) as ValidationIssue[];
  return issues.map((issue) => {
    const path = issue.params?.issue?.path?.map(String).join('.') ?? (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const prefix = context && context !== 'body' ? `${context}.` : '';
    return { path: prefix + path || (context ?? 'body'), message: issue.message ?? 'is invalid' };
  });
}

/** PostgreSQL's class 22 (data exception): invalid text, out-of-range values, bad encodings. */
const isDataException = (error: unknown): boolean => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) && typeof (error as { severity?: unknown }).severity === 'string';
};

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let body: ProblemBody;
    if (error instanceof AppError) {
      body = problem(error.status, error.slug, error.title, error.detail, error.errors);
      if (error.headers) reply.headers(error.headers);
    } else if (hasZodFastifySchemaValidationErrors(error)) {
      body = problem(400, 'validation', 'Bad Request', 'The request does not match the schema.', validationErrors(error));
    } else if (error.code && FASTIFY_CODES[error.code]) {
      const [status, slug, title, detail] = FASTIFY_CODES[error.code]!;
      body = problem(status, slug, title, detail);
    } else if (isDataException(error)) {
      // The database refused a value that passed validation (a NUL character, a year it cannot
      // store): the client's input, so a 400, never a 500. Logged, in case it was our own cast.
      request.log.warn({ err: error }, 'database refused a value');
      body = problem(400, 'bad-request', 'Bad Request', 'A value in the request cannot be stored (unsupported characters or an out-of-range date).');
    } else if (!isResponseSerializationError(error) && error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      body = problem(error.statusCode, 'client-error', 'Bad Request', 'The request could not be handled as sent.');
    } else {
      request.log.error({ err: error }, 'unhandled error');
      body = problem(500, 'internal', 'Internal Server Error', 'Something went wrong on our side; it has been logged.');
    }
    return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(problem(404, 'not-found', 'Not Found', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}
