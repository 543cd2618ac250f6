/**
 * An example handler module for the provenance service; docs/handlers.md
 * explains the contract. Load it with
 *
 *   PROVENANCE_HANDLERS=./docs/examples/word-count-handler.mjs npm start
 *
 * It shows both shapes of the `handlers` export: a job type mapped to one
 * handler for every provider ("text.word-count"), and a job type mapped to
 * handlers per provider id, with "*" for any other provider
 * ("text.tokenize").
 */

/**
 * The texts a job works on: payload.text when given, else the "text" field
 * of each parent's output, in parent order (an `echo` job of
 * {"text": "..."} makes such a parent).
 */
function textsOf({ payload, parents }, type) {
  if (payload.text !== undefined) {
    if (typeof payload.text !== 'string') throw new Error(`${type}: payload.text must be a string`);
    return [payload.text];
  }
  if (parents.length === 0) throw new Error(`${type}: give payload.text, or parents whose outputs have a "text" field`);
  // A parent is named by its place, not its id: the error is shown to every reader of the job, some of whom may not read the parent.
  return parents.map(({ output }, index) => {
    if (output === undefined) throw new Error(`${type}: the output of parent_job_ids[${index}] was not kept (it was over the output size limit)`);
    const text = output !== null && typeof output === 'object' && !Array.isArray(output) ? output.text : undefined;
    if (typeof text !== 'string') throw new Error(`${type}: the output of parent_job_ids[${index}] has no "text" string field`);
    return text;
  });
}

function whitespaceTokens(text) {
  return text.split(/\s+/u).filter((token) => token !== '');
}

/** Counts the whitespace-separated words of its texts: { "words": 5, "texts": 1 }. */
async function countWords(input) {
  let words = 0;
  const texts = textsOf(input, 'text.word-count');
  for (const text of texts) {
    // A long job checks its signal between steps: a cancelled job stops here, and its error is the abort reason.
    input.signal.throwIfAborted();
    words += whitespaceTokens(text).length;
  }
  return { words, texts: texts.length };
}

/** Tokens split on whitespace: { "tokens": ["Hello,", "world!"] }. */
async function tokenizeOnWhitespace(input) {
  return { tokens: textsOf(input, 'text.tokenize').flatMap(whitespaceTokens) };
}

/**
 * Words found by Intl.Segmenter in the locale payload.locale (default "en"),
 * without punctuation, which also splits languages written without spaces:
 * { "tokens": ["Hello", "world"] }.
 */
async function tokenizeWithIntlSegmenter(input) {
  const locale = input.payload.locale ?? 'en';
  if (typeof locale !== 'string') throw new Error('text.tokenize: payload.locale must be a string, such as "en" or "ja"');
  const segmenter = new Intl.Segmenter(locale, { granularity: 'word' });
  const tokens = [];
  for (const text of textsOf(input, 'text.tokenize')) {
    input.signal.throwIfAborted();
    for (const { segment, isWordLike } of segmenter.segment(text)) if (isWordLike) tokens.push(segment);
  }
  return { tokens };
}

export const handlers = {
  'text.word-count': countWords,
  'text.tokenize': {
    'intl-segmenter': tokenizeWithIntlSegmenter,
    '*': tokenizeOnWhitespace,
  },
};
