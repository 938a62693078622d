/**
 * The README's "Reading decoded payloads in the Web UI", walked through in a real browser: `npm start`
 * (scripts/start.ts) on free ports and a data dir of its own, headless Chromium (Debian's, driven by
 * playwright-core) on the dev server's Web UI, a support sign-in at /codec/session and the UI's
 * codec settings. Runs under `npm run test:browser`, not `npm test`. With SAGA_PROFILE=cluster the
 * same walk-through runs on the local cluster's Web UI (temporalio/ui-server, mTLS to the frontend),
 * whose codec settings come from its server config: the browser's are left untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { runningCluster } from '../../scripts/lib/cluster';
import { ROOT } from '../../scripts/lib/local';
import { stopProcess } from '../../scripts/lib/processes';
import { signAccessToken } from '../../src/api/middleware/auth';
import { loadConfig } from '../../src/config';
import { connectionOptions } from '../../src/temporal/connection';
import { orderWorkflowId } from '../../src/contracts/order';
import { eventually } from '../support/eventually';
import { supervisorEnv } from '../support/ports';

const CLUSTER = process.env.SAGA_PROFILE === 'cluster';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// No sandbox (we may run as root), and nothing that phones home: this machine's network is closed.
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the screenshots go: never into the repository. */
const SHOTS = process.env.BROWSER_SCREENSHOT_DIR ?? join(tmpdir(), 'saga-coordinator-browser');

const RETIRED_SKU = 'course-v1:Retired+2020'; // fulfilment refuses it for good: grantAccess fails, the saga parks
const order = (sku: string) => ({ items: [{ sku, quantity: 1, unitPrice: '49.00' }], currency: 'USD', paymentMethod: { token: 'tok_visa' } });

interface System {
  child: ChildProcess;
  output: () => string;
  api: string;
  ui: string;
  temporal: string;
  dataDir: string;
}

