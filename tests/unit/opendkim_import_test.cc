// migrate/: OpenDKIM's opendkim.conf and data sets read as OpenDKIM reads
// them (opendkim.conf(5), opendkim(8) "DATA SETS"), and what they become in
// signet: streams, rules, options, and every setting reported.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "conf/config.h"
#include "migrate/opendkim_import.h"
#include "test_util.h"

using namespace signet;
using namespace signet::migrate;

namespace {

// Files by path: what a test hands the parser instead of the disk.
struct Files {
  std::map<std::string, std::string> files;
  ReadFile reader() const {
    return [this](const std::string& path) -> Result<std::string> {
      auto it = files.find(path);
      if (it == files.end()) return permanent_error(path + ": no such file");
      return it->second;
    };
  }
};

Result<Translation> translate(const std::string& conf_text, const Files& f = {}) {
  auto conf = parse_opendkim_conf(conf_text, "/etc/opendkim.conf", f.reader());
  if (!conf) return conf.error();
  return translate_opendkim(*conf, f.reader());
}

std::string error_of(const std::string& conf_text, const Files& f = {}) {
  auto t = translate(conf_text, f);
  return t ? std::string("no error") : t.error().message;
}

const ImportOption* option(const std::vector<ImportOption>& v, const std::string& name) {
  for (const auto& o : v) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

bool listed(const std::vector<ImportNote>& v, const std::string& setting_prefix, const std::string& text_part) {
  for (const auto& n : v) {
    if (n.setting.rfind(setting_prefix, 0) == 0 && n.text.find(text_part) != std::string::npos) return true;
  }
  return false;
}

constexpr const char* kSingleKey =
    "Domain example.com\nSelector 2020\nKeyFile /etc/dkimkeys/example.private\n";

Files multi_domain(const std::string& signing_table) {
  Files f;
  f.files["/etc/opendkim/key.table"] =
      "# name   domain:selector:keyfile\n"
      "example  example.com:mail:/etc/dkimkeys/example.private\n"
      "org      example.org:2023:/etc/dkimkeys/org.private   # trailing comment\n"
      "\n"
      "net      sub.example.net:s1:/etc/dkimkeys/net.private\n";
  f.files["/etc/opendkim/signing.table"] = signing_table;
  return f;
}

constexpr const char* kTables =
    "KeyTable file:/etc/opendkim/key.table\nSigningTable refile:/etc/opendkim/signing.table\n";

}  // namespace

// ---------------------------------------------------------------- opendkim.conf

TEST(OpendkimConf, LinesAreCutAtHashAndNamesMatchInAnyCase) {
  auto c = parse_opendkim_conf("# comment\n\ncanonicalization\trelaxed/simple # why\r\nSYSLOG yes\n", "/x.conf", {});
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->settings.size(), 2u);
  EXPECT_EQ(c->settings[0].name, "Canonicalization");
  EXPECT_EQ(c->settings[0].value, "relaxed/simple");
  EXPECT_EQ(c->settings[0].origin, "/x.conf:3");
  EXPECT_EQ(c->find("syslog")->value, "yes");
}

