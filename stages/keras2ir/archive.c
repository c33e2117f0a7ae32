/* Members of a .keras archive (a zip of config.json, metadata.json and
 * model.weights.h5), read from memory with libzip: the whole model file is
 * already in memory (it may come from a pipe), so nothing touches disk. */
#include "keras.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

/* A member larger than this is refused before allocating: no Keras model we
 * handle comes near it, and it bounds what a hostile archive can make us
 * allocate. */
#define KERAS_ZIP_MEMBER_MAX ((zip_uint64_t)4 << 30)

/* libzip's messages start upper-case ("Not a zip archive"); ours do not. */
static const char *zip_msg(zip_error_t *ze, char *buf, size_t size)
{
	snprintf(buf, size, "%s", zip_error_strerror(ze));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static int read_member(zip_t *za, keras_zip_entry *e, qp_err *err)
{
	char msg[256];
	zip_stat_t st;
	zip_file_t *zf;
	zip_int64_t got;
	char *data;

	zip_stat_init(&st);
	if (zip_stat(za, e->name, 0, &st) != 0)
		return qp_err_set(err, "not a keras archive: no '%s' in the zip", e->name);
	if (!(st.valid & ZIP_STAT_SIZE) || st.size > KERAS_ZIP_MEMBER_MAX)
		return qp_err_set(err, "archive member '%s' is too large or has no size", e->name);
	zf = zip_fopen(za, e->name, 0);
	if (!zf)
		return qp_err_set(err, "cannot open archive member '%s': %s", e->name,
				  zip_msg(zip_get_error(za), msg, sizeof msg));
	data = malloc((size_t)st.size + 1);
	if (!data) {
		zip_fclose(zf);
		return qp_err_set(err, "out of memory reading archive member '%s'", e->name);
	}
	got = st.size ? zip_fread(zf, data, st.size) : 0;
	if (got < 0 || (zip_uint64_t)got != st.size) {
		qp_err_set(err, "cannot read archive member '%s': %s", e->name,
			   got < 0 ? zip_msg(zip_file_get_error(zf), msg, sizeof msg)
				   : "short read");
		zip_fclose(zf);
		free(data);
		return -1;
	}
	zip_fclose(zf);
	data[st.size] = 0;
	e->data = data;
	e->len = (size_t)st.size;
	return 0;
}

int keras_zip_read(const void *buf, size_t len, keras_zip_entry *entries,
		   int n, qp_err *err)
{
	zip_error_t zerr;
	zip_source_t *src;
	zip_t *za;
	char msg[256];
	int i, rc = 0;

	for (i = 0; i < n; i++) {
		entries[i].data = NULL;
		entries[i].len = 0;
	}
	zip_error_init(&zerr);
	src = zip_source_buffer_create(buf, len, 0, &zerr);
	if (!src) {
		qp_err_set(err, "cannot read zip: %s", zip_msg(&zerr, msg, sizeof msg));
		zip_error_fini(&zerr);
		return -1;
	}
	za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (!za) {
		qp_err_set(err, "not a valid zip archive: %s", zip_msg(&zerr, msg, sizeof msg));
		zip_source_free(src);
		zip_error_fini(&zerr);
		return -1;
	}
	zip_error_fini(&zerr);
	for (i = 0; i < n && rc == 0; i++)
		rc = read_member(za, &entries[i], err);
	zip_discard(za);   /* read-only: nothing to write back; frees src too */
	if (rc != 0)
		for (i = 0; i < n; i++) {
			free(entries[i].data);
			entries[i].data = NULL;
			entries[i].len = 0;
		}
	return rc;
}
