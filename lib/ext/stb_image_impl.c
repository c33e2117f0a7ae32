/* The one translation unit that holds stb_image's implementation.
 *
 * stb_image is Debian's header (package libstb-dev, /usr/include/stb/
 * stb_image.h, public domain / MIT); nothing of it is copied here.  Built
 * with the vendored-code flags (no -Werror): stb is not written for our
 * warning set.  Only the formats lib/datasrc.c documents are compiled in;
 * HDR and float conversions are left out.
 */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#include <stb/stb_image.h>
