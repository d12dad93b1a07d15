/* sk_main.c - main() of the `shrink` executable: MPI up, run the CLI,
 * report a failure (aborting the whole MPI job when there are peers, so no
 * rank hangs in a collective), MPI down. The only place that exits. */
#include "sk_cli.h"
#include "sk_mpi.h"
#include "sk_error.h"
#include "sk_shim.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (sk_mpi_init(&argc, &argv) < 0) {
        fprintf(stderr, "shrink: %s\n", sk_error_last());
        return SK_CLI_EXIT_RUNTIME;
    }
    /* Keep large freed host buffers in the heap: a training step frees and
     * re-allocates the same activations every step (see sk_shim.h). */
    sk_shim_tune_host_allocator((size_t)32 << 20);
    int code = sk_cli_main(argc, argv);
    if (code != SK_CLI_EXIT_OK) {
        fflush(stdout);
        if (sk_mpi_info_get()->world > 1) sk_mpi_abort(code, sk_error_last()); /* does not return */
        fprintf(stderr, "shrink: %s\n", sk_error_last());
    }
    sk_mpi_finalize();
    return code;
}
