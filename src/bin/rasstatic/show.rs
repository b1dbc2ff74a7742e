//! `show` and `stats`: read the table a chunk of slots at a time and write
//! as they go, so memory stays the same whatever the pool's size. They
//! read through [`Reader`], with `pread` and never a mapping: a table
//! truncated or rewritten while they read is reported, never a SIGBUS.
//! Each slot is read once and its state decided once; the counts printed
//! come from the very same reads as the rows, so they always agree.

use std::borrow::Cow;
use std::io::{self, Write};

use serde_json::to_writer;

use rasstatic::agent_state::AgentState;
use rasstatic::owner::Owner;
use rasstatic::pool::{self, Range};
use rasstatic::protocol::EndedBy;
use rasstatic::protocol::Liveness;
use rasstatic::table::{self, Lease, LeaseState, Reader, TableLiveness};

use super::out::{escape, Failure};

/// A lease's state as administrators see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Leased,
    /// Leased, to a live session, at an address that has left the pool:
    /// it goes when that session ends and is never handed out again.
    Draining,
    Stale,
    Free,
    /// Cluster mode: free, but in a block this server does not hold (or
    /// not yet opened by its agent): never handed out here.
    Sealed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Leased => "leased",
            State::Draining => "draining",
            State::Stale => "stale",
            State::Free => "free",
            State::Sealed => "sealed",
        }
    }
}

/// The state of `l`, and its holder. Looks at the holder's liveness once,
/// as `live` judges it (from another PID namespace every holder counts as
/// alive: none is called stale).
pub fn state(l: &Lease, live: &TableLiveness) -> (State, Option<Owner>) {
    match l.state {
        LeaseState::Leased(o) if live.is_alive(o) && l.draining => (State::Draining, Some(o)),
        LeaseState::Leased(o) if live.is_alive(o) => (State::Leased, Some(o)),
        LeaseState::Leased(o) => (State::Stale, Some(o)),
        LeaseState::Free(_) if l.sealed => (State::Sealed, None),
        LeaseState::Free(_) => (State::Free, None),
    }
}

#[derive(Default)]
struct Counts {
    leased: u64,
    draining: u64,
    stale: u64,
    free: u64,
    sealed: u64,
}

impl Counts {
    fn add(&mut self, s: State) {
        match s {
            State::Leased => self.leased += 1,
            State::Draining => self.draining += 1,
            State::Stale => self.stale += 1,
            State::Free => self.free += 1,
            State::Sealed => self.sealed += 1,
        }
    }

    fn total(&self) -> u64 {
        self.leased + self.draining + self.stale + self.free + self.sealed
    }
}

/// What `show` lists.
pub struct Filter {
    /// The states to list; all if empty.
    pub states: Vec<State>,
    /// The addresses to look at (an address, range or CIDR block as
    /// written), or all of the pool.
    pub select: Option<String>,
}

impl Filter {
    fn wants(&self, s: State) -> bool {
        self.states.is_empty() || self.states.contains(&s)
    }
}

/// The leases of the addresses of `sel` (all if `None`), in address order,
/// read range by range from the pool a chunk at a time: nothing is
/// collected. Then the draining addresses still leased (a free draining
/// slot is no address of the pool's any more: not listed).
fn leases(
    t: &Reader,
    sel: Option<Range>,
) -> impl Iterator<Item = Result<Lease, table::TableError>> + '_ {
    let sel = sel.unwrap_or(Range {
        first: 0,
        last: u32::MAX,
    });
    let pool = t
        .pool()
        .ranges()
        .iter()
        .filter_map(move |r| {
            let (lo, hi) = (r.first.max(sel.first), r.last.min(sel.last));
            (lo <= hi).then(|| {
                let first = t.pool().index(lo.into()).expect("in the pool");
                t.leases_in(first, hi - lo + 1)
            })
        })
        .flatten();
    let draining = t
        .leases_in(t.size(), t.total() - t.size())
        .filter(move |l| match l {
            Ok(l) => {
                matches!(l.state, LeaseState::Leased(_))
                    && (sel.first..=sel.last).contains(&u32::from(l.addr))
            }
            Err(_) => true,
        });
    pool.chain(draining)
}

