//! Running the real-pppd scenarios through tests/pppd/boot.sh: on the host
//! kernel when /dev/ppp is usable, otherwise inside a User-Mode Linux guest
//! whose root is the host's filesystem (scripts/uml-kernel.sh chooses the
//! kernel). Nothing here passes silently: a missing tool is a
//! test failure that says what to install.

#![allow(dead_code)]

pub mod checks;
#[path = "../readme/mod.rs"]
pub mod readme;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub const SCENARIO_TIMEOUT_S: u32 = 150;

/// The results of one run of scenarios.
pub struct Run {
    pub dir: PathBuf,
    pub mode: &'static str,
    pub seconds: f64,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which pppd the scenarios run, and the headers its plugin is built with.
pub struct Target {
    pub version: &'static str,
    pub pppd: PathBuf,
    /// `PPPD_INCLUDE_DIR` for the plugin build; `None`: the installed headers.
    pub include: Option<PathBuf>,
    /// A separate target directory for that build.
    pub target_dir: Option<PathBuf>,
    /// Checks whose scenario cannot run with this pppd on this machine, and
    /// the failure its trace must show: the test asserts that failure, so
    /// it fails once the scenario can run (or fails for another reason).
    pub blocked: &'static [(&'static str, &'static str)],
}

impl Target {
    /// Debian 12: the installed pppd 2.4.9 and ppp-dev.
    pub fn debian12() -> Target {
        Target {
            version: "2.4.9",
            pppd: PathBuf::from("/usr/sbin/pppd"),
            include: None,
            target_dir: None,
            blocked: &[],
        }
    }

    /// Debian 13's pppd 2.5.2 and ppp-dev, unpacked by
    /// scripts/fetch-pppd-2.5.sh into target/pppd-2.5/root.
    pub fn debian13() -> Target {
        let t = repo().join("target/pppd-2.5");
        Target {
            version: "2.5.2",
            pppd: t.join("root/usr/sbin/pppd"),
            include: Some(t.join("root/usr/include/pppd")),
            target_dir: Some(t.join("build")),
            // Debian 13's rp-pppoe.so and pppol2tp.so need glibc 2.38;
            // Debian 12 has 2.36.
            blocked: &[
                (
                    "s22_pppoe_server_kernel_mode",
                    "version `GLIBC_2.38' not found",
                ),
                (
                    "s24_pppoe_server_killed_and_restarted_kernel_mode",
                    "version `GLIBC_2.38' not found",
                ),
                (
                    "s26_xl2tpd_kernel_mode_sessions_and_lns_killed",
                    "version `GLIBC_2.38' not found",
                ),
                (
                    "s34_pppoe_storm_kernel_mode",
                    "version `GLIBC_2.38' not found",
                ),
            ],
        }
    }
}

/// Build the plugin for `target` from this same source, with the profile
/// the tests were built with (`cargo test` builds the library only as an
/// rlib), plus the scripted peer. Returns the plugin and the admin command.
pub fn artifacts(target: &Target) -> Result<(PathBuf, PathBuf), String> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rasstatic"));
    let release = bin.parent().is_some_and(|d| d.ends_with("release"));
    let profile = if release { "release" } else { "debug" };
    let cargo = |args: &[&str], include: Option<&Path>, dir: Option<&Path>| -> Result<(), String> {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("build").args(args).current_dir(repo());
        if release {
            cmd.arg("--release");
        }
        if let Some(i) = include {
            if !i.join("pppd.h").exists() {
                return Err(format!(
                    "no pppd headers in {}: run scripts/fetch-pppd-2.5.sh (./test.sh does)",
                    i.display()
                ));
            }
            cmd.env("PPPD_INCLUDE_DIR", i);
        }
        if let Some(d) = dir {
            cmd.arg("--target-dir").arg(d);
        }
        let st = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        st.success()
            .then_some(())
            .ok_or(format!("building the plugin failed: {st}"))
    };
    cargo(
        &[
            "--lib",
            "--example",
            "pppeer",
            "--example",
            "fdhold",
            "--example",
            "killwait",
        ],
        None,
        None,
    )?;
    // The cluster agent, for the cluster scenario (its own crate: the
    // plugin never links it).
    cargo(
        &["-p", "rasstatic-cluster", "--bin", "rasstatic-agent"],
        None,
        None,
    )?;
    let so = match &target.target_dir {
        Some(d) => {
            cargo(&["--lib"], target.include.as_deref(), Some(d))?;
            d.join(profile).join("librasstatic.so")
        }
        None => bin.with_file_name("librasstatic.so"),
    };
    if !so.exists() {
        return Err(format!("{} is missing after the build", so.display()));
    }
    Ok((so, bin))
}

