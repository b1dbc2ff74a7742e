//! The Debian packages, built and installed the way an administrator
//! installs them: `scripts/build-debs.sh` builds, for each pppd version,
//! the plugin's package (rasstatic) and the cluster agent's
//! (rasstatic-agent), `lintian` judges all four, and
//! `scripts/test-package.sh` installs both of a Debian release into a clean
//! root of it, runs the agent there and purges it, dials a real call
//! through the installed pppd and plugin under User-Mode Linux, reinstalls
//! and removes the plugin's package with calls up, and purges it (see that
//! script). Needs root, Debian's debhelper, lintian and mmdebstrap
//! (`scripts/setup.sh` installs them) and Debian's archive; a missing tool
//! fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `sh SCRIPT ARGS` from the repository; returns its output, or
/// panics with it when the script fails.
fn script(script: &str, args: &[&str]) -> String {
    let out = Command::new("sh")
        .arg(repo().join(script))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// The packages, built once for every test of this file.
struct Debs {
    /// rasstatic for Debian 12 and 13.
    plugin: [PathBuf; 2],
    /// rasstatic-agent for Debian 12 and 13.
    agent: [PathBuf; 2],
}

fn debs() -> &'static Debs {
    static DEBS: OnceLock<Debs> = OnceLock::new();
    DEBS.get_or_init(|| {
        script("scripts/build-debs.sh", &[]);
        let version = env!("CARGO_PKG_VERSION");
        let deb = |package: &str, suffix: &str| {
            let p = repo().join(format!(
                "target/debian/{package}_{version}+{suffix}_amd64.deb"
            ));
            assert!(p.is_file(), "{} was not built", p.display());
            p
        };
        Debs {
            plugin: [deb("rasstatic", "deb12"), deb("rasstatic", "deb13")],
            agent: [
                deb("rasstatic-agent", "deb12"),
                deb("rasstatic-agent", "deb13"),
            ],
        }
    })
}