/// The PID to show for a holder: none for an interface lease.
fn pid_of(o: Owner) -> Option<u32> {
    o.iface().is_none().then(|| o.pid())
}

pub fn local_time(t: u64) -> String {
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

pub fn watchdog_line(wd: Option<u32>) -> String {
    match wd {
        Some(0) => "watchdog: running (starting)".into(),
        Some(pid) => format!("watchdog: running, pid {pid}"),
        None => "watchdog: not running (the next pppd starts one; dead sessions' leases wait for the next claim or rasstatic reap)".into(),
    }
}

/// Column widths of the text output, fixed so that rows can be written as
/// they are read: the widest value each column can hold (an address, a
/// 22-bit PID, the stored name lengths, a local time). Escaped names may
/// be wider and push the rest of their row right.
const WIDTHS: [usize; 8] = [15, 6, 7, 16, 8, 8, 19, 9];
const HEADINGS: [&str; 9] = [
    "ADDRESS",
    "STATE",
    "PID",
    "PEER",
    "IFACE",
    "DEVICE",
    "SINCE",
    "FOR",
    "LAST HOLDER",
];

/// A name for a text column: escaped, or "-" when empty.
fn or_dash(s: &str) -> Cow<'_, str> {
    if s.is_empty() {
        Cow::Borrowed("-")
    } else {
        escape(s)
    }
}

fn row(out: &mut impl Write, line: &mut String, cells: [&str; 9]) -> io::Result<()> {
    line.clear();
    for (c, w) in cells[..8].iter().zip(WIDTHS) {
        line.push_str(c);
        let pad = (w + 2).saturating_sub(c.chars().count()).max(2);
        line.extend(std::iter::repeat_n(' ', pad));
    }
    line.push_str(cells[8]);
    let end = line.trim_end().len();
    line.truncate(end);
    line.push('\n');
    out.write_all(line.as_bytes())
}

pub fn show(
    t: &Reader,
    wd: Option<u32>,
    agent: &Agent,
    json: bool,
    f: &Filter,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let sel = match &f.select {
        Some(s) => Some(
            pool::parse_selection(s)
                .map_err(|e| format!("show: {e} (give an address, a range a-b or a CIDR block)"))?,
        ),
        None => None,
    };
    let now = u64::from(table::now());
    let live = t.liveness();
    let mut n = Counts::default();
    if json {
        write!(out, "{{\"table\":")?;
        to_writer(&mut *out, &t.path().display().to_string()).map_err(io::Error::from)?;
        write!(out, ",\"pool\":\"{}\",\"definition\":", t.pool())?;
        to_writer(&mut *out, &t.spec()).map_err(io::Error::from)?;
        write!(out, ",\"size\":{},\"watchdog\":", t.size())?;
        match wd {
            Some(pid) => write!(out, "{pid}")?,
            None => write!(out, "null")?,
        }
        if let Some(s) = &f.select {
            write!(out, ",\"select\":")?;
            to_writer(&mut *out, s).map_err(io::Error::from)?;
        }
        write!(out, ",\"cluster\":")?;
        let c = t.counters().map_err(|e| e.to_string())?;
        to_writer(&mut *out, &cluster_json(t, &c, agent)).map_err(io::Error::from)?;
        write!(out, ",\"leases\":[")?;
        let mut first = true;
        for l in leases(t, sel) {
            let l = l.map_err(|e| e.to_string())?;
            let st = state(&l, &live);
            n.add(st.0);
            if f.wants(st.0) {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                lease_json(out, &l, st, now)?;
            }
        }
        writeln!(
            out,
            "],\"scanned\":{},\"leased\":{},\"stale\":{},\"free\":{},\"draining\":{},\"sealed\":{}}}",
            n.total(),
            n.leased,
            n.stale,
            n.free,
            n.draining,
            n.sealed
        )?;
        return Ok(());
    }
    let mut line = String::with_capacity(160);
    row(out, &mut line, HEADINGS)?;
    for l in leases(t, sel) {
        let l = l.map_err(|e| e.to_string())?;
        let (st, owner) = state(&l, &live);
        n.add(st);
        if !f.wants(st) {
            continue;
        }
        let m = l.meta.as_ref().filter(|_| owner.is_some());
        let last: Cow<str> = match (l.state, l.meta.as_ref()) {
            (LeaseState::Free(fr), m) if fr.path != EndedBy::Never => Cow::Owned(format!(
                "{} pid {}, {} {}",
                m.map(|m| escape(&m.peer))
                    .filter(|p| !p.is_empty())
                    .unwrap_or("?".into()),
                fr.last_pid,
                fr.path.name(),
                local_time(u64::from(fr.when))
            )),
            _ => Cow::Borrowed("-"),
        };
        let dash = || Cow::Borrowed("-");
        let addr = l.addr.to_string();
        let cells: [Cow<str>; 9] = [
            addr.as_str().into(),
            st.name().into(),
            owner
                .and_then(pid_of)
                .map(|p| p.to_string().into())
                .unwrap_or_else(dash),
            m.map(|m| or_dash(&m.peer)).unwrap_or_else(dash),
            m.map(|m| or_dash(&m.ifname)).unwrap_or_else(dash),
            m.map(|m| or_dash(&m.device)).unwrap_or_else(dash),
            m.map(|m| local_time(u64::from(m.since)).into())
                .unwrap_or_else(dash),
            m.map(|m| duration(now.saturating_sub(u64::from(m.since))).into())
                .unwrap_or_else(dash),
            last,
        ];
        row(out, &mut line, cells.each_ref().map(|c| c.as_ref()))?;
    }
    match &f.select {
        None => write!(out, "{} addresses", n.total())?,
        Some(s) => write!(
            out,
            "{} of {} addresses in {}",
            n.total(),
            t.size(),
            escape(s)
        )?,
    }
    let draining = match n.draining {
        0 => String::new(),
        d => format!(", {d} draining"),
    };
    let draining = match n.sealed {
        0 => draining,
        s => format!("{draining}, {s} sealed (not this server's to hand out)"),
    };
    writeln!(
        out,
        ": {} leased, {} stale, {} free{draining}  (pool {}, table {})",
        n.leased,
        n.stale,
        n.free,
        t.pool(),
        escape(&t.path().display().to_string())
    )?;
    let c = t.counters().map_err(|e| e.to_string())?;
    for l in cluster_lines(t, &c, agent) {
        writeln!(out, "{l}")?;
    }
    writeln!(out, "{}", watchdog_line(wd))?;
    Ok(())
}

