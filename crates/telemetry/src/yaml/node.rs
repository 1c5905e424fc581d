//! A YAML document as a tree of nodes that remember where they came from.
//!
//! Sextant reads telemetry configs from YAML and must report problems with a file and line.
//! General-purpose YAML libraries either lose positions or resolve aliases in ways that hide
//! where a node was used, so this module builds its own small tree from the parser's events:
//!
//! - every node knows the line it starts on;
//! - an alias (`*temperature_channel`) becomes a copy of the anchored node whose own line is the
//!   line of the alias, so a problem with a flow entry points at the flow, not at the anchor;
//! - merge keys (`<<: *channel`, `<<: [*a, *b]`) are applied, with keys written explicitly in the
//!   mapping taking precedence over merged ones, as YAML 1.1 specifies.
//!
//! Scalars keep their text and whether they were quoted; typing (int, bool, ...) happens when
//! the decoder asks for a particular type, following the YAML 1.2 core schema for plain scalars.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Anchors and aliases let a small document expand into a huge tree ("billion laughs"); past
/// this many nodes the document is refused.
const MAX_NODES: usize = 1_000_000;

/// A YAML node with its starting line (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The line the node starts on; for a node reached through an alias, the alias's line.
    pub line: usize,
    /// What the node holds.
    pub kind: NodeKind,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar: its text, and whether it was written plain (unquoted, not a block scalar),
    /// which decides whether it may be read as a number, bool or null.
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order, after merge keys are applied.
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The line of the error (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Node {
    /// Parses the first document of `src`. An empty document is an empty mapping.
    pub fn parse(src: &str) -> Result<Node, SyntaxError> {
        let mut builder = Builder::default();
        for event in Parser::new_from_str(src) {
            let (event, span) = event.map_err(|e| SyntaxError {
                line: e.marker().line(),
                message: e.info().to_owned(),
            })?;
            if builder.on_event(event, span)? {
                break;
            }
        }
        Ok(builder.root.unwrap_or(Node {
            line: 1,
            kind: NodeKind::Map(Vec::new()),
        }))
    }

    /// The text of a scalar, or `None` for a sequence or mapping.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A plain boolean scalar (`true`, `false` in the core schema's spellings).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            NodeKind::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A plain integer scalar (decimal, `0x` hex or `0o` octal, optionally signed).
    pub fn as_i64(&self) -> Option<i64> {
        let NodeKind::Scalar { text, plain: true } = &self.kind else {
            return None;
        };
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text.as_str()),
        };
        let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
            i128::from_str_radix(hex, 16).ok()?
        } else if let Some(oct) = digits.strip_prefix("0o") {
            i128::from_str_radix(oct, 8).ok()?
        } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse::<i128>().ok()?
        } else {
            return None;
        };
        i64::try_from(if negative { -magnitude } else { magnitude }).ok()
    }

    /// The entries of a mapping, or `None`.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence, or `None`.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// A short description of what this node is, for error messages ("a mapping", ...).
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Scalar { text, .. } if self.is_null() && text.is_empty() => {
                "nothing".to_owned()
            }
            NodeKind::Scalar { text, .. } => format!("{text:?}"),
            NodeKind::Seq(_) => "a list".to_owned(),
            NodeKind::Map(_) => "a mapping".to_owned(),
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeKind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}

/// A collection being built: its line, anchor id, and what it holds so far.
#[derive(Debug)]
enum Open {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
}

