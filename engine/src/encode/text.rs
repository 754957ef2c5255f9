//! The text an encoder sees for a document (indexing, writes, `seine embed`, training
//! data and the multi-hop condenser all take it from here).

use seine_datasets::Doc;

/// The text a dense encoder sees for a document: `title + " " + text`, trimmed (as
/// BEIR and MTEB encode corpora).
pub fn doc_text(doc: &Doc) -> String {
    join_title_text(&doc.title, &doc.text).0
}

/// [`doc_text`] of a title and a text, with the offset of `text`'s first byte inside
/// it (negative when an empty title let the trim eat leading spaces of `text`).
pub fn join_title_text(title: &str, text: &str) -> (String, isize) {
    let full = format!("{title} {text}");
    let lead = full.len() - full.trim_start().len();
    (
        full.trim().to_string(),
        (title.len() + 1) as isize - lead as isize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_joins_text_and_the_offset_points_at_the_text() {
        let (s, at) = join_title_text("Title", "body text");
        assert_eq!(s, "Title body text");
        assert_eq!(&s[at as usize..], "body text");
        // No title: the separating space is trimmed away, the offset follows.
        let (s, at) = join_title_text("", "body");
        assert_eq!(s, "body");
        assert_eq!(at, 0);
        assert_eq!(
            doc_text(&Doc {
                id: "d".into(),
                title: " T ".into(),
                text: "x ".into(),
                ..Doc::default()
            }),
            "T  x"
        );
    }
}
