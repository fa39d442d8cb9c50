/**
 * remember sets `key` to `value` in `map` as its newest entry, first
 * dropping the oldest when `map` already holds `maxEntries`: a cache
 * bounded by count, least recently stored first out (a Map keeps
 * insertion order).
 */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key);
  if (map.size >= maxEntries) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}
