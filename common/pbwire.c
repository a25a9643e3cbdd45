#include "pbwire.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The wire types of the protobuf encoding. */
enum pbwire_type {
	PBWIRE_VARINT = 0,
	PBWIRE_FIXED64 = 1,
	PBWIRE_LEN = 2,
	PBWIRE_GROUP_START = 3,
	PBWIRE_GROUP_END = 4,
	PBWIRE_FIXED32 = 5,
};

/* One field as read off the wire; data/len only for PBWIRE_LEN. */
struct pbwire_field {
	uint64_t number;
	unsigned type;
	const uint8_t *data;
	size_t len;
};

/*
 * Reads the varint at buf[*pos..len) into *v and moves *pos past it. At
 * most 10 bytes; bits past the 64th of a 10-byte varint are dropped, as
 * protobuf does. False when it is truncated or longer.
 */
static bool
pbwire_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < 10 && *pos < len; i++) {
		uint8_t b = buf[(*pos)++];
		x |= (uint64_t) (b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

static enum pbwire_result pbwire_skip_group(const uint8_t *buf, size_t len,
        size_t *pos, uint64_t number, unsigned depth);

/*
 * Reads the field at buf[*pos..len) into *f and moves *pos past it. A
 * group is skipped whole (its end included) and reported as
 * PBWIRE_GROUP_START; an end-group is reported for the caller to judge.
 * depth is that of the message being read.
 */
static enum pbwire_result
pbwire_next(const uint8_t *buf, size_t len, size_t *pos, unsigned depth,
        struct pbwire_field *f)
{
	uint64_t tag, n;
	if (!pbwire_varint(buf, len, pos, &tag)) {
		return PBWIRE_MALFORMED;
	}
	f->number = tag >> 3;
	f->type = (unsigned) (tag & 7);
	switch (f->type) {
	case PBWIRE_VARINT:
		return pbwire_varint(buf, len, pos, &n) ? PBWIRE_OK
		                                        : PBWIRE_MALFORMED;
	case PBWIRE_FIXED64:
	case PBWIRE_FIXED32:
		n = f->type == PBWIRE_FIXED64 ? 8 : 4;
		if (len - *pos < n) {
			return PBWIRE_MALFORMED;
		}
		*pos += n;
		return PBWIRE_OK;
	case PBWIRE_LEN:
		if (!pbwire_varint(buf, len, pos, &n) || n > len - *pos) {
			return PBWIRE_MALFORMED;
		}
		f->data = buf + *pos;
		f->len = (size_t) n;
		*pos += (size_t) n;
		return PBWIRE_OK;
	case PBWIRE_GROUP_START:
		if (depth + 1 > PBWIRE_MAX_DEPTH) {
			return PBWIRE_TOO_DEEP;
		}
		return pbwire_skip_group(buf, len, pos, f->number, depth + 1);
	case PBWIRE_GROUP_END:
		return PBWIRE_OK;
	default:
		return PBWIRE_MALFORMED; /* 6 and 7 are not wire types */
	}
}

/* Skips the fields of a group up to and including its end-group. */
static enum pbwire_result
pbwire_skip_group(const uint8_t *buf, size_t len, size_t *pos, uint64_t number,
        unsigned depth)
{
	while (*pos < len) {
		struct pbwire_field f;
		enum pbwire_result r = pbwire_next(buf, len, pos, depth, &f);
		if (r != PBWIRE_OK) {
			return r;
		}
		if (f.type == PBWIRE_GROUP_END) {
			return f.number == number ? PBWIRE_OK
			                          : PBWIRE_MALFORMED;
		}
	}
	return PBWIRE_MALFORMED; /* no end-group */
}

/*
 * Prepends seg to path ("seg" when path is empty, else "seg.path"),
 * keeping it within pathlen bytes: what does not fit is cut at the end.
 */
static void
pbwire_prepend(char *path, size_t pathlen, const char *seg)
{
	if (pathlen == 0) {
		return;
	}
	size_t sl = strlen(seg), pl = strlen(path);
	size_t dot = pl > 0 ? 1 : 0;
	if (sl + dot >= pathlen) {
		memcpy(path, seg, pathlen - 1);
		path[pathlen - 1] = '\0';
		return;
	}
	size_t keep = pl;
	if (sl + dot + keep >= pathlen) {
		keep = pathlen - 1 - sl - dot;
	}
	memmove(path + sl + dot, path, keep);
	path[sl + dot + keep] = '\0';
	memcpy(path, seg, sl);
	if (dot) {
		path[sl] = '.';
	}
}

/*
 * Prepends the name of field fd, found at buf[start] in a message of
 * buf[0..len), to path: with its index when it is repeated, which is the
 * number of its occurrences before start. That takes a second walk over
 * the fields before it, but only on the way out of a rejection.
 */
static void
pbwire_name(const ProtobufCFieldDescriptor *fd, const uint8_t *buf,
        size_t start, unsigned depth, char *path, size_t pathlen)
{
	char seg[160];
	if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
		snprintf(seg, sizeof(seg), "%s", fd->name);
		pbwire_prepend(path, pathlen, seg);
		return;
	}
	size_t index = 0, pos = 0;
	while (pos < start) {
		struct pbwire_field f;
		if (pbwire_next(buf, start, &pos, depth, &f) != PBWIRE_OK) {
			break; /* cannot happen: this part was read already */
		}
		if (f.type == PBWIRE_LEN && f.number == fd->id) {
			index++;
		}
	}
	snprintf(seg, sizeof(seg), "%s[%zu]", fd->name, index);
	pbwire_prepend(path, pathlen, seg);
}

/*
 * pbwire_next with the field's descriptor in *fd: NULL for a field d does
 * not know (skipped, as unpacking ignores it). A group end here is outside
 * any group: MALFORMED.
 */
static enum pbwire_result
pbwire_next_known(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
        size_t len, size_t *pos, unsigned depth, struct pbwire_field *f,
        const ProtobufCFieldDescriptor **fd)
{
	*fd = NULL;
	enum pbwire_result r = pbwire_next(buf, len, pos, depth, f);
	if (r != PBWIRE_OK) {
		return r;
	}
	if (f->type == PBWIRE_GROUP_END) {
		return PBWIRE_MALFORMED;
	}
	if (f->number <= UINT32_MAX) {
		*fd = protobuf_c_message_descriptor_get_field(
		        d, (unsigned) f->number);
	}
	return PBWIRE_OK;
}

/*
 * Scans the message of descriptor d in buf[0..len), at depth (0 for the
 * outermost). On PBWIRE_NUL, path holds the path below this message.
 */
static enum pbwire_result
pbwire_scan(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
        size_t len, unsigned depth, char *path, size_t pathlen)
{
	size_t pos = 0;
	while (pos < len) {
		size_t start = pos;
		struct pbwire_field f;
		const ProtobufCFieldDescriptor *fd;
		enum pbwire_result r
		        = pbwire_next_known(d, buf, len, &pos, depth, &f, &fd);
		if (r != PBWIRE_OK) {
			return r;
		}
		if (fd == NULL || f.type != PBWIRE_LEN) {
			continue; /* unknown: skipped, as unpacking ignores it
			           */
		}
		if (fd->type == PROTOBUF_C_TYPE_STRING) {
			if (memchr(f.data, 0, f.len) != NULL) {
				pbwire_name(
				        fd, buf, start, depth, path, pathlen);
				return PBWIRE_NUL;
			}
		} else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (depth + 1 > PBWIRE_MAX_DEPTH) {
				return PBWIRE_TOO_DEEP;
			}
			r = pbwire_scan(fd->descriptor, f.data, f.len,
			        depth + 1, path, pathlen);
			if (r == PBWIRE_NUL) {
				pbwire_name(
				        fd, buf, start, depth, path, pathlen);
			}
			if (r != PBWIRE_OK) {
				return r;
			}
		}
	}
	return PBWIRE_OK;
}