/// What a table's cluster agent last reported: none (a standalone
/// table, or no agent ever ran), or its state file, or why that file was
/// refused.
pub type Agent = Result<Option<AgentState>, String>;

/// A `CLOCK_BOOTTIME` instant relative to now, for people.
fn rel(t: u64) -> String {
    let now = table::boot_ns();
    if t == 0 {
        "none set yet".into()
    } else if t == 1 {
        "passed (no renewal verified yet)".into()
    } else if t > now {
        format!("in {:.1} s", (t - now) as f64 / 1e9)
    } else {
        format!("passed {:.1} s ago", (now - t) as f64 / 1e9)
    }
}

/// The blocks as address ranges: "3 (10.9.36.24-10.9.36.31)".
fn block_ranges(t: &Reader, a: &AgentState) -> Vec<(u32, String, String)> {
    a.held
        .iter()
        .filter_map(|&b| {
            let first = b.checked_mul(a.block)?;
            let last = first
                .checked_add(a.block - 1)?
                .min(t.size().checked_sub(1)?);
            (first < t.size()).then(|| {
                (
                    b,
                    t.pool().addr(first).to_string(),
                    t.pool().addr(last).to_string(),
                )
            })
        })
        .collect()
}

/// The cluster lines of `show` and `stats` (none for a standalone table).
fn cluster_lines(t: &Reader, c: &table::Counters, agent: &Agent) -> Vec<String> {
    let mut v = Vec::new();
    if c.claim_deadline_ns != 0 {
        v.push(format!(
            "cluster   claim deadline {}, hang deadline {}",
            rel(c.claim_deadline_ns),
            rel(c.hang_deadline_ns)
        ));
    }
    match agent {
        Ok(None) if c.claim_deadline_ns != 0 => v.push(
            "agent     none has reported for this table (is rasstatic-agent running?)".into(),
        ),
        Ok(None) => {}
        Err(e) => v.push(format!("agent     {}", escape(e))),
        Ok(Some(a)) => {
            let pid = Owner::from_word(a.agent).map_or(0, |o| o.pid());
            let running = if a.agent_alive() {
                format!("pid {pid}")
            } else {
                format!("pid {pid}, NOT RUNNING")
            };
            let renewed = match a.renewed_ns {
                0 => "none verified yet".to_string(),
                r => format!(
                    "{:.1} s ago",
                    table::boot_ns().saturating_sub(r) as f64 / 1e9
                ),
            };
            v.push(format!(
                "agent     server {} ({running}), {}, token {}, last verified renewal {renewed}, at {}",
                escape(&a.server_id),
                escape(&a.state),
                a.token,
                escape(&a.endpoints)
            ));
            if !a.error.is_empty() {
                v.push(format!("agent     last error: {}", escape(&a.error)));
            }
            let blocks: Vec<String> = block_ranges(t, a)
                .into_iter()
                .map(|(b, f, l)| format!("{b} ({f}-{l})"))
                .collect();
            v.push(format!(
                "blocks    {} held of {} addresses each: {}{}",
                a.held.len(),
                a.block,
                if blocks.is_empty() {
                    "none".to_string()
                } else {
                    blocks.join(", ")
                },
                match a.strays {
                    0 => String::new(),
                    s => format!("; {s} session(s) in blocks not held, being hung up"),
                }
            ));
        }
    }
    v
}

