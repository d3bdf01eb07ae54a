/**
 * Resolves an image tag to the digest it points at now, so a deploy pins exactly what it tested and
 * the production stack (which requires `@sha256:`) accepts it. OCI distribution spec:
 * `HEAD /v2/<name>/manifests/<reference>` answers the digest in `Docker-Content-Digest`; a registry
 * that wants a token answers 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`, and
 * an anonymous (or basic-auth) GET on the realm returns `{"token": ...}` (Docker token spec).
 */
export interface RegistryClient {
  /** `repository` like ghcr.io/example/switchboard-core; returns `sha256:<64 hex>`. */
  resolveDigest(repository: string, tag: string): Promise<string>;
}

const manifestTypes = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export class RegistryError extends Error {}

export interface OciRegistryOptions {
  /** Base URL per registry host (default `https://<host>`); tests point it at a local double. */
  baseUrl?: (host: string) => string;
  /** `user:password` for the token realm or basic auth (e.g. from $OPS_REGISTRY_AUTH). */
  basicAuth?: string;
  timeoutMs?: number;
}

/** Splits `registry.example/ns/name` into the registry host and the repository name (Docker Hub defaults). */
export function splitRepository(repository: string): { host: string; name: string } {
  const [first, ...rest] = repository.split('/');
  if (rest.length && (first!.includes('.') || first!.includes(':') || first === 'localhost')) return { host: first!, name: rest.join('/') };
  return { host: 'registry-1.docker.io', name: rest.length ? repository : `library/${repository}` };
}

export function ociRegistry(options: OciRegistryOptions = {}): RegistryClient {
  const baseUrl = options.baseUrl ?? ((host: string) => `https://${host}`);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const basic = options.basicAuth ? `Basic ${Buffer.from(options.basicAuth).toString('base64')}` : undefined;

  async function token(challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) throw new RegistryError(`the registry asked for authentication without a token realm (${challenge})`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    const response = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new RegistryError(`token request to ${url.origin}${url.pathname} answered ${response.status}`);
    const body = (await response.json()) as { token?: string; access_token?: string };
    const value = body.token ?? body.access_token;
    if (!value) throw new RegistryError(`token response from ${url.origin} has no token`);
    return value;
  }

  return {
    async resolveDigest(repository, tag) {
      const { host, name } = splitRepository(repository);
      const url = `${baseUrl(host)}/v2/${name}/manifests/${encodeURIComponent(tag)}`;
      const head = (authorization?: string) => fetch(url, { method: 'HEAD', headers: { accept: manifestTypes, ...(authorization ? { authorization } : {}) }, signal: AbortSignal.timeout(timeoutMs) });
      let response = await head(basic);
      const challenge = response.headers.get('www-authenticate');
      if (response.status === 401 && challenge?.toLowerCase().startsWith('bearer ')) response = await head(`Bearer ${await token(challenge)}`);
      if (response.status === 404) throw new RegistryError(`${repository}:${tag} does not exist (HEAD ${url} answered 404)`);
      if (!response.ok) throw new RegistryError(`HEAD ${url} answered ${response.status}`);
      const digest = response.headers.get('docker-content-digest');
      if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new RegistryError(`HEAD ${url} answered no valid Docker-Content-Digest (${digest ?? 'missing'})`);
      return digest;
    },
  };
}
