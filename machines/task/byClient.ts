/**
 * Per-task records keyed by (clientId, taskId) without building a `clientId\0taskId` string per
 * lookup: a Map per client, inside a Map of clients. A client's inner map is dropped when its
 * last task goes, so the outer map holds only clients with tasks. Mutated in place: owned by one
 * host (the provider's ledger, a connection's task table), never shared in a snapshot.
 */
export class ByClient<V> {
  private readonly clients = new Map<string, Map<string, V>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(clientId: string, taskId: string): V | undefined {
    return this.clients.get(clientId)?.get(taskId);
  }

  has(clientId: string, taskId: string): boolean {
    return this.clients.get(clientId)?.has(taskId) ?? false;
  }

  set(clientId: string, taskId: string, value: V): void {
    let tasks = this.clients.get(clientId);
    if (!tasks) this.clients.set(clientId, (tasks = new Map()));
    const before = tasks.size;
    tasks.set(taskId, value);
    this.count += tasks.size - before;
  }

  delete(clientId: string, taskId: string): boolean {
    const tasks = this.clients.get(clientId);
    if (!tasks?.delete(taskId)) return false;
    this.count--;
    if (tasks.size === 0) this.clients.delete(clientId);
    return true;
  }

  /** Tasks of one client (none: an empty iterator). */
  *ofClient(clientId: string): IterableIterator<[taskId: string, value: V]> {
    const tasks = this.clients.get(clientId);
    if (tasks) yield* tasks;
  }

  *values(): IterableIterator<V> {
    for (const tasks of this.clients.values()) yield* tasks.values();
  }

  clear(): void {
    this.clients.clear();
    this.count = 0;
  }
}
