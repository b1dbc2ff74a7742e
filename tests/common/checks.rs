//! What each real-pppd scenario must show, shared by the pppd 2.4.9 and
//! 2.5.2 runs. Each function asserts one scenario's recorded facts.

use std::collections::HashSet;

use super::{held, lease, Scenario};

/// Every address free (none leased, none stale) in a snapshot.
/// The worst case for the watchdog to free a dead holder's lease,
/// in µs: measured by killwait from just before kill(2) to the slot seen
/// free.
pub const WATCHDOG_BOUND_US: u64 = 500_000;

/// A `kill_freed_us` event ("FREED EXITED", µs after kill) within the
/// bound; returns both.
pub fn freed_within_bound(s: &Scenario, key: &str) -> (u64, u64) {
    let v = s.ev(key);
    let (freed, exited) = v
        .split_once(' ')
        .and_then(|(f, e)| Some((f.parse::<u64>().ok()?, e.parse::<u64>().ok()?)))
        .unwrap_or_else(|| panic!("{key}: the lease was not freed ({v})"));
    assert!(freed <= WATCHDOG_BOUND_US, "{key}: freed after {freed} µs");
    assert!(
        exited <= freed,
        "{key}: freed before its holder had exited: {v}"
    );
    (freed, exited)
}

pub fn all_free(s: &Scenario, label: &str) {
    let snap = s.snap(label);
    assert_eq!(held(&snap), vec![], "{}: {label}: leases left", s.name);
    assert_eq!(snap["leased"], 0);
    assert_eq!(snap["stale"], 0);
}

/// The server log says `addr` was released, by `path`.
pub fn released(s: &Scenario, n: u32, addr: &str, path: &str) {
    let log = s.server_log(n) + &s.read(&format!("server.{n}.history"));
    let want = format!("rasstatic: released {addr} ({path}");
    assert!(
        log.contains(&want),
        "{}: server {n} never logged \"{want}\":\n{log}",
        s.name
    );
}

pub fn in_pool(addr: &str, first: [u8; 4], last: u8) -> bool {
    let a: std::net::Ipv4Addr = addr
        .parse()
        .unwrap_or_else(|_| panic!("not an address: {addr}"));
    let o = a.octets();
    o[..3] == first[..3] && o[3] >= first[3] && o[3] <= last
}

pub fn s01_three_callers_then_a_fourth_is_refused_until_one_hangs_up(s: &Scenario) {
    let addrs: Vec<String> = (1..=3).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "three callers, three distinct addresses: {addrs:?}"
    );
    for a in &addrs {
        assert!(in_pool(a, [10, 9, 1, 1], 3), "{a} is outside the pool");
    }
    // The table shows each lease held by the pppd that serves that line.
    let up = s.snap("three-up");
    for n in 1..=3 {
        let l = lease(&up, &addrs[n - 1]);
        assert_eq!(l["state"], "leased");
        assert_eq!(
            l["pid"].as_u64().unwrap().to_string(),
            s.ev(&format!("spid{n}"))
        );
        assert!(l["interface"].as_str().unwrap().starts_with("ppp"));
    }
    // The fourth: refused cleanly, with the reason in the log.
    let log4 = s.read("server.4.history");
    assert!(
        log4.contains("rasstatic: pool exhausted: 3 of 3 addresses leased; refusing peer"),
        "{log4}"
    );
    assert!(
        !s.events().contains_key("client4_got_address"),
        "the fourth caller got an address"
    );
    assert!(
        log4.contains("Peer is not authorized to use remote address"),
        "{log4}"
    );
    // pppd ends the call itself (10, negotiation failed) or sees the
    // caller's LCP Terminate-Request first (16): both are clean refusals.
    let code = s.ev("server4_exit");
    assert!(code == "10" || code == "16", "server 4 exit status {code}");
    assert_eq!(held(&s.snap("fourth-refused")).len(), 3);
    // One hangs up: its address is free, and the fourth caller gets it.
    let after = s.snap("one-hung-up");
    assert_eq!(lease(&after, &addrs[0])["state"], "free");
    assert_eq!(held(&after).len(), 2);
    assert_eq!(s.ev("addr4"), addrs[0]);
    assert_eq!(lease(&s.snap("fourth-up"), &addrs[0])["state"], "leased");
    all_free(s, "end");
}

pub fn s02_caller_hangs_up(s: &Scenario) {
    let a = s.ev("addr1");
    assert!(in_pool(&a, [10, 9, 2, 1], 5));
    assert_eq!(lease(&s.snap("up"), &a)["state"], "leased");
    released(s, 1, &a, "ip-down");
    assert_eq!(s.ev("server_exit"), "16", "pppd: hangup (peer terminated)");
    let end = s.snap("end");
    all_free(s, "end");
    assert_eq!(lease(&end, &a)["last"]["released_by"], "ip-down");
}

pub fn s03_dial_in_side_hangs_up_on_signals_with_and_without_persist(s: &Scenario) {
    for (n, sig) in [(1, "TERM"), (2, "INT"), (3, "HUP")] {
        let a = s.ev(&format!("addr_{sig}"));
        assert!(in_pool(&a, [10, 9, 3, 1], 5));
        released(s, n, &a, &format!("ip-down, after signal SIG{sig}"));
        all_free(s, &format!("after-{sig}"));
    }
    assert_eq!(s.ev("server_exit_TERM"), "5");
    assert_eq!(s.ev("server_exit_INT"), "5");
    assert_eq!(
        s.ev("server_exit_HUP"),
        "5",
        "SIGHUP without persist: pppd exits 5 like TERM and INT"
    );
    // With persist, SIGHUP ends the call but not pppd; the next call gets
    // the next address (round-robin), and the first is free meanwhile.
    let p1 = s.ev("addr_persist1");
    released(s, 4, &p1, "ip-down, after signal SIGHUP");
    all_free(s, "after-HUP-persist");
    assert_eq!(s.ev("persist_server_alive"), "yes");
    let p2 = s.ev("addr_persist2");
    assert!(in_pool(&p2, [10, 9, 3, 1], 5));
    assert_ne!(
        p1, p2,
        "round-robin hands the next address to the next call"
    );
    assert_eq!(held(&s.snap("persist-second-call")).len(), 1);
    released(s, 4, &p2, "ip-down");
    all_free(s, "end");
}

pub fn s04_carrier_loss(s: &Scenario) {
    let a = s.ev("addr1");
    assert_eq!(lease(&s.snap("up"), &a)["state"], "leased");
    let log = s.server_log(1);
    assert!(log.contains("Modem hangup"), "{log}");
    released(s, 1, &a, "ip-down");
    assert_eq!(s.ev("server_exit"), "16");
    all_free(s, "end");
}

pub fn s05_idle_and_maxconnect_limits(s: &Scenario) {
    let a = s.ev("addr_idle");
    assert!(s
        .server_log(1)
        .contains("Terminating connection due to lack of activity"));
    released(s, 1, &a, "ip-down");
    assert_eq!(s.ev("server_exit_idle"), "12", "pppd: idle timeout");
    all_free(s, "after-idle");
    let b = s.ev("addr_maxconnect");
    assert!(s.server_log(2).contains("Connect time expired"));
    released(s, 2, &b, "ip-down");
    assert_eq!(s.ev("server_exit_maxconnect"), "13", "pppd: connect time");
    all_free(s, "after-maxconnect");
}

pub fn s06_ipcp_never_opens_after_the_hook(s: &Scenario) {
    assert_eq!(s.ev("hook_ran"), "yes");
    let log = s.server_log(1);
    assert!(
        !log.contains("notified: ip up"),
        "IPCP came up after all:\n{log}"
    );
    assert!(
        !log.contains("notified: ip down"),
        "ip_down fired without IPCP opening:\n{log}"
    );
    // The only notifier that releases here is the phase change to dead.
    assert!(
        log.contains("rasstatic: released 10.9.6.1 (phase-dead)"),
        "{log}"
    );
    all_free(s, "end");
}

pub fn s07_ipcp_renegotiation_keeps_the_address(s: &Scenario) {
    assert_eq!(s.ev("peer_exit"), "0", "{}", s.read("client.1.out"));
    let rounds: Vec<String> = s
        .read("client.1.out")
        .lines()
        .filter_map(|l| l.strip_prefix("round "))
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(rounds.len(), 3, "three IPCP negotiations in one connection");
    assert!(in_pool(&rounds[0], [10, 9, 7, 1], 5));
    assert!(
        rounds.iter().all(|a| *a == rounds[0]),
        "the address changed: {rounds:?}"
    );
    let log = s.server_log(1);
    // Each renegotiation took IPCP down and chose again.
    assert_eq!(log.matches("notified: ip down").count(), 3, "{log}");
    assert_eq!(
        log.matches(&format!("keeps {}", rounds[0])).count(),
        2,
        "{log}"
    );
    assert_eq!(
        log.matches("rasstatic: released").count(),
        1,
        "released once, at the end"
    );
    released(s, 1, &rounds[0], "ip-down");
    all_free(s, "end");
}

pub fn s08_persist_serves_calls_in_a_row_and_nothing_accumulates(s: &Scenario) {
    let addrs: Vec<String> = (1..=4).map(|c| s.ev(&format!("addr_call{c}"))).collect();
    // Round-robin over a 3-address pool: .1 .2 .3 then .1 again, although
    // pppd hands the hook its previous answer every time.
    assert_eq!(addrs, ["10.9.8.1", "10.9.8.2", "10.9.8.3", "10.9.8.1"]);
    for c in 1..=4 {
        assert_eq!(held(&s.snap(&format!("call{c}-up"))).len(), 1);
        all_free(s, &format!("call{c}-down"));
    }
    assert_eq!(s.ev("server_alive"), "yes");
    let log = s.server_log(1);
    assert_eq!(log.matches("rasstatic: assigned").count(), 4);
    assert_eq!(log.matches("rasstatic: released").count(), 4);
    all_free(s, "end");
}

