//! The fuzz targets of `fuzz/` for this crate (bodies in `trafik_middleware::fuzz`) as
//! proptests in the normal suite, over random bytes and over text made of the header
//! grammar's own pieces, plus every saved crash input in `fuzz/regressions/<target>/`.

use std::path::Path;

use proptest::prelude::*;
use trafik_middleware::fuzz;

const AUTHORIZATION_PIECES: &[&str] = &[
    "Basic ",
    "basic",
    "Digest ",
    "Bearer ",
    " ",
    "\t",
    "=",
    "==",
    ",",
    "\"",
    "\\\"",
    "YWxpY2U6c2VjcmV0",
    "Ym9iOnNlY3JldA==",
    "Ym9iOg==",
    "OnNlY3JldA==",
    "%%%",
    "username=",
    "\"dave\"",
    "realm=\"traefik\"",
    "nonce=",
    "uri=\"/private?x=1\"",
    "uri=",
    "response=",
    "qop=auth",
    "nc=00000001",
    "nc=ffffffffff",
    "cnonce=\"x\"",
    "opaque=",
    "algorithm=MD5",
    "algorithm=SHA-256",
    "é",
    "\u{7f}",
];

fn authorization_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(AUTHORIZATION_PIECES), 0..20)
        .prop_map(|v| v.concat())
}

const PATH_PIECES: &[&str] = &[
    "/", "//", "a", "public", ".", "..", "...", ";", ";x", "%2e", "%2E", "%2f", "%5c", "\\", "%00",
    "%25", "%3b", "%3f", "%23", "%", "%z", "%2", "é", "%C3%A9", "?", "#", " ",
];

/// The first byte sets the `allowEncoded*` options, as in the fuzz target.
fn path_input() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        prop::collection::vec(prop::sample::select(PATH_PIECES), 0..16),
    )
        .prop_map(|(bits, pieces)| {
            let mut data = vec![bits];
            data.extend_from_slice(pieces.concat().as_bytes());
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn path_bytes(data in prop::collection::vec(any::<u8>(), 0..120)) {
        fuzz::path(&data);
    }

    #[test]
    fn path_pieces(data in path_input()) {
        fuzz::path(&data);
    }

    #[test]
    fn authorization_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz::authorization(&data);
    }

    #[test]
    fn authorization_pieces(text in authorization_text()) {
        fuzz::authorization(text.as_bytes());
    }
}

/// A fuzz target: its name (its folder in `fuzz/regressions/`) and its body.
type Target = (&'static str, fn(&[u8]));

/// Every input a fuzzer once crashed on, replayed through its target.
#[test]
fn saved_crash_inputs_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let targets: [Target; 2] = [("authorization", fuzz::authorization), ("path", fuzz::path)];
    for (name, target) in targets {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            target(&std::fs::read(entry.unwrap().path()).unwrap());
        }
    }
}
