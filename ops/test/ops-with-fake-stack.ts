/**
 * The `ops` CLI in a process of its own (the same runCli as ops/bin/ops), with the Pulumi stack and
 * the cluster replaced by the recorded fake: what cannot run here. Everything else is real (the state
 * backend, MinIO, the lock's heartbeat, signals). Options for the fake come as JSON in $OPS_FAKE_STACK.
 * Used by ops/test/shared-state.e2e.test.ts to race two runners.
 */
import { runCli } from '../cli/main';
import { injectKubernetes } from '../commands/common';
import { fakeStack, type FakeStackOptions } from './fake-stack';

const options = JSON.parse(process.env.OPS_FAKE_STACK ?? '{}') as Omit<FakeStackOptions, 'onUp'>;
const fake = fakeStack({ ...options, stack: options.stack ?? 'production', onUp: () => process.stderr.write('fake-stack: up started\n') });
injectKubernetes({ runner: fake.runner, probe: fake.probe, pods: fake.pods, smoke: fake.smoke, pollMs: 10, verifyTimeoutMs: 5_000 });
runCli(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: Error) => { console.error(error); process.exitCode = 1; },
);