pub fn s09_lease_follows_detach_and_updetach_then_sigkill_frees_it(s: &Scenario) {
    // updetach: chosen in the foreground pppd, held by the detached one.
    let launcher = s.ev("launcher_pid_updetach");
    let daemon = s.ev("daemon_pid_updetach");
    assert_ne!(launcher, daemon);
    assert_eq!(s.ev("launcher_exit_updetach"), "0");
    let up = s.snap("updetach-up");
    let l = lease(&up, "10.9.9.1");
    assert_eq!(l["state"], "leased");
    assert_eq!(
        l["pid"].as_u64().unwrap().to_string(),
        daemon,
        "the lease did not follow the detach"
    );
    assert!(s
        .server_log(1)
        .contains(&format!("follows pppd to pid {daemon}")));
    all_free(s, "updetach-down");
    // Plain detach, then SIGKILL of the detached pppd.
    let d = s.ev("daemon_pid_detach");
    let l = lease(&s.snap("detach-up"), "10.9.9.1").clone();
    assert_eq!(l["pid"].as_u64().unwrap().to_string(), d);
    // The watchdog watched the detached pppd (the lease moved to it) and
    // freed its lease when it was SIGKILLed.
    freed_within_bound(s, "freed_detach_us");
    let k = lease(&s.snap("after-kill"), "10.9.9.1").clone();
    assert_eq!(k["state"], "free");
    assert_eq!(k["last"]["released_by"], "reap-watchdog", "{k}");
    assert_eq!(k["last"]["pid"].as_u64().unwrap().to_string(), d, "{k}");
    // The one-address pool: the next caller gets the address.
    assert_eq!(s.ev("addr_next"), "10.9.9.1");
    all_free(s, "end");
}

pub fn s10_sigkill_of_the_dial_in_pppd(s: &Scenario) {
    let pid = s.ev("server1_pid");
    let k = s.snap("after-kill");
    // norasstatic-watchdog: none was started.
    assert!(
        k["watchdog"].is_null(),
        "a watchdog runs: {}",
        k["watchdog"]
    );
    assert!(!s.server_log(1).contains("started the watchdog"));
    let l = lease(&k, "10.9.10.1");
    assert_eq!(l["state"], "stale");
    assert_eq!(l["pid"].as_u64().unwrap().to_string(), pid);
    assert_eq!(s.ev("reap_status"), "0");
    assert!(s
        .read("reap.out")
        .contains(&format!("reaped 10.9.10.1 (pid {pid} is dead)")));
    all_free(s, "after-reap");
    assert_eq!(s.ev("addr2"), "10.9.10.1");
    // The second SIGKILLed lease is reaped by the next claim that needs it.
    assert_eq!(s.ev("addr3"), "10.9.10.1");
    assert!(s
        .server_log(3)
        .contains("rasstatic: reaped 10.9.10.1 from dead pid"));
    all_free(s, "end");
}

pub fn s11_eight_lines_random_order_never_share_never_lose(s: &Scenario) {
    for round in 1..=3 {
        let addrs: Vec<String> = (1..=8)
            .map(|n| s.ev(&format!("round{round}_line{n}")))
            .collect();
        let distinct: HashSet<&String> = addrs.iter().collect();
        assert_eq!(
            distinct.len(),
            8,
            "round {round}: an address was held twice or a caller got none: {addrs:?}"
        );
        assert!(
            addrs.iter().all(|a| in_pool(a, [10, 9, 11, 1], 8)),
            "{addrs:?}"
        );
        let up = s.snap(&format!("round{round}-up"));
        let h = held(&up);
        assert_eq!(h.len(), 8);
        assert!(h.iter().all(|(_, st, _)| st == "leased"));
        // After the hang-ups only SIGKILLed holders may remain, as stale.
        let down = s.snap(&format!("round{round}-down"));
        let killed: usize = (1..=8)
            .filter(|n| s.ev(&format!("round{round}_hangup{n}")) == "server-kill9")
            .count();
        let left = held(&down);
        assert!(
            left.iter().all(|(_, st, _)| st == "stale"),
            "round {round}: {left:?}"
        );
        assert!(
            left.len() <= killed,
            "round {round}: {left:?} with {killed} SIGKILLs"
        );
    }
    all_free(s, "end");
}

pub fn s12_bad_options_exit_2_naming_the_option_and_bad_tables_are_refused(s: &Scenario) {
    let cases = [
        ("pool-syntax", "rasstatic-pool \"10.9.12.300\""),
        ("pool-reversed", "rasstatic-pool \"10.9.12.9-10.9.12.1\": the range ends before it starts"),
        ("pool-prefix", "rasstatic-pool \"10.9.12.0/33\""),
        ("pool-loopback", "rasstatic-pool \"127.0.0.1\": \"127.0.0.1\" contains 127.0.0.1, which is a loopback address"),
        ("pool-multicast", "rasstatic-pool \"224.0.0.1-224.0.0.9\""),
        ("pool-empty", "rasstatic-exclude \"10.9.12.0/24\": pool \"10.9.12.5\" is empty once"),
        ("exclude-syntax", "rasstatic-exclude \"nonsense\""),
        ("name", "rasstatic-name \"../etc\""),
        ("dir", "rasstatic-dir \"relative/dir\": must be an absolute path"),
        ("policy", "rasstatic-policy \"random\": must be \"round-robin\" or \"sticky\""),
    ];
    for (k, msg) in cases {
        assert_eq!(
            s.ev(&format!("bad_{k}")),
            "2",
            "{k}: pppd must exit 2 at option parsing"
        );
        let out = s.read(&format!("bad.{k}.out"));
        assert!(out.contains(msg), "{k}: {out:?} lacks {msg:?}");
    }
    assert_eq!(s.ev("nopool_exit"), "1");
    assert!(s
        .server_log(9)
        .contains("rasstatic: no pool configured: rasstatic-pool is required"));
    assert_eq!(s.ev("ownpool_exit"), "1");
    assert!(
        s.server_log(8).contains(
            "rasstatic: the pool 10.9.12.7 holds only 10.9.12.7, this server's own address"
        ),
        "{}",
        s.server_log(8)
    );
    let reasons = [
        ("corrupt", "refused: corrupt header"),
        ("foreign", "refused: not a rasstatic table (bad magic)"),
        (
            "truncated",
            "refused: truncated (6000 bytes, its header needs",
        ),
        (
            "writable",
            "refused: mode 0666 lets group or others write it",
        ),
    ];
    for (n, (kind, reason)) in reasons.iter().enumerate() {
        assert!(in_pool(&s.ev(&format!("good_{kind}")), [10, 9, 12, 1], 254));
        let log = s.server_log(n as u32 + 1);
        let path = "/run/rasstatic-test/12-bad-options-and-tables/default.table";
        let want = format!("{path}: {reason}");
        assert!(log.contains(&want), "{kind}: {log}");
        assert_eq!(
            s.ev(&format!("bad_table_{kind}_show")),
            "1",
            "rasstatic show must refuse it"
        );
        assert!(s.read(&format!("show.{kind}.out")).contains(reason));
        if *kind == "writable" {
            assert_eq!(s.ev("bad_table_writable_exit"), "1", "pppd must stop");
            assert!(!s.events().contains_key("bad_table_writable_got_address"));
            assert_eq!(s.ev("bad_table_writable_untouched"), "yes");
            continue;
        }
        // Damaged: never trusted, kept aside as it was, the table rebuilt
        // and the caller served from it.
        let a = s.ev(&format!("rebuilt_{kind}_addr"));
        assert!(in_pool(&a, [10, 9, 12, 1], 254), "{kind}: {a}");
        assert_eq!(s.ev(&format!("rebuilt_{kind}_aside_untouched")), "yes");
        assert!(
            log.contains(&format!("moved it to {path}.damaged and rebuilt the table")),
            "{kind}: {log}"
        );
        let up = s.snap(&format!("rebuilt-{kind}"));
        assert_eq!(lease(&up, &a)["state"], "leased", "{kind}");
        all_free(s, &format!("rebuilt-{kind}-end"));
    }
}

pub fn s13_pap_with_a_star_address_column(s: &Scenario) {
    let a = s.ev("addr1");
    assert!(in_pool(&a, [10, 9, 13, 1], 3));
    let up = s.snap("up");
    assert_eq!(
        lease(&up, &a)["peer"],
        "alice",
        "the authenticated name is recorded"
    );
    assert!(s.server_log(1).contains(&format!("assigned {a} to alice")));
    // An authenticated link also fires link_down; the lease goes either way.
    assert!(s.server_log(1).contains("notified: link down"));
    released(s, 1, &a, "link-down");
    all_free(s, "end");
}

pub fn s14_proxyarp_with_the_pool_on_the_lan_subnet(s: &Scenario) {
    let a = s.ev("addr1");
    assert!(in_pool(&a, [10, 9, 14, 10], 12));
    let up = s.read("proxy.up");
    assert!(
        up.contains(&format!("{a} dev lan0")),
        "no proxy ARP entry while up: {up:?}"
    );
    assert_eq!(lease(&s.snap("up"), &a)["proxyarp"], true);
    let down = s.read("proxy.down");
    assert!(!down.contains(&a), "the proxy ARP entry stayed: {down:?}");
    released(s, 1, &a, "ip-down");
    all_free(s, "end");
}

pub fn s15_options_files_caller_proposals_and_a_panicking_hook(s: &Scenario) {
    // From a peers file (pppd call dialin), into the table it names.
    let a = s.ev("addr_peers");
    assert!(in_pool(&a, [10, 9, 15, 1], 4));
    assert_eq!(lease(&s.snap("peers-up"), &a)["state"], "leased");
    assert!(s.snap("peers-up")["table"]
        .as_str()
        .unwrap()
        .ends_with("/fromfile.table"));
    // From options.<tty> (a caller without a name: sticky falls back to
    // round-robin).
    assert!(in_pool(&s.ev("addr_ttyopts"), [10, 9, 15, 1], 4));
    assert!(s.server_log(2).contains("rasstatic: assigned"));
    // A caller proposing its own address gets a pool address instead...
    let p = s.ev("addr_accepting");
    assert!(
        in_pool(&p, [10, 9, 15, 1], 4),
        "caller kept its proposal: {p}"
    );
    assert_ne!(p, "10.50.0.7");
    // ...or, insisting, no address at all: pppd refuses the call.
    assert!(
        !s.events().contains_key("insisting_got"),
        "{:?}",
        s.events().get("insisting_got")
    );
    assert!(held(&s.snap("after-insisting")).is_empty());
    // A panic in the hook is caught, logged once with where it happened,
    // and fails safe.
    let log = s.server_log(5);
    assert!(
        log.contains(
            "rasstatic: internal error in ip_choose_hook: fault injected in ip_choose_hook"
        ) && log.contains("(at src/plugin/"),
        "{log}"
    );
    assert_eq!(log.matches("fault injected").count(), 1, "{log}");
    assert!(!s.events().contains_key("panic_client_got_address"));
    let code = s.ev("panic_server_exit");
    assert!(
        code == "10" || code == "16",
        "pppd did not end its normal way: {code}"
    );
    assert!(held(&s.snap("end")).is_empty());
}