/// `dpkg-deb FIELD` of a package.
fn field(deb: &Path, name: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()
        .expect("cannot run dpkg-deb");
    assert!(out.status.success(), "dpkg-deb -f {}", deb.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn contents(deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .output()
        .expect("cannot run dpkg-deb");
    assert!(out.status.success(), "dpkg-deb -c {}", deb.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn each_package_is_for_one_pppd_version() {
    let [d12, d13] = &debs().plugin;
    for (deb, pppd) in [(d12, "2.4.9"), (d13, "2.5.2")] {
        let depends = field(deb, "Depends");
        let want = format!("ppp (>= {pppd}-1+~), ppp (<< {pppd}-2~)");
        assert!(
            depends.starts_with(&want),
            "{}: Depends is {depends:?}, want it to start with {want:?}",
            deb.display()
        );
        let list = contents(deb);
        let plugin = format!("./usr/lib/pppd/{pppd}/rasstatic.so");
        assert!(
            list.contains(&plugin),
            "{}: no {plugin}:\n{list}",
            deb.display()
        );
        assert_eq!(
            list.matches("/rasstatic.so\n").count(),
            1,
            "{}: one plugin only:\n{list}",
            deb.display()
        );
        for f in [
            "./usr/sbin/rasstatic\n",
            "./lib/systemd/system/rasstatic-watchdog@.service\n",
            "./usr/lib/tmpfiles.d/rasstatic.conf\n",
            "./usr/share/doc/rasstatic/copyright\n",
            "./usr/share/doc/rasstatic/examples/options.ttyS0.example\n",
            "./usr/share/man/man8/rasstatic.8.gz\n",
        ] {
            assert!(list.contains(f), "{}: no {f}:\n{list}", deb.display());
        }
        assert!(
            !list.contains("/usr/lib/debug/"),
            "{}: debug files in the package:\n{list}",
            deb.display()
        );
        assert!(
            !list.contains("rasstatic-agent"),
            "{}: the agent's files are in the agent's package only:\n{list}",
            deb.display()
        );
    }
}

/// The agent's package, one per Debian release of one source version:
/// the agent, its unit, man page and example settings, no settings of its
/// own in /etc, and no dependency on ppp, only on the rasstatic of the
/// same build.
#[test]
fn each_agent_package_depends_on_its_rasstatic_and_not_on_ppp() {
    let version = env!("CARGO_PKG_VERSION");
    for (deb, suffix) in debs().agent.iter().zip(["deb12", "deb13"]) {
        assert_eq!(field(deb, "Package"), "rasstatic-agent");
        assert_eq!(field(deb, "Version"), format!("{version}+{suffix}"));
        assert_eq!(field(deb, "Architecture"), "amd64");
        let depends = field(deb, "Depends");
        let want = format!("rasstatic (= {version}+{suffix}), ");
        assert!(
            depends.starts_with(&want),
            "{}: Depends is {depends:?}, want it to start with {want:?}",
            deb.display()
        );
        assert!(
            depends.contains("libc6"),
            "{}: no shared-library dependency in {depends:?}",
            deb.display()
        );
        let relations: Vec<String> = ["Pre-Depends", "Depends", "Recommends", "Suggests"]
            .iter()
            .map(|f| field(deb, f))
            .collect();
        for r in &relations {
            assert!(
                !r.split(',').any(|p| p.trim().starts_with("ppp")),
                "{}: a ppp relation in {r:?}",
                deb.display()
            );
        }
        let list = contents(deb);
        for f in [
            "./usr/sbin/rasstatic-agent\n",
            "./lib/systemd/system/rasstatic-agent@.service\n",
            "./usr/share/doc/rasstatic-agent/copyright\n",
            "./usr/share/doc/rasstatic-agent/changelog.gz\n",
            "./usr/share/doc/rasstatic-agent/examples/default.cluster\n",
            "./usr/share/man/man8/rasstatic-agent.8.gz\n",
        ] {
            assert!(list.contains(f), "{}: no {f}:\n{list}", deb.display());
        }
        for not in [
            "./etc/",
            "/usr/lib/debug/",
            "/usr/lib/pppd/",
            "rasstatic.so",
        ] {
            assert!(
                !list.contains(not),
                "{}: {not} in the package:\n{list}",
                deb.display()
            );
        }
    }
}

#[test]
fn lintian_finds_no_error_or_warning() {
    let d = debs();
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--pedantic", "-I"])
        .args(d.plugin.iter().chain(&d.agent))
        .output()
        .expect("cannot run lintian: install Debian's lintian (scripts/setup.sh does)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(
        out.status.success() && bad.is_empty(),
        "lintian ({}):\n{text}",
        out.status
    );
}

/// What scripts/test-package.sh must report as passed, for every package.
const CHECKS: &[&str] = &[
    "install",
    "dpkg-L /usr/sbin/rasstatic",
    "dpkg-L /lib/systemd/system/rasstatic-watchdog@.service",
    "dpkg-L /usr/lib/tmpfiles.d/rasstatic.conf",
    "dpkg-L /usr/share/doc/rasstatic/copyright",
    "dpkg-L /usr/share/doc/rasstatic/changelog.gz",
    "dpkg-L /usr/share/doc/rasstatic/examples/options.ttyS0.example",
    "dpkg-L /usr/share/man/man8/rasstatic.8.gz",
    "dpkg-L /usr/share/man/man8/pppd-rasstatic.8.gz",
    "other-pppd-refused",
    "man-w rasstatic",
    "man-w pppd-rasstatic",
    "man-w rasstatic.so",
    "man-renders",
    "systemd-analyze-verify",
    "check-example",
    "run-dir-after-install",
    "tmpfiles-boot",
    "run-dir-mode",
    "check-peers-file",
    "call-up 10.77.0.10",
    "plugin-loaded-from-installed-path",
    "watchdog-running",
    "reinstall-with-call-up",
    "lease-kept-through-reinstall",
    "pppd-alive-through-reinstall",
    "running-pppd-keeps-old-plugin",
    "second-call-after-reinstall",
    "remove-with-calls-up",
    "removed-command-gone",
    "table-kept-after-remove",
    "pppds-alive-after-remove",
    "calls-up-after-remove",
    "hang-up",
    "install-again",
    "released-after-hang-up",
    "purge-in-guest",
    "run-dir-gone-after-purge",
    "watchdog-stopped-by-purge",
    "install-after-purge",
    "purge",
    "purge-removes-package-files",
    "purge-no-rasstatic-path",
    "purge-leaves-nothing-new",
];

/// What scripts/test-package.sh must report as passed for the agent's
/// package, for every release.
const AGENT_CHECKS: &[&str] = &[
    "dpkg-L /usr/sbin/rasstatic-agent",
    "dpkg-L /lib/systemd/system/rasstatic-agent@.service",
    "dpkg-L /usr/share/doc/rasstatic-agent/copyright",
    "dpkg-L /usr/share/doc/rasstatic-agent/changelog.gz",
    "dpkg-L /usr/share/doc/rasstatic-agent/examples/default.cluster",
    "dpkg-L /usr/share/man/man8/rasstatic-agent.8.gz",
    "agent-no-conffile",
    "man-w rasstatic-agent",
    "agent-man-renders",
    "systemd-analyze-verify-agent",
    "agent-version",
    "agent-bad-setting-exit-2",
    "agent-example-cannot-join-exit-1",
    "agent-enable-instance",
    "purge-agent",
    "purge-agent-removes-its-files",
    "purge-agent-removes-enabled-link",
    "purge-agent-no-agent-path",
    "purge-agent-leaves-nothing-new",
    "purge-agent-keeps-rasstatic",
];

/// Installs both packages of one release, runs and purges the agent's,
/// dials through the plugin's and purges it; one User-Mode Linux guest at
/// a time.
fn install_and_dial(which: &str, pppd: &str) {
    static ONE_GUEST: Mutex<()> = Mutex::new(());
    debs();
    let _guest = ONE_GUEST.lock().unwrap_or_else(|e| e.into_inner());
    let out = script("scripts/test-package.sh", &[which]);
    eprintln!("{out}");
    let lines: Vec<&str> = out.lines().collect();
    let fails: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(fails.is_empty(), "{which}: failed checks: {fails:#?}");
    let mut expected: Vec<String> = CHECKS
        .iter()
        .chain(AGENT_CHECKS)
        .map(|c| c.to_string())
        .collect();
    expected.push(format!(
        "dpkg-L-plugin-in-pppd-dir /usr/lib/pppd/{pppd}/rasstatic.so"
    ));
    for c in &expected {
        let ok = format!("ok {c}");
        assert!(
            lines
                .iter()
                .any(|l| *l == ok || l.starts_with(&format!("{ok} "))),
            "{which}: no \"{ok}\" in:\n{out}"
        );
    }
    let summary = format!("package-test {which}: {} passed, 0 failed", expected.len());
    assert!(
        lines.contains(&summary.as_str()),
        "{which}: no \"{summary}\" in:\n{out}"
    );
}

#[test]
fn debian_12_install_dial_purge() {
    install_and_dial("deb12", "2.4.9");
}

#[test]
fn debian_13_install_dial_purge() {
    install_and_dial("deb13", "2.5.2");
}
