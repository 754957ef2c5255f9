//! The expression parser of [`super::Filter`] (recursive descent over tokens).

use std::str::FromStr;

use super::{Budget, Filter, Op, Value, check_name, limits};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    Comma,
}

fn err(at: usize, m: impl std::fmt::Display) -> Error {
    Error::InvalidSetting(format!("filter: {m} (at character {})", at + 1))
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>> {
    let cs: Vec<(usize, char)> = s.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let (at, c) = cs[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push((
                    at,
                    match c {
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        _ => Tok::Comma,
                    },
                ));
                i += 1;
            }
            '"' | '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => return Err(err(at, "unterminated string")),
                        Some(&(_, '\\')) => {
                            if let Some(&(_, n)) = cs.get(i + 1) {
                                v.push(n);
                            }
                            i += 2;
                        }
                        Some(&(_, q)) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(&(_, x)) => {
                            v.push(x);
                            i += 1;
                        }
                    }
                }
                out.push((at, Tok::Str(v)));
            }
            '=' | '!' | '<' | '>' => {
                let two: String = cs[i..(i + 2).min(cs.len())].iter().map(|x| x.1).collect();
                let (op, n) = match Op::parse(&two) {
                    Some(op) if two.len() == 2 => (op, 2),
                    _ => (
                        Op::parse(&c.to_string()).ok_or_else(|| err(at, "unknown operator"))?,
                        1,
                    ),
                };
                out.push((at, Tok::Op(op)));
                i += n;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < cs.len() && (cs[i].1.is_ascii_alphanumeric() || ".+-".contains(cs[i].1)) {
                    i += 1;
                }
                let t: String = cs[start..i].iter().map(|x| x.1).collect();
                let n = t
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| {
                        let t: String = t.chars().take(32).collect();
                        err(at, format!("not a finite number: {t}"))
                    })?;
                out.push((at, Tok::Num(n)));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < cs.len() && (cs[i].1.is_alphanumeric() || "_.".contains(cs[i].1)) {
                    i += 1;
                }
                let name: String = cs[start..i].iter().map(|x| x.1).collect();
                check_name(&name).map_err(|_| {
                    err(
                        at,
                        format!("a name is longer than {} bytes", limits::MAX_NAME),
                    )
                })?;
                out.push((at, Tok::Ident(name)));
            }
            _ => return Err(err(at, format!("unexpected {c:?}"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    /// Nesting of the group being read (bounded: the parser recurses).
    depth: usize,
    budget: Budget,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.0)
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(k))
    }

    /// Enters a nested group: one level deeper, one node more.
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        let at = self.at();
        self.budget.node(self.depth).map_err(|e| {
            err(
                at,
                e.to_string()
                    .trim_start_matches("invalid setting: filter: "),
            )
        })
    }

    fn expr(&mut self) -> Result<Filter> {
        let mut xs = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            xs.push(self.and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Filter::Or(xs)
        })
    }

    fn and(&mut self) -> Result<Filter> {
        let mut xs = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            xs.push(self.unary()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Filter::And(xs)
        })
    }

    fn unary(&mut self) -> Result<Filter> {
        if self.keyword("not") {
            self.pos += 1;
            self.enter()?;
            let x = self.unary();
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(x?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.enter()?;
            let x = self.expr();
            self.depth -= 1;
            let x = x?;
            if self.peek() != Some(&Tok::RParen) {
                return Err(err(self.at(), "expected )"));
            }
            self.pos += 1;
            return Ok(x);
        }
        self.cmp()
    }

    fn value(&mut self) -> Result<Value> {
        let v = match self.peek() {
            Some(Tok::Str(s)) => Value::Str(s.clone()),
            Some(Tok::Num(n)) => Value::Num(*n),
            _ => return Err(err(self.at(), "expected a value (\"text\" or a number)")),
        };
        let at = self.at();
        self.budget
            .values(1)
            .map_err(|_| err(at, format!("more than {} values", limits::MAX_VALUES)))?;
        self.pos += 1;
        Ok(v)
    }

    fn cmp(&mut self) -> Result<Filter> {
        let field = match self.peek() {
            Some(Tok::Ident(f))
                if !["and", "or", "not", "in"].contains(&f.to_lowercase().as_str()) =>
            {
                f.clone()
            }
            _ => return Err(err(self.at(), "expected a field name")),
        };
        self.pos += 1;
        let at = self.at();
        self.budget.node(self.depth).map_err(|e| {
            err(
                at,
                e.to_string()
                    .trim_start_matches("invalid setting: filter: "),
            )
        })?;
        let negated = self.keyword("not");
        if negated {
            self.pos += 1;
        }
        if self.keyword("in") {
            self.pos += 1;
            if self.peek() != Some(&Tok::LParen) {
                return Err(err(self.at(), "expected ( after IN"));
            }
            self.pos += 1;
            let mut values = vec![self.value()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                values.push(self.value()?);
            }
            if self.peek() != Some(&Tok::RParen) {
                return Err(err(self.at(), "expected ) closing the IN list"));
            }
            self.pos += 1;
            return Ok(Filter::In {
                field,
                values,
                negated,
            });
        }
        if negated {
            return Err(err(self.at(), "expected IN after NOT"));
        }
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => {
                return Err(err(
                    self.at(),
                    format!("expected an operator after {field}"),
                ));
            }
        };
        self.pos += 1;
        Ok(Filter::Cmp {
            field,
            op,
            value: self.value()?,
        })
    }
}

