//! The pure parts of following Redis: glob patterns for `SCAN MATCH` and `PSUBSCRIBE`, and
//! the `notify-keyspace-events` flags trafik needs.

/// Escapes Redis's glob characters (`* ? [ ] \`), so a prefix matches only itself.
pub fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The prefix as keys begin with it: without a trailing slash (`traefik/` is `traefik`).
fn base(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// `SCAN … MATCH`: every key under `prefix`.
pub fn scan_pattern(prefix: &str) -> String {
    format!("{}/*", escape_glob(base(prefix)))
}

/// `PSUBSCRIBE`: the keyspace channel of every key under `prefix` in database `db`.
pub fn channel_pattern(db: i64, prefix: &str) -> String {
    format!("__keyspace@{db}__:{}/*", escape_glob(base(prefix)))
}

/// The event classes trafik needs: `K` (keyspace channel, named by key), `g` (DEL, RENAME,
/// EXPIRE…), `$` (SET, APPEND…), `x` (expired), `e` (evicted).
const NEEDED: [char; 5] = ['K', 'g', '$', 'x', 'e'];

/// `A` is the alias of `g$lshzxet`: it covers every class trafik needs but `K`.
const COVERED_BY_A: [char; 4] = ['g', '$', 'x', 'e'];

/// The server's `notify-keyspace-events` with what trafik needs added, or `None` when it
/// already has all of it (nothing to set). Flags already set are kept: other clients may
/// rely on them.
pub fn flags_to_set(current: &str) -> Option<String> {
    let has = |c: char| current.contains(c) || (current.contains('A') && COVERED_BY_A.contains(&c));
    let missing: String = NEEDED.iter().copied().filter(|&c| !has(c)).collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!("{current}{missing}"))
    }
}

/// What an operator sets when trafik may not (README's advice, in the log).
pub const ADVICE: &str = "notify-keyspace-events Kg$xe (or KA)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("traefik"), "traefik");
        assert_eq!(escape_glob("a*b?[c]\\d"), "a\\*b\\?\\[c\\]\\\\d");
        assert_eq!(scan_pattern("traefik"), "traefik/*");
        assert_eq!(scan_pattern("traefik/"), "traefik/*");
        assert_eq!(scan_pattern("t[1]"), "t\\[1\\]/*");
        assert_eq!(channel_pattern(3, "traefik"), "__keyspace@3__:traefik/*");
        assert_eq!(channel_pattern(0, "a*"), "__keyspace@0__:a\\*/*");
    }

    #[test]
    fn flags_keep_what_is_set_and_add_what_is_missing() {
        // The server's default: nothing.
        assert_eq!(flags_to_set("").as_deref(), Some("Kg$xe"));
        // Already enough: nothing to set.
        assert_eq!(flags_to_set("KA"), None);
        assert_eq!(flags_to_set("AK"), None);
        assert_eq!(flags_to_set("Kg$xe"), None);
        assert_eq!(flags_to_set("g$xeK"), None);
        // Someone else's flags stay.
        assert_eq!(flags_to_set("Elh").as_deref(), Some("ElhKg$xe"));
        assert_eq!(flags_to_set("EA").as_deref(), Some("EAK"));
        assert_eq!(flags_to_set("K$").as_deref(), Some("K$gxe"));
    }
}
