import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { BackupError } from './errors';
import type { Compression } from './manifest';

type ZstdZlib = typeof zlib & {
  createZstdCompress?: (options?: object) => Transform;
  createZstdDecompress?: (options?: object) => Transform;
};

/** zstd ships with Node >= 22.15 / 24; on older runtimes the option fails with a clear message. */
export function zstdAvailable(): boolean {
  return typeof (zlib as ZstdZlib).createZstdCompress === 'function';
}

function requireZstd(): Required<Pick<ZstdZlib, 'createZstdCompress' | 'createZstdDecompress'>> {
  const z = zlib as ZstdZlib;
  if (!z.createZstdCompress || !z.createZstdDecompress) {
    throw new BackupError('unsupported', `--compress zstd needs Node.js >= 22.15 (this is ${process.version})`, 'use --compress gzip, or run through npx/npm scripts (Node 24)');
  }
  return { createZstdCompress: z.createZstdCompress, createZstdDecompress: z.createZstdDecompress };
}

export function compressor(compression: Compression): Transform {
  if (compression === 'gzip') return zlib.createGzip({ level: 6 });
  if (compression === 'zstd') return requireZstd().createZstdCompress();
  return new PassThrough();
}

export function decompressor(compression: Compression): Transform {
  if (compression === 'gzip') return zlib.createGunzip();
  if (compression === 'zstd') return requireZstd().createZstdDecompress();
  return new PassThrough();
}

export function parseCompression(value: string | undefined): Compression {
  const v = value ?? 'gzip';
  if (v === 'gzip' || v === 'zstd' || v === 'none') return v;
  throw new BackupError('usage', `--compress must be gzip, zstd or none (got "${v}")`);
}

/** Passes bytes through unchanged while counting them and computing their SHA-256. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Splits a byte stream into lines (without the newline), emitted as strings in object mode. */
export class LineSplitter extends Transform {
  /** Bytes of the current, unfinished line; joined only once its newline arrives (large documents stay linear). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor() {
    super({ readableObjectMode: true, readableHighWaterMark: 256 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (this.pendingBytes) {
        this.pending.push(chunk.subarray(start, nl));
        this.push(Buffer.concat(this.pending).toString('utf8'));
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        this.push(chunk.toString('utf8', start, nl));
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.pendingBytes) {
      callback(new Error(`archive ends in the middle of a document (${this.pendingBytes} trailing bytes without a newline)`));
      return;
    }
    callback();
  }
}
