//! Schemas: read from YAML with every mistake as `file:line: message`, checked, and changed
//! only by adding columns.
//!
//! A collection's columns get a *slot* when they are first defined and keep it: inputs,
//! predictions and extras share the row slots, labels have their own. Slots never move, so an
//! event logged before a column was added reads back with that column empty.

use std::collections::HashSet;
use std::sync::Arc;

use sextant_api::collections::{CollectionSchema, ColumnRole, ColumnSpec, ColumnType};
use sextant_telemetry::yaml::Node;
use sextant_telemetry::{Problem, Problems};

/// The most columns a schema may have.
pub const MAX_COLUMNS: usize = 1_000;
/// The longest a column or collection name may be, in bytes.
pub const MAX_NAME_LEN: usize = 128;

const SCHEMA_KEYS: &[&str] = &[
    "id_column",
    "timestamp_column",
    "tags_column",
    "input_columns",
    "prediction_columns",
    "label_columns",
    "extra_columns",
];
const COLUMN_KEYS: &[&str] = &["name", "type"];

/// A typed column with its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The key of the column in an event.
    pub name: Arc<str>,
    /// Input, prediction, label or extra.
    pub role: ColumnRole,
    /// Its values' type.
    pub column_type: ColumnType,
}

/// A checked schema, its columns in slot order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The id column's name.
    pub id_column: Arc<str>,
    /// The timestamp column's name.
    pub timestamp_column: Arc<str>,
    /// The tags column's name, if the schema has one.
    pub tags_column: Option<Arc<str>>,
    /// Inputs, predictions and extras, in the order they were defined.
    pub row_columns: Vec<Column>,
    /// Labels, in the order they were defined.
    pub label_columns: Vec<Column>,
}

/// What a key of an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The id.
    Id,
    /// The timestamp.
    Timestamp,
    /// The tags.
    Tags,
    /// A row column, by slot.
    Row(usize),
    /// A label column, by slot.
    Label(usize),
}

impl Schema {
    /// Checks a schema sent as JSON; every problem names the field.
    pub fn from_spec(spec: &CollectionSchema) -> Result<Schema, Problems> {
        let mut problems = Vec::new();
        let schema = Schema::build(spec, &mut problems);
        Problems(problems).into_result(schema)
    }

    /// Reads and checks a schema file's text; every problem names `file` and its line.
    pub fn from_yaml(src: &str, file: &str) -> Result<CollectionSchema, Problems> {
        let file: Arc<str> = Arc::from(file);
        let at = |line: usize, path: &str, message: String| Problem {
            file: Some(file.clone()),
            line: Some(line),
            path: path.to_owned(),
            message,
        };
        let root = Node::parse(src)
            .map_err(|e| Problems(vec![at(e.line, "", format!("not YAML: {}", e.message))]))?;
        let mut problems = Vec::new();
        let mut spec = CollectionSchema::default();
        let Some(entries) = root.as_map() else {
            return Err(Problems(vec![at(
                root.line,
                "",
                format!("expected a schema as a mapping, found {}", root.describe()),
            )]));
        };
        // Where each column was written, to place the problems of the structural check.
        let mut lines = Vec::new();
        for (key, value) in entries {
            let name = key.as_scalar().unwrap_or_default();
            match name {
                "id_column" | "timestamp_column" | "tags_column" => match value.as_scalar() {
                    Some(text) if !value.is_null() => {
                        lines.push((name.to_owned(), value.line));
                        match name {
                            "id_column" => spec.id_column = text.to_owned(),
                            "timestamp_column" => spec.timestamp_column = text.to_owned(),
                            _ => spec.tags_column = Some(text.to_owned()),
                        }
                    }
                    _ => problems.push(at(
                        value.line,
                        name,
                        format!("expected a column name, found {}", value.describe()),
                    )),
                },
                "input_columns" | "prediction_columns" | "label_columns" | "extra_columns" => {
                    let columns = columns_from_yaml(value, name, &mut problems, &at, &mut lines);
                    match name {
                        "input_columns" => spec.input_columns = columns,
                        "prediction_columns" => spec.prediction_columns = columns,
                        "label_columns" => spec.label_columns = columns,
                        _ => spec.extra_columns = columns,
                    }
                }
                _ => {
                    let hint = did_you_mean(name, SCHEMA_KEYS);
                    problems.push(at(key.line, name, format!("unknown key `{name}`{hint}")));
                }
            }
        }
        if problems.is_empty() {
            // The structural checks, placed on the line of the column they name.
            let mut structural = Vec::new();
            Schema::build(&spec, &mut structural);
            for mut problem in structural {
                let line = lines
                    .iter()
                    .find(|(path, _)| *path == problem.path)
                    .map(|(_, line)| *line)
                    .unwrap_or(root.line);
                problem.file = Some(file.clone());
                problem.line = Some(line);
                problems.push(problem);
            }
        }
        Problems(problems).into_result(spec)
    }

