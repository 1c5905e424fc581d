//! The functions the language knows, and the "did you mean" helper its messages use.

/// What a function is called and how many arguments it takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Function {
    pub name: &'static str,
    pub min_args: usize,
    /// `None` for no upper bound.
    pub max_args: Option<usize>,
}

pub(crate) const FUNCTIONS: [Function; 7] = [
    Function {
        name: "abs",
        min_args: 1,
        max_args: Some(1),
    },
    Function {
        name: "min",
        min_args: 2,
        max_args: None,
    },
    Function {
        name: "max",
        min_args: 2,
        max_args: None,
    },
    Function {
        name: "contains",
        min_args: 2,
        max_args: Some(2),
    },
    Function {
        name: "starts_with",
        min_args: 2,
        max_args: Some(2),
    },
    Function {
        name: "ends_with",
        min_args: 2,
        max_args: Some(2),
    },
    Function {
        name: "held_for",
        min_args: 2,
        max_args: Some(2),
    },
];

impl Function {
    /// The arity check's message, if `given` arguments do not fit.
    pub(crate) fn arity_error(&self, given: usize) -> Option<String> {
        let fits = given >= self.min_args && self.max_args.is_none_or(|max| given <= max);
        if fits {
            return None;
        }
        let wanted = match self.max_args {
            Some(max) if max == self.min_args => sextant_model::count(max, "argument", "arguments"),
            _ => format!(
                "at least {}",
                sextant_model::count(self.min_args, "argument", "arguments")
            ),
        };
        let were = if given == 1 { "was" } else { "were" };
        Some(format!(
            "`{}` takes {wanted}, but {given} {were} given",
            self.name
        ))
    }
}

pub(crate) fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The candidate closest to `word` by edit distance (case-insensitive, a swap of two
/// neighbouring letters counting as one edit), if it is close enough to be a typo: what "did
/// you mean" messages across Sextant suggest.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let names = FUNCTIONS.iter().map(|f| f.name);
        assert_eq!(did_you_mean("abss", names.clone()), Some("abs"));
        assert_eq!(did_you_mean("held", names.clone()), None);
        assert_eq!(
            did_you_mean("startswith", names.clone()),
            Some("starts_with")
        );
        assert_eq!(did_you_mean("xyz", names), None);
        assert_eq!(
            did_you_mean("Stoped", ["Stopped", "Started"]),
            Some("Stopped")
        );
    }

    #[test]
    fn arity_messages() {
        let abs = lookup("abs").unwrap();
        assert_eq!(
            abs.arity_error(2).as_deref(),
            Some("`abs` takes 1 argument, but 2 were given")
        );
        let min = lookup("min").unwrap();
        assert_eq!(
            min.arity_error(1).as_deref(),
            Some("`min` takes at least 2 arguments, but 1 was given")
        );
        assert_eq!(min.arity_error(5), None);
    }
}
