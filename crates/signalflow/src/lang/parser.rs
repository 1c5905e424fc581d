//! Tokens to syntax tree: a recursive-descent parser with Python's precedence that stops at the
//! first error and says where, what it expected and what it found.
//!
//! Untrusted text cannot exhaust the stack: every recursion of the parser (a bracket, a unary
//! operator, a `**`, a lambda body, the `else` of a conditional) counts towards [`MAX_DEPTH`],
//! and so does the height of the tree built, which bounds the recursion of whoever walks it.

use super::ast::{
    BinaryOp, CompareOp, Expr, ExprKind, Ident, LogicalOp, Pos, Program, Stmt, StmtKind, UnaryOp,
};
use super::lexer::{Lexer, Tok, Token};

/// The deepest nesting [`parse`] follows, and the greatest height of an expression's tree:
/// brackets, unary operators, `**`, lambdas and conditionals each count a level while parsing,
/// and every operator, call, attribute and index adds one to the height of the tree. Deeper
/// input is an error rather than a risk to the stack.
pub const MAX_DEPTH: usize = 64;

/// The longest program text [`parse`] accepts, in bytes.
pub const MAX_PROGRAM_BYTES: usize = 1 << 20;

/// Why a program does not parse, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct ParseError {
    /// The place of the offending token (for a missing closing bracket, the end of the line
    /// where it is missing).
    pub pos: Pos,
    /// What was expected and what was found.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Self {
        ParseError {
            pos,
            message: message.into(),
        }
    }
}

type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Parses a whole program. Never panics; on failure returns the first error in the text.
pub fn parse(src: &str) -> Result<Program, ParseError> {
    if src.len() > MAX_PROGRAM_BYTES {
        return Err(ParseError::new(
            Pos { line: 1, column: 1 },
            format!(
                "the program is {} bytes long; at most {MAX_PROGRAM_BYTES} bytes are accepted",
                src.len()
            ),
        ));
    }
    let mut lexer = Lexer::new(src);
    let current = lexer.next_token()?;
    let mut parser = Parser {
        lexer,
        current,
        prev_end: Pos { line: 1, column: 1 },
        nesting: 0,
    };
    parser.program()
}

/// An expression being built, with what the parser needs to know about it.
#[derive(Debug)]
struct Node {
    expr: Expr,
    /// The height of its tree: 1 for a literal or a name.
    height: usize,
    /// Its first character, which for a parenthesised expression is the `(`.
    start: Pos,
}

fn node(kind: ExprKind, start: Pos, height: usize, at: Pos) -> Result<Node> {
    if height > MAX_DEPTH {
        return Err(too_deep(at));
    }
    Ok(Node {
        expr: Expr { kind, pos: start },
        height,
        start,
    })
}

/// `lhs op rhs`, starting where `lhs` does.
#[inline(never)]
fn infix_node(lhs: Node, rhs: Node, op: Infix, at: Pos) -> Result<Node> {
    let height = 1 + lhs.height.max(rhs.height);
    let start = lhs.start;
    let (lhs, rhs) = (Box::new(lhs.expr), Box::new(rhs.expr));
    let kind = match op {
        Infix::Binary(op) => ExprKind::Binary { op, lhs, rhs },
        Infix::Compare(op) => ExprKind::Compare { op, lhs, rhs },
        Infix::Logical(op) => ExprKind::Logical { op, lhs, rhs },
    };
    node(kind, start, height, at)
}

#[cold]
#[inline(never)]
fn too_deep(at: Pos) -> ParseError {
    ParseError::new(
        at,
        format!(
            "the program nests too deeply here (more than {MAX_DEPTH} levels of brackets, \
             operators, calls or attributes); name parts of it with assignments such as `A = ...`"
        ),
    )
}

/// Whether an expression may start with this token.
fn starts_expression(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Name(_)
            | Tok::True
            | Tok::False
            | Tok::None
            | Tok::LParen
            | Tok::LBracket
            | Tok::LBrace
            | Tok::Minus
            | Tok::Plus
            | Tok::Not
            | Tok::Lambda
    )
}

