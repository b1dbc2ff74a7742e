//! The plugin stays lean whatever the cluster mode brings: the etcd client
//! and its stack (tonic, prost, tokio, hyper) live in `cluster/`, and the
//! cdylib pppd loads links none of them, nor any shared library beyond
//! the C library's.

mod common;

use std::process::Command;

use common::Target;

fn tool(cmd: &str, args: &[&str], so: &std::path::Path) -> String {
    let o = Command::new(cmd)
        .args(args)
        .arg(so)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (binutils): {e}"));
    assert!(o.status.success(), "{cmd} {args:?} failed: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_plugin_links_no_etcd_client_and_no_async_runtime() {
    let (so, _) = common::artifacts(&Target::debian12()).unwrap_or_else(|e| panic!("{e}"));
    // Every symbol, debug ones included (mangled Rust paths name their
    // crate): the crates the plugin is made of are there, the cluster
    // agent's are not.
    let syms = tool("nm", &["-a"], &so);
    for present in ["rasstatic", "ipnet"] {
        assert!(
            syms.contains(present),
            "nm shows no {present} symbol: the check below would prove nothing"
        );
    }
    for absent in ["etcd_client", "tokio", "tonic", "prost", "hyper", "h2"] {
        let hits: Vec<&str> = syms
            .lines()
            .filter(|l| {
                l.contains(&format!("{}{absent}", absent.len()))
                    || l.contains(&format!("{absent}::"))
            })
            .take(3)
            .collect();
        assert!(hits.is_empty(), "the plugin links {absent}: {hits:?}");
    }
    // The libraries it needs at load time: the C library's only.
    let dynamic = tool("readelf", &["-d"], &so);
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(
        !needed.is_empty(),
        "readelf found no NEEDED entries: {dynamic}"
    );
    for lib in &needed {
        assert!(
            [
                "libc.so.6",
                "libgcc_s.so.1",
                "libm.so.6",
                "ld-linux-x86-64.so.2"
            ]
            .contains(lib),
            "the plugin needs {lib}: {needed:?}"
        );
    }
}