/// The scenarios both pppd versions run: tests/pppd/scenarios/NN-*.sh,
/// named without ".sh", in order.
pub fn scenarios() -> Vec<String> {
    let dir = repo().join("tests/pppd/scenarios");
    let mut v: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            Some(n.strip_suffix(".sh")?.to_string())
        })
        .collect();
    v.sort();
    v
}

/// The scenario whose file starts with `NN-`, for a check named `sNN_...`
/// (or `NN` itself).
pub fn scenario_named(check: &str) -> String {
    let nn = check.trim_start_matches('s');
    let nn = &nn[..nn.find(|c: char| !c.is_ascii_digit()).unwrap_or(nn.len())];
    scenarios()
        .into_iter()
        .find(|s| s.split('-').next() == Some(nn))
        .unwrap_or_else(|| panic!("no tests/pppd/scenarios/{nn}-*.sh for {check}"))
}

/// The scenarios to run: all, or (a developer's shortcut) those named in
/// RASSTATIC_SCENARIOS, comma-separated; the tests of the others then fail.
pub fn selected() -> Vec<String> {
    let all = scenarios();
    match std::env::var("RASSTATIC_SCENARIOS") {
        Ok(v) if !v.is_empty() => all
            .into_iter()
            .filter(|s| v.split(',').any(|w| w == s))
            .collect(),
        _ => all,
    }
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.exists())
}

/// Run `scenarios` (names of tests/pppd/scenarios/*.sh without .sh) with
/// the target's pppd and plugin, in one boot.
pub fn run_scenarios(target: &Target, scenarios: &[String]) -> Result<Run, String> {
    run_scenarios_with(target, scenarios, "", &[])
}

