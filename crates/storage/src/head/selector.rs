//! Series selectors: which series of an organization a query, listing or deletion is about.
//!
//! A [`SeriesSelector`] holds one optional [`Match`] on the series name and any number of
//! matches on labels; a series is selected when all of them hold. Matching follows
//! Prometheus: a label a series does not have counts as the empty value, so `region!="eu"`
//! and `region!~"eu.*"` select series without a `region` label, `region=""` selects exactly
//! those, and regular expressions are anchored (they must match the whole value).
//!
//! # Text form
//!
//! ```text
//! cpu.usage_user{host=~"h[0-9]+",region!="eu",rack^="r1"}
//! {__name__=~"cpu\..*",host="h1"}
//! ```
//!
//! - An optional series name comes first; it selects series with exactly that name. The
//!   characters `\ { } , = " ! ~ ^`, spaces and tabs are escaped in it with a backslash, as in
//!   the canonical text of a series key.
//! - Braces, optional when a name is given, hold matchers separated by `,` (a trailing comma
//!   is allowed; spaces around tokens are ignored), each `label OP "value"` with `OP` one of
//!   `=` (equal), `!=` (not equal), `=~` (regex), `!~` (regex not matching) and `^=` (prefix).
//! - The pseudo-label `__name__` matches the series name with any operator; the name may be
//!   matched once only.
//! - In quoted values `\"` is a quote, `\\` a backslash, `\n` a newline and `\t` a tab; any
//!   other backslash is kept as it is, so `"h\d+"` and `"h\\d+"` are the same regex.
//!
//! [`SeriesSelector`]'s `Display` prints this form, and parsing it gives the selector back.

use std::fmt;
use std::str::FromStr;

use sextant_model::{ErrorKind, SeriesKey};

use super::SeriesMatcher;

/// The pseudo-label that matches the series name in the text form.
pub const NAME_LABEL: &str = "__name__";

/// Why a selector or a regular expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The text is not a series selector.
    #[error("cannot parse series selector {input:?} at byte {offset}: {reason}")]
    Syntax {
        /// The text given.
        input: String,
        /// The byte offset where parsing failed.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },
    /// A regular expression does not compile.
    #[error("invalid regular expression {regex:?}: {detail}")]
    Regex {
        /// The expression as given.
        regex: String,
        /// What the regex compiler reported.
        detail: String,
    },
}

impl SelectorError {
    /// Every selector error is invalid input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// A regular expression that must match a whole value, as in Prometheus.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `source`, anchored at both ends.
    pub fn new(source: impl Into<String>) -> Result<Pattern, SelectorError> {
        let source = source.into();
        match regex::Regex::new(&format!("^(?:{source})$")) {
            Ok(regex) => Ok(Pattern { source, regex }),
            Err(e) => Err(SelectorError::Regex {
                detail: regex_detail(&e),
                regex: source,
            }),
        }
    }

    /// The expression as given, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The regex compiler's message on one line: the anchors this module adds are not the
/// user's, so the compiler's own excerpt of the pattern is left out.
fn regex_detail(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map_or_else(
                || s.clone(),
                |l| l.trim_start_matches("error:").trim().to_owned(),
            ),
        other => other.to_string(),
    }
}

/// One condition on a value: the series name or one label's value, where a missing label
/// counts as the empty value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The value equals this.
    Equal(String),
    /// The value differs from this.
    NotEqual(String),
    /// The whole value matches this regex.
    Regex(Pattern),
    /// The whole value does not match this regex.
    NotRegex(Pattern),
    /// The value starts with this.
    Prefix(String),
}

impl Match {
    /// `Equal(value)`.
    pub fn equal(value: impl Into<String>) -> Match {
        Match::Equal(value.into())
    }

    /// `NotEqual(value)`.
    pub fn not_equal(value: impl Into<String>) -> Match {
        Match::NotEqual(value.into())
    }

    /// `Prefix(prefix)`.
    pub fn prefix(prefix: impl Into<String>) -> Match {
        Match::Prefix(prefix.into())
    }

    /// `Regex` of `source`, anchored; fails if it does not compile.
    pub fn regex(source: impl Into<String>) -> Result<Match, SelectorError> {
        Pattern::new(source).map(Match::Regex)
    }

