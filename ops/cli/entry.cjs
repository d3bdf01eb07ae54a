// The `ops` process (ops/bin/ops runs `node ops/cli/entry.cjs`): tsx's CommonJS hook loaded in this
// process, not the tsx CLI. The tsx CLI runs the program in a child process, relays Ctrl-C to it and
// SIGKILLs it when the child does not acknowledge within 30 ms (a busy event loop on a loaded machine),
// which skipped ops' cleanup and left the lock behind; and a SIGKILL of the tsx CLI would orphan the
// child, which would keep renewing its lock. One process: signals reach ops itself.
require('tsx/cjs');
require('./main.ts').main();
