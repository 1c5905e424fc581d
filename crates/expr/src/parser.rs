//! Tokens to syntax tree: a precedence-climbing parser that stops at the first syntax error and
//! says what it expected there.

use crate::ast::{BinaryOp, Expr, ExprKind, ReferenceKind, UnaryOp};
use crate::diagnostic::{Diagnostic, Span};
use crate::functions::FUNCTIONS;
use crate::lexer::{Tok, Token, lex};

/// The deepest tree [`parse`] builds (and the deepest nesting of parentheses it follows).
/// Deeper input is reported as an error rather than risking the stack.
pub const MAX_DEPTH: usize = 200;

/// Parses one expression. Never panics; on failure returns every malformed token, or else the
/// first syntax error, each with its span.
pub fn parse(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    let tokens = lex(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        nesting: 0,
    };
    let (expr, _) = parser.expr(0).map_err(|d| vec![d])?;
    let next = parser.peek();
    match &next.tok {
        Tok::Eof => Ok(expr),
        Tok::RParen => Err(vec![Diagnostic::new(
            next.span,
            "unmatched ')': there is no '(' before it to close",
        )]),
        Tok::Comma => Err(vec![Diagnostic::new(
            next.span,
            "unexpected ',' outside of a function call's arguments",
        )]),
        Tok::Ident(word) if logic_word_hint(word).is_some() => Err(vec![Diagnostic::new(
            next.span,
            logic_word_hint(word).unwrap_or_default(),
        )]),
        other => Err(vec![Diagnostic::new(
            next.span,
            format!(
                "unexpected {} after a complete expression; expected an operator such as '&&' or '>'",
                other.describe()
            ),
        )]),
    }
}

/// The operator to use instead of an English word for it.
fn logic_word_hint(word: &str) -> Option<&'static str> {
    match word {
        "and" => Some("use '&&' for \"and\""),
        "or" => Some("use '||' for \"or\""),
        "not" => Some("use '!' for \"not\""),
        _ => None,
    }
}

type Parsed = Result<(Expr, usize), Diagnostic>;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    nesting: usize,
}

/// Left and right binding power of an infix operator: higher binds tighter.
fn infix(tok: &Tok) -> Option<(BinaryOp, u8, u8)> {
    Some(match tok {
        Tok::OrOr => (BinaryOp::Or, 1, 2),
        Tok::AndAnd => (BinaryOp::And, 3, 4),
        Tok::EqEq => (BinaryOp::Eq, 5, 6),
        Tok::NotEq => (BinaryOp::Ne, 5, 6),
        Tok::Lt => (BinaryOp::Lt, 5, 6),
        Tok::Le => (BinaryOp::Le, 5, 6),
        Tok::Gt => (BinaryOp::Gt, 5, 6),
        Tok::Ge => (BinaryOp::Ge, 5, 6),
        Tok::Plus => (BinaryOp::Add, 7, 8),
        Tok::Minus => (BinaryOp::Sub, 7, 8),
        Tok::Star => (BinaryOp::Mul, 9, 10),
        Tok::Slash => (BinaryOp::Div, 9, 10),
        Tok::Percent => (BinaryOp::Rem, 9, 10),
        _ => return None,
    })
}

