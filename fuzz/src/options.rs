//! The option parsers, through the function pppd's option hooks call
//! (`Config::apply`, once per option, in order) and what the plugin does
//! once the options are in (`resolve`, `check_local`). Input: one option a
//! line, its name, then a space and its value (none without a space), each
//! decoded as the plugin decodes pppd's C strings.

use std::net::Ipv4Addr;

use rasstatic::config::{Config, OPTIONS};
use rasstatic::pool::Pool;

pub fn run(data: &[u8]) {
    let mut cfg = Config::default();
    for line in data.split(|&b| b == b'\n') {
        let (name, value) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], Some(super::c_string(&line[i + 1..]))),
            None => (line, None),
        };
        let name = super::c_string(name);
        let before = cfg.clone();
        let r = cfg.apply(&name, value.as_deref());
        if !OPTIONS.iter().any(|(o, _, _)| *o == name) {
            assert!(r.is_err(), "{name} taken as an option");
        }
        if let Err(e) = r {
            // A refused option changes nothing, and its message names it.
            assert_eq!(cfg, before, "refused {name} changed the configuration");
            assert!(e.to_string().starts_with(&name));
        }
    }
    let resolved = cfg.resolve();
    match &cfg.pool {
        None => assert!(resolved.is_err()),
        Some(spec) => {
            // Option by option gives what the whole definition gives.
            let whole = Pool::parse(spec, &cfg.exclude);
            assert_eq!(
                resolved.as_ref().ok(),
                whole.as_ref().ok(),
                "{}",
                cfg.spec()
            );
        }
    }
    if let Ok(p) = resolved {
        super::pool::check_pool(&p);
        for local in [p.addr(0), Ipv4Addr::new(10, 0, 0, 1)] {
            let r = Config::check_local(&p, local);
            assert_eq!(r.is_err(), p.size() == 1 && p.contains(local));
        }
    }
}
