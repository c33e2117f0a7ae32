/* Calibration data sources (see datasrc.h and docs/calibrate.md, "Data
 * sources").
 *
 * Every source is a list of samples addressed by number 0..total-1; the
 * visiting order is the identity, or a seeded permutation (shuffle), cut
 * to limit.  Reading sample k seeks to it when it is not the next one, so
 * memory never holds more than one sample (one decoded image) however
 * large the data set is.
 */
#include "datasrc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>
#include <zlib.h>

#include "idx.h"
#include "image.h"
#include "interp.h"
#include "io.h"
#include "npy.h"

enum src_kind { SRC_NPY, SRC_NPZ, SRC_IDX, SRC_IMAGES };

static const char *const kind_names[] = {"npy", "npz", "idx", "images"};

#define IMAGE_EXTS ".png .jpg .jpeg .bmp .ppm .pgm"

/* A zip member read through a stdio stream (fopencookie), so the .npy
 * reader streams it like a file.  Seeking backwards in a deflated member
 * reopens it and reads forward: correct, and only paid when shuffling. */
typedef struct zmember {
	zip_t *za;
	zip_uint64_t index;
	zip_file_t *zf;
	uint64_t pos, size;
	char zerr[256];         /* libzip's message of the last failure */
} zmember;

struct qp_datasrc {
	enum src_kind kind;
	char *path;               /* the spec, for messages */
	const char *input_name;   /* borrowed from the graph */
	const char *layout;       /* borrowed: the input's user layout */
	int rank;                 /* per-sample rank (input rank - 1) */
	int64_t dims[QP_MAX_RANK];/* per-sample canonical dims */
	int64_t numel;
	/* Image geometry of the input: C in {1, 3}; img_c == 0 when the
	 * input is not image-shaped (then only .npy, or IDX flattened). */
	int img_c;
	int64_t img_h, img_w;
	qp_datasrc_opts o;        /* scale and std resolved */
	int64_t total, count, pos;
	int64_t *order;           /* NULL: sample k is pos */

	/* npy / npz */
	qp_npy npy;
	int npy_open;
	long data_off;            /* offset of row 0 in the stream */
	float *row;               /* one sample in the user's layout */
	zip_t *za;
	zmember *zm;              /* owned by the npy stream's cookie */
	char *member;

	/* idx */
	qp_idx idx;
	int64_t idx_h, idx_w;
	unsigned char *pix;

	/* images */
	char **files;
	int64_t n_files;

	int labels;               /* a label source (qp_datasrc_open_labels) */
};

/* ---- small helpers ---------------------------------------------------- */

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	return d ? memcpy(d, s, n) : NULL;
}

/* "(N,3,32,32)": first < 0 prints dim 0 as N; "(5,)" for rank 1. */
static const char *shape_text(int rank, const int64_t *dims, int64_t first,
			      char *buf, size_t size)
{
	size_t used = (size_t)snprintf(buf, size, "(");

	for (int i = 0; i < rank && used < size; i++) {
		if (i == 0 && first < 0)
			used += (size_t)snprintf(buf + used, size - used, "N");
		else
			used += (size_t)snprintf(buf + used, size - used, "%s%lld",
						 i ? "," : "", (long long)dims[i]);
	}
	if (rank == 1 && used < size)
		used += (size_t)snprintf(buf + used, size - used, ",");
	if (used < size)
		snprintf(buf + used, size - used, ")");
	return buf;
}

static int has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static int is_image_name(const char *name)
{
	static const char *const exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm"};

	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (has_suffix_ci(name, exts[i]))
			return 1;
	return 0;
}

/* splitmix64 (Steele, Lea, Flood 2014; the constants of Vigna's reference
 * code): a tiny, well-mixed generator whose output any language can
 * reproduce, so a shuffled order is documented, not an accident. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* The visiting order: Fisher-Yates over 0..total-1 driven by splitmix64
 * seeded with seed (i from total-1 down to 1: j = next % (i + 1), swap),
 * then the first count entries. */
