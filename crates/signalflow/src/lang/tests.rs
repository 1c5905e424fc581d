//! The parser against its specification: programs and their canonical printed form, malformed
//! programs and the exact place and words of their errors, and properties (never panic, a
//! printed tree parses back to itself, deep nesting is refused within a small stack).

use proptest::prelude::*;

use super::*;

/// The statements of a program in canonical form, joined by "; ".
fn printed(src: &str) -> String {
    match parse(src) {
        Ok(program) => program
            .statements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => panic!("{src:?} did not parse: {e}"),
    }
}

/// Source text and its canonical form.
const GOLDEN: &[(&str, &str)] = &[
    // Precedence and associativity.
    ("1 + 2 * 3", "(1 + (2 * 3))"),
    ("(1 + 2) * 3", "((1 + 2) * 3)"),
    ("a - b - c", "((a - b) - c)"),
    ("a // b % c / d * e", "((((a // b) % c) / d) * e)"),
    ("2 ** 3 ** 2", "(2 ** (3 ** 2))"),
    ("-2 ** 2", "(-(2 ** 2))"),
    ("2 ** -1", "(2 ** (-1))"),
    ("-a.b ** 2", "(-(a.b ** 2))"),
    ("- - 1", "(-(-1))"),
    ("-1; -1.5; +x", "(-1); (-1.5); (+x)"),
    ("not a and b or c", "(((not a) and b) or c)"),
    ("a or b and c", "(a or (b and c))"),
    ("a or b or c", "((a or b) or c)"),
    ("not not a", "(not (not a))"),
    ("not a == b", "(not (a == b))"),
    ("a < b + 1", "(a < (b + 1))"),
    ("a == b", "(a == b)"),
    (
        "x != 1 and y >= 2 or z <= 3",
        "(((x != 1) and (y >= 2)) or (z <= 3))",
    ),
    ("A if A > 0 else B", "(A if (A > 0) else B)"),
    ("a if b else c if d else e", "(a if b else (c if d else e))"),
    ("a or b if c and d else e", "((a or b) if (c and d) else e)"),
    // Lambdas.
    ("lambda x, y: x + y", "(lambda x, y: (x + y))"),
    ("lambda: 1", "(lambda: 1)"),
    ("lambda x: x if x else 0", "(lambda x: (x if x else 0))"),
    (
        "lambda x: lambda y: x * y",
        "(lambda x: (lambda y: (x * y)))",
    ),
    (
        "when(lambda x: x > 3, '1m')",
        "when((lambda x: (x > 3)), '1m')",
    ),
    (
        "f(lambda: 1, key=lambda a, b,: a)",
        "f((lambda: 1), key=(lambda a, b: a))",
    ),
    // Literals.
    (
        "[1, 2.5, 'a', True, False, None]",
        "[1, 2.5, 'a', True, False, None]",
    ),
    ("[]; [1,]; [[1], [2, 3]]", "[]; [1]; [[1], [2, 3]]"),
    ("(); (1,); (1, 2,); (1)", "(); (1,); (1, 2); 1"),
    (
        "{'a': 1, 'b': [2]}; {}; {1: 2,}",
        "{'a': 1, 'b': [2]}; {}; {1: 2}",
    ),
    (
        "[1e3, 1.5E-3, .5, 1., 0x1F, 9223372036854775807, 9223372036854775808]",
        "[1000.0, 0.0015, 0.5, 1.0, 31, 9223372036854775807, 9.223372036854776e18]",
    ),
    ("'a' 'b' \"c\"", "'abc'"),
    (
        r#"'it\'s' "say \"hi\"" '\x41\u00e9\U0001F600'"#,
        r#"'it\'ssay "hi"Aé😀'"#,
    ),
    (r"r'\d+\'' + R'\n'", r"('\\d+\\\'' + '\\n')"),
    (
        "'''one\n'two'\n''' + \"\"\"x\"\"\"",
        r"('one\n\'two\'\n' + 'x')",
    ),
    (r"'tab\tnul\0cr\r'", r"'tab\tnul\x00cr\r'"),
    // Postfix chains.
    ("x[0]['k']", "x[0]['k']"),
    ("a.b.c(1)(2)[3].d", "a.b.c(1)(2)[3].d"),
    ("(1).real; (a + b).abs()", "(1).real; (a + b).abs()"),
    (
        "f(); f(1,); f(a=1,); f(1, b=2)",
        "f(); f(1); f(a=1); f(1, b=2)",
    ),
    ("f(x == 1)", "f((x == 1))"),
    // Statements.
    ("x = (a); (b) = 1", "x = a; b = 1"),
    ("a = 1; b = 2;", "a = 1; b = 2"),
    ("a = 1\r\nb = 2\r\n", "a = 1; b = 2"),
    ("x = 1 + \\\n    2", "x = (1 + 2)"),
    ("\u{feff}a = 1", "a = 1"),
    ("", ""),
    ("\n   \n\t# only a comment\n\n", ""),
    (
        "# header\nA = 1  # one\n   # indented comment\n\nB = A # two\n",
        "A = 1; B = A",
    ),
    (
        "data(\n    'cpu',\n    filter=filter('host', 'a'),   # the web hosts\n).publish()",
        "data('cpu', filter=filter('host', 'a')).publish()",
    ),
    ("x = [\n  1, # one\n\n  2\n]", "x = [1, 2]"),
    ("d = {\n 'a': 1,\n 'b': 2,\n}", "d = {'a': 1, 'b': 2}"),
    // Realistic programs.
    (
        "data('cpu.utilization', filter=filter('host', 'web*') and not filter('env', 'dev')).mean(by=['host']).publish('A')",
        "data('cpu.utilization', filter=(filter('host', 'web*') and (not filter('env', 'dev')))).mean(by=['host']).publish('A')",
    ),
    (
        "A = data('cpu.usage_user', rollup='average').mean(over='5m')\nB = A.timeshift('1w')\n(A - B).abs().publish('diff')",
        "A = data('cpu.usage_user', rollup='average').mean(over='5m'); B = A.timeshift('1w'); (A - B).abs().publish('diff')",
    ),
    (
        "detect(when(A > 50, lasting='5m', at_least=0.9), off=when(A < 40)).publish('high')",
        "detect(when((A > 50), lasting='5m', at_least=0.9), off=when((A < 40))).publish('high')",
    ),
    ("events('deploy').publish()", "events('deploy').publish()"),
    (
        "A = data('requests', filter=filter('service', 'api', 'web')).sum(by=['az'])\nB = data('errors').sum(by=['az'])\n(B / A * 100).top(count=5).publish('error rate')",
        "A = data('requests', filter=filter('service', 'api', 'web')).sum(by=['az']); B = data('errors').sum(by=['az']); ((B / A) * 100).top(count=5).publish('error rate')",
    ),
    (
        "threshold(90) if data('disk').max() >= 90 else const(0)",
        "(threshold(90) if (data('disk').max() >= 90) else const(0))",
    ),
    (
        "c = const(1) + const(2) * -data('x')",
        "c = (const(1) + (const(2) * (-data('x'))))",
    ),
];

