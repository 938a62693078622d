/**
 * RFC 9457 problem details: every error the edge returns is one of these, with a stable `type`
 * URI per kind of problem (listed in docs/problems.md). Details go to the log, never to the caller.
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
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

/** A 5xx always means "retry", so it always says when: problems that name no time get this many seconds. */
const DEFAULT_5XX_RETRY_AFTER = '1';

export function sendProblem(res: Response, problem: HttpProblem): void {
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  if (problem.status >= 500 && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', DEFAULT_5XX_RETRY_AFTER);
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
  if (e.type === 'encoding.unsupported') return new HttpProblem(415, 'unsupported-media-type', 'Unsupported content encoding', 'Send the body uncompressed (no Content-Encoding).');
  if (e.type === 'charset.unsupported') return new HttpProblem(415, 'unsupported-media-type', 'Unsupported charset', 'Send the body as UTF-8 JSON.');
  if (e.type === 'charset.invalid') return new HttpProblem(415, 'unsupported-media-type', 'Body is not UTF-8', 'The body has bytes that are not UTF-8: send it as UTF-8 JSON.');
  // The router's own 400 for a path segment that is not valid percent-encoding (`/v1/orders/%zz`).
  if (err instanceof URIError && e.status === 400) return new HttpProblem(400, 'bad-request', 'Malformed request URL', 'A path segment is not valid percent-encoding.');
  // Any other client error from Express or body-parser (they carry a 4xx status): the status, never their message.
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new HttpProblem(e.status, 'bad-request', STATUS_CODES[e.status] ?? 'Bad request', 'The request could not be read.');
  if (err instanceof ServiceError) {
    logger.warn({ err, requestId }, 'temporal unavailable');
    // Which call failed is not known here, so neither is whether anything was recorded: never claim it was not.
    return new HttpProblem(503, 'coordinator-unavailable', 'Coordinator temporarily unavailable', 'The coordinator could not complete this call in time. Retrying with the same Idempotency-Key is safe: a request that was recorded is never done twice.', {}, { 'Retry-After': '2' });
  }
  logger.error({ err, requestId }, 'unhandled error');
  return new HttpProblem(500, 'internal', 'Internal error', 'Something went wrong on our side; the request ID identifies it in our logs.');
}

/** The problem types Node's HTTP parser refuses a request with, before Express sees it. */
const PARSER_PROBLEMS: Record<string, { status: number; slug: string; title: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, slug: 'headers-too-large', title: 'Request headers too large', detail: 'The request headers exceed the server\'s limit.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, slug: 'request-timeout', title: 'Request timeout', detail: 'The request was not received in time.' },
};

/**
 * Answers what Node's HTTP parser refuses (a control character in a header, oversized headers, a
 * garbage request line) with a minimal problem+json instead of Node's bare `400 Bad Request`,
 * whenever the socket can still be written to; the connection is closed after it.
 */
export function answerClientErrorsAsProblems(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const known = PARSER_PROBLEMS[err.code ?? ''] ?? { status: 400, slug: 'bad-request', title: 'Bad request', detail: 'The request is not valid HTTP/1.1.' };
    const body = JSON.stringify({ type: `${PROBLEM_TYPE_BASE}${known.slug}`, title: known.title, status: known.status, detail: known.detail });
    socket.end(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
