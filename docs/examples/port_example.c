/* port_example.c: what a port in C does to be compared by qnext — write its intermediate tensors as .npy,
 * one directory per forward call, under its own names. Here "the port" is three tensors of a made-up first
 * step; dump/importer/cexample_test.go builds it, runs it, imports its output against a reference dump with
 * a name map and requires compare to pass.
 *
 *   cc -O1 -o port_example port_example.c && ./port_example OUT */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "npy_write.h"

/* value is the made-up activation the port computes: exactly representable, so both sides agree bit for bit. */
static float value(long i) { return (float)(i % 7) * 0.25f - 0.5f; }

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/step0", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/step0/L0", argv[1]);
    mkdir(p, 0755);

    int64_t ids[3] = {5, 6, 7};
    long ids_shape[] = {3};
    float norm[3 * 4], logits[3 * 5];
    for (long i = 0; i < 12; i++) norm[i] = value(i);
    for (long i = 0; i < 15; i++) logits[i] = value(i + 100);
    long norm_shape[] = {3, 4}, logits_shape[] = {1, 3, 5}; /* the logits keep a batch dimension */

    snprintf(p, sizeof p, "%s/step0/input_ids.npy", argv[1]);
    if (npy_write_i64(p, ids, ids_shape, 1)) { perror(p); return 1; }
    snprintf(p, sizeof p, "%s/step0/L0/ln_in.npy", argv[1]);
    if (npy_write_f32(p, norm, norm_shape, 2)) { perror(p); return 1; }
    snprintf(p, sizeof p, "%s/step0/logits.npy", argv[1]);
    if (npy_write_f32(p, logits, logits_shape, 3)) { perror(p); return 1; }
    return 0;
}
