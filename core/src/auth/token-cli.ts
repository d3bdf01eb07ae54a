import { loadConfig } from '../config';
import { signLocalToken, tokenSettingsFrom } from './tokens';
import { userIdSchema } from '../chat/validation';

// `npm run --silent token -- <userId> [ttlSeconds]`: prints a JWT the local configuration accepts.
async function main(): Promise<void> {
  const [userId, ttl] = process.argv.slice(2);
  const parsed = userIdSchema.safeParse(userId);
  if (!parsed.success) {
    console.error('usage: npm run --silent token -- <userId> [ttlSeconds]\n  userId: 1-64 characters of A-Z a-z 0-9 _ . : @ -');
    process.exit(2);
  }
  // A local tool that signs with the local key: it runs as development unless APP_ENV says otherwise.
  const config = loadConfig({ APP_ENV: 'development', ...process.env, MONGODB_URI: process.env.MONGODB_URI ?? 'mongodb://unused' });
  console.log(await signLocalToken(tokenSettingsFrom(config), parsed.data, ttl ? Number(ttl) : undefined));
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
