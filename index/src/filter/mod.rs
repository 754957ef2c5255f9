//! Metadata filters: the expression language (`year >= 2015 AND type IN ("review",
//! "trial")`), its JSON form, typing against an index's declared fields, and
//! evaluation against a document's metadata.
//!
//! Grammar (keywords case-insensitive; `AND` binds tighter than `OR`):
//! ```text
//! expr   := and (OR and)*
//! and    := unary (AND unary)*
//! unary  := NOT unary | '(' expr ')' | cmp
//! cmp    := field op value | field [NOT] IN '(' value (',' value)* ')'
//! op     := = | != | < | <= | > | >=
//! value  := "string" | 'string' | number
//! ```
//! JSON: `{"and": [..]}`, `{"or": [..]}`, `{"not": f}`, `{"field": "year", "op": ">=",
//! "value": 2015}`, `{"field": "type", "in": ["review", "trial"]}`, or an expression
//! string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Bounds on a filter from outside — an expression, its JSON form, a Python dict —
/// checked while it is read, so that no walk over a filter (validation, evaluation,
/// display) recurses deeper than [`MAX_DEPTH`] and no filter costs more than
/// [`MAX_NODES`] + [`MAX_VALUES`] lookups per document.
pub mod limits {
    /// Longest expression text, in bytes.
    pub const MAX_BYTES: usize = 256 * 1024;
    /// Deepest nesting of `(`, `NOT`, `AND`/`OR` groups.
    pub const MAX_DEPTH: usize = 32;
    /// Most conditions and operators (`AND`, `OR`, `NOT`) in one filter.
    pub const MAX_NODES: usize = 1_000;
    /// Most literal values in all (`IN` lists included).
    pub const MAX_VALUES: usize = 10_000;
    /// Longest field name, in bytes.
    pub const MAX_NAME: usize = 128;
}

/// What reading a filter has used of [`limits`].
#[derive(Default)]
pub(crate) struct Budget {
    nodes: usize,
    values: usize,
}

impl Budget {
    pub(crate) fn node(&mut self, depth: usize) -> Result<()> {
        self.nodes += 1;
        if depth > limits::MAX_DEPTH {
            return Err(Error::InvalidSetting(format!(
                "filter: nested deeper than {} levels",
                limits::MAX_DEPTH
            )));
        }
        if self.nodes > limits::MAX_NODES {
            return Err(Error::InvalidSetting(format!(
                "filter: more than {} conditions and operators",
                limits::MAX_NODES
            )));
        }
        Ok(())
    }

    pub(crate) fn values(&mut self, n: usize) -> Result<()> {
        self.values += n;
        if self.values > limits::MAX_VALUES {
            return Err(Error::InvalidSetting(format!(
                "filter: more than {} values",
                limits::MAX_VALUES
            )));
        }
        Ok(())
    }
}

/// A field name as read from outside: not empty, at most [`limits::MAX_NAME`] bytes
/// (a longer one is refused without being echoed).
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.len() > limits::MAX_NAME {
        return Err(Error::InvalidSetting(format!(
            "filter: a field name is longer than {} bytes",
            limits::MAX_NAME
        )));
    }
    Ok(())
}

/// A value for an error message: at most 64 characters.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// The type of a metadata field (`--fields year:integer,type:keyword`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Keyword,
    Integer,
    Float,
    /// `YYYY-MM-DD`, compared as days since 1970-01-01.
    Date,
}

impl FromStr for FieldType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "keyword" => FieldType::Keyword,
            "integer" => FieldType::Integer,
            "float" => FieldType::Float,
            "date" => FieldType::Date,
            o => {
                return Err(Error::InvalidSetting(format!(
                    "field type {o:?}: use keyword, integer, float or date"
                )));
            }
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Keyword => "keyword",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Date => "date",
        })
    }
}

/// A declared metadata field: `name:type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
}

