//! `rasstatic`: see, reap and release leases, export statistics, check
//! option files, run the watchdog. Built on the lease table alone.
//!
//! Exit status: 0 success, 1 error, 2 usage error; `watchdog`: 3 when it
//! refuses the table.

use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};

use rasstatic::agent_state::AgentState;
use rasstatic::protocol::{EndedBy, ProcLiveness};
use rasstatic::table::{self, Reader, Table};
use rasstatic::watchdog;

// The crate root is src/bin/rasstatic.rs; its modules live beside it.
#[path = "rasstatic/check.rs"]
mod check;
#[path = "rasstatic/out.rs"]
mod out;
#[path = "rasstatic/show.rs"]
mod show;

use out::{complain, Failure, Out};
use show::{state, Filter, State};

/// `--dir`: an absolute path. A relative one would name a different
/// directory for each working directory (and the watchdog would create it
/// and wait there for a table no pppd writes).
fn absolute_dir(s: &str) -> Result<String, String> {
    if s.starts_with('/') {
        Ok(s.to_string())
    } else {
        Err(format!(
            "\"{s}\" is not an absolute path; give the directory pppd uses (rasstatic-dir, default {})",
            table::DEFAULT_DIR
        ))
    }
}

fn cli() -> Command {
    let dir = Arg::new("dir")
        .long("dir")
        .value_name("DIR")
        .default_value(table::DEFAULT_DIR)
        .value_parser(absolute_dir)
        .help("Directory of lease tables (absolute)");
    let name = Arg::new("name")
        .long("name")
        .value_name("NAME")
        .default_value(table::DEFAULT_NAME)
        .help("Table (pool) name");
    let common = |c: Command| c.arg(dir.clone()).arg(name.clone());
    Command::new("rasstatic")
        .about("Inspect and administer rasstatic's shared IPv4 lease tables")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(common(
            Command::new("show")
                .about("List pool addresses with their state and holder, as they are read")
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("One JSON object"),
                )
                .arg(
                    Arg::new("leased")
                        .long("leased")
                        .action(ArgAction::SetTrue)
                        .help("List leased addresses (with --stale/--free: either)"),
                )
                .arg(
                    Arg::new("stale")
                        .long("stale")
                        .action(ArgAction::SetTrue)
                        .help("List stale leases (holder dead, not reaped yet)"),
                )
                .arg(
                    Arg::new("free")
                        .long("free")
                        .action(ArgAction::SetTrue)
                        .help("List free addresses"),
                )
                .arg(
                    Arg::new("draining")
                        .long("draining")
                        .action(ArgAction::SetTrue)
                        .help("List draining leases (address no longer in the pool)"),
                )
                .arg(
                    Arg::new("sealed")
                        .long("sealed")
                        .action(ArgAction::SetTrue)
                        .help("List sealed addresses (cluster mode: in blocks this server does not hold)"),
                )
                .arg(
                    Arg::new("select")
                        .value_name("ADDRESS|A-B|CIDR")
                        .help("Only these addresses"),
                ),
        ))
        .subcommand(common(
            Command::new("stats").about("Pool usage and counters").arg(
                Arg::new("prometheus")
                    .long("prometheus")
                    .action(ArgAction::SetTrue)
                    .help("Prometheus text format (node_exporter textfile collector)"),
            ),
        ))
        .subcommand(common(
            Command::new("reap").about("Free leases whose holder is dead"),
        ))
        .subcommand(common(
            Command::new("release")
                .about("Free a stale lease (or, with --force, a live one)")
                .arg(Arg::new("address").required(true).value_name("ADDRESS"))
                .arg(
                    Arg::new("force")
                        .long("force")
                        .action(ArgAction::SetTrue)
                        .help("Free it even though its holder is alive"),
                ),
        ))
        .subcommand(common(
            Command::new("watchdog")
                .about("Run the table's watchdog in the foreground (for systemd); waits if one already runs")
                .arg(
                    Arg::new("detach")
                        .long("detach")
                        .action(ArgAction::SetTrue)
                        .help("Start it in the background instead, as the plugin does, and print its PID"),
                ),
        ))
        .subcommand(
            Command::new("check")
                .about("Check the rasstatic options in pppd option files (and pptpd.conf files)")
                .arg(
                    Arg::new("files")
                        .required(true)
                        .num_args(1..)
                        .value_name("OPTION-FILE"),
                ),
        )
}