#[test]
fn golden_programs_print_canonically() {
    assert!(GOLDEN.len() >= 40);
    for (src, expected) in GOLDEN {
        assert_eq!(printed(src), *expected, "source: {src:?}");
    }
}

#[test]
fn canonical_forms_parse_back_to_themselves() {
    for (_, expected) in GOLDEN {
        let program = expected.replace("; ", "\n");
        assert_eq!(printed(&program), *expected);
    }
}

#[test]
fn nodes_carry_the_place_of_their_first_character() {
    let program = parse("A = 1\n  # c\n(A - B).abs(by=x)\nf(a)[0]").unwrap();
    let at = |line, column| Pos { line, column };
    let [assign, method, index] = &program.statements[..] else {
        panic!("{program:?}");
    };
    assert_eq!(assign.pos, at(1, 1));
    let StmtKind::Assign { target, value } = &assign.kind else {
        panic!("{assign:?}");
    };
    assert_eq!((target.pos, value.pos), (at(1, 1), at(1, 5)));

    assert_eq!(method.pos, at(3, 1));
    let StmtKind::Expr(call) = &method.kind else {
        panic!("{method:?}");
    };
    assert_eq!(call.pos, at(3, 1));
    let ExprKind::Call { func, kwargs, .. } = &call.kind else {
        panic!("{call:?}");
    };
    let ExprKind::Attribute { value, name } = &func.kind else {
        panic!("{func:?}");
    };
    // The parentheses belong to the call and the attribute, not to the subtraction inside.
    assert_eq!((func.pos, name.pos), (at(3, 1), at(3, 9)));
    assert_eq!(value.pos, at(3, 2));
    assert_eq!((kwargs[0].0.pos, kwargs[0].1.pos), (at(3, 13), at(3, 16)));

    let StmtKind::Expr(indexed) = &index.kind else {
        panic!("{index:?}");
    };
    assert_eq!((index.pos, indexed.pos), (at(4, 1), at(4, 1)));
}

