/** A TCP port that was free a moment ago on 127.0.0.1. */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * A free port in [min, max] (tried at random): for a peer that stores its port somewhere narrower
 * than the ephemeral range, e.g. Temporal's membership table (a PostgreSQL smallint, ≤ 32767).
 */
export async function freePortIn(min: number, max: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${min}-${max}`);
}
