//! The pppd side of the host: pppd's globals and functions, compiled
//! against the installed pppd headers (the ones the plugin was built
//! with), and exported so that the plugin binds to them when loaded.
fn main() {
    let inc = std::env::var("PPPD_INCLUDE_DIR").unwrap_or_else(|_| "/usr/include".into());
    println!("cargo:rerun-if-changed=src/pppd_host.c");
    println!("cargo:rerun-if-env-changed=PPPD_INCLUDE_DIR");
    cc::Build::new()
        .file("src/pppd_host.c")
        .include(inc)
        .warnings(true)
        .compile("pppd_host");
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-lib=dl");
}
