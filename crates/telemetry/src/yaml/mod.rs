//! Telemetry configs, named-expression modules and rule modules in YAML, in the format of
//! Sift's `sift_py` (anchors, aliases and `<<` merge keys included).
//!
//! Loading reports every problem at once as `file:line: path: message`, and only a config
//! that passes validation is returned.

mod decode;
mod node;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use node::{Node, NodeKind, SyntaxError};

use crate::config::{RuleConfig, TelemetryConfig};
use crate::problem::{Problem, Problems, SourceMap};
use crate::validate::{
    ChannelScope, CompiledRule, NamedExpression, NamedExpressions, ValidConfig,
    validate_config_with, validate_rule,
};
use decode::Decoder;

/// Reads and validates the telemetry config in `path`, resolving named expressions in `named`.
pub fn load_config_file(path: &Path, named: &NamedExpressions) -> Result<ValidConfig, Problems> {
    let file = file_name(path);
    let src = read(path, &file)?;
    load_config_str(&src, file, named)
}

/// Reads and validates a telemetry config from `src`; `file` names it in problems.
pub fn load_config_str(
    src: &str,
    file: impl Into<Arc<str>>,
    named: &NamedExpressions,
) -> Result<ValidConfig, Problems> {
    let map = SourceMap::new(file);
    let root = parse(src, &map)?;
    let mut decoder = Decoder::new(map);
    let config = decoder.config(&root);
    let mut problems = std::mem::take(&mut decoder.problems);
    let validated = validate_config_with(&config, named, &decoder.untyped);
    if let Err(more) = &validated {
        // A value the decoder could not read is reported once, by the decoder; what
        // validation says of the same path follows from it.
        let unreadable: std::collections::HashSet<String> =
            problems.iter().map(|p| p.path.clone()).collect();
        problems.extend(
            more.iter()
                .filter(|p| !unreadable.contains(&p.path))
                .cloned(),
        );
    }
    if problems.is_empty() {
        return validated;
    }
    Err(locate_all(problems, &decoder.map))
}

/// Reads a telemetry config from `src` without validating it: for comparing versions, or for
/// inspecting a config that does not validate.
pub fn parse_config_str(src: &str, file: impl Into<Arc<str>>) -> Result<TelemetryConfig, Problems> {
    let map = SourceMap::new(file);
    let root = parse(src, &map)?;
    let mut decoder = Decoder::new(map);
    let config = decoder.config(&root);
    let problems = std::mem::take(&mut decoder.problems);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(locate_all(problems, &decoder.map))
    }
}

/// Reads named-expression modules: YAML files mapping names to expression texts, such as
/// `kinetic_energy_gt: 0.5 * $mass * $1 * $1 > $threshold`. Each expression must parse, and a
/// name may be defined once across all the files.
pub fn load_named_expressions<P: AsRef<Path>>(paths: &[P]) -> Result<NamedExpressions, Problems> {
    let mut named = NamedExpressions::new();
    let mut problems = Vec::new();
    for path in paths {
        let (file, map, root) = match read_document(path.as_ref()) {
            Ok(document) => document,
            Err(p) => {
                problems.extend(p);
                continue;
            }
        };
        let Some(entries) = root.as_map() else {
            problems.push(map.locate(Problem::new(
                "",
                format!(
                    "expected a named-expression module: a mapping of names to expressions, found {}",
                    root.describe()
                ),
            )));
            continue;
        };
        for (key, value) in entries {
            let mut local = SourceMap::new(file.clone());
            let name = key.as_scalar().unwrap_or_default().to_owned();
            local.record(&name, value.line);
            let text = match value.as_scalar() {
                Some(text) if !value.is_null() => text.to_owned(),
                _ => {
                    problems.push(local.locate(Problem::new(
                        &name,
                        format!("expected an expression, found {}", value.describe()),
                    )));
                    continue;
                }
            };
            if let Err(diagnostics) = sextant_expr::parse(&text) {
                for d in diagnostics {
                    problems.push(local.locate(Problem::new(&name, d.message)));
                }
                continue;
            }
            let origin = format!("{file}:{}", value.line);
            if let Some(first) = named.insert(
                name.clone(),
                NamedExpression {
                    text,
                    origin: Some(origin),
                },
            ) {
                let first = first.origin.clone().unwrap_or_default();
                problems.push(local.locate(Problem::new(
                    &name,
                    format!("named expression `{name}` is defined twice (first at {first})"),
                )));
            }
        }
    }
    Problems(problems).into_result(named)
}

