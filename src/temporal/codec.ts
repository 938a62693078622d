/**
 * Payload encryption shared by the API's client and every worker: an AES-256-GCM payload codec with
 * key rotation (the first configured key encrypts, every configured key decrypts), and the data
 * converter built from PAYLOAD_KEYS. Temporal's history then holds only ciphertext and key IDs.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Config, PayloadKey } from '../config';

/** Metadata of an encrypted payload: the encoding Temporal's tools recognise, and which key to decrypt it with. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12; // GCM's standard nonce size; random per payload
const TAG_BYTES = 16;

/** A payload that cannot be decrypted: its key is not configured, or it fails GCM authentication. */
export class PayloadCodecError extends Error {
  override name = 'PayloadCodecError';
}

const text = (s: string) => Buffer.from(s, 'utf8');
const stringOf = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  constructor(keys: readonly PayloadKey[]) {
    if (!keys[0]) throw new Error('EncryptionCodec needs at least one key');
    this.current = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.current;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      // The key ID is authenticated too: relabelling a payload with another key's ID fails decryption.
      cipher.setAAD(text(id));
      // The whole payload (its metadata included) is encrypted, so its original encoding is restored on decode.
      const sealed = Buffer.concat([cipher.update(temporal.api.common.v1.Payload.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text(id) },
        data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // Payloads written before encryption was switched on stay readable.
      if (stringOf(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const id = stringOf(payload.metadata?.[KEY_ID_METADATA]);
      const key = id === undefined ? undefined : this.byId.get(id);
      if (!key) throw new PayloadCodecError(`Payload encrypted with key ID "${id ?? '(none)'}", which is not configured in PAYLOAD_KEYS`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadCodecError(`Encrypted payload (key ID "${id}") is truncated`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(text(id!));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadCodecError(`Encrypted payload (key ID "${id}") failed authentication: it was altered, or the key under this ID changed`);
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** The payload codec of this deployment, or none when PAYLOAD_KEYS is empty. */
export function payloadCodec(config: Pick<Config, 'PAYLOAD_KEYS'>): EncryptionCodec | undefined {
  return config.PAYLOAD_KEYS.length ? new EncryptionCodec(config.PAYLOAD_KEYS) : undefined;
}

/** What every client and worker of one deployment must share; without keys, Temporal's default (clear JSON). */
export function dataConverter(config: Pick<Config, 'PAYLOAD_KEYS'>): DataConverter {
  const codec = payloadCodec(config);
  return codec ? { payloadCodecs: [codec] } : {};
}