    fn build(spec: &CollectionSchema, problems: &mut Vec<Problem>) -> Schema {
        // `project_id` names the project column of every read.
        let mut seen: HashSet<String> = HashSet::from(["project_id".to_owned()]);
        let mut name_ok = |path: &str, name: &str, problems: &mut Vec<Problem>| {
            if let Err(why) = check_name(name) {
                problems.push(Problem::new(path, format!("column name {name:?} {why}")));
            } else if name == "project_id" {
                problems.push(Problem::new(
                    path,
                    "`project_id` is reserved: reads show each inference's project under it",
                ));
            } else if !seen.insert(name.to_owned()) {
                problems.push(Problem::new(
                    path,
                    format!("column `{name}` is defined twice; each column needs its own name"),
                ));
            }
        };
        name_ok("id_column", &spec.id_column, problems);
        name_ok("timestamp_column", &spec.timestamp_column, problems);
        if let Some(tags) = &spec.tags_column {
            name_ok("tags_column", tags, problems);
        }
        let groups = [
            ("input_columns", ColumnRole::Input, &spec.input_columns),
            (
                "prediction_columns",
                ColumnRole::Prediction,
                &spec.prediction_columns,
            ),
            ("extra_columns", ColumnRole::Extra, &spec.extra_columns),
            ("label_columns", ColumnRole::Label, &spec.label_columns),
        ];
        let mut schema = Schema {
            id_column: Arc::from(spec.id_column.as_str()),
            timestamp_column: Arc::from(spec.timestamp_column.as_str()),
            tags_column: spec.tags_column.as_deref().map(Arc::from),
            row_columns: Vec::new(),
            label_columns: Vec::new(),
        };
        for (group, role, columns) in groups {
            for (i, column) in columns.iter().enumerate() {
                name_ok(&format!("{group}[{i}]"), &column.name, problems);
                let column = Column {
                    name: Arc::from(column.name.as_str()),
                    role,
                    column_type: column.column_type,
                };
                if role == ColumnRole::Label {
                    schema.label_columns.push(column);
                } else {
                    schema.row_columns.push(column);
                }
            }
        }
        if spec.input_columns.is_empty() && spec.prediction_columns.is_empty() {
            problems.push(Problem::new(
                "input_columns",
                "a schema needs at least one input or prediction column: they are what makes an event an inference",
            ));
        }
        let total = schema.row_columns.len() + schema.label_columns.len();
        if total > MAX_COLUMNS {
            problems.push(Problem::new(
                "",
                format!("{total} columns; a schema may have at most {MAX_COLUMNS}"),
            ));
        }
        schema
    }

