import { randomUUID } from 'node:crypto';
import { signLocalToken } from '../../../core/src/auth/tokens';

/** The public smoke test of a stack: throws with what failed. Injectable (tests use a double against the fake cluster). */
export type StackSmokeTest = (url: string) => Promise<void>;

/** Settings the smoke test signs its tokens with: the stack's own issuer, audience and an HS256 key. */
export interface SmokeTokens {
  issuer: string;
  audience: string;
  /** `kid:secret` (the first entry of the stack's JWT_HS256_KEYS). */
  key: string;
}

export function smokeTokensFromEnv(env: NodeJS.ProcessEnv): SmokeTokens | undefined {
  const key = env.OPS_SMOKE_JWT_KEY;
  if (!key || !env.OPS_SMOKE_JWT_ISSUER || !env.OPS_SMOKE_JWT_AUDIENCE) return undefined;
  return { key, issuer: env.OPS_SMOKE_JWT_ISSUER, audience: env.OPS_SMOKE_JWT_AUDIENCE };
}

/**
 * An authenticated round trip through the public URL, as the local target's smoke test does over
 * HTTP: create a conversation, send a message, read it back by seq. Any non-2xx (a 503 included)
 * fails: a release that cannot store and return a message is not serving.
 */
export function httpSmokeTest(tokens: SmokeTokens): StackSmokeTest {
  return async (url) => {
    const settings = { issuer: tokens.issuer, audience: tokens.audience, hs256Keys: [tokens.key], clockToleranceS: 5 };
    const [a, b] = ['ops-smoke-a', 'ops-smoke-b'];
    const token = await signLocalToken(settings, a, 300);
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const conversation = await call('POST', '/api/conversations', { type: 'group', name: 'ops smoke test', memberIds: [b] });
    const id = String(conversation.id);
    const text = `smoke ${randomUUID()}`;
    const sent = await call('POST', `/api/conversations/${id}/messages`, { clientMsgId: randomUUID(), text });
    const seq = Number(sent.seq);
    const history = await call('GET', `/api/conversations/${id}/messages?afterSeq=${seq - 1}`);
    const items = (history.items ?? []) as { seq?: number; text?: string }[];
    if (!items.some((m) => m.seq === seq && m.text === text)) throw new Error(`the message sent as seq ${seq} was not read back from ${url}`);
  };
}
