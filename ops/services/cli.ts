import { startLocalStack } from './local-stack';

// `npm run services -- up [--h2]`: starts the local services alone (for manual runs) until Ctrl-C.
async function main(): Promise<void> {
  const [command] = process.argv.slice(2);
  if (command !== 'up') {
    console.log('usage: npm run services -- up [--h2]\n  Starts a MongoDB-compatible server (memory, or H2 in var/mongo with --h2) and Redis on free loopback ports,\n  prints their addresses as environment variables, and stops them on Ctrl-C.');
    process.exit(command ? 2 : 0);
  }
  const stack = await startLocalStack({ mongo: process.argv.includes('--h2') ? 'h2' : 'memory', redis: true });
  for (const [key, value] of Object.entries(stack.env)) console.log(`export ${key}=${value}`);
  const stop = () => void stack.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