    /// The schema after a change to `spec`: columns may be added, nothing else may change.
    /// New columns take the next slots; the problems say what was refused and why.
    pub fn evolve(&self, spec: &CollectionSchema) -> Result<Schema, Problems> {
        let proposed = Schema::from_spec(spec)?;
        let mut problems = Vec::new();
        for (what, old, new) in [
            (
                "id_column",
                Some(&self.id_column),
                Some(&proposed.id_column),
            ),
            (
                "timestamp_column",
                Some(&self.timestamp_column),
                Some(&proposed.timestamp_column),
            ),
            (
                "tags_column",
                self.tags_column.as_ref(),
                proposed.tags_column.as_ref(),
            ),
        ] {
            if old != new {
                let show = |c: Option<&Arc<str>>| {
                    c.map(|c| format!("`{c}`"))
                        .unwrap_or_else(|| "none".to_owned())
                };
                problems.push(Problem::new(
                    what,
                    format!(
                        "changing the {} from {} to {} is refused: stored events were read with the old one",
                        what.replace('_', " "),
                        show(old),
                        show(new)
                    ),
                ));
            }
        }
        let mut next = Schema {
            row_columns: self.row_columns.clone(),
            label_columns: self.label_columns.clone(),
            ..proposed.clone()
        };
        let old_columns = self.row_columns.iter().chain(&self.label_columns);
        for old in old_columns {
            let found = proposed
                .row_columns
                .iter()
                .chain(&proposed.label_columns)
                .find(|c| c.name == old.name);
            match found {
                None => problems.push(Problem::new(
                    group_of(old.role),
                    format!(
                        "column `{}` ({} {}) is missing; columns can be added to a schema but not removed",
                        old.name,
                        role_name(old.role),
                        old.column_type.name()
                    ),
                )),
                Some(new) if new.column_type != old.column_type => problems.push(Problem::new(
                    group_of(new.role),
                    format!(
                        "changing column `{}` from {} to {} is refused: stored events hold {} values",
                        old.name,
                        old.column_type.name(),
                        new.column_type.name(),
                        old.column_type.name()
                    ),
                )),
                Some(new) if new.role != old.role => problems.push(Problem::new(
                    group_of(new.role),
                    format!(
                        "moving column `{}` from {} to {} is refused: stored events use it as {}",
                        old.name,
                        group_of(old.role),
                        group_of(new.role),
                        role_name(old.role)
                    ),
                )),
                Some(_) => {}
            }
        }
        for column in proposed.row_columns.iter().chain(&proposed.label_columns) {
            if next.key(&column.name).is_none() {
                if column.role == ColumnRole::Label {
                    next.label_columns.push(column.clone());
                } else {
                    next.row_columns.push(column.clone());
                }
            }
        }
        Problems(problems).into_result(next)
    }

    /// What the event key `name` is, if the schema has it.
    pub fn key(&self, name: &str) -> Option<Key> {
        if *self.id_column == *name {
            return Some(Key::Id);
        }
        if *self.timestamp_column == *name {
            return Some(Key::Timestamp);
        }
        if self.tags_column.as_deref() == Some(name) {
            return Some(Key::Tags);
        }
        if let Some(i) = self.row_columns.iter().position(|c| *c.name == *name) {
            return Some(Key::Row(i));
        }
        self.label_columns
            .iter()
            .position(|c| *c.name == *name)
            .map(Key::Label)
    }

    /// Every column name an event may use, for "did you mean".
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![&*self.id_column, &*self.timestamp_column];
        names.extend(self.tags_column.as_deref());
        names.extend(self.row_columns.iter().map(|c| &*c.name));
        names.extend(self.label_columns.iter().map(|c| &*c.name));
        names
    }

    /// The schema as it is written, by role (columns in slot order within each role).
    pub fn spec(&self) -> CollectionSchema {
        let of = |role: ColumnRole| -> Vec<ColumnSpec> {
            self.row_columns
                .iter()
                .chain(&self.label_columns)
                .filter(|c| c.role == role)
                .map(|c| ColumnSpec {
                    name: c.name.to_string(),
                    column_type: c.column_type,
                })
                .collect()
        };
        CollectionSchema {
            id_column: self.id_column.to_string(),
            timestamp_column: self.timestamp_column.to_string(),
            tags_column: self.tags_column.as_ref().map(|t| t.to_string()),
            input_columns: of(ColumnRole::Input),
            prediction_columns: of(ColumnRole::Prediction),
            label_columns: of(ColumnRole::Label),
            extra_columns: of(ColumnRole::Extra),
        }
    }

    /// The schema in its stored form: columns in slot order with their roles, so that slots
    /// survive a restart.
    pub fn to_stored(&self) -> StoredSchema {
        StoredSchema {
            id_column: self.id_column.to_string(),
            timestamp_column: self.timestamp_column.to_string(),
            tags_column: self.tags_column.as_ref().map(|t| t.to_string()),
            columns: self
                .row_columns
                .iter()
                .chain(&self.label_columns)
                .map(|c| StoredColumn {
                    name: c.name.to_string(),
                    role: c.role,
                    column_type: c.column_type,
                })
                .collect(),
        }
    }

    /// The schema of its stored form.
    pub fn from_stored(stored: &StoredSchema) -> Schema {
        let (labels, rows): (Vec<_>, Vec<_>) = stored
            .columns
            .iter()
            .map(|c| Column {
                name: Arc::from(c.name.as_str()),
                role: c.role,
                column_type: c.column_type,
            })
            .partition(|c| c.role == ColumnRole::Label);
        Schema {
            id_column: Arc::from(stored.id_column.as_str()),
            timestamp_column: Arc::from(stored.timestamp_column.as_str()),
            tags_column: stored.tags_column.as_deref().map(Arc::from),
            row_columns: rows,
            label_columns: labels,
        }
    }
}

