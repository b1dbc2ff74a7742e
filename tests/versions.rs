//! One source tree, two pppd generations: the API generation build.rs
//! detects matches the headers, and each built plugin loads into the pppd
//! it was built for, reporting that version, and into no other.

mod common;

use std::process::Command;

use common::Target;

#[test]
fn detected_version_matches_the_installed_headers() {
    let h = std::fs::read_to_string("/usr/include/pppd/patchlevel.h")
        .expect("Debian 12's ppp-dev headers (apt-get install ppp-dev)");
    let want = format!("#define VERSION\t\t\"{}\"", env!("RASSTATIC_PPPD_VERSION"));
    assert!(
        h.contains(&want),
        "build.rs read {} from other headers",
        env!("RASSTATIC_PPPD_VERSION")
    );
    assert!(env!("RASSTATIC_PPPD_VERSION").starts_with("2.4."));
}

/// Load `plugin` into `pppd` on the host: option parsing loads plugins
/// before pppd looks for kernel PPP, so this needs no /dev/ppp.
fn load(pppd: &std::path::Path, plugin: &std::path::Path) -> (Option<i32>, String) {
    let o = Command::new(pppd)
        .arg("plugin")
        .arg(plugin)
        .args(["nodetach", "noauth", "/dev/null"])
        .output()
        .expect("run pppd");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code(), text)
}

#[test]
fn each_plugin_loads_into_its_own_pppd_only() {
    let old = Target::debian12();
    let new = Target::debian13();
    let (so_old, _) = common::artifacts(&old).unwrap_or_else(|e| panic!("{e}"));
    let (so_new, _) = common::artifacts(&new).unwrap_or_else(|e| panic!("{e}"));
    for (t, so) in [(&old, &so_old), (&new, &so_new)] {
        let v = Command::new(&t.pppd)
            .arg("--version")
            .output()
            .expect("pppd --version");
        let v =
            String::from_utf8_lossy(&v.stdout).into_owned() + &String::from_utf8_lossy(&v.stderr);
        assert!(v.contains(&format!("pppd version {}", t.version)), "{v}");
        let (_, text) = load(&t.pppd, so);
        assert!(
            text.contains(&format!("rasstatic: loaded (pppd {})", t.version)),
            "{} did not load {}: {text}",
            t.pppd.display(),
            so.display()
        );
    }
    // Crossed: pppd refuses at option parsing (status 2), naming a symbol
    // the other generation does not have.
    let (code, text) = load(&old.pppd, &so_new);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("undefined symbol: ppp_"), "{text}");
    let (code, text) = load(&new.pppd, &so_old);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("undefined symbol"), "{text}");
}
