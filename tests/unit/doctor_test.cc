// doctor/: postconf output parsing, milter socket syntax, the Postfix checks
// over canned postconf output, and the milter probe against a fake milter.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "doctor/milter_probe.h"
#include "doctor/milter_socket.h"
#include "doctor/postfix_checks.h"
#include "doctor/postfix_config.h"

using namespace signet;
using namespace signet::doctor;

namespace {

// What postconf prints for a Debian-style instance that signs right: smtpd
// and cleanup chrooted, signet's socket inside the spool, named relative to
// queue_directory.
const char* kPostconfX = R"(mail_version = 3.7.11
compatibility_level = 3.6
queue_directory = /var/spool/postfix
mail_owner = postfix
smtpd_milters = unix:signet/signet-milter.sock
non_smtpd_milters = unix:signet/signet-milter.sock
smtpd_milter_maps =
milter_protocol = 6
milter_default_action = accept
milter_connect_timeout = 30s
milter_macro_daemon_name = mail.example.com
smtp_line_length_limit = 998
disable_mime_output_conversion = yes
content_filter =
receive_override_options =
)";

const char* kPostconfN = R"(compatibility_level = 3.6
smtpd_milters = unix:signet/signet-milter.sock
non_smtpd_milters = $smtpd_milters
milter_default_action = accept
disable_mime_output_conversion = yes
)";

const char* kPostconfM =
    "smtp       inet  n       -       y       -       -       smtpd\n"
    "submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission "
    "-o smtpd_sasl_auth_enable=yes -o milter_macro_daemon_name=submission\n"
    "pickup     unix  n       -       y       60      1       pickup\n"
    "cleanup    unix  n       -       y       -       0       cleanup\n"
    "qmgr       unix  n       -       n       300     1       qmgr\n"
    "smtp       unix  -       -       y       -       -       smtp\n"
    "relay      unix  -       -       y       -       -       smtp -o syslog_name=postfix/$service_name\n";

const char* kPostconfP = R"(submission/inet/syslog_name = postfix/submission
submission/inet/smtpd_sasl_auth_enable = yes
submission/inet/milter_macro_daemon_name = submission
relay/unix/syslog_name = postfix/relay
)";

PostfixConfig debian() {
  PostfixConfig pf;
  pf.params = parse_parameters(kPostconfX);
  for (const auto& [name, value] : parse_parameters(kPostconfN)) pf.in_main_cf.insert(name);
  auto services = parse_master(kPostconfM, kPostconfP);
  EXPECT_TRUE(services.ok());
  pf.services = services.value();
  return pf;
}

SignetSettings signet_conf() {
  SignetSettings s;
  s.config_file = "/etc/signet/signet.conf";
  s.socket = "unix:/var/spool/postfix/signet/signet-milter.sock";
  s.trusted_services = {"submission"};
  s.trusts_loopback = true;
  return s;
}

void set_main(PostfixConfig& pf, const std::string& name, const std::string& value) {
  pf.params[name] = value;
  pf.in_main_cf.insert(name);
}

Service& service(PostfixConfig& pf, const std::string& id) {
  for (Service& s : pf.services) {
    if (s.id() == id) return s;
  }
  ADD_FAILURE() << "no service " << id;
  return pf.services.front();
}

std::vector<Finding> findings(const PostfixConfig& pf, const SignetSettings& st = signet_conf()) {
  auto d = diagnose_postfix(pf, st);
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d.ok() ? d->findings : std::vector<Finding>{};
}

// The findings at a severity whose where and text hold the given pieces.
std::vector<Finding> matching(const std::vector<Finding>& fs, Severity sev, const std::string& where,
                              const std::string& text = "") {
  std::vector<Finding> out;
  for (const Finding& f : fs) {
    if (f.severity == sev && f.where.find(where) != std::string::npos && f.text.find(text) != std::string::npos) {
      out.push_back(f);
    }
  }
  return out;
}

std::string dump(const std::vector<Finding>& fs) {
  std::string out;
  for (const Finding& f : fs) out += std::string(severity_name(f.severity)) + " " + f.where + ": " + f.text + "\n";
  return out;
}

int count(const std::vector<Finding>& fs, Severity sev) {
  return static_cast<int>(std::count_if(fs.begin(), fs.end(), [&](const Finding& f) { return f.severity == sev; }));
}

}  // namespace

// -- postconf output --------------------------------------------------------

TEST(DoctorPostconf, ParametersAreNameEqualsValueLinesWithEmptyValuesKept) {
  auto p = parse_parameters("a = 1\nempty =\nlist = x, y z\n  spaced   =   v  \nnot a parameter\n");
  EXPECT_EQ(p["a"], "1");
  EXPECT_EQ(p.count("empty"), 1u);
  EXPECT_EQ(p["empty"], "");
  EXPECT_EQ(p["list"], "x, y z");
  EXPECT_EQ(p["spaced"], "v");
  EXPECT_EQ(p.count("not a parameter"), 0u);
}

