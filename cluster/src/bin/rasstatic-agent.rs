//! `rasstatic-agent`: the cluster mode's agent, one per server and pool.
//! Registers the server in etcd, keeps its registration alive, fetches
//! blocks of the pool into the machine's lease table ahead of demand and
//! gives empty ones back, frees the blocks of servers that are gone, and
//! raises the table's claim and hang deadlines after each renewal etcd
//! verified.
//!
//! Runs until killed. Exit status: 2 for bad options, 1 when it cannot
//! join (etcd unreachable at start, a pool that differs from the
//! cluster's, a server id in use).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, Command};
use etcd_client::{Client, ConnectOptions};
use rasstatic::config::Config;
use rasstatic::table::Table;
use rasstatic_cluster::agent::Agent;
use rasstatic_cluster::deadline::Timing;
use rasstatic_cluster::ledger::{Ledger, LedgerError};
use rasstatic_cluster::spec::Spec;

fn cli() -> Command {
    let a = |name: &'static str, help: &'static str| Arg::new(name).long(name).help(help);
    Command::new("rasstatic-agent")
        .about("rasstatic's cluster agent: one pool shared by several dial-in servers through etcd")
        .version(env!("CARGO_PKG_VERSION"))
        // A setting from --config is overridden by the same option given
        // after it on the command line.
        .args_override_self(true)
        .arg(a(
            "config",
            "A file of settings, one \"NAME VALUE\" a line, NAME an option below without its dashes (# starts a comment); options given after it override it",
        ))
        .arg(a("endpoints", "etcd client URLs, comma-separated").required(true))
        .arg(a("server-id", "This server's id, unique in the cluster").required(true))
        .arg(
            a(
                "pool",
                "The pool, as rasstatic-pool (the same on every server)",
            )
            .required(true),
        )
        .arg(a("exclude", "Exclusions, as rasstatic-exclude").default_value(""))
        .arg(a("block", "Addresses per block: a power of two, 8 to 256").default_value("16"))
        .arg(a("dir", "Directory of lease tables").default_value("/run/rasstatic"))
        .arg(a("name", "Table (pool) name; also the pool's name in etcd").default_value("default"))
        .arg(a("ttl", "Registration lease TTL, seconds").default_value("15"))
        .arg(a("grace", "Grace period after a server's lease ends, seconds").default_value("60"))
        .arg(
            a(
                "claim-margin-ms",
                "Claims stop this long before the lease could expire",
            )
            .default_value("5000"),
        )
        .arg(
            a(
                "hang-margin-ms",
                "Sessions are down this long before a reclaim could succeed",
            )
            .default_value("10000"),
        )
        .arg(a("renew-ms", "Renewal period").default_value("2000"))
}

fn num(m: &clap::ArgMatches, name: &str) -> Result<u64, String> {
    let v = m.get_one::<String>(name).unwrap();
    v.parse()
        .map_err(|_| format!("--{name} \"{v}\": not a whole number"))
}

struct Setup {
    spec: Spec,
    endpoints: Vec<String>,
    sid: String,
    dir: PathBuf,
    name: String,
    pool: rasstatic::pool::Pool,
    spec_text: String,
    timing: Timing,
}

fn setup(m: &clap::ArgMatches) -> Result<Setup, String> {
    let mut c = Config::default();
    c.apply(
        "rasstatic-pool",
        m.get_one::<String>("pool").map(String::as_str),
    )
    .map_err(|e| e.to_string())?;
    let ex = m.get_one::<String>("exclude").unwrap();
    if !ex.is_empty() {
        c.apply("rasstatic-exclude", Some(ex))
            .map_err(|e| e.to_string())?;
    }
    let pool = c.resolve()?;
    let timing = Timing {
        ttl: Duration::from_secs(num(m, "ttl")?),
        grace: Duration::from_secs(num(m, "grace")?),
        claim_margin: Duration::from_millis(num(m, "claim-margin-ms")?),
        hang_margin: Duration::from_millis(num(m, "hang-margin-ms")?),
        renew_every: Duration::from_millis(num(m, "renew-ms")?),
    };
    if let Some(p) = timing.problem() {
        return Err(format!("timing: {p}"));
    }
    let endpoints: Vec<String> = m
        .get_one::<String>("endpoints")
        .unwrap()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let sid = m.get_one::<String>("server-id").unwrap().clone();
    if !rasstatic_cluster::ledger::valid_sid(&sid) {
        return Err(LedgerError::BadServerId(sid).to_string());
    }
    let block = u32::try_from(num(m, "block")?).map_err(|_| "--block: too large".to_string())?;
    let name = m.get_one::<String>("name").unwrap().clone();
    let spec = Spec::new(&name, &pool, block, timing.grace.as_secs()).map_err(|e| e.to_string())?;
    Ok(Setup {
        spec,
        endpoints,
        sid,
        dir: PathBuf::from(m.get_one::<String>("dir").unwrap()),
        name,
        spec_text: c.spec(),
        pool,

        timing,
    })
}

