//! Problems found in a telemetry config, each with where it is: file, line, and the path of
//! the offending value inside the document (`rules[0].expression`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One problem with a config, a named-expression module or a rule module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, when the config came from one.
    pub file: Option<Arc<str>>,
    /// The line in that file (1-based), when known.
    pub line: Option<usize>,
    /// Where in the document: `rules[0].expression`, `channels.temperature_channel.data_type`.
    pub path: String,
    /// What is wrong, quoting the offending value.
    pub message: String,
}

impl Problem {
    /// A problem at `path`, not yet located in a file.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            file: None,
            line: None,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `file:line: path: message`, leaving out what is not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found, in document order; the error of loading or validating a config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// Returns `Ok(value)` when there are no problems, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problems {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Where each value of a loaded document was: the line of each model path, and how the
/// document spells paths that the model numbers (`channels[0]` was written as
/// `channels.temperature_channel`).
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    file: Option<Arc<str>>,
    lines: HashMap<String, usize>,
    spellings: Vec<(String, String)>,
}

impl SourceMap {
    /// An empty map for `file`.
    pub fn new(file: impl Into<Arc<str>>) -> Self {
        SourceMap {
            file: Some(file.into()),
            ..SourceMap::default()
        }
    }

    /// The file this map is for.
    pub fn file(&self) -> Option<&Arc<str>> {
        self.file.as_ref()
    }

    /// Records that the value at `path` starts on `line`.
    pub fn record(&mut self, path: &str, line: usize) {
        self.lines.entry(path.to_owned()).or_insert(line);
    }

    /// Records that the model path prefix `model` is spelled `document` in the file.
    pub fn spell(&mut self, model: &str, document: &str) {
        self.spellings.push((model.to_owned(), document.to_owned()));
    }

    /// The line of `path`, or of its nearest enclosing value that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    /// Gives `problem` this map's file, the line of its path, and the document's spelling of
    /// the path. A problem that already has a file is left alone.
    pub fn locate(&self, mut problem: Problem) -> Problem {
        if problem.file.is_some() {
            return problem;
        }
        problem.file = self.file.clone();
        problem.line = self.line_of(&problem.path);
        problem.path = self.spelling_of(&problem.path);
        problem
    }

    fn spelling_of(&self, path: &str) -> String {
        for (model, document) in &self.spellings {
            if let Some(rest) = path.strip_prefix(model.as_str())
                && (rest.is_empty() || rest.starts_with(['.', '[']))
            {
                return format!("{document}{rest}");
            }
        }
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_uses_the_nearest_enclosing_line_and_the_document_spelling() {
        let mut map = SourceMap::new("nostromo.yml");
        map.record("channels[0]", 4);
        map.record("rules[0]", 20);
        map.record("rules[0].expression", 23);
        map.spell("channels[0]", "channels.temperature_channel");
        let cases = [
            (
                "rules[0].expression",
                "nostromo.yml:23: rules[0].expression: m",
            ),
            (
                "rules[0].channel_references[1]",
                "nostromo.yml:20: rules[0].channel_references[1]: m",
            ),
            (
                "channels[0].data_type",
                "nostromo.yml:4: channels.temperature_channel.data_type: m",
            ),
            ("asset_name", "nostromo.yml: asset_name: m"),
        ];
        for (path, expected) in cases {
            assert_eq!(map.locate(Problem::new(path, "m")).to_string(), expected);
        }
    }
}
