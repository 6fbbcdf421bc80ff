// Logger options: request logs carry method, path and status, never tokens, INSZ, names or
// note bodies. Query strings and invitation codes are masked; bodies are never logged.
import type { FastifyServerOptions } from 'fastify';

const MASKED = '[redacted]';

const INSZ_LIKE = /\b\d{11}\b/g;

/** The request path with secrets masked: invitation codes, INSZ-like numbers, and the values of every query parameter. */
export function safeUrl(url: string): string {
  const [path = '', query] = url.split('?', 2);
  const maskedPath = path.replace(/(\/invitations\/)[^/]+/g, `$1${MASKED}`).replace(INSZ_LIKE, MASKED);
  if (query === undefined) return maskedPath;
  const keys = query
    .split('&')
    .filter(Boolean)
    .map((pair) => `${pair.split('=')[0]}=${MASKED}`);
  return `${maskedPath}?${keys.join('&')}`;
}

/** Error details for the log: what helps debugging, without values a database error may echo. */
export function serializeError(error: unknown): { type: string; message: string; stack: string; [key: string]: unknown } {
  if (!(error instanceof Error)) return { type: typeof error, message: 'non-error thrown', stack: '' };
  const e = error as Error & Record<string, unknown>;
  const isDatabaseError = typeof e.code === 'string' && typeof e.severity === 'string';
  const message = isDatabaseError ? String(e.message).replace(/"[^"]*"|'[^']*'/g, '"…"') : String(e.message).replace(INSZ_LIKE, MASKED);
  // The stack starts with "<name>: <raw message>": keep only its frames, after the cleaned message.
  const frames = typeof e.stack === 'string' ? e.stack.slice(Math.max(0, e.stack.indexOf('\n    at '))) : '';
  return {
    type: e.name,
    message,
    code: e.code,
    constraint: e.constraint,
    table: e.table,
    stack: frames.startsWith('\n') ? `${e.name}: ${message}${frames.replace(INSZ_LIKE, MASKED)}` : '',
  };
}

export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> & object {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'authorization',
        'token',
        'insz',
        '*.insz',
        'body',
        '*.body',
      ],
      censor: MASKED,
    },
    serializers: {
      req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: safeUrl(req.url), id: req.id }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: serializeError,
    },
  };
}
