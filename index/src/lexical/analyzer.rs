//! English analysis equivalent to Lucene's `EnglishAnalyzer` as Anserini/Pyserini use
//! it: Unicode (UAX #29) word tokenization → English possessive removal → lower-case →
//! Lucene's English stop words → Porter stemming. Tokens longer than 255 characters are
//! split, as Lucene's `StandardTokenizer` does.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_segmentation::UnicodeSegmentation;

use super::porter;

/// Name under which the analyzer is registered with tantivy.
pub const ANALYZER_NAME: &str = "seine_en";

/// `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` from Lucene.
pub const LUCENE_ENGLISH_STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

const MAX_TOKEN_CHARS: usize = 255;

/// Analyzes `text` and calls `emit(term, byte_from, byte_to, position)` per term.
pub fn analyze(text: &str, mut emit: impl FnMut(&str, usize, usize, usize)) {
    let mut lower = String::new();
    let mut stemmed = String::new();
    let mut position = 0usize;
    for (start, word) in text.unicode_word_indices() {
        for (from, piece) in split_long(word) {
            let pos = position;
            position += 1;
            let piece = strip_possessive(piece);
            lower.clear();
            lower.extend(piece.chars().flat_map(char::to_lowercase));
            if LUCENE_ENGLISH_STOP_WORDS.contains(&lower.as_str()) {
                continue;
            }
            porter::stem_into(&lower, &mut stemmed);
            let begin = start + from;
            emit(&stemmed, begin, begin + piece.len(), pos);
        }
    }
}

/// The analyzed terms of `text`, in order (stop words dropped).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    analyze(text, |t, _, _, _| out.push(t.to_string()));
    out
}

/// Splits words longer than Lucene's maximum token length into chunks.
fn split_long(word: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = word;
    let mut offset = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest
            .char_indices()
            .nth(MAX_TOKEN_CHARS)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let (piece, tail) = rest.split_at(cut);
        let at = offset;
        offset += cut;
        rest = tail;
        Some((at, piece))
    })
}

/// Lucene's `EnglishPossessiveFilter`: drops a trailing `'s` (any apostrophe form).
fn strip_possessive(word: &str) -> &str {
    for apos in ['\'', '\u{2019}', '\u{FF07}'] {
        for s in ['s', 'S'] {
            let mut suffix = [0u8; 8];
            let a = apos.encode_utf8(&mut suffix).len();
            let b = s.encode_utf8(&mut suffix[a..]).len();
            let suffix = std::str::from_utf8(&suffix[..a + b]).expect("utf8");
            if let Some(stripped) = word.strip_suffix(suffix) {
                return stripped;
            }
        }
    }
    word
}

/// The analyzer as a tantivy [`Tokenizer`].
#[derive(Debug, Clone, Default)]
pub struct EnglishTokenizer;

/// Tokens of one text, produced up front.
pub struct EnglishTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for EnglishTokenizer {
    type TokenStream<'a> = EnglishTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> EnglishTokenStream {
        let mut tokens = Vec::new();
        analyze(text, |term, from, to, position| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: term.to_string(),
                position_length: 1,
            });
        });
        EnglishTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for EnglishTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucene_english_pipeline() {
        assert_eq!(
            terms("The Cells' growth and John's 0.5 mg/kg dose: IL-6 levels were Reduced!"),
            vec![
                "cell", "growth", "john", "0.5", "mg", "kg", "dose", "il", "6", "level", "were",
                "reduc"
            ]
        );
    }

    #[test]
    fn stop_words_only_gives_nothing() {
        assert!(terms("to be or not to be, that is the ...").is_empty());
    }

    #[test]
    fn long_words_are_split() {
        let word = "x".repeat(600);
        let t = terms(&word);
        assert_eq!(
            t.iter().map(|s| s.len()).collect::<Vec<_>>(),
            vec![255, 255, 90]
        );
    }
}
