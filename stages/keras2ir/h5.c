/* HDF5 access for Keras files: open an image in memory, read string
 * attributes (h5py writes both fixed- and variable-length strings, depending
 * on the Keras version) and float datasets. */
#include "keras.h"

#include <stdlib.h>
#include <string.h>

/* Bounds what a forged dataspace can make us allocate (2^31 floats = 8 GiB,
 * far beyond any model this importer handles). */
#define KERAS_H5_MAX_ELEMS ((int64_t)1 << 31)

void keras_array_free(keras_array *a)
{
	if (!a)
		return;
	free(a->data);
	a->data = NULL;
	a->numel = 0;
}

void keras_strings_free(char **s, int n)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

static int open_mem_unguarded(const void *buf, size_t len, hid_t *file, qp_err *err)
{
	hid_t fapl, f = -1;

	/* The library prints its error stack to stderr by default; we report
	 * our own one-line messages instead. */
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	/* The core (memory) driver with an initial file image: HDF5 reads the
	 * image from memory, never from a file.  It copies the image; the
	 * no-copy variant (H5LTopen_file_image with DONT_COPY) leaks its
	 * bookkeeping in HDF5 1.10 and needs the high-level library, so the
	 * copy, freed by H5Fclose, is the cleaner trade. */
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
	    H5Pset_file_image(fapl, (void *)buf, len) >= 0)
		f = H5Fopen("keras-weights-in-memory.h5", H5F_ACC_RDONLY, fapl);
	if (fapl >= 0)
		H5Pclose(fapl);
	if (f < 0)
		return qp_err_set(err, "not a readable HDF5 file (truncated or corrupt?)");
	*file = f;
	return 0;
}

static void close_unguarded(hid_t file)
{
	if (file >= 0)
		H5Fclose(file);
}

/* H5Oexists_by_name fails rather than answering "no" when an intermediate
 * group is missing, so walk the path a link at a time. */
static int exists_unguarded(hid_t file, const char *path)
{
	char prefix[2048];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof prefix)
		return 0;
	if (strcmp(path, "/") == 0)
		return 1;
	memcpy(prefix, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (i < n && prefix[i] != '/')
			continue;
		prefix[i] = 0;
		if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0 ||
		    H5Oexists_by_name(file, prefix, H5P_DEFAULT) <= 0)
			return 0;
		if (i < n)
			prefix[i] = '/';
	}
	return 1;
}

/* Opens attribute name of the object at obj_path; -1 when absent. */
static hid_t open_attr(hid_t file, const char *obj_path, const char *name)
{
	if (!exists_unguarded(file, obj_path) ||
	    H5Aexists_by_name(file, obj_path, name, H5P_DEFAULT) <= 0)
		return -1;
	return H5Aopen_by_name(file, obj_path, name, H5P_DEFAULT, H5P_DEFAULT);
}

/* Reads the n strings of a string attribute into malloc'd copies. */
static int read_string_attr(hid_t attr, hid_t type, hssize_t n, char **out,
			    const char *name, qp_err *err)
{
	hid_t mem = H5Tcopy(H5T_C_S1);
	int rc = -1;
	hssize_t i;

	if (mem < 0)
		return qp_err_set(err, "cannot read attribute '%s'", name);
	if (H5Tis_variable_str(type) > 0) {
		char **ptrs = calloc((size_t)n, sizeof *ptrs);
		hid_t space = H5Aget_space(attr);

		H5Tset_size(mem, H5T_VARIABLE);
		H5Tset_cset(mem, H5Tget_cset(type));
		if (ptrs && space >= 0 && H5Aread(attr, mem, ptrs) >= 0) {
			rc = 0;
			for (i = 0; i < n; i++) {
				out[i] = strdup(ptrs[i] ? ptrs[i] : "");
				if (!out[i])
					rc = -1;
			}
			H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs);
		}
		if (space >= 0)
			H5Sclose(space);
		free(ptrs);
	} else {
		size_t size = H5Tget_size(type);
		char *raw = size ? calloc((size_t)n, size) : NULL;

		H5Tset_size(mem, size);
		H5Tset_strpad(mem, H5T_STR_NULLPAD);
		H5Tset_cset(mem, H5Tget_cset(type));
		if (raw && H5Aread(attr, mem, raw) >= 0) {
			rc = 0;
			for (i = 0; i < n; i++) {
				out[i] = strndup(raw + (size_t)i * size, size);
				if (!out[i])
					rc = -1;
			}
		}
		free(raw);
	}
	H5Tclose(mem);
	if (rc != 0)
		qp_err_set(err, "cannot read string attribute '%s'", name);
	return rc;
}

/* Element count of an attribute's dataspace (scalar = 1), or -1. */
static hssize_t attr_count(hid_t attr)
{
	hid_t space = H5Aget_space(attr);
	hssize_t n;

	if (space < 0)
		return -1;
	n = H5Sget_simple_extent_npoints(space);
	H5Sclose(space);
	return n;
}

static int attr_string_unguarded(hid_t file, const char *obj_path, const char *name,
				 char **out, qp_err *err)
{
	hid_t attr, type;
	int rc = -1;

	*out = NULL;
	attr = open_attr(file, obj_path, name);
	if (attr < 0)
		return qp_err_set(err, "no '%s' attribute on '%s'", name, obj_path);
	type = H5Aget_type(attr);
	if (type >= 0 && H5Tget_class(type) == H5T_STRING && attr_count(attr) == 1)
		rc = read_string_attr(attr, type, 1, out, name, err);
	else
		qp_err_set(err, "attribute '%s' on '%s' is not a string", name, obj_path);
	if (type >= 0)
		H5Tclose(type);
	H5Aclose(attr);
	return rc;
}

