/* libFuzzer target: the saved-maps reader (boxes --from-maps) over arbitrary bytes, then
 * thresholds and components on every map it accepts. See tests/fuzz/README.md. */
#include "io/maps_file.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_maps_file m;
    if (cs_maps_read_memory(data, size, &m) != CS_OK) return 0;
    const size_t per = (size_t)m.height * (size_t)m.width * (size_t)m.n_maps;
    if (per <= (1u << 18)) {
        cs_threshold_params p;
        cs_threshold_params_default(&p);
        /* the last input byte picks the threshold kind and parameter */
        const uint8_t k = size ? data[size - 1] : 0;
        p.kind = (cs_threshold_kind)(k % 3);
        p.value = (double)(k / 3) / 84.0;
        cs_component comp[64];
        for (int b = 0; b < m.batch && b < 4; b++)
            for (int t = 0; t < m.n_maps && t < 8; t++) {
                size_t nc = 0, px = 0;
                double tau = 0;
                (void)cs_map_boxes(m.values + (size_t)b * per + (size_t)t, m.height, m.width,
                                   (size_t)m.n_maps, &p, k & 7, comp, 64, &nc, &tau, &px);
            }
    }
    cs_maps_file_free(&m);
    return 0;
}
