//! Byte-exact editing shared by the JSON and YAML editors: an edit is a set of text splices
//! computed from the parser's byte ranges, so everything outside the changed literals stays as
//! written (comments, commas, quoting, indentation, line ends).
//!
//! Wrapping puts `[run, --, <command>]` in front of the arguments and may pin some of them in
//! place; unwrapping takes those three away again. Aligning old and new arguments at the end
//! ([`ArgsChange`]) makes the two splices exact inverses, which is what lets an entry-by-entry
//! unwrap give back the original bytes.

use std::ops::Range;

/// A set of non-overlapping replacements of byte ranges of one text.
#[derive(Debug, Default)]
pub(crate) struct Splices {
    edits: Vec<(Range<usize>, String)>,
}

impl Splices {
    pub(crate) fn replace(&mut self, range: Range<usize>, text: impl Into<String>) {
        self.edits.push((range, text.into()));
    }

    pub(crate) fn insert(&mut self, at: usize, text: impl Into<String>) {
        self.edits.push((at..at, text.into()));
    }

    /// Applies every splice; an insertion at the start of a replaced range goes before it.
    pub(crate) fn apply(mut self, text: &str) -> Result<String, String> {
        self.edits
            .sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
        let mut out = text.to_owned();
        let mut limit = usize::MAX;
        for (range, replacement) in self.edits {
            if range.end > limit
                || range.end > text.len()
                || !text.is_char_boundary(range.start)
                || !text.is_char_boundary(range.end)
            {
                return Err("two edits of one entry overlap".into());
            }
            // Equal starts: the replacement (longer end) came first, so the insertion, applied
            // next, lands in front of it.
            limit = range.start;
            out.replace_range(range, &replacement);
        }
        Ok(out)
    }
}

/// How an argument list changes, aligned at the end: `remove_front` leading elements go,
/// `insert_front` values come before the rest, and each kept element whose value differs is
/// replaced in place (`replace`: index into the old list, new value).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ArgsChange<'a> {
    pub remove_front: usize,
    pub insert_front: &'a [String],
    pub replace: Vec<(usize, &'a str)>,
}

pub(crate) fn args_change<'a>(old: &[String], new: &'a [String]) -> ArgsChange<'a> {
    let (remove_front, insert_front) = if new.len() >= old.len() {
        (0, &new[..new.len() - old.len()])
    } else {
        (old.len() - new.len(), &new[..0])
    };
    let kept_new = &new[insert_front.len()..];
    let replace = old[remove_front..]
        .iter()
        .zip(kept_new)
        .enumerate()
        .filter(|(_, (old, new))| old != new)
        .map(|(offset, (_, new))| (remove_front + offset, new.as_str()))
        .collect();
    ArgsChange {
        remove_front,
        insert_front,
        replace,
    }
}

/// The layout of a sequence (a JSON array, a YAML flow or block sequence) as the editors need it.
#[derive(Debug)]
pub(crate) struct SeqLayout {
    /// Where each item starts (for a YAML block sequence, its `-`) and ends.
    pub items: Vec<Range<usize>>,
    /// Written before each inserted value (`- ` in a block sequence).
    pub prefix: &'static str,
    /// Written after each inserted value placed in front of an existing item (`, `, `,\n    `,
    /// or `\n    ` in a block sequence).
    pub separator: String,
    /// Where values go in an empty sequence (after `[`); `None` for block sequences.
    pub empty_at: Option<usize>,
    /// What replaces the items when every one is removed (`[]` for a block sequence).
    pub emptied: &'static str,
}

impl SeqLayout {
    /// Splices for removing the first `count` items.
    pub(crate) fn remove_front(&self, count: usize, splices: &mut Splices) {
        if count == 0 {
            return;
        }
        let first = self.items[0].start;
        match self.items.get(count) {
            Some(next) => splices.replace(first..next.start, ""),
            None => splices.replace(first..self.items[count - 1].end, self.emptied),
        }
    }

    /// Splices for putting the encoded `values` in front of the first item.
    pub(crate) fn insert_front(
        &self,
        values: &[String],
        splices: &mut Splices,
    ) -> Result<(), String> {
        if values.is_empty() {
            return Ok(());
        }
        match (self.items.first(), self.empty_at) {
            (Some(first), _) => {
                let text: String = values
                    .iter()
                    .map(|v| format!("{}{v}{}", self.prefix, self.separator))
                    .collect();
                splices.insert(first.start, text);
            }
            (None, Some(at)) => {
                let inline = if self.separator.contains('\n') {
                    ", ".to_owned()
                } else {
                    self.separator.clone()
                };
                let text = values
                    .iter()
                    .map(|v| format!("{}{v}", self.prefix))
                    .collect::<Vec<_>>()
                    .join(&inline);
                splices.insert(at, text);
            }
            (None, None) => return Err("cannot add items to an empty block sequence".into()),
        }
        Ok(())
    }
}

/// `,` plus the white space between two items of a flow sequence (`[`…`]`): the first gap that
/// holds nothing else, else the white space before the first item when it breaks the line, else
/// `, `.
pub(crate) fn flow_separator(text: &str, open: usize, items: &[Range<usize>]) -> String {
    for pair in items.windows(2) {
        let gap = &text[pair[0].end..pair[1].start];
        if let Some(rest) = gap.strip_prefix(',')
            && rest.chars().all(char::is_whitespace)
        {
            return gap.to_owned();
        }
    }
    if let Some(first) = items.first() {
        let lead = &text[open + 1..first.start];
        if lead.contains('\n') && lead.chars().all(char::is_whitespace) {
            return format!(",{lead}");
        }
    }
    ", ".to_owned()
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn args_change_aligns_at_the_end() {
        let old = strings(&["-y", "pkg@1.x"]);
        let new = strings(&["run", "--", "npx", "-y", "pkg@1.2.3"]);
        let change = args_change(&old, &new);
        assert_eq!(change.remove_front, 0);
        assert_eq!(change.insert_front, &new[..3]);
        assert_eq!(change.replace, vec![(1, "pkg@1.2.3")]);
        let back = args_change(&new, &old);
        assert_eq!(back.remove_front, 3);
        assert!(back.insert_front.is_empty());
        assert_eq!(back.replace, vec![(4, "pkg@1.x")]);
    }

    #[test]
    fn splices_apply_from_the_end_and_refuse_overlaps() {
        let mut splices = Splices::default();
        splices.replace(1..4, "B");
        splices.insert(1, "i");
        splices.insert(5, "!");
        assert_eq!(splices.apply("abcdef").unwrap(), "aiBe!f");
        let mut overlapping = Splices::default();
        overlapping.replace(0..3, "x");
        overlapping.replace(2..4, "y");
        assert!(overlapping.apply("abcdef").is_err());
    }

    #[test]
    fn separators_follow_the_array() {
        let text = r#"["a",  "b", "c"]"#;
        let items = [1..4, 7..10, 12..15];
        assert_eq!(flow_separator(text, 0, &items), ",  ");
        let multi = "[\n    \"a\"\n  ]";
        let one = std::iter::once(6..9).collect::<Vec<_>>();
        assert_eq!(flow_separator(multi, 0, &one), ",\n    ");
        assert_eq!(
            flow_separator(r#"["a" /*c*/, "b"]"#, 0, &[1..4, 12..15]),
            ", "
        );
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