/// Binding strength of operators, loosest first, as in Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    /// Prefix `not`.
    Not,
    Compare,
    Sum,
    Product,
    /// Prefix `-` and `+`.
    Unary,
    Power,
}

impl Prec {
    /// The level of a left-associative operator's right operand.
    fn tighter(self) -> Prec {
        match self {
            Prec::Or => Prec::And,
            Prec::And => Prec::Not,
            Prec::Not => Prec::Compare,
            // Comparisons do not chain: the right side is a sum, and a second comparison
            // after it is refused.
            Prec::Compare => Prec::Sum,
            Prec::Sum => Prec::Product,
            Prec::Product => Prec::Unary,
            Prec::Unary | Prec::Power => Prec::Power,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Infix {
    Binary(BinaryOp),
    Compare(CompareOp),
    Logical(LogicalOp),
}

fn infix(tok: &Tok) -> Option<(Prec, Infix)> {
    use Infix::{Binary, Compare, Logical};
    Some(match tok {
        Tok::Or => (Prec::Or, Logical(LogicalOp::Or)),
        Tok::And => (Prec::And, Logical(LogicalOp::And)),
        Tok::Lt => (Prec::Compare, Compare(CompareOp::Lt)),
        Tok::Le => (Prec::Compare, Compare(CompareOp::Le)),
        Tok::Gt => (Prec::Compare, Compare(CompareOp::Gt)),
        Tok::Ge => (Prec::Compare, Compare(CompareOp::Ge)),
        Tok::EqEq => (Prec::Compare, Compare(CompareOp::Eq)),
        Tok::NotEq => (Prec::Compare, Compare(CompareOp::Ne)),
        Tok::Plus => (Prec::Sum, Binary(BinaryOp::Add)),
        Tok::Minus => (Prec::Sum, Binary(BinaryOp::Sub)),
        Tok::Star => (Prec::Product, Binary(BinaryOp::Mul)),
        Tok::Slash => (Prec::Product, Binary(BinaryOp::Div)),
        Tok::SlashSlash => (Prec::Product, Binary(BinaryOp::FloorDiv)),
        Tok::Percent => (Prec::Product, Binary(BinaryOp::Mod)),
        Tok::StarStar => (Prec::Power, Binary(BinaryOp::Pow)),
        _ => return None,
    })
}

#[cold]
#[inline(never)]
fn chained_comparison(at: Pos, first: CompareOp, second: CompareOp) -> ParseError {
    ParseError::new(
        at,
        format!(
            "comparisons cannot be chained: write `a {first} b and b {second} c` rather than \
             `a {first} b {second} c`"
        ),
    )
}

/// What the left side of a refused assignment is, for the message.
fn assignment_target(expr: &Expr) -> &'static str {
    match expr.kind {
        ExprKind::Attribute { .. } => "an attribute",
        ExprKind::Call { .. } => "a call",
        ExprKind::Index { .. } => "an index",
        ExprKind::Tuple(_) => "a tuple (unpacking is not supported)",
        ExprKind::List(_) => "a list (unpacking is not supported)",
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::None => "a literal",
        _ => "an expression",
    }
}

#[derive(Debug)]
struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Token,
    /// Just after the last token consumed.
    prev_end: Pos,
    /// Recursions entered, against [`MAX_DEPTH`].
    nesting: usize,
}

impl Parser<'_> {
    fn bump(&mut self) -> Result<Token> {
        let next = self.lexer.next_token()?;
        let token = std::mem::replace(&mut self.current, next);
        self.prev_end = token.end;
        Ok(token)
    }

    /// Where the current token is and how it reads. The end of a line or of the program is
    /// placed just after the last token, where something is missing.
    fn found(&self) -> (Pos, String) {
        match self.current.tok {
            Tok::Eof | Tok::Newline => (self.prev_end, self.current.tok.describe()),
            ref other => (self.current.pos, other.describe()),
        }
    }

