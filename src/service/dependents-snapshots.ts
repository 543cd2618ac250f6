import { randomBytes } from 'node:crypto';
import type { Utf8Strings } from '../domain/utf8-strings.js';

/**
 * The descendants of a root as one walk found them for one caller, nearest
 * first (by depth, then as the caller is shown them: domain/shown-order.ts):
 * what ListDependents pages through. Ids, depths and whether each was
 * hidden, for the order; who may read each job is decided again on its
 * record when its page is read.
 */
export interface DependentsSnapshot {
  rootId: string;
  /**
   * As UTF-8 bytes back to back, as the walk built them, not a string each:
   * a snapshot is kept for minutes, and a walk's hundreds of thousands of
   * ids as strings would sit in the heap meanwhile, marked by each of its
   * full collections.
   */
  jobIds: Utf8Strings;
  depths: Int32Array<ArrayBuffer>;
  /** 1 where the caller the walk was made for may not read the job, as the walk found: the order's (domain/shown-order.ts). */
  hidden: Uint8Array<ArrayBuffer>;
  /** The walk stopped at the depth or node limit. */
  truncated: boolean;
}

export interface DependentsSnapshotLimits {
  /** How many snapshots are kept; the least recently used goes first. */
  maxSnapshots: number;
  /** How many job ids all snapshots hold together; a larger walk is not kept. */
  maxJobIds: number;
  /** A snapshot not read for this long is dropped. */
  idleTtlMs: number;
}

/** docs/limits.md: about 23 MB at most outside the heap (an id's bytes, its offset, a depth and a hidden flag per job), five walks of the default node limit. */
export const DEPENDENTS_SNAPSHOT_LIMITS: DependentsSnapshotLimits = { maxSnapshots: 256, maxJobIds: 500_000, idleTtlMs: 5 * 60_000 };

/**
 * The walks of ListDependents page sequences, kept in this
 * process under random ids that their page tokens carry, so that the pages
 * after the first cost a page rather than a walk. A token whose snapshot is
 * gone (dropped, expired, another server) walks again: the answer keeps its
 * order either way (docs/decisions.md).
 */
export class DependentsSnapshots {
  /** In the order they were last used, so that the least recently used goes first when full. */
  private readonly entries = new Map<string, { snapshot: DependentsSnapshot; expiresAt: number }>();
  private heldJobIds = 0;

  constructor(
    private readonly limits: DependentsSnapshotLimits = DEPENDENTS_SNAPSHOT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keeps a snapshot; its id, or undefined when it is larger than everything the cache may hold. */
  keep(snapshot: DependentsSnapshot): string | undefined {
    const size = snapshot.depths.length;
    if (size > this.limits.maxJobIds || this.limits.maxSnapshots === 0) return undefined;
    this.dropExpired();
    for (const [id] of this.entries) {
      if (this.entries.size < this.limits.maxSnapshots && this.heldJobIds + size <= this.limits.maxJobIds) break;
      this.drop(id);
    }
    const id = randomBytes(12).toString('base64url');
    this.entries.set(id, { snapshot, expiresAt: this.now() + this.limits.idleTtlMs });
    this.heldJobIds += size;
    return id;
  }

  /** The snapshot kept under that id, unless it is gone. */
  get(id: string): DependentsSnapshot | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (entry.expiresAt <= this.now()) {
      this.heldJobIds -= entry.snapshot.depths.length;
      return undefined;
    }
    entry.expiresAt = this.now() + this.limits.idleTtlMs;
    this.entries.set(id, entry);
    return entry.snapshot;
  }

  /** How many snapshots and job ids are held now. */
  get size(): { snapshots: number; jobIds: number } {
    return { snapshots: this.entries.size, jobIds: this.heldJobIds };
  }

  /** Expired snapshots, whatever their place in the use order, so that they do not hold room that live ones need. */
  private dropExpired(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.drop(id);
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.heldJobIds -= entry.snapshot.depths.length;
  }
}