impl FromStr for FieldSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, ty) = s.split_once(':').ok_or_else(|| {
            Error::InvalidSetting(format!("field {s:?}: write name:type (e.g. year:integer)"))
        })?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            || ["id", "title", "text"].contains(&name)
        {
            return Err(Error::InvalidSetting(format!(
                "field name {name:?}: letters, digits, _ and . only, not id/title/text"
            )));
        }
        Ok(FieldSpec {
            name: name.to_string(),
            ty: ty.trim().parse()?,
        })
    }
}

/// A literal in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            Value::Num(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => o == Equal,
            Op::Ne => o != Equal,
            Op::Lt => o == Less,
            Op::Le => o != Greater,
            Op::Gt => o == Greater,
            Op::Ge => o != Less,
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Cmp {
        field: String,
        op: Op,
        value: Value,
    },
    In {
        field: String,
        values: Vec<Value>,
        negated: bool,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Cmp { field, op, value } => write!(f, "{field} {} {value}", op.symbol()),
            Filter::In {
                field,
                values,
                negated,
            } => {
                let vs: Vec<String> = values.iter().map(Value::to_string).collect();
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{field} {not}IN ({})", vs.join(", "))
            }
            Filter::And(xs) | Filter::Or(xs) => {
                let sep = if matches!(self, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = xs.iter().map(|x| format!("({x})")).collect();
                f.write_str(&parts.join(sep))
            }
            Filter::Not(x) => write!(f, "NOT ({x})"),
        }
    }
}

