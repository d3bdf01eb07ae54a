import { SignJWT, createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { AppError } from '../errors';
import { userIdSchema } from '../chat/validation';

export interface TokenSettings {
  issuer: string;
  audience: string;
  hs256Keys: string[];
  jwksUrl?: string;
  /** Rate limit and cache lifetime of the JWKS (jose's cooldownDuration / cacheMaxAge). */
  jwksCooldownMs?: number;
  jwksCacheMaxAgeMs?: number;
  clockToleranceS: number;
}

export interface Principal {
  userId: string;
  /** When the token stops being valid (its `exp`, epoch ms; the verifier's clock tolerance not included). */
  expiresAt: number;
  /** When the token was issued (its `iat`, epoch ms), if it says: revocation ends tokens issued at or before it. */
  issuedAt?: number;
}

function parseKeys(entries: string[]): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const entry of entries) {
    const at = entry.indexOf(':');
    keys.set(entry.slice(0, at), new TextEncoder().encode(entry.slice(at + 1)));
  }
  return keys;
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

/**
 * The identity provider's key set, kept as last known good. jose's createRemoteJWKSet refetches on
 * every verify once the set is stale and throws when that fails (every token then answered 401 —
 * clients sign out — during an IdP outage). Here:
 * - a stale set is refreshed in the background, at most once per cooldown, and used meanwhile;
 * - a token naming an unknown kid (rotation) triggers a refresh, at most once per cooldown;
 * - a failed refresh keeps the last good set;
 * - with no set known at all and the IdP unreachable, verification answers 503 `unavailable`
 *   (retryable), never 401.
 * `clock` is a duration clock (ms), injectable for tests.
 */
export function jwksKeySet(url: URL, options: { cooldownMs: number; maxAgeMs: number; clock?: () => number; fetchTimeoutMs?: number }) {
  const clock = options.clock ?? (() => performance.now());
  let known: { resolve: KeyResolver; kids: Set<string | undefined>; fetchedAt: number } | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | undefined;
  // Bumped by every successful fetch: verified-token caches drop what an older key set vouched for.
  let generation = 0;
  const fetchNow = (): Promise<void> => {
    pending ??= (async () => {
      lastAttempt = clock();
      try {
        const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 5_000) });
        if (!res.ok) throw new Error(`JWKS answered HTTP ${res.status}`);
        const body = await res.json() as JSONWebKeySet;
        known = { resolve: createLocalJWKSet(body), kids: new Set(body.keys.map((k) => k.kid)), fetchedAt: clock() };
        generation += 1;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
  const coolingDown = () => clock() - lastAttempt < options.cooldownMs;
  async function keysFor(kid: string | undefined): Promise<KeyResolver> {
    if (!known) {
      if (!coolingDown() || pending) await fetchNow().catch(() => undefined);
      if (!known) throw new AppError('unavailable', 'The identity provider cannot be reached to check the token; retry shortly.', { retryAfter: 5 });
    } else if (!known.kids.has(kid) && !coolingDown()) {
      await fetchNow().catch(() => undefined); // a failure keeps the last good set
    } else if (clock() - known.fetchedAt > options.maxAgeMs && !coolingDown()) {
      void fetchNow().catch(() => undefined);
    }
    return known.resolve;
  }
  return Object.assign(keysFor, { generation: () => generation });
}

/**
 * Verifies bearer tokens. The key is chosen by `kid`; the algorithm is pinned per key type
 * (HS256 for shared secrets, RS256/ES256 for the identity provider's JWKS), so `alg: none` and
 * algorithm-confusion tokens fail. `iss`, `aud` and `exp` are always required.
 */
export function createTokenVerifier(settings: TokenSettings, now: () => Date = () => new Date()) {
  const secrets = parseKeys(settings.hs256Keys);
  // The key set is refetched when a token names an unknown kid (key rotation at the identity
  // provider), at most once per cooldown, so a flood of forged kids cannot hammer the IdP; the last
  // good set is kept through an IdP outage (jwksKeySet).
  const jwks = settings.jwksUrl
    ? jwksKeySet(new URL(settings.jwksUrl), { cooldownMs: settings.jwksCooldownMs ?? 30_000, maxAgeMs: settings.jwksCacheMaxAgeMs ?? 600_000 })
    : undefined;
  const options = {
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: settings.clockToleranceS,
    requiredClaims: ['exp', 'sub'],
  };

  /**
   * Verified tokens, by their exact text (the signature covers every byte): a client sends the same
   * bearer token with every request, and the HMAC/JWKS check with its claim parsing was a few % of
   * the core's CPU per request (issue 23 profile). A hit is re-judged against the clock every time
   * (exp + tolerance, exactly jose's rule), so expiry still ends access on the first request after
   * it; only successful verifications are kept; entries from the identity provider's JWKS live at
   * most JWKS_HIT_MAX_AGE_MS and only as long as the key set that verified them (a refresh that
   * retires a key ends its tokens' hits at once). Bounded (oldest evicted first).
   */
  const verified = new Map<string, { principal: Principal; exp: number; until: number; keySet: number }>();
  const keySetGeneration = () => jwks?.generation() ?? 0;
  const stillValid = (exp: number, nowMs: number) => exp > Math.floor(nowMs / 1000) - settings.clockToleranceS;

  return async function verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new AppError('unauthorized', 'A bearer token is required.');
    const hit = verified.get(token);
    if (hit) {
      const nowMs = now().getTime();
      if (nowMs < hit.until && stillValid(hit.exp, nowMs) && (hit.keySet === HS256_ENTRY || hit.keySet === keySetGeneration())) return hit.principal;
      verified.delete(token);
    }
    const keySet = keySetGeneration();
    const principal = await verifyFully(token);
    const exp = principal.expiresAt / 1000;
    const viaJwks = !secrets.has(decodeProtectedHeader(token).kid ?? '');
    Object.freeze(principal);
    verified.set(token, { principal, exp, until: viaJwks ? now().getTime() + JWKS_HIT_MAX_AGE_MS : Number.POSITIVE_INFINITY, keySet: viaJwks ? keySet : HS256_ENTRY });
    if (verified.size > VERIFIED_MAX_ENTRIES) verified.delete(verified.keys().next().value!);
    return principal;
  };

  async function verifyFully(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      const header = decodeProtectedHeader(token);
      const secret = header.kid ? secrets.get(header.kid) : undefined;
      // `now` is the clock exp/nbf are checked against (tests inject theirs).
      if (secret) payload = (await jwtVerify(token, secret, { ...options, currentDate: now(), algorithms: ['HS256'] })).payload;
      else if (jwks) payload = (await jwtVerify(token, await jwks(header.kid), { ...options, currentDate: now(), algorithms: ['RS256', 'ES256'] })).payload;
      else throw new AppError('unauthorized', 'The token names an unknown signing key.');
    } catch (error) {
      if (error instanceof AppError) throw error;
      const reason = error instanceof joseErrors.JWTExpired ? 'The token has expired.' : 'The token is not valid.';
      throw new AppError('unauthorized', reason);
    }
    const userId = userIdSchema.safeParse(payload.sub);
    if (!userId.success) throw new AppError('unauthorized', 'The token subject is not a valid user id.');
    // requiredClaims makes exp present; jose has checked it is a number.
    return { userId: userId.data, expiresAt: (payload.exp as number) * 1000, ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat * 1000 } : {}) };
  }
}