/** `npm start`'s supervisor with a clean environment: its own data dir and ports, a JWT secret the test signs with. */
async function startSystem(jwtSecret: string): Promise<System> {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-browser-'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...(await supervisorEnv(dataDir)), JWT_SECRET: jwtSecret, ...(CLUSTER ? { SAGA_PROFILE: 'cluster' } : {}) };
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const system = { child, output: () => output, api: `http://127.0.0.1:${env.PORT}`, ui: `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`, temporal: `127.0.0.1:${env.TEMPORAL_PORT}`, dataDir };
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode})`);
      return output.includes('[start] ready in') ? true : undefined;
    }, 120_000, 250);
  } catch (err) {
    await stopSystem(system);
    throw new Error(`${String(err)}\n--- npm start said:\n${output.slice(-4000)}`);
  }
  return system;
}

/** SIGTERM to the supervisor (it stops every child); anything it reported starting that is still alive is then killed and reported. */
async function stopSystem(system: System): Promise<void> {
  await stopProcess(system.child, 30_000);
  const pids = [...system.output().matchAll(/started \(pid (\d+)\)|"devServerPid":(\d+)/g)].map((m) => Number(m[1] ?? m[2]));
  const leftovers = pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      process.kill(pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  });
  rmSync(system.dataDir, { recursive: true, force: true });
  if (leftovers.length) throw new Error(`npm start left processes behind: ${leftovers.join(', ')}`);
}

let system: System | undefined;
let browser: Browser | undefined;
let temporal: Connection | undefined;
const jwtSecret = randomBytes(32).toString('base64url');
const { JWT_ISSUER: issuer, JWT_AUDIENCE: audience } = loadConfig({ JWT_SECRET: jwtSecret });
const token = (subject: string, roles: string[] = []) => signAccessToken({ secret: jwtSecret, issuer, audience, subject, roles });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [system, browser] = await Promise.all([
    startSystem(jwtSecret),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 }),
  ]);
  // On the cluster: its address and client certificate, from the state file it keeps in the data dir.
  const cluster = CLUSTER ? runningCluster(join(system.dataDir, 'cluster')) : undefined;
  if (CLUSTER && !cluster) throw new Error('npm start (SAGA_PROFILE=cluster) is ready but no cluster runs from its data dir');
  temporal = await Connection.connect(cluster ? connectionOptions(loadConfig(cluster.env)) : { address: system.temporal });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await temporal?.close();
  if (system) await stopSystem(system);
}, 60_000);

/**
 * A fresh browser profile whose Web UI codec settings are the README's step 3 (dev server only): "Use my browser
 * setting", the API's /codec endpoint, "Include cross-origin credentials" on. The UI keeps them in
 * localStorage under these keys (read off Temporal UI 2.54 after clicking through its dialog).
 */
async function browserWithCodecSettings(): Promise<BrowserContext> {
  const context = await browser!.newContext({ viewport: { width: 1400, height: 1000 } });
  // Only loopback: the UI's news feed and anything else remote would only slow the page down.
  await context.route((url) => url.hostname !== '127.0.0.1' && url.hostname !== 'localhost', (route) => route.abort());
  if (CLUSTER) return context; // the cluster's UI server already names the endpoint and includes credentials
  await context.addInitScript((endpoint: string) => {
    // Runs in the page (our tsconfig has no DOM types).
    const { location, localStorage } = globalThis as unknown as { location: URL; localStorage: { setItem(key: string, value: string): void } };
    if (location.port === new URL(endpoint).port) return; // the API's own pages
    localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
    localStorage.setItem('endpoint', JSON.stringify(endpoint));
    localStorage.setItem('passAccessToken', 'false');
    localStorage.setItem('includeCredentials', 'true');
  }, `${system!.api}/codec`);
  return context;
}

/** What the Web UI's codec calls answered, in order. */
function codecAnswers(page: Page): number[] {
  const statuses: number[] = [];
  page.on('response', (res) => {
    if (res.url().startsWith(`${system!.api}/codec/decode`)) statuses.push(res.status());
  });
  return statuses;
}

/** Finds the parked order through the UI's `SagaStatus="needs_attention"` filter and opens it; returns its Input panel. */
async function openParkedOrder(page: Page, workflowId: string, notListed: string) {
  await page.goto(`${system!.ui}/namespaces/default/workflows?query=${encodeURIComponent('SagaStatus="needs_attention"')}`);
  const link = page.getByRole('link', { name: workflowId, exact: true });
  await link.waitFor({ timeout: 20_000 });
  expect(await page.getByRole('link', { name: notListed, exact: true }).count()).toBe(0);
  await link.click();
  // The Input panel's code viewer: a read-only textbox labelled "Input".
  const input = page.getByTestId('input-and-result').getByRole('textbox', { name: 'Input', exact: true });
  await input.waitFor({ timeout: 20_000 });
  return input;
}

test('support staff signed in at /codec/session see a parked order’s input decoded in the Web UI; without the session only ciphertext', async () => {
  const customer = `cust-${randomBytes(3).toString('hex')}`;
  const parkedId = orderWorkflowId(customer, 'retired-course');
  const completedId = orderWorkflowId(customer, 'demo-course');
  const post = async (key: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${system!.api}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token(customer)}`, 'content-type': 'application/json', 'idempotency-key': key, ...headers },
      body: JSON.stringify(body),
    });
  expect((await post('demo-course', order('course-v1:DemoX+2026'))).status).toBe(201);
  expect((await post('retired-course', order(RETIRED_SKU), { prefer: 'respond-async' })).status).toBe(202);

  // Parked, and visible to the UI's filter (visibility is eventually consistent).
  await eventually(async () => {
    const { executions } = await temporal!.workflowService.listWorkflowExecutions({ namespace: 'default', query: 'SagaStatus="needs_attention"' });
    return executions.some((e) => e.execution?.workflowId === parkedId) ? true : undefined;
  }, 30_000, 250);

  // What Temporal holds is ciphertext.
  const client = new Client({ connection: temporal! }); // no codec: it sees what Temporal stores
  const history = await client.workflow.getHandle(parkedId).fetchHistory();
  const [stored] = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
  expect(Buffer.from(stored!.metadata!.encoding!).toString()).toBe('binary/encrypted');
  const ciphertext = Buffer.from(stored!.data!).toString('base64');
  expect(Buffer.from(stored!.data!).toString('latin1')).not.toContain(RETIRED_SKU);

  // Without the support session: /codec answers 401 and the UI shows the stored bytes.
  const anonymous = await browserWithCodecSettings();
  try {
    const page = await anonymous.newPage();
    const answers = codecAnswers(page);
    const input = await openParkedOrder(page, parkedId, completedId);
    await input.getByText(ciphertext.slice(0, 40)).first().waitFor({ timeout: 20_000 });
    await page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor({ timeout: 10_000 });
    const text = await input.innerText();
    expect(text).not.toContain(RETIRED_SKU);
    expect(text).not.toContain(customer);
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((s) => s === 401)).toBe(true);
    await page.screenshot({ path: join(SHOTS, `web-ui-input-without-session${CLUSTER ? '-cluster' : ''}.png`) });
  } finally {
    await anonymous.close();
  }

  // Support signs in through the API's page, then opens the same order: the input is decoded.
  const support = await browserWithCodecSettings();
  try {
    const page = await support.newPage();
    await page.goto(`${system!.api}/codec/session`);
    await page.getByLabel('Support token').fill(await token('ann-support', ['support']));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as ann-support').waitFor({ timeout: 10_000 });

    const answers = codecAnswers(page);
    const input = await openParkedOrder(page, parkedId, completedId);
    await input.getByText(RETIRED_SKU).first().waitFor({ timeout: 20_000 });
    const text = await input.innerText();
    expect(text).toContain(`"customerId": "${customer}"`);
    expect(text).toContain(`"sku": "${RETIRED_SKU}"`);
    expect(text).not.toContain(ciphertext.slice(0, 40));
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((s) => s === 200)).toBe(true);
    await page.screenshot({ path: join(SHOTS, `web-ui-input-decoded${CLUSTER ? '-cluster' : ''}.png`) });
    process.stdout.write(`screenshots: ${SHOTS}/web-ui-input-{decoded,without-session}.png\n`);
  } finally {
    await support.close();
  }
}, 180_000);