/// The rules of one rule-module file.
#[derive(Debug, Clone)]
pub struct RuleModule {
    /// The file the rules came from.
    pub file: Arc<str>,
    /// The rules, in file order.
    pub rules: Vec<RuleConfig>,
    map: SourceMap,
    problems: Vec<Problem>,
}

impl RuleModule {
    /// Validates every rule against `scope`, reporting the file's own problems too.
    pub fn validate(
        &self,
        scope: ChannelScope<'_>,
        named: &NamedExpressions,
    ) -> Result<Vec<CompiledRule>, Problems> {
        self.validate_each(named, |_| vec![(scope, None)])
    }

    /// Validates each rule against the configs of the assets its `asset_names` name, and on its
    /// own (see [`ChannelScope::Standalone`]) when none of `configs` is for its assets.
    pub fn validate_for_assets(
        &self,
        configs: &[TelemetryConfig],
        named: &NamedExpressions,
    ) -> Result<Vec<CompiledRule>, Problems> {
        self.validate_each(named, |rule| {
            let matching: Vec<_> = configs
                .iter()
                .filter(|c| rule.asset_names.contains(&c.asset_name))
                .map(|c| {
                    (
                        ChannelScope::Declared(&c.channels),
                        Some(c.asset_name.as_str()),
                    )
                })
                .collect();
            if matching.is_empty() {
                vec![(ChannelScope::Standalone, None)]
            } else {
                matching
            }
        })
    }

    /// Validates each rule against the scopes `targets` gives for it; with several scopes a
    /// problem names the asset it is for.
    fn validate_each<'c>(
        &self,
        named: &NamedExpressions,
        targets: impl Fn(&RuleConfig) -> Vec<(ChannelScope<'c>, Option<&'c str>)>,
    ) -> Result<Vec<CompiledRule>, Problems> {
        let mut problems = self.problems.clone();
        let mut compiled = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let path = format!("rules[{i}]");
            if rule.asset_names.is_empty() && rule.tag_names.is_empty() {
                problems.push(Problem::new(
                    &path,
                    format!(
                        "rule `{}` of a rule module applies to nothing: give asset_names or tag_names",
                        rule.name
                    ),
                ));
            }
            let targets = targets(rule);
            let several = targets.len() > 1;
            for (scope, asset) in targets {
                let mut own = Vec::new();
                let rule_ok =
                    validate_rule(rule, &path, scope, named, &Default::default(), &mut own);
                for mut p in own {
                    if let Some(asset) = asset.filter(|_| several) {
                        p.message = format!("for asset `{asset}`: {}", p.message);
                    }
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
                if let Some(c) = rule_ok {
                    compiled.push(c);
                }
            }
        }
        Problems(locate_all(problems, &self.map).0).into_result(compiled)
    }
}

/// Reads rule modules: each a YAML file with a `rules:` list, or a directory whose `.yml` and
/// `.yaml` files (recursively, in name order) are rule modules. Problems of shape are kept in
/// each module and reported by [`RuleModule::validate`]; unreadable files fail here.
pub fn load_rule_modules<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<RuleModule>, Problems> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        collect_yaml_files(path.as_ref(), &mut files, &mut problems);
    }
    let mut modules = Vec::new();
    for path in files {
        let (file, map, root) = match read_document(&path) {
            Ok(document) => document,
            Err(p) => {
                problems.extend(p);
                continue;
            }
        };
        let mut decoder = Decoder::new(map);
        let mut rules = Vec::new();
        if let Some(fields) = decoder_fields(&mut decoder, &root) {
            for (i, item) in fields.iter().enumerate() {
                if let Some(rule) = decoder.rule(item, &format!("rules[{i}]")) {
                    rules.push(rule);
                }
            }
        }
        modules.push(RuleModule {
            file,
            rules,
            problems: std::mem::take(&mut decoder.problems),
            map: decoder.map,
        });
    }
    Problems(problems).into_result(modules)
}