pub fn s16_the_watchdog_frees_a_killed_pppds_lease_and_cleans_up(s: &Scenario) {
    // 1. Started by the plugin, detached from pppd.
    let w = s.ev("wd_pid");
    let server = s.ev("server1_pid");
    assert!(w.parse::<u32>().is_ok(), "no watchdog: {w}");
    assert_ne!(s.ev("wd_ppid"), server, "the watchdog is pppd's child");
    let pg = s.ev("wd_pgid");
    let (wpg, spg) = pg.split_once(" server_pgid ").unwrap();
    assert_ne!(wpg, spg, "the watchdog is in pppd's process group");
    let sid = s.ev("wd_sid");
    let (wsid, ssid) = sid.split_once(" server_sid ").unwrap();
    assert_ne!(wsid, ssid, "the watchdog is in pppd's session");
    assert_eq!(s.ev("wd_comm"), "rasstatic-wd");
    assert_eq!(
        s.ev("wd_cmdline"),
        "rasstatic watchdog --dir /run/rasstatic-test/16-watchdog --name default"
    );
    // pppd holds /dev/ppp and its tty; the watchdog holds neither.
    let sfds = s.ev("server_fds");
    assert!(sfds.contains("/dev/ppp"), "{sfds}");
    let wfds = s.ev("wd_fds");
    for fd in wfds.split_whitespace() {
        assert!(
            fd == "/dev/null"
                || fd.starts_with("/run/rasstatic-test/16-watchdog/default.")
                || fd.starts_with("anon_inode:")
                || fd.starts_with("socket:"),
            "the watchdog holds {fd}: {wfds}"
        );
    }
    assert!(s
        .server_log(1)
        .contains(&format!("started the watchdog (pid {w})")));
    // Then SIGKILL: lease and proxy-ARP entry gone within the bound.
    let a1 = s.ev("addr1");
    assert!(in_pool(&a1, [10, 9, 16, 10], 11));
    assert_eq!(lease(&s.snap("up1"), &a1)["proxyarp"], true);
    assert_eq!(s.ev("proxy_up1"), "1");
    freed_within_bound(s, "freed1_us");
    assert_eq!(s.ev("proxy_after1"), "0", "the proxy-ARP entry stayed");
    let k = lease(&s.snap("after-kill1"), &a1).clone();
    assert_eq!(k["last"]["released_by"], "reap-watchdog", "{k}");
    assert_eq!(k["last"]["pid"].as_u64().unwrap().to_string(), server);
    let log = s.read("syslog");
    assert!(
        log.contains(&format!("reaped {a1} from pid {server} ("))
            && log.contains("which died holding it; removed proxy-ARP entry on lan0"),
        "syslog: {log}"
    );
    // 2. pppN kept alive by a helper: route and proxy entry removed, the
    // interface itself left alone.
    let a2 = s.ev("addr2");
    assert!(in_pool(&a2, [10, 9, 16, 10], 11), "{a2}");
    assert!(s.ev("fdhold").starts_with("held "), "{}", s.ev("fdhold"));
    assert_ne!(s.ev("fdhold"), "held 0");
    assert_eq!(s.ev("routes_up2"), "1");
    assert_eq!(s.ev("proxy_up2"), "1");
    freed_within_bound(s, "freed2_us");
    assert_eq!(
        s.ev("if_after2"),
        "present",
        "pppN went away: nothing to test"
    );
    assert_eq!(s.ev("routes_after2"), "0", "the host route stayed");
    assert_eq!(s.ev("proxy_after2"), "0", "the proxy-ARP entry stayed");
    assert!(
        log.contains(&format!("reaped {a2} from pid "))
            && log.contains(&format!("host route via {}", s.ev("if2"))),
        "syslog: {log}"
    );
    all_free(s, "after-kill2");
    // 3. Watchdog killed, then pppd: the address waits, stale, and the
    // next caller still gets it; the next pppd started a new watchdog.
    assert_eq!(s.ev("addr3"), "10.9.16.20");
    assert_eq!(s.ev("wd_after_kill"), "null");
    assert_eq!(s.ev("state_after_kill3"), "stale");
    assert_eq!(s.ev("addr4"), "10.9.16.20");
    let (w3, w4) = (s.ev("wd3"), s.ev("wd4"));
    assert!(w4.parse::<u32>().is_ok() && w4 != w3, "{w3} then {w4}");
    all_free(s, "end");
    let one = s.snap("end-one");
    assert!(held(&one).is_empty(), "{one}");
}

pub fn s17_with_syslog_on_fd_3_many_calls_keep_one_watchdog(s: &Scenario) {
    // Production conditions: pppd's descriptor 3 is its syslog socket.
    let fd3 = s.ev("pppd_fd3");
    assert!(
        fd3.starts_with("socket:"),
        "pppd's fd 3 is {fd3}, not its syslog socket"
    );
    assert!(in_pool(&s.ev("addr_first"), [10, 9, 17, 10], 13));
    let w = s.ev("wd_first");
    assert!(
        w.parse::<u32>().is_ok(),
        "no watchdog after the first call: {w}"
    );
    // One watchdog after every call, the same one throughout.
    let counts = s.ev("wd_counts");
    assert_eq!(
        counts, "1 1 1 1 1 1 1 1",
        "watchdogs running after each call"
    );
    assert_eq!(s.ev("wds_end"), w, "the watchdogs running at the end");
    assert_eq!(s.ev("wd_end"), w, "rasstatic show names another watchdog");
    // It kept its lock on descriptor 3, and holds nothing of pppd's.
    assert_eq!(
        s.ev("wd_fd3"),
        "/run/rasstatic-test/17-syslog-one-watchdog/default.watchdog"
    );
    let wfds = s.ev("wd_fds");
    for fd in wfds.split_whitespace() {
        assert!(
            fd == "/dev/null"
                || fd.starts_with("/run/rasstatic-test/17-syslog-one-watchdog/default.")
                || fd.starts_with("anon_inode:")
                || fd.starts_with("socket:"),
            "the watchdog holds {fd}: {wfds}"
        );
    }
    // It logged under its own name: its start and the reaps of the two
    // SIGKILLed pppds.
    let log = s.read("syslog");
    let tag = format!("rasstatic[{w}]: ");
    assert!(
        log.contains(&format!(
            "{tag}watching /run/rasstatic-test/17-syslog-one-watchdog/default.table"
        )),
        "syslog: {log}"
    );
    assert_eq!(
        log.matches(&format!("{tag}reaped ")).count(),
        2,
        "syslog: {log}"
    );
    assert_eq!(
        log.matches("which died holding it").count(),
        2,
        "syslog: {log}"
    );
    assert_eq!(
        s.ev("wd_term"),
        "stopped",
        "SIGTERM did not stop the watchdog"
    );
    // Every address came back.
    let end = s.snap("end");
    assert_eq!(held(&end), vec![], "{end}");
    assert_eq!(end["free"], 4);
}

/// The addresses on the ppp interfaces (event `peers`): none twice.
fn no_address_on_two_interfaces(s: &Scenario, want: usize) -> Vec<String> {
    let peers: Vec<String> = s.ev("peers").split_whitespace().map(String::from).collect();
    let distinct: HashSet<&String> = peers.iter().collect();
    assert_eq!(
        distinct.len(),
        peers.len(),
        "an address on two ppp interfaces: {peers:?}"
    );
    assert_eq!(peers.len(), want, "{peers:?}");
    peers
}

/// Six callers, three before and three after the table was lost: six
/// distinct pool addresses, each leased in the table to the pppd whose
/// interface carries it.
fn six_distinct(s: &Scenario, first: [u8; 4]) {
    let addrs: Vec<String> = (1..=6).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(
        distinct.len(),
        6,
        "an address was handed out twice: {addrs:?}"
    );
    assert!(addrs.iter().all(|a| in_pool(a, first, 6)), "{addrs:?}");
    let mut peers = no_address_on_two_interfaces(s, 6);
    let mut sorted = addrs.clone();
    sorted.sort();
    peers.sort();
    assert_eq!(peers, sorted);
    let six = s.snap("six");
    let held = held(&six);
    assert_eq!(held.len(), 6, "{held:?}");
    assert!(
        held.iter()
            .all(|(_, st, pid)| st == "leased" && pid.is_some()),
        "{held:?}"
    );
}

pub fn s18_table_deleted_with_calls_up_heals_without_a_duplicate(s: &Scenario) {
    let back = s.ev("back_ms");
    let ms: u64 = back
        .parse()
        .unwrap_or_else(|_| panic!("leases never came back: {back}"));
    // Each pppd checks every 3 s.
    assert!(ms < 4_000, "{ms} ms");
    let b = s.snap("back");
    assert_eq!(held(&b).len(), 3);
    assert!(s
        .read("entered.out")
        .contains("entered 3 lease(s) of live sessions found in the kernel"));
    six_distinct(s, [10, 9, 18, 1]);
    all_free(s, "end");
}

pub fn s19_table_overwritten_with_garbage_heals_without_a_duplicate(s: &Scenario) {
    let back = s.ev("back_ms");
    let ms: u64 = back
        .parse()
        .unwrap_or_else(|_| panic!("leases never came back: {back}"));
    assert!(ms < 5_000, "{ms} ms");
    assert_eq!(s.ev("aside"), "yes");
    six_distinct(s, [10, 9, 19, 1]);
    all_free(s, "end");
}