TEST(OpendkimConf, TheLastOfARepeatedSettingIsTheOneUsed) {
  auto c = parse_opendkim_conf("Mode s\nMode sv\n", "/x.conf", {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->find("Mode")->origin, "/x.conf:2");
}

TEST(OpendkimConf, AnUnknownParameterFailsNamingFileAndLine) {
  auto c = parse_opendkim_conf("Mode sv\nKeyFi\n", "/etc/opendkim.conf", {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message.rfind("/etc/opendkim.conf:2: unrecognized parameter 'KeyFi'", 0), 0u) << c.error().message;
}

TEST(OpendkimConf, ATruncatedLineWithoutValueFailsNamingFileAndLine) {
  auto c = parse_opendkim_conf("Domain example.com\nSelector\n", "/etc/opendkim.conf", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/etc/opendkim.conf:2: Selector has no value"), std::string::npos);
}

TEST(OpendkimConf, IllegalBooleansAndIntegersFail) {
  EXPECT_FALSE(parse_opendkim_conf("SubDomains perhaps\n", "/c", {}).ok());
  EXPECT_FALSE(parse_opendkim_conf("SignatureTTL 7d\n", "/c", {}).ok());
  EXPECT_TRUE(parse_opendkim_conf("SubDomains Yes\nSignatureTTL 0x10\nUMask 007\n", "/c", {}).ok());
  EXPECT_EQ(od_bool("True"), true);
  EXPECT_EQ(od_bool("0"), false);
  EXPECT_EQ(od_bool("x"), std::nullopt);
}

TEST(OpendkimConf, IncludeIsReadInPlaceAndNestingIsLimited) {
  Files f;
  f.files["/etc/opendkim.d/a.conf"] = "Selector 2020\n";
  auto c = parse_opendkim_conf("Domain example.com\nInclude /etc/opendkim.d/a.conf\nMode s\n", "/c", f.reader());
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->settings.size(), 3u);
  EXPECT_EQ(c->settings[1].origin, "/etc/opendkim.d/a.conf:1");
  f.files["/loop"] = "Include /loop\n";
  auto loop = parse_opendkim_conf("Include /loop\n", "/c", f.reader());
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.error().message.find("nests deeper than 5"), std::string::npos);
  auto missing = parse_opendkim_conf("Include /nowhere\n", "/c", f.reader());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/c:1: Include /nowhere"), std::string::npos);
}

// ---------------------------------------------------------------- data sets

TEST(OpendkimDataset, CslAndBareListsSplitOnCommasWithKeyValuePairs) {
  auto csl = load_dataset({"KeyTable", "csl:k1=example.com:s:/k, k2 = a.example:t:/j", "/c:4"}, {}, "");
  ASSERT_TRUE(csl.ok());
  ASSERT_EQ(csl->entries.size(), 2u);
  EXPECT_EQ(csl->entries[1].key, "k2");
  EXPECT_EQ(csl->entries[1].value, "a.example:t:/j");
  EXPECT_EQ(csl->entries[1].origin, "/c:4");
  auto bare = load_dataset({"InternalHosts", "192.168.0.0/16, 10.0.0.0/8,,::1", "/c:5"}, {}, "");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->kind, Dataset::Kind::List);
  EXPECT_EQ(bare->entries.size(), 3u);
}

TEST(OpendkimDataset, FilesKeepLineNumbersAndDropComments) {
  Files f;
  f.files["/etc/opendkim/hosts"] = "# trusted\n127.0.0.1\n\n  10.0.0.0/8   # office\n";
  for (const char* spec : {"file:/etc/opendkim/hosts", "/etc/opendkim/hosts", "refile:/etc/opendkim/hosts"}) {
    auto ds = load_dataset({"InternalHosts", spec, "/c:1"}, f.reader(), "");
    ASSERT_TRUE(ds.ok()) << spec;
    ASSERT_EQ(ds->entries.size(), 2u);
    EXPECT_EQ(ds->entries[1].key, "10.0.0.0/8");
    EXPECT_EQ(ds->entries[1].origin, "/etc/opendkim/hosts:4");
  }
  EXPECT_EQ(load_dataset({"X", "refile:/etc/opendkim/hosts", "/c:1"}, f.reader(), "")->kind, Dataset::Kind::Refile);
}

TEST(OpendkimDataset, RelativePathsNeedBaseDirectory) {
  Files f;
  f.files["/etc/opendkim/hosts"] = "127.0.0.1\n";
  auto no_base = load_dataset({"InternalHosts", "file:hosts", "/c:2"}, f.reader(), "");
  ASSERT_FALSE(no_base.ok());
  EXPECT_NE(no_base.error().message.find("/c:2: InternalHosts file:hosts: relative path"), std::string::npos);
  EXPECT_TRUE(load_dataset({"InternalHosts", "file:hosts", "/c:2"}, f.reader(), "/etc/opendkim").ok());
}

