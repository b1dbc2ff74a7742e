/*
 * pppd's side of the plugin ABI, for the soak: the globals and functions
 * the plugin links against (pppd 2.4 names and types, from pppd's own
 * headers), with notifier chains and a callout list like pppd's. One
 * "pppd" per process, on one thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pppd/pppd.h>
#include <pppd/fsm.h>
#include <pppd/ipcp.h>

char ifname[MAXIFNAMELEN];
char devnam[MAXPATHLEN];
char peer_authname[MAXNAMELEN];
char remote_name[MAXNAMELEN];
ipcp_options ipcp_wantoptions[NUM_PPP];

struct notifier *pidchange, *phasechange, *exitnotify, *sigreceived;
struct notifier *ip_up_notifier, *ip_down_notifier, *link_down_notifier;
struct notifier *fork_notifier;

void (*ip_choose_hook)(u_int32_t *);
int (*allowed_address_hook)(u_int32_t);

/* Messages at warn level and above, counted for the soak's report. */
unsigned long host_warnings;

void add_notifier(struct notifier **chain, notify_func func, void *arg)
{
    struct notifier *n = malloc(sizeof *n);
    if (n == NULL)
        abort();
    n->next = *chain;
    n->func = func;
    n->arg = arg;
    *chain = n;
}

void notify(struct notifier *n, int val)
{
    while (n != NULL) {
        struct notifier *next = n->next;
        n->func(n->arg, val);
        n = next;
    }
}

#define MAX_OPTION_TABLES 8
static option_t *tables[MAX_OPTION_TABLES];

void add_options(option_t *opt)
{
    for (int i = 0; i < MAX_OPTION_TABLES; i++)
        if (tables[i] == NULL) {
            tables[i] = opt;
            return;
        }
    abort();
}

/* Run option NAME with VALUE (NULL for one without a value) as pppd's
 * options parser would: 1 on success, 0 if refused, -1 if unknown. */
int host_option(const char *name, const char *value)
{
    for (int i = 0; i < MAX_OPTION_TABLES && tables[i] != NULL; i++)
        for (option_t *o = tables[i]; o->name != NULL; o++)
            if (strcmp(o->name, name) == 0) {
                char *argv[2] = { (char *)value, NULL };
                int (*parser)(char **) = (int (*)(char **))o->addr;
                return parser(argv);
            }
    return -1;
}

/* Callouts, run by host_run_callouts() (pppd runs due ones from its main
 * loop; the host runs all, as if their time had come). */
#define MAX_CALLOUTS 16
static struct {
    void (*func)(void *);
    void *arg;
} callouts[MAX_CALLOUTS];

void timeout(void (*func)(void *), void *arg, int secs, int usecs)
{
    (void)secs;
    (void)usecs;
    for (int i = 0; i < MAX_CALLOUTS; i++)
        if (callouts[i].func == NULL) {
            callouts[i].func = func;
            callouts[i].arg = arg;
            return;
        }
    abort();
}

void untimeout(void (*func)(void *), void *arg)
{
    for (int i = 0; i < MAX_CALLOUTS; i++)
        if (callouts[i].func == func && callouts[i].arg == arg)
            callouts[i].func = NULL;
}

int host_run_callouts(void)
{
    int ran = 0;
    for (int i = 0; i < MAX_CALLOUTS; i++)
        if (callouts[i].func != NULL) {
            void (*f)(void *) = callouts[i].func;
            callouts[i].func = NULL;
            f(callouts[i].arg);
            ran++;
        }
    return ran;
}

static void say(const char *level, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "soak holder %d: %s: %s\n", (int)getpid(), level, buf);
}

void dbglog(char *fmt, ...) { (void)fmt; }
void info(char *fmt, ...) { (void)fmt; }
void notice(char *fmt, ...) { (void)fmt; }

void warn(char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_warnings++;
    say("warning", fmt, ap);
    va_end(ap);
}

/* Errors are printed, but for the refusals a full pool is meant to bring
 * ("pool exhausted"), which are only counted. */
unsigned long host_refusal_messages;

void error(char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (strstr(buf, "pool exhausted") != NULL) {
        host_refusal_messages++;
        return;
    }
    host_warnings++;
    fprintf(stderr, "soak holder %d: error: %s\n", (int)getpid(), buf);
}

void option_error(char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("option error", fmt, ap);
    va_end(ap);
}

void fatal(char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("fatal", fmt, ap);
    va_end(ap);
    notify(exitnotify, 1);
    _exit(1);
}

/* One call, as pppd goes through it; addresses in network byte order. */

void host_phase(int phase)
{
    notify(phasechange, phase);
}

void host_establish(void)
{
    host_phase(PHASE_ESTABLISH);
}

u_int32_t host_choose(void)
{
    ipcp_wantoptions[0].hisaddr = 0;
    if (ip_choose_hook != NULL)
        ip_choose_hook(&ipcp_wantoptions[0].hisaddr);
    return ipcp_wantoptions[0].hisaddr;
}

int host_allowed(u_int32_t addr)
{
    return allowed_address_hook != NULL && allowed_address_hook(addr);
}

void host_ip_up(void)
{
    host_phase(PHASE_NETWORK);
    host_phase(PHASE_RUNNING);
    notify(ip_up_notifier, 0);
}

void host_hang_up(int ip_was_up)
{
    if (ip_was_up) {
        notify(ip_down_notifier, 0);
        host_run_callouts();
    }
    host_phase(PHASE_TERMINATE);
    notify(link_down_notifier, 0);
    host_run_callouts();
    host_phase(PHASE_DISCONNECT);
    host_phase(PHASE_DEAD);
    host_run_callouts();
}
