/* sk_zstd_plugin.c - HDF5 dynamically loaded filter plugin for Zstandard
 * (ID 32015): exports H5PLget_plugin_type / H5PLget_plugin_info so that
 * h5dump, h5py and any HDF5 >= 1.8.11 program finds it on HDF5_PLUGIN_PATH.
 *
 * It does not link libhdf5: the H5Z_class2_t layout and constants are
 * restated here (stable since HDF5 1.8.11), so one .so serves the serial
 * and parallel library builds. The filter itself is sk_zstd_filter.c
 * compiled with -DSK_ZSTD_PLUGIN. */
#include <stddef.h>

#include "sk_zstd_filter.h"

typedef int sk_h5_filter_t_;
typedef struct {
    int version;        /* H5Z_CLASS_T_VERS == 1 */
    sk_h5_filter_t_ id; /* 32015 */
    unsigned encoder_present, decoder_present;
    const char *name;
    void *can_apply, *set_local; /* unused */
    size_t (*filter)(unsigned, size_t, const unsigned[], size_t, size_t *, void **);
} sk_h5z_class2_;

static const sk_h5z_class2_ plugin_class_ = {1,    SK_ZSTD_FILTER_ID, 1, 1, "zstd (shrink; HDF5 filter 32015)", NULL,
                                             NULL, sk_zstd_filter_fn};

/* H5PL_type_t: H5PL_TYPE_FILTER == 0 */
int H5PLget_plugin_type(void);
const void *H5PLget_plugin_info(void);
int H5PLget_plugin_type(void) { return 0; }
const void *H5PLget_plugin_info(void) { return &plugin_class_; }
