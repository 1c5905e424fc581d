//! The filter strings of Sift's list calls: a small subset of CEL that the clients build, such
//! as `client_key=="nostromo_lv_426"`, `name in ["[NostromoLV426].1720141748.047512"]` or
//! `asset_id == 'a1b2' && name in ["mainmotor.velocity","voltage"]`.
//!
//! The grammar, with white space allowed between tokens:
//!
//! ```text
//! filter    = [ condition { "&&" condition } ]
//! condition = field ( "==" value | "in" "[" [ value { "," value } ] "]" )
//!           | "(" filter ")"
//! field     = letter { letter | digit | "_" | "." }
//! value     = '"' { any character but '"' } '"' | "'" { any character but "'" } "'"
//!           | "true" | "false"
//! ```
//!
//! Clients do not escape the literals they quote, so a value runs to the next quote of the
//! kind that opened it, and brackets or commas inside a value are just characters. Anything
//! outside this grammar is an error naming the position and what was expected, which the
//! server answers with INVALID_ARGUMENT.

use std::fmt;

/// A parsed filter: the conjunction of its conditions. An empty filter matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// `field == value` or `field in [values]`: the field equals one of the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field, e.g. `client_key`.
    pub field: String,
    /// The values the field may equal.
    pub values: Vec<String>,
}

/// Why a filter string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter {filter:?} at character {position}: {message}")]
pub struct FilterError {
    /// The whole filter string.
    pub filter: String,
    /// Where the problem is (0-based, in characters).
    pub position: usize,
    /// What was expected or found.
    pub message: String,
}

impl Filter {
    /// Parses a filter string.
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let mut parser = Parser {
            src,
            chars: src.char_indices().collect(),
            at: 0,
        };
        let mut conditions = Vec::new();
        parser.skip_space();
        if !parser.at_end() {
            parser.conjunction(&mut conditions, 0)?;
        }
        parser.skip_space();
        if !parser.at_end() {
            return Err(parser.error(format!(
                "expected `&&` or the end of the filter, found {}",
                parser.describe_next()
            )));
        }
        Ok(Filter { conditions })
    }

    /// The values every condition on `field` allows (the intersection when there are several),
    /// or `None` when no condition names it.
    pub fn allowed(&self, field: &str) -> Option<Vec<String>> {
        let mut allowed: Option<Vec<String>> = None;
        for condition in self.conditions.iter().filter(|c| c.field == field) {
            allowed = Some(match allowed {
                None => condition.values.clone(),
                Some(previous) => previous
                    .into_iter()
                    .filter(|v| condition.values.contains(v))
                    .collect(),
            });
        }
        allowed
    }

    /// Refuses a filter that names a field outside `fields`.
    pub fn check_fields(&self, fields: &[&str]) -> Result<(), UnknownField> {
        match self
            .conditions
            .iter()
            .find(|c| !fields.contains(&c.field.as_str()))
        {
            Some(c) => Err(UnknownField {
                field: c.field.clone(),
                supported: fields.iter().map(|f| (*f).to_owned()).collect(),
            }),
            None => Ok(()),
        }
    }
}

/// Parses a list call's filter and checks that it names only `fields`; either failure is
/// INVALID_ARGUMENT naming the problem.
pub fn parse_for(src: &str, fields: &[&str]) -> Result<Filter, tonic::Status> {
    let filter = Filter::parse(src).map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    filter
        .check_fields(fields)
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    Ok(filter)
}

/// A filter names a field that the list call cannot filter on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownField {
    /// The field named.
    pub field: String,
    /// The fields the call supports.
    pub supported: Vec<String>,
}

impl fmt::Display for UnknownField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot filter on `{}`; supported fields: {}",
            self.field,
            self.supported.join(", ")
        )
    }
}

/// Parentheses deeper than this are refused rather than recursed into.
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    at: usize,
}

