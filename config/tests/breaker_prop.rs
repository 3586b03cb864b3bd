//! Properties of the circuit-breaker expression parser: it never panics, its error offsets
//! are usable, and generated expressions evaluate as their structure says (precedence,
//! parentheses, literal side, spacing) and print back to themselves.

use proptest::prelude::*;
use trafik_config::breaker::{BreakerExpr, Metrics, parse};

fn check_offset(src: &str, offset: usize) -> Result<(), TestCaseError> {
    prop_assert!(offset <= src.len(), "offset {} past {:?}", offset, src);
    prop_assert!(
        src.is_char_boundary(offset),
        "offset {} inside a char of {:?}",
        offset,
        src
    );
    Ok(())
}

/// Text made of the language's own pieces, so that the fuzzing reaches deep into the parser.
fn noisy() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("NetworkErrorRatio"),
        Just("LatencyAtQuantileMS"),
        Just("ResponseCodeRatio"),
        Just("Foo"),
        Just("("),
        Just(")"),
        Just(","),
        Just(" "),
        Just("\n"),
        Just("&&"),
        Just("||"),
        Just("&"),
        Just("|"),
        Just("=="),
        Just("!="),
        Just("="),
        Just("!"),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">="),
        Just("0"),
        Just("50"),
        Just("0.5"),
        Just(".5"),
        Just("5."),
        Just("1e3"),
        Just("1e"),
        Just("e"),
        Just("."),
        Just("-"),
        Just("_"),
        Just("é"),
        Just("≥"),
        Just("\""),
        Just("99999999999999999999"),
    ];
    proptest::collection::vec(token, 0..32).prop_map(|t| t.concat())
}

#[derive(Debug, Clone, Copy)]
struct Fixed {
    net: f64,
    latency_ms: f64,
    codes: f64,
}

impl Metrics for Fixed {
    fn network_error_ratio(&self) -> f64 {
        self.net
    }

    fn latency_at_quantile_ms(&self, _q: f64) -> f64 {
        self.latency_ms
    }

    fn response_code_ratio(&self, _: u16, _: u16, _: u16, _: u16) -> f64 {
        self.codes
    }
}

const OPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

fn holds(op: &str, a: f64, b: f64) -> bool {
    match op {
        "==" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        _ => a >= b,
    }
}

/// The operator that reads the same with its operands swapped.
fn mirror(op: &str) -> &str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        op => op,
    }
}

/// A generated expression: its source text, and its value under `M`.
#[derive(Debug, Clone)]
enum Gen {
    Leaf(String, bool),
    And(Vec<Gen>),
    Or(Vec<Gen>),
    Paren(Box<Gen>),
}

const M: Fixed = Fixed {
    net: 0.25,
    latency_ms: 120.6,
    codes: 0.5,
};

impl Gen {
    fn value(&self) -> bool {
        match self {
            Gen::Leaf(_, v) => *v,
            Gen::And(items) => items.iter().all(Gen::value),
            Gen::Or(items) => items.iter().any(Gen::value),
            Gen::Paren(inner) => inner.value(),
        }
    }

    /// Source text; `in_and` says an `||` list needs parentheses here.
    fn render(&self, in_and: bool) -> String {
        match self {
            Gen::Leaf(src, _) => src.clone(),
            Gen::And(items) => items
                .iter()
                .map(|g| g.render(true))
                .collect::<Vec<_>>()
                .join(" && "),
            Gen::Or(items) => {
                let s = items
                    .iter()
                    .map(|g| g.render(false))
                    .collect::<Vec<_>>()
                    .join("||");
                if in_and { format!("({s})") } else { s }
            }
            Gen::Paren(inner) => format!("( {} )", inner.render(false)),
        }
    }
}

fn leaf() -> impl Strategy<Value = Gen> {
    let op = proptest::sample::select(OPS.to_vec());
    let float_metric = prop_oneof![
        Just(("NetworkErrorRatio()".to_string(), M.net)),
        Just(("ResponseCodeRatio(500, 600, 0, 600)".to_string(), M.codes)),
    ];
    let float = (float_metric, op.clone(), 0u8..=4, any::<bool>()).prop_map(
        |((metric, actual), op, quarter, left)| {
            let lit = f64::from(quarter) / 4.0;
            let value = holds(op, actual, lit);
            let src = if left {
                format!("{lit:?} {} {metric}", mirror(op))
            } else {
                format!("{metric}{op}{lit:?}")
            };
            Gen::Leaf(src, value)
        },
    );
    let int = (op, 118i64..=123, any::<bool>()).prop_map(|(op, lit, left)| {
        // Truncated to whole milliseconds before comparing.
        let value = holds(op, M.latency_ms.trunc(), lit as f64);
        let metric = "LatencyAtQuantileMS(99.9)";
        let src = if left {
            format!("{lit} {} {metric}", mirror(op))
        } else {
            format!("{metric} {op} {lit}")
        };
        Gen::Leaf(src, value)
    });
    prop_oneof![float, int]
}

fn expr() -> impl Strategy<Value = Gen> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Gen::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Gen::Or),
            inner.prop_map(|g| Gen::Paren(Box::new(g))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn never_panics_on_any_text(src in any::<String>()) {
        if let Err(e) = parse(&src) {
            check_offset(&src, e.offset)?;
        }
    }

    #[test]
    fn never_panics_on_noise(src in noisy()) {
        match parse(&src) {
            Ok(expr) => {
                // Whatever parses prints back to the same expression.
                let again: BreakerExpr = expr.to_string().parse().unwrap();
                prop_assert_eq!(again, expr);
            }
            Err(e) => check_offset(&src, e.offset)?,
        }
    }

    #[test]
    fn generated_expressions_evaluate_as_built(g in expr()) {
        let src = g.render(false);
        let expr = parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        prop_assert_eq!(expr.eval(&M), g.value(), "{}", src);
        let printed = expr.to_string();
        let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&again, &expr, "{} printed as {}", src, printed);
        prop_assert_eq!(again.eval(&M), g.value());
    }
}
