import os from 'node:os';
import path from 'node:path';

/** Repository root (ops/services/ is two levels down). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** Downloads and builds reused across runs (jars, virtualenv, MinIO); override with SWITCHBOARD_CACHE_DIR. */
export const cacheDir = process.env.SWITCHBOARD_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'switchboard');

/** Data that `npm start` keeps between runs (the H2 database file); override with SWITCHBOARD_VAR_DIR. */
export const varDir = process.env.SWITCHBOARD_VAR_DIR ?? path.join(repoRoot, 'var');