impl Parser<'_> {
    fn conjunction(&mut self, out: &mut Vec<Condition>, depth: usize) -> Result<(), FilterError> {
        loop {
            self.condition(out, depth)?;
            self.skip_space();
            if self.eat("&&") {
                self.skip_space();
                continue;
            }
            return Ok(());
        }
    }

    fn condition(&mut self, out: &mut Vec<Condition>, depth: usize) -> Result<(), FilterError> {
        if self.eat("(") {
            if depth >= MAX_DEPTH {
                return Err(self.error(format!("more than {MAX_DEPTH} nested parentheses")));
            }
            self.skip_space();
            self.conjunction(out, depth + 1)?;
            self.skip_space();
            if !self.eat(")") {
                return Err(self.error(format!("expected `)`, found {}", self.describe_next())));
            }
            return Ok(());
        }
        let field = self.field()?;
        self.skip_space();
        if self.eat("==") {
            self.skip_space();
            let value = self.value()?;
            out.push(Condition {
                field,
                values: vec![value],
            });
            return Ok(());
        }
        if self.eat_word("in") {
            self.skip_space();
            if !self.eat("[") {
                return Err(self.error(format!(
                    "expected `[` after `in`, found {}",
                    self.describe_next()
                )));
            }
            let mut values = Vec::new();
            self.skip_space();
            if !self.eat("]") {
                loop {
                    self.skip_space();
                    values.push(self.value()?);
                    self.skip_space();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("]") {
                        break;
                    }
                    return Err(self.error(format!(
                        "expected `,` or `]` in the list, found {}",
                        self.describe_next()
                    )));
                }
            }
            out.push(Condition { field, values });
            return Ok(());
        }
        Err(self.error(format!(
            "expected `==` or `in` after `{field}`, found {}",
            self.describe_next()
        )))
    }

    fn field(&mut self) -> Result<String, FilterError> {
        let start = self.at;
        while let Some(c) = self.peek() {
            let ok = if self.at == start {
                c.is_ascii_alphabetic() || c == '_'
            } else {
                c.is_ascii_alphanumeric() || c == '_' || c == '.'
            };
            if !ok {
                break;
            }
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error(format!(
                "expected a field name, found {}",
                self.describe_next()
            )));
        }
        Ok(self.chars[start..self.at].iter().map(|(_, c)| c).collect())
    }

    fn value(&mut self) -> Result<String, FilterError> {
        // CEL's boolean literals, as `is_archived == true` writes them.
        for literal in ["true", "false"] {
            let end = self.at + literal.len();
            let matches = self
                .chars
                .get(self.at..end)
                .is_some_and(|chars| chars.iter().map(|(_, c)| *c).eq(literal.chars()));
            let ends = !self
                .chars
                .get(end)
                .is_some_and(|(_, c)| c.is_ascii_alphanumeric() || *c == '_');
            if matches && ends {
                self.at = end;
                return Ok(literal.to_owned());
            }
        }
        let Some(quote) = self.peek().filter(|c| *c == '"' || *c == '\'') else {
            return Err(self.error(format!(
                "expected a quoted value, found {}",
                self.describe_next()
            )));
        };
        let open = self.at;
        self.at += 1;
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == quote {
                let value = self.chars[start..self.at].iter().map(|(_, c)| c).collect();
                self.at += 1;
                return Ok(value);
            }
            self.at += 1;
        }
        self.at = open;
        Err(self.error(format!("the value opened with {quote} is never closed")))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|(_, c)| *c)
    }

    fn at_end(&self) -> bool {
        self.at >= self.chars.len()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        let n = token.chars().count();
        let matches = self.chars.len() >= self.at + n
            && self.chars[self.at..self.at + n]
                .iter()
                .map(|(_, c)| *c)
                .eq(token.chars());
        if matches {
            self.at += n;
        }
        matches
    }

    /// Eats a keyword only when it is not the start of a longer word.
    fn eat_word(&mut self, word: &str) -> bool {
        let n = word.chars().count();
        let next = self.chars.get(self.at + n).map(|(_, c)| *c);
        if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        self.eat(word)
    }

    fn describe_next(&self) -> String {
        match self.chars.get(self.at) {
            None => "the end of the filter".to_owned(),
            Some((byte, _)) => {
                let rest: String = self.src[*byte..].chars().take(12).collect();
                format!("{rest:?}")
            }
        }
    }

    fn error(&self, message: String) -> FilterError {
        FilterError {
            filter: self.src.to_owned(),
            position: self.at,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(src: &str) -> Vec<(String, Vec<String>)> {
        Filter::parse(src)
            .unwrap_or_else(|e| panic!("{e}"))
            .conditions
            .into_iter()
            .map(|c| (c.field, c.values))
            .collect()
    }

    fn owned(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(f, vs)| {
                (
                    (*f).to_owned(),
                    vs.iter().map(|v| (*v).to_owned()).collect(),
                )
            })
            .collect()
    }

    /// A filter string and the conditions it parses to.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a [&'a str])]);

    #[test]
    fn filters_the_clients_send() {
        let cases: &[Case<'_>] = &[
            ("", &[]),
            ("   ", &[]),
            (
                r#"client_key=="nostromo_lv_426""#,
                &[("client_key", &["nostromo_lv_426"])],
            ),
            ("client_key == 'k'", &[("client_key", &["k"])]),
            (
                r#"name in ["NostromoLV426"]"#,
                &[("name", &["NostromoLV426"])],
            ),
            (
                r#"name in ["[NostromoLV426].1720141748.047512", "a,b]"]"#,
                &[("name", &["[NostromoLV426].1720141748.047512", "a,b]"])],
            ),
            (
                r#"asset_id == 'a1' && name in ["mainmotor.velocity","voltage"]"#,
                &[
                    ("asset_id", &["a1"]),
                    ("name", &["mainmotor.velocity", "voltage"]),
                ],
            ),
            (
                r#"entity_id=="e" && entity_type=="runs""#,
                &[("entity_id", &["e"]), ("entity_type", &["runs"])],
            ),
            ("index == 'a'", &[("index", &["a"])]),
            (r#"name in []"#, &[("name", &[])]),
            (
                r#"(name == "a") && (asset_id in ['x'])"#,
                &[("name", &["a"]), ("asset_id", &["x"])],
            ),
            ("name == \"ünïcode ✓\"", &[("name", &["ünïcode ✓"])]),
            ("name == \"\"", &[("name", &[""])]),
            (
                "is_archived == true && x in [false, 'y']",
                &[("is_archived", &["true"]), ("x", &["false", "y"])],
            ),
        ];
        for (src, expected) in cases {
            assert_eq!(conditions(src), owned(expected), "{src}");
        }
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        let cases = [
            (
                "name = 'a'",
                5,
                "expected `==` or `in` after `name`, found \"= 'a'\"",
            ),
            ("name == a", 8, "expected a quoted value, found \"a\""),
            ("name == 'a", 8, "the value opened with ' is never closed"),
            (
                "name in ['a' 'b']",
                13,
                "expected `,` or `]` in the list, found \"'b']\"",
            ),
            ("name in 'a'", 8, "expected `[` after `in`, found \"'a'\""),
            (
                "name == 'a' || name == 'b'",
                12,
                "expected `&&` or the end of the filter, found \"|| name == '\"",
            ),
            // Literals are not escaped: the value ends at the first closing quote.
            (
                "name=='it''s'",
                10,
                "expected `&&` or the end of the filter, found \"'s'\"",
            ),
            (
                "&& name == 'a'",
                0,
                "expected a field name, found \"&& name == '\"",
            ),
            (
                "name == 'a' &&",
                14,
                "expected a field name, found the end of the filter",
            ),
            (
                "(name == 'a'",
                12,
                "expected `)`, found the end of the filter",
            ),
        ];
        for (src, position, message) in cases {
            let e = Filter::parse(src).expect_err(src);
            assert_eq!(
                (e.position, e.message.as_str()),
                (position, message),
                "{src}"
            );
            assert!(e.to_string().starts_with("invalid filter"), "{e}");
        }
    }

    #[test]
    fn allowed_values_intersect_and_unknown_fields_are_named() {
        let f = Filter::parse("name in ['a','b','c'] && name in ['b','c','d'] && asset_id == 'x'")
            .unwrap();
        assert_eq!(
            f.allowed("name"),
            Some(vec!["b".to_owned(), "c".to_owned()])
        );
        assert_eq!(f.allowed("asset_id"), Some(vec!["x".to_owned()]));
        assert_eq!(f.allowed("run_id"), None);
        let err = f.check_fields(&["name"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot filter on `asset_id`; supported fields: name"
        );
        assert!(f.check_fields(&["name", "asset_id"]).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("{}name == 'a'{}", "(".repeat(100), ")".repeat(100));
        let err = Filter::parse(&src).unwrap_err();
        assert!(err.message.contains("nested parentheses"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(src in "\\PC{0,80}|[a-z_ ='\"\\[\\],()&|]{0,60}") {
            let _ = Filter::parse(&src);
        }
    }
}
