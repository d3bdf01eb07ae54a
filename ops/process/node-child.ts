// The one import of node:child_process in ops/: everything else runs commands through this layer
// (run.ts: zx with timeouts and error reports; daemon.ts: long-running children tied to our life).
export { fork, spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
