import YAML from 'yaml';
import type { Manifest } from './types';

/** Multi-document YAML of manifests whose values are plain (no Pulumi outputs). */
export function renderYaml(manifests: Manifest[]): string {
  // A bare `=` (AlertmanagerConfig matchType) is YAML 1.1's `value` tag: PyYAML-based tools (checkov,
  // kubernetes-validate) refuse the whole file. Quote it.
  return manifests.map((manifest) => YAML.stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false }).replace(/^(\s*(?:- )?[\w.-]+): =$/gm, '$1: "="')).join('---\n');
}
