import { loadConfig } from '../config';
import { signLocalToken, tokenSettingsFrom } from './tokens';
import { userIdSchema } from '../chat/validation';

const usage = `usage: npm run --silent token -- <userId> [ttlSeconds]
  Prints an HS256 JWT for <userId> that the local configuration (JWT_* variables) accepts.
  userId: 1-64 characters of A-Z a-z 0-9 _ . : @ - (not starting with "-")
  ttlSeconds: lifetime, default 43200 (12 hours)
  example: TOKEN=$(npm run --silent token -- alice)`;

// `npm run --silent token -- <userId> [ttlSeconds]`: prints a JWT the local configuration accepts.
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.some((a) => a === '--help' || a === '-h') || args.length === 0) {
    (args.length === 0 ? console.error : console.log)(usage);
    process.exit(args.length === 0 ? 2 : 0);
  }
  const [userId, ttl, ...rest] = args;
  // A user id that looks like a flag is a mistyped option, never a user to mint a token for.
  const flag = args.find((a) => a.startsWith('-'));
  if (flag) fail(`unknown option ${flag}`);
  if (rest.length) fail(`unexpected argument ${rest[0]}`);
  const parsed = userIdSchema.safeParse(userId);
  if (!parsed.success) fail(`"${userId}" is not a user id`);
  const ttlSeconds = ttl === undefined ? undefined : Number(ttl);
  if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) fail(`ttlSeconds must be a whole number > 0 (got "${ttl}")`);
  // A local tool that signs with the local key: it runs as development unless APP_ENV says otherwise.
  const config = loadConfig({ APP_ENV: 'development', ...process.env, MONGODB_URI: process.env.MONGODB_URI ?? 'mongodb://unused' });
  console.log(await signLocalToken(tokenSettingsFrom(config), parsed.data!, ttlSeconds));
}

function fail(message: string): never {
  console.error(`error: ${message}\n${usage}`);
  process.exit(2);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
