import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { digestOf } from './fake-stack';

/**
 * A local stand-in for an OCI registry (ghcr.io cannot be reached here), answering the documented
 * shapes: `HEAD /v2/<name>/manifests/<tag>` with `Docker-Content-Digest`, 404 for an unknown tag, and
 * the token flow (401 + `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, then `GET <realm>` → `{token}`).
 */
export async function startRegistryDouble(tags: string[]): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const token = 'test-token-1';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://registry.test');
    requests.push(`${req.method} ${url.pathname}${url.search}${req.headers.authorization ? ` (${req.headers.authorization.split(' ')[0]})` : ''}`);
    if (url.pathname === '/token') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
      return;
    }
    const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (!match || req.method !== 'HEAD') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      const { port } = server.address() as AddressInfo;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="registry.test",scope="repository:${match[1]}:pull"` }).end();
      return;
    }
    const tag = decodeURIComponent(match[2]!);
    if (!tags.includes(tag)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': digestOf(tag) }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
