/* npy_write.h: write a float32 or int64 array as a NumPy .npy file (format 1.0, little endian, C order),
 * the form `qnext import` reads. One header, no dependencies; the file is written to "<path>.tmp" and renamed,
 * so a crash never leaves a file that looks complete. Returns 0, or -1 with errno set.
 *
 *   float x[80 * 64];  long shape[] = {80, 64};
 *   npy_write_f32("dump/step0/blk1/attn_norm.npy", x, shape, 2);
 *
 * Part of qnext (docs/porting.md); tested by dump/importer/cexample_test.go. */
#ifndef NPY_WRITE_H
#define NPY_WRITE_H

#include <stdint.h>
#include <stdio.h>

static int npy_write_(const char *path, const char *descr, size_t esize, const void *data, const long *shape, int ndim) {
    char dims[256] = "", head[384], tmp[4096];
    size_t n = 1, used = 0;
    for (int i = 0; i < ndim; i++) { /* "(80, 64)"; a 1-D shape is "(80,)" */
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%ld%s", i ? ", " : "", shape[i], ndim == 1 ? "," : "");
        n *= (size_t)shape[i];
    }
    int len = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64; /* data starts at a multiple of 64 */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    uint16_t hlen = (uint16_t)(len + pad + 1);
    unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    int ok = fwrite(magic, 1, 10, f) == 10 && fwrite(head, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(data, esize, n, f) == n; /* assumes a little-endian host */
    if (fclose(f) != 0 || !ok) { remove(tmp); return -1; }
    return rename(tmp, path);
}

static int npy_write_f32(const char *path, const float *x, const long *shape, int ndim) {
    return npy_write_(path, "<f4", 4, x, shape, ndim);
}

static int npy_write_i64(const char *path, const int64_t *x, const long *shape, int ndim) {
    return npy_write_(path, "<i8", 8, x, shape, ndim);
}

#endif
