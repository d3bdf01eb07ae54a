// The Switchboard CrossGuard policy pack. `pulumi preview --policy-pack infra/policy/analyzer` (any
// Pulumi CLI that launches an executable pack, v3.276 here) or `--policy-pack infra/policy` (a CLI
// with the Node.js language host); ops deploy passes it to every preview and up of a stack.
import { PolicyPack } from '@pulumi/policy';
import { policyPackName, switchboardPolicies } from './policies';

new PolicyPack(policyPackName, { policies: switchboardPolicies, enforcementLevel: 'mandatory', description: 'Switchboard infrastructure rules (infra/README.md, "Policy rules")' });