TEST(DoctorPostconf, MasterServicesKeepChrootColumnAndOverridesFromPostconfP) {
  auto services = parse_master(
      "127.0.0.1:10025 inet n   -       n       -       -       smtpd -o content_filter=\n"
      "pickup     unix  n       -       -       60      1       pickup\n",
      "127.0.0.1:10025/inet/content_filter =\n"
      "127.0.0.1:10025/inet/receive_override_options = no_unknown_recipient_checks,no_milters\n"
      "127.0.0.1:10025/inet/smtpd_milters = { inet:127.0.0.1:8891, default_action = accept }\n");
  ASSERT_TRUE(services.ok());
  ASSERT_EQ(services->size(), 2u);
  const Service& r = (*services)[0];
  EXPECT_EQ(r.id(), "127.0.0.1:10025/inet");
  EXPECT_EQ(r.chroot, "n");
  EXPECT_EQ(r.command, "smtpd");
  EXPECT_EQ(r.overrides.at("content_filter"), "");
  EXPECT_EQ(r.overrides.at("receive_override_options"), "no_unknown_recipient_checks,no_milters");
  EXPECT_EQ(r.overrides.at("smtpd_milters"), "{ inet:127.0.0.1:8891, default_action = accept }");
  EXPECT_EQ((*services)[1].chroot, "-");
  EXPECT_TRUE((*services)[1].overrides.empty());
}

TEST(DoctorPostconf, MasterLineWithFewerThanEightColumnsIsRefused) {
  auto services = parse_master("smtp inet n - y\n", "");
  ASSERT_FALSE(services.ok());
  EXPECT_NE(services.error().message.find("fewer than 8 columns"), std::string::npos);
}

TEST(DoctorPostconf, ChrootDashIsNoSincePostfix3AndYesBelowCompatibilityLevel1) {
  PostfixConfig pf = debian();
  Service dash;
  dash.chroot = "-";
  EXPECT_FALSE(pf.chrooted(dash));
  pf.params["compatibility_level"] = "0";
  EXPECT_TRUE(pf.chrooted(dash));
  EXPECT_TRUE(pf.chrooted(service(pf, "smtp/inet")));
  EXPECT_FALSE(pf.chrooted(service(pf, "qmgr/unix")));
}

TEST(DoctorPostconf, ServiceOverrideWinsOverMainCf) {
  PostfixConfig pf = debian();
  const Service& sub = service(pf, "submission/inet");
  EXPECT_EQ(pf.param(sub, "milter_macro_daemon_name"), "submission");
  EXPECT_EQ(pf.param(service(pf, "smtp/inet"), "milter_macro_daemon_name"), "mail.example.com");
  EXPECT_EQ(pf.where(&sub, "milter_macro_daemon_name"), "master.cf submission/inet -o milter_macro_daemon_name");
  EXPECT_EQ(pf.where(&sub, "smtpd_milters"), "main.cf smtpd_milters");
}

TEST(DoctorPostconf, MilterListsSplitOnSpacesCommasAndKeepBracedSettings) {
  auto list = parse_milter_list("inet:127.0.0.1:8891,unix:/a.sock  { inet:127.0.0.1:8893, default_action = accept, protocol=6 }");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].socket, "inet:127.0.0.1:8891");
  EXPECT_EQ(list[1].socket, "unix:/a.sock");
  EXPECT_EQ(list[2].socket, "inet:127.0.0.1:8893");
  EXPECT_EQ(list[2].attrs.at("default_action"), "accept");
  EXPECT_EQ(list[2].attrs.at("protocol"), "6");
  EXPECT_TRUE(parse_milter_list("").empty());
}

TEST(DoctorPostconf, NoMiltersIsFoundAmongReceiveOverrideOptions) {
  EXPECT_TRUE(has_no_milters("no_unknown_recipient_checks,no_header_body_checks,no_milters"));
  EXPECT_TRUE(has_no_milters("no_milters"));
  EXPECT_FALSE(has_no_milters("no_header_body_checks, no_address_mappings"));
  EXPECT_FALSE(has_no_milters(""));
}

// -- milter sockets -----------------------------------------------------------

