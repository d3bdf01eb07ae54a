import digestHeader = require('digest-header');

/**
 * A small client for the Atlas Administration API v2 (https://cloud.mongodb.com/api/atlas/v2): every
 * request carries the versioned Accept header; authentication is HTTP digest with a programmatic API key
 * (ATLAS_PUBLIC_KEY / ATLAS_PRIVATE_KEY) or a service account's OAuth bearer token (ATLAS_CLIENT_ID /
 * ATLAS_CLIENT_SECRET, client-credentials grant at /api/oauth/token). The digest response is computed by
 * `digest-header` (the helper urllib uses) rather than by hand.
 */

export const ATLAS_API_VERSION = 'application/vnd.atlas.2023-01-01+json';

export type AtlasAuth = { kind: 'digest'; publicKey: string; privateKey: string } | { kind: 'service-account'; clientId: string; clientSecret: string };

export interface AtlasSettings {
  baseUrl: string;
  groupId: string;
  cluster: string;
  auth: AtlasAuth;
}

/** An error answer of the API: `{ error, errorCode, detail, reason }`. */
export class AtlasApiError extends Error {
  constructor(readonly status: number, readonly errorCode: string | undefined, detail: string) {
    super(`Atlas API ${status}${errorCode ? ` ${errorCode}` : ''}: ${detail}`);
  }
}

export class AtlasSettingsError extends Error {}

/** Settings from the environment; names each missing variable. */
export function atlasSettingsFromEnv(env: NodeJS.ProcessEnv, cluster?: string): AtlasSettings {
  const missing: string[] = [];
  const groupId = env.ATLAS_GROUP_ID ?? env.ATLAS_PROJECT_ID;
  if (!groupId) missing.push('ATLAS_GROUP_ID (the project id)');
  const name = cluster ?? env.ATLAS_CLUSTER;
  if (!name) missing.push('ATLAS_CLUSTER (or --cluster)');
  let auth: AtlasAuth | undefined;
  if (env.ATLAS_CLIENT_ID && env.ATLAS_CLIENT_SECRET) auth = { kind: 'service-account', clientId: env.ATLAS_CLIENT_ID, clientSecret: env.ATLAS_CLIENT_SECRET };
  else if (env.ATLAS_PUBLIC_KEY && env.ATLAS_PRIVATE_KEY) auth = { kind: 'digest', publicKey: env.ATLAS_PUBLIC_KEY, privateKey: env.ATLAS_PRIVATE_KEY };
  else missing.push('ATLAS_PUBLIC_KEY + ATLAS_PRIVATE_KEY (API key) or ATLAS_CLIENT_ID + ATLAS_CLIENT_SECRET (service account)');
  if (missing.length) throw new AtlasSettingsError(`Atlas is not configured: set ${missing.join('; ')}`);
  return { baseUrl: (env.ATLAS_BASE_URL ?? 'https://cloud.mongodb.com').replace(/\/+$/, ''), groupId: groupId!, cluster: name!, auth: auth! };
}

export interface AtlasClient {
  readonly settings: AtlasSettings;
  request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

export function createAtlasClient(settings: AtlasSettings, options: { timeoutMs?: number } = {}): AtlasClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let bearer: { token: string; expiresAt: number } | undefined;

  async function token(): Promise<string> {
    if (settings.auth.kind !== 'service-account') throw new Error('not a service account');
    if (bearer && bearer.expiresAt > Date.now() + 60_000) return bearer.token;
    const basic = Buffer.from(`${settings.auth.clientId}:${settings.auth.clientSecret}`).toString('base64');
    const res = await fetch(`${settings.baseUrl}/api/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new AtlasApiError(res.status, undefined, `service account token request refused (${await res.text()})`);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    bearer = { token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
    return bearer.token;
  }

  async function send(method: string, url: string, body: string | undefined, authorization?: string): Promise<Response> {
    return fetch(url, {
      method,
      headers: { accept: ATLAS_API_VERSION, ...(body !== undefined ? { 'content-type': ATLAS_API_VERSION } : {}), ...(authorization ? { authorization } : {}) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  return {
    settings,
    async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
      const url = `${settings.baseUrl}/api/atlas/v2${path}`;
      const payload = body === undefined ? undefined : JSON.stringify(body);
      let res: Response;
      if (settings.auth.kind === 'service-account') {
        res = await send(method, url, payload, `Bearer ${await token()}`);
      } else {
        // Digest: the first answer is 401 with the challenge; the second carries the response to it.
        const challenge = await send(method, url, payload);
        const wwwAuthenticate = challenge.headers.get('www-authenticate');
        if (challenge.status !== 401 || !wwwAuthenticate) res = challenge;
        else {
          await challenge.arrayBuffer();
          const { pathname, search } = new URL(url);
          res = await send(method, url, payload, digestHeader(method, `${pathname}${search}`, wwwAuthenticate, `${settings.auth.publicKey}:${settings.auth.privateKey}`));
        }
      }
      const text = await res.text();
      const parsed = text ? (JSON.parse(text) as unknown) : undefined;
      if (!res.ok) {
        const problem = (parsed ?? {}) as { errorCode?: string; detail?: string; reason?: string };
        throw new AtlasApiError(res.status, problem.errorCode, problem.detail ?? problem.reason ?? text);
      }
      return parsed as T;
    },
  };
}
