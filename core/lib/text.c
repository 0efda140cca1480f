/* text.c -- text made fit for PostgreSQL. */
#include "lib/mem.h"
#include "lib/text.h"

#include <stdint.h>

char *jv_text_sanitize(const char *s, size_t len)
{
	struct jv_buf b = {0};
	jv_buf_append(&b, "", 0);
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0) {
			i++;
			continue;
		}
		if (c < 0x80) {
			jv_buf_append(&b, s + i, 1);
			i++;
			continue;
		}
		size_t need;
		uint32_t cp;
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (i + need >= len)
			goto bad;
		for (size_t k = 1; k <= need; k++) {
			unsigned char cc = (unsigned char)s[i + k];
			if ((cc & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (cc & 0x3f);
		}
		/* Reject overlong forms, surrogates and values past U+10FFFF. */
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		jv_buf_append(&b, s + i, need + 1);
		i += need + 1;
		continue;
	bad:
		jv_buf_append(&b, "\xef\xbf\xbd", 3);
		i++;
	}
	return jv_buf_steal(&b);
}
