//! Shared pieces of the SQL: ids, filters, page tokens, JSON columns.

use rusqlite::types::{Type, Value};
use rusqlite::{Connection, Row, params_from_iter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::types::Page;

/// A fresh UUID v4 id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Rejects an empty or blank name with a message naming what it was for.
pub(crate) fn require_name(what: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::InvalidInput(format!(
            "{what} name must not be empty (got {name:?})"
        )));
    }
    Ok(())
}

/// An optional client key, with the empty string meaning none.
pub(crate) fn client_key(key: Option<&str>) -> Option<&str> {
    key.filter(|key| !key.is_empty())
}

/// A column holding JSON, as text.
pub(crate) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|err| Error::InvalidInput(format!("cannot encode value as JSON: {err}")))
}

/// Reads a JSON column; a value that does not parse is a conversion error of that column.
pub(crate) fn json_column<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err)))
}

/// The `WHERE` conditions of a listing and their parameters, in order.
#[derive(Debug)]
pub(crate) struct Conditions {
    clauses: Vec<String>,
    params: Vec<Value>,
}

impl Conditions {
    /// Rows of one organization.
    pub(crate) fn organization(org_id: &str) -> Self {
        Conditions {
            clauses: vec!["organization_id = ?".to_owned()],
            params: vec![Value::Text(org_id.to_owned())],
        }
    }

    /// Rows whose `column` is any of `values`; no condition when `values` is `None`, and no rows
    /// when it is an empty list. The values travel as one JSON array parameter, so a filter of
    /// any length is one statement with a fixed number of parameters.
    pub(crate) fn any_of(&mut self, column: &str, values: &Option<Vec<String>>) -> Result<()> {
        if let Some(values) = values {
            self.clauses
                .push(format!("{column} IN (SELECT value FROM json_each(?))"));
            self.params.push(Value::Text(to_json(values)?));
        }
        Ok(())
    }
}

impl Conditions {
    /// A condition of its own with one parameter (`?` in `clause`).
    pub(crate) fn clause(&mut self, clause: &str, param: Value) {
        self.clauses.push(clause.to_owned());
        self.params.push(param);
    }

    /// A condition of its own with several parameters, in the order of the `?` in `clause`.
    pub(crate) fn clause_params(&mut self, clause: &str, params: Vec<Value>) {
        self.clauses.push(clause.to_owned());
        self.params.extend(params);
    }

    /// A condition without parameters.
    pub(crate) fn plain(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// Rows whose JSON array `column` holds any of `values`; as [`Conditions::any_of`].
    pub(crate) fn any_in_array(
        &mut self,
        column: &str,
        values: &Option<Vec<String>>,
    ) -> Result<()> {
        if let Some(values) = values {
            self.clauses.push(format!(
                "EXISTS (SELECT 1 FROM json_each({column}) AS element \
                 WHERE element.value IN (SELECT value FROM json_each(?)))"
            ));
            self.params.push(Value::Text(to_json(values)?));
        }
        Ok(())
    }
}

/// Which way a listing runs through `seq`, the tables' insertion-ordered primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Oldest first.
    Created,
    /// Newest first.
    NewestFirst,
}

/// Runs one page of a listing. `select` is `SELECT <columns> FROM <table>` whose first column
/// is `seq`; `read` maps a row to an item, reading the columns after `seq`.
///
/// The page token is the `seq` of the page's last row, so a page continues exactly after the
/// previous one even when rows were added in between.
pub(crate) fn list_page<T>(
    conn: &Connection,
    select: &str,
    mut conditions: Conditions,
    page: &Page,
    order: Order,
    read: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<(Vec<T>, String)> {
    let size = match page.size {
        0 => Page::DEFAULT_SIZE,
        size => size.min(Page::MAX_SIZE),
    } as usize;
    if let Some(after) = decode_token(&page.token)? {
        let comparison = match order {
            Order::Created => "seq > ?",
            Order::NewestFirst => "seq < ?",
        };
        conditions.clauses.push(comparison.to_owned());
        conditions.params.push(Value::Integer(after));
    }
    let direction = match order {
        Order::Created => "ASC",
        Order::NewestFirst => "DESC",
    };
    // One row more than the page tells whether another page follows.
    conditions.params.push(Value::Integer(size as i64 + 1));
    let sql = format!(
        "{select} WHERE {} ORDER BY seq {direction} LIMIT ?",
        conditions.clauses.join(" AND "),
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(conditions.params))?;
    let mut items = Vec::with_capacity(size.min(64));
    let mut last_seq = 0;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if items.len() == size {
            more = true;
            break;
        }
        last_seq = row.get::<_, i64>(0)?;
        items.push(read(row)?);
    }
    let token = if more {
        encode_token(last_seq)
    } else {
        String::new()
    };
    Ok((items, token))
}

const TOKEN_PREFIX: &str = "sxp1.";

fn encode_token(seq: i64) -> String {
    format!("{TOKEN_PREFIX}{seq:x}")
}

fn decode_token(token: &str) -> Result<Option<i64>> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|seq| *seq >= 0)
        .map(Some)
        .ok_or_else(|| Error::InvalidInput(format!("invalid page token {token:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens() {
        for seq in [0, 1, 255, i64::MAX] {
            assert_eq!(decode_token(&encode_token(seq)).unwrap(), Some(seq));
        }
        assert_eq!(decode_token("").unwrap(), None);
        for bad in ["x", "sxp1.", "sxp1.zz", "sxp1.-1", "10"] {
            let err = decode_token(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn client_keys() {
        assert_eq!(client_key(None), None);
        assert_eq!(client_key(Some("")), None);
        assert_eq!(client_key(Some("k")), Some("k"));
    }
}
