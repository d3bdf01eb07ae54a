import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startMinio } from '../../ops/services/minio';
import { requirePythonTool } from '../../ops/services/python-tools';
import { createS3Client, ensureBucket } from '../src/media/s3';
import { s3Env } from './harness';
import { conversationsRouter } from '../src/http/conversations-router';
import { openApiDocument } from '../src/http/openapi';
import { createMetrics } from '../src/telemetry/metrics';
import { startTestCore } from './harness';

const run = promisify(execFile);

/** Express routes of the API router as "METHOD /api/path/{param}". */
function expressRoutes(): string[] {
  const router = conversationsRouter({} as never, createMetrics({ version: 't', instance: 't' })) as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  return router.stack
    .filter((layer) => layer.route)
    .flatMap((layer) => Object.keys(layer.route!.methods).map((m) => `${m.toUpperCase()} /api${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`))
    .sort();
}

function documentedRoutes(): string[] {
  return Object.entries(openApiDocument.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe('OpenAPI document', () => {
  it('describes exactly the routes Express serves', () => {
    expect(documentedRoutes()).toEqual(expressRoutes());
  });

  it('is served at /api/openapi.json without a token', async () => {
    const t = await startTestCore();
    try {
      const res = await fetch(`${t.url}/api/openapi.json`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { openapi: string }).openapi).toBe('3.1.0');
    } finally {
      await t.stop();
    }
  });

  it('schemathesis finds no 5xx and no response that breaks the schema', async () => {
    const schemathesis = requirePythonTool('schemathesis');
    const minio = await startMinio();
    const s3 = createS3Client({ bucket: 'media', endpoint: minio.endpoint, region: minio.region, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
    await ensureBucket(s3, 'media');
    s3.destroy();
    const t = await startTestCore(s3Env(minio, 'media'));
    try {
      const token = await t.token('schemathesis-user');
      const args = [
        'run', `${t.url}/api/openapi.json`,
        '-H', `Authorization: Bearer ${token}`,
        '--checks', 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
        '--phases', 'coverage,fuzzing,stateful',
        '--max-examples', '15',
        '--workers', '1',
        '--seed', '20261122',
        '--no-color',
      ];
      const result = await run(schemathesis, args, { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }).then(
        (r) => ({ code: 0, output: r.stdout + r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
      );
      if (result.code !== 0) console.log(result.output);
      expect(result.output).toMatch(/\d+ generated, \d+ passed/);
      expect(result.code).toBe(0);
      // The process survived everything schemathesis sent.
      expect((await fetch(`${t.url}/health`)).status).toBe(200);
    } finally {
      await t.stop();
      await minio.stop();
    }
  }, 300_000);
});
