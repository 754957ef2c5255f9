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
                    err(at, format!("a name is longer than {} bytes", limits::MAX_NAME))
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
        self.budget
            .node(self.depth)
            .map_err(|e| err(at, e.to_string().trim_start_matches("invalid setting: filter: ")))
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
        self.budget.values(1).map_err(|_| {
            err(at, format!("more than {} values", limits::MAX_VALUES))
        })?;
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
        self.budget
            .node(self.depth)
            .map_err(|e| err(at, e.to_string().trim_start_matches("invalid setting: filter: ")))?;
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

    /// Regression (hostile input): 50,000 `(` or 200,000 `NOT ` overflowed the stack
    /// of the thread parsing them (a tokio worker: the whole server died). Now every
    /// form is refused by its bounds with a message, in any thread.
    #[test]
    fn deep_and_huge_filters_are_refused_not_crashing() {
        let deep = format!("{}year = 1{}", "(".repeat(50_000), ")".repeat(50_000));
        let e = deep.parse::<Filter>().unwrap_err().to_string();
        assert!(e.contains("nested deeper than 32"), "{e}");
        let nots = format!("{}year = 1", "NOT ".repeat(200_000));
        let e = nots.parse::<Filter>().unwrap_err().to_string();
        assert!(e.contains("bytes; the limit"), "{e}");
        let nots = format!("{}year = 1", "NOT ".repeat(40));
        let e = nots.parse::<Filter>().unwrap_err().to_string();
        assert!(e.contains("nested deeper than 32"), "{e}");
        // At the limit it parses.
        let ok = format!("{}year = 1{}", "(".repeat(31), ")".repeat(31));
        assert!(ok.parse::<Filter>().is_ok());
        // 20,000 leaves: refused by the node bound.
        let wide = vec!["year = 1"; 20_000].join(" AND ");
        let e = wide.parse::<Filter>().unwrap_err().to_string();
        assert!(e.contains("more than 1000 conditions"), "{e}");
        // An IN list past the value bound.
        let vals: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
        let e = format!("year IN ({})", vals.join(","))
            .parse::<Filter>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 10000 values"), "{e}");
        // The JSON form has the same bounds.
        let mut j = serde_json::json!({"field": "year", "value": 1});
        for _ in 0..40 {
            j = serde_json::json!({ "not": j });
        }
        let e = Filter::from_json(&j).unwrap_err().to_string();
        assert!(e.contains("nested deeper than 32"), "{e}");
        let leaves: Vec<_> = (0..2_000)
            .map(|_| serde_json::json!({"field": "year", "value": 1}))
            .collect();
        let e = Filter::from_json(&serde_json::json!({ "and": leaves }))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 1000 conditions"), "{e}");
        let vals: Vec<_> = (0..10_001).collect();
        let e = Filter::from_json(&serde_json::json!({"field": "year", "in": vals}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 10000 values"), "{e}");
        // A validation walk of a hand-built deep filter is bounded too.
        let mut f = "year = 1".parse::<Filter>().unwrap();
        for _ in 0..100 {
            f = Filter::Not(Box::new(f));
        }
        assert!(f.validate(&fields()).is_err());
    }

    /// Regression: `-inf`, `1e999` and impossible dates answered 200; a 1 MB field
    /// name was echoed back whole.
    #[test]
    fn non_finite_numbers_bad_dates_and_long_names_are_refused() {
        for s in ["year = -inf", "year > 1e999", "score < -1e400"] {
            let e = s.parse::<Filter>().unwrap_err().to_string();
            assert!(e.contains("not a finite number"), "{s}: {e}");
        }
        let fs = fields();
        for d in ["2015-02-31", "2015-02-29", "2015-04-31", "2015-00-10"] {
            let e = format!("published = '{d}'")
                .parse::<Filter>()
                .unwrap()
                .validate(&fs)
                .unwrap_err()
                .to_string();
            assert!(e.contains("\"published\" is date"), "{d}: {e}");
        }
        assert!(
            "published = '2016-02-29'"
                .parse::<Filter>()
                .unwrap()
                .validate(&fs)
                .is_ok()
        );
        let long = format!("{} = 1", "x".repeat(100_000));
        let e = long.parse::<Filter>().unwrap_err().to_string();
        assert!(e.len() < 200 && e.contains("longer than 128"), "{}", e.len());
        let j = serde_json::json!({"field": "y".repeat(1 << 20), "value": 1});
        let e = Filter::from_json(&j).unwrap_err().to_string();
        assert!(e.len() < 200, "{}", e.len());
        let big = format!("type = '{}'", "v".repeat(100_000));
        let e = big
            .parse::<Filter>()
            .unwrap()
            .validate(&[FieldSpec {
                name: "type".into(),
                ty: super::super::FieldType::Integer,
            }])
            .unwrap_err()
            .to_string();
        assert!(e.len() < 300, "{}", e.len());
    }

    /// The compiled matcher (hash sets for `IN`) agrees with the filter's own
    /// evaluation on random filters and documents, missing values included.
    #[test]
    fn matcher_agrees_with_the_filter() {
        use super::super::Matcher;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let days = ["2015-01-01", "2016-02-29", "2020-12-31"];
        let leaf = |r: &mut dyn FnMut(u64) -> u64| -> Filter {
            match r(4) {
                0 => Filter::In {
                    field: "year".into(),
                    values: (0..r(6)).map(|_| Value::Num((2010 + r(8)) as f64)).collect(),
                    negated: r(2) == 0,
                },
                1 => Filter::In {
                    field: "type".into(),
                    values: (0..r(4))
                        .map(|_| Value::Str(["a", "b", "c"][r(3) as usize].into()))
                        .collect(),
                    negated: r(2) == 0,
                },
                2 => Filter::In {
                    field: "published".into(),
                    values: (0..r(3))
                        .map(|_| Value::Str(days[r(3) as usize].into()))
                        .collect(),
                    negated: r(2) == 0,
                },
                _ => Filter::Cmp {
                    field: ["year", "published"][r(2) as usize].into(),
                    op: [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge][r(6) as usize],
                    value: if r(2) == 0 {
                        Value::Num((2010 + r(8)) as f64)
                    } else {
                        Value::Str(days[r(3) as usize].into())
                    },
                },
            }
        };
        for _ in 0..2_000 {
            let a = leaf(&mut rnd);
            let b = leaf(&mut rnd);
            let f = match rnd(4) {
                0 => a,
                1 => Filter::And(vec![a, b]),
                2 => Filter::Or(vec![a, b]),
                _ => Filter::Not(Box::new(Filter::Or(vec![a, b]))),
            };
            let m = Matcher::compile(&f);
            for _ in 0..8 {
                let year = (rnd(3) > 0).then(|| FieldValue::Number((2010 + rnd(8)) as f64));
                let ty = (rnd(3) > 0).then(|| FieldValue::Keyword(["a", "b", "c"][rnd(3) as usize].into()));
                let published = (rnd(3) > 0).then(|| {
                    FieldValue::Number(date_days(days[rnd(3) as usize]).unwrap() as f64)
                });
                let get = |name: &str| match name {
                    "year" => year.clone(),
                    "type" => ty.clone(),
                    "published" => published.clone(),
                    _ => None,
                };
                assert_eq!(m.matches(&get), f.matches(&get), "{f}");
            }
        }
    }
}
