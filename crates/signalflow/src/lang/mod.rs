//! The SignalFlow language: lexer, parser and syntax tree.

mod ast;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use ast::*;
pub use parser::{MAX_DEPTH, MAX_PROGRAM_BYTES, ParseError, parse};
