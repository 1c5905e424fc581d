//! The metadata search language of SignalFx's REST API, a small Lucene-like language:
//!
//! ```text
//! query := or
//! or    := and (("OR" | "||") and)*
//! and   := not (("AND" | "&&")? not)*        two terms side by side are joined by AND
//! not   := ("NOT" | "!" | "-") not | "(" or ")" | term
//! term  := "*" | "*:*" | field ":" value
//! value := a bare word, where `*` matches any run of characters and `?` one character,
//!          and `\` escapes the next character; or a "quoted string", matched literally
//! ```
//!
//! Operators are case-sensitive, as in Lucene. `*` alone (and `*:*`) matches everything, and
//! so does an empty query. What a field means is the caller's: an object answers
//! [`Searchable::any_value`] for a field name, and a term matches when any of the field's
//! values matches its pattern (a field the object lacks matches nothing).

use std::fmt;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Matches everything.
    All,
    /// `field:pattern`.
    Term {
        /// The field name.
        field: String,
        /// The pattern its values are matched against.
        pattern: Pattern,
    },
    /// Both.
    And(Box<Query>, Box<Query>),
    /// Either.
    Or(Box<Query>, Box<Query>),
    /// Not.
    Not(Box<Query>),
}

/// A value pattern: literal text, or a glob with `*` and `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Matches exactly this text.
    Exact(String),
    /// Matches the glob; the parts are literal runs, `*` and `?`.
    Glob(Vec<GlobPart>),
}

/// One piece of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobPart {
    /// Literal text.
    Text(String),
    /// `*`: any run of characters, the empty one included.
    Any,
    /// `?`: exactly one character.
    One,
}

/// An object that a query can be evaluated against.
pub trait Searchable {
    /// Whether any value of `field` passes `test`; `false` when the object has no such field.
    fn any_value(&self, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool;
}

/// Why a query did not parse: what is wrong and at which character (from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse query {query:?} at character {at}: {message}")]
pub struct QueryError {
    /// The query as given.
    pub query: String,
    /// Where the problem is, in characters from 0.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl Query {
    /// Parses a query; an empty or blank one is [`Query::All`].
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Ok(Query::All);
        }
        let mut parser = Parser {
            text,
            tokens,
            at: 0,
            depth: 0,
            terms: 0,
        };
        let query = parser.or()?;
        if let Some((at, token)) = parser.tokens.get(parser.at) {
            return Err(parser.error(*at, format!("unexpected {token}")));
        }
        Ok(query)
    }

    /// Whether `object` matches.
    pub fn matches(&self, object: &dyn Searchable) -> bool {
        match self {
            Query::All => true,
            Query::Term { field, pattern } => {
                object.any_value(field, &mut |value| pattern.matches(value))
            }
            Query::And(a, b) => a.matches(object) && b.matches(object),
            Query::Or(a, b) => a.matches(object) || b.matches(object),
            Query::Not(a) => !a.matches(object),
        }
    }

    /// The exact values a matching object must have in `field`, when the query pins it (a
    /// term `field:value` without wildcards at the top or under AND): lets a caller narrow
    /// the candidates through an index before evaluating the query on each.
    pub fn pinned(&self, field: &str) -> Option<&str> {
        match self {
            Query::Term {
                field: f,
                pattern: Pattern::Exact(value),
            } if f == field => Some(value),
            Query::And(a, b) => a.pinned(field).or_else(|| b.pinned(field)),
            _ => None,
        }
    }
}

impl Pattern {
    fn new(text: String, quoted: bool) -> Pattern {
        if quoted || !text.contains(['*', '?']) {
            return Pattern::Exact(text);
        }
        let mut parts = Vec::new();
        let mut run = String::new();
        for c in text.chars() {
            match c {
                '*' | '?' => {
                    if !run.is_empty() {
                        parts.push(GlobPart::Text(std::mem::take(&mut run)));
                    }
                    parts.push(if c == '*' {
                        GlobPart::Any
                    } else {
                        GlobPart::One
                    });
                }
                c => run.push(c),
            }
        }
        if !run.is_empty() {
            parts.push(GlobPart::Text(run));
        }
        Pattern::Glob(parts)
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(text) => text == value,
            Pattern::Glob(parts) => glob(parts, value),
        }
    }
}

fn glob(parts: &[GlobPart], value: &str) -> bool {
    match parts.split_first() {
        None => value.is_empty(),
        Some((GlobPart::Text(text), rest)) => value
            .strip_prefix(text.as_str())
            .is_some_and(|v| glob(rest, v)),
        Some((GlobPart::One, rest)) => {
            let mut chars = value.chars();
            chars.next().is_some() && glob(rest, chars.as_str())
        }
        Some((GlobPart::Any, rest)) => {
            if rest.is_empty() {
                return true;
            }
            // Try every suffix; globs here are short, values a few dozen bytes.
            value
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(value.len()))
                .any(|i| glob(rest, &value[i..]))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    /// A term: field (None for a bare word) and value.
    Word {
        field: Option<String>,
        value: String,
        quoted: bool,
    },
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::And => f.write_str("`AND`"),
            Token::Or => f.write_str("`OR`"),
            Token::Not => f.write_str("`NOT`"),
            Token::Word { field, value, .. } => match field {
                Some(field) => write!(f, "term `{field}:{value}`"),
                None => write!(f, "`{value}`"),
            },
        }
    }
}