impl FromStr for Filter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.len() > limits::MAX_BYTES {
            return Err(Error::InvalidSetting(format!(
                "filter: {} bytes; the limit is {}",
                s.len(),
                limits::MAX_BYTES
            )));
        }
        let toks = lex(s)?;
        if toks.is_empty() {
            return Err(Error::InvalidSetting("filter: empty".into()));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            end: s.len(),
            depth: 0,
            budget: Budget::default(),
        };
        let f = p.expr()?;
        if p.pos < p.toks.len() {
            return Err(err(p.at(), "unexpected text after the filter"));
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FieldSpec, FieldValue, date_days};
    use super::*;

    fn fields() -> Vec<FieldSpec> {
        [
            "year:integer",
            "type:keyword",
            "score:float",
            "published:date",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
    }

    #[test]
    fn expressions_parse_with_and_binding_tighter_than_or() {
        let f: Filter = r#"year >= 2015 AND type IN ("review", 'trial') OR NOT score < 0.5"#
            .parse()
            .unwrap();
        let want = Filter::Or(vec![
            Filter::And(vec![
                Filter::Cmp {
                    field: "year".into(),
                    op: Op::Ge,
                    value: Value::Num(2015.0),
                },
                Filter::In {
                    field: "type".into(),
                    values: vec![Value::Str("review".into()), Value::Str("trial".into())],
                    negated: false,
                },
            ]),
            Filter::Not(Box::new(Filter::Cmp {
                field: "score".into(),
                op: Op::Lt,
                value: Value::Num(0.5),
            })),
        ]);
        assert_eq!(f, want);
        // Display parses back to the same filter.
        assert_eq!(f.to_string().parse::<Filter>().unwrap(), f);
        let g: Filter = "(year = 1 or year = 2) and type not in ('x')"
            .parse()
            .unwrap();
        assert_eq!(g.to_string().parse::<Filter>().unwrap(), g);
    }

    #[test]
    fn bad_expressions_say_where() {
        for (s, want) in [
            ("year >=", "expected a value"),
            ("year 2015", "expected an operator after year"),
            ("year >= 2015 AND", "expected a field name"),
            ("(year = 1", "expected )"),
            ("type IN ('a'", "closing the IN list"),
            ("type = 'x", "unterminated string"),
            ("year = 1 2", "unexpected text"),
            ("", "empty"),
        ] {
            let e = s.parse::<Filter>().unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let fs = fields();
        let e = "yeer > 1"
            .parse::<Filter>()
            .unwrap()
            .validate(&fs)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field \"yeer\""), "{e}");
        let e = "year = 'x'"
            .parse::<Filter>()
            .unwrap()
            .validate(&fs)
            .unwrap_err();
        assert!(e.to_string().contains("\"year\" is integer"), "{e}");
        let e = "year = 1.5"
            .parse::<Filter>()
            .unwrap()
            .validate(&fs)
            .unwrap_err();
        assert!(e.to_string().contains("\"year\" is integer"), "{e}");
        let e = "published > '2015-13-01'"
            .parse::<Filter>()
            .unwrap()
            .validate(&fs)
            .unwrap_err();
        assert!(e.to_string().contains("\"published\" is date"), "{e}");
        assert!(
            "year >= 2015 and type in ('a') and score < 1 and published >= '2015-01-31'"
                .parse::<Filter>()
                .unwrap()
                .validate(&fs)
                .is_ok()
        );
    }

    #[test]
    fn evaluation_against_metadata_and_the_json_form() {
        let doc = |year: f64, ty: &str| {
            let ty = ty.to_string();
            move |f: &str| match f {
                "year" => Some(FieldValue::Number(year)),
                "type" => Some(FieldValue::Keyword(ty.clone())),
                "published" => Some(FieldValue::Number(date_days("2016-02-29").unwrap() as f64)),
                _ => None,
            }
        };
        let f: Filter = "year >= 2015 AND type IN ('review', 'trial')"
            .parse()
            .unwrap();
        assert!(f.matches(&doc(2015.0, "trial")));
        assert!(!f.matches(&doc(2014.0, "trial")));
        assert!(!f.matches(&doc(2020.0, "case")));
        // A missing value: only != and NOT hold.
        assert!(
            "score != 1"
                .parse::<Filter>()
                .unwrap()
                .matches(&doc(1.0, "x"))
        );
        assert!(
            !"score = 1"
                .parse::<Filter>()
                .unwrap()
                .matches(&doc(1.0, "x"))
        );
        assert!(
            "published > '2016-02-28' and published < '2016-03-01'"
                .parse::<Filter>()
                .unwrap()
                .matches(&doc(1.0, "x"))
        );
        assert_eq!(date_days("1970-01-01"), Some(0));
        assert_eq!(date_days("2000-03-01"), Some(11_017));
        let j = serde_json::json!({"and": [
            {"field": "year", "op": ">=", "value": 2015},
            {"field": "type", "in": ["review", "trial"]}
        ]});
        assert_eq!(Filter::from_json(&j).unwrap(), f);
        assert_eq!(
            Filter::from_json(&serde_json::json!("year >= 2015")).unwrap(),
            "year >= 2015".parse().unwrap()
        );
        assert!(
            Filter::from_json(&serde_json::json!({"field": "year", "op": "~", "value": 1}))
                .is_err()
        );
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod limits_tests;
