/* Placeholder: the loader lands next. */
#include "common.h"
#include "model.h"

#include <string.h>

CS_API void cs_model_params_default(cs_model_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
}

CS_API cs_status cs_model_load(const char *path, const cs_model_params *params, cs_model **out)
{
    (void)path;
    (void)params;
    (void)out;
    return cs_fail(CS_ERR_UNSUPPORTED, "model loading not implemented yet");
}
