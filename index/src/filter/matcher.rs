//! [`Matcher`]: a filter compiled for evaluation over many documents.

use std::collections::HashSet;

use super::{FieldValue, Filter, Op, Value, date_days};

/// A [`Filter`] compiled for evaluation over many documents: `IN` lists become hash
/// sets and date strings day numbers, so a document costs one lookup per condition
/// whatever the length of its lists. Agrees with [`Filter::matches`], its oracle.
#[derive(Debug, Clone)]
pub enum Matcher {
    Cmp {
        field: String,
        op: Op,
        value: Value,
        /// `value` as days, when it is a date string.
        days: Option<f64>,
    },
    In {
        field: String,
        strs: HashSet<String>,
        /// Numbers (and date strings as days) by their bits, `-0.0` as `0.0`.
        nums: HashSet<u64>,
        negated: bool,
    },
    And(Vec<Matcher>),
    Or(Vec<Matcher>),
    Not(Box<Matcher>),
}

fn num_key(x: f64) -> u64 {
    if x == 0.0 { 0u64 } else { x.to_bits() }
}

impl Matcher {
    pub fn compile(f: &Filter) -> Matcher {
        match f {
            Filter::Cmp { field, op, value } => Matcher::Cmp {
                field: field.clone(),
                op: *op,
                value: value.clone(),
                days: match value {
                    Value::Str(s) => date_days(s).map(|d| d as f64),
                    Value::Num(_) => None,
                },
            },
            Filter::In {
                field,
                values,
                negated,
            } => {
                let mut strs = HashSet::new();
                let mut nums = HashSet::new();
                for v in values {
                    match v {
                        Value::Str(s) => {
                            if let Some(d) = date_days(s) {
                                nums.insert(num_key(d as f64));
                            }
                            strs.insert(s.clone());
                        }
                        Value::Num(n) if !n.is_nan() => {
                            nums.insert(num_key(*n));
                        }
                        Value::Num(_) => {}
                    }
                }
                Matcher::In {
                    field: field.clone(),
                    strs,
                    nums,
                    negated: *negated,
                }
            }
            Filter::And(xs) => Matcher::And(xs.iter().map(Matcher::compile).collect()),
            Filter::Or(xs) => Matcher::Or(xs.iter().map(Matcher::compile).collect()),
            Filter::Not(x) => Matcher::Not(Box::new(Matcher::compile(x))),
        }
    }

    /// Whether a document passes (as [`Filter::matches`]).
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<FieldValue>) -> bool {
        match self {
            Matcher::Cmp {
                field,
                op,
                value,
                days,
            } => {
                let o = match (get(field), value) {
                    (Some(FieldValue::Keyword(a)), Value::Str(b)) => {
                        Some(a.as_str().cmp(b.as_str()))
                    }
                    (Some(FieldValue::Number(a)), Value::Num(b)) => a.partial_cmp(b),
                    (Some(FieldValue::Number(a)), Value::Str(_)) => {
                        days.and_then(|d| a.partial_cmp(&d))
                    }
                    _ => None,
                };
                match o {
                    Some(o) => op.holds(o),
                    None => *op == Op::Ne,
                }
            }
            Matcher::In {
                field,
                strs,
                nums,
                negated,
            } => {
                let hit = match get(field) {
                    Some(FieldValue::Keyword(a)) => strs.contains(&a),
                    Some(FieldValue::Number(a)) => !a.is_nan() && nums.contains(&num_key(a)),
                    None => false,
                };
                hit != *negated
            }
            Matcher::And(xs) => xs.iter().all(|x| x.matches(get)),
            Matcher::Or(xs) => xs.iter().any(|x| x.matches(get)),
            Matcher::Not(x) => !x.matches(get),
        }
    }
}
