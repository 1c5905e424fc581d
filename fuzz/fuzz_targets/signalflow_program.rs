//! SignalFlow programs: parse user text. Every input must parse or give an error at a line of
//! the text, and what parses must print in a form that parses back to the same form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_signalflow::lang::{Expr, ExprKind, MAX_DEPTH, Pos, StmtKind, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match parse(src) {
        Ok(program) => {
            // Printing adds parentheses, which count as nesting when parsed back (up to two
            // levels per level of the tree): only trees well within the limit must come back.
            let shallow = program.statements.iter().all(|s| match &s.kind {
                StmtKind::Assign { value, .. } | StmtKind::Expr(value) => {
                    height(value) < MAX_DEPTH / 2 - 1
                }
            });
            if shallow {
                let printed = program.to_string();
                let again = parse(&printed).map(|p| p.to_string());
                assert_eq!(again.as_deref(), Ok(printed.as_str()), "{src:?}");
            }
        }
        Err(e) => {
            let lines = src.split('\n').count();
            assert!(e.pos >= Pos { line: 1, column: 1 }, "{e}");
            assert!(e.pos.line as usize <= lines, "{e} in {lines} lines");
        }
    }
});

/// The height of an expression's tree (at most `MAX_DEPTH` for a parsed one).
fn height(e: &Expr) -> usize {
    let children: Vec<&Expr> = match &e.kind {
        ExprKind::List(items) | ExprKind::Tuple(items) => items.iter().collect(),
        ExprKind::Dict(entries) => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
        ExprKind::Call { func, args, kwargs } => std::iter::once(&**func)
            .chain(args)
            .chain(kwargs.iter().map(|(_, v)| v))
            .collect(),
        ExprKind::Attribute { value, .. } => vec![value],
        ExprKind::Index { value, index } => vec![value, index],
        ExprKind::Unary { operand, .. } => vec![operand],
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Compare { lhs, rhs, .. }
        | ExprKind::Logical { lhs, rhs, .. } => vec![lhs, rhs],
        ExprKind::IfElse {
            then,
            test,
            otherwise,
        } => vec![then, test, otherwise],
        ExprKind::Lambda { body, .. } => vec![body],
        _ => Vec::new(),
    };
    1 + children.into_iter().map(height).max().unwrap_or(0)
}
