//! Program text to tokens, one at a time as the parser asks for them.
//!
//! The lexer follows Python's rules where SignalFlow shares them: a newline ends a statement
//! except inside brackets or after a backslash; `#` starts a comment; strings may be single,
//! double or triple quoted, and raw with an `r` prefix. Statements have no blocks, so a line
//! that starts indented is refused here, where the indentation is seen. It stops at the first
//! malformed token.

use super::ast::Pos;
use super::parser::ParseError;

/// A token's kind and value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Name(String),
    Int(i64),
    Float(f64),
    /// A string literal with its escapes resolved.
    Str(String),
    And,
    Or,
    Not,
    If,
    Else,
    Lambda,
    True,
    False,
    None,
    Plus,
    Minus,
    Star,
    StarStar,
    Slash,
    SlashSlash,
    Percent,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    NotEq,
    Assign,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Dot,
    Semi,
    /// The end of a line outside brackets: the end of a statement.
    Newline,
    Eof,
}

impl Tok {
    /// How the token reads in an error message ("found ...").
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Name(name) => format!("`{name}`"),
            Tok::Int(v) => format!("the number {v}"),
            Tok::Float(v) => format!("the number {v:?}"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Newline => "end of line".to_owned(),
            Tok::Eof => "end of program".to_owned(),
            other => match other.keyword() {
                Some(word) => format!("`{word}`"),
                None => format!("'{}'", other.symbol()),
            },
        }
    }

    /// The keyword this token is, if it is one.
    pub(crate) fn keyword(&self) -> Option<&'static str> {
        Some(match self {
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::If => "if",
            Tok::Else => "else",
            Tok::Lambda => "lambda",
            Tok::True => "True",
            Tok::False => "False",
            Tok::None => "None",
            _ => return None,
        })
    }

    /// The text of an operator or punctuation token; empty for the others.
    pub(crate) fn symbol(&self) -> &'static str {
        match self {
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::StarStar => "**",
            Tok::Slash => "/",
            Tok::SlashSlash => "//",
            Tok::Percent => "%",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Assign => "=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Dot => ".",
            Tok::Semi => ";",
            _ => "",
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Its first character.
    pub pos: Pos,
    /// Just after its last character.
    pub end: Pos,
    /// A line ended (inside brackets, where that does not end the statement) between the
    /// previous token and this one. Errors about a missing `)` then point at that line's end.
    pub newline_before: bool,
}

/// Python keywords that SignalFlow programs cannot use, with the reason given when one appears.
const REFUSED_KEYWORDS: &[(&str, &str)] = &[
    (
        "def",
        "defining functions is not supported; use `lambda` for a small function",
    ),
    ("class", "defining classes is not supported"),
    (
        "return",
        "there are no function bodies to return from; a program is a sequence of assignments and expressions",
    ),
    (
        "import",
        "imports are not supported; every function is built in",
    ),
    (
        "from",
        "imports are not supported; every function is built in",
    ),
    ("for", "loops and comprehensions are not supported"),
    ("while", "loops are not supported"),
    ("in", "membership tests and loops are not supported"),
    (
        "elif",
        "`if` statements are not supported; use the conditional expression `a if condition else b`",
    ),
    ("assert", "assertions are not supported"),
    ("is", "identity tests are not supported; compare with `==`"),
    ("pass", "there are no blocks, so nothing to pass"),
    ("del", "names cannot be deleted"),
    ("with", "`with` blocks are not supported"),
    ("try", "exceptions are not supported"),
    ("except", "exceptions are not supported"),
    ("finally", "exceptions are not supported"),
    ("raise", "exceptions are not supported"),
    ("yield", "generators are not supported"),
    (
        "global",
        "there are no function scopes; every name is global",
    ),
    (
        "nonlocal",
        "there are no function scopes; every name is global",
    ),
    ("break", "loops are not supported"),
    ("continue", "loops are not supported"),
    ("async", "asynchronous code is not supported"),
    ("await", "asynchronous code is not supported"),
];

const ESCAPES_HELP: &str = "the escapes are \\\\ \\' \\\" \\n \\t \\r \\0 \\xHH \\uHHHH \\UHHHHHHHH; write r'...' for a raw string";