/// A document's value of a field, as the index stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Keyword(String),
    Number(f64),
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (the one date parser, in
/// `seine_datasets::dates`).
pub use seine_datasets::date_days;

impl Filter {
    /// Checks the filter against the declared fields: every field known, every value
    /// of the field's type (dates as `"YYYY-MM-DD"` strings; integers whole). Errors
    /// name the field.
    pub fn validate(&self, fields: &[FieldSpec]) -> Result<()> {
        self.validate_at(fields, 0)
    }

    fn validate_at(&self, fields: &[FieldSpec], depth: usize) -> Result<()> {
        if depth > limits::MAX_DEPTH {
            return Err(Error::InvalidSetting(format!(
                "filter: nested deeper than {} levels",
                limits::MAX_DEPTH
            )));
        }
        let check = |field: &str, v: &Value| -> Result<()> {
            check_name(field)?;
            let Some(spec) = fields.iter().find(|f| f.name == field) else {
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::InvalidSetting(format!(
                    "filter: unknown field {field:?} (this index has: {})",
                    if known.is_empty() {
                        "no metadata fields".into()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let ok = match (spec.ty, v) {
                (FieldType::Keyword, Value::Str(_)) => true,
                (FieldType::Float, Value::Num(n)) => n.is_finite(),
                (FieldType::Integer, Value::Num(n)) => n.is_finite() && n.fract() == 0.0,
                (FieldType::Date, Value::Str(s)) => date_days(s).is_some(),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidSetting(format!(
                    "filter: field {field:?} is {}, but the filter compares it with {}",
                    spec.ty,
                    shown(v)
                )))
            }
        };
        match self {
            Filter::Cmp { field, value, .. } => check(field, value),
            Filter::In { field, values, .. } => values.iter().try_for_each(|v| check(field, v)),
            Filter::And(xs) | Filter::Or(xs) => {
                xs.iter().try_for_each(|x| x.validate_at(fields, depth + 1))
            }
            Filter::Not(x) => x.validate_at(fields, depth + 1),
        }
    }

    /// Whether a document passes; `get(field)` gives its value (None: the document has
    /// no value, and only `!=` / `NOT IN` / `NOT` hold).
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<FieldValue>) -> bool {
        let cmp = |field: &str, v: &Value| -> Option<std::cmp::Ordering> {
            match (get(field)?, v) {
                (FieldValue::Keyword(a), Value::Str(b)) => Some(a.as_str().cmp(b.as_str())),
                (FieldValue::Number(a), Value::Num(b)) => a.partial_cmp(b),
                (FieldValue::Number(a), Value::Str(b)) => {
                    date_days(b).and_then(|d| a.partial_cmp(&(d as f64)))
                }
                _ => None,
            }
        };
        match self {
            Filter::Cmp { field, op, value } => match cmp(field, value) {
                Some(o) => op.holds(o),
                None => *op == Op::Ne,
            },
            Filter::In {
                field,
                values,
                negated,
            } => {
                let hit = values
                    .iter()
                    .any(|v| cmp(field, v) == Some(std::cmp::Ordering::Equal));
                hit != *negated
            }
            Filter::And(xs) => xs.iter().all(|x| x.matches(get)),
            Filter::Or(xs) => xs.iter().any(|x| x.matches(get)),
            Filter::Not(x) => !x.matches(get),
        }
    }

    /// The JSON form (see the module docs), or an expression string; bounded by
    /// [`limits`] like an expression.
    pub fn from_json(v: &serde_json::Value) -> Result<Self> {
        Self::from_json_in(v, &mut Budget::default(), 0)
    }

    fn from_json_in(v: &serde_json::Value, budget: &mut Budget, depth: usize) -> Result<Self> {
        let bad = |m: String| Error::InvalidSetting(format!("filter: {m}"));
        let brief = |x: &serde_json::Value| {
            let s = x.to_string();
            match s.char_indices().nth(64) {
                Some((i, _)) => format!("{}…", &s[..i]),
                None => s,
            }
        };
        let value = |x: &serde_json::Value| -> Result<Value> {
            match x {
                serde_json::Value::String(s) => Ok(Value::Str(s.clone())),
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(f) if f.is_finite() => Ok(Value::Num(f)),
                    _ => Err(bad(format!("{n} is not a finite number"))),
                },
                o => Err(bad(format!(
                    "a value must be a string or a number, got {}",
                    brief(o)
                ))),
            }
        };
        budget.node(depth)?;
        match v {
            serde_json::Value::String(s) => {
                if depth > 0 {
                    return Err(bad("an expression string only at the top".into()));
                }
                s.parse()
            }
            serde_json::Value::Object(m) => {
                let mut list = |x: &serde_json::Value| -> Result<Vec<Filter>> {
                    let xs = x
                        .as_array()
                        .ok_or_else(|| bad(format!("expected a list, got {}", brief(x))))?;
                    xs.iter()
                        .map(|x| Filter::from_json_in(x, budget, depth + 1))
                        .collect()
                };
                if let Some(x) = m.get("and") {
                    return Ok(Filter::And(list(x)?));
                }
                if let Some(x) = m.get("or") {
                    return Ok(Filter::Or(list(x)?));
                }
                if let Some(x) = m.get("not") {
                    return Ok(Filter::Not(Box::new(Filter::from_json_in(
                        x,
                        budget,
                        depth + 1,
                    )?)));
                }
                let field = m
                    .get("field")
                    .and_then(|f| f.as_str())
                    .ok_or_else(|| {
                        bad(format!("expected and/or/not or a \"field\": {}", brief(v)))
                    })?
                    .to_string();
                check_name(&field)?;
                if let Some(vs) = m.get("in") {
                    let vs = vs
                        .as_array()
                        .ok_or_else(|| bad("\"in\" takes a list".into()))?;
                    budget.values(vs.len())?;
                    return Ok(Filter::In {
                        field,
                        values: vs.iter().map(value).collect::<Result<_>>()?,
                        negated: false,
                    });
                }
                let op = m.get("op").and_then(|o| o.as_str()).unwrap_or("=");
                let op = Op::parse(op).ok_or_else(|| {
                    bad(format!(
                        "unknown operator {}",
                        brief(&serde_json::Value::String(op.into()))
                    ))
                })?;
                let val = m
                    .get("value")
                    .ok_or_else(|| bad(format!("no \"value\": {}", brief(v))))?;
                budget.values(1)?;
                Ok(Filter::Cmp {
                    field,
                    op,
                    value: value(val)?,
                })
            }
            o => Err(bad(format!(
                "expected an object or a string, got {}",
                brief(o)
            ))),
        }
    }
}

pub mod docset;
pub mod fields;
mod matcher;
pub use matcher::Matcher;

mod parse;
