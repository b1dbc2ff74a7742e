//! What a cluster agent (`rasstatic-agent`) last reported, for `rasstatic
//! show` and `stats`: a small text file beside the table,
//! `NAME.agent.state`, replaced whole (written under a temporary name,
//! then renamed) after every step of the agent.
//!
//! It is informative: nothing decides from it. The decisions are in the
//! table (its deadlines and sealed slots) and in etcd. The one use beyond
//! `show` is a hint: an agent started after one that died offers etcd the
//! registration (lease and token) named here, and resumes it only if etcd
//! confirms that registration is alive and this server's. A file that is
//! not a regular file owned by this user, is writable by others, or does
//! not parse is refused with the reason.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::owner::Owner;

/// The largest state file read.
const MAX_LEN: u64 = 64 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentState {
    /// The agent process's identity (PID and start time).
    pub agent: u64,
    pub server_id: String,
    pub endpoints: String,
    /// "joined", "etcd unreachable", "registration lost".
    pub state: String,
    /// The registration's token (its key's create revision in etcd).
    pub token: i64,
    /// The registration's etcd lease ID (0: none).
    pub lease: i64,
    /// Addresses per block.
    pub block: u32,
    /// The blocks this server holds, by index.
    pub held: Vec<u32>,
    /// Sessions in blocks this server does not hold, being hung up.
    pub strays: u32,
    /// `CLOCK_BOOTTIME` nanoseconds: when the last renewal that etcd
    /// verified was sent (0: none yet).
    pub renewed_ns: u64,
    /// `CLOCK_BOOTTIME` nanoseconds: when this was written.
    pub updated_ns: u64,
    /// The last error, if the last step failed.
    pub error: String,
}

/// `NAME.agent.state` in `dir`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.agent.state"))
}

/// One line: no line break, no NUL, at most 1 KiB.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1024)
        .collect()
}

impl AgentState {
    pub fn to_text(&self) -> String {
        let mut s = String::from("rasstatic-agent-state 1\n");
        let held: Vec<String> = self.held.iter().map(u32::to_string).collect();
        let _ = write!(
            s,
            "agent {}\nserver_id {}\nendpoints {}\nstate {}\ntoken {}\nlease {}\nblock {}\nheld {}\nstrays {}\nrenewed_ns {}\nupdated_ns {}\nerror {}\n",
            self.agent,
            clean(&self.server_id),
            clean(&self.endpoints),
            clean(&self.state),
            self.token,
            self.lease,
            self.block,
            held.join(" "),
            self.strays,
            self.renewed_ns,
            self.updated_ns,
            clean(&self.error)
        );
        s
    }

    pub fn parse(text: &str) -> Result<AgentState, String> {
        let mut lines = text.lines();
        if lines.next() != Some("rasstatic-agent-state 1") {
            return Err("not a rasstatic-agent state file (or another version)".into());
        }
        let mut a = AgentState::default();
        let num = |k: &str, v: &str| -> Result<u64, String> {
            v.parse().map_err(|_| format!("{k} \"{v}\": not a number"))
        };
        for l in lines {
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            match k {
                "agent" => a.agent = num(k, v)?,
                "server_id" => a.server_id = v.into(),
                "endpoints" => a.endpoints = v.into(),
                "state" => a.state = v.into(),
                "token" => {
                    a.token = v
                        .parse()
                        .map_err(|_| format!("token \"{v}\": not a number"))?
                }
                "lease" => {
                    a.lease = v
                        .parse()
                        .map_err(|_| format!("lease \"{v}\": not a number"))?
                }
                "block" => a.block = num(k, v)? as u32,
                "held" => {
                    a.held = v
                        .split_whitespace()
                        .map(|b| num(k, b).map(|b| b as u32))
                        .collect::<Result<_, _>>()?
                }
                "strays" => a.strays = num(k, v)? as u32,
                "renewed_ns" => a.renewed_ns = num(k, v)?,
                "updated_ns" => a.updated_ns = num(k, v)?,
                "error" => a.error = v.into(),
                _ => {} // a newer writer's field
            }
        }
        if a.server_id.is_empty() || a.block == 0 {
            return Err("incomplete".into());
        }
        Ok(a)
    }

