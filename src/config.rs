//! The plugin's options, validated in pure Rust so that pppd (through the
//! plugin) and `rasstatic check` use the very same parser.

use std::fmt;
use std::path::PathBuf;

use crate::pool::{Pool, PoolError};
use crate::table::{check_name, Policy, DEFAULT_DIR, DEFAULT_NAME};

/// Every option the plugin registers, and whether it takes a value.
pub const OPTIONS: &[(&str, bool, &str)] = &[
    (
        "rasstatic-pool",
        true,
        "Address pool: addresses, ranges a-b and CIDR blocks, comma-separated",
    ),
    (
        "rasstatic-exclude",
        true,
        "Addresses never handed out, same grammar as rasstatic-pool",
    ),
    (
        "rasstatic-name",
        true,
        "Lease table name ([a-z0-9_-], default \"default\")",
    ),
    (
        "rasstatic-dir",
        true,
        "Directory of lease tables (default /run/rasstatic)",
    ),
    ("rasstatic-policy", true, "round-robin (default) or sticky"),
    (
        "norasstatic-watchdog",
        false,
        "Do not start a watchdog (dead sessions' leases are then freed by the next claim or rasstatic reap)",
    ),
];

/// A bad option value: names the option and quotes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub option: String,
    pub value: String,
    pub why: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\": {}", self.option, self.value, self.why)
    }
}

impl std::error::Error for OptionError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub pool: Option<String>,
    pub exclude: String,
    pub name: String,
    pub dir: PathBuf,
    pub policy: Policy,
    /// Start a watchdog for the table if none runs.
    pub watchdog: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            pool: None,
            exclude: String::new(),
            name: DEFAULT_NAME.into(),
            dir: PathBuf::from(DEFAULT_DIR),
            policy: Policy::RoundRobin,
            watchdog: true,
        }
    }
}

impl Config {
    /// Apply one option. `value` is `None` for options without one.
    pub fn apply(&mut self, option: &str, value: Option<&str>) -> Result<(), OptionError> {
        let v = value.unwrap_or("");
        let err = |why: String| OptionError {
            option: option.to_string(),
            value: v.to_string(),
            why,
        };
        let pool_err = |e: PoolError| err(e.to_string());
        match option {
            "rasstatic-pool" => {
                Pool::parse(v, "").map_err(pool_err)?;
                // With the exclusions seen so far, the pool must not be empty.
                Pool::parse(v, &self.exclude).map_err(pool_err)?;
                self.pool = Some(v.to_string());
            }
            "rasstatic-exclude" => {
                // Same grammar; a forbidden address may be excluded, so only
                // the syntax is checked here.
                let ex = if self.exclude.is_empty() {
                    v.to_string()
                } else {
                    format!("{},{v}", self.exclude)
                };
                crate::pool::check_syntax(v).map_err(pool_err)?;
                if let Some(p) = &self.pool {
                    Pool::parse(p, &ex).map_err(pool_err)?;
                }
                self.exclude = ex;
            }
            "rasstatic-name" => {
                check_name(v).map_err(|e| err(e.to_string()))?;
                self.name = v.to_string();
            }
            "rasstatic-dir" => {
                if !v.starts_with('/') {
                    return Err(err("must be an absolute path".into()));
                }
                if v.contains('\0') {
                    return Err(err("contains a NUL byte".into()));
                }
                self.dir = PathBuf::from(v);
            }
            "rasstatic-policy" => {
                self.policy = Policy::parse(v)
                    .ok_or_else(|| err("must be \"round-robin\" or \"sticky\"".into()))?;
            }
            "norasstatic-watchdog" => self.watchdog = false,
            _ => return Err(err("not a rasstatic option".into())),
        }
        Ok(())
    }

    /// The resolved pool, once all options are in.
    pub fn resolve(&self) -> Result<Pool, String> {
        let spec = self
            .pool
            .as_deref()
            .ok_or("no pool configured: rasstatic-pool is required")?;
        Pool::parse(spec, &self.exclude).map_err(|e| format!("rasstatic-pool \"{spec}\": {e}"))
    }

    /// The definition as written, for the table header and messages.
    pub fn spec(&self) -> String {
        match (&self.pool, self.exclude.is_empty()) {
            (Some(p), true) => p.clone(),
            (Some(p), false) => format!("{p} exclude {}", self.exclude),
            (None, _) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_options() {
        let mut c = Config::default();
        c.apply("rasstatic-pool", Some("10.0.0.0/29")).unwrap();
        c.apply("rasstatic-exclude", Some("10.0.0.1")).unwrap();
        c.apply("rasstatic-exclude", Some("10.0.0.2-10.0.0.3"))
            .unwrap();
        c.apply("rasstatic-name", Some("line_1-a")).unwrap();
        c.apply("rasstatic-dir", Some("/run/x")).unwrap();
        c.apply("rasstatic-policy", Some("sticky")).unwrap();
        assert_eq!(c.resolve().unwrap().size(), 3);
        assert_eq!(c.spec(), "10.0.0.0/29 exclude 10.0.0.1,10.0.0.2-10.0.0.3");
        assert_eq!(c.policy, Policy::Sticky);
        assert!(c.watchdog);
        c.apply("norasstatic-watchdog", None).unwrap();
        assert!(!c.watchdog);
    }

    #[test]
    fn bad_values_name_the_option_and_quote_the_value() {
        let e = |o: &str, v: &str| Config::default().apply(o, Some(v)).unwrap_err().to_string();
        assert_eq!(
            e("rasstatic-pool", "10.0.0.1-10.0.0.0"),
            "rasstatic-pool \"10.0.0.1-10.0.0.0\": \"10.0.0.1-10.0.0.0\": the range ends before it starts"
        );
        assert!(e("rasstatic-exclude", "10.0.0.x").starts_with("rasstatic-exclude \"10.0.0.x\": "));
        assert!(e("rasstatic-name", "Bad Name").starts_with("rasstatic-name \"Bad Name\": "));
        assert_eq!(
            e("rasstatic-dir", "relative"),
            "rasstatic-dir \"relative\": must be an absolute path"
        );
        assert_eq!(
            e("rasstatic-policy", "random"),
            "rasstatic-policy \"random\": must be \"round-robin\" or \"sticky\""
        );
    }

    #[test]
    fn exclusions_emptying_the_pool_are_caught_in_either_order() {
        let mut c = Config::default();
        c.apply("rasstatic-pool", Some("10.0.0.5")).unwrap();
        let e = c
            .apply("rasstatic-exclude", Some("10.0.0.0/24"))
            .unwrap_err();
        assert!(e.to_string().contains("empty once"), "{e}");
        let mut c = Config::default();
        c.apply("rasstatic-exclude", Some("10.0.0.0/24")).unwrap();
        let e = c.apply("rasstatic-pool", Some("10.0.0.5")).unwrap_err();
        assert!(e.to_string().contains("empty once"), "{e}");
    }

    #[test]
    fn missing_pool_is_reported() {
        assert!(Config::default()
            .resolve()
            .unwrap_err()
            .contains("rasstatic-pool is required"));
    }
}
