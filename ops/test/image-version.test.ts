import { imageVersion as infraImageVersion } from '../../infra/src/k8s/app-manifests';
import { imageVersion } from '../targets/kubernetes/stack-runner';

// ops mirrors infra's imageVersion (which loads Pulumi, ~8 s) to know what /health reports after a deploy.
test.each([
  'ghcr.io/example/switchboard-core@sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904f1c8b4d1a1a0b8d2f3c4e5f6',
  'ghcr.io/example/switchboard-core:2026.11.22-abc123',
  'localhost:5000/switchboard-core:v7',
  'switchboard-core',
])('ops and infra agree on the version of %s', (image) => {
  expect(imageVersion(image)).toBe(infraImageVersion(image));
});
