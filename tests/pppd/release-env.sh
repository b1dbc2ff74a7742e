# Sourced by tests/pppd/run-demo.sh and bench/connect/run.sh, with ROOT
# set to the checkout. release_env RUN DEMO: a fresh run directory RUN
# whose env file has the guest run DEMO with the release build and
# Debian's pppd (more lines may be appended to RUN/env).
release_env() {
    rm -rf "$1"
    mkdir -p "$1"
    cat > "$1/env" <<E
PLUGIN=$ROOT/target/release/librasstatic.so
RASSTATIC=$ROOT/target/release/rasstatic
PPPD=/usr/sbin/pppd
LIB=$ROOT/tests/pppd/lib.sh
DEMO=$2
SCENARIOS=""
export PLUGIN RASSTATIC PPPD LIB
E
}
