import type { Output } from '../cli/output';
import { stackSetting } from '../state/stacks';
import { AlertmanagerError, amtoolCommand, createSilence, expireMaintenanceSilences, maintenanceSilence } from './silences';

/**
 * The Alertmanager side of `ops maintenance on|off`. The Alertmanager of an environment is
 * --alertmanager-url, $ALERTMANAGER_URL or the stack's switchboard:observability.alertmanagerUrl. Maintenance never waits for Alertmanager: when it cannot
 * be reached (or none is configured) the command warns and prints the silence to create by hand.
 */

export interface SilenceOutcome {
  /** Created (on) or expired (off) silence ids. */
  ids: string[];
  /** Why nothing was created/expired: `unconfigured`, `unreachable`, `rejected`. */
  problem?: 'unconfigured' | 'unreachable' | 'rejected';
  /** The command that does it by hand, when there was a problem. */
  manual?: string;
  /** One line for the audit log. */
  audit: string;
}

/** The stack config key naming a cluster's Alertmanager (infra/src/config.ts `observability`). */
export const ALERTMANAGER_URL_KEY = 'switchboard:observability.alertmanagerUrl';

/**
 * The environment's Alertmanager: --alertmanager-url, else $ALERTMANAGER_URL, else (a stack) its
 * committed `switchboard:observability.alertmanagerUrl`; undefined when none is set.
 */
export function alertmanagerUrlOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv, stack?: string, workDir?: string): string | undefined {
  const given = typeof values['alertmanager-url'] === 'string' ? values['alertmanager-url'] : env.ALERTMANAGER_URL;
  if (given && given.length > 0) return given;
  if (!stack || stack === 'local') return undefined;
  const fromStack = stackSetting(stack, ALERTMANAGER_URL_KEY, workDir);
  return fromStack && fromStack.length > 0 ? fromStack : undefined;
}

const placeholderUrl = 'http://<alertmanager>:9093';

export async function silenceMaintenance(options: { alertmanagerUrl?: string; env: string; operator: string; message: string; now: Date; endsAt: Date; out: Pick<Output, 'warn' | 'info'> }): Promise<SilenceOutcome> {
  const silence = maintenanceSilence(options);
  const manual = amtoolCommand(silence, options.alertmanagerUrl ?? placeholderUrl);
  if (!options.alertmanagerUrl) {
    options.out.warn(`no Alertmanager configured for ${options.env} (--alertmanager-url, $ALERTMANAGER_URL or switchboard:observability.alertmanagerUrl): the alerts this maintenance explains will page. Create the silence by hand:\n  ${manual}`);
    return { ids: [], problem: 'unconfigured', manual, audit: 'alert silence NOT created (no Alertmanager configured)' };
  }
  try {
    const id = await createSilence(options.alertmanagerUrl, silence);
    options.out.info(`Alertmanager silence ${id} until ${silence.endsAt} (environment=${options.env}, ${silence.matchers[1]!.value.split('|').length} alerts)`);
    return { ids: [id], audit: `alert silence ${id} until ${silence.endsAt}` };
  } catch (error) {
    if (!(error instanceof AlertmanagerError)) throw error;
    options.out.warn(`${error.message}\n  maintenance goes on without a silence: the alerts it explains will page. Create it by hand:\n  ${manual}`);
    return { ids: [], problem: error.code, manual, audit: `alert silence NOT created (Alertmanager ${error.code})` };
  }
}

export async function expireMaintenance(options: { alertmanagerUrl?: string; env: string; out: Pick<Output, 'warn' | 'info'> }): Promise<SilenceOutcome> {
  const manual = `amtool silence query --alertmanager.url=${options.alertmanagerUrl ?? placeholderUrl} environment=${options.env}   # then: amtool silence expire <id>`;
  if (!options.alertmanagerUrl) {
    options.out.warn(`no Alertmanager configured for ${options.env}: expire the maintenance silence by hand:\n  ${manual}`);
    return { ids: [], problem: 'unconfigured', manual, audit: 'alert silence NOT expired (no Alertmanager configured)' };
  }
  try {
    const ids = await expireMaintenanceSilences(options.alertmanagerUrl, options.env);
    options.out.info(ids.length ? `expired Alertmanager silence(s) ${ids.join(', ')}` : 'no maintenance silence was active');
    return { ids, audit: ids.length ? `alert silence(s) ${ids.join(', ')} expired` : 'no alert silence active' };
  } catch (error) {
    if (!(error instanceof AlertmanagerError)) throw error;
    options.out.warn(`${error.message}\n  the maintenance silence stays until its end time. Expire it by hand:\n  ${manual}`);
    return { ids: [], problem: error.code, manual, audit: `alert silence NOT expired (Alertmanager ${error.code})` };
  }
}