/// Reads tokens from program text on demand.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    /// Byte offset of the next character; always on a character boundary.
    at: usize,
    line: u32,
    column: u32,
    /// Open brackets; inside any, newlines and indentation do not matter.
    brackets: usize,
    /// The next character starts a line outside brackets: indentation is checked there.
    line_start: bool,
    /// Nothing but newlines has been returned since the last statement, so another newline
    /// token would say nothing.
    after_newline: bool,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut lexer = Lexer {
            src,
            bytes: src.as_bytes(),
            at: 0,
            line: 1,
            column: 1,
            brackets: 0,
            line_start: true,
            after_newline: true,
        };
        // A byte-order mark is an artefact of the editor, not part of the first line.
        if src.starts_with('\u{feff}') {
            lexer.at = '\u{feff}'.len_utf8();
        }
        lexer
    }

    fn here(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.at..].chars().next()
    }

    /// Moves past one character, keeping line and column.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// The next token; [`Tok::Eof`] again and again at the end.
    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        let mut newline_before = false;
        loop {
            if self.line_start {
                self.line_start = false;
                self.indentation()?;
            }
            let Some(b) = self.peek(0) else {
                let here = self.here();
                return Ok(Token {
                    tok: Tok::Eof,
                    pos: here,
                    end: here,
                    newline_before,
                });
            };
            match b {
                b' ' | b'\t' | b'\r' | b'\x0c' => {
                    self.bump();
                }
                b'#' => {
                    while self.peek(0).is_some_and(|b| b != b'\n') {
                        self.bump();
                    }
                }
                b'\n' => {
                    let pos = self.here();
                    self.bump();
                    if self.brackets > 0 {
                        newline_before = true;
                        continue;
                    }
                    self.line_start = true;
                    if !self.after_newline {
                        self.after_newline = true;
                        return Ok(Token {
                            tok: Tok::Newline,
                            pos,
                            end: self.here(),
                            newline_before: false,
                        });
                    }
                }
                b'\\' => self.continuation()?,
                _ => {
                    let pos = self.here();
                    let tok = self.token(b, pos)?;
                    self.after_newline = false;
                    return Ok(Token {
                        tok,
                        pos,
                        end: self.here(),
                        newline_before,
                    });
                }
            }
        }
    }

    /// At the start of a line outside brackets: blank and comment lines may be indented,
    /// statements may not.
    fn indentation(&mut self) -> Result<(), ParseError> {
        let mut indented = false;
        while let Some(b' ' | b'\t' | b'\r' | b'\x0c') = self.peek(0) {
            self.bump();
            indented = true;
        }
        match self.peek(0) {
            None | Some(b'\n' | b'#') => Ok(()),
            Some(_) if indented => Err(ParseError::new(
                self.here(),
                "unexpected indentation: a statement starts at the beginning of its line \
                 (SignalFlow programs here have no blocks); to continue the line before, end it \
                 with '\\' or open a bracket",
            )),
            Some(_) => Ok(()),
        }
    }

    /// A backslash outside a string joins its line with the next.
    fn continuation(&mut self) -> Result<(), ParseError> {
        let pos = self.here();
        self.bump();
        if self.peek(0) == Some(b'\r') && self.peek(1) == Some(b'\n') {
            self.bump();
        }
        match self.peek(0) {
            Some(b'\n') => {
                self.bump();
                Ok(())
            }
            None => Err(ParseError::new(
                pos,
                "a '\\' at the end of the program continues nothing",
            )),
            Some(_) => Err(ParseError::new(
                pos,
                "unexpected '\\': outside a string a backslash may only end a line, to continue \
                 the statement on the next",
            )),
        }
    }

    fn token(&mut self, b: u8, pos: Pos) -> Result<Tok, ParseError> {
        match b {
            b'0'..=b'9' => self.number(pos),
            b'.' if self.peek(1).is_some_and(|b| b.is_ascii_digit()) => self.number(pos),
            b'\'' | b'"' => self.string(pos, false),
            _ if is_name_start(b) => self.name(pos),
            _ => self.symbol(b, pos),
        }
    }

    fn name(&mut self, pos: Pos) -> Result<Tok, ParseError> {
        let start = self.at;
        while self.peek(0).is_some_and(is_name_byte) {
            self.bump();
        }
        let word = &self.src[start..self.at];
        if matches!(self.peek(0), Some(b'\'' | b'"')) && word.len() <= 2 {
            let lower = word.to_ascii_lowercase();
            if lower == "r" {
                return self.string(pos, true);
            }
            if matches!(lower.as_str(), "b" | "u" | "f" | "br" | "rb" | "fr" | "rf") {
                return Err(ParseError::new(
                    pos,
                    format!(
                        "the string prefix `{word}` is not supported; only r'...' (raw) strings have a prefix"
                    ),
                ));
            }
        }
        Ok(match word {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "if" => Tok::If,
            "else" => Tok::Else,
            "lambda" => Tok::Lambda,
            "True" => Tok::True,
            "False" => Tok::False,
            "None" => Tok::None,
            _ => {
                if let Some((_, why)) = REFUSED_KEYWORDS.iter().find(|(k, _)| *k == word) {
                    return Err(ParseError::new(
                        pos,
                        format!("`{word}` is not supported in SignalFlow programs here: {why}"),
                    ));
                }
                Tok::Name(word.to_owned())
            }
        })
    }

    fn digits(&mut self, hex: bool) -> usize {
        let mut n = 0;
        while self
            .peek(0)
            .is_some_and(|b| b.is_ascii_digit() || (hex && b.is_ascii_hexdigit()))
        {
            self.bump();
            n += 1;
        }
        n
    }

    fn number(&mut self, pos: Pos) -> Result<Tok, ParseError> {
        let start = self.at;
        if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
            self.bump_n(2);
            let digits_start = self.at;
            if self.digits(true) == 0 {
                return Err(self.malformed_number(start, pos, "expected hex digits after `0x`"));
            }
            self.no_glued_word(start, pos)?;
            let hex = &self.src[digits_start..self.at];
            if let Ok(v) = i64::from_str_radix(hex, 16) {
                return Ok(Tok::Int(v));
            }
            let v = hex.bytes().fold(0.0_f64, |acc, d| {
                acc * 16.0 + f64::from(char::from(d).to_digit(16).unwrap_or(0))
            });
            return self.float_value(v, start, pos);
        }

        let int_digits = self.digits(false);
        let mut is_float = false;
        if self.peek(0) == Some(b'.') {
            is_float = true;
            self.bump();
            self.digits(false);
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            is_float = true;
            self.bump();
            if matches!(self.peek(0), Some(b'+' | b'-')) {
                self.bump();
            }
            if self.digits(false) == 0 {
                self.no_glued_word(start, pos)?;
                return Err(self.malformed_number(
                    start,
                    pos,
                    "expected digits in the exponent after `e`",
                ));
            }
        }
        self.no_glued_word(start, pos)?;
        let text = &self.src[start..self.at];
        if !is_float {
            if int_digits > 1 && text.bytes().any(|b| b != b'0') && text.starts_with('0') {
                return Err(self.malformed_number(
                    start,
                    pos,
                    "an integer cannot start with 0 (octal literals are not supported)",
                ));
            }
            if let Ok(v) = text.parse::<i64>() {
                return Ok(Tok::Int(v));
            }
        }
        match text.parse::<f64>() {
            Ok(v) => self.float_value(v, start, pos),
            Err(_) => Err(self.malformed_number(start, pos, "not a number")),
        }
    }

    fn float_value(&self, v: f64, start: usize, pos: Pos) -> Result<Tok, ParseError> {
        if v.is_finite() {
            Ok(Tok::Float(v))
        } else {
            Err(ParseError::new(
                pos,
                format!(
                    "the number `{}` is too large for a 64-bit float",
                    quote_text(&self.src[start..self.at])
                ),
            ))
        }
    }

    /// A number must not run into letters, digits or another point (`1abc`, `1.2.3`).
    fn no_glued_word(&mut self, start: usize, pos: Pos) -> Result<(), ParseError> {
        if !self.peek(0).is_some_and(|b| is_name_byte(b) || b == b'.') {
            return Ok(());
        }
        while self.peek(0).is_some_and(|b| is_name_byte(b) || b == b'.') {
            self.bump();
        }
        let text = &self.src[start..self.at];
        let why = if ["0b", "0o", "0B", "0O"].iter().any(|p| text.starts_with(p)) {
            "binary and octal literals are not supported; write the number in decimal or as 0x hex"
        } else if text.contains('_') && text.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            "'_' digit separators are not supported"
        } else if text
            .split_once('.')
            .is_some_and(|(_, after)| after.bytes().next().is_some_and(is_name_start))
        {
            "to use an attribute of a number, put the number in parentheses, as in `(5).x`"
        } else {
            "a number cannot run into letters, digits or a second '.'"
        };
        Err(self.malformed_number(start, pos, why))
    }

    fn malformed_number(&self, start: usize, pos: Pos, why: &str) -> ParseError {
        ParseError::new(
            pos,
            format!(
                "malformed number `{}`: {why}",
                quote_text(&self.src[start..self.at])
            ),
        )
    }

    /// A string literal from its opening quote (after any `r` prefix).
    fn string(&mut self, pos: Pos, raw: bool) -> Result<Tok, ParseError> {
        let quote = self.peek(0).unwrap_or(b'\'');
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.bump_n(if triple { 3 } else { 1 });
        let q = char::from(quote);
        let mut value = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                let opening = if triple {
                    format!("{q}{q}{q}")
                } else {
                    q.to_string()
                };
                return Err(ParseError::new(
                    pos,
                    format!("unterminated string: the {opening} here is never closed"),
                ));
            };
            if c == q {
                if !triple {
                    self.bump();
                    return Ok(Tok::Str(value));
                }
                if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                    self.bump_n(3);
                    return Ok(Tok::Str(value));
                }
                self.bump();
                value.push(c);
                continue;
            }
            if c == '\n' && !triple {
                return Err(ParseError::new(
                    pos,
                    format!(
                        "unterminated string: no closing {q} before the end of the line \
                         (use triple quotes for a string of several lines)"
                    ),
                ));
            }
            if c != '\\' {
                self.bump();
                value.push(c);
                continue;
            }
            let escape_pos = self.here();
            self.bump();
            if raw {
                // In a raw string a backslash stays, and keeps the character after it from
                // closing the string.
                value.push('\\');
                if let Some(next) = self.bump() {
                    value.push(next);
                }
                continue;
            }
            let Some(e) = self.bump() else {
                continue; // reported as unterminated on the next turn
            };
            match e {
                '\\' => value.push('\\'),
                '\'' => value.push('\''),
                '"' => value.push('"'),
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '\n' => {} // a backslash at the end of a line joins it to the next
                '0' => {
                    if self.peek(0).is_some_and(|b| (b'0'..=b'7').contains(&b)) {
                        return Err(ParseError::new(
                            escape_pos,
                            "octal escapes are not supported; write `\\xHH` with two hex digits",
                        ));
                    }
                    value.push('\0');
                }
                'x' => value.push(self.hex_escape(escape_pos, 'x', 2)?),
                'u' => value.push(self.hex_escape(escape_pos, 'u', 4)?),
                'U' => value.push(self.hex_escape(escape_pos, 'U', 8)?),
                other => {
                    return Err(ParseError::new(
                        escape_pos,
                        format!(
                            "unknown escape `\\{}` in a string; {ESCAPES_HELP}",
                            other.escape_debug()
                        ),
                    ));
                }
            }
        }
    }

    /// Reads exactly `len` hex digits after `\x`, `\u` or `\U`.
    fn hex_escape(&mut self, pos: Pos, letter: char, len: usize) -> Result<char, ParseError> {
        let start = self.at;
        let ok = (0..len).all(|i| self.peek(i).is_some_and(|b| b.is_ascii_hexdigit()));
        if !ok {
            return Err(ParseError::new(
                pos,
                format!("the escape `\\{letter}` must be followed by exactly {len} hex digits"),
            ));
        }
        self.bump_n(len);
        let hex = &self.src[start..self.at];
        u32::from_str_radix(hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| {
                ParseError::new(
                    pos,
                    format!("the escape `\\{letter}{hex}` is not a Unicode character"),
                )
            })
    }

    fn symbol(&mut self, b: u8, pos: Pos) -> Result<Tok, ParseError> {
        let next = self.peek(1);
        let third = self.peek(2);
        let (tok, len) = match (b, next) {
            (b'*', Some(b'*')) if third == Some(b'=') => return Err(augmented(pos, "**=")),
            (b'/', Some(b'/')) if third == Some(b'=') => return Err(augmented(pos, "//=")),
            (b'+' | b'-' | b'*' | b'/' | b'%', Some(b'=')) => {
                let op = format!("{}=", char::from(b));
                return Err(augmented(pos, &op));
            }
            (b'*', Some(b'*')) => (Tok::StarStar, 2),
            (b'/', Some(b'/')) => (Tok::SlashSlash, 2),
            (b'+', _) => (Tok::Plus, 1),
            (b'-', _) => (Tok::Minus, 1),
            (b'*', _) => (Tok::Star, 1),
            (b'/', _) => (Tok::Slash, 1),
            (b'%', _) => (Tok::Percent, 1),
            (b'<', Some(b'=')) => (Tok::Le, 2),
            (b'>', Some(b'=')) => (Tok::Ge, 2),
            (b'=', Some(b'=')) => (Tok::EqEq, 2),
            (b'!', Some(b'=')) => (Tok::NotEq, 2),
            (b'<', Some(b'>')) => {
                return Err(ParseError::new(pos, "'<>' is not an operator; write '!='"));
            }
            (b'<', Some(b'<')) | (b'>', Some(b'>')) => {
                return Err(ParseError::new(pos, "bit shifts are not supported"));
            }
            (b'<', _) => (Tok::Lt, 1),
            (b'>', _) => (Tok::Gt, 1),
            (b'=', _) => (Tok::Assign, 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b'[', _) => (Tok::LBracket, 1),
            (b']', _) => (Tok::RBracket, 1),
            (b'{', _) => (Tok::LBrace, 1),
            (b'}', _) => (Tok::RBrace, 1),
            (b',', _) => (Tok::Comma, 1),
            (b':', Some(b'=')) => {
                return Err(ParseError::new(
                    pos,
                    "':=' is not supported; assign with `name = value` as a statement",
                ));
            }
            (b':', _) => (Tok::Colon, 1),
            (b'.', _) => (Tok::Dot, 1),
            (b';', _) => (Tok::Semi, 1),
            (b'!', _) => {
                return Err(ParseError::new(
                    pos,
                    "'!' is not an operator: write `not x` to negate, or '!=' to compare",
                ));
            }
            (b'&' | b'|' | b'^' | b'~', _) => {
                return Err(ParseError::new(
                    pos,
                    format!(
                        "the bitwise operator '{}' is not supported; for logic write `and`, `or`, `not`",
                        char::from(b)
                    ),
                ));
            }
            _ => {
                let c = self.peek_char().unwrap_or('\u{fffd}');
                return Err(ParseError::new(pos, format!("unexpected character {c:?}")));
            }
        };
        if matches!(tok, Tok::LParen | Tok::LBracket | Tok::LBrace) {
            self.brackets += 1;
        } else if matches!(tok, Tok::RParen | Tok::RBracket | Tok::RBrace) {
            self.brackets = self.brackets.saturating_sub(1);
        }
        self.bump_n(len);
        Ok(tok)
    }
}

