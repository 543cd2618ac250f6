/** Ids up to this many share one Map; larger sets are split so that no Map holds much more than SHARD_SIZE of them. */
const ONE_MAP_SIZE = 65_536;
const SHARD_SIZE = 16_384;

/**
 * A position per id for a set of ids of known size, as a Map<string, number>
 * would hold it, but split over several Maps picked by a hash of the id when
 * the set is large. A Map grows by rehashing itself whole in one call: at
 * 714,556 ids (the whole ancestry of a late job of a 1,000,000-job graph)
 * one set took 0.12 to 0.16 s of CPU, and over 1 s of wall time on the
 * loaded 2-core machine, holding the serving thread between two steps of
 * a lineage (docs/decisions.md, "Large lineage answers"). A shard's rehash
 * is a fraction of that. Lookups hash the id (FNV-1a over its code units),
 * about as costly as the Map's own lookup.
 */
export class IdPositions {
  private readonly shards: Map<string, number>[];
  private readonly mask: number;

  constructor(expectedSize: number) {
    const count = expectedSize <= ONE_MAP_SIZE ? 1 : 2 ** Math.ceil(Math.log2(expectedSize / SHARD_SIZE));
    this.shards = Array.from({ length: count }, () => new Map<string, number>());
    this.mask = count - 1;
  }

  set(id: string, position: number): void {
    this.shardOf(id).set(id, position);
  }

  get(id: string): number | undefined {
    return this.shardOf(id).get(id);
  }

  private shardOf(id: string): Map<string, number> {
    if (this.mask === 0) return this.shards[0]!;
    let hash = 0x811c9dc5;
    for (let c = 0; c < id.length; c++) hash = Math.imul(hash ^ id.charCodeAt(c), 0x01000193);
    return this.shards[hash & this.mask]!;
  }
}