fn lex(text: &str) -> Result<Vec<(usize, Token)>, QueryError> {
    let error = |at: usize, message: String| QueryError {
        query: text.to_owned(),
        at,
        message,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((start, Token::Open));
                i += 1;
            }
            ')' => {
                tokens.push((start, Token::Close));
                i += 1;
            }
            '!' => {
                tokens.push((start, Token::Not));
                i += 1;
            }
            '-' if chars.get(i + 1).is_some_and(|c| !c.is_whitespace()) => {
                tokens.push((start, Token::Not));
                i += 1;
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                tokens.push((start, Token::And));
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                tokens.push((start, Token::Or));
                i += 2;
            }
            _ => {
                // A word: the field up to the first unescaped `:`, then the value, bare or
                // quoted.
                let mut field = None;
                let mut word = String::new();
                let mut quoted = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace() || c == '(' || c == ')' {
                        break;
                    }
                    if c == '\\' {
                        let Some(&next) = chars.get(i + 1) else {
                            return Err(error(i, "a `\\` ends the query".into()));
                        };
                        word.push(next);
                        i += 2;
                        continue;
                    }
                    if c == ':' && field.is_none() {
                        field = Some(std::mem::take(&mut word));
                        i += 1;
                        if chars.get(i) == Some(&'"') {
                            let open = i;
                            i += 1;
                            loop {
                                match chars.get(i) {
                                    None => {
                                        return Err(error(open, "a quote is not closed".into()));
                                    }
                                    Some('"') => {
                                        i += 1;
                                        break;
                                    }
                                    Some('\\') if i + 1 < chars.len() => {
                                        word.push(chars[i + 1]);
                                        i += 2;
                                    }
                                    Some(&c) => {
                                        word.push(c);
                                        i += 1;
                                    }
                                }
                            }
                            quoted = true;
                            break;
                        }
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                let token = match (field.as_deref(), word.as_str()) {
                    (None, "AND") => Token::And,
                    (None, "OR") => Token::Or,
                    (None, "NOT") => Token::Not,
                    _ => Token::Word {
                        field,
                        value: word,
                        quoted,
                    },
                };
                tokens.push((start, token));
            }
        }
    }
    Ok(tokens)
}

/// The deepest a query may nest `(` and `NOT`.
pub const MAX_NESTING: usize = 32;