    #[cold]
    #[inline(never)]
    fn error_here(&self, expected: &str) -> ParseError {
        let (pos, found) = self.found();
        ParseError::new(pos, format!("expected {expected}, found {found}"))
    }

    /// Fails unless an expression starts at the current token, which must follow `after`.
    fn expect_operand(&self, after: &str) -> Result<()> {
        if starts_expression(&self.current.tok) {
            Ok(())
        } else {
            Err(self.error_here(&format!("an expression after {after}")))
        }
    }

    /// Fails unless an expression starts at the current token, which must follow the operator
    /// `op`.
    fn expect_operand_of(&self, op: &Tok) -> Result<()> {
        if starts_expression(&self.current.tok) {
            Ok(())
        } else {
            Err(self.error_here(&format!("an expression after {}", op.describe())))
        }
    }

    fn program(&mut self) -> Result<Program> {
        let mut statements = Vec::new();
        loop {
            while self.current.tok == Tok::Newline {
                self.bump()?;
            }
            if self.current.tok == Tok::Eof {
                return Ok(Program { statements });
            }
            statements.push(self.statement()?);
            match self.current.tok {
                Tok::Semi | Tok::Newline => {
                    self.bump()?;
                }
                Tok::Eof => {}
                _ => return Err(self.after_statement()),
            }
        }
    }

    fn statement(&mut self) -> Result<Stmt> {
        let pos = self.current.pos;
        match &self.current.tok {
            Tok::Semi => return Err(ParseError::new(pos, "expected a statement before ';'")),
            Tok::Dot => {
                return Err(ParseError::new(
                    pos,
                    "a statement cannot start with '.': to go on with the line before, end that \
                     line with '\\' or put the whole expression in parentheses",
                ));
            }
            Tok::If => {
                return Err(ParseError::new(
                    pos,
                    "`if` statements are not supported; use the conditional expression \
                     `a if condition else b`",
                ));
            }
            tok @ (Tok::RParen | Tok::RBracket | Tok::RBrace) => {
                return Err(unmatched(tok, pos));
            }
            tok if !starts_expression(tok) => return Err(self.error_here("a statement")),
            _ => {}
        }
        let lhs = self.expr()?;
        if self.current.tok != Tok::Assign {
            return Ok(Stmt {
                kind: StmtKind::Expr(lhs.expr),
                pos,
            });
        }
        let ExprKind::Name(name) = lhs.expr.kind else {
            return Err(ParseError::new(
                lhs.start,
                format!(
                    "cannot assign to {}: the left side of '=' must be a plain name, as in `A = ...`",
                    assignment_target(&lhs.expr)
                ),
            ));
        };
        self.bump()?;
        self.expect_operand("'='")?;
        let value = self.expr()?;
        if self.current.tok == Tok::Assign {
            return Err(ParseError::new(
                self.current.pos,
                "chained assignment `A = B = ...` is not supported; assign each name in a statement of its own",
            ));
        }
        Ok(Stmt {
            kind: StmtKind::Assign {
                target: Ident {
                    name,
                    pos: lhs.expr.pos,
                },
                value: value.expr,
            },
            pos,
        })
    }

    /// The error for a token after a complete statement.
    fn after_statement(&self) -> ParseError {
        let pos = self.current.pos;
        match &self.current.tok {
            tok @ (Tok::RParen | Tok::RBracket | Tok::RBrace) => unmatched(tok, pos),
            Tok::Comma => ParseError::new(
                pos,
                "unexpected ',' after a complete statement; write a tuple in parentheses, as in `(a, b)`",
            ),
            _ => self.error_here("an operator, ';' or the end of the line"),
        }
    }