TEST(DoctorSocket, LibmilterAndPostfixSpellingsOfOneSocketReachEachOther) {
  auto signet = parse_libmilter_socket("inet:8891@127.0.0.1");
  ASSERT_TRUE(signet.ok());
  EXPECT_EQ(signet->postfix_form(), "inet:127.0.0.1:8891");
  EXPECT_EQ(signet->libmilter_form(), "inet:8891@127.0.0.1");
  EXPECT_TRUE(reaches(parse_postfix_socket("inet:127.0.0.1:8891").value(), *signet));
  EXPECT_TRUE(reaches(parse_postfix_socket("inet:localhost:8891").value(), *signet));
  EXPECT_FALSE(reaches(parse_postfix_socket("inet:127.0.0.1:8892").value(), *signet));
  EXPECT_TRUE(reaches(parse_postfix_socket("inet:127.0.0.1:8891").value(), parse_libmilter_socket("inet:8891").value()));
  EXPECT_TRUE(reaches(parse_postfix_socket("inet:[::1]:8891").value(), parse_libmilter_socket("inet6:8891@[0:0::1]").value()));
  EXPECT_EQ(parse_libmilter_socket("inet6:8891@::1")->postfix_form(), "inet:[::1]:8891");
  EXPECT_TRUE(reaches(parse_postfix_socket("unix:/run//signet/./s.sock").value(), parse_libmilter_socket("local:/run/signet/s.sock").value()));
  EXPECT_TRUE(reaches(parse_postfix_socket("local:/run/s.sock").value(), parse_libmilter_socket("/run/s.sock").value()));
}

TEST(DoctorSocket, LibmilterSyntaxInPostfixIsRefusedWithThePostfixSpelling) {
  auto s = parse_postfix_socket("inet:8891@127.0.0.1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("libmilter's syntax"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("inet:127.0.0.1:8891"), std::string::npos) << s.error().message;
  EXPECT_FALSE(parse_postfix_socket("inet6:8891@[::1]").ok());
  EXPECT_FALSE(parse_postfix_socket("inet:8891").ok());
  EXPECT_FALSE(parse_postfix_socket("inet:127.0.0.1:milter").ok());
  EXPECT_FALSE(parse_libmilter_socket("inet:127.0.0.1:8891").ok());
  EXPECT_FALSE(parse_libmilter_socket("tcp:8891").ok());
}

TEST(DoctorSocket, LoopbackWildcardAndPathNormalisation) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.1.2.3"));
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_FALSE(is_loopback("192.0.2.1"));
  EXPECT_TRUE(is_wildcard(""));
  EXPECT_TRUE(is_wildcard("0.0.0.0"));
  EXPECT_TRUE(is_wildcard("::"));
  EXPECT_FALSE(is_wildcard("127.0.0.1"));
  EXPECT_EQ(normalize_path("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(normalize_path("signet/s.sock"), "signet/s.sock");
  EXPECT_EQ(normalize_path("/"), "/");
}

// -- the checks -----------------------------------------------------------------

TEST(DoctorChecks, DebianStyleConfigurationThatSignsRightHasNoWarningsAndProbesInsideTheSpool) {
  auto d = diagnose_postfix(debian(), signet_conf());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(count(d->findings, Severity::Error), 0) << dump(d->findings);
  EXPECT_EQ(count(d->findings, Severity::Warning), 0) << dump(d->findings);
  // smtp_line_length_limit = 998 stays a note: such lines are rare, but folded.
  EXPECT_EQ(matching(d->findings, Severity::Info, "main.cf smtp_line_length_limit", "folded").size(), 1u) << dump(d->findings);
  ASSERT_EQ(d->probes.size(), 1u);
  EXPECT_EQ(d->probes[0].socket.path, "/var/spool/postfix/signet/signet-milter.sock");
  EXPECT_EQ(d->probes[0].named, "unix:signet/signet-milter.sock");
  EXPECT_EQ(d->probes[0].via, (std::vector<std::string>{"smtp/inet (chrooted)", "submission/inet (chrooted)",
                                                         "cleanup/unix (chrooted)"}));
  EXPECT_EQ(d->probes[0].version, 6);
  EXPECT_EQ(d->probes[0].default_action, "accept");
}

TEST(DoctorChecks, SignetSocketThatDoesNotParseIsBadInput) {
  SignetSettings st = signet_conf();
  st.socket = "inet:127.0.0.1:8891";
  auto d = diagnose_postfix(debian(), st);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("/etc/signet/signet.conf"), std::string::npos);
}

TEST(DoctorChecks, SmtpdMiltersInLibmilterSyntaxIsAnErrorWithThePostfixLine) {
  PostfixConfig pf = debian();
  SignetSettings st = signet_conf();
  st.socket = "inet:8891@127.0.0.1";
  set_main(pf, "smtpd_milters", "inet:8891@127.0.0.1");
  set_main(pf, "non_smtpd_milters", "inet:8891@127.0.0.1");
  auto fs = findings(pf, st);
  auto e = matching(fs, Severity::Error, "main.cf smtpd_milters", "`smtpd_milters = inet:127.0.0.1:8891` in main.cf");
  ASSERT_EQ(e.size(), 1u) << dump(fs);
  EXPECT_NE(e[0].text.find("libmilter's syntax"), std::string::npos);
  EXPECT_EQ(matching(fs, Severity::Error, "main.cf non_smtpd_milters", "`non_smtpd_milters = inet:127.0.0.1:8891`").size(), 1u)
      << dump(fs);
  // Not also the generic "names no socket of signet's": the specific error says it.
  EXPECT_TRUE(matching(fs, Severity::Error, "", "names no socket").empty()) << dump(fs);
}

TEST(DoctorChecks, SmtpdMiltersNamingAnotherSocketIsAnErrorThatNamesSignetsInPostfixSyntax) {
  PostfixConfig pf = debian();
  SignetSettings st = signet_conf();
  st.socket = "inet:8891@127.0.0.1";
  set_main(pf, "smtpd_milters", "inet:127.0.0.1:8892");
  auto fs = findings(pf, st);
  auto e = matching(fs, Severity::Error, "main.cf smtpd_milters", "names no socket of signet's");
  ASSERT_EQ(e.size(), 1u) << dump(fs);
  EXPECT_NE(e[0].text.find("which Postfix writes inet:127.0.0.1:8891"), std::string::npos) << e[0].text;
  EXPECT_NE(e[0].text.find("`smtpd_milters = inet:127.0.0.1:8892, inet:127.0.0.1:8891` in main.cf"), std::string::npos)
      << e[0].text;
  auto d = diagnose_postfix(pf, st);
  ASSERT_EQ(d->probes.size(), 1u);  // nothing in Postfix names signet: probe signet.conf's socket
  EXPECT_TRUE(d->probes[0].via.empty());
  EXPECT_EQ(d->probes[0].socket.postfix_form(), "inet:127.0.0.1:8891");
}

TEST(DoctorChecks, WhenNoPostfixServiceNamesSignetTheProbeGoesToSignetsOwnSocket) {
  PostfixConfig pf = debian();
  set_main(pf, "smtpd_milters", "");
  set_main(pf, "non_smtpd_milters", "");
  auto d = diagnose_postfix(pf, signet_conf());
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->probes.size(), 1u);
  EXPECT_TRUE(d->probes[0].via.empty());
  EXPECT_EQ(d->probes[0].socket.path, "/var/spool/postfix/signet/signet-milter.sock");
  EXPECT_EQ(matching(d->findings, Severity::Error, "main.cf smtpd_milters", "nothing received over SMTP is signed").size(), 1u)
      << dump(d->findings);
}