static int attr_strings_unguarded(hid_t file, const char *obj_path, const char *name,
				  char ***out, int *n, qp_err *err)
{
	hid_t attr, type;
	hssize_t count;
	char **strs;
	int rc;

	*out = NULL;
	*n = 0;
	attr = open_attr(file, obj_path, name);
	if (attr < 0)
		return 0;
	type = H5Aget_type(attr);
	count = attr_count(attr);
	/* h5py stores an empty list as a float64 array of length 0. */
	if (type < 0 || count <= 0 || H5Tget_class(type) != H5T_STRING) {
		if (type >= 0)
			H5Tclose(type);
		H5Aclose(attr);
		if (count > 0)
			return qp_err_set(err, "attribute '%s' on '%s' is not a string list",
					  name, obj_path);
		return 0;
	}
	if (count > 1000000) {
		H5Tclose(type);
		H5Aclose(attr);
		return qp_err_set(err, "attribute '%s' on '%s' has too many entries",
				  name, obj_path);
	}
	strs = calloc((size_t)count, sizeof *strs);
	rc = strs ? read_string_attr(attr, type, count, strs, name, err)
		  : qp_err_set(err, "out of memory");
	H5Tclose(type);
	H5Aclose(attr);
	if (rc != 0) {
		keras_strings_free(strs, (int)count);
		return -1;
	}
	*out = strs;
	*n = (int)count;
	return 0;
}

static int read_floats_unguarded(hid_t file, const char *path, keras_array *a,
				 qp_err *err)
{
	hsize_t hdims[H5S_MAX_RANK];
	hid_t ds, type = -1, space = -1;
	int rank, i, rc = -1;

	memset(a, 0, sizeof *a);
	if (!exists_unguarded(file, path))
		return qp_err_set(err, "no weight dataset '%s'", path);
	ds = H5Dopen2(file, path, H5P_DEFAULT);
	if (ds < 0)
		return qp_err_set(err, "'%s' is not a dataset", path);
	type = H5Dget_type(ds);
	space = H5Dget_space(ds);
	if (type < 0 || space < 0 || H5Tget_class(type) != H5T_FLOAT) {
		qp_err_set(err, "weight '%s' is not a float array", path);
		goto out;
	}
	rank = H5Sget_simple_extent_ndims(space);
	if (rank < 0 || rank > QP_MAX_RANK) {
		qp_err_set(err, "weight '%s' has unsupported rank %d", path, rank);
		goto out;
	}
	H5Sget_simple_extent_dims(space, hdims, NULL);
	a->rank = rank;
	a->numel = 1;
	for (i = 0; i < rank; i++) {
		if (hdims[i] > (hsize_t)KERAS_H5_MAX_ELEMS ||
		    a->numel * (int64_t)hdims[i] > KERAS_H5_MAX_ELEMS) {
			qp_err_set(err, "weight '%s' is too large", path);
			goto out;
		}
		a->dims[i] = (int64_t)hdims[i];
		a->numel *= a->dims[i];
	}
	a->data = malloc((size_t)(a->numel ? a->numel : 1) * sizeof(float));
	if (!a->data) {
		qp_err_set(err, "out of memory reading weight '%s'", path);
		goto out;
	}
	if (a->numel && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
				H5P_DEFAULT, a->data) < 0) {
		qp_err_set(err, "cannot read weight '%s' (corrupt file?)", path);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		keras_array_free(a);
	if (space >= 0)
		H5Sclose(space);
	if (type >= 0)
		H5Tclose(type);
	H5Dclose(ds);
	return rc;
}

/* ---- the public functions: every HDF5 call runs inside the guard --------- */

/* HDF5 1.10 does not check everything it reads: fuzzing found a damaged
 * file that makes H5Aexists_by_name read out of bounds and crash.  While
 * keras_h5_depth > 0, keras2ir's main turns a fatal signal into an error
 * message and exit 1 (see main.c); elsewhere signals keep their default
 * meaning, so crashes in our own code still show as crashes. */
volatile sig_atomic_t keras_h5_depth;

int keras_h5_open_mem(const void *buf, size_t len, hid_t *file, qp_err *err)
{
	int rc;

	keras_h5_depth++;
	rc = open_mem_unguarded(buf, len, file, err);
	keras_h5_depth--;
	return rc;
}

void keras_h5_close(hid_t file)
{
	keras_h5_depth++;
	close_unguarded(file);
	keras_h5_depth--;
}

int keras_h5_exists(hid_t file, const char *path)
{
	int rc;

	keras_h5_depth++;
	rc = exists_unguarded(file, path);
	keras_h5_depth--;
	return rc;
}

int keras_h5_attr_string(hid_t file, const char *obj_path, const char *name,
			 char **out, qp_err *err)
{
	int rc;

	keras_h5_depth++;
	rc = attr_string_unguarded(file, obj_path, name, out, err);
	keras_h5_depth--;
	return rc;
}

int keras_h5_attr_strings(hid_t file, const char *obj_path, const char *name,
			  char ***out, int *n, qp_err *err)
{
	int rc;

	keras_h5_depth++;
	rc = attr_strings_unguarded(file, obj_path, name, out, n, err);
	keras_h5_depth--;
	return rc;
}

int keras_h5_read_floats(hid_t file, const char *path, keras_array *a,
			 qp_err *err)
{
	int rc;

	keras_h5_depth++;
	rc = read_floats_unguarded(file, path, a, err);
	keras_h5_depth--;
	return rc;
}