const PREFIX_POWER: u8 = 11;

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::new(
        span,
        format!("expression nests too deeply (more than {MAX_DEPTH} levels); split it up"),
    )
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with Eof, and `bump` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.pos += 1;
        }
        token
    }

    fn node(kind: ExprKind, span: Span, depth: usize) -> Parsed {
        if depth > MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok((Expr::new(kind, span), depth))
    }

    fn expr(&mut self, min_power: u8) -> Parsed {
        self.nesting += 1;
        let result = self.expr_inner(min_power);
        self.nesting -= 1;
        result
    }

    fn expr_inner(&mut self, min_power: u8) -> Parsed {
        if self.nesting > MAX_DEPTH {
            return Err(too_deep(self.peek().span));
        }
        let (mut lhs, mut depth) = self.prefix()?;
        loop {
            let next = self.peek().clone();
            let Some((op, left_power, right_power)) = infix(&next.tok) else {
                break;
            };
            if left_power < min_power {
                break;
            }
            self.bump();
            let (rhs, rhs_depth) = self.operand_after(next.tok.symbol(), next.span, right_power)?;
            if op.is_comparison() {
                let after = self.peek();
                if let Some((later, _, _)) = infix(&after.tok).filter(|(o, _, _)| o.is_comparison())
                {
                    return Err(Diagnostic::new(
                        after.span,
                        format!(
                            "comparisons cannot be chained; write `a {} b && b {} c` instead",
                            op.as_str(),
                            later.as_str()
                        ),
                    ));
                }
            }
            let span = lhs.span().to(rhs.span());
            (lhs, depth) = Self::node(
                ExprKind::Binary {
                    op,
                    op_span: next.span,
                    left: Box::new(lhs),
                    right: Box::new(rhs),
                },
                span,
                depth.max(rhs_depth) + 1,
            )?;
        }
        Ok((lhs, depth))
    }

    /// Parses the operand that must follow `symbol`, with a message naming it if there is none.
    fn operand_after(&mut self, symbol: &str, symbol_span: Span, power: u8) -> Parsed {
        let next = self.peek().clone();
        if !starts_expression(&next.tok) {
            let (span, found) = match next.tok {
                Tok::Eof => (symbol_span, String::new()),
                ref other => (next.span, format!(", found {}", other.describe())),
            };
            return Err(Diagnostic::new(
                span,
                format!("expected an expression after '{symbol}'{found}"),
            ));
        }
        self.expr(power)
    }

    fn prefix(&mut self) -> Parsed {
        let token = self.bump();
        let span = token.span;
        let (lhs, depth) = match token.tok {
            Tok::Int(v) => Self::node(ExprKind::Int(v), span, 1)?,
            Tok::Float(v) => Self::node(ExprKind::Float(v), span, 1)?,
            Tok::Str(s) => Self::node(ExprKind::String(s), span, 1)?,
            Tok::Duration(ns) => Self::node(ExprKind::Duration(ns), span, 1)?,
            Tok::Ref(name) => {
                let kind = ReferenceKind::of(&name);
                Self::node(ExprKind::Reference { name, kind }, span, 1)?
            }
            Tok::Ident(name) => self.identifier(name, span)?,
            Tok::LParen => {
                let (inner, depth) = self.operand_after("(", span, 0)?;
                let close = self.peek().clone();
                if close.tok != Tok::RParen {
                    return Err(unclosed_paren(span, &close));
                }
                self.bump();
                // Parentheses make no node, and the inner node keeps its own span, so a
                // reference's span is always exactly its name.
                (inner, depth)
            }
            Tok::Minus | Tok::Bang => {
                let op = if token.tok == Tok::Minus {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                let (operand, depth) = self.operand_after(op.as_str(), span, PREFIX_POWER)?;
                let full = span.to(operand.span());
                Self::node(
                    ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    full,
                    depth + 1,
                )?
            }
            Tok::Field(name) => {
                return Err(Diagnostic::new(
                    span,
                    format!("`.{name}` must follow a channel reference, as in `$1.{name}`"),
                ));
            }
            Tok::Eof if self.pos == 0 || self.tokens.len() == 1 => {
                return Err(Diagnostic::new(span, "empty expression"));
            }
            other => {
                return Err(Diagnostic::new(
                    span,
                    format!("expected an expression, found {}", other.describe()),
                ));
            }
        };
        self.postfix(lhs, depth)
    }

    fn postfix(&mut self, mut lhs: Expr, mut depth: usize) -> Parsed {
        while let Tok::Field(name) = &self.peek().tok {
            let name = name.clone();
            let field = self.bump();
            let name_span = Span::new(field.span.start + 1, field.span.end);
            let span = lhs.span().to(field.span);
            (lhs, depth) = Self::node(
                ExprKind::Element {
                    base: Box::new(lhs),
                    name,
                    name_span,
                },
                span,
                depth + 1,
            )?;
        }
        Ok((lhs, depth))
    }

    fn identifier(&mut self, name: String, span: Span) -> Parsed {
        match name.as_str() {
            "true" => return Self::node(ExprKind::Bool(true), span, 1),
            "false" => return Self::node(ExprKind::Bool(false), span, 1),
            _ => {}
        }
        if self.peek().tok == Tok::LParen {
            return self.call(name, span);
        }
        let hint = match name.as_str() {
            n if logic_word_hint(n).is_some() => logic_word_hint(n).unwrap_or_default().to_owned(),
            n if FUNCTIONS.iter().any(|f| f.name == n) => {
                format!("`{n}` is a function; call it as `{n}(...)`")
            }
            n => format!(
                "unknown name `{n}`: channel references and placeholders start with '$' (`$1`, `$mass`), and strings need quotes (\"{n}\")"
            ),
        };
        Err(Diagnostic::new(span, hint))
    }

    fn call(&mut self, name: String, name_span: Span) -> Parsed {
        let open = self.bump();
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek().tok == Tok::RParen {
            let close = self.bump();
            return Self::node(
                ExprKind::Call {
                    name,
                    name_span,
                    args,
                },
                name_span.to(close.span),
                1,
            );
        }
        let mut separator = ("(", open.span);
        loop {
            let (arg, arg_depth) = self.operand_after(separator.0, separator.1, 0)?;
            args.push(arg);
            depth = depth.max(arg_depth);
            let next = self.bump();
            match next.tok {
                Tok::Comma => separator = (",", next.span),
                Tok::RParen => {
                    return Self::node(
                        ExprKind::Call {
                            name,
                            name_span,
                            args,
                        },
                        name_span.to(next.span),
                        depth + 1,
                    );
                }
                Tok::Eof => {
                    return Err(Diagnostic::new(
                        open.span,
                        format!("unclosed '(' of the call to `{name}`"),
                    ));
                }
                other => {
                    return Err(Diagnostic::new(
                        next.span,
                        format!(
                            "expected ',' or ')' after argument {} of `{name}`, found {}",
                            args.len(),
                            other.describe()
                        ),
                    ));
                }
            }
        }
    }
}

