// Typed errors thrown by services and plugins; rendered once as problem+json by src/http/problem.ts.
export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new AppError(400, 'bad-request', 'Bad Request', detail, errors);
export const unauthorized = (detail = 'A valid bearer token is required.') =>
  new AppError(401, 'unauthorized', 'Unauthorized', detail, undefined, { 'www-authenticate': 'Bearer' });
export const forbidden = (detail = 'You are not allowed to do this for this person.') =>
  new AppError(403, 'forbidden', 'Forbidden', detail);
export const notFound = (detail = 'Not found.') => new AppError(404, 'not-found', 'Not Found', detail);
export const conflict = (detail: string) => new AppError(409, 'conflict', 'Conflict', detail);
export const preconditionFailed = (detail = 'If-Match does not match the current version.') =>
  new AppError(412, 'precondition-failed', 'Precondition Failed', detail);
export const unprocessable = (detail: string, errors?: FieldError[]) =>
  new AppError(422, 'unprocessable', 'Unprocessable Content', detail, errors);
export const preconditionRequired = (detail = 'This change requires an If-Match header with the current version.') =>
  new AppError(428, 'precondition-required', 'Precondition Required', detail);
export const tooManyRequests = (detail: string, retryAfterSeconds: number) =>
  new AppError(429, 'too-many-requests', 'Too Many Requests', detail, undefined, {
    'retry-after': String(retryAfterSeconds),
  });
