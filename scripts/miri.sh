#!/bin/sh
# The library's unit tests under Miri (nightly; rustup component add miri
# rust-src --toolchain nightly), for undefined behaviour in the pure code:
# the pool grammar, the slot word and the protocol, the options, the
# option-file reader, rasstatic check's parsing, the escaping, the display
# records, the netlink message readers.
#
# Not run here:
# - plugin::session: its tests open lease tables (files mapped with mmap,
#   flock), which Miri cannot do;
# - owner's tests that read /proc or fork (marked #[cfg_attr(miri, ignore)]);
# - five tests that build pools or tables of up to 2^24 addresses or 65,536
#   ranges: minutes to hours under the interpreter. The same code runs
#   under Miri in the other tests with small inputs.
set -eu
cd "$(dirname "$0")/.."
exec cargo +nightly miri test --lib -- \
    --skip plugin::session \
    --skip a_pool_the_table_cannot_hold_is_a_configuration_error \
    --skip pools_the_table_cannot_hold_are_refused_when_parsed \
    --skip largest_pool_is_accepted \
    --skip subtract_matches_a_bitmap \
    --skip a_full_pool_sweep_is_bounded_and_resumes \
    "$@"
