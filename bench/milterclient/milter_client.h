// bench/milterclient/milter_client.h — the MTA side of the milter protocol
// (version 6), spoken the way Postfix 3.7's smtpd does (src/milter/milter8.c),
// for the load generators bench/milter_bench and tests/integration/milter_load.
//
// MilterConnection::open(spec, offer): connects to "unix:PATH" or
// "inet:PORT@HOST" and negotiates (SMFIC_OPTNEG). Postfix offers version 6,
// every action (0x1FF) and every v6 protocol step bit (0x1FFFFF: the NO* skips,
// SKIP, RCPT_REJ, the SMFIP_NR_* no-reply flags, HDR_LEADSPC) and asks for no
// MDS size. What the milter answers is honoured as Postfix does: a skipped step
// is not sent, a step with its SMFIP_NR_* bit is sent without waiting for a
// reply, and the macro lists it sets with SMFIF_SETSYMLIST replace Postfix's
// defaults (milter_*_macros in postconf(5); a macro Postfix has no value for is
// not sent). Fails (a Result error naming the socket and the step) when the
// connection or the negotiation fails.
//
// session(Envelope) sends SMFIC_CONNECT, SMFIC_HELO once per connection (as
// smtpd does when the SMTP client connects), then message(Envelope, Message):
// MAIL, RCPT per recipient, DATA, each header, EOH, the body in chunks of
// 65535 bytes (MILTER_CHUNK_SIZE), EOM, collecting the modifications until the
// final reply. A reply other than continue before EOM ends the message there
// (Outcome.reply says which); SMFIR_SKIP during the body stops the body.
// A transport error leaves ok() false and Outcome.reply 0; the connection is
// then unusable. quit() sends SMFIC_QUIT (the destructor does it too).
//
// rebuild(message, outcome): the message as Postfix would queue it, with the
// milter's inserted (SMFIR_INSHEADER at its index) and added (SMFIR_ADDHEADER)
// fields, CRLF line ends, so a verifier reads what a recipient would.
//
// Not thread-safe: one MilterConnection per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace signet::bench {

// Protocol bits (libmilter's mfdef.h names; values from milter8.c).
inline constexpr std::uint32_t kSmfipNoConnect = 1u << 0, kSmfipNoHelo = 1u << 1, kSmfipNoMail = 1u << 2,
                               kSmfipNoRcpt = 1u << 3, kSmfipNoBody = 1u << 4, kSmfipNoHdrs = 1u << 5,
                               kSmfipNoEoh = 1u << 6, kSmfipNrHdr = 1u << 7, kSmfipNoUnknown = 1u << 8,
                               kSmfipNoData = 1u << 9, kSmfipSkip = 1u << 10, kSmfipRcptRej = 1u << 11,
                               kSmfipNrConn = 1u << 12, kSmfipNrHelo = 1u << 13, kSmfipNrMail = 1u << 14,
                               kSmfipNrRcpt = 1u << 15, kSmfipNrData = 1u << 16, kSmfipNrUnkn = 1u << 17,
                               kSmfipNrEoh = 1u << 18, kSmfipNrBody = 1u << 19, kSmfipHdrLeadspc = 1u << 20;
inline constexpr std::uint32_t kSmfifSetSymList = 1u << 8;

struct Offer {  // what the MTA offers in SMFIC_OPTNEG; Postfix 3.7's by default
  std::uint32_t version = 6;
  std::uint32_t actions = 0x1FF;
  std::uint32_t protocol = 0x1FFFFF;
};

struct Negotiated {
  std::uint32_t version = 0, actions = 0, protocol = 0;
  std::map<int, std::string> symlists;  // SMFIM_* class -> space-separated names the milter asked for
};

struct Envelope {  // the SMTP session and transaction around a message
  std::string client_name = "client.example", client_addr = "127.0.0.1", helo = "client.example";
  std::uint16_t client_port = 25000;
  std::string daemon_name = "smtpd", myhostname = "mta.example";
  std::string sender = "sender@example.com";
  std::vector<std::string> recipients = {"rcpt@example.org"};
  std::string queue_id = "NOQUEUE";  // {i}: Postfix defines it from the first RCPT on
};

struct Message {
  std::vector<std::pair<std::string, std::string>> headers;  // name, value after the colon (leading space kept)
  std::string body;                                          // CRLF line ends
};

struct Outcome {
  char reply = 0;  // final SMFIR_* code: 'c' continue, 'a' accept, 'r' reject, 't' tempfail, 'd', 'y'...; 0 = error
  std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>> inserted;  // index, (name, value)
  std::vector<std::pair<std::string, std::string>> added;                            // appended fields
  int other_modifications = 0;  // change header, recipients, body, quarantine...
  bool leading_space = false;   // SMFIP_HDR_LEADSPC was negotiated: values carry their own leading space
  int count(const std::string& name) const;  // inserted + added fields with this name (case-insensitive)
};

// Parses a message file (LF or CRLF) into headers (folded lines joined with
// "\n", as Postfix passes them) and a CRLF body. Fails naming the file.
Result<Message> read_message_file(const std::string& path);
// A generated message of about `bytes` bytes: the headers signet signs by
// default and a body of 76-character lines.
Message generated_message(std::size_t bytes, const std::string& id);

class MilterConnection {
 public:
  static Result<std::unique_ptr<MilterConnection>> open(const std::string& spec, const Offer& offer = {});
  ~MilterConnection();
  MilterConnection(const MilterConnection&) = delete;
  MilterConnection& operator=(const MilterConnection&) = delete;

  const Negotiated& negotiated() const { return neg_; }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  // SMFIC_CONNECT and SMFIC_HELO; false (and ok() false or the milter's reply
  // not continue) when the milter refuses the session.
  bool session(const Envelope& env);
  Outcome message(const Envelope& env, const Message& msg);
  void quit();

 private:
  MilterConnection() = default;
  bool send(char cmd, const std::string& data);  // buffered; flushed by recv() and when full
  bool flush();
  bool write_all(const std::string& bytes);
  bool fill(std::size_t n);  // at least n unread bytes in in_
  bool recv(char& cmd, std::string& data);
  char reply();  // the next reply that is not SMFIR_PROGRESS; 0 on error
  void macros(char for_cmd, int smfim_class, const Envelope& env, bool queue_id_known, const std::string& rcpt);
  bool fail(const std::string& what);

  int fd_ = -1;
  bool ok_ = true, quit_ = false;
  std::string spec_, error_;
  std::string out_, in_;
  std::size_t in_pos_ = 0;
  Negotiated neg_;
};

std::string rebuild(const Message& msg, const Outcome& outcome);

}  // namespace signet::bench