/// The `cluster` object of `show --json`: null for a standalone table.
fn cluster_json(t: &Reader, c: &table::Counters, agent: &Agent) -> serde_json::Value {
    use serde_json::json;
    if c.claim_deadline_ns == 0 && matches!(agent, Ok(None)) {
        return serde_json::Value::Null;
    }
    let now = table::boot_ns() as f64;
    let secs = |t: u64| ((t as f64 - now) / 1e6).round() / 1e3;
    let agent = match agent {
        Ok(None) => serde_json::Value::Null,
        Err(e) => json!({ "error": e }),
        Ok(Some(a)) => json!({
            "server_id": a.server_id,
            "pid": Owner::from_word(a.agent).map_or(0, |o| o.pid()),
            "running": a.agent_alive(),
            "state": a.state,
            "token": a.token,
            "endpoints": a.endpoints,
            "block_size": a.block,
            "blocks": block_ranges(t, a)
                .into_iter()
                .map(|(b, f, l)| json!({ "block": b, "first": f, "last": l }))
                .collect::<Vec<_>>(),
            "strays": a.strays,
            "renewed_seconds_ago": if a.renewed_ns == 0 { None } else { Some(-secs(a.renewed_ns)) },
            "error": if a.error.is_empty() { None } else { Some(&a.error) },
        }),
    };
    json!({
        "claim_deadline_seconds": if c.claim_deadline_ns <= 1 { None } else { Some(secs(c.claim_deadline_ns)) },
        "hang_deadline_seconds": if c.hang_deadline_ns == 0 { None } else { Some(secs(c.hang_deadline_ns)) },
        "fenced": c.claim_deadline_ns != 0 && (c.claim_deadline_ns as f64) <= now,
        "fenced_refusals": c.fenced,
        "agent": agent,
    })
}

/// One element of the `leases` array, keys in the documented order.
fn lease_json<W: Write>(
    out: &mut W,
    l: &Lease,
    (st, owner): (State, Option<Owner>),
    now: u64,
) -> io::Result<()> {
    let s = |out: &mut W, v: &str| to_writer(&mut *out, v).map_err(io::Error::from);
    write!(
        out,
        "{{\"address\":\"{}\",\"state\":\"{}\",\"pid\":",
        l.addr,
        st.name()
    )?;
    match owner.and_then(pid_of) {
        Some(p) => write!(out, "{p}")?,
        None => write!(out, "null")?,
    }
    match (owner, l.meta.as_ref()) {
        (Some(_), Some(m)) => {
            write!(out, ",\"peer\":")?;
            s(out, &m.peer)?;
            write!(out, ",\"interface\":")?;
            s(out, &m.ifname)?;
            write!(out, ",\"device\":")?;
            s(out, &m.device)?;
            write!(
                out,
                ",\"proxyarp\":{},\"since\":{},\"since_local\":\"{}\",\"duration_s\":{}",
                m.proxyarp,
                m.since,
                local_time(u64::from(m.since)),
                now.saturating_sub(u64::from(m.since))
            )?;
        }
        _ => write!(
            out,
            ",\"peer\":null,\"interface\":null,\"device\":null,\"proxyarp\":null,\
             \"since\":null,\"since_local\":null,\"duration_s\":null"
        )?,
    }
    write!(out, ",\"last\":")?;
    match (l.state, l.meta.as_ref()) {
        (LeaseState::Free(fr), m) if fr.path != EndedBy::Never => {
            write!(out, "{{\"pid\":{},\"peer\":", fr.last_pid)?;
            match m {
                Some(m) => s(out, &m.peer)?,
                None => write!(out, "null")?,
            }
            write!(
                out,
                ",\"released_by\":\"{}\",\"released_at\":{}}}}}",
                fr.path.name(),
                fr.when
            )
        }
        _ => write!(out, "null}}"),
    }
}

