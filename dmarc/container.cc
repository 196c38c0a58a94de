// read_report(): the containers receivers wrap reports in, detected by their
// first bytes, opened with Debian's libraries and bounded on what they
// produce (dmarc/report.h, limits):
//   gzip   zlib (RFC 1952), members concatenated as gzip(1) allows
//   zip    libzip from memory (zip_source_buffer_create): the one .xml entry
//   e-mail GMime 3.0: the first part that is a report by type or file name
//          (forwarded messages looked into), its Content-Transfer-Encoding
//          (base64, quoted-printable) decoded
// then whatever that produced, recursively, down to the XML.
// RFC 7489 §7.2.1.1: the report is sent as an attachment, gzip'd (or zip'd)
// XML, of type application/gzip (or application/zip); receivers also send
// application/x-gzip, application/octet-stream with a .gz name, text/xml.
#include <fmt/format.h>
#include <gmime/gmime.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "base/ascii.h"
#include "dmarc/report.h"

namespace signet::dmarc {
namespace {

constexpr std::string_view kMiB = " MiB";

Error too_big(std::string_view what) {
  return permanent_error(fmt::format("{} decompresses to more than {}{}, the bound on a report", what,
                                     limits::kMaxReportBytes >> 20, kMiB));
}

bool is_gzip(std::string_view b) { return b.size() >= 2 && b[0] == '\x1f' && b[1] == '\x8b'; }
bool is_zip(std::string_view b) { return b.size() >= 4 && b.substr(0, 4) == std::string_view("PK\x03\x04", 4); }

// XML: "<" after white space, or a UTF-8/UTF-16 byte-order mark (XML 1.0 §4.3.3).
bool is_xml(std::string_view b) {
  if (b.starts_with("\xEF\xBB\xBF")) b.remove_prefix(3);
  if (b.starts_with("\xFF\xFE") || b.starts_with("\xFE\xFF")) return true;
  const std::size_t i = b.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && b[i] == '<';
}

// An RFC 5322 message starts with a header field, "name:" with name printable
// US-ASCII but colon (§2.2), or an mbox "From " line.
bool is_message(std::string_view b) {
  if (b.starts_with("From ")) return true;
  std::size_t i = 0;
  while (i < b.size() && i < 1000 && b[i] > 32 && b[i] < 127 && b[i] != ':') ++i;
  return i > 0 && i < b.size() && b[i] == ':';
}

Result<std::string> gunzip(std::string_view in) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper (RFC 1952), not raw deflate or zlib.
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return permanent_error("gzip: zlib could not start");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  std::string out;
  char buf[1 << 16];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      return permanent_error(fmt::format("gzip: corrupt data ({})", zs.msg ? zs.msg : "inflate failed"));
    }
    const std::size_t produced = sizeof buf - zs.avail_out;
    if (out.size() + produced > limits::kMaxReportBytes) return too_big("gzip");
    out.append(buf, produced);
    if (rc == Z_STREAM_END) {
      // gzip(1) reads members written one after the other as one stream.
      if (zs.avail_in > 0 && is_gzip(std::string_view(reinterpret_cast<const char*>(zs.next_in), zs.avail_in))) {
        if (inflateReset(&zs) != Z_OK) return permanent_error("gzip: zlib could not go on to the next member");
        continue;
      }
      return out;
    }
    if (rc == Z_BUF_ERROR || (zs.avail_in == 0 && produced == 0)) {
      return permanent_error("gzip: truncated (the stream ends before its end marker)");
    }
  }
}