/// Open (or make) the table, and before anything touches the network,
/// fence it: claims stop (unless an earlier agent's renewal still allows
/// them) and the free slots of every block without a lease are sealed.
/// Joining unseals what this server holds, and hangs up sessions in blocks
/// it does not; if joining fails, the table stays closed.
fn open_fenced(s: &Setup, spec: &Spec) -> Result<Table, String> {
    // A table made here is born fenced and sealed. The definition is
    // the oldest possible: the agent never resets a table to its own
    // pool (a table of another pool is followed, then refused below).
    let def = rasstatic::table::Definition {
        pool: &s.pool,
        spec: &s.spec_text,
        defined_ms: 0,
        cluster: true,
    };
    let (table, _) = Table::open_as(&s.dir, &s.name, &def).map_err(|e| e.to_string())?;
    if table.pool().to_string() != spec.canonical {
        return Err(format!(
            "the table {} holds the pool {}, not {}: give the agent the pool the pppds use",
            table.path().display(),
            table.pool(),
            spec.canonical
        ));
    }
    // 1 ns after boot: long past, so claims are fenced; deadlines only
    // rise, so an earlier agent's last verified ones stand.
    table.enter_cluster_mode();
    // Every free slot, in every block: an earlier agent's deadlines may
    // still allow claims, and which blocks are ours only etcd says. The
    // agent unseals the blocks it holds once it has joined.
    for b in 0..spec.blocks() {
        let r = spec.slots(b);
        table.seal_free(r.start, r.len() as u32);
    }
    Ok(table)
}

/// One agent per table: an exclusive lock on `NAME.agent.lock` beside the
/// table, held for the agent's life (the kernel drops it when the agent
/// dies).
fn lock_table(s: &Setup) -> Result<std::fs::File, String> {
    let path = rasstatic::table::agent_lock_path(&s.dir, &s.name);
    std::fs::create_dir_all(&s.dir).map_err(|e| format!("{}: {e}", s.dir.display()))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match rasstatic::cutil::flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(f),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Err(format!(
            "another rasstatic-agent runs for the table {} in {} (it holds {})",
            s.name,
            s.dir.display(),
            path.display()
        )),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

async fn run(s: Setup) -> Result<(), String> {
    // SIGUSR1 (a pppd refused a caller for want of addresses, see
    // `rasstatic::agent_state::wake`): step now. Set up before the state
    // file names this process, so the signal never finds its default
    // action (exit).
    let mut wake = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .map_err(|e| format!("SIGUSR1: {e}"))?;
    let _lock = lock_table(&s)?;
    let spec = s.spec.clone();
    let table = open_fenced(&s, &spec)?;
    let opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(2))
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
        .with_require_leader(true);
    let client = Client::connect(&s.endpoints, Some(opts))
        .await
        .map_err(|e| format!("etcd at {}: {e}", s.endpoints.join(",")))?;
    // Say so if etcd lacks the lease-safety fixes (the member this
    // client reached; the README names the safe versions).
    let mut probe = client.clone();
    if let Ok(st) = probe.status().await {
        if let Some(p) = rasstatic_cluster::etcd_version_problem(st.version()) {
            eprintln!("rasstatic-agent: warning: {p}");
        }
    }
    let ledger = Ledger::new(client, spec.clone(), &s.sid).map_err(|e| e.to_string())?;
    let about = format!("pid {}", std::process::id());
    // An agent of this server that died (a crash, a restart, an upgrade)
    // left its registration alive in etcd for up to a TTL: resume it if
    // etcd confirms it, rather than being refused as a duplicate while it
    // lasts. Only this machine's state file names it, and only an agent
    // holding the table's lock (so the one that wrote it is gone) reads
    // it here.
    let resume = match rasstatic::agent_state::AgentState::read(&s.dir, &s.name) {
        Ok(Some(st)) if st.server_id == s.sid && st.lease != 0 && !st.agent_alive() => {
            Some((st.lease, st.token))
        }
        Ok(_) => None,
        Err(e) => {
            eprintln!("rasstatic-agent: not resuming a registration: {e}");
            None
        }
    };
    let mut agent = Agent::start_or_resume(ledger, table, s.timing, &about, resume)
        .await
        .map_err(|e| match e {
            LedgerError::Etcd(e) => format!("etcd at {}: {e}", s.endpoints.join(",")),
            e => e.to_string(),
        })?;
    let reg = agent.registration();
    if agent.resumed() {
        eprintln!(
            "rasstatic-agent: server {} resumed its registration in pool {} (token {}, lease {:x}), holding blocks {:?}",
            s.sid,
            s.name,
            reg.token,
            reg.lease,
            agent.held()
        );
    } else {
        eprintln!(
            "rasstatic-agent: server {} joined pool {} (token {}), holding blocks {:?}",
            s.sid,
            s.name,
            reg.token,
            agent.held()
        );
    }
    let mut lost = false;
    report(&s, &agent, "joined", "");
    // A step every renewal period, counted from the start of the last one
    // (a step that took longer is followed by the next at once): with
    // each step's ledger work cut at one period, renewals are at most
    // about two periods apart, whatever the ledger work.
    let mut period = tokio::time::interval(s.timing.renew_every);
    period.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    period.tick().await;
    loop {
        tokio::select! {
            _ = period.tick() => {}
            _ = wake.recv() => {}
        }
        if agent.table().is_retired() || agent.table().superseded() || agent.table().replaced() {
            // Reset, made again under its name, deleted or rebuilt after
            // damage: the pppds claim from the new file. Follow it (making
            // it if it is gone), fenced first.
            let t = open_fenced(&s, &spec)?;
            eprintln!("rasstatic-agent: the table was replaced; following the new one");
            agent.replace_table(t);
        }
        let r = if lost {
            agent.rejoin(&about).await.map(|_| None)
        } else {
            agent.step().await.map(Some)
        };
        match r {
            Ok(step) => {
                if lost {
                    eprintln!(
                        "rasstatic-agent: registered again (token {}), holding blocks {:?}",
                        agent.registration().token,
                        agent.held()
                    );
                    lost = false;
                }
                if let Some(st) = step {
                    for b in &st.acquired {
                        eprintln!("rasstatic-agent: took block {b}");
                    }
                    for b in &st.returned {
                        eprintln!("rasstatic-agent: gave back block {b}");
                    }
                    for b in &st.reclaimed {
                        eprintln!("rasstatic-agent: freed block {b} of a server that is gone");
                    }
                    if st.cut_short {
                        eprintln!(
                            "rasstatic-agent: etcd is slow: the ledger work took over {:?} and was cut short (renewals go on; the next step resumes it)",
                            agent.work_budget
                        );
                    }
                }
            }
            Err(LedgerError::Lost { .. }) => {
                eprintln!("rasstatic-agent: registration lost; claims stop at the claim deadline; registering again");
                lost = true;
            }
            Err(e) => {
                eprintln!("rasstatic-agent: {e}; retrying");
                let state = match e {
                    LedgerError::Etcd(_) => "etcd unreachable",
                    _ => "error",
                };
                report(&s, &agent, state, &e.to_string());
                continue;
            }
        }
        let state = if lost { "registration lost" } else { "joined" };
        report(&s, &agent, state, "");
    }
}