/// How a schema is kept on disk (`schema.json` of the collection's directory).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredSchema {
    /// The id column.
    pub id_column: String,
    /// The timestamp column.
    pub timestamp_column: String,
    /// The tags column.
    pub tags_column: Option<String>,
    /// Every column in slot order (rows and labels interleaved as they were defined).
    pub columns: Vec<StoredColumn>,
}

/// A column of a [`StoredSchema`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredColumn {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: ColumnRole,
    /// Its type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

fn columns_from_yaml(
    node: &Node,
    group: &str,
    problems: &mut Vec<Problem>,
    at: &impl Fn(usize, &str, String) -> Problem,
    lines: &mut Vec<(String, usize)>,
) -> Vec<ColumnSpec> {
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            problems.push(at(
                node.line,
                group,
                format!(
                    "expected a list of columns ({{name, type}}), found {}",
                    node.describe()
                ),
            ));
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{group}[{i}]");
        lines.push((path.clone(), item.line));
        let Some(entries) = item.as_map() else {
            problems.push(at(
                item.line,
                &path,
                format!(
                    "expected a column as a mapping with `name` and `type`, found {}",
                    item.describe()
                ),
            ));
            continue;
        };
        let mut name = None;
        let mut column_type = None;
        let mut complete = true;
        for (key, value) in entries {
            match key.as_scalar().unwrap_or_default() {
                "name" => match value.as_scalar() {
                    Some(text) if !value.is_null() => name = Some(text.to_owned()),
                    _ => {
                        complete = false;
                        problems.push(at(
                            value.line,
                            &format!("{path}.name"),
                            format!("expected a column name, found {}", value.describe()),
                        ));
                    }
                },
                "type" => {
                    let text = value.as_scalar().unwrap_or_default();
                    match ColumnType::ALL.iter().find(|t| t.name() == text) {
                        Some(t) => column_type = Some(*t),
                        None => {
                            complete = false;
                            let names: Vec<&str> =
                                ColumnType::ALL.iter().map(|t| t.name()).collect();
                            let hint = did_you_mean(text, &names);
                            problems.push(at(
                                value.line,
                                &format!("{path}.type"),
                                format!(
                                    "unknown column type {}{hint}; the types are {}",
                                    value.describe(),
                                    names.join(", ")
                                ),
                            ));
                        }
                    }
                }
                other => {
                    // A misspelt key is the likelier mistake than a missing one: say only it.
                    complete = false;
                    let hint = did_you_mean(other, COLUMN_KEYS);
                    problems.push(at(
                        key.line,
                        &format!("{path}.{other}"),
                        format!("unknown key `{other}` in a column{hint}"),
                    ));
                }
            }
        }
        for (missing, present) in [("name", name.is_some()), ("type", column_type.is_some())] {
            if !present && complete {
                problems.push(at(
                    item.line,
                    &path,
                    format!("a column needs a `{missing}`"),
                ));
            }
        }
        if let (Some(name), Some(column_type)) = (name, column_type) {
            out.push(ColumnSpec { name, column_type });
        }
    }
    out
}

/// Whether `name` may name a collection or a column: not empty, at most
/// [`MAX_NAME_LEN`] bytes, no control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("holds a control character".to_owned());
    }
    Ok(())
}

/// Whether `name` may name a collection: letters, digits, `_`, `-` and `.`, not starting with
/// a dot, at most [`MAX_NAME_LEN`] bytes (it names a directory on disk).
pub fn check_collection_name(name: &str) -> Result<(), String> {
    check_name(name)?;
    if name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(format!(
            "collection name {name:?} may hold only letters, digits, `_`, `-` and `.`, and may not start with a dot"
        ));
    }
    Ok(())
}

fn group_of(role: ColumnRole) -> &'static str {
    match role {
        ColumnRole::Input => "input_columns",
        ColumnRole::Prediction => "prediction_columns",
        ColumnRole::Label => "label_columns",
        _ => "extra_columns",
    }
}

