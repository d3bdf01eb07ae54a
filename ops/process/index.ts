// The process layer of ops/ (zx): see run.ts for commands that finish, daemon.ts for long-running ones.
export { CommandError, commandLine, findCommand, MissingCommandError, requireCommand, run, runSync, setVerbose, tail, type RunOptions, type RunResult } from './run';
export { forkModule, groupMembers, spawnDetached, startChild, stopWithParent, terminate, type Child, type ChildOptions } from './daemon';
export { registryDir, sweepOrphans } from './registry';
export { runAttached, type AttachedOptions, type AttachedResult } from './attached';