    /// Whether the agent that wrote this still runs.
    /// (See also [`wake`].)
    pub fn agent_alive(&self) -> bool {
        Owner::from_word(self.agent).is_some_and(|o| o.is_alive())
    }

    /// Replace the state file of table `name` in `dir` with this.
    pub fn write(&self, dir: &Path, name: &str) -> io::Result<()> {
        let to = path(dir, name);
        let tmp = dir.join(format!(".{name}.agent.state.{}", std::process::id()));
        let r = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            io::Write::write_all(&mut f, self.to_text().as_bytes())?;
            fs::rename(&tmp, &to)
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }

    /// The state file of table `name` in `dir`: `Ok(None)` if there is
    /// none (no agent ever ran: a standalone table).
    pub fn read(dir: &Path, name: &str) -> Result<Option<AgentState>, String> {
        let p = path(dir, name);
        let f = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&p)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        let m = f.metadata().map_err(|e| format!("{}: {e}", p.display()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let why = if !m.is_file() {
            Some("not a regular file".to_string())
        } else if m.uid() != euid {
            Some(format!("owned by uid {}, not {euid}", m.uid()))
        } else if m.mode() & 0o022 != 0 {
            Some(format!("writable by others (mode {:o})", m.mode() & 0o7777))
        } else if m.len() > MAX_LEN {
            Some(format!("{} bytes: too long", m.len()))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(format!("{}: refused: {why}", p.display()));
        }
        let text = io::read_to_string(f).map_err(|e| format!("{}: {e}", p.display()))?;
        AgentState::parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: refused: {e}", p.display()))
    }
}

/// Ask the agent of table `name` in `dir` to step now (a caller was
/// refused for want of addresses in the blocks it holds): SIGUSR1 to the
/// process its state file names, through a pidfd, so never to another
/// process that reused its PID. False if no running agent reported.
pub fn wake(dir: &Path, name: &str) -> bool {
    let Ok(Some(a)) = AgentState::read(dir, name) else {
        return false;
    };
    Owner::from_word(a.agent).is_some_and(|o| o.signal(libc::SIGUSR1).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let a = AgentState {
            agent: Owner::current().unwrap().word(),
            server_id: "bras-1".into(),
            endpoints: "http://127.0.0.1:2379".into(),
            state: "joined".into(),
            token: 7,
            lease: 0x694d_9a3b_5c8e_1f02,
            block: 16,
            held: vec![0, 3],
            strays: 0,
            renewed_ns: 5,
            updated_ns: 6,
            error: "line\nbreak".into(),
        };
        let back = AgentState::parse(&a.to_text()).unwrap();
        assert_eq!(back.error, "line break");
        assert_eq!(
            AgentState {
                error: a.error.clone(),
                ..back
            },
            a
        );
        assert!(a.agent_alive());
        assert!(AgentState::parse("garbage").is_err());
        assert!(AgentState::parse("rasstatic-agent-state 1\nheld x\n").is_err());
        let d = std::env::temp_dir().join(format!("rasstatic-as-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        assert_eq!(AgentState::read(&d, "t"), Ok(None));
        a.write(&d, "t").unwrap();
        assert_eq!(AgentState::read(&d, "t").unwrap().unwrap().held, vec![0, 3]);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path(&d, "t"), fs::Permissions::from_mode(0o666)).unwrap();
        let e = AgentState::read(&d, "t").unwrap_err();
        assert!(e.contains("writable by others"), "{e}");
        assert!(!wake(&d, "t"), "a refused state file wakes nobody");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn wake_signals_the_agent_named_and_nobody_else() {
        let d = std::env::temp_dir().join(format!("rasstatic-wake-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        assert!(!wake(&d, "t"), "no state file: no agent");
        // A stand-in agent: SIGUSR1 ends it.
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let a = AgentState {
            agent: Owner::of_pid(child.id()).unwrap().unwrap().word(),
            server_id: "bras-1".into(),
            block: 8,
            ..AgentState::default()
        };
        a.write(&d, "t").unwrap();
        assert!(wake(&d, "t"));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGUSR1));
        assert!(!wake(&d, "t"), "it is gone: nobody is signalled");
        fs::remove_dir_all(&d).unwrap();
    }
}
