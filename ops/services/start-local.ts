import path from 'node:path';
import { buildClient, clientRoot } from '../../core/client/build';
import { describeConfig } from '../../core/src/config';
import { runCore } from '../../core/src/main';
import { stopWithParent } from '../process';
import { startLocalStack } from './local-stack';
import { localStackSteps, provision } from './provision';

/**
 * `npm start`: the core with its local defaults. Starts a MongoDB-compatible server that keeps its
 * data in var/mongo (unless MONGODB_URI is set) and stops it when the core stops.
 */
async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(`npm start [-- --help]\n\nStarts the core and, unless MONGODB_URI is set, a local MongoDB-compatible server (data in var/mongo).\nConfiguration (environment variables):\n\n${describeConfig()}`);
    return;
  }
  if (!process.env.MONGODB_URI) await provision(localStackSteps({ redis: false }));
  // The reference web client (core/client/web) is served at /app/ in development: build it first
  // (a few seconds), unless WEB_CLIENT_DIR says where a built one is.
  const webEnv: Record<string, string> = {};
  if (process.env.WEB_CLIENT_DIR === undefined) {
    console.error('building the reference web client (npm run build:client) …');
    await buildClient();
    webEnv.WEB_CLIENT_DIR = path.join(clientRoot, 'dist', 'web');
  }
  const stack = await startLocalStack({ mongo: 'h2', redis: false });
  // Last resort (sends SIGTERM synchronously; the server also exits when our stdin pipe closes).
  process.once('exit', () => void stack.stop());
  // On SIGTERM/SIGINT (to us or to the whole process group): drain the core, then stop the local
  // database and wait for it to exit (so it is reaped, never left a zombie), all within runCore's
  // shutdown budget, whichever child dies first.
  // Local defaults: APP_ENV=development is what lets the built-in development key sign and verify tokens.
  const core = await runCore({ APP_ENV: 'development', ...webEnv, ...process.env, ...stack.env }, { afterStop: () => stack.stop() });
  // A SIGTERM to npm's pid alone ends npm's `sh -c`, not us: treat being reparented as that SIGTERM.
  stopWithParent();
  const port = core.port;
  console.error(`
  Switchboard core is up: http://127.0.0.1:${port}
${core.config.WEB_CLIENT_DIR ? `    web client http://127.0.0.1:${port}/app/   (sign in with a token from \`npm run --silent token -- alice\`)\n` : ''}    health     curl http://127.0.0.1:${port}/health
    metrics    curl ${core.metricsUrl}/metrics   (internal listener, METRICS_PORT; never the public port)
${core.config.API_DOCS ? `    API docs   http://127.0.0.1:${port}/api/docs   (the document: /api/openapi.json)\n` : `    OpenAPI    http://127.0.0.1:${port}/api/openapi.json   (the docs page is off: API_DOCS=false)\n`}    a token    TOKEN=$(npm run --silent token -- alice)
    try it     curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:${port}/api/conversations
  Stop with Ctrl-C (drains in-flight work, then stops the local database).
`);
}

main().catch((error: Error) => {
  console.error(`npm start failed: ${error.message}`);
  process.exit(1);
});
