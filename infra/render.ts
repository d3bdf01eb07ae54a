// Renders a stack's Kubernetes objects to YAML (secrets as placeholders), from the same
// definitions the Pulumi program uses: `npx tsx infra/render.ts <dev|staging|production> [out.yaml]`.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { environments, parseStackConfig, type Environment } from './src/config';
import { renderYaml } from './src/k8s/render';
import { kubernetesManifests, kubernetesSpecs, loadObservability, placeholderSecretsFor, type Observability } from './src/stack';
import type { Manifest } from './src/k8s/types';

/** The `switchboard:` keys of infra/Pulumi.<env>.yaml as a raw (unvalidated) config object. */
export function rawStackConfig(environment: Environment, dir = __dirname): Record<string, unknown> {
  const file = YAML.parse(fs.readFileSync(path.join(dir, `Pulumi.${environment}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(file.config ?? {})
      .filter(([key]) => key.startsWith('switchboard:'))
      .map(([key, value]) => [key.slice('switchboard:'.length), value]),
  );
}

/** The validated config of infra/Pulumi.<env>.yaml. */
export function stackConfigFromFile(environment: Environment, dir = __dirname) {
  return parseStackConfig(rawStackConfig(environment, dir));
}

export function stackManifests(environment: Environment, observability: Observability = loadObservability()): Manifest[] {
  const config = stackConfigFromFile(environment);
  return kubernetesManifests(kubernetesSpecs(config, placeholderSecretsFor(config), observability));
}

if (require.main === module) {
  const [environment, out] = process.argv.slice(2);
  if (!environments.includes(environment as Environment)) {
    console.error(`usage: npx tsx infra/render.ts <${environments.join('|')}> [out.yaml]`);
    process.exit(2);
  }
  const yaml = renderYaml(stackManifests(environment as Environment));
  if (out) fs.writeFileSync(out, yaml);
  else process.stdout.write(yaml);
}