pub fn s20_pool_grows_and_shrinks_with_calls_up(s: &Scenario) {
    let (a1, a2, a3) = (s.ev("addr1"), s.ev("addr2"), s.ev("addr3"));
    assert_eq!((a1.as_str(), a2.as_str()), ("10.9.20.1", "10.9.20.2"));
    // The new definition: .2-.6; caller 3 gets a new address at once.
    assert!(in_pool(&a3, [10, 9, 20, 3], 6), "{a3}");
    let c = s.snap("changed");
    assert_eq!(c["pool"], "10.9.20.2-10.9.20.6");
    assert_eq!(lease(&c, "10.9.20.1")["state"], "draining");
    assert_eq!(lease(&c, "10.9.20.2")["state"], "leased");
    assert_eq!(lease(&c, &a3)["state"], "leased");
    assert_eq!(c["draining"], 1);
    assert!(s.read("draining.out").contains("10.9.20.1"));
    assert!(
        s.server_log(3).contains("1 draining"),
        "{}",
        s.server_log(3)
    );
    let d = s.snap("drained");
    assert!(
        d["leases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["address"] != "10.9.20.1"),
        "a drained address is listed: {d}"
    );
    // Two definitions racing: whatever the table holds, no address twice.
    let (a4, a5) = (s.ev("addr4"), s.ev("addr5"));
    let live = [a2.as_str(), a3.as_str(), a4.as_str(), a5.as_str()];
    let distinct: HashSet<&&str> = live.iter().collect();
    assert_eq!(distinct.len(), 4, "{live:?}");
    assert!(
        live.iter().all(|a| in_pool(a, [10, 9, 20, 1], 6)),
        "{live:?}"
    );
    no_address_on_two_interfaces(s, 4);
    all_free(s, "end");
}

/// The addresses in a space-separated list ("peers" events).
fn words(v: &str) -> Vec<String> {
    v.split_whitespace().map(String::from).collect()
}

/// Scenarios 21 and 22 (tests/pppd/pppoe.sh, `pppoe_sessions`): one
/// pppoe-server, pool `base`..`base+2`, `kernel` for `-k`.
fn pppoe_sessions(s: &Scenario, base: [u8; 4], kernel: bool) {
    let last = base[3] + 2;
    let addrs: Vec<String> = (1..=3).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "three sessions, three addresses: {addrs:?}"
    );
    for a in &addrs {
        assert!(in_pool(a, base, last), "{a} is outside the pool");
    }
    // Each lease held by the pppd pppoe-server spawned for that session.
    let up = s.snap("three-up");
    let pppoes = s.ev("pppoes_pid");
    for (n, a) in (1..=3).zip(&addrs) {
        let l = lease(&up, a);
        assert_eq!(l["state"], "leased");
        assert_eq!(
            l["pid"].as_u64().unwrap().to_string(),
            s.ev(&format!("spid{n}"))
        );
        assert!(l["interface"].as_str().unwrap().starts_with("ppp"), "{l}");
    }
    assert_eq!(
        s.ev("server_ppid"),
        pppoes,
        "the session's pppd is not pppoe-server's child"
    );
    // pppoe-server passes its own next address; the plugin overrides it.
    let argv = s.ev("server_argv");
    assert!(argv.contains(" 10.0.0.1:10.67.15."), "{argv}");
    if kernel {
        assert!(argv.contains("rp-pppoe.so nic-v0 rp_pppoe_sess "), "{argv}");
        assert!(!argv.contains(" pty "), "{argv}");
    } else {
        assert!(argv.contains(" pty "), "{argv}");
    }
    let mut want = addrs.clone();
    want.sort();
    assert_eq!(
        words(&s.ev("peers_three")),
        want,
        "the ppp interfaces' peers"
    );
    let ifs = s.ev("server_ifs");
    assert!(
        !ifs.contains("10.67.15."),
        "pppoe-server's address reached an interface: {ifs}"
    );

    // The fourth caller: refused by its pppd, with the reason logged; the
    // three leases stay with their sessions.
    assert_ne!(s.ev("client4_status"), "0");
    assert_ne!(s.ev("client4_status"), "running");
    assert_ne!(s.ev("exhausted"), "0", "no \"pool exhausted\" line");
    let r = s.snap("refused");
    assert_eq!(r["leased"], 3);
    let spids: Vec<String> = (1..=3).map(|n| s.ev(&format!("spid{n}"))).collect();
    assert_eq!(
        words(&s.ev("servers_after_refusal")),
        spids,
        "the refused pppd is still running"
    );

    // Caller 2 hangs up: released on ip-down; the address comes back.
    let n = s.ev("hangup_notified");
    assert!(n.contains("ip down"), "{n}");
    let rel = s.ev("hangup_released");
    assert!(rel.starts_with(&format!("{} (ip-down", addrs[1])), "{rel}");
    let h = s.snap("after-hangup");
    assert_eq!(lease(&h, &addrs[1])["state"], "free");
    assert_eq!(h["leased"], 2);
    assert_eq!(
        s.ev("addr5"),
        addrs[1],
        "the freed address is not handed out again"
    );

    // The pppd of session 1 SIGKILLed: no notifier runs, the watchdog frees it.
    freed_within_bound(s, "kill1");
    let n = s.ev("kill_notified");
    assert!(n.ends_with("ip up"), "{n}");
    assert!(s
        .ev("kill_reaped")
        .starts_with(&format!("reaped {}", addrs[0])));
    assert_eq!(lease(&s.snap("after-kill"), &addrs[0])["state"], "free");
    assert_ne!(s.ev("client1_status"), "running", "caller 1 never noticed");

    // Everyone hung up: nothing leased, no pppd, no address on a ppp link.
    all_free(s, "end");
    assert_eq!(s.ev("peers_end"), "");
    assert_eq!(s.ev("server_pppds_end"), "");
}

pub fn s21_pppoe_server_user_mode(s: &Scenario) {
    pppoe_sessions(s, [10, 9, 21, 1], false);
}

pub fn s22_pppoe_server_kernel_mode(s: &Scenario) {
    pppoe_sessions(s, [10, 9, 22, 1], true);
}

/// Scenarios 23 and 24 (tests/pppd/pppoe.sh, `pppoe_server_killed`).
fn pppoe_server_killed(s: &Scenario, base: [u8; 4]) {
    let last = base[3] + 3;
    let a: Vec<String> = (1..=3).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = a.iter().collect();
    assert_eq!(distinct.len(), 3, "an address handed out twice: {a:?}");
    for x in &a {
        assert!(in_pool(x, base, last), "{x} is outside the pool");
    }
    let (s1, s2) = (s.ev("spid1"), s.ev("spid2"));
    // pppoe-server SIGKILLed: its sessions' pppds live on, orphaned, and
    // keep their leases; no lease is held by a dead process.
    assert_eq!(s.ev("pppoes1_status"), "137");
    assert_eq!(
        words(&s.ev("after_kill_servers")),
        vec![s1.clone(), s2.clone()]
    );
    assert_eq!(
        s.ev("after_kill_callers"),
        "yes yes",
        "a caller was cut off"
    );
    assert_eq!(s.ev("after_kill_ppid"), "1");
    let k = s.snap("after-kill");
    assert_eq!(k["leased"], 2);
    assert_eq!(lease(&k, &a[0])["pid"].as_u64().unwrap().to_string(), s1);
    assert_eq!(lease(&k, &a[1])["pid"].as_u64().unwrap().to_string(), s2);
    assert_eq!(s.ev("after_kill_dead"), "", "leases held by dead processes");
    // Started again: pppoe-server's own pool starts over and passes
    // 10.67.15.1 a second time while the first session holding it lives;
    // the plugin hands out a third pool address.
    let sessions = s.ev("sessions");
    assert_eq!(sessions.matches("(10.67.15.1)").count(), 2, "{sessions}");
    let r = s.snap("restarted");
    assert_eq!(r["leased"], 3);
    assert_eq!(s.ev("restarted_dead"), "", "leases held by dead processes");
    let mut want = a.clone();
    want.sort();
    assert_eq!(
        words(&s.ev("restarted_peers")),
        want,
        "an address on two links"
    );
    assert_eq!(s.ev("restarted_callers"), "yes yes yes");
    // A caller from the first callers' MAC address is given a session
    // number a surviving session of that address still uses: its own
    // kernel refuses it, and no address is claimed for it.
    assert_ne!(s.ev("client4_status"), "0");
    let l4 = s.ev("client4_log");
    assert!(l4.contains("Operation already in progress"), "{l4}");
    // Everyone hung up: every address back, no pppd left.
    for n in 1..=2 {
        let rel = s.ev(&format!("released{n}"));
        assert!(rel.starts_with(&format!("{} (ip-down", a[n - 1])), "{rel}");
    }
    assert_eq!(s.ev("end_servers"), "");
    all_free(s, "end");
    assert_eq!(s.ev("end_peers"), "");
}

pub fn s23_pppoe_server_killed_and_restarted_user_mode(s: &Scenario) {
    pppoe_server_killed(s, [10, 9, 23, 1]);
}

pub fn s24_pppoe_server_killed_and_restarted_kernel_mode(s: &Scenario) {
    pppoe_server_killed(s, [10, 9, 24, 1]);
}

pub fn s25_pppoe_misconfigured_options_are_caught_or_refused(s: &Scenario) {
    // Options before the plugin line: `rasstatic check` fails the file,
    // pppd refuses it, the caller gets no address and no table is made.
    let c = s.ev("check_before");
    assert!(c.starts_with("1 ") && c.contains("comes before"), "{c}");
    assert_eq!(s.ev("addr_before"), "none");
    assert_eq!(s.ev("peers_before"), "");
    assert_ne!(s.ev("unrecognized"), "0");
    assert_eq!(s.ev("table_before"), "");
    // No plugin at all: pppd takes pppoe-server's address, with nothing of
    // rasstatic in its log; `rasstatic check` says so of the file.
    let c = s.ev("check_none");
    assert!(c.contains("no rasstatic options"), "{c}");
    assert_eq!(s.ev("addr_none"), "10.67.15.1");
    assert_eq!(s.ev("loaded_none"), "0");
    // The working file.
    let c = s.ev("check_ok");
    assert!(
        c.starts_with("0 ") && c.contains(": ok: pool 10.9.25.1-10.9.25.2"),
        "{c}"
    );
    assert_eq!(s.ev("addr_ok"), "10.9.25.1");
    assert_eq!(s.ev("peers_ok"), "10.9.25.1");
    all_free(s, "end");
}

