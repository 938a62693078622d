/**
 * RFC 9457 problem details: every error the edge returns is one of these, with a stable `type`
 * URI per kind of problem (listed in docs/problems.md). Details go to the log, never to the caller.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ServiceError } from '@temporalio/client';
import type { Logger } from '../logger';

export const PROBLEM_TYPE_BASE = 'urn:saga-coordinator:problem:';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    /** The slug of the problem type, e.g. `never-received`. */
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({
      // Extension members first, so none can shadow a standard member.
      ...problem.extensions,
      type: `${PROBLEM_TYPE_BASE}${problem.slug}`,
      title: problem.title,
      status: problem.status,
      ...(problem.detail ? { detail: problem.detail } : {}),
      ...(res.req?.originalUrl ? { instance: res.req.originalUrl } : {}),
      ...(res.locals.requestId ? { requestId: res.locals.requestId } : {}),
    });
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, new HttpProblem(404, 'not-found', 'Not found', `No route for ${req.method} ${req.path}.`));
};

/** The one error-mapping middleware: known problems pass through, anything else is a logged 500. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    sendProblem(res, toProblem(err, logger, res.locals.requestId));
  };
}

function toProblem(err: unknown, logger: Logger, requestId: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const e = err as { type?: string; status?: number; limit?: number };
  // body-parser's errors carry a `type`.
  if (e.type === 'entity.parse.failed') return new HttpProblem(400, 'malformed-json', 'Malformed JSON', 'The request body is not valid JSON.');
  if (e.type === 'entity.too.large') return new HttpProblem(413, 'body-too-large', 'Request body too large', `The body exceeds ${e.limit} bytes.`);
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new HttpProblem(415, 'unsupported-media-type', 'Unsupported encoding');
  if (err instanceof ServiceError) {
    logger.warn({ err, requestId }, 'temporal unavailable');
    // Which call failed is not known here, so neither is whether anything was recorded: never claim it was not.
    return new HttpProblem(503, 'coordinator-unavailable', 'Coordinator temporarily unavailable', 'The coordinator could not complete this call in time. Retrying with the same Idempotency-Key is safe: a request that was recorded is never done twice.', {}, { 'Retry-After': '2' });
  }
  logger.error({ err, requestId }, 'unhandled error');
  return new HttpProblem(500, 'internal', 'Internal error', 'Something went wrong on our side; the request ID identifies it in our logs.');
}
