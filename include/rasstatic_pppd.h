/*
 * The one header bindgen reads: pppd's plugin API, for whichever pppd the
 * build points at (PPPD_INCLUDE_DIR, default /usr/include/pppd).
 * build.rs defines RASSTATIC_PPPD_25 when the headers are pppd 2.5.x.
 */
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <net/if.h>

#ifdef RASSTATIC_PPPD_25
#include <pppd/pppdconf.h>
#include <pppd/pppd.h>
#include <pppd/options.h>
#include <pppd/fsm.h>
#include <pppd/ipcp.h>
#else
#include <pppd/pppd.h>
#include <pppd/fsm.h>
#include <pppd/ipcp.h>
#include <pppd/patchlevel.h>
#endif
