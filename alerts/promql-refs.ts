/**
 * Finds the metric names a PromQL expression reads, with the function directly around each and
 * the label names it matches on. Enough PromQL for our own rules and panels (not a full parser):
 * strings, label matchers, ranges, grouping lists and Grafana variables are blanked first.
 */
export interface MetricRef {
  name: string;
  /** Function or aggregation whose parentheses directly enclose the selector ('' = none). */
  enclosing: string;
  /** Whether the selector carries a range, `x[5m]`. */
  range: boolean;
  /** Label names in the selector's matchers. */
  labels: string[];
}

const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);

export function metricRefs(expr: string): MetricRef[] {
  // 1. strings -> "" ; 2. label matchers -> {#n} (kept aside) ; 3. ranges/subqueries -> [] ; 4. grouping
  // lists dropped with their keyword, so `sum by (job) (x)` reads as `sum (x)`.
  const matchers: string[] = [];
  let text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  text = text.replace(/\{([^}]*)\}/g, (_all, inner: string) => `{#${matchers.push(inner) - 1}}`);
  text = text.replace(/\[[^\]]*\]/g, '[]');
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  text = text.replace(/\$\{?\w+\}?/g, '0');

  const refs: MetricRef[] = [];
  const stack: string[] = [];
  const token = /([A-Za-z_:][A-Za-z0-9_:]*)|(\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-z]*)|(\()|(\))|(\{#\d+\})|(\[\])|(\S)/gi;
  let previousIdentifier: string | undefined;
  let match: RegExpExecArray | null;
  while ((match = token.exec(text))) {
    const [, ident, , open, close] = match;
    if (open) {
      stack.push(previousIdentifier ?? '');
      previousIdentifier = undefined;
      continue;
    }
    if (close) {
      stack.pop();
      previousIdentifier = undefined;
      continue;
    }
    if (ident) {
      const rest = text.slice(token.lastIndex);
      previousIdentifier = ident;
      if (/^\s*\(/.test(rest) || keywords.has(ident.toLowerCase())) continue;
      const selector = /^\{#(\d+)\}/.exec(rest);
      const afterSelector = selector ? rest.slice(selector[0].length) : rest;
      const inner = selector ? (matchers[Number(selector[1])] ?? '') : '';
      refs.push({
        name: ident,
        enclosing: stack[stack.length - 1] ?? '',
        range: /^\s*\[\]/.test(afterSelector),
        labels: [...inner.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] as string),
      });
      continue;
    }
    previousIdentifier = undefined;
  }
  // A bare selector `{__name__=...}` is not used by us; label_values(metric, label) is a Grafana function handled above.
  return refs;
}

/** Metric names in a Grafana variable query such as `label_values(chat_build_info{job=~"$job"}, instance)`. */
export function variableQueryRefs(query: string): MetricRef[] {
  const inner = /^\s*(?:label_values|query_result)\((.*)\)\s*$/s.exec(query);
  if (!inner?.[1]) return [];
  const lastComma = inner[1].lastIndexOf(',');
  return metricRefs(lastComma > inner[1].indexOf('}') ? inner[1].slice(0, lastComma) : inner[1]);
}