impl Builder {
    /// Handles one event; returns true once the first document is complete.
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<bool, SyntaxError> {
        let line = span.start.line();
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    line,
                    kind: NodeKind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                };
                self.finish(node, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(SyntaxError {
                        line,
                        message: "alias to an unknown anchor".to_owned(),
                    });
                };
                let mut node = target.clone();
                node.line = line;
                self.nodes += node.count();
                if self.nodes > MAX_NODES {
                    return Err(SyntaxError {
                        line,
                        message: format!(
                            "the document expands to more than {MAX_NODES} nodes through aliases"
                        ),
                    });
                }
                self.finish(node, 0)
            }
            Event::SequenceStart(anchor, _tag) => {
                self.stack.push(Open::Seq {
                    line,
                    anchor,
                    items: Vec::new(),
                });
                Ok(false)
            }
            Event::MappingStart(anchor, _tag) => {
                self.stack.push(Open::Map {
                    line,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                });
                Ok(false)
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Open::Seq {
                    line,
                    anchor,
                    items,
                }) => self.finish(
                    Node {
                        line,
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                ),
                _ => Err(SyntaxError {
                    line,
                    message: "unbalanced sequence end".to_owned(),
                }),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Open::Map {
                    line,
                    anchor,
                    entries,
                    ..
                }) => {
                    let node = Node {
                        line,
                        kind: NodeKind::Map(apply_merge_keys(entries)?),
                    };
                    self.finish(node, anchor)
                }
                _ => Err(SyntaxError {
                    line,
                    message: "unbalanced mapping end".to_owned(),
                }),
            },
            Event::DocumentEnd => Ok(self.root.is_some()),
            Event::StreamEnd => Ok(true),
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => Ok(false),
        }
    }

    /// Places a finished node into its parent (or as the root) and records its anchor.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<bool, SyntaxError> {
        self.nodes += 1;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(false)
            }
            Some(Open::Seq { items, .. }) => {
                items.push(node);
                Ok(false)
            }
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => {
                match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                }
                Ok(false)
            }
        }
    }
}

/// Applies `<<` entries: the merged mappings' keys are added where the mapping does not
/// already have them; among several merged mappings, the first one listed wins.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, SyntaxError> {
    let is_merge =
        |k: &Node| matches!(&k.kind, NodeKind::Scalar { text, plain: true } if text == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return Ok(entries);
    }
    let mut own = Vec::with_capacity(entries.len());
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (key, value) in entries {
        if !is_merge(&key) {
            own.push((key, value));
            continue;
        }
        let sources: Vec<Node> = match value.kind {
            NodeKind::Map(_) => vec![value],
            NodeKind::Seq(items) => items,
            NodeKind::Scalar { .. } => {
                return Err(SyntaxError {
                    line: key.line,
                    message: "a merge key `<<` needs a mapping or a list of mappings".to_owned(),
                });
            }
        };
        for source in sources {
            let NodeKind::Map(source_entries) = source.kind else {
                return Err(SyntaxError {
                    line: source.line,
                    message: "a merge key `<<` needs a mapping or a list of mappings".to_owned(),
                });
            };
            for (k, v) in source_entries {
                if !merged.iter().any(|(m, _)| m.kind == k.kind) {
                    merged.push((k, v));
                }
            }
        }
    }
    for (k, v) in merged {
        if !own.iter().any(|(o, _)| o.kind == k.kind) {
            own.push((k, v));
        }
    }
    Ok(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(node: &'a Node, key: &str) -> &'a Node {
        node.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no key {key}"))
    }

    #[test]
    fn alias_takes_the_line_of_its_use_and_merge_keys_apply() {
        let src = "\
channels:
  temp: &temp
    name: temperature
    unit: Kelvin
flows:
  - channels:
      - *temp
      - <<: *temp
        unit: Celsius
";
        let root = Node::parse(src).unwrap();
        let anchored = get(get(&root, "channels"), "temp");
        assert_eq!(anchored.line, 2);
        let flow = &get(&root, "flows").as_seq().unwrap()[0];
        let items = get(flow, "channels").as_seq().unwrap();
        assert_eq!(items[0].line, 7);
        assert_eq!(get(&items[0], "name").as_scalar(), Some("temperature"));
        assert_eq!(items[1].line, 8);
        assert_eq!(get(&items[1], "unit").as_scalar(), Some("Celsius"));
        assert_eq!(get(&items[1], "name").as_scalar(), Some("temperature"));
        assert_eq!(items[1].as_map().unwrap().len(), 2);
    }

    #[test]
    fn scalar_typing_follows_the_core_schema() {
        let root = Node::parse("a: 12\nb: '12'\nc: true\nd: ~\ne: -0x10\nf: 12v\n").unwrap();
        assert_eq!(get(&root, "a").as_i64(), Some(12));
        assert_eq!(get(&root, "b").as_i64(), None);
        assert_eq!(get(&root, "c").as_bool(), Some(true));
        assert!(get(&root, "d").is_null());
        assert_eq!(get(&root, "e").as_i64(), Some(-16));
        assert_eq!(get(&root, "f").as_i64(), None);
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = Node::parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = Node::parse("a: *nowhere\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = Node::parse(&src).unwrap_err();
        assert!(err.message.contains("more than"), "{err:?}");
    }
}