/// The first words of a file's lines (pptpd's keywords), sorted.
fn keywords(text: &str, leave_out: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.starts_with('#') && !leave_out.contains(w))
        .map(String::from)
        .collect();
    k.sort();
    k
}

/// The scenario's pptpd.conf and options file have the shape of the
/// README's example: the same pptpd.conf keywords (but for `ppp`,
/// `listen` and `pidfile`, which only point pptpd at the test's pppd and
/// places), and an options file that loads the plugin first and gives the
/// pool and the server's end of every call.
fn pptpd_files_as_in_the_readme(s: &Scenario) {
    let blocks = super::readme::blocks("PPTP servers (pptpd)");
    let (conf, opts) = (&blocks[0], &blocks[1]);
    assert_eq!(
        keywords(&s.read("pptpd.conf"), &["ppp", "listen", "pidfile"]),
        keywords(conf, &[]),
        "the scenario's pptpd.conf is not the README's:\n{}",
        s.read("pptpd.conf")
    );
    assert!(keywords(conf, &[]).contains(&"delegate".to_string()));
    for o in [opts.as_str(), &s.read("pptpd-options")] {
        let l: Vec<&str> = o.lines().collect();
        assert!(
            l[0].starts_with("plugin ") && l[0].ends_with("/rasstatic.so")
                || l[0] == "plugin rasstatic.so",
            "{o}"
        );
        assert!(l.iter().any(|x| x.starts_with("rasstatic-pool ")), "{o}");
        assert!(l.iter().any(|x| x.ends_with(':') && x[..x.len() - 1].parse::<std::net::Ipv4Addr>().is_ok()), "{o}");
    }
}

/// The pppd a server started is the pppd under test ("pppd version X").
fn server_is_the_pppd_under_test(s: &Scenario) {
    let v = s.ev("pppd_under_test");
    let v = v
        .strip_prefix("pppd version ")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(s.ev("server_started"), format!("pppd {v} started"));
}

pub fn s30_pptpd_sessions(s: &Scenario) {
    let base = [10, 9, 30, 1];
    pptpd_files_as_in_the_readme(s);
    let c = s.ev("check_conf");
    assert!(
        c.starts_with("0 ")
            && c.contains(": ok: pppd options ")
            && c.contains("pool 10.9.30.1-10.9.30.3"),
        "{c}"
    );
    assert!(!c.contains(" note: "), "{c}");
    let addrs: Vec<String> = (1..=3).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(distinct.len(), 3, "three calls, three addresses: {addrs:?}");
    for a in &addrs {
        assert!(in_pool(a, base, 3), "{a} is outside the pool");
    }
    let up = s.snap("three-up");
    for (n, a) in (1..=3).zip(&addrs) {
        let l = lease(&up, a);
        assert_eq!(l["state"], "leased");
        assert_eq!(
            l["pid"].as_u64().unwrap().to_string(),
            s.ev(&format!("spid{n}"))
        );
        assert!(l["interface"].as_str().unwrap().starts_with("ppp"), "{l}");
    }
    // pptpd -> pptpctrl -> pppd; with delegate, no LOCAL:REMOTE word.
    assert_eq!(
        s.ev("server_parent"),
        format!("pptpctrl {}", s.ev("pptpd_pid"))
    );
    let argv = s.ev("server_argv");
    assert!(
        argv.contains(" local file ")
            && argv.contains(" ipparam 172.30.0.11 remotenumber 172.30.0.11"),
        "{argv}"
    );
    assert!(
        !argv.split_whitespace().any(|w| w.contains(':')),
        "pptpd passed an address: {argv}"
    );
    server_is_the_pppd_under_test(s);
    let mut want = addrs.clone();
    want.sort();
    assert_eq!(words(&s.ev("peers_three")), want);
    for i in words(&s.ev("server_ifs")) {
        let (_, rest) = i.split_once('=').unwrap();
        let (local, peer) = rest.split_once('=').unwrap();
        assert_eq!(local, "10.0.0.1", "{i}");
        assert!(in_pool(peer.trim_end_matches("/32"), base, 3), "{i}");
    }
    // The fourth caller: refused by its pppd, with the reason logged.
    let st = s.ev("client4_status");
    assert!(st != "0" && st != "running", "{st}");
    assert_ne!(s.ev("exhausted"), "0", "no \"pool exhausted\" line");
    assert_eq!(s.snap("refused")["leased"], 3);
    let spids: Vec<String> = (1..=3).map(|n| s.ev(&format!("spid{n}"))).collect();
    assert_eq!(words(&s.ev("servers_after_refusal")), spids);
    // Caller 2 hangs up: released on ip-down; the address comes back.
    let n = s.ev("hangup_notified");
    assert!(
        n.contains("ip down") && n.ends_with("exit (status 16)"),
        "{n}"
    );
    let rel = s.ev("hangup_released");
    assert!(rel.starts_with(&format!("{} (ip-down", addrs[1])), "{rel}");
    let h = s.snap("after-hangup");
    assert_eq!(lease(&h, &addrs[1])["state"], "free");
    assert_eq!(h["leased"], 2);
    assert_eq!(
        s.ev("addr5"),
        addrs[1],
        "the freed address is not handed out again"
    );
    // The pppd of call 1 SIGKILLed: nothing runs in it, the watchdog frees
    // the address, pptpctrl ends the call.
    freed_within_bound(s, "kill1");
    let n = s.ev("kill_notified");
    assert!(n.ends_with("ip up"), "{n}");
    assert!(s
        .ev("kill_reaped")
        .starts_with(&format!("reaped {} from pid {}", addrs[0], spids[0])));
    assert_eq!(lease(&s.snap("after-kill"), &addrs[0])["state"], "free");
    let st = s.ev("client1_status");
    assert!(st != "0" && st != "running", "caller 1: {st}");
    assert!(s.ev("client1_end").contains("Modem hangup"));
    assert!(s
        .ev("ctrl1_end")
        .starts_with("PTY read or GRE write failed"));
    let mut want = vec![addrs[1].clone(), addrs[2].clone()];
    want.sort();
    assert_eq!(words(&s.ev("peers_after_kill")), want);
    // Everyone hung up: nothing leased, no pppd, no pptpctrl, no address.
    let n = s.ev("notified3");
    assert!(n.contains("ip down"), "{n}");
    all_free(s, "end");
    assert_eq!(s.ev("peers_end"), "");
    assert_eq!(s.ev("server_pppds_end"), "");
    assert_eq!(s.ev("pptpctrls_end"), "");
}

pub fn s31_pptpd_killed_and_restarted(s: &Scenario) {
    let base = [10, 9, 31, 1];
    let a: Vec<String> = (1..=3).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = a.iter().collect();
    assert_eq!(distinct.len(), 3, "an address handed out twice: {a:?}");
    for x in &a {
        assert!(in_pool(x, base, 4), "{x} is outside the pool");
    }
    let (s1, s2) = (s.ev("spid1"), s.ev("spid2"));
    let ctrls = s.ev("ctrls");
    let pptpd = s.ev("pptpd_pid");
    assert_eq!(s.ev("ctrl_parents"), format!("{pptpd} {pptpd}"));
    // pptpd SIGKILLed: each call's pptpctrl is adopted by init and keeps
    // its pppd, which keeps its lease; no lease is held by the dead.
    assert_eq!(s.ev("pptpd1_status"), "137");
    assert_eq!(
        words(&s.ev("after_kill_servers")),
        vec![s1.clone(), s2.clone()]
    );
    assert_eq!(s.ev("after_kill_ctrls"), ctrls);
    assert_eq!(s.ev("after_kill_ctrl_parents"), "1 1");
    assert_eq!(s.ev("after_kill_server_parents"), ctrls);
    assert_eq!(
        s.ev("after_kill_callers"),
        "yes yes",
        "a caller was cut off"
    );
    let k = s.snap("after-kill");
    assert_eq!(k["leased"], 2);
    assert_eq!(lease(&k, &a[0])["pid"].as_u64().unwrap().to_string(), s1);
    assert_eq!(lease(&k, &a[1])["pid"].as_u64().unwrap().to_string(), s2);
    assert_eq!(s.ev("after_kill_dead"), "", "leases held by dead processes");
    let mut two = a[..2].to_vec();
    two.sort();
    assert_eq!(words(&s.ev("after_kill_peers")), two);
    // Started again: it listens at once; a new call gets a free address.
    assert_eq!(s.ev("pptpd2_listens"), "1");
    assert_eq!(s.ev("ctrl3_parent"), s.ev("pptpd2_pid"));
    let r = s.snap("restarted");
    assert_eq!(r["leased"], 3);
    assert_eq!(
        lease(&r, &a[2])["pid"].as_u64().unwrap().to_string(),
        s.ev("spid3")
    );
    assert_eq!(s.ev("restarted_dead"), "", "leases held by dead processes");
    let mut want = a.clone();
    want.sort();
    assert_eq!(
        words(&s.ev("restarted_peers")),
        want,
        "an address on two links"
    );
    assert_eq!(s.ev("restarted_callers"), "yes yes yes");
    // The orphaned calls end as any call does.
    let rel = s.ev("released1");
    assert!(rel.starts_with(&format!("{} (ip-down", a[0])), "{rel}");
    assert!(s.ev("notified1").contains("ip down"));
    freed_within_bound(s, "kill2");
    assert_ne!(s.ev("client2_status"), "running", "caller 2 never noticed");
    let rel = s.ev("released3");
    assert!(rel.starts_with(&format!("{} (ip-down", a[2])), "{rel}");
    assert_eq!(s.ev("end_servers"), "");
    assert_eq!(s.ev("end_ctrls"), "");
    all_free(s, "end");
    assert_eq!(s.ev("end_peers"), "");
}