fn starts_expression(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Duration(_)
            | Tok::Ref(_)
            | Tok::Ident(_)
            | Tok::LParen
            | Tok::Minus
            | Tok::Bang
    )
}

fn unclosed_paren(open: Span, found: &Token) -> Diagnostic {
    match found.tok {
        Tok::Eof => Diagnostic::new(open, "unclosed '(': expected ')' before the end"),
        ref other => Diagnostic::new(
            found.span,
            format!(
                "expected ')' to close the '(' at byte {}, found {}",
                open.start,
                other.describe()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(src: &str) -> String {
        parse(src).unwrap().to_string()
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(
            printed("$1 > 400 && $2 == 'x' || !$3"),
            "((($1 > 400) && ($2 == \"x\")) || (!$3))"
        );
        assert_eq!(printed("1 - 2 - 3 * 4 % 5"), "((1 - 2) - ((3 * 4) % 5))");
        assert_eq!(printed("-$1.heater"), "(-$1.heater)");
        assert_eq!(
            printed("0.5 * $mass * $1 * $1 > $threshold"),
            "((((0.5 * $mass) * $1) * $1) > $threshold)"
        );
        assert_eq!(printed("(1 / 12) * 3"), "((1 / 12) * 3)");
    }

    #[test]
    fn parentheses_make_no_node() {
        let e = parse("( $1 )").unwrap();
        assert_eq!(e.span(), Span::new(2, 4));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let errors = parse(&deep).unwrap_err();
        assert!(errors[0].message.contains("nests too deeply"), "{errors:?}");
        let long = vec!["1"; 10_000].join(" + ");
        assert!(
            parse(&long).unwrap_err()[0]
                .message
                .contains("nests too deeply")
        );
        let negations = format!("{}1", "-".repeat(10_000));
        assert!(parse(&negations).is_err());
    }
}
