import path from 'node:path';
import { hadolint } from '../hadolint';
import { dockerfilePath } from '../image';

jest.setTimeout(180_000);

test('the image Dockerfile is clean under hadolint (no finding at any level)', async () => {
  expect(await hadolint(dockerfilePath)).toEqual([]);
});

test('hadolint catches an untagged base, unpinned apt packages and missing --no-install-recommends', async () => {
  const findings = await hadolint(path.join(__dirname, 'fixtures', 'bad.Dockerfile'));
  expect(findings.map((f) => f.code)).toEqual(expect.arrayContaining(['DL3006', 'DL3008', 'DL3015']));
  expect(findings.find((f) => f.code === 'DL3006')?.line).toBe(3);
});
