//! The rule expression language: parse, type-check, evaluate.
//!
//! Rules in telemetry configs carry an expression such as `$1 > 400`, a list of channel
//! references binding `$1`, `$2`, ... to channels, and for named expressions a list of
//! sub-expressions filling placeholders such as `$mass`. The telemetry crate hands the text to
//! [`parse`], fills placeholders with [`Expr::substitute`] and checks the result against the bound
//! channels' schemas with [`compile`], reporting every [`Diagnostic`] with its [`Span`]. The live
//! rule engine then keeps one [`Program`] per rule and one [`EvalState`] per rule and asset, and
//! calls [`Program::eval`] with the latest value of each input on every committed write, or
//! [`Program::eval_rows`] over many rows of inputs that share their timestamps at once; a result
//! of `None` means "not known yet" and changes nothing.
//!
//! The language itself (grammar, types, missing values, `held_for`) is described in
//! `docs/expressions.md`.
//!
//! ```
//! use sextant_expr::{compile, parse, ChannelSchema};
//! use sextant_model::{DataType, Value};
//!
//! let expr = parse("$1 > 400").unwrap();
//! let channels = [("$1".to_string(), ChannelSchema::new(DataType::Double))];
//! let program = compile(&expr, &channels).unwrap();
//! let mut state = program.new_state();
//! assert_eq!(program.eval(&mut state, 0, &[Some(&Value::Double(401.0))]), Some(true));
//! assert_eq!(program.eval(&mut state, 1, &[None]), None);
//! ```

mod ast;
mod compile;
mod diagnostic;
mod eval;
mod functions;
mod lexer;
mod lower;
mod parser;
mod rows;
mod value;

pub use ast::{BinaryOp, Expr, ExprKind, Reference, ReferenceKind, UnaryOp};
pub use compile::{ChannelSchema, compile, compile_value};
pub use diagnostic::{Diagnostic, Span};
pub use eval::{EvalState, Program};
pub use functions::did_you_mean;
pub use parser::{MAX_DEPTH, parse};
pub use value::ValueProgram;

/// The names of the functions expressions may call (`abs`, `min`, `held_for`, ...).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    functions::FUNCTIONS.iter().map(|f| f.name)
}