/** How many verified tokens one verifier remembers (one per active session is the working set). */
const VERIFIED_MAX_ENTRIES = 10_000;
/** Marks a cache entry verified with a configured HS256 secret (no key set to outlive). */
const HS256_ENTRY = -1;
/** A JWKS-verified token is checked against the key set again after this long. */
const JWKS_HIT_MAX_AGE_MS = 60_000;

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/** Signs an HS256 token with the first configured key (local development, tests, load tests). */
export async function signLocalToken(settings: TokenSettings, userId: string, ttlSeconds = 12 * 3600, now: Date = new Date()): Promise<string> {
  const first = settings.hs256Keys[0];
  if (!first) throw new Error('no HS256 key configured (JWT_HS256_KEYS)');
  const at = first.indexOf(':');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', kid: first.slice(0, at), typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .setExpirationTime(Math.floor(now.getTime() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(first.slice(at + 1)));
}

export function tokenSettingsFrom(config: { JWT_ISSUER: string; JWT_AUDIENCE: string; JWT_HS256_KEYS: string[]; JWT_JWKS_URL?: string; JWT_JWKS_COOLDOWN_MS?: number; JWT_JWKS_CACHE_MAX_AGE_MS?: number; JWT_CLOCK_TOLERANCE_S: number }): TokenSettings {
  return {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    hs256Keys: config.JWT_HS256_KEYS,
    jwksUrl: config.JWT_JWKS_URL,
    jwksCooldownMs: config.JWT_JWKS_COOLDOWN_MS,
    jwksCacheMaxAgeMs: config.JWT_JWKS_CACHE_MAX_AGE_MS,
    clockToleranceS: config.JWT_CLOCK_TOLERANCE_S,
  };
}
