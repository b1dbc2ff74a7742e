//! fdhold: take copies of another process's /dev/ppp descriptors and keep
//! them, for the real-pppd tests. This is what a helper that inherited
//! pppd's ppp unit descriptor does by accident: after pppd dies, its pppN
//! interface (with its address and routes) stays while the copy is open.
//!
//! Usage: fdhold PID. Prints "held N" once it holds N descriptors, then
//! sleeps until killed. Needs pidfd_getfd (Linux 5.6) and ptrace rights
//! over PID (root).

use std::fs;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(pid) = std::env::args().nth(1).and_then(|a| a.parse::<i32>().ok()) else {
        eprintln!("usage: fdhold PID");
        return ExitCode::from(2);
    };
    // SAFETY: pidfd_open(pid, 0) takes no pointers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        eprintln!("pidfd_open {pid}: {}", std::io::Error::last_os_error());
        return ExitCode::from(1);
    }
    let mut held = Vec::new();
    let entries = match fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("/proc/{pid}/fd: {e}");
            return ExitCode::from(1);
        }
    };
    for e in entries.flatten() {
        let Ok(target) = fs::read_link(e.path()) else {
            continue;
        };
        if target.as_os_str() != "/dev/ppp" {
            continue;
        }
        let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: pidfd_getfd(pidfd, fd, 0) takes no pointers.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0) };
        if fd < 0 {
            eprintln!("pidfd_getfd {pid}/{n}: {}", std::io::Error::last_os_error());
            return ExitCode::from(1);
        }
        held.push(fd);
    }
    println!("held {}", held.len());
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}
