/* Positional-embedding resize rules of the dense methods (pos_embed.c). Internal. */
#ifndef CS_POS_EMBED_H
#define CS_POS_EMBED_H

#include "io/model.h"

/* The table of `rule` for a gh x gw grid into out [1 + gh*gw, width] (no checks; the caller
 * validated the rule and the grid). Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_pos_table_rule(const cs_model *m, cs_pos_resize rule, int gh, int gw, float *out);

#endif
