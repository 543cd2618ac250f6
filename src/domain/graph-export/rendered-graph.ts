/** A provenance graph rendered as a document of some format. */
export interface RenderedGraph {
  content: string;
  /** Media type of content. */
  contentType: string;
}
