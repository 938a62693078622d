/**
 * schemathesis (pinned, in .tools/schemathesis) fuzzes the live API from its own /openapi.json:
 * positive and negative cases, every check, and the stateful links (place → status → refund),
 * with a customer's token and a support token. Then, from the HAR of every exchange and from the
 * simulators' ledgers: no 5xx, every error problem+json, and no downstream effect of any saga
 * that no accepted request started. FUZZ_MAX_EXAMPLES / FUZZ_MAX_TIME make it a long run (the
 * short one is part of npm test).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR, ROOT } from '../../scripts/lib/local';
import { unquotedKey } from '../../src/api/http-semantics';
import { newCustomer, startStack, type SimName, type Stack } from '../support/stack';

const MAX_EXAMPLES = process.env.FUZZ_MAX_EXAMPLES ?? '15';
const SEED = process.env.FUZZ_SEED ?? '20261128';
/** A time budget (seconds) makes fuzzing and stateful testing go on until it is spent: the long run. */
const MAX_TIME = process.env.FUZZ_MAX_TIME;

let stack: Stack;
beforeAll(async () => {
  // Short waits: a fuzzer's `Prefer: wait=…` should not hold a case for long.
  stack = await startStack({ SYNC_WAIT_MAX_MS: '1500', BODY_LIMIT: '16kb' });
});
afterAll(async () => {
  await stack?.stop();
});

interface HarEntry {
  request: { method: string; url: string; headers: { name: string; value: string }[] };
  response: { status: number; headers: { name: string; value: string }[]; content: { mimeType?: string; text?: string } };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const header = (headers: { name: string; value: string }[], name: string) => headers.find((h) => h.name.toLowerCase() === name)?.value;

test('schemathesis: no 5xx, every error problem+json, the document holds, and rejected requests change no ledger', async () => {
  const customer = newCustomer('fuzz');
  const dir = join(DATA_DIR, 'test', 'fuzz');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const har = join(dir, 'exchanges.har');
  const { code, output } = await run(
    join(ROOT, '.tools', 'schemathesis', 'bin', 'st'),
    [
      '--config-file', join(ROOT, 'test', 'fuzz', 'schemathesis.toml'),
      'run', `${stack.url}/openapi.json`,
      '--url', stack.url,
      '--checks', 'all',
      // Not for this API by design: "a schema-valid request must be accepted". What a schema cannot
      // say decides too: the same Idempotency-Key with another body (422), an order total outside
      // what downstreams hold (400), a webhook without a valid signature (400), a refund of an order
      // that does not exist or did not complete (404/409). Their rejection is checked above instead.
      '--exclude-checks', 'positive_data_acceptance',
      '--mode', 'all',
      '--max-examples', MAX_EXAMPLES,
      ...(MAX_TIME ? ['--max-time', MAX_TIME] : []),
      '--seed', SEED,
      // One worker: with several threads, Python 3.11 can fail inside schemathesis while it parses (CPython's ast is not thread-safe there).
      '--workers', '1',
      '--request-timeout', '20',
      '--generation-database', 'none',
      '--report', 'har', '--report-har-path', har,
      '--output-sanitize', 'false', // the HAR must keep each Idempotency-Key (test tokens only)
      '--no-color',
    ],
    { ...process.env, FUZZ_CUSTOMER_TOKEN: await stack.token(customer), FUZZ_SUPPORT_TOKEN: await stack.token('fuzz-support', ['support']) },
  );
  writeFileSync(join(dir, 'output.txt'), output);
  const entries = (JSON.parse(readFileSync(har, 'utf8')) as { log: { entries: HarEntry[] } }).log.entries;

  const serverErrors = entries.filter((e) => e.response.status >= 500);
  const bareErrors = entries.filter((e) => e.response.status >= 400 && !/^application\/problem\+json/.test(header(e.response.headers, 'content-type') ?? ''));

  // Which sagas did an accepted request start? (a 2xx, or the saga's own 422 outcome)
  const accepted = new Set<string>();
  for (const e of entries) {
    const { pathname } = new URL(e.request.url);
    const type = e.response.status === 422 ? (JSON.parse(e.response.content.text || '{}') as { type?: string }).type : undefined;
    const ok = (e.response.status >= 200 && e.response.status < 300) || type === 'urn:saga-coordinator:problem:transaction-failed';
    if (!ok || e.request.method !== 'POST') continue;
    // Keys as the edge reads them: the quoted (structured-field) form names the same key, in a header or a path.
    const key = header(e.request.headers, 'idempotency-key');
    if (pathname === '/v1/orders' && key) accepted.add(`order:${encodeURIComponent(customer)}:${encodeURIComponent(unquotedKey(key))}`);
    const refund = /^\/v1\/orders\/([^/]+)\/refunds$/.exec(pathname)?.[1];
    if (refund) accepted.add(`refund:${encodeURIComponent(customer)}:${encodeURIComponent(unquotedKey(decodeURIComponent(refund)))}`);
  }
  // Every downstream effect belongs to one of them: a downstream key starts with its saga's workflow ID.
  const effects = (await Promise.all((['legacy', 'payments', 'fulfilment'] as SimName[]).map((s) => stack.sims.ledger(s, '')))).flat();
  const ours = effects.filter((e) => e.idempotencyKey.startsWith(`order:${encodeURIComponent(customer)}:`) || e.idempotencyKey.startsWith(`refund:${encodeURIComponent(customer)}:`));
  const unexplained = ours.filter((e) => !accepted.has(e.idempotencyKey.split('/')[0]!));

  const figures = {
    cases: entries.length,
    serverErrors: serverErrors.length,
    nonProblemErrors: bareErrors.length,
    acceptedSagas: accepted.size,
    downstreamEffects: ours.length,
    effectsOfRejectedRequests: unexplained.length,
  };
  // schemathesis's own report stays in its file: its pytest-style closing banner ("=== 3 warnings in
  // 7.48s ===") would read, to anything that reads a run's closing lines, as a run of no tests.
  console.log(`schemathesis figures: ${JSON.stringify(figures)}; its report: ${join(dir, 'output.txt')}`);
  expect({ serverErrors: serverErrors.map((e) => `${e.request.method} ${e.request.url} → ${e.response.status}`) }).toEqual({ serverErrors: [] });
  expect({ bareErrors: bareErrors.map((e) => `${e.request.method} ${e.request.url} → ${e.response.status} ${header(e.response.headers, 'content-type')}`) }).toEqual({ bareErrors: [] });
  expect({ unexplained }).toEqual({ unexplained: [] });
  expect(entries.length).toBeGreaterThan(100);
  if (code !== 0) throw new Error(`schemathesis found problems (exit ${code}):\n${output.slice(-20_000)}`);
}, Number(process.env.FUZZ_TIMEOUT_MS ?? 600_000));
