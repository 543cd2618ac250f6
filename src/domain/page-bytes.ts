/**
 * A bound on a page's size as its transport encodes it: a page ends before
 * the item that would take it past `bytes`, with a token for the rest,
 * however many page_size asked for (AIP-158 allows fewer).
 */
export interface PageBytes<T> {
  bytes: number;
  sizeOf(item: T): number;
}

/** How many of the items, from the first, fit the page's bytes: at least one, so that a listing always moves on. */
export function itemsWithin<T>(items: readonly T[], pageBytes: PageBytes<T> | undefined): number {
  if (!pageBytes) return items.length;
  let bytes = 0;
  for (let count = 0; count < items.length; count++) {
    bytes += pageBytes.sizeOf(items[count]!);
    if (bytes > pageBytes.bytes) return Math.max(count, 1);
  }
  return items.length;
}