Result<std::string> unzip(std::string_view in) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(in.data(), in.size(), 0, &err);
  if (!src) {
    zip_error_fini(&err);
    return permanent_error("zip: libzip could not read the buffer");
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
  if (!za) {
    std::string why = zip_error_strerror(&err);
    zip_source_free(src);
    zip_error_fini(&err);
    return permanent_error("zip: not a readable archive (" + why + ")");
  }
  zip_error_fini(&err);
  std::unique_ptr<zip_t, void (*)(zip_t*)> archive(za, zip_discard);
  const zip_int64_t n = zip_get_num_entries(za, 0);
  if (n > limits::kMaxZipEntries) {
    return permanent_error(fmt::format("zip: {} entries (a report zip holds one file; at most {})", n, limits::kMaxZipEntries));
  }
  // The entry: the one named *.xml, else the one file there is.
  zip_int64_t pick = -1, files = 0, xml = 0;
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(za, static_cast<zip_uint64_t>(i), 0);
    const std::string lower = ascii::to_lower(name ? name : "");
    if (lower.empty() || lower.back() == '/') continue;
    ++files;
    if (lower.ends_with(".xml")) {
      if (++xml == 1) pick = i;
    } else if (files == 1 && xml == 0) {
      pick = i;
    }
  }
  if (xml > 1) return permanent_error(fmt::format("zip: {} XML files (a report zip holds one)", xml));
  if (xml == 0 && files != 1) return permanent_error(fmt::format("zip: {} files and none named *.xml", files));
  const auto index = static_cast<zip_uint64_t>(pick);
  zip_stat_t st;
  zip_stat_init(&st);
  // The declared size is checked first (a 10 GB entry is refused unread) but
  // not trusted: the read below stops at the bound whatever it says.
  if (zip_stat_index(za, index, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && st.size > limits::kMaxReportBytes) {
    // (Not named: an entry's name is any bytes, line breaks included.)
    return permanent_error(
        fmt::format("zip: the entry declares {} bytes, more than {}{}", st.size, limits::kMaxReportBytes >> 20, kMiB));
  }
  zip_file_t* f = zip_fopen_index(za, index, 0);
  if (!f) return permanent_error(std::string("zip: cannot open the entry (") + zip_strerror(za) + ")");
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(f, zip_fclose);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const zip_int64_t got = zip_fread(f, buf, sizeof buf);
    if (got < 0) return permanent_error(std::string("zip: corrupt entry (") + zip_file_strerror(f) + ")");
    if (got == 0) break;
    if (out.size() + static_cast<std::size_t>(got) > limits::kMaxReportBytes) return too_big("zip entry");
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

// GMime's objects, released on every path.
template <typename T>
struct GUnref {
  void operator()(T* p) const {
    if (p) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GUnref<T>>;

// RFC 7489 §7.2.1.1 (and what receivers really send): the report's part.
bool report_part(GMimeObject* part) {
  if (!GMIME_IS_PART(part)) return false;
  GMimeContentType* ct = g_mime_object_get_content_type(part);
  for (const char* sub : {"gzip", "x-gzip", "zip", "x-zip", "x-zip-compressed", "xml"}) {
    if (g_mime_content_type_is_type(ct, "application", sub)) return true;
  }
  if (g_mime_content_type_is_type(ct, "text", "xml")) return true;
  const char* fn = g_mime_part_get_filename(GMIME_PART(part));
  const std::string name = ascii::to_lower(fn ? fn : "");
  return name.ends_with(".xml") || name.ends_with(".gz") || name.ends_with(".zip");
}

// The first report part, looking into forwarded messages (message/rfc822,
// as when the report was forwarded to the rua= mailbox) a few levels down.
struct PartSearch {
  GMimeObject* found = nullptr;
  int depth = 0;
};
void find_report_part(GMimeObject* /*parent*/, GMimeObject* part, gpointer data) {
  auto* search = static_cast<PartSearch*>(data);
  if (search->found) return;
  if (report_part(part)) {
    search->found = part;
  } else if (GMIME_IS_MESSAGE_PART(part) && search->depth < limits::kMaxNesting) {
    if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part))) {
      ++search->depth;
      g_mime_message_foreach(inner, find_report_part, search);
      --search->depth;
    }
  }
}

Result<std::string> attachment(std::string_view in) {
  static std::once_flag once;
  std::call_once(once, [] {
    g_mime_init();
    // GMime's warnings about malformed mail would land on our stderr, where
    // one line per input is the contract; what matters reaches us as results.
    g_log_set_handler("gmime", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK),
                      [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {}, nullptr);
  });
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(in.data(), in.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) return permanent_error("e-mail: GMime could not read a message in it");
  PartSearch search;
  g_mime_message_foreach(msg.get(), find_report_part, &search);
  GMimeObject* part = search.found;
  if (!part) {
    return permanent_error(
        "e-mail without a report attachment (application/gzip, application/zip, text/xml, or a .xml/.gz/.zip file)");
  }
  GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(part));
  if (!content) return permanent_error("e-mail: the report attachment is empty");
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  // Decodes the part's Content-Transfer-Encoding; what base64 and
  // quoted-printable decode to is never larger than the input.
  if (g_mime_data_wrapper_write_to_stream(content, out.get()) < 0) {
    return permanent_error("e-mail: the report attachment could not be decoded");
  }
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  if (!bytes || bytes->len == 0) return permanent_error("e-mail: the report attachment is empty");
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

Result<AggregateReport> decode(std::string_view bytes, int depth, std::string container) {
  if (depth > limits::kMaxNesting) {
    return permanent_error(fmt::format("{}: containers nested deeper than {}", container.substr(0, container.size() - 3),
                                       limits::kMaxNesting));
  }
  auto nested = [&](Result<std::string> inner, std::string_view what) -> Result<AggregateReport> {
    if (!inner) return inner.error();
    return decode(inner.value(), depth + 1, container + std::string(what) + " > ");
  };
  if (is_gzip(bytes)) return nested(gunzip(bytes), "gzip");
  if (is_zip(bytes)) return nested(unzip(bytes), "zip");
  if (is_xml(bytes)) {
    auto r = parse_report_xml(bytes);
    if (!r && !container.empty()) return permanent_error(container + "xml: " + r.error().message);
    if (r) r->container = container + "xml";
    return r;
  }
  if (is_message(bytes)) return nested(attachment(bytes), "e-mail");
  if (bytes.empty()) return permanent_error("empty: not a DMARC report");
  return permanent_error("not a DMARC report: neither XML, gzip, zip nor an e-mail");
}

}  // namespace

Result<AggregateReport> read_report(std::string_view bytes) {
  if (bytes.size() > limits::kMaxInputBytes) {
    return permanent_error(fmt::format("larger than {}{}, the bound on a report file", limits::kMaxInputBytes >> 20, kMiB));
  }
  return decode(bytes, 0, "");
}

}  // namespace signet::dmarc