TEST(DoctorChecks, EmptyNonSmtpdMiltersWarnsThatSendmailMailIsUnsigned) {
  PostfixConfig pf = debian();
  set_main(pf, "non_smtpd_milters", "");
  auto fs = findings(pf);
  auto w = matching(fs, Severity::Warning, "main.cf non_smtpd_milters", "sendmail(1)");
  ASSERT_EQ(w.size(), 1u) << dump(fs);
  EXPECT_NE(w[0].text.find("`non_smtpd_milters = $smtpd_milters` in main.cf"), std::string::npos) << w[0].text;
  EXPECT_EQ(count(fs, Severity::Error), 0) << dump(fs);
}

TEST(DoctorChecks, SendmailMailThatSignetDoesNotTrustIsAWarningOnInternalHosts) {
  SignetSettings st = signet_conf();
  st.trusts_loopback = false;
  auto fs = findings(debian(), st);
  EXPECT_EQ(matching(fs, Severity::Warning, "signet.conf internal-hosts", "127.0.0.1/32").size(), 1u) << dump(fs);
  st.trusted_services.push_back("mail.example.com");  // cleanup's {daemon_name}
  EXPECT_TRUE(matching(findings(debian(), st), Severity::Warning, "internal-hosts").empty());
}

TEST(DoctorChecks, MilterProtocolBelowSixWarnsAndIsAnErrorForSimpleHeaderCanonicalization) {
  PostfixConfig pf = debian();
  set_main(pf, "milter_protocol", "2");
  auto fs = findings(pf);
  auto w = matching(fs, Severity::Warning, "main.cf milter_protocol", "`milter_protocol = 6` in main.cf");
  ASSERT_EQ(w.size(), 1u) << dump(fs);
  EXPECT_NE(w[0].text.find("harmless for relaxed"), std::string::npos);
  SignetSettings simple = signet_conf();
  simple.simple_header_streams = {"legacy"};
  auto e = matching(findings(pf, simple), Severity::Error, "main.cf milter_protocol", "c=simple/ signatures of stream(s) legacy");
  ASSERT_EQ(e.size(), 1u) << dump(findings(pf, simple));
  auto d = diagnose_postfix(pf, signet_conf());
  EXPECT_EQ(d->probes[0].version, 2);  // the probe speaks what Postfix speaks

  PostfixConfig braces = debian();
  set_main(braces, "smtpd_milters", "{ unix:signet/signet-milter.sock, protocol = 4 }");
  auto fb = findings(braces);
  EXPECT_EQ(matching(fb, Severity::Warning, "main.cf smtpd_milters { unix:signet/signet-milter.sock }", "protocol = 4").size(),
            1u)
      << dump(fb);
  set_main(braces, "milter_protocol", "6 no_header_reply");
  set_main(braces, "smtpd_milters", "unix:signet/signet-milter.sock");
  EXPECT_TRUE(matching(findings(braces), Severity::Warning, "milter_protocol").empty());
}

