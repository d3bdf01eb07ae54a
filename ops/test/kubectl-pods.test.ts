import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { coreNamespace, coreSelector, kubectlPods } from '../targets/kubernetes/pods';

/**
 * The real pod lister, against a stand-in `kubectl` on the PATH (no cluster here) that answers as
 * kubectl does: `get pods -o json` prints a PodList, `get --raw <pod proxy path>` prints the body or
 * exits 1 with `Error from server (<Reason>): <body>`. It also records its arguments.
 */
let dir: string;
const savedPath = process.env.PATH;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-kubectl-'));
  const podList = {
    kind: 'PodList',
    items: [
      { metadata: { name: 'core-a' }, spec: { containers: [{ name: 'core', image: 'repo@sha256:aa' }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'core', imageID: 'repo@sha256:aa' }] } },
      { metadata: { name: 'core-b', deletionTimestamp: '2026-01-01T00:00:00Z' }, spec: { containers: [{ name: 'core', image: 'repo@sha256:00' }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] } },
    ],
  };
  fs.writeFileSync(path.join(dir, 'pods.json'), JSON.stringify(podList));
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh
echo "$*" >> "${dir}/calls"
case "$*" in
  *"get pods"*) cat "${dir}/pods.json" ;;
  *core-a:3000/proxy/ready) echo '{"ready":true}' ;;
  *core-b:3000/proxy/ready) echo 'Error from server (ServiceUnavailable): {"ready":false,"down":["mongodb"]}' >&2; exit 1 ;;
  *) echo 'error: unknown' >&2; exit 1 ;;
esac
`, { mode: 0o755 });
  process.env.PATH = `${dir}:${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('lists the core\'s pods with image, readiness and termination, and reaches each through the pod proxy', async () => {
  const pods = kubectlPods('prod-cluster');
  expect(await pods.list()).toEqual([
    { name: 'core-a', image: 'repo@sha256:aa', imageID: 'repo@sha256:aa', phase: 'Running', ready: true, terminating: false },
    { name: 'core-b', image: 'repo@sha256:00', imageID: undefined, phase: 'Running', ready: false, terminating: true },
  ]);
  expect(await pods.get('core-a', '/ready')).toEqual({ status: 200, body: { ready: true } });
  expect(await pods.get('core-b', '/ready')).toMatchObject({ status: 503 });
  expect((await pods.get('core-c', '/ready')).status).toBe(0); // unrecognised: never a 200
  expect(fs.readFileSync(path.join(dir, 'calls'), 'utf8').split('\n').filter(Boolean)).toEqual([
    `--context prod-cluster -n ${coreNamespace} get pods -l ${coreSelector} -o json`,
    `--context prod-cluster get --raw /api/v1/namespaces/${coreNamespace}/pods/core-a:3000/proxy/ready`,
    `--context prod-cluster get --raw /api/v1/namespaces/${coreNamespace}/pods/core-b:3000/proxy/ready`,
    `--context prod-cluster get --raw /api/v1/namespaces/${coreNamespace}/pods/core-c:3000/proxy/ready`,
  ]);
});
