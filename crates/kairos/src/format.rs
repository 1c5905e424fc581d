//! KairosDB's number formatting: its JSON writer prints doubles with Java's
//! `Double.toString` and drops a trailing `.0`, so `55.0` is `55`, `0.5` is `0.5`, and values
//! of 10⁷ and above or below 10⁻³ use Java's scientific form (`1.2345678E7`, `1.0E-4`).

/// A double as KairosDB writes it. Not defined for NaN and infinities, which KairosDB
/// refuses to write (the caller reports an error instead).
pub fn java_double(v: f64) -> String {
    let magnitude = v.abs();
    if magnitude == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    if (1e-3..1e7).contains(&magnitude) {
        // Rust's shortest round-trip form, which has no exponent in this range and no
        // trailing `.0`: what Java prints after the `.0` is stripped.
        return format!("{v}");
    }
    let text = format!("{v:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
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
        }
    }
}