pub fn stats<W: Write>(
    t: &Reader,
    name: &str,
    wd: Option<u32>,
    agent: &Agent,
    prometheus: bool,
    out: &mut W,
) -> Result<(), Failure> {
    // One pass over the slots.
    let live = t.liveness();
    let mut n = Counts::default();
    for l in leases(t, None) {
        n.add(state(&l.map_err(|e| e.to_string())?, &live).0);
    }
    let c = t.counters().map_err(|e| e.to_string())?;
    let released: Vec<(&str, u64)> = EndedBy::ALL
        .iter()
        .filter(|p| **p != EndedBy::Never && !p.is_reap())
        .map(|p| (p.name(), c.ended_by(*p)))
        .collect();
    let reaped: Vec<(&str, u64)> = [
        EndedBy::ReapClaim,
        EndedBy::ReapWatchdog,
        EndedBy::ReapAdmin,
    ]
    .iter()
    .map(|p| (p.name().trim_start_matches("reap-"), c.ended_by(*p)))
    .collect();
    if prometheus {
        let l = format!("pool=\"{name}\"");
        let metric = |out: &mut W, name: &str, kind: &str, help: &str| -> io::Result<()> {
            writeln!(out, "# HELP rasstatic_{name} {help}")?;
            writeln!(out, "# TYPE rasstatic_{name} {kind}")
        };
        metric(out, "pool_addresses", "gauge", "Addresses in the pool.")?;
        writeln!(out, "rasstatic_pool_addresses{{{l}}} {}", t.size())?;
        metric(
            out,
            "leases",
            "gauge",
            "Addresses by lease state (draining: leased, but no longer in the pool).",
        )?;
        for (s, v) in [
            ("leased", n.leased),
            ("stale", n.stale),
            ("free", n.free),
            ("draining", n.draining),
        ] {
            writeln!(out, "rasstatic_leases{{{l},state=\"{s}\"}} {v}")?;
        }
        if c.claim_deadline_ns != 0 {
            writeln!(out, "rasstatic_leases{{{l},state=\"sealed\"}} {}", n.sealed)?;
        }
        metric(
            out,
            "assigned_total",
            "counter",
            "Leases handed out since the table was created.",
        )?;
        writeln!(out, "rasstatic_assigned_total{{{l}}} {}", c.assigned)?;
        metric(
            out,
            "released_total",
            "counter",
            "Leases released, by path.",
        )?;
        for (p, v) in &released {
            writeln!(out, "rasstatic_released_total{{{l},path=\"{p}\"}} {v}")?;
        }
        metric(
            out,
            "reaped_total",
            "counter",
            "Leases of dead holders freed, by who freed them.",
        )?;
        for (p, v) in &reaped {
            writeln!(out, "rasstatic_reaped_total{{{l},by=\"{p}\"}} {v}")?;
        }
        metric(
            out,
            "refused_total",
            "counter",
            "Callers refused: the pool was exhausted, or (cluster mode) the claim deadline had passed.",
        )?;
        writeln!(out, "rasstatic_refused_total{{{l}}} {}", c.refused)?;
        metric(
            out,
            "watchdog_up",
            "gauge",
            "Whether a watchdog runs for the table.",
        )?;
        writeln!(
            out,
            "rasstatic_watchdog_up{{{l}}} {}",
            u8::from(wd.is_some())
        )?;
        if c.claim_deadline_ns != 0 {
            let now = table::boot_ns() as f64;
            metric(
                out,
                "cluster_claim_deadline_seconds",
                "gauge",
                "Cluster mode: seconds until new claims stop without a verified etcd renewal (negative: stopped).",
            )?;
            writeln!(
                out,
                "rasstatic_cluster_claim_deadline_seconds{{{l}}} {:.3}",
                (c.claim_deadline_ns as f64 - now) / 1e9
            )?;
            metric(
                out,
                "cluster_hang_deadline_seconds",
                "gauge",
                "Cluster mode: seconds until every session must be down without a verified etcd renewal.",
            )?;
            writeln!(
                out,
                "rasstatic_cluster_hang_deadline_seconds{{{l}}} {:.3}",
                (c.hang_deadline_ns as f64 - now) / 1e9
            )?;
            metric(
                out,
                "cluster_fenced_total",
                "counter",
                "Cluster mode: callers refused because the claim deadline had passed.",
            )?;
            writeln!(out, "rasstatic_cluster_fenced_total{{{l}}} {}", c.fenced)?;
        }
        if c.claim_deadline_ns != 0 || !matches!(agent, Ok(None)) {
            let a = agent.as_ref().ok().and_then(|a| a.as_ref());
            metric(
                out,
                "cluster_agent_up",
                "gauge",
                "Cluster mode: whether the rasstatic-agent that last reported for the table runs.",
            )?;
            writeln!(
                out,
                "rasstatic_cluster_agent_up{{{l}}} {}",
                u8::from(a.is_some_and(|a| a.agent_alive()))
            )?;
            if let Some(a) = a {
                let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
                metric(
                    out,
                    "cluster_agent_info",
                    "gauge",
                    "Cluster mode: the agent's server id and etcd state (joined, etcd unreachable, registration lost).",
                )?;
                writeln!(
                    out,
                    "rasstatic_cluster_agent_info{{{l},server_id=\"{}\",state=\"{}\"}} 1",
                    esc(&a.server_id),
                    esc(&a.state)
                )?;
                metric(
                    out,
                    "cluster_blocks_held",
                    "gauge",
                    "Cluster mode: blocks of the pool this server holds.",
                )?;
                writeln!(out, "rasstatic_cluster_blocks_held{{{l}}} {}", a.held.len())?;
                metric(
                    out,
                    "cluster_strays",
                    "gauge",
                    "Cluster mode: sessions in blocks this server does not hold, being hung up.",
                )?;
                writeln!(out, "rasstatic_cluster_strays{{{l}}} {}", a.strays)?;
                if a.renewed_ns != 0 {
                    metric(
                        out,
                        "cluster_renewal_age_seconds",
                        "gauge",
                        "Cluster mode: seconds since the last renewal etcd verified was sent.",
                    )?;
                    writeln!(
                        out,
                        "rasstatic_cluster_renewal_age_seconds{{{l}}} {:.3}",
                        table::boot_ns().saturating_sub(a.renewed_ns) as f64 / 1e9
                    )?;
                }
            }
        }
        return Ok(());
    }
    let fmt = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "table     {}", escape(&t.path().display().to_string()))?;
    writeln!(out, "pool      {} ({} addresses)", t.pool(), t.size())?;
    writeln!(out, "created   {}", local_time(t.created()))?;
    writeln!(
        out,
        "now       {} leased, {} stale, {} free, {} draining",
        n.leased, n.stale, n.free, n.draining
    )?;
    writeln!(out, "assigned  {}", c.assigned)?;
    writeln!(out, "released  {}", fmt(&released))?;
    writeln!(out, "reaped    {}", fmt(&reaped))?;
    if c.claim_deadline_ns == 0 && c.fenced == 0 {
        writeln!(out, "refused   {} (pool exhausted)", c.refused)?;
    } else {
        writeln!(
            out,
            "refused   {} ({} pool exhausted, {} fenced: past the claim deadline)",
            c.refused,
            c.refused - c.fenced.min(c.refused),
            c.fenced
        )?;
    }
    if n.sealed != 0 {
        writeln!(
            out,
            "sealed    {} (free, in blocks this server does not hold)",
            n.sealed
        )?;
    }
    for line in cluster_lines(t, &c, agent) {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", watchdog_line(wd))?;
    Ok(())
}
