import { randomBytes } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { signLocalToken, tokenSettingsFrom } from '../src/auth/tokens';
import { loadConfig, type Config } from '../src/config';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/realtime/events';
import { startCore, type Core } from '../src/server';
import { createLogger } from '../src/telemetry/logger';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Test-only environment from the services jest's global setup started (ops/services). */
export function testServicesEnv(): { MONGODB_URI: string; REDIS_URL: string } {
  const mongo = process.env.TEST_MONGODB_URI;
  const redis = process.env.TEST_REDIS_URL;
  if (!mongo || !redis) throw new Error('local services are not running: run tests through `npm test` (jest global setup starts them)');
  return { MONGODB_URI: mongo, REDIS_URL: redis };
}

export const uniqueDbName = () => `t_${randomBytes(6).toString('hex')}`;

export interface TestCore {
  core: Core;
  url: string;
  config: Config;
  token(userId: string): Promise<string>;
  /** fetch against the API with a bearer token for userId (or none when userId is null). */
  api(userId: string | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** A connected socket for userId; `token` replaces the default one-hour token (e.g. a short-lived one). */
  socket(userId: string, options?: { autoConnect?: boolean; token?: string }): Promise<ClientSocket>;
  stop(): Promise<void>;
}

/** Starts a real core in-process on a free port, against the real local MongoDB (own database) and optionally Redis. */
export async function startTestCore(env: Record<string, string> = {}, options: { redis?: boolean; db?: string } = {}): Promise<TestCore> {
  const services = testServicesEnv();
  const config = loadConfig({
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    APP_ENV: 'test',
    LOG_LEVEL: 'silent',
    MONGODB_URI: services.MONGODB_URI,
    MONGODB_DB: options.db ?? uniqueDbName(),
    RATE_LIMIT_API_PER_MIN: '100000',
    RATE_LIMIT_MESSAGES_PER_MIN: '100000',
    RATE_LIMIT_SOCKET_EVENTS_PER_MIN: '100000',
    SHUTDOWN_DRAIN_MS: '3000',
    ...(options.redis ? { REDIS_URL: services.REDIS_URL } : {}),
    ...env,
  });
  const core = await startCore(config, { logger: createLogger({ level: config.LOG_LEVEL, instance: 'test', version: 'test' }) });
  const sockets: ClientSocket[] = [];
  const settings = tokenSettingsFrom(config);
  const token = (userId: string) => signLocalToken(settings, userId, 3600);
  return {
    core,
    url: core.url,
    config,
    token,
    api: (userId, method, path, body, headers = {}) => requestAs(core.url, token, userId, method, path, body, headers),
    socket: (userId, socketOptions = {}) => openTestSocket(core.url, token, sockets, userId, socketOptions),
    async stop() {
      for (const s of sockets) s.disconnect();
      await core.stop();
    },
  };
}

/**
 * One request as `userId` (null: no token) to a core at `baseUrl`: JSON body in, parsed JSON (or the raw
 * text) out. Shared by the in-process harness and the real-process one (core-process.ts).
 */
export async function requestAs(baseUrl: string, token: (userId: string) => Promise<string>, userId: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const auth = userId ? { authorization: `Bearer ${await token(userId)}` } : {};
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...auth, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch { /* keep text */ }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** A raw test socket as `userId` (websocket only, no reconnection), tracked in `sockets` for cleanup; resolves once connected unless autoConnect is false. */
export async function openTestSocket(url: string, token: (userId: string) => Promise<string>, sockets: ClientSocket[], userId: string, options: { token?: string; autoConnect?: boolean } = {}): Promise<ClientSocket> {
  const socket: ClientSocket = connect(url, { auth: { token: options.token ?? (await token(userId)) }, transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: options.autoConnect ?? true });
  sockets.push(socket);
  if (options.autoConnect === false) return socket;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return socket;
}

/** Waits for one event, failing after timeoutMs. */
export function nextEvent<T>(socket: ClientSocket, event: keyof ServerToClientEvents, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(event)} within ${timeoutMs} ms`)), timeoutMs);
    (socket as unknown as Socket).once(event as string, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** Collects every payload of an event until stopped. */
export function collect<T>(socket: ClientSocket, event: keyof ServerToClientEvents): T[] {
  const seen: T[] = [];
  (socket as unknown as Socket).on(event as string, (payload: T) => seen.push(payload));
  return seen;
}

/** Core settings that point attachments at a local MinIO bucket. */
export function s3Env(m: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }, bucket: string): Record<string, string> {
  return { S3_BUCKET: bucket, S3_ENDPOINT: m.endpoint, S3_REGION: m.region, S3_ACCESS_KEY_ID: m.accessKeyId, S3_SECRET_ACCESS_KEY: m.secretAccessKey };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
