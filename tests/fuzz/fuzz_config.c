/* libFuzzer target: a model folder's config.json (lib/io/model.c read_config) read together with
 * a real weights file by cs_model_load. The input is written as config.json into a temporary
 * folder (one per process) beside a symlink model.safetensors to the fixture
 * $CS_FIXTURES/golden/tiny-openai-f32.safetensors. A config that agrees with the weights loads
 * the whole model. See tests/fuzz/README.md. */
#include "clipsurgery.h"

#include "fuzz_util.h"

#include <stdint.h>

static const char *config_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *weights = fz_fixture("golden/tiny-openai-f32.safetensors");
    const char *link = fz_tmpfile("config", "model.safetensors");
    if (symlink(weights, link) != 0) {
        perror("fuzz_config: symlink");
        exit(1);
    }
    config_path = fz_tmpfile("config", "config.json");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(config_path, data, size, NULL, 0, NULL, 0);
    cs_model *m = NULL;
    cs_status s = fz_verbose(cs_model_load(fz_tmpdir("config"), NULL, &m));
    if (s == CS_OK) {
        cs_model_info info;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        if (cs_model_get_info(m, &info) != CS_OK || info.vision_heads <= 0 ||
            info.text_heads <= 0 || info.vision_width % info.vision_heads ||
            info.text_width % info.text_heads || !(info.layer_norm_eps > 0))
            abort(); /* a model that loads must be usable */
        cs_model_free(m);
    } else if (m || !*cs_last_error()) {
        abort(); /* a failure leaves no model and says why */
    }
    return 0;
}