fn role_name(role: ColumnRole) -> &'static str {
    match role {
        ColumnRole::Input => "an input",
        ColumnRole::Prediction => "a prediction",
        ColumnRole::Label => "a label",
        _ => "an extra",
    }
}

fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    sextant_expr::did_you_mean(word, candidates.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "\
id_column: id
timestamp_column: ts
tags_column: tags
input_columns: [{name: f1, type: float}, {name: f2, type: int}, {name: f3, type: string}, {name: f4, type: bool}]
prediction_columns: [{name: proba, type: float}, {name: prediction, type: int}]
label_columns: [{name: actual, type: int}]
extra_columns: [{name: extra1, type: string}, {name: extra2, type: string}]
";

    #[test]
    fn the_seed_schema_reads_with_its_slots() {
        let spec = Schema::from_yaml(SEED, "model.yml").unwrap();
        let schema = Schema::from_spec(&spec).unwrap();
        let rows: Vec<&str> = schema.row_columns.iter().map(|c| &*c.name).collect();
        assert_eq!(
            rows,
            [
                "f1",
                "f2",
                "f3",
                "f4",
                "proba",
                "prediction",
                "extra1",
                "extra2"
            ]
        );
        assert_eq!(schema.key("actual"), Some(Key::Label(0)));
        assert_eq!(schema.key("tags"), Some(Key::Tags));
        assert_eq!(schema.spec(), spec);
        assert_eq!(Schema::from_stored(&schema.to_stored()), schema);
    }

    #[test]
    fn every_mistake_is_reported_with_its_line() {
        let src = "\
id_colum: id
input_columns:
  - {name: f1, type: flaot}
  - {name: f2}
  - name: f1
    type: int
prediction_columns: 3
";
        let problems = Schema::from_yaml(src, "bad.yml").unwrap_err();
        let text = problems.to_string();
        assert_eq!(
            text,
            "bad.yml:1: id_colum: unknown key `id_colum`; did you mean `id_column`?\n\
             bad.yml:3: input_columns[0].type: unknown column type \"flaot\"; did you mean `float`?; the types are float, int, string, bool\n\
             bad.yml:4: input_columns[1]: a column needs a `type`\n\
             bad.yml:7: prediction_columns: expected a list of columns ({name, type}), found \"3\""
        );
        // Once the shapes are right, the structural checks are placed too.
        let src = "input_columns:\n  - {name: f1, type: int}\n  - {name: f1, type: float}\n";
        let text = Schema::from_yaml(src, "dup.yml").unwrap_err().to_string();
        assert_eq!(
            text,
            "dup.yml:3: input_columns[1]: column `f1` is defined twice; each column needs its own name"
        );
    }

    #[test]
    fn columns_may_be_added_but_not_changed_or_removed() {
        let spec = Schema::from_yaml(SEED, "model.yml").unwrap();
        let schema = Schema::from_spec(&spec).unwrap();
        let mut added = spec.clone();
        added.input_columns.insert(
            0,
            ColumnSpec {
                name: "f0".into(),
                column_type: ColumnType::Float,
            },
        );
        let next = schema.evolve(&added).unwrap();
        assert_eq!(
            next.key("f0"),
            Some(Key::Row(8)),
            "a new column takes a new slot"
        );
        assert_eq!(next.key("f1"), Some(Key::Row(0)), "old slots stay");

        let mut changed = spec.clone();
        changed.input_columns[1].column_type = ColumnType::Float;
        changed.extra_columns.pop();
        let text = schema.evolve(&changed).unwrap_err().to_string();
        assert!(
            text.contains(
                "changing column `f2` from int to float is refused: stored events hold int values"
            ),
            "{text}"
        );
        assert!(
            text.contains("column `extra2` (an extra string) is missing"),
            "{text}"
        );
    }

    #[test]
    fn project_id_is_reserved_for_the_project_column() {
        let src = "input_columns: [{name: project_id, type: string}]\n";
        let text = Schema::from_yaml(src, "p.yml").unwrap_err().to_string();
        assert!(text.contains("`project_id` is reserved"), "{text}");
    }

    #[test]
    fn collection_names_are_safe_directory_names() {
        assert!(check_collection_name("fraud-model_v2.1").is_ok());
        for bad in ["", "../x", ".hidden", "a/b", "a b"] {
            assert!(check_collection_name(bad).is_err(), "{bad:?}");
        }
    }
}