TEST(DoctorChecks, DefaultActionMustPairWithOnErrorAsTheReadmeSays) {
  PostfixConfig pf = debian();
  SignetSettings st = signet_conf();
  EXPECT_TRUE(matching(findings(pf, st), Severity::Warning, "milter_default_action").empty());  // accept + accept

  pf.params["milter_default_action"] = "tempfail";
  pf.in_main_cf.erase("milter_default_action");
  auto fs = findings(pf, st);
  auto w = matching(fs, Severity::Warning, "main.cf milter_default_action", "(the Postfix default)");
  ASSERT_EQ(w.size(), 1u) << dump(fs);
  EXPECT_NE(w[0].text.find("on-error = accept"), std::string::npos);
  EXPECT_NE(w[0].text.find("`milter_default_action = accept` in main.cf"), std::string::npos);

  st.on_error_tempfail = true;  // tempfail + tempfail
  EXPECT_TRUE(matching(findings(pf, st), Severity::Warning, "milter_default_action").empty());
  set_main(pf, "milter_default_action", "accept");  // accept + tempfail
  EXPECT_EQ(matching(findings(pf, st), Severity::Warning, "main.cf milter_default_action",
                     "`milter_default_action = tempfail` in main.cf").size(), 1u);
  set_main(pf, "milter_default_action", "reject");
  EXPECT_EQ(matching(findings(pf, st), Severity::Error, "main.cf milter_default_action", "permanent error").size(), 1u);
  set_main(pf, "milter_default_action", "quarantine");
  EXPECT_EQ(matching(findings(pf, st), Severity::Warning, "main.cf milter_default_action", "hold queue").size(), 1u);
}

TEST(DoctorChecks, PerServiceDefaultActionIsReportedWhereItIsSet) {
  PostfixConfig pf = debian();
  service(pf, "submission/inet").overrides["milter_default_action"] = "reject";
  auto fs = findings(pf);
  auto e = matching(fs, Severity::Error, "master.cf submission/inet -o milter_default_action");
  ASSERT_EQ(e.size(), 1u) << dump(fs);
  EXPECT_NE(e[0].text.find("`-o milter_default_action=accept` under submission/inet in master.cf"), std::string::npos);
}

TEST(DoctorChecks, LineLengthLimitBelow998WarnsZeroNotesAndServiceOverridesAreReportedThere) {
  PostfixConfig pf = debian();
  set_main(pf, "smtp_line_length_limit", "500");
  auto fs = findings(pf);
  auto w = matching(fs, Severity::Warning, "main.cf smtp_line_length_limit", "longer than 500 bytes are folded");
  ASSERT_EQ(w.size(), 1u) << dump(fs);
  EXPECT_NE(w[0].text.find("`smtp_line_length_limit = 998` in main.cf"), std::string::npos);

  set_main(pf, "smtp_line_length_limit", "0");
  EXPECT_EQ(matching(findings(pf), Severity::Info, "main.cf smtp_line_length_limit", "as they are").size(), 1u);

  service(pf, "relay/unix").overrides["smtp_line_length_limit"] = "200";
  auto fo = findings(pf);
  EXPECT_EQ(matching(fo, Severity::Warning, "master.cf relay/unix -o smtp_line_length_limit", "200").size(), 1u) << dump(fo);
}

TEST(DoctorChecks, MimeOutputConversionLeftOnWarnsWithTheMainCfLine) {
  PostfixConfig pf = debian();
  pf.params["disable_mime_output_conversion"] = "no";
  pf.in_main_cf.erase("disable_mime_output_conversion");
  auto fs = findings(pf);
  auto w = matching(fs, Severity::Warning, "main.cf disable_mime_output_conversion", "8BITMIME");
  ASSERT_EQ(w.size(), 1u) << dump(fs);
  EXPECT_NE(w[0].text.find("`disable_mime_output_conversion = yes` in main.cf"), std::string::npos);
  EXPECT_NE(w[0].text.find("(the Postfix default)"), std::string::npos);
}