/// Source, the line and column of the error, and a fragment of its message.
const ERRORS: &[(&str, (u32, u32), &str)] = &[
    (
        "x = (1 + 2",
        (1, 11),
        "expected ')' to close the parenthesis opened at line 1, column 5, found end of program",
    ),
    (
        "x = 1\nA = data('cpu'\nB = 2",
        (2, 15),
        "expected ')' to close the call opened at line 2, column 9, found end of line",
    ),
    (
        "f(\n  a,\n  b\n  c)",
        (3, 4),
        "expected ')' to close the call opened at line 1, column 2, found end of line",
    ),
    (
        "f(a b)",
        (1, 5),
        "expected ',' or ')' after argument 1 of the call opened at line 1, column 2, found `b`",
    ),
    (
        "f(a=1, 2)",
        (1, 8),
        "a positional argument cannot follow the keyword argument `a=` at line 1, column 3",
    ),
    (
        "f(by=1,\n  by=2)",
        (2, 3),
        "the keyword argument `by` is repeated in the call opened at line 1, column 2 (first at line 1, column 3)",
    ),
    ("f(1=2)", (1, 3), "a keyword argument needs a plain name"),
    (
        "f(,)",
        (1, 3),
        "expected an argument or ')' in the call opened at line 1, column 2, found ','",
    ),
    (
        "a < b < c",
        (1, 7),
        "comparisons cannot be chained: write `a < b and b < c`",
    ),
    ("a == b != c", (1, 8), "comparisons cannot be chained"),
    ("a.b = 1", (1, 1), "cannot assign to an attribute"),
    ("f() = 1", (1, 1), "cannot assign to a call"),
    ("1 = x", (1, 1), "cannot assign to a literal"),
    ("a = b = 1", (1, 7), "chained assignment"),
    (
        "x = 1 +\ny = 2",
        (1, 8),
        "expected an expression after '+', found end of line",
    ),
    (
        "x = 1 +",
        (1, 8),
        "expected an expression after '+', found end of program",
    ),
    (
        "x = 1 +* 2",
        (1, 8),
        "expected an expression after '+', found '*'",
    ),
    (
        "x =",
        (1, 4),
        "expected an expression after '=', found end of program",
    ),
    ("  x = 1", (1, 3), "unexpected indentation"),
    ("x = 1\n    y = 2", (2, 5), "unexpected indentation"),
    (")", (1, 1), "unmatched ')'"),
    ("f(1))", (1, 5), "unmatched ')'"),
    (
        "[1, 2",
        (1, 6),
        "expected ']' to close the list opened at line 1, column 1, found end of program",
    ),
    (
        "f(1]",
        (1, 4),
        "expected ',' or ')' after argument 1 of the call opened at line 1, column 2, found ']'",
    ),
    (
        "{'a' 1}",
        (1, 6),
        "expected ':' after the key of entry 1 of the dict",
    ),
    ("{'a'}", (1, 5), "sets are not supported"),
    ("x[1:2]", (1, 4), "slices are not supported"),
    (
        "x[]",
        (1, 3),
        "expected an index after the '[' at line 1, column 2, found ']'",
    ),
    ("x = $", (1, 5), "unexpected character '$'"),
    ("y = 1\nx = 1e", (2, 5), "malformed number `1e`"),
    ("x = 1.2.3", (1, 5), "malformed number `1.2.3`"),
    ("x = 'abc", (1, 5), "unterminated string"),
    ("x = '\\q'", (1, 6), "unknown escape `\\q`"),
    ("@decorator", (1, 1), "unexpected character '@'"),
    ("x = !a", (1, 5), "'!' is not an operator"),
    (
        "def f(): pass",
        (1, 1),
        "`def` is not supported in SignalFlow programs here",
    ),
    ("import math", (1, 1), "`import` is not supported"),
    ("for x in y: z", (1, 1), "`for` is not supported"),
    ("if a: b", (1, 1), "`if` statements are not supported"),
    (
        "a if b",
        (1, 7),
        "expected `else` to complete the conditional expression whose `if` is at line 1, column 3, found end of program",
    ),
    (
        "lambda x y: 1",
        (1, 10),
        "expected ',' or ':' after the parameter `x`",
    ),
    ("lambda x, x: 1", (1, 11), "the parameter `x` is repeated"),
    ("lambda x=1: x", (1, 9), "default values are not supported"),
    (
        "a + lambda: 1",
        (1, 5),
        "a lambda must be in parentheses here",
    ),
    (
        "a == not b",
        (1, 6),
        "`not ...` must be in parentheses here",
    ),
    ("x = 1, 2", (1, 6), "write a tuple in parentheses"),
    (
        "A = data('x')\n.mean()",
        (2, 1),
        "a statement cannot start with '.'",
    ),
    (
        "a.",
        (1, 3),
        "expected an attribute name after '.', found end of program",
    ),
    (
        "a.not",
        (1, 3),
        "expected an attribute name after '.', found `not`",
    ),
    (";", (1, 1), "expected a statement before ';'"),
    ("a;;b", (1, 3), "expected a statement before ';'"),
    (
        "a b",
        (1, 3),
        "expected an operator, ';' or the end of the line, found `b`",
    ),
    ("else", (1, 1), "expected a statement, found `else`"),
    (
        "x += 1",
        (1, 3),
        "augmented assignment '+=' is not supported",
    ),
];

