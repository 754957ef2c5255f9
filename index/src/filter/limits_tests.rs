//! Tests of the bounds on filters read from outside, and of the compiled matcher.

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
    assert!(
        e.len() < 200 && e.contains("longer than 128"),
        "{}",
        e.len()
    );
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
        seine_kernels::rng::step(&mut seed);
        seed % n
    };
    let days = ["2015-01-01", "2016-02-29", "2020-12-31"];
    let leaf = |r: &mut dyn FnMut(u64) -> u64| -> Filter {
        match r(4) {
            0 => Filter::In {
                field: "year".into(),
                values: (0..r(6))
                    .map(|_| Value::Num((2010 + r(8)) as f64))
                    .collect(),
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
            let ty =
                (rnd(3) > 0).then(|| FieldValue::Keyword(["a", "b", "c"][rnd(3) as usize].into()));
            let published = (rnd(3) > 0)
                .then(|| FieldValue::Number(date_days(days[rnd(3) as usize]).unwrap() as f64));
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
