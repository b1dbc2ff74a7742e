//! The plugin's options, validated in pure Rust so that pppd (through the
//! plugin) and `rasstatic check` use the very same parser.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::pool::{self, Pool, PoolError, Range};
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
    (
        "rasstatic-cluster",
        false,
        "Cluster mode: the pool is shared with other servers through etcd by rasstatic-agent; claim only in the blocks it holds, and hang up at its hang deadline",
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
        // A reason that quotes the whole value already (a one-item pool)
        // does not say it twice.
        let quoted = format!("\"{}\": ", self.value);
        let why = self.why.strip_prefix(&quoted).unwrap_or(&self.why);
        write!(f, "{} \"{}\": {why}", self.option, self.value)
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
    /// Cluster mode (`rasstatic-cluster`): the table is fenced and sealed
    /// until `rasstatic-agent` unseals the blocks it holds.
    pub cluster: bool,
    /// Every exclusion so far, normalized.
    excluded: Vec<Range>,
    /// The pool less the exclusions so far, normalized (empty while no
    /// pool is set). Kept up to date option by option, so that each option
    /// costs time in proportion to the pool, not to every option before it.
    remaining: Vec<Range>,
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
            cluster: false,
            excluded: Vec::new(),
            remaining: Vec::new(),
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
                let inc = pool::pool_ranges(v).map_err(pool_err)?;
                // The pool alone must fit a table ...
                Pool::from_ranges(inc.clone()).map_err(pool_err)?;
                // ... and not be empty with the exclusions seen so far.
                let remaining = pool::subtract(&inc, &self.excluded);
                if remaining.is_empty() {
                    return Err(pool_err(PoolError::EmptyAfterExclusions {
                        pool: v.to_string(),
                        exclude: self.exclude.clone(),
                    }));
                }
                self.pool = Some(v.to_string());
                self.remaining = remaining;
            }
            "rasstatic-exclude" => {
                // Same grammar; a forbidden address may be excluded, so only
                // the syntax is checked here.
                if v.trim().is_empty() {
                    return Err(pool_err(PoolError::Empty));
                }
                let new = pool::exclude_ranges(v).map_err(pool_err)?;
                let ex = if self.exclude.is_empty() {
                    v.to_string()
                } else {
                    format!("{},{v}", self.exclude)
                };
                if let Some(p) = &self.pool {
                    let remaining = pool::subtract(&self.remaining, &new);
                    if remaining.is_empty() {
                        return Err(pool_err(PoolError::EmptyAfterExclusions {
                            pool: p.clone(),
                            exclude: ex,
                        }));
                    }
                    self.remaining = remaining;
                }
                let mut all = std::mem::take(&mut self.excluded);
                all.extend(new);
                self.excluded = pool::normalize(all);
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
            "rasstatic-cluster" => self.cluster = true,
            _ => return Err(err("not a rasstatic option".into())),
        }
        Ok(())
    }

    /// The resolved pool, once all options are in. Refuses a pool a table
    /// cannot hold (too many ranges once the exclusions are taken out) as
    /// the configuration error it is, before any table is written.
    pub fn resolve(&self) -> Result<Pool, String> {
        let spec = self
            .pool
            .as_deref()
            .ok_or("no pool configured: rasstatic-pool is required")?;
        Pool::from_ranges(self.remaining.clone()).map_err(|e| {
            if self.exclude.is_empty() {
                format!("rasstatic-pool \"{spec}\": {e}")
            } else {
                format!(
                    "rasstatic-pool \"{spec}\" with rasstatic-exclude \"{}\": {e}",
                    shorten(&self.exclude, 80)
                )
            }
        })
    }

    /// Whether the pool leaves any address for callers once `local` (this
    /// server's own address, from `local:remote`) is set aside, as the
    /// plugin sets it aside.
    pub fn check_local(pool: &Pool, local: Ipv4Addr) -> Result<(), String> {
        if pool.size() == 1 && pool.contains(local) {
            return Err(format!(
                "the pool {pool} holds only {local}, this server's own address (local:remote), \
                 which is never handed out: every caller would be refused"
            ));
        }
        Ok(())
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

/// `s`, cut to about `max` bytes (on a char boundary) with "..." when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
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
            "rasstatic-pool \"10.0.0.1-10.0.0.0\": the range ends before it starts"
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

    #[test]
    fn a_pool_the_table_cannot_hold_is_a_configuration_error() {
        let max = crate::table::layout::MAX_RANGES;
        // 10.0.0.0/8 less every other address from 10.0.0.2 on, given as
        // many exclude options as an option file would need (pppd cuts
        // words at 1023 bytes), is one range more than a table holds.
        let mut c = Config::default();
        c.apply("rasstatic-pool", Some("10.0.0.0/8")).unwrap();
        let addrs: Vec<String> = (0..max)
            .map(|i| Ipv4Addr::from(0x0a00_0002 + 2 * i).to_string())
            .collect();
        for chunk in addrs.chunks(80) {
            c.apply("rasstatic-exclude", Some(&chunk.join(",")))
                .unwrap();
        }
        let e = c.resolve().unwrap_err();
        assert!(
            e.starts_with("rasstatic-pool \"10.0.0.0/8\" with rasstatic-exclude \"10.0.0.2,")
                && e.contains(&format!("made of {} separate ranges", max + 1))
                && e.contains(&format!("at most {max}")),
            "{e}"
        );
        // One exclusion fewer fits.
        let mut c = Config::default();
        c.apply("rasstatic-pool", Some("10.0.0.0/8")).unwrap();
        for chunk in addrs[1..].chunks(80) {
            c.apply("rasstatic-exclude", Some(&chunk.join(",")))
                .unwrap();
        }
        assert_eq!(c.resolve().unwrap().ranges().len(), max as usize);
        // The same result as parsing the whole definition at once.
        assert_eq!(
            c.resolve().unwrap(),
            Pool::parse("10.0.0.0/8", &addrs[1..].join(",")).unwrap()
        );
    }

    #[test]
    fn exclusions_before_the_pool_count() {
        let mut c = Config::default();
        c.apply("rasstatic-exclude", Some("10.0.0.2-10.0.0.3"))
            .unwrap();
        c.apply("rasstatic-pool", Some("10.0.0.1-10.0.0.5"))
            .unwrap();
        c.apply("rasstatic-exclude", Some("10.0.0.5")).unwrap();
        assert_eq!(c.resolve().unwrap().to_string(), "10.0.0.1,10.0.0.4");
        // A later pool replaces the earlier one; the exclusions stay.
        c.apply("rasstatic-pool", Some("10.0.0.2-10.0.0.9"))
            .unwrap();
        assert_eq!(
            c.resolve().unwrap().to_string(),
            "10.0.0.4,10.0.0.6-10.0.0.9"
        );
        assert!(c.apply("rasstatic-exclude", Some(" ")).is_err());
    }

    #[test]
    fn a_pool_of_only_the_local_address_is_refused() {
        let local: Ipv4Addr = "10.0.0.1".parse().unwrap();
        let one = Pool::parse("10.0.0.1", "").unwrap();
        let e = Config::check_local(&one, local).unwrap_err();
        assert!(e.contains("10.0.0.1, this server's own address"), "{e}");
        let two = Pool::parse("10.0.0.1-10.0.0.2", "").unwrap();
        assert!(Config::check_local(&two, local).is_ok());
        assert!(Config::check_local(&one, "10.0.0.2".parse().unwrap()).is_ok());
    }
}
