import YAML from 'yaml';
import type { Manifest } from './types';

/** Multi-document YAML of manifests whose values are plain (no Pulumi outputs). */
export function renderYaml(manifests: Manifest[]): string {
  return manifests.map((manifest) => YAML.stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}
