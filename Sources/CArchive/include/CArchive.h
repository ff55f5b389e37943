// libarchive, loaded on first use: linking libarchive.so pulls ~16 shared libraries (libcrypto, libxml2, …) into
// every boxbench start-up (~1.5 ms here, paid by `boxbench container run` too), so the image code dlopen()s it.
#pragma once
#include <archive.h>
#include <archive_entry.h>

// Every libarchive function boxbench calls: X(return type, name, parameters, arguments); XV for void ones.
#define BB_ARCHIVE_FUNCTIONS(X, XV) \
    X(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *entry), (entry)) \
    XV(archive_entry_free, (struct archive_entry *entry), (entry)) \
    X(la_int64_t, archive_entry_gid, (struct archive_entry *entry), (entry)) \
    X(const char *, archive_entry_hardlink, (struct archive_entry *entry), (entry)) \
    X(const char *, archive_entry_hardlink_utf8, (struct archive_entry *entry), (entry)) \
    X(time_t, archive_entry_mtime, (struct archive_entry *entry), (entry)) \
    X(struct archive_entry *, archive_entry_new, (void), ()) \
    X(const char *, archive_entry_pathname, (struct archive_entry *entry), (entry)) \
    X(const char *, archive_entry_pathname_utf8, (struct archive_entry *entry), (entry)) \
    X(__LA_MODE_T, archive_entry_perm, (struct archive_entry *entry), (entry)) \
    X(dev_t, archive_entry_rdevmajor, (struct archive_entry *entry), (entry)) \
    X(dev_t, archive_entry_rdevminor, (struct archive_entry *entry), (entry)) \
    XV(archive_entry_set_filetype, (struct archive_entry *entry, unsigned int type), (entry, type)) \
    XV(archive_entry_set_gid, (struct archive_entry *entry, la_int64_t gid), (entry, gid)) \
    XV(archive_entry_set_hardlink, (struct archive_entry *entry, const char *target), (entry, target)) \
    XV(archive_entry_set_symlink, (struct archive_entry *entry, const char *target), (entry, target)) \
    XV(archive_entry_set_hardlink_utf8, (struct archive_entry *entry, const char *target), (entry, target)) \
    XV(archive_entry_set_mtime, (struct archive_entry *entry, time_t sec, long nsec), (entry, sec, nsec)) \
    XV(archive_entry_set_pathname, (struct archive_entry *entry, const char *path), (entry, path)) \
    XV(archive_entry_set_pathname_utf8, (struct archive_entry *entry, const char *path), (entry, path)) \
    XV(archive_entry_set_perm, (struct archive_entry *entry, __LA_MODE_T perm), (entry, perm)) \
    XV(archive_entry_set_rdevmajor, (struct archive_entry *entry, dev_t major), (entry, major)) \
    XV(archive_entry_set_rdevminor, (struct archive_entry *entry, dev_t minor), (entry, minor)) \
    XV(archive_entry_set_size, (struct archive_entry *entry, la_int64_t size), (entry, size)) \
    XV(archive_entry_set_symlink_utf8, (struct archive_entry *entry, const char *target), (entry, target)) \
    XV(archive_entry_set_uid, (struct archive_entry *entry, la_int64_t uid), (entry, uid)) \
    X(la_int64_t, archive_entry_size, (struct archive_entry *entry), (entry)) \
    X(const char *, archive_entry_symlink, (struct archive_entry *entry), (entry)) \
    X(const char *, archive_entry_symlink_utf8, (struct archive_entry *entry), (entry)) \
    X(la_int64_t, archive_entry_uid, (struct archive_entry *entry), (entry)) \
    XV(archive_entry_xattr_add_entry, (struct archive_entry *entry, const char *name, const void *value, size_t size), \
       (entry, name, value, size)) \
    X(int, archive_entry_xattr_reset, (struct archive_entry *entry), (entry)) \
    X(int, archive_entry_xattr_next, (struct archive_entry *entry, const char **name, const void **value, size_t *size), \
      (entry, name, value, size)) \
    X(const char *, archive_error_string, (struct archive *a), (a)) \
    X(la_ssize_t, archive_read_data, (struct archive *a, void *buf, size_t len), (a, buf, len)) \
    X(int, archive_read_free, (struct archive *a), (a)) \
    X(struct archive *, archive_read_new, (void), ()) \
    X(int, archive_read_next_header, (struct archive *a, struct archive_entry **entry), (a, entry)) \
    X(int, archive_read_open_filename, (struct archive *a, const char *filename, size_t block_size), (a, filename, block_size)) \
    X(int, archive_read_support_filter_all, (struct archive *a), (a)) \
    X(int, archive_read_support_format_gnutar, (struct archive *a), (a)) \
    X(int, archive_read_support_format_raw, (struct archive *a), (a)) \
    X(int, archive_read_support_format_tar, (struct archive *a), (a)) \
    X(int, archive_write_add_filter_gzip, (struct archive *a), (a)) \
    X(int, archive_write_close, (struct archive *a), (a)) \
    X(la_ssize_t, archive_write_data, (struct archive *a, const void *buf, size_t len), (a, buf, len)) \
    X(int, archive_write_free, (struct archive *a), (a)) \
    X(int, archive_write_header, (struct archive *a, struct archive_entry *entry), (a, entry)) \
    X(struct archive *, archive_write_new, (void), ()) \
    X(int, archive_write_open, (struct archive *a, void *client, archive_open_callback *open_cb, archive_write_callback *write_cb, archive_close_callback *close_cb), (a, client, open_cb, write_cb, close_cb)) \
    X(int, archive_write_open_filename, (struct archive *a, const char *file), (a, file)) \
    X(int, archive_write_set_bytes_in_last_block, (struct archive *a, int bytes), (a, bytes)) \
    X(int, archive_write_set_bytes_per_block, (struct archive *a, int bytes), (a, bytes)) \
    X(int, archive_write_set_filter_option, (struct archive *a, const char *module, const char *option, const char *value), (a, module, option, value)) \
    X(int, archive_write_set_format_pax_restricted, (struct archive *a), (a)) \
    X(int, archive_write_set_format_raw, (struct archive *a), (a))

#define BB_ARCHIVE_DECLARE(ret, name, params, args) ret bb_##name params;
#define BB_ARCHIVE_DECLARE_VOID(name, params, args) void bb_##name params;
BB_ARCHIVE_FUNCTIONS(BB_ARCHIVE_DECLARE, BB_ARCHIVE_DECLARE_VOID)

/// Loads libarchive.so.13 and resolves every function above, once. NULL on success, else why it failed.
const char *bb_archive_load(void);