enum pbwire_result
pbwire_find_nul(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
        size_t len, char *path, size_t pathlen)
{
	if (pathlen > 0) {
		path[0] = '\0';
	}
	return pbwire_scan(d, buf, len, 0, path, pathlen);
}

/*
 * Counts the repeated fields of the message of descriptor d in
 * buf[0..len), at depth, and of every message inside it. On
 * PBWIRE_TOO_MANY, path holds the path below this message.
 */
static enum pbwire_result
pbwire_crowded(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
        size_t len, size_t max, unsigned depth, char *path, size_t pathlen)
{
	size_t count[PBWIRE_COUNTED_FIELDS] = { 0 };
	size_t pos = 0;
	while (pos < len) {
		size_t start = pos;
		struct pbwire_field f;
		const ProtobufCFieldDescriptor *fd;
		enum pbwire_result r
		        = pbwire_next_known(d, buf, len, &pos, depth, &f, &fd);
		if (r != PBWIRE_OK) {
			return r;
		}
		if (fd == NULL) {
			continue;
		}
		size_t i = (size_t) (fd - d->fields);
		bool packed = f.type == PBWIRE_LEN
		        && fd->type != PROTOBUF_C_TYPE_MESSAGE
		        && fd->type != PROTOBUF_C_TYPE_STRING
		        && fd->type != PROTOBUF_C_TYPE_BYTES;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED && !packed
		        && i < PBWIRE_COUNTED_FIELDS && ++count[i] > max) {
			/* Named without an index: the field as a whole. */
			char seg[160];
			snprintf(seg, sizeof(seg), "%s", fd->name);
			pbwire_prepend(path, pathlen, seg);
			return PBWIRE_TOO_MANY;
		}
		if (f.type != PBWIRE_LEN
		        || fd->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		if (depth + 1 > PBWIRE_MAX_DEPTH) {
			return PBWIRE_TOO_DEEP;
		}
		r = pbwire_crowded(fd->descriptor, f.data, f.len, max,
		        depth + 1, path, pathlen);
		if (r == PBWIRE_TOO_MANY) {
			pbwire_name(fd, buf, start, depth, path, pathlen);
		}
		if (r != PBWIRE_OK) {
			return r;
		}
	}
	return PBWIRE_OK;
}

enum pbwire_result
pbwire_find_crowded(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
        size_t len, size_t max, char *path, size_t pathlen)
{
	if (pathlen > 0) {
		path[0] = '\0';
	}
	return pbwire_crowded(d, buf, len, max, 0, path, pathlen);
}

bool
pbwire_top_bytes(const uint8_t *buf, size_t len, uint32_t number,
        const uint8_t **data, size_t *n)
{
	const uint8_t *last = NULL;
	size_t last_len = 0;
	size_t pos = 0;
	while (pos < len) {
		struct pbwire_field f;
		if (pbwire_next(buf, len, &pos, 0, &f) != PBWIRE_OK
		        || f.type == PBWIRE_GROUP_END) {
			return false;
		}
		if (f.type == PBWIRE_LEN && f.number == number) {
			last = f.data;
			last_len = f.len;
		}
	}
	if (last == NULL) {
		return false;
	}
	*data = last;
	*n = last_len;
	return true;
}
