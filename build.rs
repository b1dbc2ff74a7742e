//! Reads pppd's version from the headers the build points at and generates
//! bindings for exactly the symbols the plugin uses.
//!
//! - `PPPD_INCLUDE_DIR`: the directory holding pppd.h (default
//!   /usr/include/pppd).
//! - emits `cfg(pppd_api = "2.4")` or `cfg(pppd_api = "2.5")`, and the
//!   version string as env `RASSTATIC_PPPD_VERSION`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// The quoted value of `#define NAME "value"` in `text`, if present.
fn define(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        if w.next()? != "#define" || w.next()? != name {
            return None;
        }
        let rest = w.collect::<Vec<_>>().join(" ");
        let v = rest.strip_prefix('"')?.split('"').next()?;
        Some(v.to_string())
    })
}

fn main() {
    println!("cargo:rerun-if-env-changed=PPPD_INCLUDE_DIR");
    println!("cargo:rerun-if-changed=include/rasstatic_pppd.h");
    let dir =
        PathBuf::from(env::var("PPPD_INCLUDE_DIR").unwrap_or_else(|_| "/usr/include/pppd".into()));
    let read = |f: &str| fs::read_to_string(dir.join(f)).ok();
    println!("cargo:rerun-if-changed={}", dir.display());

    // 2.5.x has pppdconf.h with PPPD_VERSION; 2.4.x has patchlevel.h with VERSION.
    let (api, version) = if let Some(v) =
        read("pppdconf.h").and_then(|t| define(&t, "PPPD_VERSION"))
    {
        ("2.5", v)
    } else if let Some(v) = read("patchlevel.h").and_then(|t| define(&t, "VERSION")) {
        ("2.4", v)
    } else {
        panic!(
            "no pppd headers in {}: install Debian's ppp-dev, or set PPPD_INCLUDE_DIR to the directory holding pppd.h",
            dir.display()
        );
    };
    if !version.starts_with(api) {
        panic!(
            "{}: version {version} does not match the {api} API these headers look like",
            dir.display()
        );
    }
    println!("cargo:rustc-cfg=pppd_api=\"{api}\"");
    println!("cargo:rustc-env=RASSTATIC_PPPD_VERSION={version}");
    println!("cargo:rustc-env=RASSTATIC_PPPD_INCLUDE={}", dir.display());

    // <pppd/pppd.h> resolves against the directory above PPPD_INCLUDE_DIR;
    // 2.4's own quoted includes resolve against PPPD_INCLUDE_DIR itself.
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let mut b = bindgen::Builder::default()
        .header("include/rasstatic_pppd.h")
        .clang_arg(format!("-I{}", parent.display()))
        .clang_arg(format!("-I{}", dir.display()))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .use_core()
        .layout_tests(false)
        .derive_default(false)
        .allowlist_type("option_t")
        .allowlist_type("opt_type")
        .allowlist_var("ipcp_wantoptions")
        .allowlist_var("ip_choose_hook")
        .allowlist_var("allowed_address_hook")
        .allowlist_var("OPT_PRIV")
        .allowlist_var("OPT_NOARG")
        .allowlist_var("PHASE_DEAD")
        .allowlist_var("PHASE_INITIALIZE")
        .allowlist_function("info")
        .allowlist_function("warn")
        .allowlist_function("error")
        .allowlist_function("dbglog")
        .allowlist_function("fatal")
        .rustified_enum("opt_type");
    if api == "2.5" {
        b = b
            .clang_arg("-DRASSTATIC_PPPD_25")
            .allowlist_var("PPPD_VERSION")
            .allowlist_type("ppp_notify_t")
            .rustified_enum("ppp_notify_t")
            .allowlist_type("ppp_phase_t")
            .constified_enum_module("ppp_phase")
            .allowlist_function("ppp_add_notify")
            .allowlist_function("ppp_add_options")
            .allowlist_function("ppp_option_error")
            .allowlist_function("ppp_timeout")
            .allowlist_function("ppp_untimeout")
            .allowlist_function("ppp_ifname")
            .allowlist_function("ppp_devnam")
            .allowlist_function("ppp_peer_authname")
            .allowlist_function("ppp_remote_name");
    } else {
        b = b
            .allowlist_var("VERSION")
            .allowlist_function("add_notifier")
            .allowlist_function("add_options")
            .allowlist_function("option_error")
            .allowlist_function("timeout")
            .allowlist_function("untimeout")
            .allowlist_var("pidchange")
            .allowlist_var("phasechange")
            .allowlist_var("exitnotify")
            .allowlist_var("sigreceived")
            .allowlist_var("ip_up_notifier")
            .allowlist_var("ip_down_notifier")
            .allowlist_var("link_down_notifier")
            .allowlist_var("fork_notifier")
            .allowlist_var("ifname")
            .allowlist_var("devnam")
            .allowlist_var("peer_authname")
            .allowlist_var("remote_name");
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("pppd_bindings.rs");
    b.generate()
        .unwrap_or_else(|e| panic!("bindgen over {} failed: {e}", dir.display()))
        .write_to_file(&out)
        .expect("write bindings");
}