#[test]
fn malformed_programs_name_the_place_and_the_problem() {
    for (src, (line, column), fragment) in ERRORS {
        let e = match parse(src) {
            Ok(program) => panic!("{src:?} parsed: {program}"),
            Err(e) => e,
        };
        assert_eq!((e.pos.line, e.pos.column), (*line, *column), "{src:?}: {e}");
        assert!(e.message.contains(fragment), "{src:?}: {e}");
    }
}

#[test]
fn errors_display_line_and_column_first() {
    let e = parse("x = 1\nA = data('cpu'\nB = 2").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 15: expected ')' to close the call opened at line 2, column 9, found end of line"
    );
}

#[test]
fn programs_longer_than_the_limit_are_refused_at_the_start() {
    let long = format!("x = 1\n{}", "#".repeat(MAX_PROGRAM_BYTES));
    let e = parse(&long).unwrap_err();
    assert_eq!(e.pos, Pos { line: 1, column: 1 });
    assert!(e.message.contains("at most 1048576 bytes"), "{e}");
    let fits = format!("x = 1\n{}", "#".repeat(MAX_PROGRAM_BYTES - 6));
    assert!(parse(&fits).is_ok());
}

/// Programs nesting `levels` deep of each kind the parser recurses on or the tree grows by.
fn nested_programs(levels: usize) -> Vec<String> {
    let n = levels;
    vec![
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "f(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "{1: ".repeat(n), "}".repeat(n)),
        format!("{}1", "not ".repeat(n)),
        format!("{}1", "- ".repeat(n)),
        format!("{}1", "-".repeat(n)),
        format!("{}1", "lambda: ".repeat(n)),
        format!("{}1", "1 if 1 else ".repeat(n)),
        format!("{}1", "2 ** ".repeat(n)),
        format!("a{}", ".b".repeat(n)),
        format!("a{}", "()".repeat(n)),
        format!("a{}", "[0]".repeat(n)),
        format!("1{}", " + 1".repeat(n)),
        format!("1{}", " and 1".repeat(n)),
        format!("x{}1{}", "[(".repeat(n / 2), ")]".repeat(n / 2)),
    ]
}

#[test]
fn nesting_up_to_the_limit_parses_and_beyond_is_refused() {
    // The statement is the first level, so 63 more fit.
    for src in nested_programs(MAX_DEPTH - 1) {
        assert!(parse(&src).is_ok(), "{src}: {:?}", parse(&src));
    }
    for src in nested_programs(MAX_DEPTH + 1) {
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("nests too deeply"), "{src}: {e}");
    }
}

