//! Words for messages people read.

/// `n` and the noun that goes with it: `1 rule`, `0 rules`, `2 rules`.
///
/// ```
/// use sextant_model::count;
///
/// assert_eq!(count(1, "rule", "rules"), "1 rule");
/// assert_eq!(count(3, "entry", "entries"), "3 entries");
/// ```
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
