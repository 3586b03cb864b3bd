//! Circuit-breaker expressions: what v1 accepts, how they evaluate, and where errors point.

use trafik_config::breaker::{BreakerExpr, Metrics, parse};

/// Fixed metrics: a network-error ratio, one latency for every quantile, and response counts
/// per status code.
struct Fake {
    net: f64,
    latency_ms: f64,
    codes: &'static [(u16, u32)],
}

impl Metrics for Fake {
    fn network_error_ratio(&self) -> f64 {
        self.net
    }

    fn latency_at_quantile_ms(&self, _q: f64) -> f64 {
        self.latency_ms
    }

    fn response_code_ratio(&self, a: u16, b: u16, c: u16, d: u16) -> f64 {
        let count = |lo: u16, hi: u16| -> u32 {
            self.codes
                .iter()
                .filter(|(code, _)| (lo..hi).contains(code))
                .map(|(_, n)| n)
                .sum()
        };
        match count(c, d) {
            0 => 0.0,
            den => f64::from(count(a, b)) / f64::from(den),
        }
    }
}

const QUIET: Fake = Fake {
    net: 0.0,
    latency_ms: 10.0,
    codes: &[(200, 10)],
};

fn eval(expr: &str, m: &Fake) -> bool {
    parse(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .eval(m)
}

#[test]
fn v1_documentation_examples() {
    let bad = Fake {
        net: 0.6,
        latency_ms: 150.0,
        codes: &[(200, 5), (500, 6)],
    };
    for expr in [
        "NetworkErrorRatio() > 0.5",
        "LatencyAtQuantileMS(50.0) > 50",
        "ResponseCodeRatio(500, 600, 0, 600) > 0.5",
        "NetworkErrorRatio() > 0.30 || LatencyAtQuantileMS(50.0) > 100 || ResponseCodeRatio(500,600,0,600) > 0.25",
    ] {
        assert!(eval(expr, &bad), "{expr}");
        assert!(!eval(expr, &QUIET), "{expr}");
    }
}

#[test]
fn operators() {
    let m = Fake {
        net: 0.5,
        latency_ms: 50.9,
        codes: &[],
    };
    for (expr, want) in [
        ("NetworkErrorRatio() == 0.5", true),
        ("NetworkErrorRatio() != 0.5", false),
        ("NetworkErrorRatio() < 0.5", false),
        ("NetworkErrorRatio() <= 0.5", true),
        ("NetworkErrorRatio() > 0.5", false),
        ("NetworkErrorRatio() >= 0.5", true),
        // Latency is truncated to whole milliseconds, as v1's int conversion.
        ("LatencyAtQuantileMS(50.0) == 50", true),
        ("LatencyAtQuantileMS(50.0) > 50", false),
        ("LatencyAtQuantileMS(50.0) >= 50", true),
        ("LatencyAtQuantileMS(50.0) < 51", true),
        ("LatencyAtQuantileMS(50.0) <= 49", false),
        ("LatencyAtQuantileMS(50.0) != 50", false),
    ] {
        assert_eq!(eval(expr, &m), want, "{expr}");
    }
}

#[test]
fn precedence_and_parentheses() {
    let m = Fake {
        net: 0.6,
        latency_ms: 10.0,
        codes: &[(200, 1)],
    };
    // `&&` binds tighter than `||`.
    assert!(eval(
        "NetworkErrorRatio() > 0.5 || NetworkErrorRatio() > 0.9 && LatencyAtQuantileMS(50.0) > 100",
        &m
    ));
    assert!(!eval(
        "(NetworkErrorRatio() > 0.5 || NetworkErrorRatio() > 0.9) && LatencyAtQuantileMS(50.0) > 100",
        &m
    ));
    assert!(eval("\n\t( ( NetworkErrorRatio()>0.5 ) )\r\n", &m));
}

#[test]
fn response_code_ratio_uses_half_open_ranges() {
    let m = Fake {
        net: 0.0,
        latency_ms: 0.0,
        codes: &[(200, 2), (500, 1), (600, 5)],
    };
    assert!(eval("ResponseCodeRatio(500, 600, 0, 600) > 0.33", &m));
    assert!(eval("ResponseCodeRatio(500, 600, 0, 600) < 0.34", &m));
    assert!(eval("ResponseCodeRatio(500, 501, 500, 501) == 1.0", &m));
    // An empty denominator gives 0, never NaN.
    assert!(eval("ResponseCodeRatio(500, 600, 300, 400) == 0.0", &m));
    // Go allows a trailing comma in a call.
    assert!(eval("ResponseCodeRatio(500, 600, 0, 600,) > 0.3", &m));
}

#[test]
fn literal_on_the_left() {
    let m = Fake {
        net: 0.6,
        latency_ms: 120.0,
        codes: &[],
    };
    assert!(eval("0.5 < NetworkErrorRatio()", &m));
    assert!(!eval("0.5 > NetworkErrorRatio()", &m));
    assert!(eval("100 <= LatencyAtQuantileMS(99.0)", &m));
}

#[test]
fn display_is_canonical_and_parses_back() {
    for (src, canonical) in [
        ("NetworkErrorRatio()>0.5", "NetworkErrorRatio() > 0.5"),
        ("NetworkErrorRatio() > 1.", "NetworkErrorRatio() > 1.0"),
        ("0.5 <= NetworkErrorRatio()", "NetworkErrorRatio() >= 0.5"),
        (
            "(NetworkErrorRatio() > .5 || LatencyAtQuantileMS(5e1) > 9) && ResponseCodeRatio(500,600,0,600) > 0.25",
            "(NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 9) && ResponseCodeRatio(500, 600, 0, 600) > 0.25",
        ),
        (
            "(NetworkErrorRatio() > 0.5 && NetworkErrorRatio() < 0.9) || (NetworkErrorRatio() == 0.1)",
            "NetworkErrorRatio() > 0.5 && NetworkErrorRatio() < 0.9 || NetworkErrorRatio() == 0.1",
        ),
    ] {
        let expr = parse(src).unwrap();
        assert_eq!(expr.to_string(), canonical, "{src}");
        assert_eq!(canonical.parse::<BreakerExpr>().unwrap(), expr, "{src}");
    }
}

/// `(expression, byte offset, words the message must contain)`.
#[rustfmt::skip]
const ERRORS: &[(&str, usize, &str)] = &[
    ("", 0, "empty expression"),
    ("   ", 0, "empty expression"),
    // Unknown functions and identifiers.
    ("Foo() > 0.5", 0, "unknown function `Foo`"),
    ("NetworkErrorRatio() > 0.5 || networkErrorRatio() > 0.5", 29, "unknown function"),
    ("NetworkErrorRatio > 0.5", 0, "call it"),
    // Arity and argument types.
    ("NetworkErrorRatio(1) > 0.5", 18, "takes no arguments"),
    ("LatencyAtQuantileMS() > 50", 20, "takes one argument"),
    ("LatencyAtQuantileMS(50.0, 1.0) > 50", 26, "takes one argument"),
    ("LatencyAtQuantileMS(50) > 50", 20, "must be a float such as 50.0"),
    ("ResponseCodeRatio(500, 600, 0) > 0.5", 29, "takes 4 arguments"),
    ("ResponseCodeRatio(500, 600, 0, 600, 1) > 0.5", 36, "takes 4 arguments"),
    ("ResponseCodeRatio(500.0, 600, 0, 600) > 0.5", 18, "must be ints"),
    ("LatencyAtQuantileMS(NetworkErrorRatio()) > 5", 20, "number literals"),
    ("ResponseCodeRatio(500 600, 0, 600) > 0.5", 22, "expected `,` or `)`"),
    // Types of comparisons.
    ("NetworkErrorRatio() > 1", 22, "ratio compared to an int"),
    ("ResponseCodeRatio(500, 600, 0, 600) >= 0", 39, "ratio compared to an int"),
    ("1 < NetworkErrorRatio()", 0, "ratio compared to an int"),
    ("LatencyAtQuantileMS(50.0) > 50.0", 28, "write 50 instead of 50.0"),
    ("LatencyAtQuantileMS(50.0) > 50.5", 28, "latency compared to a float"),
    ("NetworkErrorRatio() > NetworkErrorRatio()", 22, "not to another metric"),
    ("0.5 < 0.6", 0, "two numbers"),
    ("NetworkErrorRatio()", 0, "alone is not a condition"),
    ("LatencyAtQuantileMS(50.0) > 5 && NetworkErrorRatio()", 33, "alone is not a condition"),
    ("(NetworkErrorRatio()) || NetworkErrorRatio() > 0.5", 0, "alone is not a condition"),
    ("0.5", 0, "a number alone"),
    ("NetworkErrorRatio() > 0.5 > 0.3", 26, "cannot be compared again"),
    ("NetworkErrorRatio() > (NetworkErrorRatio() > 0.5)", 22, "a condition cannot be compared"),
    // Missing operands.
    ("NetworkErrorRatio() >", 21, "missing operand after `>`"),
    ("NetworkErrorRatio() > 0.5 &&", 28, "missing operand after `&&`"),
    ("|| NetworkErrorRatio() > 0.5", 0, "missing operand before `||`"),
    ("()", 1, "missing operand after `(`"),
    // Parentheses.
    ("(NetworkErrorRatio() > 0.5", 0, "unclosed `(`"),
    ("((NetworkErrorRatio() > 0.5)", 0, "unclosed `(`"),
    ("NetworkErrorRatio() > 0.5)", 25, "unmatched `)`"),
    ("NetworkErrorRatio( > 0.5", 19, "expected `)` closing `NetworkErrorRatio(`"),
    ("NetworkErrorRatio(", 17, "unclosed `(`"),
    ("ResponseCodeRatio(500, 600,", 17, "unclosed `(`"),
    ("(NetworkErrorRatio() > 0.5 0.3)", 27, "expected `)`"),
    // Bad literals and characters.
    ("NetworkErrorRatio() > 0.5.1", 22, "bad number"),
    ("NetworkErrorRatio() > 5e", 22, "exponent has no digits"),
    ("LatencyAtQuantileMS(50.0) > 0x10", 28, "bad number"),
    ("LatencyAtQuantileMS(50.0) > 50ms", 28, "bad number `50ms`"),
    ("LatencyAtQuantileMS(50.0) > 99999999999999999999", 28, "out of range"),
    ("NetworkErrorRatio() > -0.5", 22, "without a sign"),
    ("NetworkErrorRatio() = 0.5", 20, "use `==`"),
    ("NetworkErrorRatio() > 0.5 and NetworkErrorRatio() < 0.9", 26, "unexpected `and`"),
    ("NetworkErrorRatio() > 0.5 & NetworkErrorRatio() < 0.9", 26, "use `&&`"),
    ("!(NetworkErrorRatio() > 0.5)", 0, "negation"),
    ("NetworkErrorRatio() > \"0.5\"", 22, "unexpected character"),
    ("NetworkErrorRatio() ≥ 0.5", 20, "unexpected character"),
    ("Latenc€() > 1", 6, "unexpected character"),
];

#[test]
fn errors_point_at_the_fault() {
    for &(src, offset, words) in ERRORS {
        let err = parse(src).expect_err(src);
        assert!(
            err.message.contains(words),
            "{src:?}: message {:?} lacks {words:?}",
            err.message
        );
        assert_eq!(err.offset, offset, "{src:?}: {err}");
        assert!(src.is_char_boundary(err.offset), "{src:?}: {err}");
    }
}

#[test]
fn error_display_names_the_offset() {
    let err = parse("NetworkErrorRatio() > 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "ratio compared to an int: `NetworkErrorRatio()` is a float, write 1.0 instead of 1 (at byte 22)"
    );
}