TEST(DoctorChecks, ContentFilterAfterSigningAndReinjectionThroughSignetAreWarnings) {
  PostfixConfig pf = debian();
  set_main(pf, "content_filter", "smtp-amavis:[127.0.0.1]:10024");
  Service reinject;
  reinject.name = "127.0.0.1:10025";
  reinject.type = "inet";
  reinject.chroot = "n";
  reinject.command = "smtpd";
  reinject.overrides["content_filter"] = "";
  pf.services.push_back(reinject);
  auto fs = findings(pf);
  auto before = matching(fs, Severity::Warning, "smtp/inet", "before content_filter = smtp-amavis:[127.0.0.1]:10024");
  ASSERT_EQ(before.size(), 1u) << dump(fs);
  EXPECT_NE(before[0].where.find("submission/inet"), std::string::npos) << before[0].where;
  EXPECT_EQ(matching(fs, Severity::Warning, "master.cf pickup/unix", "`-o content_filter=` under pickup/unix").size(), 1u)
      << dump(fs);
  auto again = matching(fs, Severity::Warning, "master.cf 127.0.0.1:10025/inet", "signed twice");
  ASSERT_EQ(again.size(), 1u) << dump(fs);
  EXPECT_NE(again[0].text.find("`-o smtpd_milters=` under 127.0.0.1:10025/inet in master.cf"), std::string::npos);

  service(pf, "127.0.0.1:10025/inet").overrides["smtpd_milters"] = "";  // the fix
  EXPECT_TRUE(matching(findings(pf), Severity::Warning, "127.0.0.1:10025").empty()) << dump(findings(pf));

  SignetSettings untrusted = signet_conf();
  untrusted.trusts_loopback = false;
  service(pf, "127.0.0.1:10025/inet").overrides.erase("smtpd_milters");
  EXPECT_EQ(matching(findings(pf, untrusted), Severity::Info, "127.0.0.1:10025/inet", "passes it untouched").size(), 1u);
}

TEST(DoctorChecks, NoMiltersInMainCfReceiveOverrideOptionsIsAnError) {
  PostfixConfig pf = debian();
  set_main(pf, "receive_override_options", "no_unknown_recipient_checks,no_header_body_checks,no_milters");
  auto fs = findings(pf);
  auto e = matching(fs, Severity::Error, "main.cf receive_override_options", "signet never runs on smtp/inet, submission/inet");
  ASSERT_EQ(e.size(), 1u) << dump(fs);
  EXPECT_NE(e[0].text.find("pickup/unix"), std::string::npos);
  EXPECT_NE(e[0].text.find("`-o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters`"),
            std::string::npos);
  EXPECT_TRUE(matching(fs, Severity::Error, "main.cf smtpd_milters").empty()) << dump(fs);
}

TEST(DoctorChecks, ChrootedSmtpdWithUnixSocketOutsideTheSpoolIsAnErrorAndProbedWherePostfixLooks) {
  PostfixConfig pf = debian();
  SignetSettings st = signet_conf();
  st.socket = "unix:/run/signet/signet-milter.sock";
  set_main(pf, "smtpd_milters", "unix:/run/signet/signet-milter.sock");
  set_main(pf, "non_smtpd_milters", "$smtpd_milters");
  pf.params["non_smtpd_milters"] = "unix:/run/signet/signet-milter.sock";  // postconf -x expands it
  auto d = diagnose_postfix(pf, st);
  ASSERT_TRUE(d.ok());
  auto e = matching(d->findings, Severity::Error, "master.cf smtp/inet, submission/inet", "runs chrooted in /var/spool/postfix");
  ASSERT_EQ(e.size(), 1u) << dump(d->findings);
  EXPECT_NE(e[0].text.find("/var/spool/postfix/run/signet/signet-milter.sock"), std::string::npos) << e[0].text;
  EXPECT_NE(e[0].text.find("`socket = unix:/var/spool/postfix/signet/signet-milter.sock` in signet.conf"), std::string::npos);
  EXPECT_NE(e[0].text.find("`smtpd_milters = unix:signet/signet-milter.sock` in main.cf"), std::string::npos);
  EXPECT_EQ(matching(d->findings, Severity::Error, "master.cf cleanup/unix", "cleanup runs chrooted").size(), 1u)
      << dump(d->findings);
  ASSERT_EQ(d->probes.size(), 1u);
  EXPECT_EQ(d->probes[0].socket.path, "/var/spool/postfix/run/signet/signet-milter.sock");

  // Unchrooted, the same path is right.
  for (Service& s : pf.services) s.chroot = "n";
  auto ok = diagnose_postfix(pf, st);
  EXPECT_EQ(count(ok->findings, Severity::Error), 0) << dump(ok->findings);
  EXPECT_EQ(ok->probes[0].socket.path, "/run/signet/signet-milter.sock");
}

TEST(DoctorChecks, AbsolutePathIntoTheSpoolFromAChrootedSmtpdGetsTheRelativeFix) {
  PostfixConfig pf = debian();
  set_main(pf, "smtpd_milters", "unix:/var/spool/postfix/signet/signet-milter.sock");
  auto fs = findings(pf);
  auto e = matching(fs, Severity::Error, "master.cf smtp/inet", "`smtpd_milters = unix:signet/signet-milter.sock` in main.cf");
  ASSERT_EQ(e.size(), 1u) << dump(fs);
  EXPECT_NE(e[0].text.find("relative to queue_directory"), std::string::npos);
}