    /// `NotRegex` of `source`, anchored; fails if it does not compile.
    pub fn not_regex(source: impl Into<String>) -> Result<Match, SelectorError> {
        Pattern::new(source).map(Match::NotRegex)
    }

    /// Whether `value` satisfies the condition; `None`, a missing label, is the empty value.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match self {
            Match::Equal(e) => v == e,
            Match::NotEqual(e) => v != e,
            Match::Regex(p) => p.is_match(v),
            Match::NotRegex(p) => !p.is_match(v),
            Match::Prefix(p) => v.starts_with(p.as_str()),
        }
    }

    /// The operator in the text form.
    pub fn operator(&self) -> &'static str {
        match self {
            Match::Equal(_) => "=",
            Match::NotEqual(_) => "!=",
            Match::Regex(_) => "=~",
            Match::NotRegex(_) => "!~",
            Match::Prefix(_) => "^=",
        }
    }

    /// The operand: the value, prefix or regex source.
    pub fn operand(&self) -> &str {
        match self {
            Match::Equal(s) | Match::NotEqual(s) | Match::Prefix(s) => s,
            Match::Regex(p) | Match::NotRegex(p) => p.as_str(),
        }
    }
}

/// Which series to select: all conditions must hold; no condition selects every series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesSelector {
    /// The condition on the series name.
    pub name: Option<Match>,
    /// Conditions on labels, by label name; one on [`NAME_LABEL`] applies to the series name.
    pub labels: Vec<(String, Match)>,
}

impl SeriesSelector {
    /// Every series.
    pub fn all() -> Self {
        SeriesSelector::default()
    }

    /// Series called exactly `name`.
    pub fn name(name: impl Into<String>) -> Self {
        Self::name_matching(Match::Equal(name.into()))
    }

    /// Series whose name satisfies `m`.
    pub fn name_matching(m: Match) -> Self {
        SeriesSelector {
            name: Some(m),
            labels: Vec::new(),
        }
    }

    /// Also requires label `name` to satisfy `m`.
    pub fn label(mut self, name: impl Into<String>, m: Match) -> Self {
        self.labels.push((name.into(), m));
        self
    }

    /// Parses the text form described in the module documentation.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        Parser { input, pos: 0 }.selector()
    }

    /// Whether the selector has no condition, so selects every series.
    pub fn is_all(&self) -> bool {
        self.name.is_none() && self.labels.is_empty()
    }

    /// Whether series `key` is selected.
    pub fn matches(&self, key: &SeriesKey) -> bool {
        self.name
            .as_ref()
            .is_none_or(|m| m.matches(Some(key.name())))
            && self.labels.iter().all(|(n, m)| {
                let value = if n == NAME_LABEL {
                    Some(key.name())
                } else {
                    key.label(n)
                };
                m.matches(value)
            })
    }
}

impl From<&SeriesMatcher> for SeriesSelector {
    fn from(m: &SeriesMatcher) -> Self {
        SeriesSelector {
            name: m.name.clone().map(Match::Equal),
            labels: m
                .labels
                .iter()
                .map(|(n, v)| (n.clone(), Match::Equal(v.clone())))
                .collect(),
        }
    }
}

impl From<SeriesMatcher> for SeriesSelector {
    fn from(m: SeriesMatcher) -> Self {
        SeriesSelector::from(&m)
    }
}

impl FromStr for SeriesSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SeriesSelector::parse(s)
    }
}

/// Characters escaped in names outside quotes.
fn is_special(c: char) -> bool {
    matches!(
        c,
        '\\' | '{' | '}' | ',' | '=' | '"' | '!' | '~' | '^' | ' ' | '\t'
    )
}

fn write_ident(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '\n' => f.write_str("\\n")?,
            c if is_special(c) => write!(f, "\\{c}")?,
            c => fmt::Write::write_char(f, c)?,
        }
    }
    Ok(())
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\\' | '"' => write!(f, "\\{c}")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => fmt::Write::write_char(f, c)?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for SeriesSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut matchers: Vec<(&str, &Match)> = Vec::new();
        match &self.name {
            Some(Match::Equal(n)) if !n.is_empty() => write_ident(f, n)?,
            Some(m) => matchers.push((NAME_LABEL, m)),
            None => {}
        }
        matchers.extend(self.labels.iter().map(|(n, m)| (n.as_str(), m)));
        if matchers.is_empty() && self.name.is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (n, m)) in matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_ident(f, n)?;
            f.write_str(m.operator())?;
            write_quoted(f, m.operand())?;
        }
        f.write_str("}")
    }
}

