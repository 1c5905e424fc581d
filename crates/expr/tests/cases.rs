//! Runs the scripted cases in `tests/cases/*.txt`, which read as the language's specification.
//!
//! A file is a list of cases. Blank lines and lines starting with `#` are ignored. A case starts
//! with `case: <title>` and continues with any of these lines, in this order:
//!
//! ```text
//! channels: $1 double; $2 enum(Stopped=0, Running=1); $3 bit_field(heater@7:1, led@3:4)
//! subs: $mass = 10; $threshold = 470      # parsed, then put in by Expr::substitute
//! expr:  $1 > 400                         # exactly two spaces after the colon
//! error: ^^^^ message                     # carets under the span, then the exact message
//! error: @0..0 message                    # or the byte range, for empty spans
//! print: ($1 > 400)                       # Display of the (substituted) expression
//! refs: $1 $mass                          # Expr::references, in order (before substitution)
//! inputs: $1                              # Program::inputs
//! at 5s: $1=401 $2=Stopped => true        # evaluate at a time with new input values
//! ```
//!
//! `error:` lines list every diagnostic in order; a case with none must parse and compile.
//! Values set in an `at` line persist to the case's later `at` lines (the latest value of each
//! channel, as the live engine sees it); `$1=-` makes a value missing again. Values are read as
//! the channel's type: enum values by name or key, bit fields in decimal, `0b` or `0x`, strings
//! bare or in double quotes. `$1=int64:5` overrides the type, to feed a value of the wrong type.
//! Times are integers in nanoseconds or with a unit (`500ms`, `2s`, `-1s`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use sextant_expr::{ChannelSchema, Diagnostic, Expr, compile, parse};
use sextant_model::{BitFieldElement, DataType, EnumType, Value};

#[derive(Debug, Default)]
struct Case {
    title: String,
    location: String,
    channels: Vec<(String, ChannelSchema)>,
    subs: Vec<(String, String)>,
    expr: Option<String>,
    errors: Vec<(usize, String)>,
    print: Option<String>,
    refs: Option<Vec<String>>,
    inputs: Option<Vec<String>>,
    steps: Vec<(usize, String)>,
}

