//! Text to tokens. The lexer reports every malformed token it meets and keeps going, so one pass
//! shows all of them.

use crate::ast::DURATION_UNITS;
use crate::diagnostic::{Diagnostic, Span};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(u64),
    Float(f64),
    Str(String),
    Duration(i64),
    /// `$...`, the name including the `$`.
    Ref(String),
    /// `.name`, the name without the dot.
    Field(String),
    Ident(String),
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

impl Tok {
    /// How the token reads in a message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Int(v) => format!("the number {v}"),
            Tok::Float(v) => format!("the number {v:?}"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Duration(_) => "a duration".to_owned(),
            Tok::Ref(name) => format!("`{name}`"),
            Tok::Field(name) => format!("`.{name}`"),
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Eof => "the end of the expression".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    pub(crate) fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, Vec<Diagnostic>> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        errors: Vec::new(),
    };
    lexer.run();
    if lexer.errors.is_empty() {
        Ok(lexer.tokens)
    } else {
        Err(lexer.errors)
    }
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    errors: Vec<Diagnostic>,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.tokens.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::new(Span::new(start, end), message));
    }

    fn word_end(&self, from: usize) -> usize {
        let mut end = from;
        while end < self.bytes.len() && is_word_byte(self.bytes[end]) {
            end += 1;
        }
        end
    }

    fn run(&mut self) {
        while let Some(b) = self.peek(0) {
            let start = self.pos;
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'0'..=b'9' => self.number(),
                b'\'' | b'"' => self.string(b),
                b'$' => {
                    let end = self.word_end(start + 1);
                    if end == start + 1 {
                        self.pos += 1;
                        self.error(
                            start,
                            self.pos,
                            "expected a channel reference like `$1` or a placeholder like `$mass` after '$'",
                        );
                    } else {
                        self.pos = end;
                        self.push(Tok::Ref(self.src[start..end].to_owned()), start);
                    }
                }
                b'.' => {
                    let end = self.word_end(start + 1);
                    if end == start + 1 {
                        self.pos += 1;
                        self.error(
                            start,
                            self.pos,
                            "expected a bit-field element name after '.', as in `$1.heater`",
                        );
                    } else {
                        self.pos = end;
                        self.push(Tok::Field(self.src[start + 1..end].to_owned()), start);
                    }
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let end = self.word_end(start);
                    self.pos = end;
                    self.push(Tok::Ident(self.src[start..end].to_owned()), start);
                }
                _ => self.symbol(b),
            }
        }
        let end = self.bytes.len();
        self.tokens.push(Token {
            tok: Tok::Eof,
            span: Span::new(end, end),
        });
    }

    fn symbol(&mut self, b: u8) {
        let start = self.pos;
        let next = self.peek(1);
        let (tok, len) = match (b, next) {
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b',', _) => (Tok::Comma, 1),
            (b'+', _) => (Tok::Plus, 1),
            (b'-', _) => (Tok::Minus, 1),
            (b'*', _) => (Tok::Star, 1),
            (b'/', _) => (Tok::Slash, 1),
            (b'%', _) => (Tok::Percent, 1),
            (b'=', Some(b'=')) => (Tok::EqEq, 2),
            (b'!', Some(b'=')) => (Tok::NotEq, 2),
            (b'<', Some(b'=')) => (Tok::Le, 2),
            (b'>', Some(b'=')) => (Tok::Ge, 2),
            (b'<', _) => (Tok::Lt, 1),
            (b'>', _) => (Tok::Gt, 1),
            (b'&', Some(b'&')) => (Tok::AndAnd, 2),
            (b'|', Some(b'|')) => (Tok::OrOr, 2),
            (b'!', _) => (Tok::Bang, 1),
            (b'=', _) => {
                self.pos += 1;
                self.error(
                    start,
                    self.pos,
                    "use '==' to compare; '=' alone is not an operator",
                );
                return;
            }
            (b'&', _) => {
                self.pos += 1;
                self.error(
                    start,
                    self.pos,
                    "use '&&' for \"and\"; '&' alone is not an operator",
                );
                return;
            }
            (b'|', _) => {
                self.pos += 1;
                self.error(
                    start,
                    self.pos,
                    "use '||' for \"or\"; '|' alone is not an operator",
                );
                return;
            }
            _ => {
                let c = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                self.pos += c.len_utf8().max(1);
                self.error(start, self.pos, format!("unexpected character {c:?}"));
                return;
            }
        };
        self.pos += len;
        self.push(tok, start);
    }

    fn digits(&mut self) {
        while matches!(self.peek(0), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        self.digits();
        let mut is_float = false;
        if self.peek(0) == Some(b'.') && matches!(self.peek(1), Some(b'0'..=b'9')) {
            is_float = true;
            self.pos += 1;
            self.digits();
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if matches!(self.peek(1 + sign), Some(b'0'..=b'9')) {
                is_float = true;
                self.pos += 1 + sign;
                self.digits();
            }
        }
        let number_end = self.pos;
        let text = &self.src[start..number_end];

        // A word glued to the number is a duration unit (`500ms`) or a typo.
        let word_end = self.word_end(number_end);
        if word_end > number_end {
            self.pos = word_end;
            let unit = &self.src[number_end..word_end];
            let Some(&(_, unit_ns)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
                self.error(
                    number_end,
                    word_end,
                    format!("unknown duration unit `{unit}`; use ns, us, ms, s, m, h or d"),
                );
                return;
            };
            if is_float {
                self.error(
                    start,
                    word_end,
                    format!("a duration must be a whole number of units, e.g. `1500ms` for 1.5 s, not `{text}{unit}`"),
                );
                return;
            }
            match text
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(unit_ns))
            {
                Some(ns) => self.push(Tok::Duration(ns), start),
                None => self.error(start, word_end, "duration too long"),
            }
            return;
        }

        if is_float {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => self.push(Tok::Float(v), start),
                _ => self.error(start, number_end, format!("number `{text}` is too large")),
            }
        } else {
            match text.parse::<u64>() {
                Ok(v) => self.push(Tok::Int(v), start),
                Err(_) => self.error(
                    start,
                    number_end,
                    format!(
                        "integer `{text}` does not fit in 64 bits; write it as a decimal (e.g. `{text}.0`) to use a float"
                    ),
                ),
            }
        }
    }

    fn string(&mut self, quote: u8) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut had_error = false;
        loop {
            let Some(c) = self.src[self.pos..].chars().next() else {
                self.error(
                    start,
                    self.src.len(),
                    format!("unclosed string starting at byte {start}"),
                );
                return;
            };
            let at = self.pos;
            self.pos += c.len_utf8();
            if c as u32 == u32::from(quote) {
                break;
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let Some(escaped) = self.src[self.pos..].chars().next() else {
                continue; // reported as unclosed on the next turn
            };
            self.pos += escaped.len_utf8();
            match escaped {
                '\\' => value.push('\\'),
                '\'' => value.push('\''),
                '"' => value.push('"'),
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '0' => value.push('\0'),
                'u' => match self.unicode_escape() {
                    Some(c) => value.push(c),
                    None => {
                        had_error = true;
                        self.error(
                            at,
                            self.pos,
                            "malformed unicode escape; write it as `\\u{...}` with 1 to 6 hex digits of a valid code point",
                        );
                    }
                },
                other => {
                    had_error = true;
                    self.error(
                        at,
                        self.pos,
                        format!(
                            "unknown escape `\\{other}` in string; known escapes are \\\\ \\' \\\" \\n \\t \\r \\0 \\u{{...}}"
                        ),
                    );
                }
            }
        }
        if !had_error {
            self.push(Tok::Str(value), start);
        }
    }

    /// Reads `{hex}` after `\u`; leaves the position after the `}` when there is one.
    fn unicode_escape(&mut self) -> Option<char> {
        if self.peek(0) != Some(b'{') {
            return None;
        }
        let digits_start = self.pos + 1;
        let mut end = digits_start;
        while end < self.bytes.len() && self.bytes[end].is_ascii_hexdigit() {
            end += 1;
        }
        if self.bytes.get(end) != Some(&b'}') {
            return None;
        }
        self.pos = end + 1;
        let hex = &self.src[digits_start..end];
        if hex.is_empty() || hex.len() > 6 {
            return None;
        }
        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_every_kind_of_token() {
        assert_eq!(
            toks("$1.heater >= 1e3 && 'a\\'b' != \"\\u{e9}\" || held_for($x, 500ms)"),
            vec![
                Tok::Ref("$1".into()),
                Tok::Field("heater".into()),
                Tok::Ge,
                Tok::Float(1000.0),
                Tok::AndAnd,
                Tok::Str("a'b".into()),
                Tok::NotEq,
                Tok::Str("é".into()),
                Tok::OrOr,
                Tok::Ident("held_for".into()),
                Tok::LParen,
                Tok::Ref("$x".into()),
                Tok::Comma,
                Tok::Duration(500_000_000),
                Tok::RParen,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn element_names_may_start_with_digits() {
        assert_eq!(
            toks("$3.12v"),
            vec![Tok::Ref("$3".into()), Tok::Field("12v".into()), Tok::Eof]
        );
    }

    #[test]
    fn reports_all_bad_tokens() {
        let errors = lex("1 = 2 & 3 'open").unwrap_err();
        let spans: Vec<_> = errors.iter().map(|d| (d.span.start, d.span.end)).collect();
        assert_eq!(spans, vec![(2, 3), (6, 7), (10, 15)]);
    }
}
