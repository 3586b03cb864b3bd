//! v1's provider constraints (`constraints = ["tag==api", "tag!=v*-beta"]`): a container
//! (or service) is served only when every constraint holds for its tags. `tag==glob`: at
//! least one tag matches; `tag!=glob`: none does. Globs as v1's (ryanuber/go-glob): `*`
//! matches any run of characters, nothing else is special; matching is case-sensitive.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// `==` (true) or `!=` (false).
    pub must_match: bool,
    pub glob: String,
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = if self.must_match { "==" } else { "!=" };
        write!(f, "tag{op}{}", self.glob)
    }
}

/// One constraint as written; v1 knew only the `tag` key.
pub fn parse(text: &str) -> Result<Constraint, String> {
    let text = text.trim();
    let (key, must_match, glob) = if let Some((k, v)) = text.split_once("==") {
        (k, true, v)
    } else if let Some((k, v)) = text.split_once("!=") {
        (k, false, v)
    } else {
        return Err(format!(
            "constraint {text:?}: expected tag==<glob> or tag!=<glob>"
        ));
    };
    if !key.trim().eq_ignore_ascii_case("tag") {
        return Err(format!(
            "constraint {text:?}: only the key \"tag\" is supported"
        ));
    }
    Ok(Constraint {
        must_match,
        glob: glob.trim().to_string(),
    })
}

/// The first constraint `tags` fail, if any.
pub fn failing<'a>(constraints: &'a [Constraint], tags: &[String]) -> Option<&'a Constraint> {
    constraints.iter().find(|c| {
        let any = tags.iter().any(|t| glob_match(&c.glob, t));
        any != c.must_match
    })
}

/// `*` matches any run of characters (none included); everything else literally.
pub fn glob_match(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_v1() {
        assert!(glob_match("api", "api"));
        assert!(!glob_match("api", "apis"));
        assert!(glob_match("*", ""));
        assert!(glob_match("v*-beta", "v1.2-beta"));
        assert!(!glob_match("v*-beta", "v1.2-rc"));
        assert!(glob_match("*a*b*", "xxaYYbzz"));
        assert!(!glob_match("*a*b*", "xxbYYazz"));
        assert!(
            !glob_match("ab*ba", "aba"),
            "prefix and suffix may not overlap"
        );
    }

    #[test]
    fn constraints_parse_and_match() {
        let cs = vec![
            parse("tag==api").unwrap(),
            parse(" tag != v*-beta ").unwrap(),
        ];
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(failing(&cs, &tags(&["api", "v1"])), None);
        assert_eq!(failing(&cs, &tags(&["web"])), Some(&cs[0]));
        assert_eq!(failing(&cs, &tags(&["api", "v2-beta"])), Some(&cs[1]));
        assert_eq!(cs[1].to_string(), "tag!=v*-beta");
        assert!(parse("label==x").is_err());
        assert!(parse("tag~api").is_err());
    }
}