#[test]
fn scripted_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("tests/cases exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());

    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = fs::read_to_string(file).expect("readable case file");
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let cases = match read_cases(&name, &text) {
            Ok(cases) => cases,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for case in cases {
            count += 1;
            if let Err(e) = run_case(&case) {
                failures.push(format!("{} ({}): {e}", case.location, case.title));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(count >= 50, "only {count} cases were found");
}

fn read_cases(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let at = || format!("{file}:{line_no}");
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        if let Some(title) = raw.strip_prefix("case:") {
            cases.push(Case {
                title: title.trim().to_owned(),
                location: at(),
                ..Case::default()
            });
            continue;
        }
        let case = cases
            .last_mut()
            .ok_or_else(|| format!("{}: line before the first `case:`", at()))?;
        if let Some(rest) = raw.strip_prefix("channels:") {
            case.channels = parse_channels(rest).map_err(|e| format!("{}: {e}", at()))?;
        } else if let Some(rest) = raw.strip_prefix("subs:") {
            for sub in rest.split(';') {
                let (name, expr) = sub
                    .split_once('=')
                    .ok_or_else(|| format!("{}: sub without '='", at()))?;
                case.subs
                    .push((name.trim().to_owned(), expr.trim().to_owned()));
            }
        } else if let Some(rest) = raw.strip_prefix("expr:  ") {
            case.expr = Some(rest.to_owned());
        } else if let Some(rest) = raw.strip_prefix("error: ") {
            case.errors.push((line_no, rest.to_owned()));
        } else if let Some(rest) = raw.strip_prefix("print: ") {
            case.print = Some(rest.to_owned());
        } else if let Some(rest) = raw.strip_prefix("refs:") {
            case.refs = Some(rest.split_whitespace().map(str::to_owned).collect());
        } else if let Some(rest) = raw.strip_prefix("inputs:") {
            case.inputs = Some(rest.split_whitespace().map(str::to_owned).collect());
        } else if raw.starts_with("at ") {
            case.steps.push((line_no, raw.to_owned()));
        } else {
            return Err(format!("{}: cannot read line {raw:?}", at()));
        }
    }
    Ok(cases)
}

/// `$1 double; $2 enum(A=0, B=-1); $3 bit_field(heater@7:1)`
fn parse_channels(text: &str) -> Result<Vec<(String, ChannelSchema)>, String> {
    let mut channels = Vec::new();
    for decl in text.split(';') {
        let decl = decl.trim();
        let (name, rest) = decl
            .split_once(' ')
            .ok_or_else(|| format!("channel without a type: {decl:?}"))?;
        let rest = rest.trim();
        let (type_name, args) = match rest.split_once('(') {
            Some((t, args)) => (t, args.trim_end_matches(')')),
            None => (rest, ""),
        };
        let data_type: DataType = type_name.parse().map_err(|e| format!("{e}"))?;
        let mut schema = ChannelSchema::new(data_type);
        let items = args.split(',').map(str::trim).filter(|s| !s.is_empty());
        match data_type {
            DataType::Enum => {
                let mut entries = Vec::new();
                for item in items {
                    let (n, k) = item.split_once('=').ok_or("enum entry without '='")?;
                    let key: i64 = k.parse().map_err(|_| format!("bad enum key {k:?}"))?;
                    entries.push((n.to_owned(), key));
                }
                let signed = entries.iter().any(|(_, k)| *k < 0);
                schema.enum_types = entries
                    .into_iter()
                    .map(|(n, k)| EnumType {
                        name: n,
                        key: if signed { k as i32 as u32 } else { k as u32 },
                        is_signed: signed,
                    })
                    .collect();
            }
            DataType::BitField => {
                for item in items {
                    let (n, place) = item.split_once('@').ok_or("element without '@'")?;
                    let (index, count) = place.split_once(':').ok_or("element without ':'")?;
                    schema.bit_field_elements.push(BitFieldElement::new(
                        n,
                        index.parse().map_err(|_| "bad element index")?,
                        count.parse().map_err(|_| "bad element bit count")?,
                    ));
                }
            }
            _ => {}
        }
        channels.push((name.to_owned(), schema));
    }
    Ok(channels)
}

fn run_case(case: &Case) -> Result<(), String> {
    let src = case.expr.as_deref().ok_or("no `expr:` line")?;
    let expected: Vec<Diagnostic> = case
        .errors
        .iter()
        .map(|(line, spec)| expected_diagnostic(src, spec).map_err(|e| format!("line {line}: {e}")))
        .collect::<Result<_, _>>()?;

    let expr = match parse(src) {
        Ok(expr) => expr,
        Err(found) => return compare_diagnostics(src, &expected, &found),
    };
    if let Some(refs) = &case.refs {
        let found: Vec<String> = expr.references().into_iter().map(|r| r.name).collect();
        if &found != refs {
            return Err(format!("references: expected {refs:?}, found {found:?}"));
        }
    }
    let mut subs = HashMap::new();
    for (name, text) in &case.subs {
        let sub =
            parse(text).map_err(|e| format!("sub-expression {name} does not parse: {e:?}"))?;
        subs.insert(name.clone(), sub);
    }
    let expr = expr.substitute(&subs);
    if let Some(print) = &case.print {
        let printed = expr.to_string();
        if &printed != print {
            return Err(format!("printed as {printed:?}, expected {print:?}"));
        }
        check_reparse(&expr)?;
    }
    let program = match compile(&expr, &case.channels) {
        Ok(program) => program,
        Err(found) => return compare_diagnostics(src, &expected, &found),
    };
    if !expected.is_empty() {
        return Err(format!(
            "compiled, but expected errors:\n{}",
            render_all(src, &expected)
        ));
    }
    if let Some(inputs) = case
        .inputs
        .as_ref()
        .filter(|i| program.inputs() != i.as_slice())
    {
        return Err(format!(
            "inputs {:?}, expected {inputs:?}",
            program.inputs()
        ));
    }

    let mut state = program.new_state();
    let mut latest: HashMap<String, Value> = HashMap::new();
    for (line, step) in &case.steps {
        let (time, want) = parse_step(step, &case.channels, &mut latest)
            .map_err(|e| format!("line {line}: {e}"))?;
        let values: Vec<Option<&Value>> = program.inputs().iter().map(|n| latest.get(n)).collect();
        let got = program.eval(&mut state, time, &values);
        if got != want {
            return Err(format!(
                "line {line}: `{step}` evaluated to {}, expected {}",
                show(got),
                show(want)
            ));
        }
    }
    Ok(())
}

/// Display output must parse back to a tree that prints the same.
fn check_reparse(expr: &Expr) -> Result<(), String> {
    let printed = expr.to_string();
    let again =
        parse(&printed).map_err(|e| format!("printed form {printed:?} does not parse: {e:?}"))?;
    if again.to_string() != printed {
        return Err(format!("printed form {printed:?} reparses as {again}"));
    }
    Ok(())
}

fn show(result: Option<bool>) -> &'static str {
    match result {
        Some(true) => "true",
        Some(false) => "false",
        None => "none",
    }
}

fn compare_diagnostics(
    src: &str,
    expected: &[Diagnostic],
    found: &[Diagnostic],
) -> Result<(), String> {
    if expected == found {
        return Ok(());
    }
    let mut message = String::new();
    let _ = writeln!(message, "expected:\n{}", render_all(src, expected));
    let _ = write!(message, "found:\n{}", render_all(src, found));
    for d in found {
        let _ = write!(message, "\n  as a case line: {}", as_case_line(src, d));
    }
    Err(message)
}

fn render_all(src: &str, diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "  (none)".to_owned();
    }
    diagnostics
        .iter()
        .map(|d| format!("  @{} {}", d.span, d.render(src).replace('\n', "\n  ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `error:` line that would expect this diagnostic.
fn as_case_line(src: &str, d: &Diagnostic) -> String {
    if d.span.start >= d.span.end || d.span.end > src.len() {
        return format!("error: @{} {}", d.span, d.message);
    }
    let column = src[..d.span.start].chars().count();
    let width = src[d.span.start..d.span.end].chars().count();
    format!(
        "error: {}{} {}",
        " ".repeat(column),
        "^".repeat(width),
        d.message
    )
}

fn expected_diagnostic(src: &str, spec: &str) -> Result<Diagnostic, String> {
    if let Some(rest) = spec.strip_prefix('@') {
        let (range, message) = rest.split_once(' ').ok_or("no message")?;
        let (start, end) = range.split_once("..").ok_or("range needs '..'")?;
        let start = start.parse().map_err(|_| "bad start")?;
        let end = end.parse().map_err(|_| "bad end")?;
        return Ok(Diagnostic::new(
            sextant_expr::Span::new(start, end),
            message,
        ));
    }
    let column = spec.chars().take_while(|c| *c == ' ').count();
    let width = spec.chars().skip(column).take_while(|c| *c == '^').count();
    if width == 0 {
        return Err("an `error:` line needs carets or @start..end".to_owned());
    }
    let message = spec
        .chars()
        .skip(column + width)
        .collect::<String>()
        .strip_prefix(' ')
        .ok_or("expected one space after the carets")?
        .to_owned();
    let byte_at = |chars: usize| src.char_indices().nth(chars).map_or(src.len(), |(i, _)| i);
    Ok(Diagnostic::new(
        sextant_expr::Span::new(byte_at(column), byte_at(column + width)),
        message,
    ))
}

/// `at 5s: $1=401 $2="a b" => true`
fn parse_step(
    step: &str,
    channels: &[(String, ChannelSchema)],
    latest: &mut HashMap<String, Value>,
) -> Result<(i64, Option<bool>), String> {
    let rest = step.strip_prefix("at ").ok_or("a step starts with `at`")?;
    let (time, rest) = rest
        .split_once(':')
        .ok_or("a step needs ':' after the time")?;
    let (assignments, want) = rest.rsplit_once("=>").ok_or("a step needs `=> result`")?;
    let want = match want.trim() {
        "true" => Some(true),
        "false" => Some(false),
        "none" => None,
        other => return Err(format!("result must be true, false or none, not {other:?}")),
    };
    let time = parse_time(time.trim())?;
    let words = split_words(assignments)?;
    for word in &words {
        let (name, value) = word
            .split_once('=')
            .ok_or_else(|| format!("{word:?} needs '='"))?;
        if value == "-" {
            latest.remove(name);
            continue;
        }
        let schema = channels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
            .ok_or_else(|| format!("{name} is not a channel of this case"))?;
        latest.insert(name.to_owned(), parse_value(value, schema)?);
    }
    Ok((time, want))
}

fn parse_time(text: &str) -> Result<i64, String> {
    let digits_end = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && *c == '-')))
        .map_or(text.len(), |(i, _)| i);
    let number: i64 = text[..digits_end]
        .parse()
        .map_err(|_| format!("bad time {text:?}"))?;
    let unit = match &text[digits_end..] {
        "" | "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => return Err(format!("bad time unit {other:?}")),
    };
    Ok(number * unit)
}

/// Splits on spaces, keeping double-quoted parts (with `\"` and `\\` escapes) together; the quotes
/// stay in the word so that `parse_value` can tell a quoted string.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            '\\' if quoted => {
                word.push(c);
                word.extend(chars.next());
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if quoted {
        return Err("unclosed quote in a step".to_owned());
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_owned();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_value(text: &str, schema: &ChannelSchema) -> Result<Value, String> {
    let typed = text
        .split_once(':')
        .filter(|_| !text.starts_with('"'))
        .and_then(|(type_name, rest)| Some((type_name.parse::<DataType>().ok()?, rest)));
    if let Some((data_type, rest)) = typed {
        return parse_value(rest, &ChannelSchema::new(data_type));
    }
    let bad = || format!("{text:?} is not a {}", schema.data_type);
    Ok(match schema.data_type {
        DataType::Double => Value::Double(text.parse().map_err(|_| bad())?),
        DataType::Float => Value::Float(text.parse().map_err(|_| bad())?),
        DataType::Int32 => Value::Int32(text.parse().map_err(|_| bad())?),
        DataType::Int64 => Value::Int64(text.parse().map_err(|_| bad())?),
        DataType::Uint32 => Value::Uint32(text.parse().map_err(|_| bad())?),
        DataType::Uint64 => Value::Uint64(text.parse().map_err(|_| bad())?),
        DataType::Bool => Value::Bool(text.parse().map_err(|_| bad())?),
        DataType::String => Value::String(unquote(text)),
        DataType::Bytes => Value::Bytes(unquote(text).into_bytes()),
        DataType::Enum => match schema.enum_types.iter().find(|e| e.name == text) {
            Some(entry) => Value::Enum(entry.key),
            None => {
                let key: i64 = text
                    .parse()
                    .map_err(|_| format!("{text:?} is neither a name nor a key"))?;
                Value::Enum(key as i32 as u32)
            }
        },
        DataType::BitField => {
            let parsed = if let Some(bin) = text.strip_prefix("0b") {
                u64::from_str_radix(&bin.replace('_', ""), 2)
            } else if let Some(hex) = text.strip_prefix("0x") {
                u64::from_str_radix(hex, 16)
            } else {
                text.parse()
            };
            Value::BitField(parsed.map_err(|_| format!("bad bit field {text:?}"))?)
        }
    })
}
