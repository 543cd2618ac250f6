/** A provenance graph rendered as a document of some format. */
export interface RenderedGraph {
  content: string;
  /** Media type of content. */
  contentType: string;
}

/** A rendered document as the pieces of its text as UTF-8, in order (their concatenation is the content): no step joins a large document whole. */
export interface RenderedDocument {
  pieces: Buffer[];
  contentType: string;
}
