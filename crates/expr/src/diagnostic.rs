use std::fmt;

/// Byte range into the expression text that was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// One problem found while parsing or checking, with where it is.
///
/// `Display` prints the message only; [`Diagnostic::render`] adds the text and a caret line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Diagnostic {
    /// Where the problem is, in the text given to [`parse`](crate::parse).
    pub span: Span,
    /// What is wrong, in words a rule author can act on.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
        }
    }

    /// The message with the offending line of `src` and carets under the span, e.g.
    ///
    /// ```text
    /// unknown function `abss`; did you mean `abs`?
    ///   abss($1) > 3
    ///   ^^^^
    /// ```
    ///
    /// Columns count characters, so the carets line up under non-ASCII text too.
    pub fn render(&self, src: &str) -> String {
        let start = clamp_to_boundary(src, self.span.start);
        let end = clamp_to_boundary(src, self.span.end.max(start));
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = &src[line_start..line_end];
        let column = src[line_start..start].chars().count();
        let width = src[start..end.min(line_end)].chars().count().max(1);
        format!(
            "{}\n  {}\n  {}{}",
            self.message,
            line,
            " ".repeat(column),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

fn clamp_to_boundary(src: &str, mut at: usize) -> usize {
    at = at.min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_at_the_span() {
        let d = Diagnostic::new(Span::new(4, 6), "expected an expression after '&&'");
        assert_eq!(
            d.render("$1 && "),
            "expected an expression after '&&'\n  $1 && \n      ^^"
        );
        assert_eq!(d.to_string(), "expected an expression after '&&'");
    }

    #[test]
    fn render_survives_spans_outside_the_text() {
        let d = Diagnostic::new(Span::new(40, 99), "x");
        assert_eq!(d.render("é1"), "x\n  é1\n    ^");
    }
}
