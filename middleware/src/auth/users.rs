//! Reading user lines: the `users` list, then the `usersFile`. Both are trimmed and skip
//! blank lines and `#` comments. File entries come last, so a user in both gets its file
//! entry (v1: "file entries win on conflict").

use std::path::Path;

use super::error::{AuthError, Location};

/// One non-blank, non-comment line and where it came from.
pub(super) struct Line {
    pub at: Location,
    pub text: String,
}

pub(super) fn load<I, S>(users: I, users_file: Option<&Path>) -> Result<Vec<Line>, AuthError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut lines: Vec<Line> = users
        .into_iter()
        .enumerate()
        .filter_map(|(index, text)| {
            keep(text.as_ref()).map(|text| Line {
                at: Location::Users { index },
                text,
            })
        })
        .collect();
    // v1 treats an empty `usersFile` as none.
    if let Some(path) = users_file.filter(|p| !p.as_os_str().is_empty()) {
        let content = std::fs::read_to_string(path).map_err(|source| AuthError::UsersFile {
            path: path.to_owned(),
            source,
        })?;
        lines.extend(content.lines().enumerate().filter_map(|(i, text)| {
            keep(text).map(|text| Line {
                at: Location::File {
                    path: path.to_owned(),
                    line: i + 1,
                },
                text,
            })
        }));
    }
    Ok(lines)
}

fn keep(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && !text.starts_with('#')).then(|| text.to_owned())
}

impl Line {
    /// Splits on `:` into exactly `N` fields, the first a usable user name (non-empty, no
    /// control characters: it may become a header value).
    pub fn fields<const N: usize>(&self, expected: &'static str) -> Result<[&str; N], AuthError> {
        let parts: Vec<&str> = self.text.split(':').collect();
        let user = parts[0];
        let bad_user = user.is_empty() || user.chars().any(char::is_control);
        match <[&str; N]>::try_from(parts.as_slice()) {
            Ok(fields) if !bad_user => Ok(fields),
            _ => Err(AuthError::BadLine {
                at: self.at.clone(),
                // Without a `:` the whole line might be a password: don't echo it.
                user: (parts.len() > 1 && !bad_user).then(|| user.to_owned()),
                expected,
            }),
        }
    }
}