/// Write what `rasstatic show` and `stats` tell of the agent
/// (`NAME.agent.state` beside the table; informative only).
fn report(s: &Setup, agent: &Agent, state: &str, error: &str) {
    let st = rasstatic::agent_state::AgentState {
        agent: rasstatic::owner::Owner::current().map_or(0, |o| o.word()),
        server_id: s.sid.clone(),
        endpoints: s.endpoints.join(","),
        state: state.into(),
        token: agent.registration().token,
        lease: agent.registration().lease,
        block: s.spec.block,
        held: agent.held(),
        strays: agent.strays() as u32,
        renewed_ns: agent.renewed_ns(),
        updated_ns: rasstatic::table::boot_ns(),
        error: error.into(),
    };
    if let Err(e) = st.write(&s.dir, &s.name) {
        eprintln!("rasstatic-agent: cannot write its state for rasstatic show: {e}");
    }
}

/// The table's and the agent's log lines, to standard error.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("rasstatic-agent: {}", r.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

/// The settings of `--config FILE` as command-line options, in the file's
/// order, placed where `--config` was (so options after it win).
fn expand_config(args: Vec<String>) -> Result<Vec<String>, String> {
    let known: Vec<String> = cli()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .filter(|l| l != "config")
        .collect();
    let mut out = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let file = match a.strip_prefix("--config") {
            Some("") => it
                .next()
                .ok_or("--config: give the file's path".to_string())?,
            Some(v) if v.starts_with('=') => v[1..].to_string(),
            _ => {
                out.push(a);
                continue;
            }
        };
        let text = std::fs::read_to_string(&file).map_err(|e| format!("--config {file}: {e}"))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let v = v.trim();
            if !known.iter().any(|x| x == k) {
                return Err(format!(
                    "{file}:{}: \"{k}\" is not a setting (settings: {})",
                    n + 1,
                    known.join(", ")
                ));
            }
            if v.is_empty() {
                return Err(format!("{file}:{}: {k}: no value", n + 1));
            }
            out.push(format!("--{k}"));
            out.push(v.to_string());
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let _ = log::set_logger(&LOGGER).map(|()| log::set_max_level(log::LevelFilter::Info));
    let args = match expand_config(std::env::args().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rasstatic-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let m = cli().get_matches_from(args);
    let s = match setup(&m) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rasstatic-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(s)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rasstatic-agent: {e}");
            ExitCode::from(1)
        }
    }
}
