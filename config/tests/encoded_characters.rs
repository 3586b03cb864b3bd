//! `[entryPoints.X.encodedCharacters]`: read case-insensitively, all `false` when absent, a
//! value of the wrong type located, a misspelt key warned about.

use trafik_config::{EncodedCharacters, load_static};

#[test]
fn every_option_is_read_and_defaults_to_false() {
    let text = "[entryPoints.http]\naddress = \":80\"\n[entryPoints.http.encodedCharacters]\n\
                allowEncodedSlash = true\nallowencodedbackslash = true\nallowEncodedNullCharacter = true\n\
                allowEncodedSemicolon = true\nallowEncodedPercent = true\nallowEncodedQuestionMark = true\n\
                allowEncodedHash = true\nallowEncodedDot = true\n[entryPoints.other]\naddress = \":81\"\n";
    let loaded = load_static("t.toml", text).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let eps = loaded.value.effective_entry_points();
    assert_eq!(
        eps["http"].encoded_characters,
        EncodedCharacters {
            allow_encoded_slash: true,
            allow_encoded_back_slash: true,
            allow_encoded_null_character: true,
            allow_encoded_semicolon: true,
            allow_encoded_percent: true,
            allow_encoded_question_mark: true,
            allow_encoded_hash: true,
            allow_encoded_dot: true,
        }
    );
    assert_eq!(
        eps["other"].encoded_characters,
        EncodedCharacters::default()
    );
}

#[test]
fn a_wrong_type_is_located_and_a_typo_warned_about() {
    let text = "[entryPoints.http]\naddress = \":80\"\n[entryPoints.http.encodedCharacters]\n\
                allowEncodedSlash = \"yes\"\n";
    let err = load_static("t.toml", text).unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "t.toml:4:21: entryPoints.http.encodedCharacters.allowEncodedSlash: invalid type: string \"yes\", expected a boolean"
    );
    let text = "[entryPoints.http.encodedCharacters]\nallowEncodedSlashes = true\n";
    let loaded = load_static("t.toml", text).unwrap();
    assert_eq!(
        loaded.warnings[0].to_string(),
        "t.toml:2:1: entryPoints.http.encodedCharacters.allowEncodedSlashes: unknown key, ignored (did you mean \"allowEncodedSlash\"?)"
    );
}
