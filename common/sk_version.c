/* sk_version.c - library version string (the one source file of libshrink
 * itself; everything else comes from the module archives). */
const char *sk_version(void);
const char *sk_version(void) { return "0.1.0"; }
