/** Rate-limited progress lines on stderr: documents/s, bytes, ETA. Silent when `out` is undefined. */
export interface ProgressSink {
  write(line: string): void;
}

export const stderrSink: ProgressSink = { write: (line) => process.stderr.write(`${line}\n`) };

export class Progress {
  private readonly started = Date.now();
  private last = 0;
  docs = 0;
  bytes = 0;

  /** totalDocs (or, for byte-only steps such as checksum checks, totalBytes) gives the ETA. */
  constructor(
    private readonly sink: ProgressSink | undefined,
    private readonly label: string,
    private readonly totalDocs: number | undefined,
    private readonly intervalMs = 1000,
    private readonly totalBytes?: number,
  ) {
    this.last = this.started;
  }

  add(docs: number, bytes: number): void {
    this.docs += docs;
    this.bytes += bytes;
    const now = Date.now();
    if (this.sink && now - this.last >= this.intervalMs) {
      this.last = now;
      this.sink.write(this.line(now));
    }
  }

  done(extra = ''): void {
    this.sink?.write(`${this.line(Date.now(), true)}${extra ? ` ${extra}` : ''}`);
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }

  private line(now: number, finished = false): string {
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const mbps = `${(this.bytes / 1e6 / secs).toFixed(1)} MB/s`;
    let eta = '';
    let what: string;
    if (this.totalBytes !== undefined) {
      what = `${formatBytes(this.bytes)}/${formatBytes(this.totalBytes)} ${mbps}`;
      if (!finished && this.bytes > 0) eta = ` ETA ${formatDuration(Math.max(this.totalBytes - this.bytes, 0) / (this.bytes / secs))}`;
    } else {
      const rate = this.docs / secs;
      const of = this.totalDocs !== undefined ? `/${this.totalDocs.toLocaleString('en-US')}` : '';
      what = `${this.docs.toLocaleString('en-US')}${of} docs ${Math.round(rate).toLocaleString('en-US')} docs/s ${formatBytes(this.bytes)} ${mbps}`;
      if (!finished && this.totalDocs !== undefined && rate > 0) eta = ` ETA ${formatDuration(Math.max(this.totalDocs - this.docs, 0) / rate)}`;
    }
    return `[${this.label}] ${what}${eta}${finished ? ` done in ${formatDuration(secs)}` : ''}`;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(secs: number): string {
  if (secs < 60) return `${secs.toFixed(1)}s`;
  const m = Math.floor(secs / 60);
  return `${m}m${Math.round(secs - m * 60)}s`;
}
