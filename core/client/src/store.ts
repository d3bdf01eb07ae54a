/** One queued send: kept until the core acknowledges it or refuses it for good. */
export interface OutboxEntry {
  clientMsgId: string;
  conversationId: string;
  text: string;
  attachmentIds?: string[];
  /** Client clock, ms: the queue is replayed in this order. */
  createdAt: number;
  attempts: number;
}

/** Where the outbox lives. A persistent store makes queued sends survive a page reload. */
export interface OutboxStore {
  load(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  delete(clientMsgId: string): Promise<void>;
}

export class MemoryOutboxStore implements OutboxStore {
  private readonly entries = new Map<string, OutboxEntry>();
  async load(): Promise<OutboxEntry[]> {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }
  async put(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.clientMsgId, { ...entry });
  }
  async delete(clientMsgId: string): Promise<void> {
    this.entries.delete(clientMsgId);
  }
}

// The few IndexedDB shapes used here (the package's types must not require the DOM lib).
interface IdbRequest<T> { result: T; error: unknown; onsuccess: (() => void) | null; onerror: (() => void) | null }
interface IdbOpenRequest extends IdbRequest<IdbDatabase> { onupgradeneeded: (() => void) | null }
interface IdbStore { put(value: unknown): IdbRequest<unknown>; delete(key: string): IdbRequest<unknown>; getAll(): IdbRequest<unknown[]> }
interface IdbTransaction { objectStore(name: string): IdbStore; oncomplete: (() => void) | null; onerror: (() => void) | null; error: unknown }
interface IdbDatabase { objectStoreNames: { contains(name: string): boolean }; createObjectStore(name: string, options: { keyPath: string }): unknown; transaction(name: string, mode: 'readonly' | 'readwrite'): IdbTransaction }
interface IdbFactory { open(name: string, version: number): IdbOpenRequest }

/** The browser store: one IndexedDB object store keyed by clientMsgId (per user: pass a distinct name). */
export class IndexedDbOutboxStore implements OutboxStore {
  private db?: Promise<IdbDatabase>;
  constructor(
    private readonly name = 'switchboard-outbox',
    private readonly factory: IdbFactory | undefined = (globalThis as { indexedDB?: IdbFactory }).indexedDB,
  ) {}

  private open(): Promise<IdbDatabase> {
    const factory = this.factory;
    if (!factory) return Promise.reject(new Error('IndexedDB is not available here: use MemoryOutboxStore'));
    this.db ??= new Promise((resolve, reject) => {
      const request = factory.open(this.name, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains('outbox')) request.result.createObjectStore('outbox', { keyPath: 'clientMsgId' });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.db;
  }

  private async run<T>(mode: 'readonly' | 'readwrite', fn: (store: IdbStore) => IdbRequest<T>): Promise<T> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction('outbox', mode);
      const request = fn(tx.objectStore('outbox'));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  }

  async load(): Promise<OutboxEntry[]> {
    const all = await this.run('readonly', (s) => s.getAll());
    return (all as OutboxEntry[]).sort((a, b) => a.createdAt - b.createdAt);
  }
  async put(entry: OutboxEntry): Promise<void> {
    await this.run('readwrite', (s) => s.put({ ...entry }));
  }
  async delete(clientMsgId: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(clientMsgId));
  }
}