fn main() -> ExitCode {
    let m = match cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    rasstatic::syslog::init(log::Level::Warn);
    let (sub, args) = m.subcommand().expect("subcommand_required");
    if sub == "watchdog" {
        return watchdog(args);
    }
    let mut out = Out::new();
    let r = match sub {
        "show" => open_reader(args).and_then(|t| {
            let states = [
                ("leased", State::Leased),
                ("stale", State::Stale),
                ("free", State::Free),
                ("draining", State::Draining),
                ("sealed", State::Sealed),
            ];
            let filter = Filter {
                states: states
                    .iter()
                    .filter(|(f, _)| args.get_flag(f))
                    .map(|x| x.1)
                    .collect(),
                select: args.get_one::<String>("select").cloned(),
            };
            show::show(
                &t,
                watchdog_pid(args),
                &AgentState::read(&dir(args), name(args)),
                args.get_flag("json"),
                &filter,
                &mut out,
            )
        }),
        "stats" => open_reader(args).and_then(|t| {
            show::stats(
                &t,
                name(args),
                watchdog_pid(args),
                &AgentState::read(&dir(args), name(args)),
                args.get_flag("prometheus"),
                &mut out,
            )
        }),
        "reap" => open(args).and_then(|t| reap(&t, &mut out)),
        "release" => open(args).and_then(|t| release(&t, args, &mut out)),
        "check" => {
            let files: Vec<String> = args
                .get_many::<String>("files")
                .expect("required")
                .cloned()
                .collect();
            check::check(&files, &mut out)
        }
        _ => unreachable!("clap knows the subcommands"),
    };
    // Whatever is still buffered goes out now, where a failure is seen.
    let r = r.and_then(|()| out.flush().map_err(Failure::Output));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has gone (`rasstatic show | head`): it wanted no more.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            complain(&format!("cannot write the output: {e}"));
            ExitCode::from(1)
        }
        Err(Failure::Msg(m)) => {
            // What was written before the failure comes first.
            let _ = out.flush();
            complain(&m);
            ExitCode::from(1)
        }
    }
}

fn name(a: &ArgMatches) -> &str {
    a.get_one::<String>("name").expect("default")
}

fn dir(a: &ArgMatches) -> PathBuf {
    PathBuf::from(a.get_one::<String>("dir").expect("default"))
}

/// The table, mapped, for the commands that change it.
fn open(a: &ArgMatches) -> Result<Table, Failure> {
    Table::open_existing(&dir(a), name(a)).map_err(|e| opening_failed(a, e))
}

/// The table, for reading only (`show`, `stats`): never mapped.
fn open_reader(a: &ArgMatches) -> Result<Reader, Failure> {
    Reader::open(&dir(a), name(a)).map_err(|e| opening_failed(a, e))
}

fn opening_failed(a: &ArgMatches, e: table::TableError) -> Failure {
    Failure::Msg(match e {
        table::TableError::Io { err, .. } if err.kind() == io::ErrorKind::NotFound => format!(
            "no table {}: no pppd has created it yet (is `plugin rasstatic.so` in pppd's options?)",
            table::table_path(&dir(a), name(a)).display()
        ),
        e => e.to_string(),
    })
}

/// The running watchdog's PID (0: running, PID not yet written).
fn watchdog_pid(a: &ArgMatches) -> Option<u32> {
    watchdog::running(&dir(a), name(a))
}

/// Exit status 3: the watchdog refused the table (systemd's unit does not
/// restart it for that: `RestartPreventExitStatus=3`). Everything is
/// checked before anything is written, so a bad name or directory touches
/// no file; `--detach` reports a refused table here, not only in syslog.
fn watchdog(a: &ArgMatches) -> ExitCode {
    let fail = |code: u8, e: &dyn std::fmt::Display| {
        log::error!("watchdog: {e}");
        ExitCode::from(code)
    };
    if let Err(e) = table::check_name(name(a)) {
        return fail(2, &e);
    }
    if a.get_flag("detach") {
        // A directory that cannot be made is no refused table (status 3
        // would keep systemd from trying again).
        if let Err(e) = table::prepare_dir(&dir(a)) {
            return fail(1, &e);
        }
        // A table that exists must be one the watchdog accepts; a missing
        // one is waited for.
        match Table::open_existing(&dir(a), name(a)) {
            Err(table::TableError::Io { err, .. })
                if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return fail(3, &e),
            Ok(_) => {}
        }
        return match watchdog::spawn::spawn(&dir(a), name(a), || {}) {
            Ok(Some(pid)) => match writeln!(io::stdout(), "{pid}") {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => fail(
                    1,
                    &format!("started the watchdog (pid {pid}), but cannot write the output: {e}"),
                ),
                _ => ExitCode::SUCCESS,
            },
            Ok(None) => fail(
                1,
                &format!(
                    "a watchdog already runs for table \"{}\" (pid {})",
                    name(a),
                    watchdog_pid(a).unwrap_or(0)
                ),
            ),
            Err(e) => fail(1, &format!("cannot start the watchdog: {e}")),
        };
    }
    let s = watchdog::Settings::new(&dir(a), name(a));
    match watchdog::run_foreground(&s) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ watchdog::Failure::Refused(_)) => fail(3, &format!("{e}; exiting")),
        Err(e) => fail(1, &format!("{e}; exiting")),
    }
}