TEST(DoctorChecks, TrustedServiceThatDoesNotRunSignetAndUnusedTrustedNamesAreWarnings) {
  PostfixConfig pf = debian();
  service(pf, "submission/inet").overrides["smtpd_milters"] = "";
  SignetSettings st = signet_conf();
  st.trusted_services.push_back("tx-out");
  auto fs = findings(pf, st);
  EXPECT_EQ(matching(fs, Severity::Warning, "master.cf submission/inet", "is in signet's trusted-services").size(), 1u) << dump(fs);
  EXPECT_EQ(matching(fs, Severity::Warning, "signet.conf trusted-services", "tx-out").size(), 1u) << dump(fs);
  EXPECT_EQ(matching(fs, Severity::Warning, "signet.conf trusted-services", "submission:").size(), 1u) << dump(fs);
}

TEST(DoctorChecks, UntrustedSmtpdWithoutSignetIsOnlyANote) {
  PostfixConfig pf = debian();
  service(pf, "smtp/inet").overrides["smtpd_milters"] = "";
  auto fs = findings(pf);
  EXPECT_EQ(matching(fs, Severity::Info, "master.cf", "smtp/inet (-o smtpd_milters=)").size(), 1u) << dump(fs);
  EXPECT_EQ(count(fs, Severity::Warning), 0) << dump(fs);
}

TEST(DoctorChecks, SignetOnEveryAddressOrRemoteMilterTrafficIsAWarning) {
  PostfixConfig pf = debian();
  SignetSettings st = signet_conf();
  st.socket = "inet:8891@0.0.0.0";
  set_main(pf, "smtpd_milters", "inet:127.0.0.1:8891");
  pf.params["non_smtpd_milters"] = "inet:127.0.0.1:8891";
  auto fs = findings(pf, st);
  auto w = matching(fs, Severity::Warning, "signet.conf socket", "every address");
  ASSERT_EQ(w.size(), 1u) << dump(fs);
  EXPECT_NE(w[0].text.find("`socket = inet:8891@127.0.0.1` in signet.conf"), std::string::npos);
  EXPECT_EQ(count(fs, Severity::Error), 0) << dump(fs);  // 0.0.0.0 is reached at 127.0.0.1

  st.socket = "inet:8891@192.0.2.7";
  set_main(pf, "smtpd_milters", "inet:192.0.2.7:8891");
  pf.params["non_smtpd_milters"] = "inet:192.0.2.7:8891";
  auto fr = findings(pf, st);
  EXPECT_EQ(matching(fr, Severity::Warning, "main.cf smtpd_milters", "crosses the network in the clear").size(), 1u) << dump(fr);
}

TEST(DoctorChecks, RelativeSignetSocketPathIsAWarning) {
  SignetSettings st = signet_conf();
  st.socket = "unix:signet/signet-milter.sock";  // signet: from its cwd; Postfix: from queue_directory
  auto fs = findings(debian(), st);
  EXPECT_EQ(matching(fs, Severity::Warning, "signet.conf socket", "relative path").size(), 1u) << dump(fs);
}

TEST(DoctorChecks, MilterListedAfterSignetIsNoted) {
  PostfixConfig pf = debian();
  set_main(pf, "smtpd_milters", "unix:signet/signet-milter.sock, inet:127.0.0.1:8893");
  auto fs = findings(pf);
  EXPECT_EQ(matching(fs, Severity::Info, "main.cf smtpd_milters", "inet:127.0.0.1:8893 comes after signet").size(), 1u) << dump(fs);
}

TEST(DoctorChecks, SmtpdMilterMapsIsNotedAsUnread) {
  PostfixConfig pf = debian();
  set_main(pf, "smtpd_milter_maps", "cidr:/etc/postfix/smtpd_milter_map");
  EXPECT_EQ(matching(findings(pf), Severity::Info, "main.cf smtpd_milter_maps", "does not read").size(), 1u);
}

// -- probe findings ---------------------------------------------------------------

TEST(DoctorProbeFinding, AnswerAsPostfixNeedsItIsInfoAndOthersAreErrorsWithTheirFix) {
  ProbeTarget t;
  t.socket = parse_postfix_socket("inet:127.0.0.1:8891").value();
  t.named = "inet:127.0.0.1:8891";
  t.via = {"smtp/inet"};
  t.default_action = "accept";
  ProbeResult ok;
  ok.answered = true;
  ok.version = 6;
  ok.actions = 0x101;
  ok.steps = 0x100382;
  Finding f = probe_finding(t, ok, "postfix");
  EXPECT_EQ(f.severity, Severity::Info);
  EXPECT_EQ(f.where, "milter inet:127.0.0.1:8891");
  EXPECT_NE(f.text.find("signet-milter answers on inet:127.0.0.1:8891 as user postfix for smtp/inet (protocol 6, "
                        "actions ADDHDRS|SETSYMLIST"),
            std::string::npos)
      << f.text;

  ProbeResult newer = ok;
  newer.version = 6;
  t.version = 2;
  EXPECT_EQ(probe_finding(t, newer, "").severity, Severity::Error);
  t.version = 6;
  ProbeResult no_headers = ok;
  no_headers.actions = 0x100;
  EXPECT_NE(probe_finding(t, no_headers, "").text.find("SMFIF_ADDHDRS"), std::string::npos);

  ProbeResult refused;
  refused.error_number = ECONNREFUSED;
  refused.error = "connect(inet:127.0.0.1:8891): Connection refused";
  Finding r = probe_finding(t, refused, "postfix");
  EXPECT_EQ(r.severity, Severity::Error);
  EXPECT_NE(r.text.find("does not answer"), std::string::npos);
  EXPECT_NE(r.text.find("milter_default_action = accept"), std::string::npos);
  EXPECT_NE(r.text.find("systemctl start signet-milter"), std::string::npos);

  ProbeResult denied;
  denied.error_number = EACCES;
  denied.error = "connect(/run/s.sock) as postfix: Permission denied";
  EXPECT_NE(probe_finding(t, denied, "postfix").text.find("`adduser postfix GROUP`"), std::string::npos);
}