#[test]
fn deep_nesting_is_refused_within_a_worker_threads_stack() {
    // What once overflowed the SignalFx search parser: thousands of '(' and the like, here on
    // the 2 MiB stack of a tokio worker thread, in a debug build. The deepest programs
    // allowed need about 1 MiB of it in a debug build and 200 KiB in a release build.
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for levels in [MAX_DEPTH - 1, MAX_DEPTH, 8_000, 30_000] {
                let mut programs = nested_programs(levels);
                // Every precedence level at once, then a bracket: the most stack per level.
                let half = levels / 2;
                for (open, close) in [("-(", ")"), ("-f(", ")"), ("-[", "]"), ("-{1: ", "}")] {
                    programs.push(format!(
                        "{}1{}",
                        format!("a or b and c == d + e * {open}").repeat(half),
                        close.repeat(half)
                    ));
                }
                for src in programs {
                    let result = parse(&src);
                    if levels >= MAX_DEPTH {
                        let e = result.expect_err("too deep");
                        assert!(e.message.contains("nests too deeply"), "{e}");
                    }
                }
            }
        })
        .unwrap();
    worker.join().unwrap();
}

/// Tokens and fragments of SignalFlow, glued at random into likely and unlikely programs.
const ALPHABET: &[&str] = &[
    "A",
    "data",
    "x_1",
    "_",
    "0",
    "1",
    "1.5",
    ".5",
    "1e3",
    "1e",
    "0x1f",
    "0x",
    "007",
    "99999999999999999999",
    "1e400",
    "'s'",
    "\"d\"",
    "'''t\n'''",
    "r'\\d'",
    "'\\x4",
    "'\\u00e9'",
    "'",
    "\"",
    "\"\"\"",
    "\\",
    "\\\n",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    ";",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "**",
    "/",
    "//",
    "%",
    "\n",
    "\r\n",
    " ",
    "  ",
    "\t",
    "#c",
    "and",
    "or",
    "not",
    "if",
    "else",
    "lambda",
    "True",
    "False",
    "None",
    "def",
    "in",
    "é",
    "€",
    "$",
    "@",
    "!",
    "data('cpu')",
    ".mean(by=['h'])",
    ".publish('A')",
    "filter('h', 'a*')",
    "lambda x: x > 3",
    "when(A > 5, '5m')",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..80).prop_map(|parts| parts.concat())
}

/// The height of an expression's tree.
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

fn names() -> impl Strategy<Value = String> {
    prop::sample::select(&["a", "b", "A", "data", "x_1", "_n", "mean", "by"][..])
        .prop_map(str::to_owned)
}

fn at(kind: ExprKind) -> Expr {
    Expr {
        kind,
        pos: Pos { line: 1, column: 1 },
    }
}

fn ident(name: String) -> Ident {
    Ident {
        name,
        pos: Pos { line: 1, column: 1 },
    }
}

fn unique(mut names: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    names.retain(|n| {
        let fresh = !seen.contains(n);
        seen.push(n.clone());
        fresh
    });
    names
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0i64..1000).prop_map(ExprKind::Int),
        Just(ExprKind::Int(i64::MAX)),
        prop::sample::select(&[0.0, 0.5, 1.5, 1e-7, 1e21, 123.456, 9.3e18][..])
            .prop_map(ExprKind::Float),
        (0.0f64..1e300).prop_map(ExprKind::Float),
        "\\PC{0,6}".prop_map(ExprKind::Str),
        "[a'\"\\\\\n\t\r\x00\x7f\u{85}é]{0,5}".prop_map(ExprKind::Str),
        any::<bool>().prop_map(ExprKind::Bool),
        Just(ExprKind::None),
        names().prop_map(ExprKind::Name),
    ]
    .prop_map(at)
}