/// The most terms a query may have. Each `AND` or `OR` adds a level to the query's tree, and
/// matching and dropping it recurse through every level: bounded, so that no query can
/// exhaust a thread's stack.
pub const MAX_TERMS: usize = 256;

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(usize, Token)>,
    at: usize,
    /// `(` and `NOT` open around the current token.
    depth: usize,
    /// Terms read so far.
    terms: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, message: String) -> QueryError {
        QueryError {
            query: self.text.to_owned(),
            at,
            message,
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn end(&self) -> usize {
        self.text.chars().count()
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut query = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            query = Query::Or(Box::new(query), Box::new(self.and()?));
        }
        Ok(query)
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut query = self.not()?;
        loop {
            match self.peek() {
                Some(Token::And) => self.at += 1,
                Some(Token::Not | Token::Open | Token::Word { .. }) => {}
                _ => return Ok(query),
            }
            query = Query::And(Box::new(query), Box::new(self.not()?));
        }
    }

    fn not(&mut self) -> Result<Query, QueryError> {
        let Some((at, token)) = self.tokens.get(self.at).cloned() else {
            return Err(self.error(
                self.end(),
                "the query ends where a term was expected".into(),
            ));
        };
        self.at += 1;
        if matches!(token, Token::Not | Token::Open) {
            self.depth += 1;
            if self.depth > MAX_NESTING {
                return Err(self.error(
                    at,
                    format!("the query nests `(` and NOT more than {MAX_NESTING} deep"),
                ));
            }
        } else {
            self.terms += 1;
            if self.terms > MAX_TERMS {
                return Err(self.error(at, format!("the query has more than {MAX_TERMS} terms")));
            }
        }
        match token {
            Token::Not => {
                let query = Query::Not(Box::new(self.not()?));
                self.depth -= 1;
                Ok(query)
            }
            Token::Open => {
                let query = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::Close) {
                    let at = self.tokens.get(self.at).map_or(self.end(), |(at, _)| *at);
                    return Err(self.error(at, format!("expected `)` to close the `(` at {at}")));
                }
                self.at += 1;
                Ok(query)
            }
            Token::Word {
                field: None, value, ..
            } if value == "*" => Ok(Query::All),
            Token::Word {
                field: Some(field),
                value,
                ..
            } if field == "*" && value == "*" => Ok(Query::All),
            Token::Word {
                field: None, value, ..
            } => Err(self.error(
                at,
                format!("`{value}` has no field: write `field:value`, such as `sf_metric:{value}`"),
            )),
            Token::Word {
                field: Some(field), ..
            } if field.is_empty() => Err(self.error(at, "a term has an empty field name".into())),
            Token::Word {
                field: Some(field),
                value,
                quoted,
            } => {
                if value.is_empty() && !quoted {
                    return Err(self.error(at, format!("`{field}:` has no value")));
                }
                Ok(Query::Term {
                    field,
                    pattern: Pattern::new(value, quoted),
                })
            }
            token => Err(self.error(at, format!("unexpected {token}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    struct Object(Vec<(&'static str, &'static str)>);

    impl Searchable for Object {
        fn any_value(&self, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool {
            self.0.iter().any(|(k, v)| *k == field && test(v))
        }
    }

    #[test]
    fn queries_match_as_lucene_would() {
        let mts = Object(vec![
            ("sf_metric", "cpu.utilization"),
            ("host", "web-1"),
            ("env", "prod"),
            ("tags", "critical"),
            ("tags", "linux"),
        ]);
        let cases = [
            ("", true),
            ("*", true),
            ("*:*", true),
            ("sf_metric:cpu.utilization", true),
            ("sf_metric:cpu.*", true),
            ("sf_metric:*util*", true),
            ("sf_metric:cpu", false),
            ("host:web-?", true),
            ("host:web-??", false),
            ("host:web-1 AND env:prod", true),
            ("host:web-1 env:prod", true),
            ("host:web-1 && env:dev", false),
            ("host:web-2 OR env:prod", true),
            ("host:web-2 || env:dev", false),
            ("NOT env:dev", true),
            ("!env:prod", false),
            ("-env:prod", false),
            ("env:prod AND NOT (host:web-2 OR host:web-3)", true),
            ("(host:web-1 OR host:web-2) AND tags:linux", true),
            ("tags:crit*", true),
            ("missing:*", false),
            ("NOT missing:*", true),
            (r#"host:"web-1""#, true),
            (r#"host:"web-*""#, false),
            (r"sf_metric:cpu\.utilization", true),
        ];
        for (text, want) in cases {
            let query = Query::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(query.matches(&mts), want, "{text}: {query:?}");
        }
    }

    #[test]
    fn bad_queries_say_where() {
        let cases = [
            (
                "host:a AND",
                "at character 10: the query ends where a term was expected",
            ),
            ("(host:a", "at character 7: expected `)` to close"),
            ("host:a)", "at character 6: unexpected `)`"),
            (
                "cpu",
                "at character 0: `cpu` has no field: write `field:value`",
            ),
            ("host:", "at character 0: `host:` has no value"),
            (r#"host:"abc"#, "at character 5: a quote is not closed"),
            (":x", "at character 0: a term has an empty field name"),
        ];
        for (text, want) in cases {
            let err = Query::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    /// Found by fuzzing: 4,000 `(` overflowed the stack of a fuzzing process (and would have
    /// overflowed a server thread's). Nesting and terms are bounded now, and the bounds hold
    /// on a thread with a small stack.
    #[test]
    fn deep_or_long_queries_are_refused_before_they_exhaust_a_stack() {
        let deep_parens = format!("{}a:b{}", "(".repeat(4000), ")".repeat(4000));
        let deep_nots = format!("{}a:b", "NOT ".repeat(4000));
        let long_and = vec!["a:b"; 4000].join(" AND ");
        let long_or = vec!["a:b"; 4000].join(" OR ");
        let at_limits = format!(
            "{}{}{}",
            "(".repeat(MAX_NESTING),
            vec!["a:b"; MAX_TERMS].join(" OR "),
            ")".repeat(MAX_NESTING)
        );
        let refused = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                assert!(Query::parse(&at_limits).is_ok());
                [deep_parens, deep_nots, long_and, long_or]
                    .map(|q| Query::parse(&q).unwrap_err().to_string())
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(
            refused[0].contains("nests `(` and NOT more than 32 deep"),
            "{}",
            refused[0]
        );
        assert!(
            refused[1].contains("nests `(` and NOT more than 32 deep"),
            "{}",
            refused[1]
        );
        assert!(refused[2].contains("more than 256 terms"), "{}", refused[2]);
        assert!(refused[3].contains("more than 256 terms"), "{}", refused[3]);
    }

    #[test]
    fn pinned_fields_come_from_top_level_exact_terms() {
        let q = Query::parse("sf_metric:cpu AND host:h*").unwrap();
        assert_eq!(q.pinned("sf_metric"), Some("cpu"));
        assert_eq!(q.pinned("host"), None);
        let q = Query::parse("sf_metric:cpu OR sf_metric:mem").unwrap();
        assert_eq!(q.pinned("sf_metric"), None);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = Query::parse(&text);
        }

        #[test]
        fn a_glob_of_the_value_itself_matches(value in "[a-z.*?]{0,12}") {
            let pattern = Pattern::new(value.clone(), false);
            prop_assert!(pattern.matches(&value));
        }
    }
}