static int make_order(qp_datasrc *s, qp_err *err)
{
	uint64_t state = s->o.seed;
	int64_t *perm;

	if (!s->o.shuffle)
		return 0;
	perm = malloc((size_t)(s->total ? s->total : 1) * sizeof *perm);
	if (!perm)
		return qp_err_set(err, "out of memory");
	for (int64_t i = 0; i < s->total; i++)
		perm[i] = i;
	for (int64_t i = s->total - 1; i > 0; i--) {
		int64_t j = (int64_t)(splitmix64(&state) % (uint64_t)(i + 1)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	s->order = perm;
	return 0;
}

/* The end of every open: --limit applied, the visiting order made; on any
 * failure (rc, or here) the source is freed and NULL returned. */
static qp_datasrc *finish_open(qp_datasrc *s, int rc, qp_err *err)
{
	if (rc == 0) {
		s->count = s->o.limit > 0 && s->o.limit < s->total ? s->o.limit : s->total;
		rc = make_order(s, err);
	}
	if (rc) {
		qp_datasrc_free(s);
		return NULL;
	}
	return s;
}

/* ---- zip members as stdio streams ---------------------------------------- */

static int zm_reopen(zmember *m)
{
	if (m->zf)
		zip_fclose(m->zf);
	m->zf = zip_fopen_index(m->za, m->index, 0);
	m->pos = 0;
	if (!m->zf) {
		snprintf(m->zerr, sizeof m->zerr, "%s", zip_strerror(m->za));
		return -1;
	}
	return 0;
}

static ssize_t zm_read(void *cookie, char *buf, size_t n)
{
	zmember *m = cookie;
	zip_int64_t got;

	if (!m->zf)
		return -1;
	got = zip_fread(m->zf, buf, n);
	if (got < 0) {
		snprintf(m->zerr, sizeof m->zerr, "%s", zip_file_strerror(m->zf));
		errno = EIO;
		return -1;
	}
	m->pos += (uint64_t)got;
	return (ssize_t)got;
}

static int zm_seek(void *cookie, off64_t *offset, int whence)
{
	zmember *m = cookie;
	int64_t target;
	char scratch[65536];

	switch (whence) {
	case SEEK_SET: target = *offset; break;
	case SEEK_CUR: target = (int64_t)m->pos + *offset; break;
	case SEEK_END: target = (int64_t)m->size + *offset; break;
	default: errno = EINVAL; return -1;
	}
	if (target < 0 || (uint64_t)target > m->size) {
		errno = EINVAL;
		return -1;
	}
	if ((uint64_t)target != m->pos) {
		/* Stored members seek directly; deflated ones cannot. */
		if (m->zf && zip_fseek(m->zf, target, SEEK_SET) == 0) {
			m->pos = (uint64_t)target;
		} else {
			if ((uint64_t)target < m->pos && zm_reopen(m)) {
				errno = EIO;
				return -1;
			}
			while (m->pos < (uint64_t)target) {
				uint64_t want = (uint64_t)target - m->pos;

				if (want > sizeof scratch)
					want = sizeof scratch;
				if (zm_read(m, scratch, (size_t)want) <= 0) {
					errno = EIO;
					return -1;
				}
			}
		}
	}
	*offset = (off64_t)m->pos;
	return 0;
}

static int zm_close(void *cookie)
{
	zmember *m = cookie;

	if (m->zf)
		zip_fclose(m->zf);
	free(m);
	return 0;
}

/* ---- opening each kind ---------------------------------------------------- */

/* Checks an opened .npy (file or member) against the input's shape. */
static int check_npy(qp_datasrc *s, const char *what, qp_err *err)
{
	int64_t user[QP_MAX_RANK + 1];
	char s1[200], s2[200];

	user[0] = -1;
	qp_layout_user_dims(s->layout, s->rank, s->dims, user + 1);
	if (s->npy.rank != s->rank + 1 ||
	    memcmp(s->npy.dims + 1, user + 1, sizeof(int64_t) * (size_t)s->rank))
		return qp_err_set(err, "%s: array shape %s does not match model input '%s' %s%s%s",
				  what, shape_text(s->npy.rank, s->npy.dims, 0, s1, sizeof s1),
				  s->input_name, shape_text(s->rank + 1, user, -1, s2, sizeof s2),
				  s->layout ? " in layout " : "", s->layout ? s->layout : "");
	if (s->npy.type == QP_NPY_BOOL)
		return qp_err_set(err, "%s: boolean data is not a model input", what);
	s->total = s->npy.rows;
	s->data_off = ftell(s->npy.fp);
	s->row = malloc((size_t)s->numel * sizeof *s->row);
	if (!s->row)
		return qp_err_set(err, "out of memory");
	return 0;
}

static int open_npy(qp_datasrc *s, qp_err *err)
{
	const char *what = qp_is_stdio(s->path) ? "-" : s->path;

	if (qp_npy_open(&s->npy, s->path, err))
		return qp_err_prefix(err, "%s", what);
	s->npy_open = 1;
	if (check_npy(s, what, err))
		return -1;
	if (s->o.shuffle && s->data_off < 0)
		return qp_err_set(err, "%s: --shuffle needs a file it can seek in, not a pipe", what);
	return 0;
}

static int open_npz(qp_datasrc *s, qp_err *err)
{
	char want[1024], names[512] = "", what[1200];
	zip_int64_t n, pick = -1, n_npy = 0, only = -1;
	zip_stat_t st;
	int zerr = 0;
	FILE *fp;
	cookie_io_functions_t io = {.read = zm_read, .seek = zm_seek, .close = zm_close};

	s->za = zip_open(s->path, ZIP_RDONLY, &zerr);
	if (!s->za) {
		zip_error_t ze;

		zip_error_init_with_code(&ze, zerr);
		qp_err_set(err, "%s: not a readable .npz (%s)", s->path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	snprintf(want, sizeof want, "%s.npy", s->input_name);
	n = zip_get_num_entries(s->za, 0);
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(s->za, (zip_uint64_t)i, 0);

		if (!name || !has_suffix_ci(name, ".npy"))
			continue;
		if (strcmp(name, want) == 0)
			pick = i;
		if (n_npy < 4) {
			size_t used = strlen(names);

			snprintf(names + used, sizeof names - used, "%s%s", n_npy ? ", " : "", name);
		} else if (n_npy == 4) {
			size_t used = strlen(names);

			snprintf(names + used, sizeof names - used, ", ...");
		}
		n_npy++;
		only = i;
	}
	if (n_npy == 0)
		return qp_err_set(err, "%s: no .npy members", s->path);
	if (pick < 0 && n_npy > 1)
		return qp_err_set(err, "%s: no member '%s' for model input '%s' among %lld .npy members (%s)",
				  s->path, want, s->input_name, (long long)n_npy, names);
	if (pick < 0)
		pick = only;
	s->member = dup_str(zip_get_name(s->za, (zip_uint64_t)pick, 0));
	if (!s->member)
		return qp_err_set(err, "out of memory");
	snprintf(what, sizeof what, "%s: member %s", s->path, s->member);
	if (zip_stat_index(s->za, (zip_uint64_t)pick, 0, &st) || !(st.valid & ZIP_STAT_SIZE))
		return qp_err_set(err, "%s: %s", what, zip_strerror(s->za));
	s->zm = calloc(1, sizeof *s->zm);
	if (!s->zm)
		return qp_err_set(err, "out of memory");
	s->zm->za = s->za;
	s->zm->index = (zip_uint64_t)pick;
	s->zm->size = st.size;
	if (zm_reopen(s->zm)) {
		qp_err_set(err, "%s: %s", what, s->zm->zerr);
		zm_close(s->zm);
		s->zm = NULL;
		return -1;
	}
	fp = fopencookie(s->zm, "rb", io);
	if (!fp) {
		zm_close(s->zm);
		s->zm = NULL;
		return qp_err_errno(err, "%s", what);
	}
	/* From here the stream owns the member (qp_npy_close closes it). */
	if (qp_npy_open_stream(&s->npy, fp, 1, err)) {
		s->zm = NULL;
		return qp_err_prefix(err, "%s", what);
	}
	s->npy_open = 1;
	return check_npy(s, what, err);
}

static int check_image_size(const qp_datasrc *s, const char *path, int64_t h, int64_t w,
			    qp_err *err)
{
	/* The decoders refuse a 0x0 image already; resizing one would read
	 * pixels that are not there. */
	if (h < 1 || w < 1)
		return qp_err_set(err, "%s: image is %lldx%lld: no pixels", path,
				  (long long)w, (long long)h);
	if (s->o.resize == QP_RESIZE_NONE && (h != s->img_h || w != s->img_w))
		return qp_err_set(err, "%s: image is %lldx%lld, the model takes %lldx%lld; use --resize",
				  path, (long long)w, (long long)h,
				  (long long)s->img_w, (long long)s->img_h);
	return 0;
}

static int image_fits_idx(const qp_datasrc *s)
{
	return s->img_c != 0;
}

static int open_idx(qp_datasrc *s, qp_err *err)
{
	int64_t n;
	char s1[200];

	if (qp_idx_open(&s->idx, s->path, err) != 0)
		return qp_err_prefix(err, "%s", s->path);
	if (s->idx.rank == 1)
		return qp_err_set(err, "%s: an IDX label file (rank 1), not images", s->path);
	n = s->idx.items;
	s->idx_h = s->idx.dims[1];
	s->idx_w = s->idx.dims[2];
	if (s->idx_h > 65535 || s->idx_w > 65535)
		return qp_err_set(err, "%s: bad IDX image size %lldx%lld", s->path,
				  (long long)s->idx_w, (long long)s->idx_h);
	/* A plain file's length is known: qp_idx_open caught truncation,
	 * catch trailing data now rather than after the last sample. */
	if (s->idx.file_bytes >= 0) {
		int64_t want = qp_idx_header_bytes(&s->idx) + n * s->idx.item_bytes;

		if (s->idx.file_bytes != want)
			return qp_err_set(err, "%s: trailing data: the header promises %lld bytes, the file has %lld",
					  s->path, (long long)want, (long long)s->idx.file_bytes);
	}
	if (!image_fits_idx(s) && s->numel != s->idx_h * s->idx_w)
		return qp_err_set(err, "%s: IDX images are %lldx%lld, model input '%s' %s is neither an image nor %lld values",
				  s->path, (long long)s->idx_w, (long long)s->idx_h, s->input_name,
				  shape_text(s->rank, s->dims, 0, s1, sizeof s1),
				  (long long)(s->idx_h * s->idx_w));
	if (image_fits_idx(s) && check_image_size(s, s->path, s->idx_h, s->idx_w, err))
		return -1;
	if (s->img_c == 3 && s->o.channels == QP_CHANNELS_AUTO)
		return qp_err_set(err, "%s: gray images, model input '%s' takes 3 channels; "
				  "use --channels rgb to replicate gray", s->path, s->input_name);
	if (!image_fits_idx(s) && s->o.resize != QP_RESIZE_NONE)
		return qp_err_set(err, "%s: cannot resize for model input '%s', which is not an image",
				  s->path, s->input_name);
	s->pix = malloc((size_t)(s->idx_h * s->idx_w));
	if (!s->pix)
		return qp_err_set(err, "out of memory");
	s->total = n;
	return 0;
}

static int add_file(qp_datasrc *s, int64_t *cap, char *path, qp_err *err)
{
	if (!path)
		return qp_err_set(err, "out of memory");
	if (s->n_files == *cap) {
		int64_t ncap = *cap ? *cap * 2 : 64;
		char **nf = realloc(s->files, (size_t)ncap * sizeof *nf);

		if (!nf) {
			free(path);
			return qp_err_set(err, "out of memory");
		}
		s->files = nf;
		*cap = ncap;
	}
	s->files[s->n_files++] = path;
	return 0;
}

static char *join_path(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	int slash = a > 0 && dir[a - 1] != '/';
	char *p = malloc(a + (size_t)slash + b + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	if (slash)
		p[a] = '/';
	memcpy(p + a + slash, name, b + 1);
	return p;
}

/* Collects images under dir (recursively; hidden entries and symbolic
 * links to folders skipped, which also rules out loops). */
static int walk(qp_datasrc *s, int64_t *cap, const char *dir, int depth, qp_err *err)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > 64)
		return qp_err_set(err, "%s: folders nested too deep", dir);
	d = opendir(dir);
	if (!d)
		return qp_err_errno(err, "%s: cannot open folder", dir);
	while (rc == 0 && (errno = 0, e = readdir(d))) {
		struct stat st;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		p = join_path(dir, e->d_name);
		if (!p) {
			rc = qp_err_set(err, "out of memory");
			break;
		}
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = walk(s, cap, p, depth + 1, err);
			free(p);
		} else if (is_image_name(e->d_name) && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			rc = add_file(s, cap, p, err);
		} else {
			free(p);
		}
	}
	if (rc == 0 && errno)
		rc = qp_err_errno(err, "%s: cannot read folder", dir);
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names that say "a file": the formats other than a folder. */
static int is_data_file_name(const char *path)
{
	static const char *const exts[] = {".npy", ".npz", ".idx", ".gz", ".txt", ".lst"};
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		size_t m = strlen(exts[i]);

		if (n >= m && strncasecmp(path + n - m, exts[i], m) == 0)
			return 1;
	}
	return 0;
}

static int open_folder(qp_datasrc *s, qp_err *err)
{
	int64_t cap = 0;

	if (walk(s, &cap, s->path, 0, err))
		return -1;
	/* A folder named like a data file ("x.npy/") was meant to be one. */
	if (s->n_files == 0 && (is_data_file_name(s->path) || is_image_name(s->path)))
		return qp_err_set(err, "%s: is a directory, not a file (and holds no images " IMAGE_EXTS ")",
				  s->path);
	if (s->n_files == 0)
		return qp_err_set(err, "%s: no images (" IMAGE_EXTS ")", s->path);
	/* Every path shares the folder prefix, so this is the order of the
	 * paths relative to the folder. */
	qsort(s->files, (size_t)s->n_files, sizeof *s->files, cmp_str);
	s->total = s->n_files;
	return 0;
}

static int open_list(qp_datasrc *s, qp_err *err)
{
	FILE *fp = fopen(s->path, "r");
	char *line = NULL, *dir, *slash;
	size_t lcap = 0;
	ssize_t len;
	int64_t cap = 0, lineno = 0;
	int rc = 0;

	if (!fp)
		return qp_err_errno(err, "%s: cannot open", s->path);
	dir = dup_str(s->path);
	if (!dir) {
		fclose(fp);
		return qp_err_set(err, "out of memory");
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[1] = 0;
	else
		dir[0] = 0;
	while (rc == 0 && (len = getline(&line, &lcap, fp)) >= 0) {
		char *b = line, *p;
		struct stat st;

		lineno++;
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = 0;
		while (isspace((unsigned char)*b))
			b++;
		if (!*b || *b == '#')
			continue;
		p = b[0] == '/' || !dir[0] ? dup_str(b) : join_path(dir, b);
		if (!p) {
			rc = qp_err_set(err, "out of memory");
		} else if (stat(p, &st) != 0 || access(p, R_OK) != 0) {
			rc = qp_err_errno(err, "%s:%lld: %s: cannot open", s->path, (long long)lineno, p);
			free(p);
		} else if (S_ISDIR(st.st_mode)) {
			rc = qp_err_set(err, "%s:%lld: %s: is a directory, not an image file", s->path,
					(long long)lineno, p);
			free(p);
		} else if (!S_ISREG(st.st_mode)) {
			rc = qp_err_set(err, "%s:%lld: %s: not a regular file", s->path, (long long)lineno, p);
			free(p);
		} else {
			rc = add_file(s, &cap, p, err);
		}
	}
	if (rc == 0 && ferror(fp))
		rc = qp_err_errno(err, "%s: read error", s->path);
	free(line);
	free(dir);
	fclose(fp);
	if (rc)
		return -1;
	if (s->n_files == 0)
		return qp_err_set(err, "%s: no image paths in the list", s->path);
	s->total = s->n_files;
	return 0;
}

static int open_single_image(qp_datasrc *s, qp_err *err)
{
	int64_t cap = 0;

	if (add_file(s, &cap, dup_str(s->path), err))
		return -1;
	s->total = 1;
	return 0;
}

/* Picks the reader from the first bytes (names lie, magic rarely does). */
static int open_by_content(qp_datasrc *s, qp_err *err)
{
	unsigned char m[8] = {0};
	struct stat st;
	FILE *fp;
	size_t got;

	if (qp_is_stdio(s->path)) {
		s->kind = SRC_NPY;
		return 0;
	}
	if (stat(s->path, &st) != 0)
		return qp_err_errno(err, "%s: cannot open", s->path);
	if (S_ISDIR(st.st_mode)) {
		s->kind = SRC_IMAGES;
		return open_folder(s, err);
	}
	fp = fopen(s->path, "rb");
	if (!fp)
		return qp_err_errno(err, "%s: cannot open", s->path);
	got = fread(m, 1, sizeof m, fp);
	fclose(fp);
	/* A file cut inside the magic is a truncated .npy (the reader says so). */
	if (got > 0 && memcmp(m, "\x93NUMPY", got < 6 ? got : 6) == 0) {
		s->kind = SRC_NPY;
		return 0;
	}
	if (got >= 4 && m[0] == 'P' && m[1] == 'K' && (m[2] == 3 || m[2] == 5)) {
		s->kind = SRC_NPZ;
		return 0;
	}
	if (got >= 4 && ((m[0] == 0x1f && m[1] == 0x8b) ||
			 (m[0] == 0 && m[1] == 0 && m[2] == 8))) {
		s->kind = SRC_IDX;
		return 0;
	}
	if ((got >= 8 && memcmp(m, "\x89PNG\r\n\x1a\n", 8) == 0) ||
	    (got >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff) ||
	    (got >= 2 && m[0] == 'B' && m[1] == 'M') ||
	    (got >= 2 && m[0] == 'P' && (m[1] == '5' || m[1] == '6'))) {
		s->kind = SRC_IMAGES;
		return open_single_image(s, err);
	}
	/* Named like an image but not one: let the decoder say what is wrong. */
	if (is_image_name(s->path)) {
		s->kind = SRC_IMAGES;
		return open_single_image(s, err);
	}
	if (has_suffix_ci(s->path, ".txt") || has_suffix_ci(s->path, ".lst")) {
		s->kind = SRC_IMAGES;
		return open_list(s, err);
	}
	/* Named .npy but not one (empty, foreign bytes): the .npy reader
	 * says what is wrong, as it does for a cut header. */
	if (has_suffix_ci(s->path, ".npy")) {
		s->kind = SRC_NPY;
		return 0;
	}
	return qp_err_set(err, "%s: unknown data format (want .npy, .npz, IDX, an image, "
			  "a folder of images or a .txt/.lst list of images)", s->path);
}

/* Resolves defaults and checks the options against the input. */
static int check_opts(qp_datasrc *s, const qp_datasrc_opts *opts, qp_err *err)
{
	static const char *const ch_names[] = {"auto", "rgb", "bgr", "gray"};

	if (opts)
		s->o = *opts;
	if (s->o.scale == 0)
		s->o.scale = 1.0f / 255.0f;
	for (int c = 0; c < 3; c++) {
		if (s->o.std[c] == 0)
			s->o.std[c] = 1;
		if (!isfinite(s->o.mean[c]) || !isfinite(s->o.std[c]) || s->o.std[c] < 0)
			return qp_err_set(err, "bad mean/std for channel %d", c);
	}
	if (!isfinite(s->o.scale))
		return qp_err_set(err, "bad scale %g", (double)s->o.scale);
	if ((unsigned)s->o.resize > QP_RESIZE_CROP || (unsigned)s->o.channels > QP_CHANNELS_GRAY)
		qp_bug("qp_datasrc_opts: bad enum value");
	if (s->o.limit < 0)
		return qp_err_set(err, "bad limit %lld", (long long)s->o.limit);
	if (s->img_c) {
		if ((s->o.height && s->o.height != s->img_h) || (s->o.width && s->o.width != s->img_w))
			return qp_err_set(err, "size %lldx%lld disagrees with model input '%s', which takes %lldx%lld images",
					  (long long)(s->o.width ? s->o.width : s->img_w),
					  (long long)(s->o.height ? s->o.height : s->img_h),
					  s->input_name, (long long)s->img_w, (long long)s->img_h);
		if ((s->o.channels == QP_CHANNELS_RGB || s->o.channels == QP_CHANNELS_BGR) && s->img_c != 3)
			return qp_err_set(err, "channels %s needs a model input with 3 channels; '%s' has %d",
					  ch_names[s->o.channels], s->input_name, s->img_c);
		if (s->o.channels == QP_CHANNELS_GRAY && s->img_c != 1)
			return qp_err_set(err, "channels gray needs a model input with 1 channel; '%s' has %d",
					  s->input_name, s->img_c);
	}
	return 0;
}

qp_datasrc *qp_datasrc_open(const qp_graph *g, int input_index,
			    const char *spec, const qp_datasrc_opts *opts,
			    qp_err *err)
{
	const qp_tensor *t;
	qp_datasrc_input in;

	if (input_index < 0 || input_index >= g->n_inputs)
		return qp_err_set(err, "the model has no input %d", input_index), NULL;
	t = &g->tensors[g->inputs[input_index].tensor];
	in.name = t->name;
	in.layout = g->inputs[input_index].layout;
	in.rank = t->rank;
	in.dims = t->dims;
	return qp_datasrc_open_input(&in, spec, opts, err);
}

qp_datasrc *qp_datasrc_open_input(const qp_datasrc_input *in, const char *spec,
				  const qp_datasrc_opts *opts, qp_err *err)
{
	qp_datasrc *s;
	char s1[200];
	int rc;

	if (in->rank < 1)
		return qp_err_set(err, "model input '%s' has no batch axis", in->name), NULL;
	if (in->rank > QP_MAX_RANK)
		return qp_err_set(err, "model input '%s' has rank %d (at most %d)", in->name,
				  in->rank, QP_MAX_RANK), NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return qp_err_set(err, "out of memory"), NULL;
	s->path = dup_str(spec ? spec : "-");
	if (!s->path) {
		free(s);
		return qp_err_set(err, "out of memory"), NULL;
	}
	s->input_name = in->name;
	s->layout = in->layout;
	s->rank = in->rank - 1;
	memcpy(s->dims, in->dims + 1, sizeof(int64_t) * (size_t)s->rank);
	s->numel = 1;
	for (int i = 0; i < s->rank; i++)
		s->numel *= s->dims[i];
	if (s->rank == 3 && (s->dims[0] == 1 || s->dims[0] == 3)) {
		s->img_c = (int)s->dims[0];
		s->img_h = s->dims[1];
		s->img_w = s->dims[2];
	} else if (s->rank == 2) {
		s->img_c = 1;
		s->img_h = s->dims[0];
		s->img_w = s->dims[1];
	}
	rc = check_opts(s, opts, err);
	if (rc == 0)
		rc = open_by_content(s, err);
	if (rc == 0 && s->kind == SRC_NPY)
		rc = open_npy(s, err);
	else if (rc == 0 && s->kind == SRC_NPZ)
		rc = open_npz(s, err);
	else if (rc == 0 && s->kind == SRC_IDX)
		rc = open_idx(s, err);
	if (rc == 0 && s->kind == SRC_IMAGES && !s->img_c)
		rc = qp_err_set(err, "%s: model input '%s' %s is not an image (want (N,C,H,W) with C 1 or 3, or (N,H,W))",
				s->path, s->input_name,
				shape_text(s->rank, s->dims, 0, s1, sizeof s1));
	return finish_open(s, rc, err);
}

int64_t qp_datasrc_count(const qp_datasrc *src)
{
	return src->count;
}

int64_t qp_datasrc_total(const qp_datasrc *src)
{
	return src->total;
}

int64_t qp_datasrc_sample_numel(const qp_datasrc *src)
{
	return src->numel;
}

const char *qp_datasrc_kind(const qp_datasrc *src)
{
	return kind_names[src->kind];
}

void qp_datasrc_free(qp_datasrc *src)
{
	if (!src)
		return;
	if (src->npy_open)
		qp_npy_close(&src->npy);
	if (src->za)
		zip_discard(src->za);
	qp_idx_close(&src->idx);   /* a no-op when never opened */
	for (int64_t i = 0; i < src->n_files; i++)
		free(src->files[i]);
	free(src->files);
	free(src->member);
	free(src->order);
	free(src->row);
	free(src->pix);
	free(src->path);
	free(src);
}

/* ---- reading samples ------------------------------------------------------- */

static int next_npy(qp_datasrc *s, int64_t k, float *sample, qp_err *err)
{
	const char *what = qp_is_stdio(s->path) ? "-" : s->path;

	if (k != s->npy.rows_read) {
		long off = s->data_off + (long)(k * s->npy.row_elems * (int64_t)s->npy.elem_size);

		if (fseek(s->npy.fp, off, SEEK_SET) != 0) {
			if (s->zm && s->zm->zerr[0])
				return qp_err_set(err, "%s: member %s: %s", what, s->member, s->zm->zerr);
			return qp_err_errno(err, "%s: cannot seek to sample %lld", what, (long long)k);
		}
		s->npy.rows_read = k;
	}
	if (qp_npy_read_rows_f32(&s->npy, 1, s->row, err)) {
		if (s->zm && s->zm->zerr[0])
			return qp_err_set(err, "%s: member %s: %s", what, s->member, s->zm->zerr);
		if (s->member)
			return qp_err_prefix(err, "%s: member %s", what, s->member);
		return qp_err_prefix(err, "%s", what);
	}
	/* Bad data is named where it is, not by the first tensor it poisons;
	 * k and the element count in the file's own order (no --shuffle or
	 * --skip in it, no layout transposition). */
	for (int64_t i = 0; !s->o.allow_nonfinite && i < s->npy.row_elems; i++)
		if (!isfinite(s->row[i]))
			return qp_err_set(err, "%s%s%s: sample %lld: non-finite value (%s) at element %lld",
					  what, s->member ? ": member " : "", s->member ? s->member : "",
					  (long long)k, isnan(s->row[i]) ? "NaN" : s->row[i] > 0 ? "+inf" : "-inf",
					  (long long)i);
	qp_layout_to_canonical(s->layout, s->rank, s->dims, s->row, sample);
	return 0;
}

/* One axis of a bilinear tap with half-pixel centres: output position o
 * (offset by the crop's off) on an axis resized from n to rn source
 * pixels; source o' = (o + off + 0.5) * n / rn - 0.5, clamped below at 0,
 * neighbours *i0 = floor, *i1 = min(*i0 + 1, n - 1), *frac the weight of *i1. */
static void bilinear_axis(int64_t o, int64_t off, int64_t n, int64_t rn,
			  int64_t *i0, int64_t *i1, double *frac)
{
	double src = ((double)(o + off) + 0.5) * (double)n / (double)rn - 0.5;

	if (src < 0)
		src = 0;
	*i0 = (int64_t)src;
	*i1 = *i0 + 1 < n ? *i0 + 1 : n - 1;
	*frac = src - (double)*i0;
}

/* Fills sample (C,H,W) from pixels (h, w, comp) where comp == the model's
 * channel count: resize per the options, reorder BGR, normalise.
 * Bilinear sampling uses half-pixel centres (PyTorch's align_corners=False,
 * no antialiasing): source y = (y + top + 0.5) * h / rh - 0.5, clamped
 * below at 0, neighbours y0 = floor, y1 = min(y0 + 1, h - 1). */
static void image_to_sample(const qp_datasrc *s, const unsigned char *px,
			    int64_t h, int64_t w, float *sample)
{
	int64_t H = s->img_h, W = s->img_w, C = s->img_c, rh = H, rw = W, top = 0, left = 0;
	int bgr = s->o.channels == QP_CHANNELS_BGR;

	if (s->o.resize == QP_RESIZE_CROP) {
		/* Scale so the image covers H x W (the shorter side, relative
		 * to the target, fits exactly), round half up, crop the middle. */
		if (H * w >= W * h) {
			rh = H;
			rw = (2 * w * H + h) / (2 * h);
		} else {
			rw = W;
			rh = (2 * h * W + w) / (2 * w);
		}
		top = (rh - H) / 2;
		left = (rw - W) / 2;
	}
	for (int64_t c = 0; c < C; c++) {
		int64_t src_c = bgr ? C - 1 - c : c;
		float scale = s->o.scale, mean = s->o.mean[c], inv_std = 1.0f / s->o.std[c];
		float *out = sample + c * H * W;

		for (int64_t y = 0; y < H; y++) {
			int64_t y0, y1;
			double ly;

			bilinear_axis(y, top, h, rh, &y0, &y1, &ly);
			for (int64_t x = 0; x < W; x++) {
				int64_t x0, x1;
				double lx, v;

				bilinear_axis(x, left, w, rw, &x0, &x1, &lx);
				v = (1 - ly) * ((1 - lx) * px[(y0 * w + x0) * C + src_c] +
						lx * px[(y0 * w + x1) * C + src_c]) +
				    ly * ((1 - lx) * px[(y1 * w + x0) * C + src_c] +
					  lx * px[(y1 * w + x1) * C + src_c]);
				out[y * W + x] = ((float)v * scale - mean) * inv_std;
			}
		}
	}
}

/* Image files larger than this are refused before they are read whole. */
#define IMAGE_MAX_BYTES ((size_t)1 << 30)

/* The file is read whole and decoded from memory (lib/data/image.c). */
static int next_image(qp_datasrc *s, int64_t k, float *sample, qp_err *err)
{
	const char *path = s->files[k];
	void *file = NULL;
	size_t len;
	int w, h, comp, rc = -1;
	unsigned char *px;
	qp_image_info info;

	if (qp_read_all(path, &file, &len, IMAGE_MAX_BYTES, err) != 0)
		return qp_err_prefix(err, "%s: cannot open", path);
	if (len > INT_MAX) {
		qp_err_set(err, "%s: image file is larger than 2 GiB", path);
		goto out;
	}
	/* The header only: the channel rule is checked before anything large
	 * is decoded. */
	if (qp_image_probe(file, len, &info, err) != 0) {
		qp_err_prefix(err, "%s: not a valid image", path);
		goto out;
	}
	w = info.width, h = info.height, comp = info.channels;
	if (s->o.channels == QP_CHANNELS_AUTO && s->img_c == 3 && comp < 3) {
		qp_err_set(err, "%s: gray image, model input '%s' takes 3 channels; "
			   "use --channels rgb to replicate gray", path, s->input_name);
		goto out;
	}
	if (s->o.channels == QP_CHANNELS_AUTO && s->img_c == 1 && comp >= 3) {
		qp_err_set(err, "%s: colour image, model input '%s' takes 1 channel; "
			   "use --channels gray to convert", path, s->input_name);
		goto out;
	}
	if (check_image_size(s, path, h, w, err))
		goto out;
	if (qp_image_decode(file, len, (int)s->img_c, &info, &px, err) != 0) {
		qp_err_prefix(err, "%s: not a valid image", path);
		goto out;
	}
	w = info.width, h = info.height;
	rc = check_image_size(s, path, h, w, err);
	if (rc == 0)
		image_to_sample(s, px, h, w, sample);
	free(px);
out:
	free(file);
	return rc;
}

static int next_idx(qp_datasrc *s, int64_t k, float *sample, qp_err *err)
{
	int64_t bytes = s->idx.item_bytes;

	if (qp_idx_seek(&s->idx, k, err) != 0 ||
	    qp_idx_read_items(&s->idx, 1, s->pix, err) != 0)
		return qp_err_prefix(err, "%s: image %lld", s->path, (long long)k);
	if (s->img_c) {
		unsigned char *rgb = NULL;
		const unsigned char *px = s->pix;

		if (s->img_c == 3) {
			rgb = malloc((size_t)bytes * 3);
			if (!rgb)
				return qp_err_set(err, "out of memory");
			for (int64_t i = 0; i < bytes; i++)
				rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = s->pix[i];
			px = rgb;
		}
		image_to_sample(s, px, s->idx_h, s->idx_w, sample);
		free(rgb);
		return 0;
	}
	/* Not image-shaped (say (N,784)): the pixels in order, flattened. */
	for (int64_t i = 0; i < bytes; i++)
		sample[i] = ((float)s->pix[i] * s->o.scale - s->o.mean[0]) / s->o.std[0];
	return 0;
}

int qp_datasrc_next(qp_datasrc *src, float *sample, qp_err *err)
{
	int64_t k;
	int rc = -1;

	if (src->labels)
		qp_bug("qp_datasrc_next: a label source");
	if (src->pos >= src->count)
		return 0;
	k = src->order ? src->order[src->pos] : src->pos;
	switch (src->kind) {
	case SRC_NPY:
	case SRC_NPZ: rc = next_npy(src, k, sample, err); break;
	case SRC_IDX: rc = next_idx(src, k, sample, err); break;
	case SRC_IMAGES: rc = next_image(src, k, sample, err); break;
	}
	if (rc)
		return -1;
	src->pos++;
	return 1;
}

/* ---- labels ------------------------------------------------------------------ */

qp_datasrc *qp_datasrc_open_labels(const char *spec, int64_t want,
				   const qp_datasrc_opts *opts, qp_err *err)
{
	qp_datasrc *s = calloc(1, sizeof *s);
	const char *what;
	struct stat st;
	int rc;

	if (!s)
		return qp_err_set(err, "out of memory"), NULL;
	s->labels = 1;
	s->numel = 1;
	s->path = dup_str(spec ? spec : "-");
	if (!s->path) {
		free(s);
		return qp_err_set(err, "out of memory"), NULL;
	}
	what = qp_is_stdio(s->path) ? "-" : s->path;
	if (!qp_is_stdio(s->path) && stat(s->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		qp_err_set(err, "%s: is a directory, not a label file (.npy or IDX)", s->path);
		qp_datasrc_free(s);
		return NULL;
	}
	if (opts) {
		s->o.shuffle = opts->shuffle;
		s->o.seed = opts->seed;
		s->o.limit = opts->limit;
	}
	rc = open_by_content(s, err);
	if (rc == 0 && s->kind == SRC_NPY) {
		rc = qp_npy_open(&s->npy, s->path, err) ? qp_err_prefix(err, "%s", what) : 0;
		s->npy_open = rc == 0;
		if (rc == 0 && (s->npy.rank != 1 || s->npy.rows != want))
			rc = qp_err_set(err, "%s: labels must have shape (%lld,), not rank %d with %lld rows",
					what, (long long)want, s->npy.rank, (long long)s->npy.rows);
		if (rc == 0 && (s->npy.type == QP_NPY_F32 || s->npy.type == QP_NPY_F64))
			rc = qp_err_set(err, "%s: labels must be integers, not floats", what);
		if (rc == 0) {
			s->total = s->npy.rows;
			s->data_off = ftell(s->npy.fp);
			if (s->o.shuffle && s->data_off < 0)
				rc = qp_err_set(err, "%s: --shuffle needs a file it can seek in, not a pipe",
						what);
		}
	} else if (rc == 0 && s->kind == SRC_IDX) {
		rc = qp_idx_open(&s->idx, s->path, err) ? qp_err_prefix(err, "%s", s->path) : 0;
		if (rc == 0 && (s->idx.rank != 1 || s->idx.items != want))
			rc = qp_err_set(err, "%s: labels must have shape (%lld,), not rank %d with %lld rows",
					s->path, (long long)want, s->idx.rank, (long long)s->idx.items);
		s->total = s->idx.items;
	} else if (rc == 0) {
		rc = qp_err_set(err, "%s: labels must be a .npy of shape (N,) or an IDX label file",
				s->path);
	}
	return finish_open(s, rc, err);
}

int qp_datasrc_next_label(qp_datasrc *src, int64_t *label, qp_err *err)
{
	const char *what = qp_is_stdio(src->path) ? "-" : src->path;
	int64_t k;

	if (!src->labels)
		qp_bug("qp_datasrc_next_label: not a label source");
	if (src->pos >= src->count)
		return 0;
	k = src->order ? src->order[src->pos] : src->pos;
	if (src->kind == SRC_IDX) {
		uint8_t b;

		if (qp_idx_seek(&src->idx, k, err) || qp_idx_read_items(&src->idx, 1, &b, err))
			return qp_err_prefix(err, "%s: label %lld", what, (long long)k);
		*label = b;
	} else {
		if (k != src->npy.rows_read) {
			long off = src->data_off + (long)(k * (int64_t)src->npy.elem_size);

			if (fseek(src->npy.fp, off, SEEK_SET) != 0)
				return qp_err_errno(err, "%s: cannot seek to label %lld", what, (long long)k);
			src->npy.rows_read = k;
		}
		if (qp_npy_read_rows_i64(&src->npy, 1, label, err))
			return qp_err_prefix(err, "%s", what);
	}
	src->pos++;
	return 1;
}

/* ---- command-line helpers ----------------------------------------------------- */

static int parse_dim(const char *s, char **end, int64_t *v)
{
	long long x;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	x = strtoll(s, end, 10);
	if (errno || x < 1 || x > 65535)
		return -1;
	*v = x;
	return 0;
}

int qp_datasrc_parse_size(const char *s, int64_t *height, int64_t *width, qp_err *err)
{
	char *end;
	int64_t w, h;

	if (parse_dim(s, &end, &w))
		goto bad;
	if (*end == 0) {
		*height = *width = w;
		return 0;
	}
	if ((*end != 'x' && *end != 'X') || parse_dim(end + 1, &end, &h) || *end)
		goto bad;
	*height = h;
	*width = w;
	return 0;
bad:
	return qp_err_set(err, "bad size '%s' (want N or WIDTHxHEIGHT, 1..65535)", s);
}

int qp_datasrc_parse_resize(const char *s, qp_resize *r, qp_err *err)
{
	if (strcmp(s, "none") == 0)
		*r = QP_RESIZE_NONE;
	else if (strcmp(s, "bilinear") == 0)
		*r = QP_RESIZE_BILINEAR;
	else if (strcmp(s, "crop") == 0)
		*r = QP_RESIZE_CROP;
	else
		return qp_err_set(err, "bad resize mode '%s' (want none, bilinear or crop)", s);
	return 0;
}

int qp_datasrc_parse_channels(const char *s, qp_channels *c, qp_err *err)
{
	if (strcmp(s, "rgb") == 0)
		*c = QP_CHANNELS_RGB;
	else if (strcmp(s, "bgr") == 0)
		*c = QP_CHANNELS_BGR;
	else if (strcmp(s, "gray") == 0 || strcmp(s, "grey") == 0)
		*c = QP_CHANNELS_GRAY;
	else
		return qp_err_set(err, "bad channels '%s' (want rgb, bgr or gray)", s);
	return 0;
}

int qp_datasrc_parse_floats3(const char *s, float v[3], int positive, qp_err *err)
{
	const char *p = s;
	int n = 0;

	for (;;) {
		char *end;
		double x;

		errno = 0;
		x = strtod(p, &end);
		if (end == p || errno || !isfinite(x) || (positive && x <= 0) || n == 3)
			goto bad;
		v[n++] = (float)x;
		if (*end == 0)
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	if (n == 1)
		v[1] = v[2] = v[0];
	else if (n != 3)
		goto bad;
	return 0;
bad:
	return qp_err_set(err, "bad value list '%s' (want one number or three separated by commas%s)",
			  s, positive ? ", each > 0" : "");
}
