//! Title links: the passages whose title a hop's picks (after the first hop, also the
//! passages the question names) mention. In a Wikipedia-like
//! corpus the next hop of a bridge question is usually an entity the first passage
//! names; a passage titled with that name is a strong candidate even when the
//! expanded query misses it. The generation's titles are indexed once (lowercase
//! words, a trailing parenthetical such as "(film)" dropped; stop words and one- or
//! two-letter titles left out); a pick's condensed facts are read first, then the
//! rest of its text, and every run of up to [`MAX_WORDS`] words that is a title links
//! to the passages with that title.

use std::collections::{HashMap, HashSet};

use seine_index::DocId;
use seine_index::lexical::LUCENE_ENGLISH_STOP_WORDS;

use super::Fact;
use crate::{Reader, Result};

/// Longest title matched, in words.
const MAX_WORDS: usize = 8;

/// Lowercase alphanumeric words of `s`.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A title's lookup key, or None when it is too short or a stop word to link.
fn title_key(title: &str) -> Option<String> {
    let t = title.trim();
    let t = match t.rfind(" (") {
        Some(i) if t.ends_with(')') && i > 0 => &t[..i],
        _ => t,
    };
    let w = words(t);
    let key = w.join(" ");
    let short = key.chars().count() < 3;
    let stop = w.len() == 1 && LUCENE_ENGLISH_STOP_WORDS.contains(&key.as_str());
    (!w.is_empty() && w.len() <= MAX_WORDS && !short && !stop).then_some(key)
}

/// Generation passages by title key.
pub(crate) struct TitleIndex {
    by_title: HashMap<String, Vec<DocId>>,
}

impl TitleIndex {
    pub(crate) fn build(searcher: &Reader) -> Result<Self> {
        let mut by_title: HashMap<String, Vec<DocId>> = HashMap::new();
        for doc in 0..searcher.doc_map().len() as DocId {
            if let Some(s) = searcher.stored(doc)?
                && let Some(key) = title_key(&s.title)
            {
                by_title.entry(key).or_default().push(doc);
            }
        }
        Ok(TitleIndex { by_title })
    }

    /// Passages whose title `text` mentions, in order of first mention, left out
    /// those in `skip`; at most `limit` more than `out` already holds.
    fn mentions(&self, text: &str, skip: &HashSet<DocId>, limit: usize, out: &mut Vec<DocId>) {
        let w = words(text);
        for i in 0..w.len() {
            for n in (1..=MAX_WORDS.min(w.len() - i)).rev() {
                let Some(docs) = self.by_title.get(&w[i..i + n].join(" ")) else {
                    continue;
                };
                for d in docs {
                    if out.len() >= limit {
                        return;
                    }
                    if !skip.contains(d) && !out.contains(d) {
                        out.push(*d);
                    }
                }
            }
        }
    }
}

impl Reader {
    fn title_index(&self) -> Result<&TitleIndex> {
        Ok(match self.titles.get() {
            Some(t) => t,
            None => {
                let built = TitleIndex::build(self)?;
                self.titles.get_or_init(|| built)
            }
        })
    }

    /// The passages of `docs` (in order) whose title the question names, as whole
    /// words.
    pub(super) fn question_names(&self, question: &str, docs: &[DocId]) -> Result<Vec<DocId>> {
        let q = format!(" {} ", words(question).join(" "));
        let mut out = Vec::new();
        for d in docs {
            if let Some(s) = self.stored(*d)?
                && let Some(key) = title_key(&s.title)
                && q.contains(&format!(" {key} "))
            {
                out.push(*d);
            }
        }
        Ok(out)
    }

    /// Up to `limit` passages the `picks` link to by title (facts first, then the
    /// picks' texts), none of `taken`.
    pub(super) fn title_links(
        &self,
        picks: &[DocId],
        facts: &[Fact],
        limit: usize,
        taken: &HashSet<DocId>,
    ) -> Result<Vec<DocId>> {
        let index = self.title_index()?;
        let mut out = Vec::new();
        for f in facts.iter().filter(|f| picks.contains(&f.doc)) {
            index.mentions(&f.text, taken, limit, &mut out);
        }
        for d in picks {
            if let Some(s) = self.stored(*d)? {
                index.mentions(&s.text, taken, limit, &mut out);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_keys_and_mentions() {
        assert_eq!(
            title_key("American Splendor (film)").as_deref(),
            Some("american splendor")
        );
        assert_eq!(title_key("Nina Simone").as_deref(), Some("nina simone"));
        assert_eq!(title_key("It"), None);
        assert_eq!(title_key("Xy"), None);
        let mut by_title = HashMap::new();
        by_title.insert("nina simone".to_string(), vec![7]);
        by_title.insert("nina".to_string(), vec![8]);
        by_title.insert("new york".to_string(), vec![9, 10]);
        let idx = TitleIndex { by_title };
        let mut out = Vec::new();
        let skip: HashSet<DocId> = [10].into_iter().collect();
        idx.mentions("Born in New York, Nina Simone sang.", &skip, 5, &mut out);
        assert_eq!(out, vec![9, 7, 8]);
        let mut out = Vec::new();
        idx.mentions("Born in New York, Nina Simone sang.", &skip, 1, &mut out);
        assert_eq!(out, vec![9]);
    }
}
