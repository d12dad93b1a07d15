/* sk_dump_out.h - the tensors a test's dump tool (tests/shim/sk_shim_dump.c,
 * tests/trainer/sk_dsa_dump.c) collects and writes as one safetensors file
 * for a PyTorch reference to read. Header-only (static): tools include it.
 *
 * dump_put_ keeps a contiguous copy of t (f32, f64 or i64) under name;
 * dump_write_ writes every tensor kept, frees the copies and returns 0 or
 * a negative SK_E* code. */
#ifndef SK_DUMP_OUT_H
#define SK_DUMP_OUT_H

#include <stdio.h>

#include "sk_safetensors.h"
#include "sk_shim.h"

#define SK_DUMP_MAXT 512
typedef struct {
    sk_safetensors_entry e[SK_DUMP_MAXT];
    const void *data[SK_DUMP_MAXT];
    sk_tensor *keep[SK_DUMP_MAXT];
    char names[SK_DUMP_MAXT][48];
    int n;
} dump_out_;

static int dump_put_(dump_out_ *o, const char *name, const sk_tensor *t)
{
    if (o->n == SK_DUMP_MAXT || !t) return -1;
    sk_tensor *c = sk_shim_keep(sk_shim_contiguous(sk_shim_clone(t)));
    if (!c) return -1;
    sk_safetensors_entry *e = &o->e[o->n];
    snprintf(o->names[o->n], sizeof o->names[0], "%s", name);
    e->name = o->names[o->n];
    e->dtype = sk_shim_dtype(c) == SK_F64 ? "F64" : sk_shim_dtype(c) == SK_I64 ? "I64" : "F32";
    e->ndim = sk_shim_shape(c, e->shape);
    o->data[o->n] = sk_shim_data_ptr(c);
    o->keep[o->n++] = c;
    return 0;
}

static int dump_write_(dump_out_ *o, const char *path)
{
    int rc = sk_safetensors_write(path, o->e, o->data, o->n, NULL, 0);
    for (int i = 0; i < o->n; i++) sk_tensor_free(o->keep[i]);
    o->n = 0;
    return rc;
}

#endif /* SK_DUMP_OUT_H */
