const MAX_TERMS = 256;
const MAX_TERM_LENGTH = 40;

/** Lower-cased, unicode-normalised words of a text: what the multikey `terms` index holds. */
export function searchTerms(text: string): string[] {
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const unique = new Set<string>();
  for (const word of words) {
    if (word.length <= MAX_TERM_LENGTH) unique.add(word);
    if (unique.size >= MAX_TERMS) break;
  }
  return [...unique];
}

export interface Fragment {
  text: string;
  /** Character offsets into `text` of each matched word. */
  highlights: { start: number; end: number }[];
}

/**
 * The part of a message around its first match, with the offsets of every matched word. Offsets,
 * not markup: message text is plain text and clients decide how to show a highlight.
 */
export function highlight(text: string, terms: string[], context = 60): Fragment {
  const wanted = new Set(terms);
  const matches: { start: number; end: number }[] = [];
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    if (wanted.has(match[0].normalize('NFKC').toLowerCase())) matches.push({ start: match.index, end: match.index + match[0].length });
  }
  const first = matches[0];
  if (!first) return { text: text.slice(0, context * 2), highlights: [] };
  const from = Math.max(0, first.start - context);
  const to = Math.min(text.length, first.end + context);
  const prefix = from > 0 ? '…' : '';
  const suffix = to < text.length ? '…' : '';
  return {
    text: `${prefix}${text.slice(from, to)}${suffix}`,
    highlights: matches.filter((m) => m.end <= to).map((m) => ({ start: m.start - from + prefix.length, end: m.end - from + prefix.length })),
  };
}
