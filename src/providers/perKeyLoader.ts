// A per-request DataLoader for a provider with no batch endpoint: each distinct key becomes one
// call (the loader dedupes within the operation; the pipeline bounds the concurrency), and a key
// that fails gets its own Error without failing the others.
import DataLoader from 'dataloader';

export function perKeyLoader<K, V, C = K>(
  fetchOne: (key: K) => Promise<V>,
  cacheKeyFn?: (key: K) => C,
): DataLoader<K, V, C> {
  return new DataLoader<K, V, C>(
    (keys) => Promise.all(keys.map((key) => fetchOne(key).catch((error: unknown) => error as Error))),
    cacheKeyFn ? { cacheKeyFn } : {},
  );
}
