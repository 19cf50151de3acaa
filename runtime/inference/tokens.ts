import type { LlamaModel, LlamaVocabularyType, Token } from "node-llama-cpp";

/** How a text becomes tokens: llama.cpp's `add_special` and `parse_special`. */
export interface TokenizeMode {
  /** The tokens the vocabulary puts around a sequence: BOS (and EOS) when the model says so, a BERT vocabulary's CLS and SEP. */
  addSpecial: boolean;
  /** Text that spells a special token (`<s>`) becomes that token; otherwise it is plain text. */
  parseSpecial: boolean;
}

/** How llama.cpp's server tokenizes the prompt of a completion (and this runtime too): both on. */
export const PROMPT_MODE: Readonly<TokenizeMode> = { addSpecial: true, parseSpecial: true };

/**
 * `text` as tokens, the way llama.cpp's `common_tokenize(vocab, text, add_special,
 * parse_special)` gives them (llama-vocab.cpp's `tokenize`: BOS first and EOS last
 * when the vocabulary's `add_bos_token` / `add_eos_token` say so, for SentencePiece,
 * BPE and Unigram vocabularies; CLS and SEP always for WordPiece; nothing for the
 * others). node-llama-cpp's own `tokenize` never adds them.
 */
export function tokenizeText(model: LlamaModel, text: string, mode: TokenizeMode): Token[] {
  const body = model.tokenize(text, mode.parseSpecial);
  if (!mode.addSpecial) return body;
  const { bos, eos, sep } = model.tokens;
  const type: `${LlamaVocabularyType}` = model.vocabularyType;
  switch (type) {
    case "wpm":
      return [...(bos !== null ? [bos] : []), ...body, ...(sep !== null ? [sep] : [])];
    case "spm":
    case "bpe":
    case "ugm":
      return [...(model.tokens.shouldPrependBosToken && bos !== null ? [bos] : []), ...body, ...(model.tokens.shouldAppendEosToken && eos !== null ? [eos] : [])];
    default:
      return body;
  }
}

/**
 * The text of `tokens` as llama.cpp's server's /detokenize gives it: each token's
 * piece joined, special tokens spelled out, nothing stripped (a SentencePiece
 * vocabulary's leading space stays). node-llama-cpp's `detokenize` drops the first
 * piece's leading space; detokenizing after an anchor token and cutting the anchor's
 * text off keeps it.
 */
export function piecesText(model: LlamaModel, tokens: readonly Token[]): string {
  if (tokens.length === 0) return "";
  const anchor = model.tokens.bos ?? model.tokens.eos;
  if (anchor === null) return model.detokenize(tokens, true);
  const anchorText = model.detokenize([anchor], true);
  const whole = model.detokenize([anchor, ...tokens], true);
  return anchorText !== "" && whole.startsWith(anchorText) ? whole.slice(anchorText.length) : model.detokenize(tokens, true);
}

/** GPT-2's byte-level alphabet backwards: the character a byte-level BPE vocabulary writes for each byte. */
let byteLevel: Map<string, number> | undefined;
function byteOfChar(): Map<string, number> {
  if (byteLevel) return byteLevel;
  const printable = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  byteLevel = new Map();
  let extra = 0;
  for (let b = 0; b < 256; b++) byteLevel.set(String.fromCodePoint(printable(b) ? b : 256 + extra++), b);
  return byteLevel;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One token's piece as llama.cpp's server's `/tokenize` with `with_pieces` gives it:
 * a string when the piece is valid UTF-8, its bytes otherwise (a byte token, or part
 * of a character). `vocabText` is the token's text in the vocabulary (the GGUF's
 * `tokenizer.ggml.tokens`), from which the bytes are read: node-llama-cpp hands a
 * piece over as a JavaScript string, where an incomplete character is already lost.
 */
export function tokenPiece(model: LlamaModel, token: Token, vocabText: string | undefined): string | number[] {
  const piece = piecesText(model, [token]);
  if (!piece.includes("\uFFFD") || vocabText === undefined) return piece;
  let bytes: number[] | undefined;
  const byteToken = /^<0x([0-9A-Fa-f]{2})>$/.exec(vocabText);
  if (byteToken) bytes = [Number.parseInt(byteToken[1]!, 16)];
  else if ((model.vocabularyType as string) === "bpe") {
    const map = byteOfChar();
    const chars = [...vocabText];
    if (chars.every((c) => map.has(c))) bytes = chars.map((c) => map.get(c)!);
  }
  if (bytes === undefined) return piece;
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return bytes;
  }
}
