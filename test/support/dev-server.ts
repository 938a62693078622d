/** Tests start the dev server exactly as `npm start` does (scripts/lib/dev-server.ts). */
export { startDevServer } from '../../scripts/lib/dev-server';
