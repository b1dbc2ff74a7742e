//! killwait: SIGKILL a lease holder and time how long its lease takes to
//! come free, for the real-pppd tests (a shell loop around `rasstatic show`
//! is far too coarse under User-Mode Linux).
//!
//! Usage: killwait PID DIR NAME ADDRESS [TIMEOUT_MS]. Sends SIGKILL to PID,
//! then polls the owner word of ADDRESS's slot, and a pidfd of PID, every
//! 100 µs. Prints "FREED EXITED": the microseconds from just before kill(2)
//! until the slot was seen free, and until the process had exited (its
//! pidfd readable; the kernel tears down what it held, pppN included,
//! before that). "never" after TIMEOUT_MS (default 5000), exit status 1.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::table::Table;

fn has_exited(pidfd: i32) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 4 {
        eprintln!("usage: killwait PID DIR NAME ADDRESS [TIMEOUT_MS]");
        return ExitCode::from(2);
    }
    let (Ok(pid), Ok(addr)) = (a[0].parse::<i32>(), a[3].parse::<Ipv4Addr>()) else {
        eprintln!("killwait: bad PID or address");
        return ExitCode::from(2);
    };
    let timeout = Duration::from_millis(a.get(4).and_then(|t| t.parse().ok()).unwrap_or(5000));
    let t = match Table::open_existing(&PathBuf::from(&a[1]), &a[2]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("killwait: {e}");
            return ExitCode::from(1);
        }
    };
    let Some(slot) = t.slot_of(addr) else {
        eprintln!("killwait: {addr} is not in the pool");
        return ExitCode::from(1);
    };
    // SAFETY: pidfd_open(pid, 0) takes no pointers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if pidfd < 0 {
        eprintln!(
            "killwait: pidfd_open {pid}: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::from(1);
    }
    let mut exited = None;
    let t0 = Instant::now();
    // SAFETY: kill(2) takes no pointers.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        eprintln!("killwait: kill {pid}: {}", std::io::Error::last_os_error());
        return ExitCode::from(1);
    }
    while t0.elapsed() < timeout {
        if exited.is_none() && has_exited(pidfd) {
            exited = Some(t0.elapsed());
        }
        if Owner::from_word(t.slots().word(slot)).is_none() {
            let freed = t0.elapsed();
            // Freed while the holder had not exited would be a bug.
            match exited.or_else(|| has_exited(pidfd).then_some(freed)) {
                Some(e) => println!("{} {}", freed.as_micros(), e.as_micros()),
                None => println!("{} alive", freed.as_micros()),
            }
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    println!("never");
    ExitCode::from(1)
}
