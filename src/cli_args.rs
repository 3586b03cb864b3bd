//! Splits the command line between clap (trafik's own options and subcommands: `-c`,
//! `--configFile`, `--workers`, `--help`, `check`, `echo ADDR --name N`, …) and v1's flags for
//! the static configuration (`--entryPoints.http.address=:80`, `--etcd`, …), which
//! `trafik_config::flags` reads. clap cannot take flags whose names are the model's paths,
//! so they are taken out first; their names match ignoring case, as v1's did.

/// trafik's own long options that take a value, as clap knows them.
const OWN_WITH_VALUE: [&str; 2] = ["configFile", "workers"];
/// trafik's own long options without a value.
const OWN_ALONE: [&str; 2] = ["help", "version"];
/// After this subcommand everything is its own (`echo ADDR --name N`).
const RAW_SUBCOMMANDS: [&str; 1] = ["echo"];

#[derive(Debug, Default, PartialEq)]
pub struct Split {
    /// The program name, trafik's own options and the subcommand, for clap.
    pub clap: Vec<String>,
    /// v1's flags, each as `--name=value` or `--name`.
    pub flags: Vec<String>,
}

pub fn split(args: impl IntoIterator<Item = String>) -> Split {
    let mut out = Split::default();
    let mut args = args.into_iter();
    if let Some(program) = args.next() {
        out.clap.push(program);
    }
    while let Some(arg) = args.next() {
        if arg == "--" || RAW_SUBCOMMANDS.contains(&arg.as_str()) {
            out.clap.push(arg);
            out.clap.extend(args.by_ref());
            break;
        }
        let Some(body) = arg.strip_prefix("--") else {
            // Short options (`-c FILE`, `-h`) and subcommands.
            let takes_value = arg == "-c";
            out.clap.push(arg);
            if takes_value && let Some(value) = args.next() {
                out.clap.push(value);
            }
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if let Some(own) = OWN_WITH_VALUE.iter().find(|o| o.eq_ignore_ascii_case(name)) {
            out.clap.push(format!("--{own}"));
            if let Some(v) = value.map(str::to_string).or_else(|| args.next()) {
                out.clap.push(v);
            }
        } else if let Some(own) = OWN_ALONE.iter().find(|o| o.eq_ignore_ascii_case(name)) {
            out.clap.push(format!("--{own}"));
        } else if name.eq_ignore_ascii_case("logLevel") && value.is_none() {
            // trafik's `--logLevel LEVEL` (a value after a space) keeps working.
            let level = args.next().unwrap_or_default();
            out.flags.push(format!("--{name}={level}"));
        } else {
            out.flags.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Split {
        split(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn own_options_and_subcommands_go_to_clap_the_rest_are_flags() {
        let s = run(&[
            "trafik",
            "-c",
            "t.toml",
            "--configfile=u.toml",
            "--workers",
            "2",
            "--api",
            "--entryPoints=Name:http Address::80",
            "check",
            "--logLevel",
            "DEBUG",
            "--etcd.endpoint=127.0.0.1:2379",
        ]);
        assert_eq!(
            s.clap,
            [
                "trafik",
                "-c",
                "t.toml",
                "--configFile",
                "u.toml",
                "--workers",
                "2",
                "check"
            ]
        );
        assert_eq!(
            s.flags,
            [
                "--api",
                "--entryPoints=Name:http Address::80",
                "--logLevel=DEBUG",
                "--etcd.endpoint=127.0.0.1:2379"
            ]
        );
    }

    #[test]
    fn echo_keeps_its_own_options() {
        let s = run(&["trafik", "--api", "echo", "127.0.0.1:1", "--name", "x"]);
        assert_eq!(s.clap, ["trafik", "echo", "127.0.0.1:1", "--name", "x"]);
        assert_eq!(s.flags, ["--api"]);
    }
}
