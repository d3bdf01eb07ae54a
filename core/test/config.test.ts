import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../src/config';

describe('config', () => {
  it('applies defaults and coerces types', () => {
    const config = loadConfig({ MONGODB_URI: 'mongodb://127.0.0.1:1' });
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

  it('never echoes secrets in errors', () => {
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://x', JWT_HS256_KEYS: 'k:short-secret' })).toThrow(/JWT_HS256_KEYS="\*\*\*"/);
  });

  it('README documents every variable exactly as --help prints it', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(describeConfig());
  });
});
