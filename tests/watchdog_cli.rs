//! `rasstatic watchdog` checks everything before it writes anything: a bad
//! table name touches no file outside the table directory, and `--detach`
//! reports a refused table with a non-zero status and the reason on
//! stderr, once.

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("wdcli-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(d)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn rasstatic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_name_with_a_slash_writes_nothing_outside_the_directory() {
    let d = TempDir::new("name");
    let tables = d.0.join("tables");
    fs::create_dir(&tables).unwrap();
    let victim = d.0.join("victim.watchdog");
    fs::write(&victim, "precious\n").unwrap();
    for detach in [false, true] {
        let mut args = vec![
            "watchdog",
            "--dir",
            tables.to_str().unwrap(),
            "--name",
            "../victim",
        ];
        if detach {
            args.push("--detach");
        }
        let o = rasstatic(&args);
        assert_eq!(o.status.code(), Some(2), "detach {detach}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("../victim"),
            "the message does not name the name: {e}"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(
            fs::read_dir(&tables).unwrap().count(),
            0,
            "files created in the table directory"
        );
    }
}

#[test]
fn detach_refuses_a_bad_table_with_status_3_and_the_reason_once() {
    let d = TempDir::new("refused");
    let table = d.0.join("t.table");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&table)
        .unwrap();
    fs::write(&table, vec![0x5a; 8192]).unwrap();
    for detach in [true, false] {
        let mut args = vec!["watchdog", "--dir", d.0.to_str().unwrap(), "--name", "t"];
        if detach {
            args.push("--detach");
        }
        let o = rasstatic(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "detach {detach}: {e}");
        assert!(o.stdout.is_empty(), "a PID was printed: {:?}", o.stdout);
        assert_eq!(
            e.matches(table.to_str().unwrap()).count(),
            1,
            "detach {detach}: the reason is not given exactly once: {e}"
        );
        assert!(e.contains("bad magic"), "{e}");
    }
    // Nothing was left running for it.
    let lock = d.0.join("t.watchdog");
    let o = rasstatic(&["show", "--dir", d.0.to_str().unwrap(), "--name", "t"]);
    assert!(!o.status.success());
    if lock.exists() {
        let locks = fs::read_to_string("/proc/locks").unwrap();
        use std::os::unix::fs::MetadataExt;
        let ino = fs::metadata(&lock).unwrap().ino();
        assert!(
            !locks.lines().any(|l| l.contains(&format!(":{ino} "))),
            "a watchdog holds the lock: {locks}"
        );
    }
}