fn decoder_fields<'n>(decoder: &mut Decoder, root: &'n Node) -> Option<&'n [Node]> {
    let rules = root
        .as_map()
        .and_then(|entries| entries.iter().find(|(k, _)| k.as_scalar() == Some("rules")))
        .map(|(_, v)| v);
    match rules.and_then(Node::as_seq) {
        Some(items) => {
            decoder.map.record("rules", rules.map_or(1, |n| n.line));
            Some(items)
        }
        None => {
            decoder.problems.push(Problem::new(
                "rules",
                "expected a rule module: a mapping with a `rules:` list",
            ));
            decoder.map.record("rules", root.line);
            None
        }
    }
}

fn collect_yaml_files(path: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                problems.push(file_problem(path, format!("cannot read directory: {e}")));
                return;
            }
        };
        entries.sort();
        for entry in entries {
            let is_yaml = entry.extension().is_some_and(|x| x == "yml" || x == "yaml");
            if entry.is_dir() || is_yaml {
                collect_yaml_files(&entry, files, problems);
            }
        }
    } else {
        files.push(path.to_owned());
    }
}

/// Reads and parses a YAML file: its name for problems, an empty source map for it, and its
/// root node.
fn read_document(path: &Path) -> Result<(Arc<str>, SourceMap, Node), Problems> {
    let file = file_name(path);
    let src = read(path, &file)?;
    let map = SourceMap::new(file.clone());
    let root = parse(&src, &map)?;
    Ok((file, map, root))
}

fn file_name(path: &Path) -> Arc<str> {
    Arc::from(path.display().to_string())
}

fn file_problem(path: &Path, message: String) -> Problem {
    Problem {
        file: Some(file_name(path)),
        line: None,
        path: String::new(),
        message,
    }
}

fn read(path: &Path, file: &Arc<str>) -> Result<String, Problems> {
    std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: Some(file.clone()),
            line: None,
            path: String::new(),
            message: format!("cannot read file: {e}"),
        }])
    })
}

fn parse(src: &str, map: &SourceMap) -> Result<Node, Problems> {
    Node::parse(src).map_err(|e| {
        Problems(vec![Problem {
            file: map.file().cloned(),
            line: Some(e.line),
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
        }])
    })
}

fn locate_all(problems: Vec<Problem>, map: &SourceMap) -> Problems {
    let mut located: Vec<Problem> = problems.into_iter().map(|p| map.locate(p)).collect();
    // Document order reads best; problems of one line keep the order they were found in.
    located.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    Problems(located)
}

impl TelemetryConfig {
    /// Reads and validates a telemetry config file whose rules use no named expressions: the
    /// equivalent of `sift_py`'s `TelemetryConfig.try_from_yaml(path)`.
    ///
    /// ```
    /// use sextant_telemetry::TelemetryConfig;
    ///
    /// let path = std::env::temp_dir().join(format!("lv426-{}.yml", std::process::id()));
    /// std::fs::write(&path, "
    /// asset_name: LV426
    /// ingestion_client_key: lv426
    /// channels:
    ///   temperature: &temperature
    ///     name: temperature
    ///     component: thruster
    ///     data_type: double
    /// flows:
    ///   - name: reading
    ///     channels:
    ///       - <<: *temperature
    /// ")?;
    /// let config = TelemetryConfig::try_from_yaml(&path)?;
    /// assert_eq!(config.asset_name, "LV426");
    /// assert_eq!(config.flows[0].channels[0].full_name(), "thruster.temperature");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_from_yaml(path: impl AsRef<Path>) -> Result<TelemetryConfig, Problems> {
        load_config_file(path.as_ref(), &NamedExpressions::new())
            .map(ValidConfig::into_resolved_config)
    }

    /// Reads and validates a telemetry config file with the named-expression modules its
    /// rules use: `sift_py`'s `TelemetryConfig.try_from_yaml(path, modules)`. As there, each
    /// rule comes back with its expression resolved (the named expression's text with
    /// sub-expressions in place).
    pub fn try_from_yaml_with_modules<P: AsRef<Path>>(
        path: impl AsRef<Path>,
        expression_modules: &[P],
    ) -> Result<TelemetryConfig, Problems> {
        let named = load_named_expressions(expression_modules)?;
        load_config_file(path.as_ref(), &named).map(ValidConfig::into_resolved_config)
    }
}
