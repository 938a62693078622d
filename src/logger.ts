/** JSON logs (pino) with secrets redacted wherever they might appear. */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.paymentMethod', 'apiKey'], censor: '[redacted]' },
  });
}
