//! Where the keys of a TOML document are written and in which order.
//!
//! The `toml` crate's tables are sorted maps, so the order in which `[sweep]` keys are
//! written (which fixes the grid's nesting and the column order) is recovered from the keys'
//! byte spans. Only the `sweep` and `cohort` tables are recorded; everything else is skipped.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// Root keys whose subtrees are recorded.
pub(crate) const RECORDED: [&str; 2] = ["sweep", "cohort"];

/// The keys of one table, in the order they are written.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanTable {
    pub entries: Vec<SpanEntry>,
}

/// One key of a table.
#[derive(Debug, Clone)]
pub(crate) struct SpanEntry {
    pub key: String,
    pub key_span: Range<usize>,
    pub value_span: Range<usize>,
    /// The value's keys when it is a table (header or inline).
    pub table: Option<SpanTable>,
}

impl SpanEntry {
    fn new(key: Spanned<String>, value: Spanned<Node>) -> Self {
        SpanEntry {
            key_span: key.span(),
            key: key.into_inner(),
            value_span: value.span(),
            table: value.into_inner().0,
        }
    }
}

impl SpanTable {
    /// Spans of the `sweep` and `cohort` subtrees of a document.
    pub fn parse_root(text: &str) -> Result<SpanTable, toml::de::Error> {
        toml::from_str::<Root>(text).map(|r| r.0)
    }

    pub fn get(&self, key: &str) -> Option<&SpanEntry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Every key and value span in this table and below.
    pub fn all_spans(&self, out: &mut Vec<Range<usize>>) {
        for e in &self.entries {
            out.push(e.key_span.clone());
            out.push(e.value_span.clone());
            if let Some(t) = &e.table {
                t.all_spans(out);
            }
        }
    }

    fn sort(&mut self) {
        self.entries.sort_by_key(|e| e.key_span.start);
    }
}

/// The document root: records only the tables in [`RECORDED`].
struct Root(SpanTable);

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RootVisitor;
        impl<'de> Visitor<'de> for RootVisitor {
            type Value = Root;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a TOML document")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Root, A::Error> {
                let mut table = SpanTable::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if RECORDED.contains(&key.get_ref().as_str()) {
                        let value = map.next_value::<Spanned<Node>>()?;
                        table.entries.push(SpanEntry::new(key, value));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                table.sort();
                Ok(Root(table))
            }
        }
        d.deserialize_map(RootVisitor)
    }
}

/// Any value: a table's keys are recorded, everything else is skipped.
struct Node(Option<SpanTable>);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node(None))
    }
    fn visit_string<E: de::Error>(self, _: String) -> Result<Node, E> {
        Ok(Node(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Node(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut table = SpanTable::default();
        // Date-times arrive as one-key maps whose key is not a spanned string: skip them.
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            table.entries.push(SpanEntry::new(key, value));
        }
        table.sort();
        Ok(Node(Some(table)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_in_written_order_with_spans() {
        let text = "title = \"x\"\n[sweep]\n\"z.a\" = [1, 2]\nb = [3]\npatient.preset = [\"a\"]\n";
        let root = SpanTable::parse_root(text).unwrap();
        assert!(root.get("title").is_none());
        let sweep = root.get("sweep").unwrap().table.as_ref().unwrap();
        let keys: Vec<&str> = sweep.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["z.a", "b", "patient"]);
        assert_eq!(&text[sweep.entries[1].key_span.clone()], "b");
        let patient = sweep.entries[2].table.as_ref().unwrap();
        assert_eq!(patient.entries[0].key, "preset");
    }
}
