//! KairosDB's number formatting: its JSON writer prints doubles with Java's
//! `Double.toString` and drops a trailing `.0`, so `55.0` is `55`, `0.5` is `0.5`, and values
//! of 10⁷ and above or below 10⁻³ use Java's scientific form (`1.2345678E7`, `1.0E-4`).

/// A double as KairosDB writes it. Not defined for NaN and infinities, which KairosDB
/// refuses to write (the caller reports an error instead).
pub fn java_double(v: f64) -> String {
    let mut out = String::new();
    write_java_double(&mut out, v);
    out
}

/// Appends [`java_double`]'s text of `v` to `out`, without a string of its own: an answer
/// writes one per value.
pub fn write_java_double(out: &mut String, v: f64) {
    use std::fmt::Write;
    let magnitude = v.abs();
    if magnitude == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if (1e-3..1e7).contains(&magnitude) {
        // Rust's shortest round-trip form, which has no exponent in this range and no
        // trailing `.0`: what Java prints after the `.0` is stripped.
        let _ = write!(out, "{v}");
        return;
    }
    let start = out.len();
    let _ = write!(out, "{v:e}");
    let e = out[start..].find('e').map_or(out.len(), |i| start + i);
    let has_point = out[start..e].contains('.');
    // `1e300` becomes `1.0E300`, `1.5e-7` becomes `1.5E-7`.
    out.replace_range(
        e..(e + 1).min(out.len()),
        if has_point { "E" } else { ".0E" },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_and_org_json_print_them() {
        for (v, text) in [
            (55.0, "55"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (0.001, "0.001"),
            (0.0, "0"),
            (9_999_999.5, "9999999.5"),
            (1e7, "1.0E7"),
            (12_345_678.0, "1.2345678E7"),
            (0.0001, "1.0E-4"),
            (-1.5e-5, "-1.5E-5"),
            (1.0 / 3.0, "0.3333333333333333"),
        ] {
            assert_eq!(java_double(v), text, "{v}");
            // Appended after what is there.
            let mut out = "[1,".to_owned();
            write_java_double(&mut out, v);
            assert_eq!(out, format!("[1,{text}"));
        }
    }
}
