/** Every 5xx the edge sends says when to retry (Retry-After), including an unexpected error's 500; nothing internal leaks. */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { HttpProblem, problemHandler } from '../../src/api/problem';
import { createLogger } from '../../src/logger';

async function answer(fail: () => never): Promise<Response> {
  const app = express();
  app.get('/boom', () => fail());
  app.use(problemHandler(createLogger('silent', 'test')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/boom`);
  } finally {
    server.close();
  }
}

test('an unexpected error is a 500 problem with Retry-After and no internals', async () => {
  const res = await answer(() => {
    throw new Error('secret internal state at /srv/db');
  });
  expect(res.status).toBe(500);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await res.text()).not.toMatch(/secret internal state|\/srv\/db/);
});

test('a 5xx problem that names no time gets Retry-After; one that names it keeps its own', async () => {
  const plain = await answer(() => {
    throw new HttpProblem(502, 'bad-gateway', 'Bad gateway');
  });
  expect(plain.headers.get('retry-after')).toBe('1');
  const own = await answer(() => {
    throw new HttpProblem(503, 'event-not-recorded', 'Event not recorded', undefined, {}, { 'Retry-After': '5' });
  });
  expect(own.headers.get('retry-after')).toBe('5');
  const client = await answer(() => {
    throw new HttpProblem(404, 'not-found', 'Not found');
  });
  expect(client.headers.get('retry-after')).toBeNull();
});