    /// Counts one level of recursion; the caller calls [`Parser::leave`] when it returns.
    fn enter(&mut self) -> Result<()> {
        if self.nesting >= MAX_DEPTH {
            return Err(too_deep(self.current.pos));
        }
        self.nesting += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// A whole expression: a lambda, a conditional or anything below.
    ///
    /// The functions on the path of a recursion (this one, [`Parser::operators`],
    /// [`Parser::postfix`], [`Parser::primary`] and the brackets') keep their frames small:
    /// the rarer constructs and the error messages live in functions of their own, so that the
    /// deepest program allowed needs little stack even in a debug build.
    fn expr(&mut self) -> Result<Node> {
        self.enter()?;
        let result = if self.current.tok == Tok::Lambda {
            self.lambda()
        } else {
            match self.operators(Prec::Or) {
                Ok(then) if self.current.tok == Tok::If => self.conditional(then),
                other => other,
            }
        };
        self.leave();
        result
    }

    /// `then if test else otherwise`, from the `if`.
    #[inline(never)]
    fn conditional(&mut self, then: Node) -> Result<Node> {
        let if_token = self.bump()?;
        self.expect_operand("`if`")?;
        let test = self.operators(Prec::Or)?;
        if self.current.tok != Tok::Else {
            return Err(self.error_here(&format!(
                "`else` to complete the conditional expression whose `if` is at {}",
                if_token.pos
            )));
        }
        self.bump()?;
        self.expect_operand("`else`")?;
        let otherwise = self.expr()?;
        let height = 1 + then.height.max(test.height).max(otherwise.height);
        node(
            ExprKind::IfElse {
                then: Box::new(then.expr),
                test: Box::new(test.expr),
                otherwise: Box::new(otherwise.expr),
            },
            then.start,
            height,
            if_token.pos,
        )
    }

    #[inline(never)]
    fn lambda(&mut self) -> Result<Node> {
        let lambda = self.bump()?;
        let mut params: Vec<Ident> = Vec::new();
        while self.current.tok != Tok::Colon {
            let Tok::Name(name) = &self.current.tok else {
                return Err(self.error_here(&format!(
                    "a parameter name or ':' in the lambda at {}",
                    lambda.pos
                )));
            };
            let param = Ident {
                name: name.clone(),
                pos: self.current.pos,
            };
            if let Some(first) = params.iter().find(|p| p.name == param.name) {
                return Err(ParseError::new(
                    param.pos,
                    format!(
                        "the parameter `{}` is repeated in the lambda (first at {})",
                        param.name, first.pos
                    ),
                ));
            }
            self.bump()?;
            match self.current.tok {
                Tok::Comma => {
                    self.bump()?;
                }
                Tok::Colon => {}
                Tok::Assign => {
                    return Err(ParseError::new(
                        self.current.pos,
                        format!(
                            "default values are not supported for the parameter `{}` of a lambda",
                            param.name
                        ),
                    ));
                }
                _ => {
                    return Err(self.error_here(&format!(
                        "',' or ':' after the parameter `{}` of the lambda at {}",
                        param.name, lambda.pos
                    )));
                }
            }
            params.push(param);
        }
        self.bump()?;
        self.expect_operand("the ':' of the lambda")?;
        let body = self.expr()?;
        node(
            ExprKind::Lambda {
                params,
                body: Box::new(body.expr),
            },
            lambda.pos,
            body.height + 1,
            lambda.pos,
        )
    }

    /// Operators binding at least as tightly as `min`, by precedence climbing: `or`, `and`,
    /// `not`, comparisons, `+ -`, `* / // %`, unary `- +`, `**`. A prefix operator's operand
    /// and the right side of `**` recurse through [`Parser::enter`]; the right side of a
    /// left-associative operator is parsed at the next tighter level, so that recursion ends
    /// within a few levels.
    fn operators(&mut self, min: Prec) -> Result<Node> {
        let mut lhs = match self.current.tok {
            Tok::Not if min <= Prec::Not => self.prefix(UnaryOp::Not, Prec::Not)?,
            Tok::Minus => self.prefix(UnaryOp::Neg, Prec::Unary)?,
            Tok::Plus => self.prefix(UnaryOp::Pos, Prec::Unary)?,
            _ => self.postfix()?,
        };
        while let Some((prec, op)) = infix(&self.current.tok) {
            if prec < min {
                break;
            }
            let op_token = self.bump()?;
            self.expect_operand_of(&op_token.tok)?;
            let rhs = match op {
                Infix::Binary(BinaryOp::Pow) => {
                    self.enter()?;
                    let rhs = self.operators(Prec::Unary);
                    self.leave();
                    rhs?
                }
                _ => self.operators(prec.tighter())?,
            };
            if let (Infix::Compare(first), Some((_, Infix::Compare(second)))) =
                (op, infix(&self.current.tok))
            {
                return Err(chained_comparison(self.current.pos, first, second));
            }
            lhs = infix_node(lhs, rhs, op, op_token.pos)?;
        }
        Ok(lhs)
    }

    /// A prefix operator and its operand, which binds at least as tightly as `prec`.
    fn prefix(&mut self, op: UnaryOp, prec: Prec) -> Result<Node> {
        let op_token = self.bump()?;
        self.expect_operand_of(&op_token.tok)?;
        self.enter()?;
        let operand = self.operators(prec);
        self.leave();
        let operand = operand?;
        node(
            ExprKind::Unary {
                op,
                operand: Box::new(operand.expr),
            },
            op_token.pos,
            operand.height + 1,
            op_token.pos,
        )
    }

    /// A primary followed by any number of `.name`, `(arguments)` and `[index]`.
    fn postfix(&mut self) -> Result<Node> {
        let mut value = self.primary()?;
        loop {
            value = match self.current.tok {
                Tok::Dot => self.attribute(value)?,
                Tok::LParen => self.call(value)?,
                Tok::LBracket => self.index(value)?,
                _ => return Ok(value),
            };
        }
    }

    #[inline(never)]
    fn attribute(&mut self, value: Node) -> Result<Node> {
        let dot = self.bump()?;
        let Tok::Name(name) = &self.current.tok else {
            return Err(self.error_here("an attribute name after '.'"));
        };
        let name = Ident {
            name: name.clone(),
            pos: self.current.pos,
        };
        self.bump()?;
        node(
            ExprKind::Attribute {
                value: Box::new(value.expr),
                name,
            },
            value.start,
            value.height + 1,
            dot.pos,
        )
    }

    #[inline(never)]
    fn call(&mut self, func: Node) -> Result<Node> {
        let open = self.bump()?;
        let mut args: Vec<Expr> = Vec::new();
        let mut kwargs: Vec<(Ident, Expr)> = Vec::new();
        let mut height = func.height;
        self.delimited(&open, &Tok::RParen, "call", "argument", 0, |p| {
            let arg = p.expr()?;
            if p.current.tok != Tok::Assign {
                if let Some((keyword, _)) = kwargs.last() {
                    return Err(ParseError::new(
                        arg.start,
                        format!(
                            "a positional argument cannot follow the keyword argument `{}=` at {}; \
                             put positional arguments first",
                            keyword.name, keyword.pos
                        ),
                    ));
                }
                height = height.max(arg.height);
                args.push(arg.expr);
                return Ok(());
            }
            // `name=value`: the name was read as an expression; it must be a bare name.
            let name = match arg.expr.kind {
                ExprKind::Name(name) if arg.start == arg.expr.pos => name,
                _ => {
                    return Err(ParseError::new(
                        arg.start,
                        "a keyword argument needs a plain name before '=' (to compare, write '==')",
                    ));
                }
            };
            let keyword = Ident {
                name,
                pos: arg.start,
            };
            if let Some((first, _)) = kwargs.iter().find(|(k, _)| k.name == keyword.name) {
                return Err(ParseError::new(
                    keyword.pos,
                    format!(
                        "the keyword argument `{}` is repeated in the call opened at {} (first at {})",
                        keyword.name, open.pos, first.pos
                    ),
                ));
            }
            p.bump()?;
            p.expect_operand(&format!("`{}=`", keyword.name))?;
            let value = p.expr()?;
            height = height.max(value.height);
            kwargs.push((keyword, value.expr));
            Ok(())
        })?;
        node(
            ExprKind::Call {
                func: Box::new(func.expr),
                args,
                kwargs,
            },
            func.start,
            height + 1,
            open.pos,
        )
    }

    #[inline(never)]
    fn index(&mut self, value: Node) -> Result<Node> {
        let open = self.bump()?;
        if !starts_expression(&self.current.tok) {
            return Err(self.error_here(&format!("an index after the '[' at {}", open.pos)));
        }
        let index = self.expr()?;
        match self.current.tok {
            Tok::RBracket => {
                self.bump()?;
            }
            Tok::Colon => {
                return Err(ParseError::new(
                    self.current.pos,
                    "slices are not supported: an index is a single expression",
                ));
            }
            _ => return Err(self.unclosed(&open, &Tok::RBracket, "index", None)),
        }
        let height = 1 + value.height.max(index.height);
        node(
            ExprKind::Index {
                value: Box::new(value.expr),
                index: Box::new(index.expr),
            },
            value.start,
            height,
            open.pos,
        )
    }

    fn primary(&mut self) -> Result<Node> {
        let pos = self.current.pos;
        let kind = match &self.current.tok {
            Tok::Int(v) => ExprKind::Int(*v),
            Tok::Float(v) => ExprKind::Float(*v),
            Tok::Str(_) => return self.strings(),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::None => ExprKind::None,
            Tok::Name(name) => ExprKind::Name(name.clone()),
            Tok::LParen => return self.parenthesized(),
            Tok::LBracket => return self.list(),
            Tok::LBrace => return self.dict(),
            Tok::Not => {
                return Err(ParseError::new(
                    pos,
                    "`not ...` must be in parentheses here, as in `a == (not b)`",
                ));
            }
            Tok::Lambda => {
                return Err(ParseError::new(
                    pos,
                    "a lambda must be in parentheses here, as in `(lambda x: x > 1)`",
                ));
            }
            _ => return Err(self.error_here("an expression")),
        };
        self.bump()?;
        node(kind, pos, 1, pos)
    }

    /// One string literal, or several written side by side, joined.
    #[inline(never)]
    fn strings(&mut self) -> Result<Node> {
        let pos = self.current.pos;
        let mut value = String::new();
        while let Tok::Str(part) = &self.current.tok {
            value.push_str(part);
            self.bump()?;
        }
        node(ExprKind::Str(value), pos, 1, pos)
    }

    /// `()`, `(a)` (which is `a`), `(a,)`, `(a, b)`.
    #[inline(never)]
    fn parenthesized(&mut self) -> Result<Node> {
        let open = self.bump()?;
        if self.current.tok == Tok::RParen {
            self.bump()?;
            return node(ExprKind::Tuple(Vec::new()), open.pos, 1, open.pos);
        }
        if !starts_expression(&self.current.tok) {
            return Err(self.error_here(&format!(
                "an expression or ')' after the '(' at {}",
                open.pos
            )));
        }
        let first = self.expr()?;
        match self.current.tok {
            Tok::RParen => {
                self.bump()?;
                Ok(Node {
                    start: open.pos,
                    ..first
                })
            }
            Tok::Comma => self.tuple(&open, first),
            _ => Err(self.unclosed(&open, &Tok::RParen, "parenthesis", None)),
        }
    }

    /// The rest of a tuple from the comma after its first element.
    #[inline(never)]
    fn tuple(&mut self, open: &Token, first: Node) -> Result<Node> {
        self.bump()?;
        let mut height = first.height;
        let mut items = vec![first.expr];
        self.delimited(open, &Tok::RParen, "tuple", "element", 1, |p| {
            let item = p.expr()?;
            height = height.max(item.height);
            items.push(item.expr);
            Ok(())
        })?;
        node(ExprKind::Tuple(items), open.pos, height + 1, open.pos)
    }

    #[inline(never)]
    fn list(&mut self) -> Result<Node> {
        let open = self.bump()?;
        let mut height = 0;
        let mut items = Vec::new();
        self.delimited(&open, &Tok::RBracket, "list", "element", 0, |p| {
            let item = p.expr()?;
            height = height.max(item.height);
            items.push(item.expr);
            Ok(())
        })?;
        node(ExprKind::List(items), open.pos, height + 1, open.pos)
    }

    #[inline(never)]
    fn dict(&mut self) -> Result<Node> {
        let open = self.bump()?;
        let mut height = 0;
        let mut entries = Vec::new();
        self.delimited(&open, &Tok::RBrace, "dict", "entry", 0, |p| {
            let key = p.expr()?;
            if p.current.tok != Tok::Colon {
                let hint = if matches!(p.current.tok, Tok::Comma | Tok::RBrace) {
                    " (sets are not supported)"
                } else {
                    ""
                };
                let (pos, found) = p.found();
                return Err(ParseError::new(
                    pos,
                    format!(
                        "expected ':' after the key of entry {} of the dict opened at {}, found {found}{hint}",
                        entries.len() + 1,
                        open.pos
                    ),
                ));
            }
            p.bump()?;
            p.expect_operand("the ':' of a dict entry")?;
            let value = p.expr()?;
            height = height.max(key.height).max(value.height);
            entries.push((key.expr, value.expr));
            Ok(())
        })?;
        node(ExprKind::Dict(entries), open.pos, height + 1, open.pos)
    }

    /// After the opening bracket: `item {"," item} [","]` up to and including `closer`, or
    /// just the closer. `before` is how many items were read already (a tuple's first).
    fn delimited(
        &mut self,
        open: &Token,
        closer: &Tok,
        what: &str,
        item_name: &str,
        before: usize,
        mut item: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<Token> {
        let mut count = before;
        loop {
            if self.current.tok == *closer {
                return self.bump();
            }
            if !starts_expression(&self.current.tok) {
                return Err(self.error_here(&format!(
                    "an {item_name} or '{}' in the {what} opened at {}",
                    closer.symbol(),
                    open.pos
                )));
            }
            item(self)?;
            count += 1;
            if self.current.tok == Tok::Comma {
                self.bump()?;
            } else if self.current.tok != *closer {
                return Err(self.unclosed(open, closer, what, Some((item_name, count))));
            }
        }
    }

    /// The error for a bracket not closed where it should be. When the program or the line
    /// ends there (inside brackets a line break does not end the statement, so the next line's
    /// first token is what comes next), the error points at the end of the line.
    #[cold]
    #[inline(never)]
    fn unclosed(
        &self,
        open: &Token,
        closer: &Tok,
        what: &str,
        after_item: Option<(&str, usize)>,
    ) -> ParseError {
        let close = closer.symbol();
        let at_line_end = self.current.newline_before && self.current.tok != Tok::Eof;
        if at_line_end || self.current.tok == Tok::Eof {
            let (pos, found) = if at_line_end {
                (self.prev_end, "end of line".to_owned())
            } else {
                self.found()
            };
            return ParseError::new(
                pos,
                format!(
                    "expected '{close}' to close the {what} opened at {}, found {found}",
                    open.pos
                ),
            );
        }
        match after_item {
            Some((item, n)) => self.error_here(&format!(
                "',' or '{close}' after {item} {n} of the {what} opened at {}",
                open.pos
            )),
            None => self.error_here(&format!(
                "'{close}' to close the {what} opened at {}",
                open.pos
            )),
        }
    }
}

fn unmatched(tok: &Tok, pos: Pos) -> ParseError {
    let opener = match tok {
        Tok::RParen => "(",
        Tok::RBracket => "[",
        _ => "{",
    };
    ParseError::new(
        pos,
        format!("unmatched '{}': no '{opener}' is open here", tok.symbol()),
    )
}