/// Free stale leases and name each. A failure to write the list is
/// reported with what was freed.
fn reap(t: &Table, out: &mut Out) -> Result<(), Failure> {
    t.check_liveness()
        .map_err(|e| Failure::Msg(e.to_string()))?;
    let r = t.reap_all(EndedBy::ReapAdmin);
    let report = |out: &mut Out| -> io::Result<()> {
        for x in &r {
            writeln!(
                out,
                "reaped {} (pid {} is dead)",
                t.pool().addr(x.slot),
                x.owner.pid()
            )?;
        }
        writeln!(out, "{} stale lease(s) freed", r.len())?;
        out.flush()
    };
    report(out).map_err(|e| Failure::after(&format!("freed {} stale lease(s)", r.len()), e))
}

fn release(t: &Table, a: &ArgMatches, out: &mut Out) -> Result<(), Failure> {
    let text = a.get_one::<String>("address").expect("required");
    let addr: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("\"{}\" is not an IPv4 address", out::escape(text)))?;
    let slot = t.any_slot_of(addr).ok_or_else(|| {
        format!(
            "{addr} is not in pool {} ({})",
            t.pool(),
            t.path().display()
        )
    })?;
    // Whether the holder is alive decides what may be done, and from
    // another PID namespace nobody can tell (--force acts regardless).
    if !a.get_flag("force") {
        t.check_liveness()
            .map_err(|e| Failure::Msg(e.to_string()))?;
    }
    let l = t.lease(slot);
    let (st, owner) = state(&l, &t.liveness());
    let mut say = |line: String, done: &str| -> Result<(), Failure> {
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| Failure::after(done, e))
    };
    let Some(owner) = owner else {
        return say(
            format!("{addr} is already free"),
            &format!("{addr} is free"),
        );
    };
    let peer = l
        .meta
        .as_ref()
        .map(|m| format!(" ({})", out::escape(&m.peer)))
        .filter(|p| p != " ()")
        .unwrap_or_default();
    if st == State::Stale {
        return match t.reap(slot, &ProcLiveness, EndedBy::Admin) {
            Some(_) => {
                log::info!(
                    "released stale lease {addr} of dead pid {}{peer} by admin",
                    owner.pid()
                );
                say(
                    format!("released {addr} (pid {} was dead)", owner.pid()),
                    &format!("released {addr}"),
                )
            }
            None => Err(format!("{addr} changed hands meanwhile; look again").into()),
        };
    }
    if !a.get_flag("force") {
        return Err(format!(
            "{addr} is leased to live pid {}{peer}; hang that session up, or use --force",
            owner.pid()
        )
        .into());
    }
    match t.force_release(slot, EndedBy::Forced) {
        Some(o) => {
            log::warn!(
                "forced release of {addr}, leased to live pid {}{peer}",
                o.pid()
            );
            // A live pppd would re-enter its lease at its next check: hang
            // its call up, as pppd does on SIGTERM.
            if t.check_liveness().is_ok()
                && o.iface().is_none()
                && rasstatic::kernel::is_pppd(o.pid())
                && o.signal(libc::SIGTERM).is_ok()
            {
                return say(
                    format!("released {addr}; hung up pppd pid {}", o.pid()),
                    &format!("released {addr}"),
                );
            }
            say(format!("released {addr}"), &format!("released {addr}"))
        }
        None => say(
            format!("{addr} is already free"),
            &format!("{addr} is free"),
        ),
    }
}
