import fs from 'node:fs';
import { coreCommand } from '../../../infra/src/k8s/app-manifests';
import { coreNodeFlags } from '../../../core/src/runtime-flags';
import { dockerfilePath } from '../image';

/** The exec-form CMD of the image's final stage (the last CMD line that is not a HEALTHCHECK's). */
function imageCmd(dockerfile: string): string[] {
  const cmds = dockerfile.split('\n').filter((line) => /^CMD\s+\[/.test(line));
  if (!cmds.length) throw new Error('the Dockerfile has no exec-form CMD');
  return JSON.parse(cmds[cmds.length - 1]!.replace(/^CMD\s+/, '')) as string[];
}

test('the image starts the core exactly as the Kubernetes container does, with the production node flags', () => {
  const cmd = imageCmd(fs.readFileSync(dockerfilePath, 'utf8'));
  expect(cmd).toEqual(coreCommand);
  expect(cmd).toEqual(['node', ...coreNodeFlags, 'core/src/main.js']);
});

test('a CMD that drops the flags is caught', () => {
  const cmd = imageCmd('FROM x\nHEALTHCHECK CMD ["node", "-e", "1"]\nCMD ["node", "core/src/main.js"]\n');
  expect(cmd).not.toEqual(coreCommand);
});
