// The Pulumi program of every stack, as a function: `index.ts` runs it under `pulumi up` (production),
// and ops runs the same function inline through the Automation API where the Node.js language host is
// not available (the local Kubernetes stack, ops/targets/kubernetes/inline-program.ts). One entry point.
import { readStackConfig, readStackSecrets } from './src/config';
import { buildStack, type StackOutputs } from './src/stack';

export function program(): StackOutputs {
  return buildStack(readStackConfig(), readStackSecrets());
}