/// [`run_scenarios`] with a tag for the run directory's name and extra
/// environment for tests/pppd/boot.sh (`RASSTATIC_BOOT`, `RASSTATIC_UML`).
pub fn run_scenarios_with(
    target: &Target,
    scenarios: &[String],
    label: &str,
    boot_env: &[(&str, &str)],
) -> Result<Run, String> {
    let (plugin, rasstatic) = artifacts(target)?;
    let pppd = target.pppd.as_path();
    let tag = target.version;
    if !pppd.exists() {
        return Err(format!(
            "{} not found: install Debian's ppp package",
            pppd.display()
        ));
    }
    for tool in ["socat", "ip", "pkill", "timeout"] {
        which(tool).ok_or(format!(
            "{tool} not found: install socat, iproute2, procps, coreutils"
        ))?;
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = root.join(format!("pppd-{tag}{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let t = repo().join("tests/pppd");
    let pppeer = rasstatic.with_file_name("examples").join("pppeer");
    let fdhold = rasstatic.with_file_name("examples").join("fdhold");
    let killwait = rasstatic.with_file_name("examples").join("killwait");
    let agent = rasstatic.with_file_name("rasstatic-agent");
    for p in [&pppeer, &fdhold, &killwait, &agent] {
        if !p.exists() {
            return Err(format!("{} is missing after the build", p.display()));
        }
    }
    let env = format!(
        "PLUGIN={}\nRASSTATIC={}\nAGENT={}\nPPPD={}\nPPPEER={}\nFDHOLD={}\nKILLWAIT={}\nLIB={}\nSCEN_DIR={}\nSCENARIOS=\"{}\"\nSCENARIO_TIMEOUT={}\nexport PLUGIN RASSTATIC AGENT PPPD PPPEER FDHOLD KILLWAIT LIB\n",
        plugin.display(),
        rasstatic.display(),
        agent.display(),
        pppd.display(),
        pppeer.display(),
        fdhold.display(),
        killwait.display(),
        t.join("lib.sh").display(),
        t.join("scenarios").display(),
        scenarios.join(" "),
        SCENARIO_TIMEOUT_S
    );
    fs::write(dir.join("env"), env).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let budget = u64::from(SCENARIO_TIMEOUT_S) * scenarios.len() as u64 + 60;
    // tests/pppd/boot.sh decides between the host kernel and UML, and which
    // UML kernel; its one line saying so goes to the console as it is.
    let console = fs::File::create(dir.join("console.log")).map_err(|e| e.to_string())?;
    let status = Command::new("sh")
        .arg(t.join("boot.sh"))
        .arg(&dir)
        .arg(budget.to_string())
        .arg("768M")
        .envs(boot_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(console)
        .status();
    let mode = match fs::read_to_string(dir.join("guest.log")) {
        Ok(l) if l.starts_with("mode host") => "host",
        _ => "uml",
    };
    let status = status.map_err(|e| format!("cannot start the {mode} run: {e}"))?;
    if !dir.join("finished").exists() {
        let tail = |f: &str| {
            fs::read_to_string(dir.join(f))
                .map(|s| {
                    s.lines()
                        .rev()
                        .take(30)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default()
        };
        return Err(format!(
            "the {mode} run did not finish ({status}); boot.log:\n{}\nguest.log:\n{}\nconsole.log:\n{}",
            tail("boot.log"),
            tail("guest.log"),
            tail("console.log")
        ));
    }
    let run = Run {
        dir,
        mode,
        seconds: start.elapsed().as_secs_f64(),
    };
    eprintln!(
        "pppd {tag} scenarios ran in {:.0} s ({mode} mode), outputs in {}",
        run.seconds,
        run.dir.display()
    );
    Ok(run)
}

/// One scenario's outputs.
pub struct Scenario {
    pub name: String,
    pub dir: PathBuf,
}

impl Run {
    pub fn scenario(&self, name: &str) -> Scenario {
        let s = Scenario {
            name: name.into(),
            dir: self.dir.join(name),
        };
        let status = s.read("status");
        assert_eq!(
            status.trim(),
            "0",
            "scenario {name} ended with status {status:?} (124 = timed out); its trace:\n{}",
            s.read("trace")
        );
        s
    }
}

impl Run {
    /// A scenario listed as blocked for its target: it must have failed,
    /// and its trace must say `why`.
    pub fn blocked(&self, name: &str, why: &str) {
        let s = Scenario {
            name: name.into(),
            dir: self.dir.join(name),
        };
        let (status, trace) = (s.read("status"), s.read("trace"));
        assert!(
            status.trim() != "0" && trace.contains(why),
            "scenario {name} is listed as blocked here by \"{why}\", but it ended with status {status:?}; \
             if it runs now, take it off the target's blocked list; its trace:\n{trace}"
        );
        eprintln!("{name}: blocked here, as listed: {why}");
    }
}

impl Scenario {
    pub fn read(&self, f: &str) -> String {
        fs::read_to_string(self.dir.join(f)).unwrap_or_default()
    }

    /// The "KEY VALUE" facts the scenario recorded.
    pub fn events(&self) -> HashMap<String, String> {
        self.read("events")
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect()
    }

    pub fn ev(&self, key: &str) -> String {
        self.events().get(key).cloned().unwrap_or_else(|| {
            panic!(
                "{}: no event {key}; trace:\n{}",
                self.name,
                self.read("trace")
            )
        })
    }

    /// A `rasstatic show --json` snapshot.
    pub fn snap(&self, label: &str) -> serde_json::Value {
        let text = self.read(&format!("snap.{label}.json"));
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{}: snapshot {label} is not JSON ({e}): {text:?} {}",
                self.name,
                self.read(&format!("snap.{label}.err"))
            )
        })
    }

    pub fn server_log(&self, n: u32) -> String {
        self.read(&format!("server.{n}.log"))
    }

    pub fn client_log(&self, n: u32) -> String {
        self.read(&format!("client.{n}.log"))
    }
}

/// Leases in a snapshot that are not free: (address, state, pid).
pub fn held(snap: &serde_json::Value) -> Vec<(String, String, Option<u64>)> {
    snap["leases"]
        .as_array()
        .expect("leases array")
        .iter()
        // Free, and sealed (free, in another server's block): not held.
        .filter(|l| l["state"] != "free" && l["state"] != "sealed")
        .map(|l| {
            (
                l["address"].as_str().unwrap().to_string(),
                l["state"].as_str().unwrap().to_string(),
                l["pid"].as_u64(),
            )
        })
        .collect()
}

/// The lease record for `addr` in a snapshot.
pub fn lease<'a>(snap: &'a serde_json::Value, addr: &str) -> &'a serde_json::Value {
    snap["leases"]
        .as_array()
        .expect("leases array")
        .iter()
        .find(|l| l["address"] == addr)
        .unwrap_or_else(|| panic!("{addr} not in the table: {snap}"))
}

/// The #[test] functions of a real-pppd run: one per scenario, named as
/// its check in common/checks.rs (`sNN_...`, for tests/pppd/scenarios/
/// NN-*.sh), each asserting that check over one boot shared by all.
#[allow(unused_macros)]
macro_rules! scenario_tests {
    ($target:expr) => {
        scenario_tests!(@tests $target;
            s01_three_callers_then_a_fourth_is_refused_until_one_hangs_up,
            s02_caller_hangs_up,
            s03_dial_in_side_hangs_up_on_signals_with_and_without_persist,
            s04_carrier_loss,
            s05_idle_and_maxconnect_limits,
            s06_ipcp_never_opens_after_the_hook,
            s07_ipcp_renegotiation_keeps_the_address,
            s08_persist_serves_calls_in_a_row_and_nothing_accumulates,
            s09_lease_follows_detach_and_updetach_then_sigkill_frees_it,
            s10_sigkill_of_the_dial_in_pppd,
            s11_eight_lines_random_order_never_share_never_lose,
            s12_bad_options_exit_2_naming_the_option_and_bad_tables_are_refused,
            s13_pap_with_a_star_address_column,
            s14_proxyarp_with_the_pool_on_the_lan_subnet,
            s15_options_files_caller_proposals_and_a_panicking_hook,
            s16_the_watchdog_frees_a_killed_pppds_lease_and_cleans_up,
            s17_with_syslog_on_fd_3_many_calls_keep_one_watchdog,
            s18_table_deleted_with_calls_up_heals_without_a_duplicate,
            s19_table_overwritten_with_garbage_heals_without_a_duplicate,
            s20_pool_grows_and_shrinks_with_calls_up,
            s21_pppoe_server_user_mode,
            s22_pppoe_server_kernel_mode,
            s23_pppoe_server_killed_and_restarted_user_mode,
            s24_pppoe_server_killed_and_restarted_kernel_mode,
            s25_pppoe_misconfigured_options_are_caught_or_refused,
            s26_xl2tpd_kernel_mode_sessions_and_lns_killed,
            s27_xl2tpd_user_mode_sessions_and_lns_killed,
            s28_xl2tpd_own_address_assignment_next_to_the_pool,
            s29_xl2tpd_misconfigured_options_are_caught_or_refused,
            s30_pptpd_sessions,
            s31_pptpd_killed_and_restarted,
            s32_pptpd_own_addresses_are_replaced_or_turned_off,
            s33_pptpd_misconfigured_files_are_caught_or_refused,
            s34_pppoe_storm_kernel_mode,
            s35_pppoe_storm_user_mode,
            s36_cluster_a_server_cut_off_from_etcd_refuses_callers_and_hangs_up_at_its_deadline,
            s37_cluster_two_servers_share_a_pool_and_a_dead_servers_block_comes_back
        );
    };
    (@tests $target:expr; $($check:ident),*) => {
        fn run() -> &'static common::Run {
            static RUN: std::sync::OnceLock<Result<common::Run, String>> =
                std::sync::OnceLock::new();
            RUN.get_or_init(|| common::run_scenarios(&$target, &common::selected()))
                .as_ref()
                .unwrap_or_else(|e| panic!("the real-pppd run failed: {e}"))
        }

        #[test]
        fn every_scenario_has_its_check() {
            let checked: Vec<String> = [$(stringify!($check)),*]
                .iter()
                .map(|c| common::scenario_named(c))
                .collect();
            assert_eq!(checked, common::scenarios());
        }

        $(
            #[test]
            fn $check() {
                let name = common::scenario_named(stringify!($check));
                let target = $target;
                match target.blocked.iter().find(|b| b.0 == stringify!($check)) {
                    Some((_, why)) => run().blocked(&name, why),
                    None => common::checks::$check(&run().scenario(&name)),
                }
            }
        )*
    };
}
