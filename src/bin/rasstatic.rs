//! `rasstatic`: see, reap and release leases, export statistics, check
//! option files, run the watchdog. Built on the lease table alone.
//!
//! Exit status: 0 success, 1 error, 2 usage error; `watchdog`: 3 when it
//! refuses the table.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{json, Value};

use rasstatic::config::{Config, OPTIONS};
use rasstatic::optfile;
use rasstatic::owner::Owner;
use rasstatic::protocol::{Path, ProcLiveness};
use rasstatic::table::{self, Lease, LeaseState, Table};
use rasstatic::watchdog;

fn cli() -> Command {
    let dir = Arg::new("dir")
        .long("dir")
        .value_name("DIR")
        .default_value(table::DEFAULT_DIR)
        .help("Directory of lease tables");
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
                .about("List every pool address with its state and holder")
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("One JSON object"),
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
                .about("Check the rasstatic options in pppd option files")
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
    let r = match sub {
        "show" => open(args).and_then(|t| show(&t, watchdog_pid(args), args.get_flag("json"))),
        "stats" => open(args).and_then(|t| {
            stats(
                &t,
                name(args),
                watchdog_pid(args),
                args.get_flag("prometheus"),
            )
        }),
        "watchdog" => return watchdog(args),
        "reap" => open(args).and_then(|t| reap(&t)),
        "release" => open(args).and_then(|t| release(&t, args)),
        "check" => check(
            args.get_many::<String>("files")
                .expect("required")
                .cloned()
                .collect(),
        ),
        _ => unreachable!("clap knows the subcommands"),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rasstatic: {e}");
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

fn open(a: &ArgMatches) -> Result<Table, String> {
    Table::open_existing(&dir(a), name(a)).map_err(|e| e.to_string())
}

/// The running watchdog's PID (0: running, PID not yet written).
fn watchdog_pid(a: &ArgMatches) -> Option<u32> {
    watchdog::running(&dir(a), name(a))
}

/// Exit status 3: the watchdog refused the table (systemd's unit does not
/// restart it for that: `RestartPreventExitStatus=3`).
fn watchdog(a: &ArgMatches) -> ExitCode {
    let fail = |code: u8, e: &dyn std::fmt::Display| {
        eprintln!("rasstatic: {e}");
        ExitCode::from(code)
    };
    if a.get_flag("detach") {
        if let Err(e) = table::prepare_dir(&dir(a)) {
            return fail(3, &e);
        }
        return match watchdog::spawn::spawn(&dir(a), name(a), || {}) {
            Ok(Some(pid)) => {
                println!("{pid}");
                ExitCode::SUCCESS
            }
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
        Err(e @ watchdog::Failure::Refused(_)) => fail(3, &e),
        Err(e) => fail(1, &e),
    }
}

/// A lease's state as administrators see it.
fn state(l: &Lease) -> (&'static str, Option<Owner>) {
    match l.state {
        LeaseState::Leased(o) if o.is_alive() => ("leased", Some(o)),
        LeaseState::Leased(o) => ("stale", Some(o)),
        LeaseState::Free(_) => ("free", None),
    }
}

fn local_time(t: u64) -> String {
    let tt = t as libc::time_t;
    // SAFETY: localtime_r fills the tm we own; strftime writes at most
    // buf.len() bytes into our buffer with a NUL-terminated format.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return t.to_string();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%Y-%m-%d %H:%M:%S".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h:02}h"),
    }
}

fn lease_json(l: &Lease, now: u64) -> Value {
    let (st, owner) = state(l);
    let meta = l.meta.as_ref();
    let current = |f: &dyn Fn(&table::MetaRecord) -> Value| -> Value {
        match (owner, meta) {
            (Some(_), Some(m)) => f(m),
            _ => Value::Null,
        }
    };
    let last = match (l.state, meta) {
        (LeaseState::Free(fr), m) if fr.path != Path::Never => json!({
            "pid": fr.last_pid,
            "peer": m.map(|m| m.peer.clone()),
            "released_by": fr.path.name(),
            "released_at": fr.when,
        }),
        _ => Value::Null,
    };
    json!({
        "address": l.addr.to_string(),
        "state": st,
        "pid": owner.map(|o| o.pid()),
        "peer": current(&|m| json!(m.peer)),
        "interface": current(&|m| json!(m.ifname)),
        "device": current(&|m| json!(m.device)),
        "proxyarp": current(&|m| json!(m.proxyarp)),
        "since": current(&|m| json!(m.since)),
        "since_local": current(&|m| json!(local_time(u64::from(m.since)))),
        "duration_s": current(&|m| json!(now.saturating_sub(u64::from(m.since)))),
        "last": last,
    })
}

fn show(t: &Table, wd: Option<u32>, as_json: bool) -> Result<(), String> {
    let now = u64::from(table::now());
    let leases: Vec<Lease> = t.leases().collect();
    let count = |s: &str| leases.iter().filter(|l| state(l).0 == s).count();
    let (leased, stale, free) = (count("leased"), count("stale"), count("free"));
    if as_json {
        let v = json!({
            "table": t.path().display().to_string(),
            "pool": t.pool().to_string(),
            "definition": t.spec(),
            "size": t.size(),
            "leased": leased,
            "stale": stale,
            "free": free,
            "watchdog": wd,
            "leases": leases.iter().map(|l| lease_json(l, now)).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    let mut rows = vec![[
        "ADDRESS",
        "STATE",
        "PID",
        "PEER",
        "IFACE",
        "DEVICE",
        "SINCE",
        "FOR",
        "LAST HOLDER",
    ]
    .map(String::from)];
    for l in &leases {
        let (st, owner) = state(l);
        let dash = || "-".to_string();
        let m = l.meta.as_ref().filter(|_| owner.is_some());
        let last = match (l.state, l.meta.as_ref()) {
            (LeaseState::Free(f), m) if f.path != Path::Never => format!(
                "{} pid {}, {} {}",
                m.map(|m| m.peer.as_str())
                    .filter(|p| !p.is_empty())
                    .unwrap_or("?"),
                f.last_pid,
                f.path.name(),
                local_time(u64::from(f.when))
            ),
            _ => dash(),
        };
        let nonempty = |s: &str| if s.is_empty() { dash() } else { s.to_string() };
        rows.push([
            l.addr.to_string(),
            st.to_string(),
            owner.map(|o| o.pid().to_string()).unwrap_or_else(dash),
            m.map(|m| nonempty(&m.peer)).unwrap_or_else(dash),
            m.map(|m| nonempty(&m.ifname)).unwrap_or_else(dash),
            m.map(|m| nonempty(&m.device)).unwrap_or_else(dash),
            m.map(|m| local_time(u64::from(m.since)))
                .unwrap_or_else(dash),
            m.map(|m| duration(now.saturating_sub(u64::from(m.since))))
                .unwrap_or_else(dash),
            last,
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    println!(
        "{} addresses: {leased} leased, {stale} stale, {free} free  (pool {}, table {})",
        t.size(),
        t.pool(),
        t.path().display()
    );
    println!("{}", watchdog_line(wd));
    Ok(())
}

fn watchdog_line(wd: Option<u32>) -> String {
    match wd {
        Some(0) => "watchdog: running (starting)".into(),
        Some(pid) => format!("watchdog: running, pid {pid}"),
        None => "watchdog: not running (the next pppd starts one; dead sessions' leases wait for the next claim or rasstatic reap)".into(),
    }
}

fn stats(t: &Table, name: &str, wd: Option<u32>, prometheus: bool) -> Result<(), String> {
    let leases: Vec<Lease> = t.leases().collect();
    let count = |s: &str| leases.iter().filter(|l| state(l).0 == s).count();
    let c = t.counters();
    let released: Vec<(&str, u64)> = Path::ALL
        .iter()
        .filter(|p| **p != Path::Never && !p.is_reap())
        .map(|p| (p.name(), c.ended_by(*p)))
        .collect();
    let reaped: Vec<(&str, u64)> = [Path::ReapClaim, Path::ReapWatchdog, Path::ReapAdmin]
        .iter()
        .map(|p| (p.name().trim_start_matches("reap-"), c.ended_by(*p)))
        .collect();
    if prometheus {
        let l = format!("pool=\"{name}\"");
        println!("# HELP rasstatic_pool_addresses Addresses in the pool.");
        println!("# TYPE rasstatic_pool_addresses gauge");
        println!("rasstatic_pool_addresses{{{l}}} {}", t.size());
        println!("# HELP rasstatic_leases Pool addresses by lease state.");
        println!("# TYPE rasstatic_leases gauge");
        for s in ["leased", "stale", "free"] {
            println!("rasstatic_leases{{{l},state=\"{s}\"}} {}", count(s));
        }
        println!("# HELP rasstatic_assigned_total Leases handed out since the table was created.");
        println!("# TYPE rasstatic_assigned_total counter");
        println!("rasstatic_assigned_total{{{l}}} {}", c.assigned);
        println!("# HELP rasstatic_released_total Leases released, by path.");
        println!("# TYPE rasstatic_released_total counter");
        for (p, n) in &released {
            println!("rasstatic_released_total{{{l},path=\"{p}\"}} {n}");
        }
        println!("# HELP rasstatic_reaped_total Leases of dead holders freed, by who freed them.");
        println!("# TYPE rasstatic_reaped_total counter");
        for (p, n) in &reaped {
            println!("rasstatic_reaped_total{{{l},by=\"{p}\"}} {n}");
        }
        println!("# HELP rasstatic_refused_total Callers refused because the pool was exhausted.");
        println!("# TYPE rasstatic_refused_total counter");
        println!("rasstatic_refused_total{{{l}}} {}", c.refused);
        println!("# HELP rasstatic_watchdog_up Whether a watchdog runs for the table.");
        println!("# TYPE rasstatic_watchdog_up gauge");
        println!("rasstatic_watchdog_up{{{l}}} {}", u8::from(wd.is_some()));
        return Ok(());
    }
    println!("table     {}", t.path().display());
    println!("pool      {} ({} addresses)", t.pool(), t.size());
    println!("created   {}", local_time(t.created()));
    println!(
        "now       {} leased, {} stale, {} free",
        count("leased"),
        count("stale"),
        count("free")
    );
    println!("assigned  {}", c.assigned);
    let fmt = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("released  {}", fmt(&released));
    println!("reaped    {}", fmt(&reaped));
    println!("refused   {} (pool exhausted)", c.refused);
    println!("{}", watchdog_line(wd));
    Ok(())
}

fn reap(t: &Table) -> Result<(), String> {
    let r = t.reap_all(Path::ReapAdmin);
    for x in &r {
        println!(
            "reaped {} (pid {} is dead)",
            t.pool().addr(x.slot),
            x.owner.pid()
        );
    }
    println!("{} stale lease(s) freed", r.len());
    Ok(())
}

fn release(t: &Table, a: &ArgMatches) -> Result<(), String> {
    let text = a.get_one::<String>("address").expect("required");
    let addr: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not an IPv4 address"))?;
    let slot = t.slot_of(addr).ok_or_else(|| {
        format!(
            "{addr} is not in pool {} ({})",
            t.pool(),
            t.path().display()
        )
    })?;
    let l = t.lease(slot);
    let (st, owner) = state(&l);
    let Some(owner) = owner else {
        println!("{addr} is already free");
        return Ok(());
    };
    let peer = l
        .meta
        .as_ref()
        .map(|m| format!(" ({})", m.peer))
        .filter(|p| p != " ()")
        .unwrap_or_default();
    if st == "stale" {
        return match t.reap(slot, &ProcLiveness, Path::Admin) {
            Some(_) => {
                log::info!(
                    "released stale lease {addr} of dead pid {}{peer} by admin",
                    owner.pid()
                );
                println!("released {addr} (pid {} was dead)", owner.pid());
                Ok(())
            }
            None => Err(format!("{addr} changed hands meanwhile; look again")),
        };
    }
    if !a.get_flag("force") {
        return Err(format!(
            "{addr} is leased to live pid {}{peer}; hang that session up, or use --force",
            owner.pid()
        ));
    }
    match t.force_release(slot, Path::Forced) {
        Some(o) => {
            log::warn!(
                "forced release of {addr}, leased to live pid {}{peer}",
                o.pid()
            );
            println!("released {addr}");
            Ok(())
        }
        None => {
            println!("{addr} is already free");
            Ok(())
        }
    }
}

/// Check each file on its own, as the options of one line.
fn check(files: Vec<String>) -> Result<(), String> {
    let mut bad = 0;
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                println!("{f}: {e}");
                bad += 1;
                continue;
            }
        };
        let words = optfile::words(&text);
        let mut cfg = Config::default();
        let mut plugin_seen = false;
        let mut any = false;
        let mut errors = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            if w.text == "plugin" {
                if let Some(v) = words.get(i + 1) {
                    plugin_seen |= v.text.ends_with("rasstatic.so");
                }
                i += 2;
                continue;
            }
            if let Some(&(opt, takes_value, _)) = OPTIONS.iter().find(|o| o.0 == w.text) {
                any = true;
                if !plugin_seen {
                    errors.push(format!(
                        "{f}:{}: {opt} comes before \"plugin rasstatic.so\"; pppd would call it an unrecognized option",
                        w.line
                    ));
                }
                let value = if takes_value {
                    match words.get(i + 1) {
                        Some(v) => Some(v.text.as_str()),
                        None => {
                            errors.push(format!("{f}:{}: {opt} needs a value", w.line));
                            break;
                        }
                    }
                } else {
                    None
                };
                if let Err(e) = cfg.apply(opt, value) {
                    errors.push(format!("{f}:{}: {e}", w.line));
                }
                i += if takes_value { 2 } else { 1 };
                continue;
            }
            i += 1;
        }
        if !any && !plugin_seen {
            println!("{f}: no rasstatic options");
            continue;
        }
        if errors.is_empty() {
            match cfg.resolve() {
                Ok(pool) => {
                    let path = table::table_path(&cfg.dir, &cfg.name);
                    let table_note = match Table::open_existing(&cfg.dir, &cfg.name) {
                        Ok(t) if t.pool() == &pool => "exists, same pool".to_string(),
                        Ok(t) => format!("exists with another pool ({}): pppd will refuse it while it has live leases", t.pool()),
                        Err(table::TableError::Io { err, .. }) if err.kind() == std::io::ErrorKind::NotFound => {
                            "not created yet".into()
                        }
                        Err(e) => format!("REFUSED: {e}"),
                    };
                    if table_note.starts_with("REFUSED") {
                        bad += 1;
                    }
                    println!(
                        "{f}: ok: pool {pool} ({} addresses), policy {:?}, table {} ({table_note})",
                        pool.size(),
                        cfg.policy,
                        path.display()
                    );
                }
                Err(e) => {
                    bad += 1;
                    println!("{f}: {e}");
                }
            }
        } else {
            bad += 1;
            for e in errors {
                println!("{e}");
            }
        }
    }
    if bad > 0 {
        Err(format!("{bad} of {} file(s) have problems", files.len()))
    } else {
        Ok(())
    }
}
