//! Sentence splitting for the condenser.

/// Splits passage text into sentences: after `.`, `!` or `?` (and any closing quotes
/// or brackets) followed by whitespace and an upper-case letter, digit or opening
/// quote; not after single-letter initials or common abbreviations. Each sentence is
/// trimmed; empty ones are dropped. Byte spans into `text`.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    const ABBREV: [&str; 22] = [
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "no", "co", "inc", "ltd", "mt",
        "ft", "gen", "col", "lt", "sgt", "capt", "rev", "etc",
    ];
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | ')' | ']' | '”' | '’') {
                j += 1;
            }
            let ws = j < chars.len() && chars[j].1.is_whitespace();
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let next_ok = k < chars.len()
                && (chars[k].1.is_uppercase()
                    || chars[k].1.is_ascii_digit()
                    || matches!(chars[k].1, '"' | '“' | '\'' | '('));
            let boundary = ws && next_ok && {
                if c != '.' {
                    true
                } else {
                    // The word before the period.
                    let end = chars[i].0;
                    let word_start = text[..end]
                        .char_indices()
                        .rev()
                        .find(|(_, ch)| ch.is_whitespace() || *ch == '(')
                        .map_or(0, |(p, ch)| p + ch.len_utf8());
                    let word = &text[word_start..end];
                    let single_initial =
                        word.chars().count() == 1 && word.chars().all(char::is_uppercase);
                    let dotted = word.contains('.'); // "U.S", "e.g"
                    !(single_initial || dotted || ABBREV.contains(&word.to_lowercase().as_str()))
                }
            };
            if boundary {
                let end = chars.get(j).map_or(text.len(), |x| x.0);
                push_trimmed(text, start, end, &mut out);
                start = chars.get(k).map_or(text.len(), |x| x.0);
                i = k;
                continue;
            }
        }
        i += 1;
    }
    push_trimmed(text, start, text.len(), &mut out);
    out
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead < s.len() {
        out.push((start + lead, end - trail));
    }
}

/// The sentences of [`sentence_spans`], as strings.
pub fn split_sentences(text: &str) -> Vec<String> {
    sentence_spans(text)
        .into_iter()
        .map(|(a, b)| text[a..b].to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_boundaries_not_abbreviations() {
        let t = "Gerry Shamray is an American comic book artist. He illustrated many issues of \"American Splendor\", Harvey Pekar's autobiographical comics. In an introduction, R. Crumb stated that Dr. Smith lived in the U.S. Army base. Was it 1950? Yes.";
        let s = split_sentences(t);
        assert_eq!(
            s,
            vec![
                "Gerry Shamray is an American comic book artist.",
                "He illustrated many issues of \"American Splendor\", Harvey Pekar's autobiographical comics.",
                "In an introduction, R. Crumb stated that Dr. Smith lived in the U.S. Army base.",
                "Was it 1950?",
                "Yes.",
            ]
        );
        assert_eq!(split_sentences("  "), Vec::<String>::new());
        // Multi-byte whitespace before an abbreviation.
        assert_eq!(
            split_sentences("Based on the\u{a0}U.S. model. Sold in 2000."),
            vec!["Based on the\u{a0}U.S. model.", "Sold in 2000."]
        );
        assert_eq!(split_sentences("no period"), vec!["no period"]);
        assert_eq!(
            split_sentences("He said \"stop.\" Then he left."),
            vec!["He said \"stop.\"", "Then he left."]
        );
    }
}
