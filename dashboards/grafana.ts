/**
 * A small typed subset of Grafana's dashboard JSON model (schemaVersion 39) and builders for it.
 * Plain objects instead of @grafana/grafana-foundation-sdk: no extra dependency, and the JSON we
 * commit is exactly what these types say (the SDK was evaluated; the facts and why: dashboards/README.md).
 */
export const datasourceRef = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  datasource: typeof datasourceRef;
}

export type Unit = 'short' | 'reqps' | 'ops' | 's' | 'percentunit' | 'bytes' | 'none' | 'dtdurations' | 'bool_yes_no';

export interface Panel {
  id: number;
  type: 'timeseries' | 'stat' | 'row';
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: typeof datasourceRef;
  targets?: Target[];
  fieldConfig?: { defaults: { unit?: Unit; min?: number; max?: number; decimals?: number; thresholds?: { mode: 'absolute'; steps: { color: string; value: number | null }[] } }; overrides: [] };
  options?: Record<string, unknown>;
  collapsed?: boolean;
  panels?: Panel[];
}

export interface Variable {
  name: string;
  label: string;
  type: 'datasource' | 'query';
  query: string | { query: string; refId: string };
  definition?: string;
  datasource?: typeof datasourceRef;
  current: Record<string, never>;
  hide: 0;
  refresh: 1 | 2;
  includeAll: boolean;
  multi: boolean;
  allValue?: string;
  sort?: number;
  options: [];
}

export interface Annotation {
  name: string;
  enable: boolean;
  iconColor: string;
  datasource: typeof datasourceRef | { type: 'grafana'; uid: '-- Grafana --' };
  expr?: string;
  step?: string;
  titleFormat?: string;
  textFormat?: string;
  builtIn?: 1;
  type?: 'dashboard';
  hide?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: 'utc';
  editable: false;
  graphTooltip: 1;
  schemaVersion: 39;
  version: 1;
  refresh: string;
  time: { from: string; to: string };
  templating: { list: Variable[] };
  annotations: { list: Annotation[] };
  links: { title: string; type: 'dashboards'; tags: string[]; asDropdown: boolean; includeVars: boolean; keepTime: boolean }[];
  panels: Panel[];
}

/** A query on the templated data source. */
export const q = (expr: string, legendFormat?: string): Omit<Target, 'refId'> => ({ expr, datasource: datasourceRef, ...(legendFormat ? { legendFormat } : {}) });

export interface PanelSpec {
  title: string;
  description: string;
  unit: Unit;
  targets: Omit<Target, 'refId'>[];
  type?: 'timeseries' | 'stat';
  /** Grid width out of 24 (default 12). */
  width?: number;
  min?: number;
  max?: number;
  thresholds?: { color: string; value: number | null }[];
}

/** Rows of panels, laid out left to right, wrapping at 24 columns. */
export function layout(rows: { title: string; panels: PanelSpec[] }[]): Panel[] {
  const out: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    out.push({ id: id++, type: 'row', title: row.title, collapsed: false, panels: [], gridPos: { x: 0, y, w: 24, h: 1 } });
    y += 1;
    let x = 0;
    const height = 8;
    for (const spec of row.panels) {
      const w = spec.width ?? 12;
      if (x + w > 24) {
        x = 0;
        y += height;
      }
      const type = spec.type ?? 'timeseries';
      out.push({
        id: id++,
        type,
        title: spec.title,
        description: spec.description,
        gridPos: { x, y, w, h: height },
        datasource: datasourceRef,
        targets: spec.targets.map((t, i) => ({ refId: String.fromCharCode(65 + i), ...t })),
        fieldConfig: {
          defaults: {
            unit: spec.unit,
            ...(spec.min !== undefined ? { min: spec.min } : {}),
            ...(spec.max !== undefined ? { max: spec.max } : {}),
            ...(spec.thresholds ? { thresholds: { mode: 'absolute', steps: spec.thresholds } } : {}),
          },
          overrides: [],
        },
        options:
          type === 'stat'
            ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'none', textMode: 'auto' }
            : { legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
      });
      x += w;
    }
    y += height;
  }
  return out;
}
