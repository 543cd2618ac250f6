import type { PageBytes } from '../domain/page-bytes.js';

/**
 * What the items of one page of ListJobs or ListAuditEvents may take,
 * together: a page of 100 records of 1 MiB payloads is over the default 64
 * MiB send limit, and clients receive 4 MiB by default (grpc-js, C-core,
 * Go), so a page ends at 4 MiB, or at the send limit if that is lower, with
 * a token for the rest (docs/limits.md).
 */
export const LIST_PAGE_BYTES = 4 * 1024 * 1024;
/** Room in a page for its next_page_token and the framing of its fields. */
const PAGE_FRAMING_BYTES = 1024;
/** A tag (1 byte for the fields here) and a length (a varint of at most 5 bytes) around an embedded message. */
export const FIELD_FRAMING_BYTES = 6;

/** The byte budget of a page whose items encode to encodedBytes(item) each. */
export function pageBytes<T>(maxMessageBytes: number, encodedBytes: (item: T) => number): PageBytes<T> {
  return { bytes: Math.min(LIST_PAGE_BYTES, maxMessageBytes - PAGE_FRAMING_BYTES), sizeOf: (item) => encodedBytes(item) + FIELD_FRAMING_BYTES };
}
