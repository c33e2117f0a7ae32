/* The .npy reader and writer.  Files are built byte by byte here, following
 * numpy's format spec (numpy/lib/format.py), so the reader is checked
 * against the format rather than against our own writer. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "npy.h"

/* Writes magic + version + header dict (padded to 64 as numpy does) +
 * data into a temporary file; returns its path (static buffer). */
static const char *make_npy(int major, const char *dict, const void *data,
			    size_t nbytes, size_t cut)
{
	static char path[64];
	unsigned char buf[4096];
	size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict), total, hlen;
	FILE *fp;
	int fd;

	total = (pre + dlen + 1 + 63) / 64 * 64;
	hlen = total - pre;
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	buf[8] = (unsigned char)(hlen & 0xff);
	buf[9] = (unsigned char)(hlen >> 8);
	if (major != 1)
		buf[10] = buf[11] = 0;
	memcpy(buf + pre, dict, dlen);
	memset(buf + pre + dlen, ' ', hlen - dlen - 1);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, nbytes);
	strcpy(path, "/tmp/qpipe-npy-XXXXXX");
	fd = mkstemp(path);
	fp = fdopen(fd, "wb");
	fwrite(buf, 1, total + nbytes - cut, fp);
	fclose(fp);
	return path;
}

static void test_v1_float32(void)
{
	float data[6] = {1, 2, 3, 4, 5, 6}, got[6];
	const char *p = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
				 data, sizeof data, 0);
	qp_npy r;
	qp_err err = {{0}};

	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(r.rank == 2 && r.dims[0] == 3 && r.dims[1] == 2);
	CHECK(r.rows == 3 && r.row_elems == 2);
	CHECK(qp_npy_read_rows_f32(&r, 2, got, &err) == 0);
	CHECK(qp_npy_read_rows_f32(&r, 1, got + 4, &err) == 0);
	CHECK(memcmp(got, data, sizeof data) == 0);
	/* Past the end is an error, not a silent short read. */
	CHECK(qp_npy_read_rows_f32(&r, 1, got, &err) == -1);
	qp_npy_close(&r);
	unlink(p);
}

static void test_v2_header(void)
{
	float data[2] = {7, 8}, got[2];
	const char *p = make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
				 data, sizeof data, 0);
	qp_npy r;
	qp_err err = {{0}};

	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(r.rank == 1 && r.rows == 2 && r.row_elems == 1);
	CHECK(qp_npy_read_rows_f32(&r, 2, got, &err) == 0);
	CHECK(got[0] == 7 && got[1] == 8);
	qp_npy_close(&r);
	unlink(p);
}

static void test_conversions(void)
{
	double d[3] = {0.5, -2.25, 1e3};
	int64_t l[3] = {-5, 0, 1234567}, li[3];
	uint8_t u[3] = {0, 128, 255};
	float got[3];
	qp_npy r;
	qp_err err = {{0}};
	const char *p;

	p = make_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", d, sizeof d, 0);
	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(qp_npy_read_rows_f32(&r, 3, got, &err) == 0);
	CHECK(got[0] == 0.5f && got[1] == -2.25f && got[2] == 1000.0f);
	qp_npy_close(&r);
	/* Floats are not labels. */
	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(qp_npy_read_rows_i64(&r, 3, li, &err) == -1);
	CHECK_STR(err.msg, "expected integers, the array holds floats");
	qp_npy_close(&r);
	unlink(p);

	p = make_npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", l, sizeof l, 0);
	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(qp_npy_read_rows_i64(&r, 3, li, &err) == 0);
	CHECK(li[0] == -5 && li[1] == 0 && li[2] == 1234567);
	qp_npy_close(&r);
	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(qp_npy_read_rows_f32(&r, 3, got, &err) == 0);
	CHECK(got[0] == -5.0f && got[2] == 1234567.0f);
	qp_npy_close(&r);
	unlink(p);

	p = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", u, sizeof u, 0);
	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(qp_npy_read_rows_f32(&r, 3, got, &err) == 0);
	CHECK(got[0] == 0.0f && got[1] == 128.0f && got[2] == 255.0f);
	qp_npy_close(&r);
	CHECK(qp_npy_open(&r, p, &err) == 0);
	CHECK(qp_npy_read_rows_i64(&r, 3, li, &err) == 0);
	CHECK(li[1] == 128 && li[2] == 255);
	qp_npy_close(&r);
	unlink(p);
}

