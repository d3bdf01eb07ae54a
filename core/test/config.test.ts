import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../src/config';

describe('config', () => {
  it('applies defaults and coerces types', () => {
    const config = loadConfig({ APP_ENV: 'development', MONGODB_URI: 'mongodb://127.0.0.1:1' });
    expect(config.PORT).toBe(3000);
    expect(config.RATE_LIMIT_MESSAGES_PER_MIN).toBe(30);
    expect(config.MAINTENANCE_MODE).toBe(false);
    expect(config.JWT_HS256_KEYS).toHaveLength(1);
  });

  it('lists every bad or missing variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', MAINTENANCE_MODE: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['MONGODB_URI is required', 'PORT=', 'REDIS_URL=', 'MAINTENANCE_MODE=']) expect(problems).toContain(name);
  });

  it('refuses the development JWT key in production', () => {
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://x', APP_ENV: 'production' })).toThrow(/development key/);
  });

  it('accepts the built-in development key only when APP_ENV is explicitly development, local or test', () => {
    for (const appEnv of ['development', 'local', 'test']) expect(loadConfig({ MONGODB_URI: 'mongodb://x', APP_ENV: appEnv }).JWT_HS256_KEYS).toHaveLength(1);
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://x', APP_ENV: 'staging' })).toThrow(/development key is accepted only with APP_ENV set to development, local, test \(APP_ENV is "staging"\)/);
    // A deploy that forgot APP_ENV.
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://x' })).toThrow(/APP_ENV is not set/);
    // Its own keys or JWKS work without APP_ENV.
    expect(loadConfig({ MONGODB_URI: 'mongodb://x', JWT_HS256_KEYS: 'k1:a-secret-of-at-least-thirty-two-characters' }).APP_ENV).toBe('development');
    expect(loadConfig({ MONGODB_URI: 'mongodb://x', APP_ENV: 'staging', JWT_HS256_KEYS: '', JWT_JWKS_URL: 'https://idp.example.test/jwks' }).JWT_HS256_KEYS).toEqual([]);
  });

  it('refuses ATTACHMENT_CDN_BASE_URL (removed: attachments have no public URL), naming the read route', () => {
    expect(() => loadConfig({ APP_ENV: 'test', MONGODB_URI: 'mongodb://x', ATTACHMENT_CDN_BASE_URL: 'https://media.example.com' })).toThrow(/ATTACHMENT_CDN_BASE_URL is no longer supported.*GET \/api\/conversations\/\{id\}\/attachments\/\{attachmentId\}.*unset it/);
  });

  it('never echoes secrets in errors', () => {
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://x', JWT_HS256_KEYS: 'k:short-secret' })).toThrow(/JWT_HS256_KEYS="\*\*\*"/);
  });

  it('README documents every variable exactly as --help prints it', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(describeConfig());
  });
});