fn expressions() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 64, 4, |inner| {
        let boxed = || inner.clone().prop_map(Box::new);
        let list = || prop::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            list().prop_map(|items| at(ExprKind::List(items))),
            list().prop_map(|items| at(ExprKind::Tuple(items))),
            prop::collection::vec((inner.clone(), inner.clone()), 0..3)
                .prop_map(|entries| at(ExprKind::Dict(entries))),
            (
                boxed(),
                list(),
                prop::collection::vec((names(), inner.clone()), 0..3)
            )
                .prop_map(|(func, args, kwargs)| {
                    let mut seen = Vec::new();
                    let kwargs = kwargs
                        .into_iter()
                        .filter(|(name, _)| {
                            let fresh = !seen.contains(name);
                            seen.push(name.clone());
                            fresh
                        })
                        .map(|(name, value)| (ident(name), value))
                        .collect();
                    at(ExprKind::Call { func, args, kwargs })
                }),
            (boxed(), names()).prop_map(|(value, name)| at(ExprKind::Attribute {
                value,
                name: ident(name)
            })),
            (boxed(), boxed()).prop_map(|(value, index)| at(ExprKind::Index { value, index })),
            (
                prop::sample::select(&[UnaryOp::Neg, UnaryOp::Pos, UnaryOp::Not][..]),
                boxed()
            )
                .prop_map(|(op, operand)| at(ExprKind::Unary { op, operand })),
            (
                prop::sample::select(
                    &[
                        BinaryOp::Add,
                        BinaryOp::Sub,
                        BinaryOp::Mul,
                        BinaryOp::Div,
                        BinaryOp::FloorDiv,
                        BinaryOp::Mod,
                        BinaryOp::Pow
                    ][..]
                ),
                boxed(),
                boxed()
            )
                .prop_map(|(op, lhs, rhs)| at(ExprKind::Binary { op, lhs, rhs })),
            (
                prop::sample::select(
                    &[
                        CompareOp::Lt,
                        CompareOp::Le,
                        CompareOp::Gt,
                        CompareOp::Ge,
                        CompareOp::Eq,
                        CompareOp::Ne
                    ][..]
                ),
                boxed(),
                boxed()
            )
                .prop_map(|(op, lhs, rhs)| at(ExprKind::Compare { op, lhs, rhs })),
            (
                prop::sample::select(&[LogicalOp::And, LogicalOp::Or][..]),
                boxed(),
                boxed()
            )
                .prop_map(|(op, lhs, rhs)| at(ExprKind::Logical { op, lhs, rhs })),
            (boxed(), boxed(), boxed()).prop_map(|(then, test, otherwise)| at(ExprKind::IfElse {
                then,
                test,
                otherwise
            })),
            (prop::collection::vec(names(), 0..3), boxed()).prop_map(|(params, body)| at(
                ExprKind::Lambda {
                    params: unique(params).into_iter().map(ident).collect(),
                    body
                }
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn never_panics_on_arbitrary_text(src in any::<String>()) {
        let _ = parse(&src);
    }

    #[test]
    fn never_panics_on_printable_text(src in "\\PC{0,200}") {
        let _ = parse(&src);
    }

    #[test]
    fn token_soup_parses_or_fails_cleanly_and_what_parses_prints_stably(src in soup()) {
        if let Ok(program) = parse(&src) {
            // Printing adds parentheses, which count as nesting; shallow trees must come back.
            let shallow = program.statements.iter().all(|s| match &s.kind {
                StmtKind::Assign { value, .. } | StmtKind::Expr(value) => height(value) <= 24,
            });
            if shallow {
                let once = program.to_string();
                let twice = parse(&once).map(|p| p.to_string());
                prop_assert_eq!(twice, Ok(once));
            }
        }
    }

    #[test]
    fn deep_prefixes_never_panic(
        prefix in prop::sample::select(
            &["(", "[", "{1:", "f(", "not ", "-", "+ ", "lambda: ", "1 if 1 else ", "2**", "a.", "x[", "'", "\\\n"][..]
        ),
        levels in 0usize..3_000,
        tail in soup(),
    ) {
        let _ = parse(&(prefix.repeat(levels) + &tail));
    }

    #[test]
    fn printed_expressions_parse_back_to_the_same_form(expr in expressions()) {
        let text = expr.to_string();
        let program = parse(&text);
        prop_assert!(program.is_ok(), "{} did not parse: {:?}", text, program);
        let reprinted = program.map(|p| p.to_string()).unwrap_or_default();
        prop_assert_eq!(reprinted, text);
    }
}