pub fn s32_pptpd_own_addresses_are_replaced_or_turned_off(s: &Scenario) {
    let base = [10, 9, 32, 1];
    // remoteip without delegate: `check` passes it with a note.
    let c = s.ev("check_remoteip");
    assert!(
        c.starts_with("0 ")
            && c.contains(": note: remoteip without delegate")
            && c.contains(": ok: "),
        "{c}"
    );
    // pptpd passes LOCAL:REMOTE from its lists; the plugin replaces REMOTE.
    for (n, remote) in [(1, "10.67.32.1"), (2, "10.67.32.2"), (4, "10.67.32.1")] {
        let argv = s.ev(&format!("argv{n}"));
        assert!(argv.contains(&format!(" 10.0.0.1:{remote} ")), "{argv}");
        assert!(in_pool(&s.ev(&format!("addr{n}")), base, 3));
    }
    for k in ["ifs_two", "ifs_again"] {
        let ifs = s.ev(k);
        assert!(
            !ifs.contains("10.67.32."),
            "pptpd's address on an interface: {ifs}"
        );
        assert_eq!(words(&ifs).len(), 2, "{ifs}");
    }
    // A third caller with the pool not full: pptpd's list is, and pptpd
    // resets its connection before any pptpctrl or pppd runs.
    let st = s.ev("client3_status");
    assert!(st != "0" && st != "running", "{st}");
    assert_eq!(s.ev("ctrl_for_3"), "0");
    assert!(s.ev("caller3_said").contains("Connection reset by peer"));
    assert!(s
        .ev("pptpd_said")
        .contains("Maximum of 8 connections reduced to 2, not enough IP addresses given"));
    let r = s.snap("third-refused");
    assert_eq!(
        (r["leased"].as_u64(), r["free"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(s.snap("again")["leased"], 2);
    // Neither delegate nor lists: pptpd's built-in ones; the plugin
    // replaces the remote address, the local one stays pptpd's.
    let c = s.ev("check_defaults");
    assert!(
        c.starts_with("0 ") && c.contains(": note: neither delegate nor remoteip"),
        "{c}"
    );
    let argv = s.ev("argv5");
    assert!(argv.contains(" 192.168.0.1:192.168.1.1 "), "{argv}");
    let a5 = s.ev("addr5");
    assert!(in_pool(&a5, base, 3), "{a5}");
    assert_eq!(s.ev("ifs_defaults"), format!("ppp0=192.168.0.1={a5}/32"));
    all_free(s, "end");
}

pub fn s33_pptpd_misconfigured_files_are_caught_or_refused(s: &Scenario) {
    // Options before the plugin line: `check` fails pptpd.conf for its
    // options file, pppd refuses it, the caller gets nothing.
    let c = s.ev("check_before");
    assert!(
        c.starts_with("1 ") && c.contains("rasstatic-dir comes before"),
        "{c}"
    );
    assert_eq!(s.ev("addr_before"), "none");
    assert_eq!(s.ev("peers_before"), "");
    assert_ne!(s.ev("unrecognized"), "0");
    assert_eq!(s.ev("table_before"), "");
    // No plugin, delegate: pppd's own fallback address, which the caller
    // (asking for 0.0.0.0) does not take; `check` names it.
    let c = s.ev("check_none_delegate");
    assert!(
        c.starts_with("1 ")
            && c.contains("has no rasstatic options: callers would get pppd's own default address"),
        "{c}"
    );
    assert_eq!(s.ev("addr_none_delegate"), "none");
    assert_ne!(s.ev("default_none_delegate"), "0");
    // No plugin, remoteip: pptpd's address goes out; `check` names it.
    let c = s.ev("check_none_remoteip");
    assert!(
        c.starts_with("1 ") && c.contains("callers would get pptpd's remoteip list, not the pool"),
        "{c}"
    );
    assert_eq!(s.ev("addr_none_remoteip"), "10.67.33.1");
    assert_eq!(s.ev("peers_none_remoteip").trim(), "10.67.33.1");
    assert_eq!(s.ev("loaded_none"), "0");
    // logwtmp: pptpd's own plugin is Debian 12's, for pppd 2.4.9 only.
    let c = s.ev("check_logwtmp");
    assert!(
        c.starts_with("0 ") && c.contains(": note: logwtmp makes pptpctrl load"),
        "{c}"
    );
    let load = s.ev("logwtmp_load");
    if s.ev("pppd_under_test") == "pppd version 2.4.9" {
        assert!(
            load.contains("Plugin /usr/lib/pptpd/pptpd-logwtmp.so loaded."),
            "{load}"
        );
        assert!(in_pool(&s.ev("addr_logwtmp"), [10, 9, 33, 1], 2));
    } else {
        assert!(load.contains("undefined symbol: add_options"), "{load}");
        assert_eq!(s.ev("addr_logwtmp"), "none");
        assert_eq!(s.ev("peers_logwtmp"), "");
    }
    // The right files.
    let c = s.ev("check_ok");
    assert!(
        c.starts_with("0 ")
            && c.contains(": ok: pppd options ")
            && c.contains("pool 10.9.33.1-10.9.33.2"),
        "{c}"
    );
    let a = s.ev("addr_ok");
    assert!(in_pool(&a, [10, 9, 33, 1], 2), "{a}");
    assert_eq!(s.ev("peers_ok").trim(), a);
    all_free(s, "end");
}

/// Scenarios 34 and 35 (tests/pppd/storm.sh, `pppoe_storm`): `n` callers
/// at once on a pool of exactly `n` addresses from `base`, then all of
/// them gone at once.
fn pppoe_storm(s: &Scenario, base: [u8; 4], n: usize) {
    let last = base[3] + n as u8 - 1;
    // Every caller came up, each with its own pool address.
    assert_eq!(s.ev("up"), n.to_string(), "not every caller came up");
    let addrs = words(&s.ev("addrs"));
    assert_eq!(addrs.len(), n);
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(distinct.len(), n, "an address handed out twice: {addrs:?}");
    for a in &addrs {
        assert!(in_pool(a, base, last), "{a} is outside the pool");
    }
    // On the dial-in side's interfaces: each of them once, nothing else.
    assert_eq!(words(&s.ev("peers")), addrs, "the ppp interfaces differ");
    assert_eq!(s.ev("servers"), n.to_string());
    assert_eq!(s.ev("callers"), n.to_string());
    // The table: each address leased to a live pppd.
    let up = s.snap("up");
    assert_eq!(up["leased"], n);
    let mut leased: Vec<String> = held(&up).into_iter().map(|(a, _, _)| a).collect();
    leased.sort();
    assert_eq!(leased, addrs);
    assert_eq!(s.ev("dead"), "", "leases held by dead processes");
    // All gone at once: every address back, by its own pppd (ip-down, or
    // whatever path it ended by) or by the watchdog, and no pppd left.
    assert_ne!(s.ev("back_ms"), "never", "addresses never came back");
    assert_ne!(s.ev("no_pppd_ms"), "never", "server pppds left");
    let mut back: Vec<String> = s
        .ev("released")
        .split(';')
        .filter(|r| !r.is_empty())
        .map(|r| r.split(' ').next().unwrap().to_string())
        .chain(words(&s.ev("reaped")))
        .collect();
    back.sort();
    back.dedup();
    assert_eq!(back, addrs, "addresses that never came back");
    all_free(s, "end");
    assert_eq!(s.ev("peers_end"), "");
    assert_eq!(s.ev("servers_end"), "");
}

pub fn s34_pppoe_storm_kernel_mode(s: &Scenario) {
    pppoe_storm(s, [10, 9, 34, 1], 30);
}

pub fn s35_pppoe_storm_user_mode(s: &Scenario) {
    pppoe_storm(s, [10, 9, 35, 1], 30);
}

/// Scenarios 26 and 27 (tests/pppd/l2tp.sh, `l2tp_sessions`): one xl2tpd
/// LNS, pool `base`..`base+2`, `kernel` for kernel L2TP.
///
/// How a session's server pppd ends after ip-down: on the hang-up, status
/// 16; or, in kernel mode where the kernel has already disconnected the
/// session's socket (7.2: the tunnel went first), with status 1, because
/// pppd 2.4.9's pppol2tp.so fails to set the socket up again as LCP goes
/// down (`enotconn` in l2tp.sh counts that line). The address is back
/// on ip-down either way. A user-space session has no L2TP socket.
fn l2tp_exit(s: &Scenario, enotconn: &str, kernel: bool) -> &'static str {
    match s.ev(enotconn).as_str() {
        "0" => "exit (status 16)",
        "1" if kernel => "exit (status 1)",
        n => panic!(
            "{enotconn}: {n} (kernel {}, kernel mode {kernel})",
            s.ev("kernel")
        ),
    }
}

fn l2tp_sessions(s: &Scenario, base: [u8; 4], kernel: bool) {
    let last = base[3] + 2;
    let pool = |a: &str| in_pool(a, base, last);
    let a: Vec<String> = (1..=3).map(|n| s.ev(&format!("addr{n}"))).collect();
    let distinct: HashSet<&String> = a.iter().collect();
    assert_eq!(distinct.len(), 3, "three sessions, three addresses: {a:?}");
    assert!(a.iter().all(|x| pool(x)), "outside the pool: {a:?}");
    // Each lease held by the pppd the LNS spawned for that session, and
    // that pppd is the one under test.
    let up = s.snap("three-up");
    for (n, x) in (1..=3).zip(&a) {
        let l = lease(&up, x);
        assert_eq!(l["state"], "leased");
        assert_eq!(
            l["pid"].as_u64().unwrap().to_string(),
            s.ev(&format!("spid{n}"))
        );
        assert!(l["interface"].as_str().unwrap().starts_with("ppp"), "{l}");
    }
    assert_eq!(s.ev("server_ppid"), s.ev("lns_pid"), "not the LNS's child");
    assert_eq!(
        s.ev("server_version"),
        format!("pppd {} started", s.ev("pppd_version")),
        "the LNS ran another pppd than the one under test"
    );
    assert_eq!(s.ev("lns_mode"), if kernel { "kernel" } else { "user" });
    // With `assign ip = no` xl2tpd passes no remote address.
    let argv = s.ev("server_argv");
    assert!(
        argv.contains(" passive nodetach 10.0.0.1:0.0.0.0 file "),
        "{argv}"
    );
    if kernel {
        assert!(argv.contains(" plugin pppol2tp.so pppol2tp "), "{argv}");
        assert!(argv.contains(" pppol2tp_lns_mode "), "{argv}");
    } else {
        assert!(argv.contains("/usr/sbin/pppd /dev/pts/"), "{argv}");
        assert!(!argv.contains("pppol2tp"), "{argv}");
    }
    let mut want = a.clone();
    want.sort();
    assert_eq!(words(&s.ev("peers_three")), want);
    for i in words(&s.ev("server_ifs")) {
        let (_, peer) = i.rsplit_once('=').unwrap();
        assert!(
            i.contains("=10.0.0.1=") && pool(peer.trim_end_matches("/32")),
            "a ppp interface with another address: {i}"
        );
    }

    // The fourth caller: refused by its pppd (the caller is given no
    // address), with the reason logged; the three leases stay.
    assert_eq!(
        s.ev("client4_status"),
        "Could not determine local IP address"
    );
    assert_eq!(s.ev("client4_addr"), "none");
    assert_ne!(s.ev("exhausted"), "0", "no \"pool exhausted\" line");
    assert_eq!(s.snap("refused")["leased"], 3);
    let spids: Vec<String> = (1..=3).map(|n| s.ev(&format!("spid{n}"))).collect();
    assert_eq!(words(&s.ev("servers_after_refusal")), spids);

    // Caller 2 hangs up: released on ip-down; the address comes back.
    assert_eq!(s.ev("client2_status"), "Terminating on signal 15");
    let n = s.ev("hangup_notified");
    assert!(
        n.contains("ip down") && n.ends_with("exit (status 16)"),
        "{n}"
    );
    let rel = s.ev("hangup_released");
    assert!(rel.starts_with(&format!("{} (ip-down", a[1])), "{rel}");
    let h = s.snap("after-hangup");
    assert_eq!(lease(&h, &a[1])["state"], "free");
    assert_eq!(h["leased"], 2);
    assert_eq!(
        s.ev("addr5"),
        a[1],
        "the freed address is not handed out again"
    );

    // Session 1's pppd SIGKILLed: nothing fires, the watchdog frees it; the
    // LNS closes the call and the caller's LAC ends its pppd.
    freed_within_bound(s, "kill1");
    let n = s.ev("kill_notified");
    assert!(n.ends_with("ip up"), "{n}");
    assert!(s.ev("kill_reaped").starts_with(&format!("reaped {}", a[0])));
    assert_eq!(lease(&s.snap("after-kill"), &a[0])["state"], "free");
    assert!(
        s.ev("lns_on_kill").ends_with("by signal 9"),
        "{}",
        s.ev("lns_on_kill")
    );
    assert_eq!(s.ev("client1_status"), "Terminating on signal 15");
    let mut want = vec![a[1].clone(), a[2].clone()];
    want.sort();
    assert_eq!(words(&s.ev("peers_after_kill")), want);

    // Caller 3's LAC closes its tunnel: the LNS ends the session's pppd,
    // which releases on ip-down. The caller's pppd ends by whichever
    // reaches it first: its LAC's SIGTERM, or the LNS pppd's LCP
    // Terminate-Request (both seen under load).
    let st = s.ev("client3_status");
    assert!(
        st == "Terminating on signal 15" || st == "LCP terminated by peer",
        "{st}"
    );
    let n = s.ev("lac_hangup_notified");
    assert!(
        n.contains("ip down") && n.ends_with(l2tp_exit(s, "lac_hangup_enotconn", kernel)),
        "{n}"
    );
    let rel = s.ev("lac_hangup_released");
    assert!(rel.starts_with(&format!("{} (ip-down", a[2])), "{rel}");
    let a6 = s.ev("addr6");
    assert!(pool(&a6) && a6 != a[1], "{a6}");
    let two = s.snap("two-up");
    assert_eq!(two["leased"], 2);

    // The LNS SIGKILLed and started again at once: a new caller gets an
    // address no live session holds; no lease is ever held by a dead
    // process, no address is on two links.
    assert_eq!(s.ev("lns1_status"), "137");
    assert_eq!(s.ev("lns2_mode"), s.ev("lns_mode"));
    let a7 = s.ev("addr7");
    assert!(pool(&a7), "{a7}");
    let r = s.snap("restarted");
    assert_eq!(
        lease(&r, &a7)["pid"].as_u64().unwrap().to_string(),
        s.ev("spid7")
    );
    assert_eq!(s.ev("restarted_dead"), "", "leases held by dead processes");
    let peers = words(&s.ev("restarted_peers"));
    let distinct: HashSet<&String> = peers.iter().collect();
    assert_eq!(
        distinct.len(),
        peers.len(),
        "an address on two links: {peers:?}"
    );
    assert!(peers.contains(&a7));
    // Sessions 5 and 6. In user-space mode their ptys are hung up at once,
    // and each caller's pppd ends on its LCP echo failure. In kernel mode
    // the session's path through the dead LNS's tunnel breaks in one
    // direction or both (which varies by kernel and run: on 6.1 a server
    // pppd's Terminate-Request has reached its caller; in CI a caller's
    // reached its server pppd): each end's pppd ends on its own LCP echo
    // failure, or on the other's Terminate-Request when that got through;
    // at least one of them on its echo failure.
    // Its exit status is as `l2tp_exit` says. The address goes back on
    // ip-down. The restarted LNS ends none of them, and their LACs do not
    // call again.
    const ECHO: &str = "No response to 3 echo-requests";
    const TERM: &str = "LCP terminated by peer";
    for (n, x) in [(5, &a[1]), (6, &a6)] {
        let end = s.ev(&format!("old_end{n}"));
        let client = s.ev(&format!("old_client{n}"));
        if kernel {
            assert!(
                [ECHO, TERM].contains(&end.as_str()) && [ECHO, TERM].contains(&client.as_str()),
                "session {n}: server {end:?}, caller {client:?}"
            );
            assert!(
                end == ECHO || client == ECHO,
                "session {n}: neither end saw its echoes fail"
            );
        } else {
            assert_eq!(end, "Hangup (SIGHUP)", "session {n}");
            assert_eq!(client, ECHO, "session {n}");
        }
        let n_ = s.ev(&format!("old_notified{n}"));
        assert!(
            n_.ends_with(l2tp_exit(s, &format!("old_enotconn{n}"), kernel)),
            "session {n} (kernel {}): {n_}",
            s.ev("kernel")
        );
        assert!(n_.contains("ip down"), "session {n}: {n_}");
        let rel = s.ev(&format!("old_released{n}"));
        assert!(rel.starts_with(&format!("{x} (ip-down")), "{rel}");
    }
    if kernel {
        // They were still up when the new LNS started.
        let r = words(&s.ev("restart_servers"));
        assert!(
            r.contains(&s.ev("spid5")) && r.contains(&s.ev("spid6")),
            "{r:?}"
        );
    }
    assert_eq!(s.ev("lns2_terminating"), "0");
    assert_eq!(s.ev("old_lac_calls"), "1 1");
    let g = s.snap("old-gone");
    assert_eq!(g["leased"], 1);
    assert_eq!(words(&s.ev("old_gone_servers")), vec![s.ev("spid7")]);
    assert_eq!(s.ev("old_gone_dead"), "");
    assert_eq!(s.ev("old_gone_peers"), a7);

    // The last caller hangs up: nothing leased, no pppd, no ppp address.
    assert_eq!(s.ev("client7_status"), "Terminating on signal 15");
    all_free(s, "end");
    assert_eq!(s.ev("peers_end"), "");
    assert_eq!(s.ev("server_pppds_end"), "");
}

pub fn s26_xl2tpd_kernel_mode_sessions_and_lns_killed(s: &Scenario) {
    l2tp_sessions(s, [10, 9, 26, 1], true);
}

pub fn s27_xl2tpd_user_mode_sessions_and_lns_killed(s: &Scenario) {
    l2tp_sessions(s, [10, 9, 27, 1], false);
}

pub fn s28_xl2tpd_own_address_assignment_next_to_the_pool(s: &Scenario) {
    let pool = |a: &str| in_pool(a, [10, 9, 28, 1], 3);
    // `ip range` with `assign ip` yes: `rasstatic check` fails the file;
    // pppd is given xl2tpd's address and takes the pool's instead; a second
    // caller is refused by xl2tpd itself, with two pool addresses free.
    let c = s.ev("check_range");
    assert!(
        c.starts_with("1 ") && c.contains("Out of IP addresses"),
        "{c}"
    );
    let a = s.ev("addr_range");
    assert!(pool(&a), "{a}");
    assert_eq!(s.ev("pair_range"), "10.0.0.1:10.67.15.1");
    assert_eq!(s.ev("peers_range"), a);
    assert_eq!(s.ev("addr_range2"), "none");
    assert_eq!(s.ev("range_servers"), "1", "xl2tpd started a pppd for it");
    assert_ne!(s.ev("range_refused"), "0", "no \"Out of IP addresses\"");
    let r = s.snap("range");
    assert_eq!(
        (r["leased"].as_u64(), r["free"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    // Neither `ip range` nor `assign ip = no`: every call refused.
    let c = s.ev("check_default");
    assert!(
        c.starts_with("1 ") && c.contains("xl2tpd refuses every call"),
        "{c}"
    );
    assert_eq!(s.ev("addr_default"), "none");
    assert_ne!(s.ev("default_refused"), "0");
    assert_eq!(s.ev("default_servers"), "0");
    // The recommended section.
    let c = s.ev("check_ok");
    assert!(
        c.starts_with("0 ")
            && c.contains(": ok: [lns default]: ")
            && c.contains("pool 10.9.28.1-10.9.28.3"),
        "{c}"
    );
    let a = s.ev("addr_ok");
    assert!(pool(&a), "{a}");
    assert_eq!(s.ev("pair_ok"), "10.0.0.1:0.0.0.0");
    all_free(s, "end");
}

pub fn s29_xl2tpd_misconfigured_options_are_caught_or_refused(s: &Scenario) {
    // Options before the plugin line: `rasstatic check` follows pppoptfile
    // and fails it; pppd refuses the file; no address, no table.
    let c = s.ev("check_before");
    assert!(c.starts_with("1 ") && c.contains("comes before"), "{c}");
    assert_eq!(s.ev("addr_before"), "none");
    assert_eq!(s.ev("peers_before"), "");
    assert_ne!(s.ev("unrecognized"), "0");
    assert_eq!(s.ev("table_before"), "");
    // No plugin: pppd has no address for the caller and accepts the one it
    // asks for, a pool address outside the table; `check` fails the file.
    let c = s.ev("check_none");
    assert!(
        c.starts_with("1 ") && c.contains("has no rasstatic options"),
        "{c}"
    );
    assert_eq!(s.ev("addr_none"), "10.9.29.2");
    assert_eq!(s.ev("pair_none"), "10.0.0.1:0.0.0.0");
    // No plugin and xl2tpd's `ip range`: pppd hands out xl2tpd's address.
    let c = s.ev("check_none_range");
    assert!(
        c.starts_with("1 ")
            && c.contains("has no rasstatic options")
            && c.contains("FAILED: 2 problem(s)"),
        "{c}"
    );
    assert_eq!(s.ev("addr_none_range"), "10.67.15.1");
    assert_eq!(s.ev("peers_none_range"), "10.67.15.1");
    assert_eq!(s.ev("loaded_none"), "0");
    // The working file.
    let c = s.ev("check_ok");
    assert!(
        c.starts_with("0 ") && c.contains(": ok: [lns default]: "),
        "{c}"
    );
    assert_eq!(s.ev("addr_ok"), "10.9.29.1");
    assert_eq!(s.ev("peers_ok"), "10.9.29.1");
    all_free(s, "end");
}

pub fn s36_cluster_a_server_cut_off_from_etcd_refuses_callers_and_hangs_up_at_its_deadline(
    s: &Scenario,
) {
    assert_eq!(s.ev("etcd_health"), "0", "etcd did not start");
    assert_eq!(s.ev("agent_joined"), "0", "{}", s.read("agent.1.out"));
    let a1 = s.ev("addr1");
    assert!(in_pool(&a1, [10, 9, 36, 0], 31), "{a1}");
    assert_eq!(lease(&s.snap("up"), &a1)["state"], "leased");
    // `rasstatic stats` tells the agent's state and the blocks it holds;
    // the caller's address is in one of them.
    let stats = s.read("stats.up");
    assert!(stats.contains("cluster   claim deadline in "), "{stats}");
    assert!(stats.contains("agent     server bras-1 (pid "), "{stats}");
    assert!(stats.contains("), joined, token "), "{stats}");
    let up = s.snap("up");
    let blocks = up["cluster"]["agent"]["blocks"].as_array().expect("blocks");
    let a: std::net::Ipv4Addr = a1.parse().unwrap();
    assert!(
        blocks.iter().any(|b| {
            let f: std::net::Ipv4Addr = b["first"].as_str().unwrap().parse().unwrap();
            let l: std::net::Ipv4Addr = b["last"].as_str().unwrap().parse().unwrap();
            f <= a && a <= l
        }),
        "{a1} is in no block held: {blocks:?}"
    );
    assert!(
        up["sealed"].as_u64().unwrap() > 0,
        "the blocks not held are sealed"
    );
    // Cut off: a new caller is refused once the claim deadline passed,
    // cleanly and with the reason in its pppd's log.
    let log2 = s.server_log(2);
    assert!(
        log2.contains("rasstatic: cluster: refusing peer on ppp")
            && log2.contains(
                "this server is fenced: no renewal of its etcd registration verified in time"
            ),
        "{log2}"
    );
    assert!(!s.events().contains_key("client2_got_address"));
    let code = s.ev("server2_exit");
    assert!(code == "10" || code == "16", "server 2 exit status {code}");
    // The session that was up: hung up by its own pppd (SIGTERM: exit 5),
    // not before the hang deadline the table held, and down before a
    // reclaim elsewhere could succeed (hang deadline + hang margin).
    let log1 = s.server_log(1);
    assert!(
        log1.contains(&format!("rasstatic: cluster: hanging up {a1}")),
        "{log1}"
    );
    assert_eq!(s.ev("server1_exit"), "5", "pppd hung up on its own SIGTERM");
    released(s, 1, &a1, "ip-down, after signal SIGTERM");
    let deadline: i64 = s.ev("hang_deadline_from_t1_ms").parse().unwrap();
    let ended: i64 = s.ev("server1_ended_from_t1_ms").parse().unwrap();
    let margin: i64 = s.ev("hang_margin_ms").parse().unwrap();
    assert!(
        deadline > 0,
        "the hang deadline had passed 1.5 s after the cut"
    );
    assert!(
        ended >= deadline,
        "hung up {ended} ms after T1, before the hang deadline at {deadline} ms"
    );
    assert!(
        ended < deadline + margin,
        "hung up {ended} ms after T1, not before a reclaim could succeed ({} ms)",
        deadline + margin
    );
    let fenced = s.snap("fenced");
    assert_eq!(held(&fenced), vec![], "nothing leased while fenced");
    assert_eq!(fenced["cluster"]["fenced"], true);
    let stats = s.read("stats.fenced");
    assert!(
        stats.contains("), etcd unreachable, token "),
        "the agent reports etcd unreachable:\n{stats}"
    );
    let prom = s.read("stats.fenced.prom");
    let refused = prom
        .lines()
        .find(|l| l.starts_with("rasstatic_cluster_fenced_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no fenced counter:\n{prom}"));
    assert!(refused >= 1, "the refusal is counted as fenced:\n{prom}");
    // etcd back: claims resume and a caller gets an address.
    let a3 = s.ev("addr3");
    assert!(in_pool(&a3, [10, 9, 36, 0], 31), "{a3}");
    assert_eq!(lease(&s.snap("rejoined"), &a3)["state"], "leased");
    assert_eq!(s.ev("server3_exit"), "16");
    all_free(s, "end");
}

/// Scenario 37: two servers of one cluster share a pool of 9 addresses in
/// blocks of 8 (block 0 is .1-.8, block 1 is .9 alone), each with its own
/// table, agent and real pppds; then the whole of server B dies.
pub fn s37_cluster_two_servers_share_a_pool_and_a_dead_servers_block_comes_back(s: &Scenario) {
    let in_block0 = |a: &str| in_pool(a, [10, 9, 37, 1], 8);
    assert_eq!(s.ev("etcd_health"), "0", "etcd did not start");
    assert_eq!(s.ev("agent2_joined"), "0", "{}", s.read("agent.2.out"));
    assert_eq!(s.ev("agent1_joined"), "0", "{}", s.read("agent.1.out"));
    // B joined first and took block 0; A took block 1, the only one left.
    assert_eq!(s.ev("blocks_b"), "10.9.37.1-10.9.37.8");
    assert_eq!(s.ev("blocks_a"), "10.9.37.9-10.9.37.9");
    // Each caller's address is in its own server's block, leased in that
    // server's table only; no address is on two links.
    let a1 = s.ev("addr1");
    assert!(in_block0(&a1), "B's caller: {a1}");
    assert_eq!(s.ev("addr2"), "10.9.37.9", "A's caller");
    let (a_up, b_up) = (s.snap("a-up"), s.snap("b-up"));
    assert_eq!(lease(&b_up, &a1)["state"], "leased");
    assert_eq!(lease(&a_up, "10.9.37.9")["state"], "leased");
    assert_eq!(
        lease(&a_up, &a1)["state"],
        "sealed",
        "B's block in A's table"
    );
    assert_eq!(
        lease(&b_up, "10.9.37.9")["state"],
        "sealed",
        "A's block in B's table"
    );
    assert_eq!(a_up["leased"], 1);
    assert_eq!(b_up["leased"], 1);
    let mut up = words(&s.ev("peers_up"));
    up.sort();
    let mut want = vec![a1.clone(), "10.9.37.9".to_string()];
    want.sort();
    assert_eq!(up, want, "the dial-in side's ppp links");
    // A's second caller: nothing free in A's block and no free block in
    // etcd. pppd refuses it, saying why; nothing is handed out.
    let log3 = s.server_log(3);
    assert!(
        log3.contains("rasstatic: cluster: no free address in the blocks this server holds (1 of the pool's 9 leased here); refusing peer on ppp")
            && log3.contains("rasstatic-agent, asked for another block, took none in 1000 ms"),
        "{log3}"
    );
    assert!(!s.events().contains_key("client3_got_address"));
    let code = s.ev("server3_exit");
    assert!(code == "10" || code == "16", "server 3 exit status {code}");
    // B dies whole. Its block reaches A no sooner than B's lease could
    // have ended (its last verified renewal, sent `b_renewed_ms_ago`
    // before T0, plus the TTL) plus the grace period, and soon after. (A's
    // steps make it about 2 s late at best, so a grace period cut short
    // by less than that would pass unseen; the ledger tests pin it.)
    assert_ne!(s.ev("b_watchdog_was"), "none", "B's watchdog was running");
    let ms = |k: &str| -> i64 {
        s.ev(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k}: {}", s.ev(k)))
    };
    let back = ms("block0_to_a_from_t0_ms");
    let bound = ms("ttl_grace_ms") - ms("b_renewed_ms_ago");
    assert!(
        back >= bound,
        "block 0 reached A {back} ms after T0, before B's lease TTL plus grace ({bound} ms)"
    );
    // Late by A's steps: B seen gone at one (up to 1 s after its lease
    // ended, which etcd notices within 0.5 s), the grace period's end at
    // another (up to 1 s late), the block taken at the next; then the
    // state file and this poll: 8 s is ample on a loaded 2-core guest.
    assert!(
        back < bound + 8000,
        "block 0 reached A only {back} ms after T0"
    );
    let agent_a = s.read("agent.1.out");
    assert!(
        agent_a.contains("rasstatic-agent: freed block 0 of a server that is gone")
            && agent_a.contains("rasstatic-agent: took block 0"),
        "{agent_a}"
    );
    assert!(ms("b_killed_from_t0_ms") < bound, "B was killed late");
    assert_eq!(
        s.ev("blocks_a_after"),
        "10.9.37.1-10.9.37.8 10.9.37.9-10.9.37.9"
    );
    // A new caller on A gets an address of the dead server's block.
    let a4 = s.ev("addr4");
    assert!(in_block0(&a4), "{a4}");
    let after = s.snap("a-after");
    assert_eq!(lease(&after, &a4)["state"], "leased");
    assert_eq!(after["leased"], 2);
    let mut now = words(&s.ev("peers_after"));
    now.sort();
    let mut want = vec![a4.clone(), "10.9.37.9".to_string()];
    want.sort();
    assert_eq!(now, want, "B's link went with its pppd");
    // Both of A's callers hang up: A's table is empty.
    assert_eq!(s.ev("server2_exit"), "16");
    assert_eq!(s.ev("server4_exit"), "16");
    all_free(s, "end");
    assert_eq!(s.ev("peers_end"), "");
}
