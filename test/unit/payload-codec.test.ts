/** The AES-256-GCM payload codec: round trip, key rotation, and clear refusals of what it cannot decrypt. */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { loadConfig, type PayloadKey } from '../../src/config';
import { EncryptionCodec, PayloadCodecError, dataConverter } from '../../src/temporal/codec';

const key = (id: string): PayloadKey => ({ id, key: randomBytes(32) });
const order = { items: [{ sku: 'course-v1:DemoX+2026', quantity: 1 }], paymentMethod: { token: 'tok_visa' } };
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

async function encrypt(codec: EncryptionCodec, value: unknown): Promise<Payload> {
  const [payload] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return payload!;
}

async function decrypt(codec: EncryptionCodec, payload: Payload): Promise<unknown> {
  const [plain] = await codec.decode([payload]);
  return defaultPayloadConverter.fromPayload(plain!);
}

test('a payload round-trips, and what is stored is ciphertext labelled with the key ID', async () => {
  const codec = new EncryptionCodec([key('k2026a')]);
  const encrypted = await encrypt(codec, order);
  expect(text(encrypted.metadata?.encoding)).toBe('binary/encrypted');
  expect(text(encrypted.metadata?.['encryption-key-id'])).toBe('k2026a');
  expect(text(encrypted.data)).not.toContain('tok_visa');
  expect(text(encrypted.data)).not.toContain('DemoX');
  expect(await decrypt(codec, encrypted)).toEqual(order);
});

test('the same value encrypts differently each time (a fresh nonce per payload)', async () => {
  const codec = new EncryptionCodec([key('k1')]);
  const [a, b] = await Promise.all([encrypt(codec, order), encrypt(codec, order)]);
  expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
});

test('after a new key is put in front, old payloads still decrypt and new ones use the new key', async () => {
  const old = key('k2026a');
  const before = new EncryptionCodec([old]);
  const after = new EncryptionCodec([key('k2026b'), old]);
  const written = await encrypt(before, order);
  expect(await decrypt(after, written)).toEqual(order);
  const fresh = await encrypt(after, order);
  expect(text(fresh.metadata?.['encryption-key-id'])).toBe('k2026b');
  expect(await decrypt(after, fresh)).toEqual(order);
});

test('a payload under a key ID that is not configured is refused, naming the key ID', async () => {
  const written = await encrypt(new EncryptionCodec([key('k2025')]), order);
  const promise = new EncryptionCodec([key('k2026a')]).decode([written]);
  await expect(promise).rejects.toBeInstanceOf(PayloadCodecError);
  await expect(promise).rejects.toThrow('Payload encrypted with key ID "k2025", which is not configured in PAYLOAD_KEYS');
});

test('tampered ciphertext is refused by the GCM authentication tag', async () => {
  const codec = new EncryptionCodec([key('k1')]);
  const written = await encrypt(codec, order);
  const data = Buffer.from(written.data!);
  data.writeUInt8(data.readUInt8(20) ^ 0x01, 20);
  await expect(codec.decode([{ ...written, data }])).rejects.toThrow(/key ID "k1"\) failed authentication/);
  await expect(codec.decode([{ ...written, data: data.subarray(0, 10) }])).rejects.toThrow(/truncated/);
});

test('a payload relabelled with another configured key ID is refused', async () => {
  const codec = new EncryptionCodec([key('k2'), key('k1')]);
  const written = await encrypt(codec, order);
  const relabelled = { ...written, metadata: { ...written.metadata, 'encryption-key-id': Buffer.from('k1') } };
  await expect(codec.decode([relabelled])).rejects.toBeInstanceOf(PayloadCodecError);
});

test('payloads that were never encrypted pass through decode unchanged', async () => {
  const plain = defaultPayloadConverter.toPayload(order);
  expect(await new EncryptionCodec([key('k1')]).decode([plain])).toEqual([plain]);
});

describe('PAYLOAD_KEYS', () => {
  const b64 = () => randomBytes(32).toString('base64');

  test('lists keys newest first; without it, no codec is configured', () => {
    const config = loadConfig({ PAYLOAD_KEYS: `k2026b:${b64()}, k2026a:${b64()}` });
    expect(config.PAYLOAD_KEYS.map((k) => k.id)).toEqual(['k2026b', 'k2026a']);
    expect(config.PAYLOAD_KEYS.every((k) => k.key.length === 32)).toBe(true);
    expect(dataConverter(config).payloadCodecs).toHaveLength(1);
    expect(dataConverter(loadConfig({})).payloadCodecs).toBeUndefined();
  });

  test('a malformed or short key is rejected without echoing key material', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => loadConfig({ PAYLOAD_KEYS: `k1:${short}` })).toThrow(/PAYLOAD_KEYS: entry 1 must be <id>:<base64 of 32 random bytes>/);
    expect(() => loadConfig({ PAYLOAD_KEYS: `k1:${short}` })).not.toThrow(short);
    expect(() => loadConfig({ PAYLOAD_KEYS: b64() })).toThrow(/entry 1/);
    const same = b64();
    expect(() => loadConfig({ PAYLOAD_KEYS: `k1:${same},k1:${b64()}` })).toThrow(/key ID "k1" is listed twice/);
  });

  test('codec CORS origins default to the local Web UI and must be bare origins', () => {
    expect(loadConfig({}).CODEC_CORS_ORIGINS).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
    expect(() => loadConfig({ CODEC_CORS_ORIGINS: 'https://ui.example.com/' })).toThrow(/CODEC_CORS_ORIGINS/);
  });
});
