//! What v1 accepts, how it evaluates, where errors point, and properties: no panics, usable
//! offsets, generated expressions evaluate as built and print back to themselves.

use proptest::prelude::*;

use super::ast::{Cmp, IntFn, Node};
use super::lexer::CmpOp;
use super::{ExprError, MAX_RETRY_ATTEMPTS, RetryExpr, parse};

fn ok(src: &str) -> RetryExpr {
    parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err(src: &str) -> ExprError {
    match parse(src) {
        Ok(expr) => panic!("{src}: parsed as {expr}"),
        Err(e) => e,
    }
}

/// Asserts the error's offset and the start of its message.
#[track_caller]
fn refused(src: &str, offset: usize, message_start: &str) {
    let e = err(src);
    assert_eq!(e.offset, offset, "{src}: {e}");
    assert!(
        e.message.starts_with(message_start),
        "{src}: {e}\nexpected message starting with {message_start:?}"
    );
}

#[test]
fn v1_documentation_example() {
    let expr = ok("IsNetworkError() && Attempts() <= 2");
    assert_eq!(
        expr.root,
        Node::And(vec![
            Node::IsNetworkError,
            Node::Cmp(Cmp::Int {
                func: IntFn::Attempts,
                op: CmpOp::Le,
                value: 2
            }),
        ])
    );
    // A 502/504 is the forwarder's answer to a network error: retried twice, then passed on.
    for (attempts, status, retry) in [
        (1, 502, true),
        (1, 504, true),
        (2, 502, true),
        (3, 502, false),
        (1, 500, false),
        (1, 503, false),
        (1, 200, false),
    ] {
        assert_eq!(
            expr.should_retry(attempts, status),
            retry,
            "{attempts} {status}"
        );
    }
    // oxy's own doc comment example.
    let expr = ok("Attempts() <= 2 && ResponseCode() == 502");
    assert!(expr.should_retry(2, 502));
    assert!(!expr.should_retry(2, 504));
}

#[test]
fn every_operator() {
    for (src, hits) in [
        ("ResponseCode() == 503", [false, true, false]),
        ("ResponseCode() != 503", [true, false, true]),
        ("ResponseCode() < 503", [true, false, false]),
        ("ResponseCode() <= 503", [true, true, false]),
        ("ResponseCode() > 503", [false, false, true]),
        ("ResponseCode() >= 503", [false, true, true]),
    ] {
        let expr = ok(src);
        let got = [502, 503, 504].map(|s| expr.should_retry(1, s));
        assert_eq!(got, hits, "{src}");
    }
}

#[test]
fn request_method() {
    let expr = ok(r#"RequestMethod() == "GET" && IsNetworkError()"#);
    assert!(expr.should_retry_request("GET", 1, 502));
    assert!(
        !expr.should_retry_request("get", 1, 502),
        "case-sensitive, as Go's =="
    );
    assert!(!expr.should_retry_request("POST", 1, 502));
    // Without a request the method is empty: it equals no literal.
    assert!(!expr.should_retry(1, 502));
    let expr = ok("RequestMethod() != `POST` && IsNetworkError()");
    assert!(expr.should_retry_request("PUT", 1, 504));
    assert!(!expr.should_retry_request("POST", 1, 504));
    assert_eq!(
        expr.to_string(),
        r#"RequestMethod() != "POST" && IsNetworkError()"#
    );
    assert_eq!(
        ok(r#""GET" != RequestMethod()"#),
        ok(r#"RequestMethod() != "GET""#)
    );
}

#[test]
fn attempts_are_capped_as_in_oxy() {
    let expr = ok("IsNetworkError()");
    assert!(expr.should_retry(MAX_RETRY_ATTEMPTS, 502));
    assert!(!expr.should_retry(MAX_RETRY_ATTEMPTS + 1, 502));
    assert!(!expr.should_retry(u32::MAX, 502));
    // Larger literals parse; the cap wins.
    let expr = ok("Attempts() < 99999999999");
    assert!(expr.should_retry(MAX_RETRY_ATTEMPTS, 200));
    assert!(!expr.should_retry(MAX_RETRY_ATTEMPTS + 1, 200));
}

#[test]
fn precedence() {
    // `&&` binds tighter than `||`: a 503 is retried once, a network error twice.
    let expr = ok("ResponseCode() == 503 && Attempts() < 2 || IsNetworkError() && Attempts() < 3");
    let Node::Or(items) = &expr.root else {
        panic!("{:?}", expr.root)
    };
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|n| matches!(n, Node::And(v) if v.len() == 2))
    );
    assert!(expr.should_retry(1, 503));
    assert!(!expr.should_retry(2, 503));
    assert!(expr.should_retry(2, 502));
    assert!(!expr.should_retry(3, 502));

    let expr = ok("IsNetworkError() || ResponseCode() == 503 && Attempts() < 2");
    assert!(expr.should_retry(5, 502), "the `||` is not inside the `&&`");
    assert!(!expr.should_retry(5, 503));
}

#[test]
fn parentheses() {
    let expr = ok("(IsNetworkError() || ResponseCode() == 503) && Attempts() < 2");
    assert!(expr.should_retry(1, 503));
    assert!(
        !expr.should_retry(2, 502),
        "the `&&` covers the whole group"
    );
    assert_eq!(
        expr.to_string(),
        "(IsNetworkError() || ResponseCode() == 503) && Attempts() < 2"
    );
    // Redundant parentheses, around a function or a literal too, as Go allows; same-kind
    // groups are flattened.
    let expr = ok("((IsNetworkError())) && ((Attempts()) <= (2) && (ResponseCode() != 504))");
    let Node::And(items) = &expr.root else {
        panic!("{:?}", expr.root)
    };
    assert_eq!(items.len(), 3);
    assert_eq!(
        expr.to_string(),
        "IsNetworkError() && Attempts() <= 2 && ResponseCode() != 504"
    );
    // White space as Go allows it, line breaks included.
    assert_eq!(
        ok("IsNetworkError ( )\n&&\tAttempts()<=2"),
        ok("IsNetworkError() && Attempts() <= 2")
    );
}

#[test]
fn literal_on_the_left_is_mirrored() {
    assert_eq!(ok("2 >= Attempts()"), ok("Attempts() <= 2"));
    assert_eq!(ok("500 < ResponseCode()"), ok("ResponseCode() > 500"));
    assert_eq!(ok("2 >= Attempts()").to_string(), "Attempts() <= 2");
}

#[test]
fn negation_is_refused_as_in_v1() {
    refused("!IsNetworkError()", 0, "`!` (negation) is not supported");
    refused(
        "IsNetworkError() && !(Attempts() > 2)",
        20,
        "`!` (negation) is not supported",
    );
    // `!=` is of course fine.
    ok("ResponseCode() != 502");
}

#[test]
fn unknown_functions_and_names() {
    refused(
        "IsNetworkErrors()",
        0,
        "unknown function `IsNetworkErrors`; the functions are",
    );
    let e = err("IsNetworkError() && attempts() <= 2");
    assert_eq!(e.offset, 20);
    assert!(e.message.contains("case-sensitive: `Attempts`"), "{e}");
    refused("IsNetworkError() && true", 20, "`true` is not supported");
    refused(
        "Attempts <= 2",
        0,
        "`Attempts` is a function: call it, `Attempts()`",
    );
}

#[test]
fn wrong_arity() {
    refused("Attempts(1) <= 2", 9, "`Attempts()` takes no arguments");
    refused(
        "IsNetworkError(502)",
        15,
        "`IsNetworkError()` takes no arguments",
    );
    refused(
        r#"RequestMethod("GET")"#,
        14,
        "`RequestMethod()` takes no arguments",
    );
    refused("ResponseCode(", 12, "unclosed `(`");
    refused(
        "Attempts( <= 2",
        10,
        "expected `)` closing `Attempts(`, found `<=`",
    );
    refused(
        "Attempts(,) <= 2",
        9,
        "expected `)` closing `Attempts(`, found `,`",
    );
}

#[test]
fn not_a_condition() {
    refused("Attempts()", 0, "`Attempts()` alone is not a condition");
    refused(
        "IsNetworkError() && ResponseCode()",
        20,
        "`ResponseCode()` alone is not a condition",
    );
    refused(
        "(RequestMethod()) || IsNetworkError()",
        0,
        "`RequestMethod()` alone is not a condition",
    );
    refused("2", 0, "a number alone is not a condition");
    refused(
        "IsNetworkError() || 2",
        20,
        "a number alone is not a condition",
    );
    refused(r#""GET""#, 0, "a string alone is not a condition");
}

#[test]
fn type_errors_point_at_the_operand() {
    refused(
        "Attempts() <= 2.0",
        14,
        "`Attempts()` is an int, compared to a float: write 2",
    );
    refused(
        "2.5 > Attempts()",
        0,
        "`Attempts()` is an int, compared to a float: write an int",
    );
    refused(
        r#"ResponseCode() == "502""#,
        18,
        "`ResponseCode()` is an int, compared to a string",
    );
    refused(
        "RequestMethod() == 1",
        19,
        "`RequestMethod()` is a string, compared to a number",
    );
    refused(
        r#"RequestMethod() < "GET""#,
        16,
        "`RequestMethod()` is a string and can only be compared with `==` or `!=`",
    );
    refused(
        "IsNetworkError() == 1",
        17,
        "`IsNetworkError()` is a condition already",
    );
    refused(
        "Attempts() <= 2 == 1",
        16,
        "a comparison cannot be compared again",
    );
    refused(
        "1 == (Attempts() <= 2)",
        5,
        "a condition cannot be compared",
    );
    refused(
        "Attempts() < ResponseCode()",
        13,
        "a function can only be compared to a literal",
    );
    refused("1 < 2", 0, "two literals compared");
}

#[test]
fn syntax_errors() {
    refused("", 0, "empty expression");
    refused(" \n", 0, "empty expression");
    refused("IsNetworkError() &&", 19, "missing operand after `&&`");
    refused("&& IsNetworkError()", 0, "missing operand before `&&`");
    refused("Attempts() <= ", 14, "missing operand after `<=`");
    refused(
        "IsNetworkError() && || IsNetworkError()",
        20,
        "missing operand after `&&`",
    );
    refused("(IsNetworkError()", 0, "unclosed `(`");
    refused("IsNetworkError())", 16, "unmatched `)`");
    refused(
        "(IsNetworkError() 2)",
        18,
        "expected `)`, found the number 2",
    );
    refused(
        "IsNetworkError() IsNetworkError()",
        17,
        "unexpected `IsNetworkError`; expected",
    );
    refused(
        "Attempts() = 2",
        11,
        "`=` is not an operator here; use `==`",
    );
    refused(
        "IsNetworkError() & Attempts() < 2",
        17,
        "`&` is not supported; use `&&`",
    );
    refused("Attempts() < -1", 13, "`-` is not supported");
    refused("Attempts() < 0x2", 13, "bad number `0x2`");
    refused(
        r#"RequestMethod() == "GET"#,
        19,
        "string literal not terminated",
    );
    refused(
        r#"RequestMethod() == 'G'"#,
        19,
        "rune literals are not supported",
    );
    // Offsets are bytes, after multi-byte text too.
    refused(
        "RequestMethod() == \"é\" && ≥",
        27,
        "unexpected character '≥'",
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}IsNetworkError(){}", "(".repeat(100), ")".repeat(100));
    refused(&deep, 64, "parentheses nested too deeply");
    let fine = format!("{}IsNetworkError(){}", "(".repeat(60), ")".repeat(60));
    assert_eq!(ok(&fine), ok("IsNetworkError()"));
}

#[test]
fn display_is_canonical() {
    for (src, canonical) in [
        (
            "IsNetworkError()&&Attempts()<=2",
            "IsNetworkError() && Attempts() <= 2",
        ),
        (
            "(IsNetworkError() && Attempts() < 3) || (ResponseCode() == 503 && Attempts() < 2)",
            "IsNetworkError() && Attempts() < 3 || ResponseCode() == 503 && Attempts() < 2",
        ),
        (
            "IsNetworkError() && (Attempts() < 3 || (ResponseCode() == 503))",
            "IsNetworkError() && (Attempts() < 3 || ResponseCode() == 503)",
        ),
        (
            "RequestMethod() == `G\"E\\T` || RequestMethod() == \"\\x41\\u00e9\\n\"",
            r#"RequestMethod() == "G\"E\\T" || RequestMethod() == "Aé\n""#,
        ),
        ("Attempts() <= 007", "Attempts() <= 7"),
    ] {
        let expr = ok(src);
        assert_eq!(expr.to_string(), canonical, "{src}");
        assert_eq!(ok(canonical), expr, "{canonical}");
        let again: RetryExpr = canonical.parse().unwrap();
        assert_eq!(again.to_string(), canonical);
    }
}

// ---- properties ----

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
        Just("IsNetworkError"),
        Just("Attempts"),
        Just("ResponseCode"),
        Just("RequestMethod"),
        Just("Foo"),
        Just("("),
        Just(")"),
        Just("()"),
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
        Just("2"),
        Just("502"),
        Just("2.0"),
        Just("1e"),
        Just("-"),
        Just("\""),
        Just("\"GET\""),
        Just("\\"),
        Just("\\x4"),
        Just("\\u00e9"),
        Just("`"),
        Just("é"),
        Just("≥"),
        Just("99999999999999999999"),
    ];
    proptest::collection::vec(token, 0..32).prop_map(|t| t.concat())
}

const OPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

fn holds(op: &str, a: i64, b: i64) -> bool {
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

/// The attempt every generated expression is evaluated against.
const METHOD: &str = "GET";
const ATTEMPTS: u32 = 2;
const STATUS: u16 = 502;

/// A generated expression: its source text, and its value for the attempt above.
#[derive(Debug, Clone)]
enum Gen {
    Leaf(String, bool),
    And(Vec<Gen>),
    Or(Vec<Gen>),
    Paren(Box<Gen>),
}

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
    let net = Just(Gen::Leaf("IsNetworkError()".into(), true));
    let attempts = (op.clone(), 0i64..=4, any::<bool>())
        .prop_map(|(op, lit, left)| cmp_leaf("Attempts()", i64::from(ATTEMPTS), op, lit, left));
    let status = (op, 500i64..=505, any::<bool>())
        .prop_map(|(op, lit, left)| cmp_leaf("ResponseCode()", i64::from(STATUS), op, lit, left));
    let method = (
        proptest::sample::select(vec!["GET", "POST", "get"]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lit, equal, left, raw)| {
            let op = if equal { "==" } else { "!=" };
            let quoted = if raw {
                format!("`{lit}`")
            } else {
                format!("\"{lit}\"")
            };
            let src = if left {
                format!("{quoted} {op} RequestMethod()")
            } else {
                format!("RequestMethod(){op}{quoted}")
            };
            Gen::Leaf(src, (lit == METHOD) == equal)
        });
    prop_oneof![net, attempts, status, method]
}

fn cmp_leaf(func: &str, actual: i64, op: &str, lit: i64, left: bool) -> Gen {
    let src = if left {
        format!("{lit} {} {func}", mirror(op))
    } else {
        format!("{func}{op}{lit}")
    };
    Gen::Leaf(src, holds(op, actual, lit))
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
    #![proptest_config(ProptestConfig::with_cases(500))]

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
                let again: RetryExpr = expr.to_string().parse().unwrap();
                prop_assert_eq!(again, expr);
            }
            Err(e) => check_offset(&src, e.offset)?,
        }
    }

    #[test]
    fn strings_print_back(s in any::<String>()) {
        let src = format!("RequestMethod() == {}", super::lexer::GoQuoted(&s));
        let expr = parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        prop_assert_eq!(expr.to_string(), src.clone());
        prop_assert!(expr.should_retry_request(&s, 1, 200));
    }

    #[test]
    fn generated_expressions_evaluate_as_built(g in expr()) {
        let src = g.render(false);
        let expr = parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        prop_assert_eq!(expr.should_retry_request(METHOD, ATTEMPTS, STATUS), g.value(), "{}", src);
        let printed = expr.to_string();
        let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&again, &expr, "{} printed as {}", src, printed);
        prop_assert_eq!(again.should_retry_request(METHOD, ATTEMPTS, STATUS), g.value());
    }
}