fn augmented(pos: Pos, op: &str) -> ParseError {
    let plain = &op[..op.len() - 1];
    ParseError::new(
        pos,
        format!(
            "augmented assignment '{op}' is not supported; write `name = name {plain} value` (each name is bound once)"
        ),
    )
}

/// Program text quoted in a message, cut short if long.
fn quote_text(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().unwrap();
            if token.tok == Tok::Eof {
                return out;
            }
            out.push(token.tok);
        }
    }

    fn error(src: &str) -> ParseError {
        let mut lexer = Lexer::new(src);
        loop {
            match lexer.next_token() {
                Ok(token) if token.tok == Tok::Eof => panic!("{src:?} lexed without error"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn lexes_every_kind_of_token() {
        use Tok::*;
        assert_eq!(
            toks("A = data('cpu', by=[\"h\"]) ** 2 // 3 % -.5e1 <= 0x1F != None # c\nnot B"),
            vec![
                Name("A".into()),
                Assign,
                Name("data".into()),
                LParen,
                Str("cpu".into()),
                Comma,
                Name("by".into()),
                Assign,
                LBracket,
                Str("h".into()),
                RBracket,
                RParen,
                StarStar,
                Int(2),
                SlashSlash,
                Int(3),
                Percent,
                Minus,
                Float(5.0),
                Le,
                Int(31),
                NotEq,
                None,
                Newline,
                Not,
                Name("B".into()),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("1.5 .5 1e3 1.5E-3 1. 0 00"), {
            use Tok::*;
            vec![
                Float(1.5),
                Float(0.5),
                Float(1e3),
                Float(1.5e-3),
                Float(1.0),
                Int(0),
                Int(0),
            ]
        });
        assert_eq!(
            toks("9223372036854775807 9223372036854775808 0xFFFFFFFFFFFFFFFFFF"),
            vec![
                Tok::Int(i64::MAX),
                Tok::Float(9_223_372_036_854_775_808.0),
                Tok::Float(4_722_366_482_869_645_213_696.0),
            ]
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(
                r#"'a\'b' "c\"d" '\\\n\t\r\0\x41\u00e9\U0001F600' r'\d+\'' '''x'y''z''' """a
b""""#
            ),
            vec![
                Tok::Str("a'b".into()),
                Tok::Str("c\"d".into()),
                Tok::Str("\\\n\t\r\0Aé😀".into()),
                Tok::Str("\\d+\\'".into()),
                Tok::Str("x'y''z".into()),
                Tok::Str("a\nb".into()),
            ]
        );
        assert_eq!(toks("'a\\\nb'"), vec![Tok::Str("ab".into())]);
    }

    #[test]
    fn newlines_inside_brackets_and_after_backslashes_do_not_end_statements() {
        use Tok::*;
        assert_eq!(
            toks("f(1,\n  2)\n\n   # indented comment\nx = 1 + \\\n    2\n"),
            vec![
                Name("f".into()),
                LParen,
                Int(1),
                Comma,
                Int(2),
                RParen,
                Newline,
                Name("x".into()),
                Assign,
                Int(1),
                Plus,
                Int(2),
                Newline,
            ]
        );
    }

    #[test]
    fn positions_count_characters() {
        let mut lexer = Lexer::new("'é€' +\n\tx");
        let s = lexer.next_token().unwrap();
        assert_eq!(
            (s.pos, s.end),
            (Pos { line: 1, column: 1 }, Pos { line: 1, column: 5 })
        );
        let plus = lexer.next_token().unwrap();
        assert_eq!(plus.pos, Pos { line: 1, column: 6 });
        let err = lexer.next_token().unwrap();
        assert_eq!(err.tok, Tok::Newline);
        let e = lexer.next_token().unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, column: 2 });
        assert!(e.message.contains("unexpected indentation"));
    }

    #[test]
    fn malformed_tokens() {
        let cases: &[(&str, (u32, u32), &str)] = &[
            ("1e", (1, 1), "malformed number `1e`"),
            ("x = 1.2.3", (1, 5), "malformed number `1.2.3`"),
            ("1abc", (1, 1), "malformed number `1abc`"),
            ("1_000", (1, 1), "digit separators"),
            ("0b101", (1, 1), "binary and octal"),
            ("5.mean()", (1, 1), "put the number in parentheses"),
            ("0x", (1, 1), "expected hex digits"),
            ("012", (1, 1), "cannot start with 0"),
            ("1e999", (1, 1), "too large"),
            ("'abc", (1, 1), "unterminated string"),
            ("x = 1\ny = 'ab\ncd'", (2, 5), "unterminated string"),
            ("'''abc''", (1, 1), "never closed"),
            ("'\\q'", (1, 2), "unknown escape `\\q`"),
            ("'\\x4'", (1, 2), "exactly 2 hex digits"),
            ("'ab\\ud800'", (1, 4), "not a Unicode character"),
            ("'\\01'", (1, 2), "octal"),
            ("a $ b", (1, 3), "unexpected character '$'"),
            ("@f", (1, 1), "unexpected character '@'"),
            ("!x", (1, 1), "'!' is not an operator"),
            ("a & b", (1, 3), "bitwise"),
            ("x += 1", (1, 3), "augmented assignment '+='"),
            ("def f(): pass", (1, 1), "`def` is not supported"),
            ("a in b", (1, 3), "`in` is not supported"),
            ("f'x'", (1, 1), "string prefix `f`"),
            ("a \\ b", (1, 3), "unexpected '\\'"),
            ("a \\", (1, 3), "continues nothing"),
            ("é", (1, 1), "unexpected character 'é'"),
        ];
        for (src, (line, column), fragment) in cases {
            let e = error(src);
            assert_eq!((e.pos.line, e.pos.column), (*line, *column), "{src:?}: {e}");
            assert!(e.message.contains(fragment), "{src:?}: {e}");
        }
    }
}
