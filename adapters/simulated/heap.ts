/**
 * A binary min-heap ordered by `before`: O(log n) push and pop. The delivery queue and the
 * virtual clock both order their items by (due time, insertion order) with it.
 */
export class MinHeap<T> {
  readonly #items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let child = items.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.before(items[child] as T, items[parent] as T)) return;
      [items[child], items[parent]] = [items[parent] as T, items[child] as T];
      child = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let parent = 0;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < items.length && this.before(items[left] as T, items[smallest] as T)) smallest = left;
      if (right < items.length && this.before(items[right] as T, items[smallest] as T)) smallest = right;
      if (smallest === parent) return top;
      [items[parent], items[smallest]] = [items[smallest] as T, items[parent] as T];
      parent = smallest;
    }
  }
}
