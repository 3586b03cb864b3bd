//! Properties of the v1 rule parser: it never panics, offsets are valid, valid rules round-trip.

use proptest::prelude::*;
use trafik_config::rule::{CompileOptions, FrontendRule, Function, parse};

fn check_offset(rule: &str, offset: usize) -> Result<(), TestCaseError> {
    prop_assert!(offset <= rule.len(), "offset {} past {:?}", offset, rule);
    prop_assert!(
        rule.is_char_boundary(offset),
        "offset {} inside a char of {:?}",
        offset,
        rule
    );
    Ok(())
}

/// Text made of the grammar's own characters, names and regex bits.
fn noisy() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just(";"),
        Just(":"),
        Just(","),
        Just(" "),
        Just("\t"),
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just("("),
        Just(")"),
        Just("="),
        Just("/"),
        Just("*"),
        Just("\\"),
        Just("é"),
        Just("Host"),
        Just("HostRegexp"),
        Just("Path"),
        Just("PathPrefix"),
        Just("PathStrip"),
        Just("PathStripRegex"),
        Just("PathPrefixStrip"),
        Just("PathPrefixStripRegex"),
        Just("Method"),
        Just("Headers"),
        Just("HeadersRegexp"),
        Just("Query"),
        Just("AddPrefix"),
        Just("ReplacePath"),
        Just("ReplacePathRegex"),
        Just("a"),
        Just("x:"),
        Just("0-9"),
        Just("+"),
        Just("$1"),
        Just("^"),
        Just("|"),
        Just("?"),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics(rule in any::<String>()) {
        if let Err(e) = parse(&rule) {
            check_offset(&rule, e.offset)?;
        }
    }
}

// Compiling builds regexes, slow in debug builds: fewer cases.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn compile_never_panics(rule in noisy(), keep in any::<bool>()) {
        let opts = CompileOptions { keep_trailing_slash: keep };
        match FrontendRule::compile(&[&rule], &opts) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(e.route, 0);
                check_offset(&rule, e.offset)?;
            }
        }
    }

    #[test]
    fn compile_arbitrary_text_never_panics(rule in any::<String>()) {
        if let Err(e) = FrontendRule::compile(&["Host:a", &rule], &CompileOptions::default()) {
            prop_assert_eq!(e.route, 1);
            check_offset(&rule, e.offset)?;
        }
    }
}

fn pad() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("  "), Just("\t")]
}

/// An argument the parser gives back as is: no `;` or `,`, no edge whitespace, no edge or
/// doubled `:`.
fn arg() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._{}=*-]{1,8}(:[a-zA-Z0-9/._{}= *-]{0,6}[a-zA-Z0-9/._{}=*-])?"
}

#[derive(Debug, Clone)]
struct GenCall {
    function: Function,
    args: Vec<String>,
    pads: (&'static str, &'static str, &'static str),
}

fn gen_call() -> impl Strategy<Value = GenCall> {
    (
        proptest::sample::select(Function::ALL.to_vec()),
        proptest::collection::vec(arg(), 1..4),
        (pad(), pad(), pad()),
    )
        .prop_map(|(function, args, pads)| GenCall {
            function,
            args,
            pads,
        })
}

fn render(calls: &[GenCall], extra_semicolons: bool, double_colon: bool) -> String {
    let colon = if double_colon { "::" } else { ":" };
    let pieces: Vec<String> = calls
        .iter()
        .map(|c| {
            let (a, b, sep) = c.pads;
            let args = c.args.join(&format!("{sep},{sep}"));
            format!("{a}{}{b}{colon}{sep}{args}{a}", c.function.name())
        })
        .collect();
    let joiner = if extra_semicolons { ";;" } else { ";" };
    pieces.join(joiner)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn valid_rules_round_trip(
        calls in proptest::collection::vec(gen_call(), 1..5),
        extra in any::<bool>(),
        double_colon in any::<bool>(),
    ) {
        let rule = render(&calls, extra, double_colon);
        let parsed = parse(&rule).map_err(|e| TestCaseError::fail(format!("{rule:?}: {e}")))?;
        prop_assert_eq!(parsed.len(), calls.len());
        for (p, c) in parsed.iter().zip(&calls) {
            prop_assert_eq!(p.function, c.function);
            prop_assert_eq!(&rule[p.offset..p.offset + c.function.name().len()], c.function.name());
            let args: Vec<&str> = p.args.iter().map(|a| a.as_str()).collect();
            prop_assert_eq!(&args, &c.args);
            for a in &p.args {
                // Every byte maps back to itself in the rule text.
                for (i, b) in a.as_str().bytes().enumerate() {
                    prop_assert_eq!(rule.as_bytes()[a.offset_at(i)], b);
                }
            }
        }
    }
}