// -- the probe against a fake milter on a unix socket ------------------------------

namespace {

class FakeMilter {
 public:
  // reply: send an option negotiation answer; otherwise accept and stay silent.
  explicit FakeMilter(bool reply) {
    char tmpl[] = "/tmp/signet-doctor-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/m.sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    thread_ = std::thread([this, reply] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[17];
      std::size_t got = 0;
      while (got < sizeof buf) {
        const ssize_t n = ::read(c, buf + got, sizeof buf - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      received_.assign(buf, got);
      if (reply) {
        const std::uint32_t words[] = {htonl(13), 0, 0, 0};
        std::string out(reinterpret_cast<const char*>(words), 4);
        out += 'O';
        for (std::uint32_t v : {6u, 0x101u, 0x100382u}) {
          const std::uint32_t n = htonl(v);
          out.append(reinterpret_cast<const char*>(&n), 4);
        }
        (void)!::write(c, out.data(), out.size());
        char q[5];
        (void)!::read(c, q, sizeof q);  // SMFIC_QUIT
      } else {
        char q[64];
        (void)!::read(c, q, sizeof q);  // until the prober hangs up
      }
      ::close(c);
    });
  }
  ~FakeMilter() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  MilterSocket socket() const {
    MilterSocket s;
    s.path = path_;
    return s;
  }
  // What the prober sent, once it hung up.
  const std::string& received() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  std::string dir_, path_, received_;
  int fd_ = -1;
  std::thread thread_;
};

std::uint32_t word(const std::string& s, std::size_t at) {
  std::uint32_t n;
  std::memcpy(&n, s.data() + at, 4);
  return ntohl(n);
}

}  // namespace

TEST(DoctorProbe, SendsVersionActionsAndEventsAsPostfixDoesAndReadsTheReply) {
  for (int version : {6, 2}) {
    FakeMilter m(true);
    ProbeOptions o;
    o.version = version;
    o.timeout_ms = 5000;
    ProbeResult r = probe_milter(m.socket(), o);
    ASSERT_TRUE(r.answered) << r.error;
    EXPECT_EQ(r.version, 6u);
    EXPECT_EQ(r.actions, 0x101u);
    EXPECT_EQ(r.steps, 0x100382u);
    const std::string& got = m.received();  // length, 'O', version, actions, events
    ASSERT_EQ(got.size(), 17u);
    EXPECT_EQ(word(got, 0), 13u);
    EXPECT_EQ(got[4], 'O');
    EXPECT_EQ(word(got, 5), static_cast<std::uint32_t>(version));
    EXPECT_EQ(word(got, 9), kPostfixActions);
    EXPECT_EQ(word(got, 13), postfix_events(version));
  }
  EXPECT_EQ(postfix_events(6), 0x1FFFFFu);
  EXPECT_EQ(postfix_events(4), 0x37Fu);
  EXPECT_EQ(postfix_events(5), 0u);
  EXPECT_EQ(action_names(0x101), "ADDHDRS|SETSYMLIST");
  EXPECT_EQ(step_names(0x100082), "NOHELO|NR_HDR|HDR_LEADSPC");
}

TEST(DoctorProbe, SilentMilterTimesOutAndMissingSocketIsEnoent) {
  {
    FakeMilter m(false);
    ProbeOptions o;
    o.timeout_ms = 300;
    ProbeResult r = probe_milter(m.socket(), o);
    EXPECT_FALSE(r.answered);
    EXPECT_EQ(r.error_number, ETIMEDOUT) << r.error;
    EXPECT_NE(r.error.find("no reply to the option negotiation"), std::string::npos) << r.error;
  }
  MilterSocket missing;
  missing.path = "/nonexistent/signet-doctor.sock";
  ProbeResult r = probe_milter(missing, ProbeOptions{});
  EXPECT_FALSE(r.answered);
  EXPECT_EQ(r.error_number, ENOENT);
  EXPECT_NE(r.error.find("connect(/nonexistent/signet-doctor.sock)"), std::string::npos) << r.error;
}