/// A cursor over the text of a selector.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error_at(&self, offset: usize, reason: impl Into<String>) -> SelectorError {
        SelectorError::Syntax {
            input: self.input.to_owned(),
            offset,
            reason: reason.into(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> SelectorError {
        self.error_at(self.pos, reason)
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.input[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.pos += 1;
        }
    }

    /// A run of unescaped non-special characters, with backslash escapes; may be empty.
    fn ident(&mut self) -> Result<String, SelectorError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                let at = self.pos;
                self.bump();
                match self.bump() {
                    Some('n') => out.push('\n'),
                    Some(c) if is_special(c) => out.push(c),
                    Some(_) => {
                        return Err(self.error_at(
                            at,
                            "unknown escape; only \\n and the characters \\ { } , = \" ! ~ ^ space and tab are escaped in names",
                        ));
                    }
                    None => return Err(self.error_at(at, "the text ends inside an escape")),
                }
            } else if is_special(c) || c == '\n' || c == '\r' {
                break;
            } else {
                out.push(c);
                self.bump();
            }
        }
        Ok(out)
    }

    /// A double-quoted value; the cursor is at the opening quote.
    fn quoted(&mut self) -> Result<String, SelectorError> {
        if !self.eat("\"") {
            return Err(self.error("expected a double-quoted value"));
        }
        let start = self.pos - 1;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error_at(start, "unterminated quoted value")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => return Err(self.error_at(start, "unterminated quoted value")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn selector(mut self) -> Result<SeriesSelector, SelectorError> {
        let mut selector = SeriesSelector::default();
        self.skip_space();
        let start = self.pos;
        if self.input[self.pos..].is_empty() {
            return Err(self.error("empty selector; write {} to select every series"));
        }
        let name = self.ident()?;
        if !name.is_empty() {
            selector.name = Some(Match::Equal(name));
        }
        self.skip_space();
        if self.eat("{") {
            self.matchers(&mut selector)?;
            self.skip_space();
        }
        match self.peek() {
            None => Ok(selector),
            Some(_) if self.pos == start => Err(self.error("expected a series name or '{'")),
            Some(c) => Err(self.error(format!("unexpected {c:?} after the selector"))),
        }
    }

    /// The matchers after `{`, up to and including `}`.
    fn matchers(&mut self, selector: &mut SeriesSelector) -> Result<(), SelectorError> {
        loop {
            self.skip_space();
            if self.eat("}") {
                return Ok(());
            }
            let label_at = self.pos;
            let label = self.ident()?;
            if label.is_empty() {
                return Err(match self.peek() {
                    None => self.error("expected a label name or '}'; the text ends"),
                    Some(c) => self.error(format!("expected a label name or '}}', found {c:?}")),
                });
            }
            self.skip_space();
            let op = ["!=", "=~", "!~", "^=", "="]
                .into_iter()
                .find(|op| self.eat(op))
                .ok_or_else(|| {
                    self.error(format!(
                        "expected an operator (=, !=, =~, !~ or ^=) after label {label:?}"
                    ))
                })?;
            self.skip_space();
            let value_at = self.pos;
            let value = self.quoted()?;
            let regex_error = |e: SelectorError| match e {
                SelectorError::Regex { regex, detail } => self.error_at(
                    value_at,
                    format!("invalid regular expression {regex:?}: {detail}"),
                ),
                other => other,
            };
            let m = match op {
                "=" => Match::Equal(value),
                "!=" => Match::NotEqual(value),
                "=~" => Match::regex(value).map_err(regex_error)?,
                "!~" => Match::not_regex(value).map_err(regex_error)?,
                _ => Match::Prefix(value),
            };
            if label == NAME_LABEL {
                if selector.name.is_some() {
                    return Err(self.error_at(label_at, "the series name is matched twice"));
                }
                selector.name = Some(m);
            } else {
                selector.labels.push((label, m));
            }
            self.skip_space();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(());
            }
            return Err(match self.peek() {
                None => self.error("expected ',' or '}'; the text ends"),
                Some(c) => self.error(format!("expected ',' or '}}', found {c:?}")),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(name, labels.iter().copied()).unwrap()
    }

    fn re(s: &str) -> Match {
        Match::regex(s).unwrap()
    }

    fn nre(s: &str) -> Match {
        Match::not_regex(s).unwrap()
    }

    #[test]
    fn parses_valid_selectors() {
        let eq = Match::equal;
        let cases: Vec<(&str, SeriesSelector)> = vec![
            ("cpu", SeriesSelector::name("cpu")),
            ("cpu{}", SeriesSelector::name("cpu")),
            ("{}", SeriesSelector::all()),
            (
                r#"cpu.usage_user{host=~"h[0-9]+",region!="eu"}"#,
                SeriesSelector::name("cpu.usage_user")
                    .label("host", re("h[0-9]+"))
                    .label("region", Match::not_equal("eu")),
            ),
            (
                " cpu { host = \"a\" ,\tb!~\"x|y\", } ",
                SeriesSelector::name("cpu")
                    .label("host", eq("a"))
                    .label("b", nre("x|y")),
            ),
            (
                r#"{__name__=~"cpu\\..*",host="h1"}"#,
                SeriesSelector::name_matching(re(r"cpu\..*")).label("host", eq("h1")),
            ),
            (
                r#"{__name__^="cpu."}"#,
                SeriesSelector::name_matching(Match::prefix("cpu.")),
            ),
            (
                r#"{rack^="r1",rack!~"r1[0-9]"}"#,
                SeriesSelector::all()
                    .label("rack", Match::prefix("r1"))
                    .label("rack", nre("r1[0-9]")),
            ),
            (
                r#"{v="a\"b\\c\nd\te"}"#,
                SeriesSelector::all().label("v", eq("a\"b\\c\nd\te")),
            ),
            (
                r#"{v=~"h\d+"}"#,
                SeriesSelector::all().label("v", re(r"h\d+")),
            ),
            (r#"{v=""}"#, SeriesSelector::all().label("v", eq(""))),
            (
                r#"my\ name\{x\}{la\=bel="1"}"#,
                SeriesSelector::name("my name{x}").label("la=bel", eq("1")),
            ),
            ("höhe", SeriesSelector::name("höhe")),
        ];
        for (text, want) in cases {
            let got = SeriesSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            // The printed form parses back to the same selector.
            let printed = got.to_string();
            assert_eq!(SeriesSelector::parse(&printed).unwrap(), got, "{printed}");
            assert_eq!(text.parse::<SeriesSelector>().unwrap(), want);
        }
    }

    #[test]
    fn rejects_invalid_selectors_quoting_input_and_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty selector"),
            ("  ", 2, "empty selector"),
            ("cpu{", 4, "expected a label name or '}'; the text ends"),
            ("cpu{,}", 4, "expected a label name or '}', found ','"),
            (
                "cpu{host}",
                8,
                "expected an operator (=, !=, =~, !~ or ^=) after label \"host\"",
            ),
            ("cpu{host=\"a\"", 12, "expected ',' or '}'; the text ends"),
            (
                "cpu{host=\"a\" b=\"c\"}",
                13,
                "expected ',' or '}', found 'b'",
            ),
            ("cpu{host=a}", 9, "expected a double-quoted value"),
            ("cpu{host==\"a\"}", 9, "expected a double-quoted value"),
            ("cpu{host=\"a}", 9, "unterminated quoted value"),
            ("cpu{host=\"a\\", 9, "unterminated quoted value"),
            (
                "cpu{host=~\"h[0-9\"}",
                10,
                "invalid regular expression \"h[0-9\"",
            ),
            ("cpu{host!~\"(\"}", 10, "invalid regular expression \"(\""),
            ("cpu{host=\"a\"} x", 14, "unexpected 'x' after the selector"),
            ("cpu x", 4, "unexpected 'x' after the selector"),
            ("cpu{__name__=\"x\"}", 4, "the series name is matched twice"),
            (
                "{__name__=\"x\",__name__=\"y\"}",
                14,
                "the series name is matched twice",
            ),
            ("=x", 0, "expected a series name or '{'"),
            ("a\\qb", 1, "unknown escape"),
            ("a\\", 1, "the text ends inside an escape"),
        ];
        for &(text, offset, reason) in cases {
            let err = SeriesSelector::parse(text).expect_err(text);
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "cannot parse series selector {text:?} at byte {offset}: "
                )) && msg.contains(reason),
                "{text}: {msg}"
            );
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(crate::Error::from(err).kind(), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn a_bad_regex_is_invalid_input_naming_it() {
        for bad in ["(", "a{2,1}", "[z-a]"] {
            for err in [
                Match::regex(bad).unwrap_err(),
                Match::not_regex(bad).unwrap_err(),
            ] {
                let msg = err.to_string();
                assert!(
                    msg.starts_with(&format!("invalid regular expression {bad:?}: ")),
                    "{msg}"
                );
                // The anchors added for full matching are not the user's.
                assert!(!msg.contains("^(?:"), "{msg}");
                let err = crate::Error::from(err);
                assert_eq!(err.kind(), ErrorKind::InvalidInput);
                assert!(err.to_string().contains(bad));
            }
        }
    }

    #[test]
    fn matching_follows_prometheus_per_operator() {
        let both = key("cpu", &[("host", "h1"), ("region", "us")]);
        let bare = key("cpu", &[("host", "h1")]);
        // (selector, selects `both`, selects `bare`)
        let cases: &[(&str, bool, bool)] = &[
            (r#"{region="us"}"#, true, false),
            (r#"{region="u"}"#, false, false),
            (r#"{region=""}"#, false, true),
            (r#"{region!="eu"}"#, true, true),
            (r#"{region!="us"}"#, false, true),
            (r#"{region!=""}"#, true, false),
            (r#"{region=~"us|eu"}"#, true, false),
            (r#"{region=~"u"}"#, false, false),
            (r#"{region=~"s"}"#, false, false),
            (r#"{region=~"u.*"}"#, true, false),
            (r#"{region=~""}"#, false, true),
            (r#"{region=~".*"}"#, true, true),
            (r#"{region=~".+"}"#, true, false),
            (r#"{region=~"us|"}"#, true, true),
            (r#"{region!~"eu"}"#, true, true),
            (r#"{region!~"u"}"#, true, true),
            (r#"{region!~"u.*"}"#, false, true),
            (r#"{region!~""}"#, true, false),
            (r#"{region!~".*"}"#, false, false),
            (r#"{region^="u"}"#, true, false),
            (r#"{region^="us"}"#, true, false),
            (r#"{region^="usa"}"#, false, false),
            (r#"{region^=""}"#, true, true),
            (r#"{__name__^="cp"}"#, true, true),
            (r#"{__name__^="cpux"}"#, false, false),
            (r#"{__name__=~"c.u"}"#, true, true),
            (r#"{__name__=~"cp"}"#, false, false),
            (r#"{__name__!="cpu"}"#, false, false),
            (r#"{__name__!~"mem.*"}"#, true, true),
            (r#"cpu{host="h1",region!~"eu"}"#, true, true),
            (r#"cpu{host="h1",region="us"}"#, true, false),
            (r#"mem{host="h1"}"#, false, false),
            ("{}", true, true),
        ];
        for &(text, want_both, want_bare) in cases {
            let s = SeriesSelector::parse(text).unwrap();
            assert_eq!(s.matches(&both), want_both, "{text} on {both}");
            assert_eq!(s.matches(&bare), want_bare, "{text} on {bare}");
        }
    }

    #[test]
    fn a_matcher_converts_to_an_equality_selector() {
        let m = SeriesMatcher::name("cpu").label("host", "h1");
        let s = SeriesSelector::from(&m);
        assert_eq!(
            s,
            SeriesSelector::name("cpu").label("host", Match::equal("h1"))
        );
        assert_eq!(s.to_string(), r#"cpu{host="h1"}"#);
        assert_eq!(
            SeriesSelector::from(SeriesMatcher::all()),
            SeriesSelector::all()
        );
        assert_eq!(SeriesSelector::all().to_string(), "{}");
    }
}
