/**
 * How every command endpoint answers once its request is parsed (RFC 7240 and the Idempotency-Key
 * draft): start or attach the saga; `Prefer: respond-async` → 202 at once; a retry of a running
 * request → 409, of a finished one → the original answer with `Idempotent-Replayed: true`;
 * otherwise wait up to min(wait, cap) → 201 with the result, 422 problem for a failed saga, or 202.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SearchAttributePair } from '@temporalio/common';
import type { TransactionRequest, TransactionStatus } from '../contracts/transaction';
import { fingerprint, preferencesOf } from './http-semantics';
import { principalOf } from './middleware/auth';
import { HttpProblem, sendProblem } from './problem';
import { outcomeUnavailable, type Outcome, type SagaKind, type Transactions } from './transactions';

const RETRY_AFTER_SECONDS = '1';

/** The envelope every saga input starts with: who asked, with which key and body, and when. */
export function transactionRequest(res: Response, customerId: string, idempotencyKey: string, body: unknown): TransactionRequest {
  return {
    customerId,
    idempotencyKey,
    fingerprint: fingerprint(body),
    startToken: randomUUID(),
    requestId: res.locals.requestId as string,
    receivedAt: new Date().toISOString(),
    ...(principalOf(res).region ? { region: principalOf(res).region } : {}),
  };
}

export interface Command<S extends TransactionStatus> {
  kind: SagaKind<S>;
  workflowId: string;
  input: TransactionRequest;
  /** The status resource of this transaction. */
  location: string;
  searchAttributes?: SearchAttributePair[];
}

export interface CommandContext {
  transactions: Transactions;
  syncWaitMaxMs: number;
  /** Told when a customer's transaction started or settled here (the order-history cache listens). */
  onChange?: (customerId: string) => void;
}

export async function runCommand<S extends TransactionStatus>(req: Request, res: Response, context: CommandContext, command: Command<S>): Promise<void> {
  const { transactions, syncWaitMaxMs } = context;
  const prefs = preferencesOf(req);
  res.vary('Prefer');
  await sendKeyRetention(res, transactions);
  const { location } = command;
  const { handle, attached, running } = await transactions.start(command.kind, command.workflowId, command.input, location, command.searchAttributes);
  // From here on the request is recorded: a Temporal failure must say so, never "nothing was recorded".
  const waitForOutcome: Transactions['waitForOutcome'] = (...args) => transactions.waitForOutcome(...args).catch((err: unknown) => Promise.reject(err instanceof HttpProblem ? err : outcomeUnavailable(location)));
  const changed = () => context.onChange?.(command.input.customerId);
  changed();

  if (attached) {
    // The same request again: replay a finished outcome, or say it is still being processed.
    const outcome = running ? undefined : await waitForOutcome(command.kind, handle, syncWaitMaxMs);
    if (!outcome || outcome.state === 'running') {
      throw new HttpProblem(409, 'request-in-progress', 'Request already in progress', 'A request with this Idempotency-Key is still being processed; follow Location for its status.', { location }, { Location: location, 'Retry-After': RETRY_AFTER_SECONDS });
    }
    res.setHeader('Idempotent-Replayed', 'true');
    return respondWithOutcome(res, outcome, location);
  }
  if (prefs.respondAsync) {
    res.setHeader('Preference-Applied', 'respond-async');
    return accepted(res, location, handle.workflowId);
  }
  const waitMs = Math.min(prefs.waitSeconds !== undefined ? prefs.waitSeconds * 1000 : syncWaitMaxMs, syncWaitMaxMs);
  // The wait honoured, which is at most the edge's own (a longer ask is answered with what was applied).
  if (prefs.waitSeconds !== undefined) res.setHeader('Preference-Applied', `wait=${Math.floor(waitMs / 1000)}`);
  // Stop the long poll as soon as the caller hangs up: the saga goes on, and a retry finds it.
  const hungUp = new AbortController();
  res.on('close', () => hungUp.abort());
  const outcome = await waitForOutcome(command.kind, handle, waitMs, hungUp.signal);
  if (hungUp.signal.aborted) return;
  if (outcome.state === 'running') return accepted(res, location, handle.workflowId);
  changed();
  respondWithOutcome(res, outcome, location);
}

/**
 * `Idempotency-Key-Retention: <seconds>`: how long after the transaction settles its key is still
 * remembered (the Temporal namespace's retention). After that, a retry is a new request.
 */
export async function sendKeyRetention(res: Response, transactions: Transactions): Promise<void> {
  const seconds = await transactions.keyRetentionSeconds();
  if (seconds !== undefined) res.setHeader('Idempotency-Key-Retention', String(seconds));
}

/** The status resource's representation of a transaction. */
export function statusView(outcome: Outcome<TransactionStatus>, self: string) {
  if (!outcome.status) {
    return { status: outcome.state === 'running' ? (outcome.sagaStatus ?? 'running') : outcome.state, detail: 'Step detail is unavailable while no worker answers; try again shortly.', links: { self } };
  }
  const { workflowId, ...rest } = outcome.status;
  return { transactionId: workflowId, ...rest, links: { self } };
}

function accepted(res: Response, location: string, transactionId: string): void {
  res
    .status(202)
    .setHeader('Location', location)
    .setHeader('Content-Location', location)
    .setHeader('Retry-After', RETRY_AFTER_SECONDS)
    .json({ transactionId, status: 'running', links: { self: location } });
}

function respondWithOutcome(res: Response, outcome: Exclude<Outcome<TransactionStatus>, { state: 'running' }>, location: string): void {
  if (outcome.state === 'completed') {
    res.status(201).setHeader('Location', location).setHeader('Content-Location', location).json(statusView(outcome, location));
    return;
  }
  const { status } = outcome;
  const compensated = status.steps
    .filter((s) => s.state === 'compensated' && s.compensation)
    .map((s) => ({ step: s.name, compensation: s.compensation!, outcome: s.compensationOutcome ?? 'done' }));
  res.setHeader('Content-Location', location);
  sendProblem(
    res,
    new HttpProblem(
      422,
      'transaction-failed',
      'The transaction could not be completed',
      `${status.failure?.message ?? 'It failed.'}${compensated.length ? ` Compensated: ${compensated.map((c) => `${c.compensation} (${c.outcome})`).join(', ')}.` : ''}`,
      { transactionId: status.workflowId, reason: outcome.failureType, failedStep: status.failure?.step, sagaStatus: status.status, compensated, steps: status.steps },
    ),
  );
}
