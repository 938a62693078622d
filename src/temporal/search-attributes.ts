/**
 * Registers the search attributes the sagas upsert (contracts' `searchAttributes`) on a namespace.
 * `npm start` passes them to the dev server; on a real cluster run `npm run register-search-attributes`
 * once (or `temporal operator search-attribute create`, see README). Idempotent.
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { searchAttributes } from '../contracts/order';

const { IndexedValueType } = temporal.api.enums.v1;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_UNIMPLEMENTED = 12;
const INDEXED_TYPE = { KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT } as const;

/** `Name=Type` pairs in the form `temporal server start-dev --search-attribute` takes. */
export function searchAttributeFlags(): string[] {
  return Object.values(searchAttributes).flatMap((key) => ['--search-attribute', `${key.name}=${key.type === 'KEYWORD' ? 'Keyword' : 'Text'}`]);
}

export async function registerSearchAttributes(connection: Pick<Connection, 'operatorService'>, namespace: string): Promise<void> {
  // The time-skipping test server cannot list search attributes, but it can add them.
  const existing = await connection.operatorService.listSearchAttributes({ namespace }).then(
    (r) => r.customAttributes ?? {},
    (err: { code?: number }) => {
      if (err.code === GRPC_UNIMPLEMENTED) return {};
      throw err;
    },
  );
  const missing = Object.values(searchAttributes).filter((key) => !(key.name in existing));
  if (missing.length === 0) return;
  await connection.operatorService
    .addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_TYPE[key.type as keyof typeof INDEXED_TYPE]])),
    })
    .catch((err: { code?: number }) => {
      if (err.code !== GRPC_ALREADY_EXISTS) throw err;
    });
}