TEST(OpendkimDataset, DatabasesAndUnreadableFilesFailNamingTheSetting) {
  auto db = load_dataset({"KeyTable", "dsn:mysql://u@h/db/table=k", "/c:7"}, {}, "");
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.error().message.find("/c:7: KeyTable dsn:"), std::string::npos);
  EXPECT_NE(db.error().message.find("export it to a flat file"), std::string::npos);
  auto missing = load_dataset({"KeyTable", "file:/etc/opendkim/none", "/c:8"}, Files{}.reader(), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/c:8:"), std::string::npos);
}

// ---------------------------------------------------------------- translation

TEST(OpendkimImport, DebiansSingleKeySetupBecomesOneStreamAndRule) {
  auto t = translate(std::string(kSingleKey) +
                     "Canonicalization relaxed/simple\nOversignHeaders From\nUserID opendkim\n"
                     "Socket local:/run/opendkim/opendkim.sock\nTrustAnchorFile /usr/share/dns/root.key\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->streams.size(), 1u);
  EXPECT_EQ(t->streams[0].domain, "example.com");
  EXPECT_EQ(t->streams[0].selector, "2020");
  EXPECT_EQ(t->streams[0].key_source, "/etc/dkimkeys/example.private");
  ASSERT_EQ(t->rules.size(), 1u);
  EXPECT_EQ(t->rules[0].from_domain, std::vector<std::string>{"example.com"});
  EXPECT_EQ(option(t->stream_options, "canonicalization")->value, "relaxed/simple");
  EXPECT_EQ(option(t->stream_options, "oversign-headers")->value, "from");
  EXPECT_EQ(option(t->globals, "socket")->value, "unix:/run/opendkim/opendkim.sock");
  EXPECT_EQ(option(t->globals, "user")->value, "opendkim");
  EXPECT_EQ(option(t->globals, "group"), nullptr);                       // the user's primary group
  EXPECT_EQ(option(t->globals, "internal-hosts")->value, "127.0.0.1/32");  // OpenDKIM's default
  EXPECT_EQ(option(t->globals, "on-error")->value, "tempfail");  // defaults: tempfail and reject
  EXPECT_TRUE(listed(t->not_translated, "TrustAnchorFile", "verify-mode"));
}

TEST(OpendkimImport, ALoneCanonicalizationNameIsTheHeadersAndTheDefaultIsSimple) {
  EXPECT_EQ(option(translate(std::string(kSingleKey) + "Canonicalization relaxed\n")->stream_options, "canonicalization")->value,
            "relaxed/simple");
  EXPECT_EQ(option(translate(kSingleKey)->stream_options, "canonicalization")->value, "simple/simple");
  EXPECT_NE(error_of(std::string(kSingleKey) + "Canonicalization loose\n").find("/etc/opendkim.conf:4"), std::string::npos);
}

TEST(OpendkimImport, SubDomainsSignsSubdomainsAsTheListedDomainAfterExactMatches) {
  auto t = translate("Domain example.com, a.example.com\nSelector s\nKeyFile /k\nSubDomains yes\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->streams.size(), 2u);
  ASSERT_EQ(t->rules.size(), 4u);
  // Exact domains first, then parent domains nearest first (OpenDKIM's search).
  EXPECT_EQ(t->rules[0].from_domain[0], "example.com");
  EXPECT_EQ(t->rules[1].from_domain[0], "a.example.com");
  EXPECT_EQ(t->rules[2].from_domain[0], "*.a.example.com");
  EXPECT_EQ(t->rules[3].from_domain[0], "*.example.com");
  EXPECT_EQ(t->rules[3].stream, t->rules[0].stream);
}

TEST(OpendkimImport, RefileSigningTableKeepsFileOrderAndListsPerUserEntries) {
  const Files f = multi_domain(
      "alice@example.com   org\n"
      "*@example.com       example\n"
      "*@*.example.com     example   # subdomains sign as example.com\n"
      "*@example.org       org  ops@example.org\n"
      "*@sub.example.net   net\n");
  auto t = translate(kTables, f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->streams.size(), 3u);
  ASSERT_EQ(t->rules.size(), 4u);
  EXPECT_EQ(t->rules[0].from_domain[0], "example.com");
  EXPECT_EQ(t->rules[1].from_domain[0], "*.example.com");
  EXPECT_EQ(t->rules[1].stream, t->rules[0].stream);  // one key, one stream
  EXPECT_EQ(t->rules[1].origin, "/etc/opendkim/signing.table:3");
  EXPECT_EQ(t->rules[2].from_domain[0], "example.org");
  EXPECT_EQ(t->rules[3].from_domain[0], "sub.example.net");
  for (const auto& s : t->streams) {
    if (s.domain == "example.org") {
      EXPECT_EQ(s.selector, "2023");
    }
    if (s.domain == "sub.example.net") {
      EXPECT_EQ(s.key_source, "/etc/dkimkeys/net.private");
    }
  }
  EXPECT_TRUE(listed(t->not_translated, "alice@example.com", "per-user"));
  EXPECT_TRUE(listed(t->not_translated, "*@example.org", "i="));
}

TEST(OpendkimImport, ExactSigningTableFollowsOpenDkimsLookupOrder) {
  const Files f = multi_domain("*            org\n"
                               ".example.com example\n"
                               "example.com  example\n"
                               ".a.example.com net\n");
  auto t = translate("KeyTable /etc/opendkim/key.table\nSigningTable file:/etc/opendkim/signing.table\n", f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->rules.size(), 4u);
  EXPECT_EQ(t->rules[0].from_domain[0], "example.com");
  EXPECT_EQ(t->rules[1].from_domain[0], "*.a.example.com");
  EXPECT_EQ(t->rules[2].from_domain[0], "*.example.com");
  EXPECT_TRUE(t->rules[3].from_domain.empty());  // "*" last: every trusted sender
}

TEST(OpendkimImport, PercentStandsForTheSendersDomainWhereThatIsOneDomain) {
  Files f;
  f.files["/kt"] = "example.com %:mail:/etc/dkimkeys/%.private\n";
  f.files["/st"] = "*@example.com %\n";
  auto t = translate("KeyTable /kt\nSigningTable refile:/st\n", f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->streams.size(), 1u);
  EXPECT_EQ(t->streams[0].domain, "example.com");
  EXPECT_EQ(t->streams[0].key_source, "/etc/dkimkeys/example.com.private");
  f.files["/st"] = "* %\n";
  EXPECT_NE(error_of("KeyTable /kt\nSigningTable refile:/st\n", f).find("/st:1: key name %"), std::string::npos);
}

TEST(OpendkimImport, ASigningTableKeyTheKeyTableLacksFailsNamingFileAndLine) {
  const Files f = multi_domain("*@example.com example\n*@example.edu edu\n");
  const std::string e = error_of(kTables, f);
  EXPECT_EQ(e.rfind("/etc/opendkim/signing.table:2: SigningTable names key 'edu'", 0), 0u) << e;
}

TEST(OpendkimImport, PatternsSignetCannotExpressFailNamingFileAndLine) {
  for (const char* pattern : {"*@*example.com", "*@example.*", "*example.com", "*@ex*.com"}) {
    const Files f = multi_domain("*@example.com example\n" + std::string(pattern) + " org\n");
    const std::string e = error_of(kTables, f);
    EXPECT_EQ(e.rfind("/etc/opendkim/signing.table:2: SigningTable pattern", 0), 0u) << pattern << ": " << e;
  }
  // In an exact table a '*@' key matches nothing in OpenDKIM: refused, not guessed.
  const Files f = multi_domain("*@example.com example\n");
  const std::string e = error_of("KeyTable /etc/opendkim/key.table\nSigningTable /etc/opendkim/signing.table\n", f);
  EXPECT_NE(e.find("signing.table:1: SigningTable key '*@example.com' is a wildcard pattern"), std::string::npos) << e;
}

TEST(OpendkimImport, ContradictoryOrIncompleteKeySetupsFail) {
  const Files f = multi_domain("*@example.com example\n");
  EXPECT_NE(error_of(std::string(kTables) + "KeyFile /k\n", f).find("/etc/opendkim.conf:3: KeyFile together with a KeyTable"),
            std::string::npos);
  EXPECT_NE(error_of("KeyTable file:/etc/opendkim/key.table\n", f).find("/etc/opendkim.conf:1: KeyTable without a SigningTable"),
            std::string::npos);
  EXPECT_NE(error_of("Domain example.com\nKeyFile /k\n").find("missing Selector"), std::string::npos);
  EXPECT_NE(error_of(std::string(kSingleKey) + "Mode v\n").find("/etc/opendkim.conf:4: Mode v: OpenDKIM only verifies"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kSingleKey) + "Mode x\n").find("Mode x"), std::string::npos);
}

TEST(OpendkimImport, KeyTableProblemsFailNamingTheKeyTableLine) {
  Files f = multi_domain("*@example.com example\n");
  f.files["/etc/opendkim/key.table"] = "example example.com:mail:/k1\nexample example.com:mail:/k2\n";
  EXPECT_NE(error_of(kTables, f).find("key.table:2: KeyTable key name 'example' is already defined"), std::string::npos);
  f.files["/etc/opendkim/key.table"] = "example example.com:mail:MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n";
  EXPECT_NE(error_of(kTables, f).find("key.table:1: KeyTable entry 'example' holds the private key inline"), std::string::npos);
  f.files["/etc/opendkim/key.table"] = "example example.com:/k1\n";
  EXPECT_NE(error_of(kTables, f).find("key.table:1: KeyTable entry 'example' needs DOMAIN:SELECTOR:KEYFILE"),
            std::string::npos);
  f.files["/etc/opendkim/key.table"] = "a example.com:mail:/k1\nb example.com:mail:/k2\n";
  f.files["/etc/opendkim/signing.table"] = "*@example.com a\n*@*.example.com b\n";
  EXPECT_NE(error_of(kTables, f).find("key.table:2: d=example.com s=mail uses key /k2"), std::string::npos);
}

TEST(OpendkimImport, InternalHostsKeepsAddressesListsNamesAndRefusesExclusions) {
  Files f;
  f.files["/etc/opendkim/hosts"] = "127.0.0.1\n::1\nlocalhost\ncafe.be\n*.example.com\n10.0.0.0/8\n[192.0.2.7]\n";
  auto t = translate(std::string(kSingleKey) + "InternalHosts refile:/etc/opendkim/hosts\n", f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(option(t->globals, "internal-hosts")->value, "127.0.0.1/32 ::1/128 10.0.0.0/8 192.0.2.7/32");
  EXPECT_TRUE(listed(t->not_translated, "localhost", "add the host's addresses"));
  EXPECT_TRUE(listed(t->not_translated, "*.example.com", "host or domain name"));
  EXPECT_TRUE(listed(t->not_translated, "cafe.be", "host or domain name"));
  f.files["/etc/opendkim/hosts"] = "10.0.0.0/8\n!10.1.2.3\n";
  EXPECT_NE(error_of(std::string(kSingleKey) + "InternalHosts /etc/opendkim/hosts\n", f)
                .find("/etc/opendkim/hosts:2: InternalHosts exclusion !10.1.2.3"),
            std::string::npos);
}

TEST(OpendkimImport, HostListsThatOnlySilenceOrSkipAreReadAndListed) {
  Files f;
  f.files["/etc/opendkim/hosts"] = "127.0.0.1\nmx.example.com\n";
  auto t = translate(std::string(kSingleKey) + "ExternalIgnoreList refile:/etc/opendkim/hosts\nPeerList 192.0.2.1\n", f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(listed(t->not_translated, "ExternalIgnoreList", "2 entries"));
  EXPECT_TRUE(listed(t->not_translated, "PeerList", "1 entries"));
  EXPECT_FALSE(translate(std::string(kSingleKey) + "ExternalIgnoreList /etc/opendkim/none\n", f).ok());
}

TEST(OpendkimImport, BodyLengthAndSha1AreRefusedAndListedWhileTheRestImports) {
  auto t = translate(std::string(kSingleKey) +
                     "BodyLengthDB csl:list@example.org\nMaximumSignedBytes 2000\nSignatureAlgorithm rsa-sha1\n"
                     "MinimumKeyBits 2048\nOn-BadSignature reject\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(listed(t->not_translated, "BodyLengthDB", "never emits l="));
  EXPECT_TRUE(listed(t->not_translated, "MaximumSignedBytes", "never emits l="));
  EXPECT_TRUE(listed(t->not_translated, "SignatureAlgorithm rsa-sha1", "RFC 8301"));
  EXPECT_TRUE(listed(t->not_translated, "MinimumKeyBits", "verify-side"));
  EXPECT_TRUE(listed(t->not_translated, "On-BadSignature", "verify-mode"));
  EXPECT_EQ(t->streams.size(), 1u);
}

TEST(OpendkimImport, SigningFailurePoliciesBecomeOnError) {
  auto on_error = [](const std::string& lines) {
    return option(translate(std::string(kSingleKey) + lines)->globals, "on-error")->value;
  };
  EXPECT_EQ(on_error("On-Default accept\n"), "accept");
  EXPECT_EQ(on_error("On-InternalError a\nOn-SignatureError a\n"), "accept");
  EXPECT_EQ(on_error("On-Default accept\nOn-SignatureError reject\n"), "tempfail");
  EXPECT_EQ(on_error("On-InternalError accept\n"), "tempfail");  // On-SignatureError's default is reject
  EXPECT_NE(error_of(std::string(kSingleKey) + "On-Default bounce\n").find("/etc/opendkim.conf:4"), std::string::npos);
}

TEST(OpendkimImport, SignatureOptionsMapToStreamOptions) {
  auto t = translate(std::string(kSingleKey) + "SignatureTTL 604800\nSignHeaders *,+List-Id,-Cc\n"
                                               "OversignHeaders csl:From,Reply-To\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(option(t->stream_options, "expire")->value, "7d");
  const std::string sign = option(t->stream_options, "sign-headers")->value;
  EXPECT_NE(sign.find("list-id"), std::string::npos);
  EXPECT_EQ((" " + sign + " ").find(" cc "), std::string::npos);
  EXPECT_NE(sign.find("from"), std::string::npos);  // the default list, changed by the delta
  EXPECT_EQ(option(t->stream_options, "oversign-headers")->value, "from reply-to");
  EXPECT_EQ(option(translate(std::string(kSingleKey) + "SignatureTTL 3601\n")->stream_options, "expire")->value, "3601s");
}

// Found by fuzz_opendkim (the translation must load in signet-milter; seed
// tests/fuzz/corpus/fuzz_opendkim/signature-ttl-out-of-range): SignatureTTL 90
// became expire = 90s, which signet refuses (1h..366d), so the import failed
// late, naming the generated file instead of the OpenDKIM line.
TEST(OpendkimImport, SignatureTtlOutsideSignetsExpireRangeIsRefusedNamingItsLine) {
  for (const char* ttl : {"90", "3599", "31708801", "0x7fffffffffffffff"}) {
    const std::string e = error_of(std::string(kSingleKey) + "SignatureTTL " + ttl + "\n");
    EXPECT_NE(e.find("/etc/opendkim.conf:4: SignatureTTL"), std::string::npos) << e;
    EXPECT_NE(e.find("1h..366d"), std::string::npos) << e;
  }
  EXPECT_TRUE(translate(std::string(kSingleKey) + "SignatureTTL 3600\n").ok());
  EXPECT_TRUE(translate(std::string(kSingleKey) + "SignatureTTL 31622400\n").ok());
  EXPECT_TRUE(translate(std::string(kSingleKey) + "SignatureTTL 0\n").ok());
}

TEST(OpendkimImport, EverySettingIsReportedOnce) {
  auto t = translate(std::string(kSingleKey) + "Syslog yes\nSyslogSuccess yes\nUMask 007\nAutoRestart yes\n"
                                               "Mode sv\nMode sv\nSocket inet:8891@localhost\nPidFile /run/o.pid\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  std::map<std::string, int> seen;
  for (const auto* v : {&t->translated, &t->not_translated}) {
    for (const auto& n : *v) {
      if (!n.origin.empty()) ++seen[n.origin];
    }
  }
  for (int line = 1; line <= 11; ++line) EXPECT_EQ(seen["/etc/opendkim.conf:" + std::to_string(line)], 1) << line;
  EXPECT_TRUE(listed(t->not_translated, "Mode sv", "given again at /etc/opendkim.conf:9"));
  EXPECT_EQ(option(t->globals, "socket")->value, "inet:8891@localhost");
}

TEST(OpendkimImport, TheWrittenConfigurationLoadsInSignetsOwnReader) {
  const Files f = multi_domain("*@example.com example\n*@*.example.com example\n*@example.org org\n* net\n");
  auto t = translate(std::string(kTables) + "Canonicalization relaxed\nSignatureTTL 3600\nInternalHosts 10.0.0.0/8\n"
                                            "UserID opendkim:opendkim\nOn-Default accept\n", f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::string dir = signet::testing::temp_dir("import");
  const std::string path = dir + "/signet.conf";
  std::ofstream(path) << format_signet_conf(*t, dir + "/keys", "written by a test\nsecond line");
  const std::string arg = "--config=" + path;
  const char* argv[] = {"signet-milter", arg.c_str()};
  auto cfg = conf::load_config(2, argv);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message << "\n" << signet::testing::read_file(path);
  EXPECT_EQ(cfg->streams.size(), 3u);
  ASSERT_EQ(cfg->rules.size(), 4u);
  EXPECT_EQ(cfg->rules[1].from_domain, std::vector<std::string>{"*.example.com"});
  EXPECT_TRUE(cfg->rules[3].from_domain.empty());
  EXPECT_EQ(cfg->user, "opendkim");
  EXPECT_EQ(cfg->group, "opendkim");
  EXPECT_EQ(cfg->on_error, conf::OnError::Accept);
  EXPECT_TRUE(cfg->internal_hosts.contains("10.9.8.7"));
  EXPECT_EQ(cfg->find_stream(t->streams[0].name)->signing.options().expire_after, 3600);
  EXPECT_EQ(cfg->key_directory, dir + "/keys");
}

TEST(OpendkimImport, AnImportedKeySignsSinceItsFilesDate) {
  const ImportStream s{"example-com", "example.com", "2020", "/etc/dkimkeys/example.private", "/c:3"};
  auto key = PrivateKey::generate(Algorithm::Ed25519Sha256);
  ASSERT_TRUE(key.ok());
  const keystore::KeyRow r = imported_key_row(s, *key, 1700000000);
  EXPECT_EQ(r.file, "example.com/2020.key");
  EXPECT_EQ(r.algorithm, Algorithm::Ed25519Sha256);
  EXPECT_EQ(r.created, 1700000000);
  EXPECT_EQ(r.published_at, 1700000000);
  EXPECT_EQ(r.window, keystore::Window::scheduled(1700000000));
  EXPECT_EQ(r.state(1700000001), keystore::KeyState::Active);
  EXPECT_EQ(r.owner, kImportedOwner);
}
