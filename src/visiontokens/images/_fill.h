/* A text whose bytes are copied in on demand: the hook the header parser (_header_c.pyx)
 * calls before it reads text bytes [from, to), so that it reads only what is there.
 *
 * A gateway's BodyBuffer (requests/_scan_c.pyx) leaves the plain blocks in the middle of a
 * long string where they arrived, in the chunks the server handed over, and copies one in
 * only when something reads it: the header of an image is read from a few blocks of its
 * base64, never the whole. The hook comes to the parser in a capsule named VT_FILL_CAPSULE;
 * the pure twins' bodies are always whole and have none.
 */
#ifndef VT_FILL_H
#define VT_FILL_H

#include <stdint.h>

typedef struct vt_fill {
    void (*fill)(void* owner, const uint8_t* from, const uint8_t* to);
    void* owner;
} vt_fill;

#define VT_FILL_CAPSULE "visiontokens.fill"

#endif