static void expect_open_error(const char *p, const char *want)
{
	qp_npy r;
	qp_err err = {{0}};

	CHECK(qp_npy_open(&r, p, &err) == -1);
	CHECK_STR(err.msg, want);
	CHECK(r.fp == NULL);
	unlink(p);
}

static void test_rejects(void)
{
	float data[4] = {0};
	const char *p;
	FILE *fp;
	char path[] = "/tmp/qpipe-npy-XXXXXX";
	int fd;

	p = make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data, sizeof data, 0);
	expect_open_error(p, "fortran_order True is not supported; save the array in C order");
	p = make_npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", data, sizeof data, 0);
	expect_open_error(p, "big-endian dtype '>f4' is not supported");
	p = make_npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data, 16, 0);
	expect_open_error(p, "unsupported dtype '<c8' (want float32/64, int8/16/32/64, uint8 or bool)");
	p = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data, sizeof data, 3);
	expect_open_error(p, "truncated data: the header promises 144 bytes, the file has 141");
	p = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data, sizeof data + 0, 0);
	{
		/* one byte too many */
		FILE *a = fopen(p, "ab");

		fputc(0, a);
		fclose(a);
	}
	expect_open_error(p, "1 bytes of trailing garbage after the array");
	p = make_npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data, 4, 0);
	{
		/* 3.0 is accepted (utf-8 header) */
		qp_npy r;
		qp_err err = {{0}};

		CHECK(qp_npy_open(&r, p, &err) == 0);
		qp_npy_close(&r);
		unlink(p);
	}
	p = make_npy(4, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data, 4, 0);
	expect_open_error(p, ".npy format version 4.0 is not supported");
	p = make_npy(1, "{'descr': '<f4', 'shape': (1,), }", data, 4, 0);
	expect_open_error(p, "bad .npy header: missing 'descr', 'fortran_order' or 'shape'");

	fd = mkstemp(path);
	fp = fdopen(fd, "wb");
	fputs("PK\x03\x04 not an npy file", fp);
	fclose(fp);
	expect_open_error(path, "not a .npy file (bad magic)");
}

/* Header as numpy writes it: magic, 1.0, dict padded with spaces and a
 * '\n' so the data starts at a multiple of 64 (here 128, header len 118). */
static void test_writer(void)
{
	int64_t dims[2] = {2, 3};
	float data[6] = {1, 2, 3, 4, 5, 6}, got[6];
	const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	char path[] = "/tmp/qpipe-npy-XXXXXX";
	unsigned char buf[256];
	qp_err err = {{0}};
	qp_npy r;
	FILE *fp;
	size_t n;

	close(mkstemp(path));
	CHECK(qp_npy_save(path, QP_NPY_F32, 2, dims, data, 0, &err) == 0);
	fp = fopen(path, "rb");
	n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	CHECK(n == 128 + 24);
	CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
	CHECK(buf[8] == 118 && buf[9] == 0);
	CHECK(memcmp(buf + 10, want, strlen(want)) == 0);
	CHECK(buf[127] == '\n' && buf[126] == ' ');
	CHECK(qp_npy_open(&r, path, &err) == 0);
	CHECK(qp_npy_read_rows_f32(&r, 2, got, &err) == 0);
	CHECK(memcmp(got, data, sizeof data) == 0);
	qp_npy_close(&r);
	dims[0] = 5;
	CHECK(qp_npy_save(path, QP_NPY_I64, 1, dims, (int64_t[]){1, 2, 3, 4, 5}, 0, &err) == 0);
	fp = fopen(path, "rb");
	n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	CHECK(memcmp(buf + 10, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 57) == 0);
	unlink(path);
}

/* Every truncated prefix of a valid file is an error, never a crash. */
static void test_every_prefix(void)
{
	float data[6] = {1, 2, 3, 4, 5, 6}, got[6];
	size_t total = 128 + sizeof data;
	int failures = 0;

	for (size_t cut = 1; cut < total; cut++) {
		const char *p = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
					 data, sizeof data, cut);
		qp_npy r;
		qp_err err = {{0}};

		if (qp_npy_open(&r, p, &err) == 0) {
			failures += qp_npy_read_rows_f32(&r, 3, got, &err) == 0;
			qp_npy_close(&r);
		}
		failures += err.msg[0] == 0;
		unlink(p);
	}
	CHECK(failures == 0);
}

int main(void)
{
	TEST(test_v1_float32);
	TEST(test_v2_header);
	TEST(test_conversions);
	TEST(test_rejects);
	TEST(test_writer);
	TEST(test_every_prefix);
	return CHECK_DONE();
}
