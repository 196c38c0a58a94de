// Shared by the dmarc unit tests: aggregate reports written to the RFC 7489
// and RFC 9990 schemas, and the containers receivers send them in, made here
// with zlib and by hand (zip headers, MIME), not with the code under test.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "signer/base64.h"

namespace signet::testing {

struct DkimEntry {
  std::string domain, selector, result;  // selector "" = no <selector> element
};
struct Row {
  std::string ip;
  std::int64_t count;
  std::string header_from;
  std::vector<DkimEntry> dkim;
};

// A report; v2: RFC 9990 (namespace, <version>2.0</version>), else RFC 7489.
inline std::string report_xml(const std::string& org, const std::string& id, std::int64_t begin, std::int64_t end,
                              const std::vector<Row>& rows, bool v2 = false) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += v2 ? "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n  <version>2.0</version>\n" : "<feedback>\n";
  x += "  <report_metadata>\n    <org_name>" + org + "</org_name>\n    <email>noreply@" + org +
       "</email>\n    <report_id>" + id + "</report_id>\n    <date_range><begin>" + std::to_string(begin) +
       "</begin><end>" + std::to_string(end) + "</end></date_range>\n  </report_metadata>\n";
  x += "  <policy_published><domain>example.com</domain><adkim>r</adkim><p>none</p><sp>none</sp></policy_published>\n";
  for (const Row& r : rows) {
    x += "  <record>\n    <row><source_ip>" + r.ip + "</source_ip><count>" + std::to_string(r.count) +
         "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>"
         "</policy_evaluated></row>\n";
    x += "    <identifiers><envelope_from>" + r.header_from + "</envelope_from><header_from>" + r.header_from +
         "</header_from></identifiers>\n    <auth_results>\n";
    for (const DkimEntry& d : r.dkim) {
      x += "      <dkim><domain>" + d.domain + "</domain>";
      if (!d.selector.empty()) x += "<selector>" + d.selector + "</selector>";
      x += "<result>" + d.result + "</result></dkim>\n";
    }
    x += "      <spf><domain>" + r.header_from + "</domain><scope>mfrom</scope><result>fail</result></spf>\n";
    x += "    </auth_results>\n  </record>\n";
  }
  return x + "</feedback>\n";
}

// zlib: windowBits 15 + 16 writes a gzip wrapper (RFC 1952); -15 raw deflate.
inline std::string deflate_with(const std::string& in, int window_bits) {
  z_stream zs{};
  // Level 1 for the bombs' 100 MiB (seconds at level 9; zeros pack as well).
  deflateInit2(&zs, in.size() > (1u << 20) ? 1 : 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}
inline std::string gzip(const std::string& in) { return deflate_with(in, 15 + 16); }

inline void le(std::string& s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A zip of one entry (PKWARE APPNOTE 4.3: local header, data, central
// directory, end record), deflated; declared_size != 0 writes that
// uncompressed size instead of the true one (a bomb's lie).
struct ZipEntry {
  std::string name, data;
  std::uint32_t declared_size = 0;
};
inline std::string zip_of(const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const ZipEntry& e : entries) {
    const std::string packed = deflate_with(e.data, -15);
    const auto crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()),
                                                      static_cast<uInt>(e.data.size())));
    const std::uint64_t usize = e.declared_size ? e.declared_size : e.data.size();
    const std::size_t offset = out.size();
    std::string common;
    le(common, 20, 2);  // version needed
    le(common, 0, 2);   // flags
    le(common, 8, 2);   // deflate
    le(common, 0, 4);   // time, date
    le(common, crc, 4);
    le(common, packed.size(), 4);
    le(common, usize, 4);
    le(common, e.name.size(), 2);
    le(common, 0, 2);  // extra
    out += std::string("PK\x03\x04", 4) + common + e.name + packed;
    central += std::string("PK\x01\x02", 4);
    le(central, 20, 2);  // made by
    central += common;
    le(central, 0, 2);  // comment
    le(central, 0, 2);  // disk
    le(central, 0, 2);  // internal attributes
    le(central, 0, 4);  // external attributes
    le(central, offset, 4);
    central += e.name;
  }
  const std::size_t cd_offset = out.size();
  out += central;
  out += std::string("PK\x05\x06", 4);
  le(out, 0, 4);
  le(out, entries.size(), 2);
  le(out, entries.size(), 2);
  le(out, central.size(), 4);
  le(out, cd_offset, 4);
  le(out, 0, 2);
  return out;
}

// The report e-mail (RFC 7489 §7.2.1.1): a text part and the report attached,
// base64 (folded at 76, RFC 2045 §6.8) or as it is.
inline std::string report_email(const std::string& attachment, const std::string& content_type,
                                const std::string& filename, bool base64 = true) {
  std::string m =
      "From: noreply-dmarc-support@google.com\r\nTo: dmarc@example.com\r\n"
      "Subject: Report domain: example.com Submitter: google.com Report-ID: 123\r\n"
      "Date: Mon, 30 Nov 2026 23:59:59 -0800\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is an aggregate report.\r\n\r\n"
      "--b1\r\nContent-Type: " + content_type + "; name=\"" + filename + "\"\r\n";
  if (base64) {
    m += "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"" + filename + "\"\r\n\r\n";
    const std::string b = base64::encode(attachment);
    for (std::size_t i = 0; i < b.size(); i += 76) m += b.substr(i, 76) + "\r\n";
  } else {
    m += "Content-Disposition: attachment; filename=\"" + filename + "\"\r\n\r\n" + attachment + "\r\n";
  }
  return m + "--b1--\r\n";
}

}  // namespace signet::testing
