import { atlasPolicies } from './atlas';
import { awsPolicies } from './aws';
import { edgePolicies } from './edge';
import { kubernetesPolicies } from './kubernetes';
import type { SwitchboardPolicy } from './support';

/** The pack's name (PolicyPack, engine output, ops' refusals). */
export const policyPackName = 'switchboard';

/** Every policy of the pack, by name (README "Policy rules"). */
export const switchboardPolicies: SwitchboardPolicy[] = [...awsPolicies, ...atlasPolicies, ...kubernetesPolicies, ...edgePolicies];
