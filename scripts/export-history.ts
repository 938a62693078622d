/**
 * Exports a workflow's history into test/histories/ as a replay fixture, payloads decrypted with
 * the configured keys (so the fixture replays without them): `npm run export-history -- <workflowId> [name]`.
 * Works against the dev server or any cluster (TEMPORAL_ADDRESS & co.); turn a production bug
 * into a regression test, then check the fixture holds no real customer data before committing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { loadConfig } from '../src/config';
import { createClient } from '../src/temporal/connection';
import { payloadCodec } from '../src/temporal/codec';
import { ROOT, localPayloadKeys } from './lib/local';

export const HISTORIES_DIR = join(ROOT, 'test', 'histories');

/** Writes `<name>.json` with the run's full history, every encrypted payload decoded. */
export async function exportHistory(client: Client, codec: PayloadCodec | undefined, workflowId: string, name: string, runId?: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  if (codec) await decodeAll(history, codec);
  const file = join(HISTORIES_DIR, `${name}.json`);
  writeFileSync(file, `${historyToJSON(history)}\n`);
  return file;
}

/** Walks a history and decodes, in place, every payload (an object with `metadata` and binary `data`). */
async function decodeAll(node: unknown, codec: PayloadCodec): Promise<void> {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const item = node[i];
      if (isPayload(item)) node[i] = await decodeOne(item, codec);
      else await decodeAll(item, codec);
    }
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    if (isPayload(value)) (node as Record<string, unknown>)[key] = await decodeOne(value, codec);
    else await decodeAll(value, codec);
  }
}

/** Decodes one payload back into a proto message, which the history's JSON writer requires. */
async function decodeOne(payload: Payload, codec: PayloadCodec): Promise<Payload> {
  const [decoded] = await codec.decode([payload]);
  return temporal.api.common.v1.Payload.create(decoded);
}

function isPayload(value: unknown): value is { metadata: Record<string, Uint8Array>; data: Uint8Array } {
  const v = value as { metadata?: unknown; data?: unknown } | null;
  return !!v && typeof v === 'object' && v.data instanceof Uint8Array && !!v.metadata && typeof v.metadata === 'object';
}

async function main(): Promise<void> {
  const [workflowId, name] = process.argv.slice(2);
  if (!workflowId) {
    console.error('usage: npm run export-history -- <workflowId> [fixture-name]');
    process.exit(2);
  }
  // Locally, the keys npm start generated; elsewhere PAYLOAD_KEYS as configured.
  const config = loadConfig({ ...process.env, PAYLOAD_KEYS: process.env.PAYLOAD_KEYS ?? (process.env.TEMPORAL_ADDRESS ? undefined : localPayloadKeys()) });
  const client = await createClient(config);
  try {
    const file = await exportHistory(client, payloadCodec(config), workflowId, name ?? workflowId.replace(/[^A-Za-z0-9._-]+/g, '_'));
    console.log(`wrote ${file}`);
  } finally {
    await client.connection.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
