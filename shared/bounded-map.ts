// A Map that keeps at most `capacity` keys, forgetting the oldest inserted first: what a Lambda instance
// remembers per token or account (caches, views, notices) stays bounded however many it serves.

export class BoundedMap<K, V> extends Map<K, V> {
  readonly capacity: number;

  constructor(capacity: number) {
    super();
    this.capacity = capacity;
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.capacity) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}
