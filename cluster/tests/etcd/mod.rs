//! A real 3-member etcd cluster on loopback, for the cluster tests:
//! Debian's `etcd-server` (`/usr/bin/etcd`), each member started and
//! stopped by PID, its data on /dev/shm (a tmpfs: fsync costs nothing, and
//! nothing is left on disk). Every port is on 127.0.0.1, or on an address
//! inside a network namespace the test made.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub const ETCD: &str = "/usr/bin/etcd";

pub struct Member {
    pub name: String,
    /// The address it listens on.
    pub addr: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub child: Option<Child>,
}

pub struct Etcd {
    pub dir: PathBuf,
    pub members: Vec<Member>,
    initial: String,
    /// The network namespace the members run in (None: this one).
    pub netns: Option<String>,
}

static NEXT: AtomicU16 = AtomicU16::new(0);

impl Etcd {
    /// Three members, on ports no other test of this process uses, up and
    /// with a leader. Panics (the test fails) if etcd is not installed or
    /// does not come up.
    pub fn start() -> Etcd {
        Etcd::start_in(None, "127.0.0.1")
    }

    /// As [`Etcd::start`], in network namespace `netns` (made by the
    /// test), listening on `addr` there.
    pub fn start_in(netns: Option<&str>, addr: &str) -> Etcd {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // 6 ports per cluster, from a base that depends on the process, so
        // that two test binaries running at once do not meet.
        // Below Linux's ephemeral ports (32768 on), which outgoing
        // connections take.
        let base = 20000 + (std::process::id() % 200) as u16 * 60 + n * 6;
        let members = (0..3)
            .map(|i| (addr.to_string(), base + i * 2, base + i * 2 + 1))
            .collect();
        Etcd::start_members(netns, n, members)
    }

    /// Three members in network namespace `netns` (made by the test), each
    /// on its own address of `addrs`, on etcd's own ports (2379 for
    /// clients, 2380 for peers), as a production cluster is set up.
    pub fn start_on(netns: &str, addrs: [&str; 3]) -> Etcd {
        let members = addrs.iter().map(|a| (a.to_string(), 2379, 2380)).collect();
        Etcd::start_members(Some(netns), NEXT.fetch_add(1, Ordering::SeqCst), members)
    }

    /// Members at (address, client port, peer port); `n` tells this
    /// cluster's data directory from the others of this process.
    fn start_members(netns: Option<&str>, n: u16, at: Vec<(String, u16, u16)>) -> Etcd {
        assert!(
            std::path::Path::new(ETCD).exists(),
            "{ETCD} is missing: install Debian's etcd-server (scripts/setup.sh does)"
        );
        let dir = PathBuf::from(format!(
            "/dev/shm/rasstatic-etcd-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let members: Vec<Member> = at
            .into_iter()
            .enumerate()
            .map(|(i, (addr, client_port, peer_port))| Member {
                name: format!("m{i}"),
                addr,
                client_port,
                peer_port,
                child: None,
            })
            .collect();
        let initial = members
            .iter()
            .map(|m| format!("{}=http://{}:{}", m.name, m.addr, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut e = Etcd {
            dir,
            members,
            initial,
            netns: netns.map(str::to_string),
        };
        for i in 0..e.members.len() {
            e.spawn(i, "new");
        }
        e.wait_ready(Duration::from_secs(30));
        e
    }

    fn spawn(&mut self, i: usize, state: &str) {
        let m = &self.members[i];
        let data = self.dir.join(&m.name);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", m.name))).unwrap();
        let a = &m.addr;
        let child = self
            .command(ETCD)
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &format!("http://{a}:{}", m.client_port),
                "--advertise-client-urls",
                &format!("http://{a}:{}", m.client_port),
                "--listen-peer-urls",
                &format!("http://{a}:{}", m.peer_port),
                "--initial-advertise-peer-urls",
                &format!("http://{a}:{}", m.peer_port),
                "--initial-cluster",
                &self.initial,
                "--initial-cluster-token",
                &format!("rasstatic-test-{}", self.dir.display()),
                "--initial-cluster-state",
                state,
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.members[i].child = Some(child);
    }

    /// `prog`, run in the members' network namespace.
    pub fn command(&self, prog: &str) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, prog]);
                c
            }
            None => Command::new(prog),
        }
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://{}:{}", m.addr, m.client_port))
            .collect()
    }

    /// `etcdctl get --prefix PREFIX`, as key/value pairs.
    pub fn get_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let out = self
            .command("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.endpoints().join(","),
                "get",
                "--prefix",
                prefix,
            ])
            .output()
            .expect("etcdctl");
        assert!(out.status.success(), "etcdctl get: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect()
    }

    /// Until the cluster has a leader that every running member knows.
    pub fn wait_ready(&self, limit: Duration) {
        let t0 = Instant::now();
        while self.leader().is_none() {
            assert!(
                t0.elapsed() < limit,
                "etcd did not come up in {limit:?}; logs in {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The index of the member that leads now, asked of each running
    /// member (`etcdctl endpoint status`).
    pub fn leader(&self) -> Option<usize> {
        let running = || {
            self.members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.child.is_some())
        };
        for (_, m) in running() {
            let Some((leader, _)) = self.status(m) else {
                continue;
            };
            if leader == "0" {
                continue;
            }
            // Which member has that id.
            for (j, o) in running() {
                if self.status(o).is_some_and(|(_, id)| id == leader) {
                    return Some(j);
                }
            }
        }
        None
    }

    /// Member `m`'s view: the leader's id and its own.
    fn status(&self, m: &Member) -> Option<(String, String)> {
        let out = self
            .command("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &format!("http://{}:{}", m.addr, m.client_port),
                "--command-timeout=1s",
                "endpoint",
                "status",
                "-w",
                "fields",
            ])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("\"{name}\"")))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().trim_end_matches(',').to_string())
        };
        Some((field("Leader")?, field("MemberID")?))
    }

    /// SIGKILL member `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start member `i` again on its data (after [`Etcd::kill`]).
    pub fn restart(&mut self, i: usize) {
        assert!(self.members[i].child.is_none());
        self.spawn(i, "existing");
    }

    fn signal(&self, i: usize, sig: i32) {
        let pid = self.members[i].child.as_ref().expect("member running").id();
        // SAFETY: kill(2) on a child this harness started and has not
        // reaped (it holds the Child), so the PID is still that process.
        let rc = unsafe { libc::kill(pid as i32, sig) };
        assert_eq!(rc, 0);
    }

    /// Freeze member `i` (it stops answering peers and clients).
    pub fn stop(&self, i: usize) {
        self.signal(i, libc::SIGSTOP);
    }

    pub fn cont(&self, i: usize) {
        self.signal(i, libc::SIGCONT);
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            if self.members[i].child.is_some() {
                let _ = self.signal_opt(i, libc::SIGCONT);
                self.kill(i);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Etcd {
    fn signal_opt(&self, i: usize, sig: i32) -> Option<()> {
        let pid = self.members[i].child.as_ref()?.id();
        // SAFETY: as in `signal`: our unreaped child.
        unsafe { libc::kill(pid as i32, sig) };
        Some(())
    }
}
